//! The watch message: what the state machine's callback task sends (`watch`, the ids, the task
//! token), and what the watcher re-sends, delayed, for the next check (`check`, `failures`).

use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::watch_schedule::WatchKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchMessage {
    pub watch: WatchKind,
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    /// Whoever holds it can end the install's wait: a credential, never logged.
    pub task_token: String,
    /// Which check of this wait the message asks for: 0 (absent) from the state machine.
    #[serde(default)]
    pub check: u32,
    /// Consecutive checks that failed with an error worth retrying.
    #[serde(default)]
    pub failures: u32,
}

// Written by hand so that no `{:?}` can print the token.
impl std::fmt::Debug for WatchMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchMessage")
            .field("watch", &self.watch)
            .field("install_id", &self.install_id)
            .field("tenant_id", &self.tenant_id)
            .field("task_token", &"<redacted>")
            .field("check", &self.check)
            .field("failures", &self.failures)
            .finish()
    }
}

impl WatchMessage {
    /// Reads a message body; the error says what is wrong without repeating the body.
    pub fn parse(body: &str) -> Result<Self, String> {
        let message: WatchMessage =
            serde_json::from_str(body).map_err(|e| format!("not a watch message: {e}"))?;
        if message.task_token.is_empty() {
            return Err("not a watch message: task_token is empty".into());
        }
        Ok(message)
    }

    /// The message for the next check: after a completed check (`failed` false) the failure
    /// count starts again.
    pub fn next(&self, failed: bool) -> Self {
        Self {
            check: self.check.saturating_add(1),
            failures: if failed {
                self.failures.saturating_add(1)
            } else {
                0
            },
            ..self.clone()
        }
    }

    /// Names this chain of checks (one per task token, so a restarted wait starts a new
    /// chain) without revealing the token: its SHA-256, shortened.
    pub fn chain(&self) -> String {
        let digest = Sha256::digest(self.task_token.as_bytes());
        hex::encode(&digest[..12])
    }

    /// `text` with the token replaced, for error messages that might echo it.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.task_token, "<task token>")
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"watch":"cluster","install_id":"inst-01hzy0000000000000000000aa","tenant_id":"acme","task_token":"AQCEAAAAKgAAAAMAAAAAAAAAAf-secret-token"}"#;

    #[test]
    fn the_state_machines_message_is_check_zero() {
        let message = WatchMessage::parse(BODY).unwrap();
        assert_eq!(
            (message.watch, message.check, message.failures),
            (WatchKind::Cluster, 0, 0)
        );
        let next = message.next(false);
        assert_eq!((next.check, next.failures), (1, 0));
        let retried = next.next(true).next(true);
        assert_eq!((retried.check, retried.failures), (3, 2));
        assert_eq!(
            retried.next(false).failures,
            0,
            "a completed check resets the count"
        );
        assert_eq!(WatchMessage::parse(&retried.body()).unwrap(), retried);
    }

    #[test]
    fn the_token_never_shows_in_debug_errors_or_the_chain_name() {
        let message = WatchMessage::parse(BODY).unwrap();
        assert!(!format!("{message:?}").contains("secret-token"));
        assert!(!message.chain().contains("secret"));
        assert_eq!(message.chain().len(), 24);
        assert_eq!(
            message.redact(&format!("Invalid token {}", message.task_token)),
            "Invalid token <task token>"
        );
        let bad = WatchMessage::parse(&BODY.replace("cluster", "kettle")).unwrap_err();
        assert!(
            bad.contains("unknown variant") && !bad.contains("secret-token"),
            "{bad}"
        );
    }

    #[test]
    fn bad_ids_and_empty_tokens_are_refused() {
        assert!(
            WatchMessage::parse(&BODY.replace("inst-01hzy0000000000000000000aa", "../x")).is_err()
        );
        assert!(
            WatchMessage::parse(&BODY.replace("AQCEAAAAKgAAAAMAAAAAAAAAAf-secret-token", ""))
                .is_err()
        );
    }

    #[test]
    fn each_token_is_its_own_chain() {
        let one = WatchMessage::parse(BODY).unwrap();
        let other = WatchMessage {
            task_token: "another".into(),
            ..one.clone()
        };
        assert_ne!(one.chain(), other.chain());
        assert_eq!(one.chain(), one.next(false).chain());
    }
}
