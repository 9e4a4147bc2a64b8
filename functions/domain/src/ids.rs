//! Identifiers and user-supplied values, parsed once at the edge so the rest of the code can
//! trust them. Every parse error names the field and says what is accepted.

use std::fmt;

use serde::{Deserialize, Serialize};
use ulid::{Ulid, ULID_LEN};

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

impl InstallId {
    /// A new id that sorts by creation time: a ULID (48-bit milliseconds, then 80 random bits
    /// from the OS), so listings come newest-first from the key order alone.
    pub fn generate(now_millis: u64) -> Result<Self, getrandom::Error> {
        let mut random = [0u8; 10];
        getrandom::fill(&mut random)?;
        Ok(Self::from_parts(now_millis, random))
    }

    /// The id for a time and 80 random bits (big-endian). The `ulid` crate's text is the
    /// canonical uppercase Crockford base32; ids have always been written in lowercase, and the
    /// ones already stored must keep comparing equal, so it is lowercased here.
    fn from_parts(now_millis: u64, random: [u8; 10]) -> Self {
        let mut bytes = [0u8; 16];
        bytes[6..].copy_from_slice(&random);
        let ulid = Ulid::from_parts(now_millis, u128::from_be_bytes(bytes));
        let mut text = [0u8; ULID_LEN];
        let body = ulid.array_to_str(&mut text);
        body.make_ascii_lowercase();
        Self(format!("{INSTALL_ID_PREFIX}{body}"))
    }

    /// `inst-` and 26 lowercase Crockford base32 characters. `ulid` decodes either case, so
    /// uppercase is refused first, as it always was: ids are keys compared byte for byte, and
    /// `inst-01AB…` would never find `inst-01ab…`. Like before, the value is not range-checked
    /// (a first character above `7` is over 128 bits); a test pins that across `ulid` upgrades.
    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        let body = value.strip_prefix(INSTALL_ID_PREFIX).unwrap_or("");
        if !body.bytes().any(|b| b.is_ascii_uppercase()) && Ulid::from_string(body).is_ok() {
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

    /// Ids made before the move to the `ulid` crate: the same time and random bits give the
    /// same text, and every stored form still parses.
    #[test]
    fn install_id_text_is_unchanged() {
        let cases = [
            (
                0x0123_4567_89AB,
                [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                "inst-014d2pf2db041061050r3gg28a",
            ),
            (
                1_765_000_000_000,
                [0xff; 10],
                "inst-01kbs35cg0zzzzzzzzzzzzzzzz",
            ),
            ((1 << 48) + 5, [0; 10], "inst-00000000050000000000000000"),
        ];
        for (millis, random, text) in cases {
            assert_eq!(InstallId::from_parts(millis, random).as_str(), text);
            assert!(InstallId::parse("install_id", text).is_ok());
        }
        let over_128_bits = format!("inst-{}", "z".repeat(26));
        assert!(InstallId::parse("install_id", &over_128_bits).is_ok());
        for bad in [
            "inst-01KBS35CG0ZZZZZZZZZZZZZZZZ",
            "inst-01kbs35cg0zzzzzzzzzzzzzzzZ",
            "INST-01kbs35cg0zzzzzzzzzzzzzzzz",
            "01kbs35cg0zzzzzzzzzzzzzzzz",
            "inst-01kbs35cg0zzzzzzzzzzzzzzz",
            "inst-01kbs35cg0zzzzzzzzzzzzzzzzz",
            "inst-01kbs35cg0zzzzzzzzzzzzzzzi",
            "inst-01kbs35cg0zzzzzzzzzzzzzzzl",
            "inst-01kbs35cg0zzzzzzzzzzzzzzzo",
            "inst-01kbs35cg0zzzzzzzzzzzzzzzu",
            "inst-01kbs35cg0zzzzzzzzzzzzzzé",
            "inst-",
            "",
        ] {
            let err = InstallId::parse("install_id", bad).unwrap_err();
            assert_eq!(err.field, "install_id");
            assert!(err.message.contains("26 lowercase letters"), "{bad}");
        }
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
