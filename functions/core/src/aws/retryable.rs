//! Which AWS error codes mean "try again later", defined once on the SDK's own lists: the
//! throttling and transient codes its standard retry classifier uses
//! (`aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS}`), and the
//! codes services give a failure on their side (EC2 API reference, "Error codes":
//! `InternalError`, `Unavailable`, `ServiceUnavailable`; `InternalFailure` and
//! `ServiceUnavailableException` in the JSON services' common errors). The SDK retries these
//! inside a call; what still fails is classified here by the steps (a retry of the step, a
//! later pass of the sweep, a probe that says "could not check" rather than "refused").

pub use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};

/// Failures on the service's side (HTTP 5xx answers with a code).
pub const SERVER_ERRORS: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
];

/// AWS refused the request for its rate: it did nothing with it.
pub fn is_throttling(code: &str) -> bool {
    THROTTLING_ERRORS.contains(&code)
}

/// AWS was busy, timed out or failed on its side: the same request may pass later.
pub fn is_retryable(code: &str) -> bool {
    is_throttling(code) || TRANSIENT_ERRORS.contains(&code) || SERVER_ERRORS.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_transient_and_server_codes_are_retryable_and_refusals_are_not() {
        for code in [
            "RequestLimitExceeded",
            "Throttling",
            "ThrottlingException",
            "TooManyRequestsException",
        ] {
            assert!(is_throttling(code) && is_retryable(code), "{code}");
        }
        for code in [
            "InternalError",
            "Unavailable",
            "ServiceUnavailable",
            "RequestTimeout",
        ] {
            assert!(!is_throttling(code) && is_retryable(code), "{code}");
        }
        for code in [
            "UnauthorizedOperation",
            "AccessDenied",
            "DependencyViolation",
            "InvalidVpcID.NotFound",
        ] {
            assert!(!is_retryable(code), "{code}");
        }
    }
}
