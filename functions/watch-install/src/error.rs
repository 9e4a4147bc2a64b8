//! The watcher's own failures. None reaches the state machine: a message whose handling
//! failed is reported back to SQS (batchItemFailures) and delivered again after its
//! visibility timeout; a wait whose chain is lost meanwhile restarts on its heartbeat timeout.

use byoc_domain::error_names;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A DynamoDB, SQS or Step Functions call failed; the message is tried again.
    #[error("{service} call failed: {message}")]
    Aws {
        service: &'static str,
        message: String,
    },
    /// The body is not a watch message; after the queue's maxReceiveCount it lands in the
    /// dead-letter queue, whose alarm tells the operator.
    #[error("{0}")]
    BadMessage(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl From<byoc_domain::Error> for WatchError {
    fn from(err: byoc_domain::Error) -> Self {
        WatchError::Config(err.to_string())
    }
}

impl byoc_domain::error::NamedError for WatchError {
    fn error_name(&self) -> &'static str {
        match self {
            WatchError::Aws { .. } => error_names::TRANSIENT,
            WatchError::BadMessage(_) => error_names::BAD_MESSAGE,
            WatchError::Config(_) => error_names::INTERNAL,
        }
    }
}

/// Only a batch that cannot be reported message by message fails the invocation; the event
/// source mapping then delivers the whole batch again.
impl From<WatchError> for lambda_runtime::Diagnostic {
    fn from(err: WatchError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}
