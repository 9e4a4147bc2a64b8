//! `POST /installs/preflight`: the provision checks for an install that is not made yet, with
//! the same body as `POST /installs`. check-quotas runs them in the customer's account (it holds
//! the probes; invoked through the Lambda Invoke API) and answers every finding at once; the API
//! writes nothing. A malformed body is a 400 and an unknown tenant a 404, as for `POST /installs`;
//! what the account lacks is a finding in a 200, not an error.

use aws_sdk_lambda::primitives::Blob;
use byoc_domain::error_names;
use byoc_domain::preflight::{PreflightReport, PreflightRequest};
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::Deps;

/// What Lambda returns for a function's error (Invoke API reference, FunctionError).
#[derive(Debug, Deserialize)]
struct FunctionError {
    #[serde(rename = "errorType", default)]
    error_type: String,
}

pub async fn preflight(
    deps: &Deps,
    request: PreflightRequest,
) -> Result<(StatusCode, PreflightReport), ApiError> {
    request.options.validate()?;
    deps.store.get_tenant(&request.tenant_id).await?;
    let payload = serde_json::to_vec(&json!({ "preflight": request }))
        .map_err(|e| byoc_domain::Error::Corrupt(e.to_string()))?;
    let out = deps
        .lambda
        .invoke()
        .function_name(&deps.settings.preflight_function)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| byoc_domain::Error::aws("Lambda", e))?;
    let body = out.payload().map(Blob::as_ref).unwrap_or_default();
    if out.function_error().is_some() {
        // The message may name the account's resources; it goes to the log, not the caller.
        let error_type = serde_json::from_slice::<FunctionError>(body)
            .map(|e| e.error_type)
            .unwrap_or_default();
        tracing::warn!(%error_type, "the preflight did not finish");
        return Err(match error_type.as_str() {
            error_names::INSTALL_NOT_FOUND => ApiError::not_found(
                "tenant_id",
                "the tenant does not exist; create it with POST /tenants",
            ),
            _ => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the checks could not be run just now (a dependency is busy or unreachable); try again shortly",
            ),
        });
    }
    let report: PreflightReport = serde_json::from_slice(body)
        .map_err(|e| byoc_domain::Error::Corrupt(format!("the preflight's answer: {e}")))?;
    Ok((StatusCode::OK, report))
}
