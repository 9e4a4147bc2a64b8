//! AWS client setup. The endpoint, credentials and region come from the usual environment
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, the credential chain), so the same code talks to AWS or
//! to the local stack.

pub mod eks_versions;
pub mod executions;
mod lazy_https;
pub mod retryable;
pub mod vcpu_quota;
pub mod zones;

use aws_config::{BehaviorVersion, SdkConfig};
pub use lazy_https::LazyHttpsClient;

/// Attempts per AWS call (standard retry mode: exponential backoff with jitter, throttling and
/// 5xx and connection errors retried). The SDK's default of 3 lets about one call in 125 fail
/// when a fifth of them are throttled; 5 absorbs such bursts inside the call, and what still
/// fails is `Transient` for the state machine. `AWS_MAX_ATTEMPTS` overrides it.
pub const MAX_ATTEMPTS: u32 = 5;

pub async fn load_config() -> SdkConfig {
    let loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(LazyHttpsClient::sdk_default());
    let loader = match std::env::var_os("AWS_MAX_ATTEMPTS") {
        Some(_) => loader,
        None => loader.retry_config(
            aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS),
        ),
    };
    loader.load().await
}

/// The SDK's Display for service errors is just "service error": the whole source chain.
pub use byoc_domain::error::describe_error as describe_sdk_error;

/// Reads a required environment variable, naming it when missing.
pub fn env(name: &str) -> Result<String, byoc_domain::Error> {
    std::env::var(name)
        .map_err(|_| byoc_domain::Error::Config(format!("environment variable {name} is not set")))
}
