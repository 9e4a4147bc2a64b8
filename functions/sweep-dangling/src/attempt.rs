//! What became of one deletion call, read from AWS's answer. Pure, so the rule for "try again
//! next pass" is tested without AWS.

use byoc_core::aws::retryable;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Attempt {
    /// Gone now (or already gone: someone else deleted it).
    Gone,
    /// Accepted; AWS takes a while (NAT gateways, clusters, node groups). Waited for by the
    /// next pass, never by sleeping here.
    Started,
    /// Refused for now (a dependent still there, throttling): tried again next pass.
    Later { code: String },
    /// Refused in a way another pass will not fix by itself (e.g. access denied); kept,
    /// tried again next pass, and shown in the record.
    Failed { code: String, message: String },
}

/// Error codes that mean "not yet, dependents are still there" (the ones that mean "AWS is
/// busy" are `byoc_core::aws::retryable`'s). EC2 answers an overloaded moment with
/// `Unavailable` (HTTP 503, EC2 API reference, "Error codes"); taken for a refusal, it ended a
/// removal with a leftover the next pass would have deleted.
const IN_USE: [&str; 9] = [
    "DependencyViolation",
    "InvalidNetworkInterface.InUse",
    "InvalidIPAddress.InUse",
    "VolumeInUse",
    "IncorrectState",
    "ResourceInUse",
    "ResourceInUseException",
    "InvalidRequestException",
    "OperationAbortedException",
];

/// Classifies a refused deletion by its error code (`None`: no answer from AWS at all, e.g. a
/// timeout, which is worth another try).
pub fn from_error(code: Option<&str>, message: Option<&str>) -> Attempt {
    match code {
        None => Attempt::Later {
            code: "NoResponse".into(),
        },
        // Every "does not exist" code of EC2, ELB, EKS and Logs says NotFound somewhere.
        Some(code) if code.contains("NotFound") => Attempt::Gone,
        Some(code) if IN_USE.contains(&code) || retryable::is_retryable(code) => Attempt::Later {
            code: code.to_owned(),
        },
        Some(code) => Attempt::Failed {
            code: code.to_owned(),
            message: message.unwrap_or_default().to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_gone_busy_is_later_denied_is_failed() {
        for code in [
            "InvalidVpcID.NotFound",
            "InvalidGroup.NotFound",
            "ResourceNotFoundException",
            "LoadBalancerNotFound",
            "NatGatewayNotFound",
        ] {
            assert_eq!(from_error(Some(code), None), Attempt::Gone, "{code}");
        }
        for code in [
            "DependencyViolation",
            "RequestLimitExceeded",
            "ThrottlingException",
            "InvalidNetworkInterface.InUse",
            "ResourceInUseException",
            "Unavailable",
            "InternalError",
        ] {
            assert_eq!(
                from_error(Some(code), None),
                Attempt::Later { code: code.into() }
            );
        }
        assert_eq!(
            from_error(None, None),
            Attempt::Later {
                code: "NoResponse".into()
            }
        );
        assert_eq!(
            from_error(Some("UnauthorizedOperation"), Some("not allowed")),
            Attempt::Failed {
                code: "UnauthorizedOperation".into(),
                message: "not allowed".into()
            }
        );
    }
}
