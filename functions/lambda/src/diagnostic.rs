//! A function's error as the Lambda runtime answers it: `errorType` is the error's Step
//! Functions name (what the state machines' Retry and Catch match), `errorMessage` its text.
//! One mapping for every function; each names its errors through `byoc_domain::error::NamedError`.

use byoc_domain::error::NamedError;
use lambda_runtime::Diagnostic;

pub fn diagnostic(err: &impl NamedError) -> Diagnostic {
    Diagnostic {
        error_type: err.error_name().into(),
        error_message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_type_is_the_step_functions_name_and_the_message_its_text() {
        let err = byoc_domain::Error::Aws {
            service: "EC2",
            message: "RequestLimitExceeded".into(),
        };
        let answer = diagnostic(&err);
        assert_eq!(answer.error_type, "Transient");
        assert_eq!(answer.error_message, err.to_string());
    }
}
