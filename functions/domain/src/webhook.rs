//! A tenant's webhook: where install events are POSTed, the secret they are signed with, and
//! what became of each delivery. The signature lets the vendor's receiver check that a request
//! came from us and was not replayed: `byoc-signature: v1=<hex HMAC-SHA256(secret,
//! "<byoc-timestamp>.<body>")>` (docs/events.md).

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::InvalidInput;

pub const SIGNATURE_HEADER: &str = "byoc-signature";
pub const TIMESTAMP_HEADER: &str = "byoc-timestamp";
pub const EVENT_ID_HEADER: &str = "byoc-event-id";
const MAX_URL_LEN: usize = 2048;

/// An `https://` URL with a host and no credentials in it, checked once when registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(field: &str, value: &str) -> Result<Self, InvalidInput> {
        let https_only = || {
            InvalidInput::new(field, format!("\"{field}\" must be an https:// URL with a host, e.g. https://hooks.example.com/byoc; webhooks are delivered over HTTPS only"))
        };
        if value.len() > MAX_URL_LEN {
            return Err(InvalidInput::new(
                field,
                format!(
                    "\"{field}\" is {} characters; the limit is {MAX_URL_LEN}",
                    value.len()
                ),
            ));
        }
        let parsed = url::Url::parse(value).map_err(|_| https_only())?;
        if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
            return Err(https_only());
        }
        // Credentials in a URL end up in logs and error messages; the signature authenticates.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(InvalidInput::new(field, format!("\"{field}\" must not carry a user name or password; requests are authenticated by their byoc-signature header")));
        }
        if parsed.fragment().is_some() {
            return Err(InvalidInput::new(
                field,
                format!("\"{field}\" must not have a #fragment; it is never sent to the server"),
            ));
        }
        Ok(Self(parsed.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        WebhookUrl::parse("url", &value).map_err(|e| e.message)
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> String {
        url.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The signing secret: 256 bits from the OS, shown to the vendor once when registered.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    const PREFIX: &'static str = "whsec_";
    const RANDOM_BYTES: usize = 32;

    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; Self::RANDOM_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{}{}", Self::PREFIX, hex::encode(bytes))))
    }

    /// The value itself, for the one response that hands it to the vendor.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; the key is the whole secret
    /// string as UTF-8, prefix included.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length; the error arm cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()) else {
            return String::new();
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    }
}

// Debug and Display never print the secret, so a stray `{:?}` cannot leak it into a log.
impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A tenant's registered webhook, kept on the tenant's item (attribute `webhook`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: WebhookUrl,
    pub secret: WebhookSecret,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Delivered,
    /// Every attempt failed (or the receiver refused the event with a 4xx); not retried again.
    Failed,
}

/// What became of delivering one timeline event to the tenant's webhook, written on that
/// event. Never holds the URL's query or the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub outcome: DeliveryOutcome,
    pub attempts: u32,
    /// The receiver's last HTTP status, if it answered at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Why the last attempt failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// What to do after one attempt, given the receiver's status (None: no answer, e.g. a timeout
/// or a refused connection). 2xx is done; 5xx, 429, 408 and no answer may pass on retry; any
/// other status is the receiver refusing the event, and a retry would be refused the same way.
pub fn worth_retrying(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(code) => code >= 500 || code == 429 || code == 408,
    }
}

pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The wait before retry number `retry` (1-based): `base` doubled each time, capped at 8×.
pub fn retry_delay(base: std::time::Duration, retry: u32) -> std::time::Duration {
    base * (1u32 << retry.saturating_sub(1).min(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_with_a_host_and_no_credentials() {
        assert_eq!(
            WebhookUrl::parse("url", "https://hooks.example.com/byoc?team=a")
                .unwrap()
                .as_str(),
            "https://hooks.example.com/byoc?team=a"
        );
        assert!(WebhookUrl::parse("url", "https://127.0.0.1:8443/hook").is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "hooks.example.com",
            "ftp://x.example",
            "https://",
            "",
            "https://user:pw@h.example/x",
            "https://h.example/x#frag",
            "javascript:alert(1)",
        ] {
            let err = WebhookUrl::parse("url", bad).unwrap_err();
            assert_eq!(err.field, "url", "{bad}");
        }
        assert!(WebhookUrl::parse(
            "url",
            &format!("https://h.example/{}", "a".repeat(MAX_URL_LEN))
        )
        .unwrap_err()
        .message
        .contains("limit"));
        assert!(
            serde_json::from_str::<WebhookUrl>("\"http://x.example\"").is_err(),
            "stored values are checked too"
        );
    }

    #[test]
    fn secrets_are_random_256_bits_and_never_printed() {
        let secret = WebhookSecret::generate().unwrap();
        assert_eq!(secret.reveal().len(), WebhookSecret::PREFIX.len() + 64);
        assert_ne!(secret, WebhookSecret::generate().unwrap());
        assert!(!format!("{secret:?} {secret}").contains(secret.reveal()));
        let hook = Webhook {
            url: WebhookUrl::parse("url", "https://h.example").unwrap(),
            secret: secret.clone(),
            created_at: Utc::now(),
        };
        assert!(!format!("{hook:?}").contains(secret.reveal()));
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Expected values computed independently (Python's hmac module).
        let secret = WebhookSecret("whsec_test".into());
        assert_eq!(
            secret.sign(1_700_000_000, br#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        let jefe = WebhookSecret("Jefe".into());
        assert_eq!(
            jefe.sign(0, b"what do ya want for nothing?"),
            "v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
        assert_ne!(
            secret.sign(1, b"x"),
            secret.sign(2, b"x"),
            "the timestamp is signed"
        );
        assert_ne!(secret.sign(1, b"x"), secret.sign(1, b"y"));
    }

    #[test]
    fn retries_only_what_may_pass_later() {
        for status in [None, Some(500), Some(502), Some(503), Some(429), Some(408)] {
            assert!(worth_retrying(status), "{status:?}");
        }
        for status in [Some(400), Some(401), Some(404), Some(410)] {
            assert!(!worth_retrying(status), "{status:?}");
        }
        let base = std::time::Duration::from_millis(100);
        let delays: Vec<u128> = (1..=6).map(|n| retry_delay(base, n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 800, 800]);
    }
}
