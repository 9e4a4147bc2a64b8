//! AWS client setup. The endpoint, credentials and region come from the usual environment
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, the credential chain), so the same code talks to AWS or
//! to the local stack.

use aws_config::{BehaviorVersion, SdkConfig};

pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The SDK's Display for service errors is just "service error"; this walks the source chain
/// so a log line or message says what AWS actually said.
pub fn describe_sdk_error(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

/// Reads a required environment variable, naming it when missing.
pub fn env(name: &str) -> Result<String, crate::Error> {
    std::env::var(name).map_err(|_| crate::Error::Config(format!("environment variable {name} is not set")))
}
