//! What the state machines pass to the functions: ids only. Everything else is read from the
//! install record, so no secret ever lands in execution input, output or history.

use serde::{Deserialize, Serialize};

use crate::ids::{InstallId, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
}

/// The error a `Catch` puts into the state's data (`ResultPath: "$.error"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

impl CaughtError {
    /// The human message inside `Cause`: Lambda task failures carry a JSON document with
    /// `errorMessage`; other failures carry plain text.
    pub fn message(&self) -> String {
        let cause = self.cause.as_deref().unwrap_or("").trim();
        serde_json::from_str::<serde_json::Value>(cause)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| {
                if cause.is_empty() {
                    format!("the step failed with {}", self.error)
                } else {
                    cause.to_owned()
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_input_rejects_malformed_ids() {
        let ok: Result<StepInput, _> = serde_json::from_str(
            r#"{"install_id":"inst-01hzy0000000000000000000aa","tenant_id":"acme"}"#,
        );
        assert!(ok.is_ok());
        let bad: Result<StepInput, _> =
            serde_json::from_str(r#"{"install_id":"../../etc","tenant_id":"acme"}"#);
        assert!(bad.unwrap_err().to_string().contains("not an install id"));
    }

    #[test]
    fn caught_error_message_prefers_the_lambda_error_message() {
        let lambda = CaughtError {
            error: "TrustInvalid".into(),
            cause: Some(
                r#"{"errorType":"TrustInvalid","errorMessage":"wildcard principal"}"#.into(),
            ),
        };
        assert_eq!(lambda.message(), "wildcard principal");
        let plain = CaughtError {
            error: "States.Timeout".into(),
            cause: Some("timed out".into()),
        };
        assert_eq!(plain.message(), "timed out");
        assert_eq!(
            CaughtError {
                error: "X".into(),
                cause: None
            }
            .message(),
            "the step failed with X"
        );
    }
}
