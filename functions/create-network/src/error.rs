//! What can stop the network step, and the Step Functions error name of each.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use byoc_core::aws::retryable;
use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use byoc_domain::network_plan::PlanError;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum CreateNetworkError {
    /// The options do not fit the customer's account (CIDR taken, too few zones): retrying
    /// cannot help, the vendor must change the options.
    #[error(transparent)]
    Plan(#[from] PlanError),

    #[error(
        "NAT gateway {nat_gateway_id} in {zone} failed: {message} ({code}); the install's network must be \
         removed and the install retried"
    )]
    NatFailed {
        nat_gateway_id: String,
        zone: String,
        code: String,
        message: String,
    },

    /// EC2 refused a request in a way a retry will not change (a missing permission on the
    /// customer role, a limit, a bad parameter).
    #[error("EC2 {action} was refused in the customer's account: {code}: {message}")]
    Rejected {
        action: &'static str,
        code: String,
        message: String,
    },

    /// A removed (or being removed) install must not get a new network.
    #[error("install {install_id} is {status}; its network is not created")]
    NotActive { install_id: String, status: String },

    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for CreateNetworkError {
    /// The name the state machine routes on.
    fn error_name(&self) -> &'static str {
        match self {
            CreateNetworkError::Plan(_) => error_names::NETWORK_INVALID,
            CreateNetworkError::NatFailed { .. } | CreateNetworkError::Rejected { .. } => {
                error_names::NETWORK_FAILED
            }
            CreateNetworkError::NotActive { .. } => error_names::INSTALL_NOT_ACTIVE,
            CreateNetworkError::Core(core) => core.error_name(),
        }
    }
}

impl From<CreateNetworkError> for Diagnostic {
    fn from(err: CreateNetworkError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

/// Sorts an EC2 failure into "retry" (throttling, 5xx, network trouble, and the `*.NotFound`
/// that EC2's eventual consistency gives right after a create) or "refused".
pub fn ec2_error<E>(
    action: &'static str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> CreateNetworkError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match err.as_service_error() {
            Some(service) => (
                service.code().unwrap_or("Unknown").to_owned(),
                service.message().unwrap_or_default().to_owned(),
            ),
            None => return CreateNetworkError::Core(byoc_domain::Error::aws("EC2", err)),
        };
        let retryable = status.is_some_and(|s| s >= 500)
            || retryable::is_retryable(&code)
            || code.ends_with(".NotFound");
        if retryable {
            CreateNetworkError::Core(byoc_domain::Error::Aws {
                service: "EC2",
                message: format!("{action}: {code}: {message}"),
            })
        } else {
            CreateNetworkError::Rejected {
                action,
                code,
                message,
            }
        }
    }
}

/// An EC2 answer without the field the call exists for; EC2 does not do that, so it is
/// treated as a hiccup worth a retry.
pub fn incomplete(action: &'static str, what: &str) -> CreateNetworkError {
    CreateNetworkError::Core(byoc_domain::Error::Aws {
        service: "EC2",
        message: format!("{action} returned no {what}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_state_machine_routes_on() {
        let plan = CreateNetworkError::Plan(PlanError::NoFreeBlock {
            prefix: 16,
            vpcs: 3,
        });
        assert_eq!(plan.error_name(), "NetworkInvalid");
        let nat = CreateNetworkError::NatFailed {
            nat_gateway_id: "nat-1".into(),
            zone: "us-east-1a".into(),
            code: "InternalError".into(),
            message: "boom".into(),
        };
        assert_eq!(nat.error_name(), "NetworkFailed");
        assert!(nat.to_string().contains("boom"));
        let throttled = CreateNetworkError::Core(byoc_domain::Error::Aws {
            service: "EC2",
            message: "x".into(),
        });
        assert_eq!(throttled.error_name(), "Transient");
        let lost = CreateNetworkError::Core(byoc_domain::Error::AccessLost {
            role_arn: "arn:aws:iam::1:role/byoc/x".into(),
        });
        let diagnostic = Diagnostic::from(lost);
        assert_eq!(diagnostic.error_type, "AccessLost");
    }
}
