//! The errors of upgrade-cluster and the Step Functions error names they carry
//! (statemachines/upgrade.asl.json routes on them).

use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The preflight found what would make the upgrade fail or hurt the workload; nothing was
    /// changed. The message lists every blocking finding with what to do.
    #[error("{0}")]
    Blocked(String),
    /// EKS failed an update on the way (a node group that could not drain, an add-on it could
    /// not update); the cluster serves at the version it reached.
    #[error("{0}")]
    Failed(String),
    /// The install is not in an upgrade this call can act on (no upgrade record, or one that
    /// already ended): a bug or a stale execution, not something a retry fixes.
    #[error("{0}")]
    NotUpgrading(String),
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for UpgradeError {
    fn error_name(&self) -> &'static str {
        match self {
            UpgradeError::Blocked(_) => error_names::UPGRADE_BLOCKED,
            UpgradeError::Failed(_) => error_names::UPGRADE_FAILED,
            UpgradeError::NotUpgrading(_) => error_names::UPGRADE_INVALID,
            UpgradeError::Core(core) => core.error_name(),
        }
    }
}

impl From<UpgradeError> for Diagnostic {
    fn from(err: UpgradeError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

/// A failed AWS call that a retry may fix (throttling, 5xx, network): `Transient`.
pub fn aws(service: &'static str, err: impl std::error::Error) -> UpgradeError {
    UpgradeError::Core(byoc_domain::Error::aws(service, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_the_state_machine_routes_on() {
        assert_eq!(
            UpgradeError::Blocked(String::new()).error_name(),
            "UpgradeBlocked"
        );
        assert_eq!(
            UpgradeError::Failed(String::new()).error_name(),
            "UpgradeFailed"
        );
        assert_eq!(
            UpgradeError::NotUpgrading(String::new()).error_name(),
            "UpgradeInvalid"
        );
        let transient = UpgradeError::Core(byoc_domain::Error::Aws {
            service: "EKS",
            message: "throttled".into(),
        });
        assert_eq!(transient.error_name(), "Transient");
        let diagnostic = Diagnostic::from(UpgradeError::Failed("node group x".into()));
        assert_eq!(diagnostic.error_message, "node group x");
    }
}
