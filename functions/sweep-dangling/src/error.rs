//! The one error a call of sweep-dangling ends with, and the name the state machine routes on.

use byoc_domain::error::NamedError;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Loading the install, assuming the customer role, a Describe call or the record failed.
    /// DependencyViolation and throttling on deletions are not errors: they leave the
    /// resource for the next pass.
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for SweepError {
    fn error_name(&self) -> &'static str {
        match self {
            SweepError::Core(core) => core.error_name(),
        }
    }
}

impl From<SweepError> for Diagnostic {
    fn from(err: SweepError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}
