//! The vendor's side of the HTTP API: requests signed with SigV4 for `execute-api`, as the
//! vendor's backend signs them on AWS.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::stack::LocalStack;

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
}

impl ApiResponse {
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
    credentials: Credentials,
}

impl Api {
    pub fn new(stack: &LocalStack) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: stack.outputs.api_url.trim_end_matches('/').to_owned(),
            region: stack.outputs.region.clone(),
            credentials: Credentials::new("test", "test", None, None, "byoc-e2e"),
        }
    }

    pub async fn get(&self, path: &str) -> Result<ApiResponse, String> {
        self.send("GET", path, None, true).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Result<ApiResponse, String> {
        self.send("POST", path, Some(body.to_string()), true).await
    }

    /// Any method and raw body, signed or not, for the tests of bad input.
    pub async fn send(&self, method: &str, path: &str, body: Option<String>, signed: bool) -> Result<ApiResponse, String> {
        let url = format!("{}{}", self.base, path);
        let body = body.unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![("content-type".into(), "application/json".into())];
        if signed {
            headers.extend(self.signature(method, &url, &headers, body.as_bytes())?);
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self.http.request(method, &url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| e.to_string())?;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(ApiResponse { status, text, json })
    }

    fn signature(&self, method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> Result<Vec<(String, String)>, String> {
        let identity: Identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(method, url, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), SignableBody::Bytes(body))
            .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        let (signed_headers, _) = instructions.into_parts();
        Ok(signed_headers.into_iter().map(|h| (h.name().to_owned(), h.value().to_owned())).collect())
    }
}
