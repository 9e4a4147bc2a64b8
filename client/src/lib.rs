//! A client for the byoc-installer HTTP API. Requests are signed with SigV4 for
//! `execute-api`, as API Gateway's IAM authorization requires, with credentials from any
//! provider (the CLI uses the usual AWS chain: environment, profile, SSO, instance role).

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no AWS credentials to sign the request with: {0}")]
    Credentials(String),
    #[error("could not sign the request: {0}")]
    Signing(String),
    #[error("{url}: {message}")]
    Http { url: String, message: String },
}

/// What the API answered: the status and the body, parsed as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `error.field` of an error response.
    pub fn error_field(&self) -> Option<&str> {
        self.json.pointer("/error/field").and_then(|v| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    region: String,
    credentials: SharedCredentialsProvider,
}

impl Api {
    /// `base` is the stage URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/v1`.
    pub fn new(base: &str, region: &str, credentials: SharedCredentialsProvider) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            credentials,
        }
    }

    pub async fn get(&self, path: &str) -> Result<ApiResponse, ClientError> {
        self.send("GET", path, None, true).await
    }

    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<ApiResponse, ClientError> {
        self.send("POST", path, Some(body.to_string()), true).await
    }

    /// Any method and raw body, signed or not.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        signed: bool,
    ) -> Result<ApiResponse, ClientError> {
        self.send_with_headers(method, path, body, &[], signed)
            .await
    }

    /// `send` with extra headers (e.g. `Idempotency-Key`), signed along with the request.
    pub async fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        extra: &[(&str, &str)],
        signed: bool,
    ) -> Result<ApiResponse, ClientError> {
        let url = format!("{}{}", self.base, path);
        let body = body.unwrap_or_default();
        let mut headers: Vec<(String, String)> =
            vec![("content-type".into(), "application/json".into())];
        headers.extend(
            extra
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), (*value).to_owned())),
        );
        if signed {
            headers.extend(
                self.signature(method, &url, &headers, body.as_bytes())
                    .await?,
            );
        }
        let http_error = |e: &dyn std::fmt::Display| ClientError::Http {
            url: url.clone(),
            message: e.to_string(),
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| http_error(&e))?;
        let mut request = self.http.request(method, &url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| http_error(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| http_error(&e))?;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(ApiResponse { status, text, json })
    }

    async fn signature(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, ClientError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| ClientError::Credentials(e.to_string()))?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| ClientError::Signing(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| ClientError::Signing(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| ClientError::Signing(e.to_string()))?
            .into_parts();
        let (signed_headers, _) = instructions.into_parts();
        Ok(signed_headers
            .into_iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect())
    }
}
