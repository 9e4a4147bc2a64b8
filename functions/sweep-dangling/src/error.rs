//! The one error a call of sweep-dangling ends with, and the name the state machine routes on.

use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Loading the install, assuming the customer role, a Describe call or the record failed.
    /// DependencyViolation and throttling on deletions are not errors: they leave the
    /// resource for the next pass.
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl From<SweepError> for Diagnostic {
    fn from(err: SweepError) -> Self {
        let error_type = match &err {
            SweepError::Core(core) => core.error_name(),
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}
