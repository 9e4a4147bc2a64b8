//! `Idempotency-Key`: a caller's key for one request, so that repeating the request (after a
//! timeout, a dropped connection, a crash) returns the first response instead of acting again.
//!
//! A key is claimed with a conditional write before the request acts. While the first request
//! runs it holds a lease; a repeat waits for its response, and takes the claim over only once
//! the lease has run out (the first request died), continuing with what the first one reserved
//! (the install id) rather than making something new. Keys are kept for 24 hours (the item's
//! `expires_at`, the table's TTL attribute); an expired key is free again even before DynamoDB's
//! TTL has removed it. The rules are here, without DynamoDB; `store::idempotency` stores them.

use crate::ids::InvalidInput;

pub const HEADER: &str = "Idempotency-Key";
/// How long a key is remembered.
pub const KEEP_SECONDS: i64 = 24 * 3600;
/// How long the first request may hold a key before a repeat takes over: longer than any API
/// call can run (the function's timeout is 30 s).
pub const LEASE_MILLIS: i64 = 60_000;
const MAX_LEN: usize = 255;

/// A validated key: 1 to 255 of ASCII letters, digits and `-_.:` (UUIDs, ULIDs and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        let ok_chars = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if (1..=MAX_LEN).contains(&value.len()) && ok_chars {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::new(
                HEADER,
                format!("the {HEADER} header must be 1 to {MAX_LEN} ASCII letters, digits, '-', '_', '.' or ':' (a UUID is a good key)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The response kept for a key: what the first request answered. A route whose body holds a
/// secret keeps none (`body: None`) and renders the response again from `resource`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    InProgress,
    Completed,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::InProgress => "in_progress",
            KeyState::Completed => "completed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "in_progress" => Some(KeyState::InProgress),
            "completed" => Some(KeyState::Completed),
            _ => None,
        }
    }
}

/// A key as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Digest of the request the key was first used with.
    pub fingerprint: String,
    pub state: KeyState,
    pub lease_until_ms: i64,
    pub expires_at: i64,
    /// What the first request reserved or made (an install id, a tenant id).
    pub resource: Option<String>,
    pub response: Option<StoredResponse>,
}

/// The holder's proof of its claim: completing or releasing the key is conditioned on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub pk: String,
    pub lease_until_ms: i64,
    /// What the request must act on: its own reservation, or the one of the request it took
    /// over from.
    pub resource: Option<String>,
}

/// What a request with a key may do.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Act, then complete (or release) the key.
    Granted(Lease),
    /// The first request's answer.
    Replay {
        response: StoredResponse,
        resource: Option<String>,
    },
    /// The first request is still running (with what it reserved).
    InProgress { resource: Option<String> },
    /// The key was used with another request.
    Mismatch,
}

/// What to make of the record found when a claim was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Gone or expired: claim it afresh.
    Free,
    /// The first request died holding the lease: take the claim over (conditioned on the lease
    /// seen, so only one repeat does).
    TakeOver {
        seen_lease_until_ms: i64,
    },
    Claim(Claim),
}

pub fn judge(found: Option<&KeyRecord>, fingerprint: &str, now_ms: i64) -> Judgement {
    let Some(record) = found else {
        return Judgement::Free;
    };
    if record.expires_at * 1000 <= now_ms {
        return Judgement::Free;
    }
    if record.fingerprint != fingerprint {
        return Judgement::Claim(Claim::Mismatch);
    }
    match (record.state, &record.response) {
        (KeyState::Completed, Some(response)) => Judgement::Claim(Claim::Replay {
            response: response.clone(),
            resource: record.resource.clone(),
        }),
        // Completed without a response cannot be written; treat it like a dead holder.
        (KeyState::Completed, None) => Judgement::TakeOver {
            seen_lease_until_ms: record.lease_until_ms,
        },
        (KeyState::InProgress, _) if record.lease_until_ms <= now_ms => Judgement::TakeOver {
            seen_lease_until_ms: record.lease_until_ms,
        },
        (KeyState::InProgress, _) => Judgement::Claim(Claim::InProgress {
            resource: record.resource.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_800_000_000_000;

    fn record(state: KeyState, lease_until_ms: i64) -> KeyRecord {
        KeyRecord {
            fingerprint: "fp".into(),
            state,
            lease_until_ms,
            expires_at: NOW_MS / 1000 + KEEP_SECONDS,
            resource: Some("inst-x".into()),
            response: (state == KeyState::Completed).then(|| StoredResponse {
                status: 202,
                body: Some(serde_json::json!({"install_id": "inst-x"})),
            }),
        }
    }

    #[test]
    fn keys_are_bounded_and_plain() {
        for ok in [
            "a",
            "0b5f9a52-3c4e-4f0e-9d7e-2f1c8b6a7d10",
            "order:42.retry_1",
            &"k".repeat(255),
        ] {
            assert!(IdempotencyKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "ключ",
            "a\u{0}b",
            "a/b",
            "../x",
            &"k".repeat(256),
        ] {
            assert_eq!(
                IdempotencyKey::parse(bad).unwrap_err().field,
                HEADER,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_finished_key_replays_and_a_different_request_is_refused() {
        let done = record(KeyState::Completed, NOW_MS - 1);
        assert!(matches!(
            judge(Some(&done), "fp", NOW_MS),
            Judgement::Claim(Claim::Replay {
                response: StoredResponse { status: 202, .. },
                ..
            })
        ));
        assert_eq!(
            judge(Some(&done), "other", NOW_MS),
            Judgement::Claim(Claim::Mismatch)
        );
    }

    #[test]
    fn a_running_first_request_is_waited_for_until_its_lease_runs_out() {
        assert_eq!(
            judge(
                Some(&record(KeyState::InProgress, NOW_MS + 5_000)),
                "fp",
                NOW_MS
            ),
            Judgement::Claim(Claim::InProgress {
                resource: Some("inst-x".into())
            })
        );
        assert_eq!(
            judge(Some(&record(KeyState::InProgress, NOW_MS)), "fp", NOW_MS),
            Judgement::TakeOver {
                seen_lease_until_ms: NOW_MS
            }
        );
    }

    #[test]
    fn expired_or_missing_keys_are_free() {
        let mut old = record(KeyState::Completed, 0);
        old.expires_at = NOW_MS / 1000;
        assert_eq!(
            judge(Some(&old), "other", NOW_MS),
            Judgement::Free,
            "an expired key is free even with another request"
        );
        assert_eq!(judge(None, "fp", NOW_MS), Judgement::Free);
    }
}
