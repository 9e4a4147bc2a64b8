//! The External ID that guards the customer's trust policy against the confused-deputy
//! problem. It is a shared secret between vendor and customer: generated here with 160 bits
//! from the OS, stored on the tenant record, never logged.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    const RANDOM_BYTES: usize = 20;

    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(crate::ids::random_hex::<{ Self::RANDOM_BYTES }>()?))
    }

    /// The value itself, for the two places that need it: the AssumeRole call and the
    /// response that hands it to the vendor.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

// Debug and Display never print the secret, so a stray `{:?}` cannot leak it into a log.
impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExternalId(<redacted>)")
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_160_bits_and_is_never_printed() {
        let id = ExternalId::generate().unwrap();
        assert_eq!(id.reveal().len(), 40);
        assert!(id.reveal().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, ExternalId::generate().unwrap());
        assert!(!format!("{id:?} {id}").contains(id.reveal()));
    }
}
