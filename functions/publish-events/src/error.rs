//! The one error type of publish-events. Most failures are not errors of the invocation:
//! a record that could not be published is reported back to the stream as a batch item
//! failure and retried from there; only what stops the function altogether lands here.

use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),

    #[error("configuration: {0}")]
    Config(String),
}

impl NamedError for PublishError {
    fn error_name(&self) -> &'static str {
        match self {
            PublishError::Core(core) => core.error_name(),
            PublishError::Config(_) => error_names::INTERNAL,
        }
    }
}

impl From<PublishError> for Diagnostic {
    fn from(err: PublishError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}
