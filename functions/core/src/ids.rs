//! Identifiers and user-supplied values, parsed once at the edge so the rest of the code can
//! trust them. Every parse error names the field and says what is accepted.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::regions::is_known_region;

/// `N` random bytes from the OS, as lowercase hex: secrets (External IDs) and the ids a writer
/// uses to tell its own conditional write from another's.
pub fn random_hex<const N: usize>() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// A value from outside that was rejected: which field, and what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: String,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Quotes a rejected value for an error message: short, printable, never a wall of bytes.
fn shown(value: &str) -> String {
    let printable: String = value
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if value.chars().count() > 40 {
        format!("\"{printable}…\"")
    } else {
        format!("\"{printable}\"")
    }
}

macro_rules! string_id {
    ($name:ident) => {
        /// Deserializing validates, so a typed request body or stored item is always well-formed.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                $name::parse("", &value).map_err(|e| e.message)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(TenantId);
string_id!(InstallId);
string_id!(AccountId);
string_id!(Region);
string_id!(Email);

impl TenantId {
    /// Tenant ids end up in stack names, SNS filter policies and resource names, so they are
    /// kept to a conservative slug: 3–40 of `a-z 0-9 -`, starting with a letter, not ending
    /// with a hyphen.
    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        let ok_len = (3..=40).contains(&value.len());
        let ok_chars = value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_ends = value.starts_with(|c: char| c.is_ascii_lowercase()) && !value.ends_with('-');
        if ok_len && ok_chars && ok_ends && !value.contains("--") {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::new(
                field,
                format!(
                    "{} is not a valid tenant id: use 3 to 40 lowercase letters, digits and single \
                     hyphens, starting with a letter and not ending with a hyphen (e.g. \"acme-prod\")",
                    shown(value)
                ),
            ))
        }
    }
}

impl AccountId {
    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::new(
                field,
                format!("{} is not an AWS account id: use the 12 digits of the customer's account, e.g. \"111122223333\"", shown(value)),
            ))
        }
    }
}

impl Region {
    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        if is_known_region(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::new(
                field,
                format!("{} is not an AWS region name: use a region code such as \"us-east-1\" or \"eu-west-2\"", shown(value)),
            ))
        }
    }
}

impl Email {
    /// A pragmatic check (the SNS subscription confirmation is the real proof): one `@`, a
    /// non-empty local part, a dotted domain, no whitespace or control characters.
    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        let valid = value.len() <= 254
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && match value.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::new(field, format!("{} is not an email address: use the address of the customer's platform team, e.g. \"platform@example.com\"", shown(value))))
        }
    }
}

const INSTALL_ID_PREFIX: &str = "inst-";
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

impl InstallId {
    /// A new id that sorts by creation time (48-bit milliseconds, like a ULID) followed by
    /// 80 random bits, so listings come newest-first from the key order alone.
    pub fn generate(now_millis: u64) -> Result<Self, getrandom::Error> {
        let mut random = [0u8; 10];
        getrandom::fill(&mut random)?;
        let mut value: u128 = u128::from(now_millis & 0xFFFF_FFFF_FFFF) << 80;
        for (i, byte) in random.iter().enumerate() {
            value |= u128::from(*byte) << (8 * (9 - i));
        }
        let mut out = String::with_capacity(INSTALL_ID_PREFIX.len() + 26);
        out.push_str(INSTALL_ID_PREFIX);
        for i in (0..26).rev() {
            out.push(CROCKFORD[((value >> (5 * i)) & 31) as usize] as char);
        }
        Ok(Self(out))
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        let body = value.strip_prefix(INSTALL_ID_PREFIX).unwrap_or("");
        if body.len() == 26 && body.bytes().all(|b| CROCKFORD.contains(&b)) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::new(field, format!("{} is not an install id: install ids look like \"inst-\" followed by 26 lowercase letters and digits, as returned by POST /installs", shown(value))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tenant_ids_follow_the_slug_rules() {
        for ok in ["acme", "acme-prod", "a1b", "t-0-9"] {
            assert!(TenantId::parse("tenant_id", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "Acme",
            "1acme",
            "acme-",
            "ac--me",
            "acme_prod",
            "acme prod",
            "../x",
            "acmé",
            &"a".repeat(41),
        ] {
            let err = TenantId::parse("tenant_id", bad).unwrap_err();
            assert_eq!(err.field, "tenant_id");
            assert!(err.message.contains("lowercase letters"), "{}", err.message);
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::parse("account_id", "111122223333").is_ok());
        for bad in [
            "11112222333",
            "1111222233334",
            "11112222333x",
            "",
            "١١١١٢٢٢٢٣٣٣٣",
        ] {
            assert_eq!(
                AccountId::parse("account_id", bad).unwrap_err().field,
                "account_id"
            );
        }
    }

    #[test]
    fn regions_must_be_real() {
        assert!(Region::parse("region", "eu-west-2").is_ok());
        let err = Region::parse("region", "us-east-9").unwrap_err();
        assert!(err.message.contains("us-east-9") && err.message.contains("us-east-1"));
    }

    #[test]
    fn emails_are_plausible() {
        assert!(Email::parse("email", "ops@customer.example").is_ok());
        for bad in [
            "ops",
            "@x.com",
            "ops@",
            "ops@x",
            "a b@x.com",
            "ops@@x.com",
            "ops@x..com",
            "ops@.x.com",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejected_values_are_quoted_short_and_printable() {
        let err = TenantId::parse("tenant_id", &format!("\u{7}{}", "x".repeat(100))).unwrap_err();
        assert!(!err.message.contains('\u{7}'));
        assert!(err.message.len() < 300);
    }

    proptest! {
        #[test]
        fn generated_install_ids_parse_and_sort_by_time(a in 0u64..(1 << 47), b in 0u64..(1 << 47)) {
            let ia = InstallId::generate(a).unwrap();
            let ib = InstallId::generate(b).unwrap();
            prop_assert!(InstallId::parse("install_id", ia.as_str()).is_ok());
            if a < b { prop_assert!(ia < ib); }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC*") {
            let _ = TenantId::parse("f", &s);
            let _ = AccountId::parse("f", &s);
            let _ = Region::parse("f", &s);
            let _ = Email::parse("f", &s);
            let _ = InstallId::parse("f", &s);
        }
    }
}
