//! The API's error responses: `{"error":{"code","message","field"}}`, one place that decides
//! the HTTP status for each kind of failure.

use byoc_domain::ids::InvalidInput;
use lambda_http::http::StatusCode;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message).field(field)
    }

    pub fn not_found(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message).field(field)
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self })
    }
}

impl From<InvalidInput> for ApiError {
    fn from(err: InvalidInput) -> Self {
        ApiError::invalid(err.field, err.message)
    }
}

/// Core failures that reach the API; the caller has already turned the expected ones
/// (not found, conflicts) into their own responses with the right field.
impl From<byoc_domain::Error> for ApiError {
    fn from(err: byoc_domain::Error) -> Self {
        use byoc_domain::Error as E;
        match err {
            E::InvalidInput(input) => input.into(),
            E::TenantNotFound(id) => ApiError::not_found("tenant_id", format!("tenant \"{id}\" does not exist; create it with POST /tenants")),
            E::InstallNotFound(id) => ApiError::not_found("install_id", format!("install \"{id}\" does not exist")),
            E::TenantExists(id) => ApiError::new(StatusCode::CONFLICT, "conflict", format!("tenant \"{id}\" already exists; GET /tenants/{id} shows it")).field("tenant_id"),
            E::SlotTaken { existing } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("install \"{existing}\" is already active for this tenant, account and region; GET /installs/{existing} shows it"),
            )
            .field("install_id"),
            E::Aws { .. } | E::Contended(_) => {
                tracing::warn!(error = %err, "dependency unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "a dependency is busy or unreachable; try again shortly")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the request id in the x-amzn-RequestId header identifies it")
            }
        }
    }
}
