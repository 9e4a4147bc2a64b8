//! The errors of create-cluster and the Step Functions error names they carry.

use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum CreateClusterError {
    /// EKS gave up on the cluster, node group or an add-on; the message carries EKS's own
    /// health issue text, which the failure email passes on.
    #[error("{0}")]
    ClusterFailed(String),
    /// The request cannot work as it stands (a Kubernetes version EKS does not offer, a
    /// parameter EKS refuses); retrying will not help, changing the install's options will.
    #[error("{0}")]
    Invalid(String),
    /// The install's subnets are not there (yet): the network step has not made them.
    #[error("{0}")]
    NetworkNotReady(String),
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for CreateClusterError {
    fn error_name(&self) -> &'static str {
        match self {
            CreateClusterError::ClusterFailed(_) => error_names::CLUSTER_FAILED,
            CreateClusterError::Invalid(_) => error_names::CLUSTER_INVALID,
            CreateClusterError::NetworkNotReady(_) => error_names::NETWORK_NOT_READY,
            CreateClusterError::Core(core) => core.error_name(),
        }
    }
}

impl From<CreateClusterError> for Diagnostic {
    fn from(err: CreateClusterError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

impl From<byoc_domain::cluster_plan::PlanError> for CreateClusterError {
    fn from(err: byoc_domain::cluster_plan::PlanError) -> Self {
        CreateClusterError::Invalid(err.to_string())
    }
}

/// A failed AWS call that a retry may fix (throttling, 5xx, network): `Transient`.
pub fn aws(service: &'static str, err: impl std::error::Error) -> CreateClusterError {
    CreateClusterError::Core(byoc_domain::Error::aws(service, err))
}

/// What EKS said, for the errors whose text is the useful part.
pub fn eks_message(err: &impl aws_sdk_eks::error::ProvideErrorMetadata) -> String {
    err.message().unwrap_or("no message").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_the_state_machine_routes_on() {
        let diagnostic = Diagnostic::from(CreateClusterError::ClusterFailed(
            "NodeCreationFailure: instances did not join".into(),
        ));
        assert_eq!(
            (
                diagnostic.error_type.as_str(),
                diagnostic.error_message.as_str()
            ),
            (
                "ClusterFailed",
                "NodeCreationFailure: instances did not join"
            )
        );
        assert_eq!(
            CreateClusterError::Invalid(String::new()).error_name(),
            "ClusterInvalid"
        );
        assert_eq!(
            CreateClusterError::NetworkNotReady(String::new()).error_name(),
            "NetworkNotReady"
        );
        let transient = CreateClusterError::Core(byoc_domain::Error::Aws {
            service: "EKS",
            message: "throttled".into(),
        });
        assert_eq!(transient.error_name(), "Transient");
    }
}
