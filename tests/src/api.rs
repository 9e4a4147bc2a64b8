//! The vendor's side of the HTTP API, through the same client the `byoc` CLI uses.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
pub use byoc_client::{Api as Client, ApiResponse};

use crate::stack::LocalStack;

#[derive(Debug, Clone)]
pub struct Api(Client);

impl Api {
    pub fn new(stack: &LocalStack) -> Self {
        Self::with_credentials(stack, "test", "test")
    }

    /// The API as another caller (e.g. an IAM user of the vendor account) sees it.
    pub fn with_credentials(stack: &LocalStack, access_key: &str, secret_key: &str) -> Self {
        let credentials = SharedCredentialsProvider::new(Credentials::new(
            access_key, secret_key, None, None, "byoc-e2e",
        ));
        Self(Client::new(
            &stack.outputs.api_url,
            &stack.outputs.region,
            credentials,
        ))
    }

    pub async fn get(&self, path: &str) -> Result<ApiResponse, String> {
        self.0.get(path).await.map_err(|e| e.to_string())
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Result<ApiResponse, String> {
        self.0.post(path, body).await.map_err(|e| e.to_string())
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        signed: bool,
    ) -> Result<ApiResponse, String> {
        self.0
            .send(method, path, body, signed)
            .await
            .map_err(|e| e.to_string())
    }

    /// A signed request with extra headers (e.g. `Idempotency-Key`).
    pub async fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Result<ApiResponse, String> {
        self.0
            .send_with_headers(method, path, body, headers, true)
            .await
            .map_err(|e| e.to_string())
    }
}
