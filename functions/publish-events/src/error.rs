//! The one error type of publish-events. Most failures are not errors of the invocation:
//! a record that could not be published is reported back to the stream as a batch item
//! failure and retried from there; only what stops the function altogether lands here.

use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),

    #[error("configuration: {0}")]
    Config(String),
}

impl From<PublishError> for Diagnostic {
    fn from(err: PublishError) -> Self {
        let error_type = match &err {
            PublishError::Core(core) => core.error_name(),
            PublishError::Config(_) => "Internal",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}
