//! The one error type of byoc-core. Functions wrap it in their own enums and map those to the
//! error names the state machines route on.

use crate::error_names;
use crate::ids::{InstallId, InvalidInput, TenantId};
use crate::model::InstallStatus;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),

    #[error("tenant \"{0}\" already exists")]
    TenantExists(TenantId),

    #[error("tenant \"{0}\" does not exist")]
    TenantNotFound(TenantId),

    #[error("install \"{0}\" does not exist")]
    InstallNotFound(InstallId),

    /// Another install already holds this tenant/account/region.
    #[error("install \"{existing}\" is already active for this tenant, account and region")]
    SlotTaken { existing: InstallId },

    #[error("install \"{install_id}\" cannot go from {from} to {to}")]
    InvalidTransition {
        install_id: InstallId,
        from: InstallStatus,
        to: InstallStatus,
    },

    #[error("install \"{0}\" kept changing while we tried to record a step; try again")]
    Contended(InstallId),

    /// A call to AWS failed in a way that may pass on retry (throttling, 5xx, network).
    #[error("{service} call failed: {message}")]
    Aws {
        service: &'static str,
        message: String,
    },

    /// The customer role worked when the install started and no longer does.
    #[error("could not assume {role_arn} any more: the customer's access stack was deleted or changed; ask the customer to restore it from the install link")]
    AccessLost { role_arn: String },

    /// The customer paused the vendor's access on their access stack: the role can be
    /// assumed, but it may do nothing until they enable it again. Waiting is right; retrying
    /// at once is not.
    #[error("the customer paused the vendor's access to account {account}: the installer waits until they resume it ({instruction})")]
    AccessPaused {
        account: String,
        instruction: String,
    },

    #[error("a stored item could not be read: {0}")]
    Corrupt(String),

    #[error("the operating system could not provide random bytes: {0}")]
    Randomness(String),

    #[error("configuration: {0}")]
    Config(String),
}

/// A function's error as Step Functions sees it: its name (the failed invocation's
/// `errorType`, one of [`crate::error_names`]) and its message. Every function's error enum
/// implements it; `byoc_lambda::diagnostic` turns it into the Lambda runtime's answer.
pub trait NamedError: std::fmt::Display {
    fn error_name(&self) -> &'static str;
}

impl NamedError for Error {
    fn error_name(&self) -> &'static str {
        Error::error_name(self)
    }
}

impl Error {
    /// The Step Functions error name for a core failure. What a Retry can fix is `Transient`;
    /// the state machines route on these names, so they never change.
    pub fn error_name(&self) -> &'static str {
        match self {
            Error::Aws { .. } | Error::Contended(_) => error_names::TRANSIENT,
            Error::InvalidTransition { .. } => error_names::INVALID_TRANSITION,
            Error::InstallNotFound(_) | Error::TenantNotFound(_) => error_names::INSTALL_NOT_FOUND,
            Error::AccessLost { .. } => error_names::ACCESS_LOST,
            Error::AccessPaused { .. } => error_names::ACCESS_PAUSED,
            _ => error_names::INTERNAL,
        }
    }

    pub fn aws(service: &'static str, err: impl std::error::Error) -> Self {
        Error::Aws {
            service,
            message: describe_error(&err),
        }
    }
}

impl From<getrandom::Error> for Error {
    fn from(err: getrandom::Error) -> Self {
        Error::Randomness(err.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The SDK's Display for service errors is just "service error"; this walks the source chain
/// so a log line or message says what AWS actually said.
pub fn describe_error(err: &dyn std::error::Error) -> String {
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
