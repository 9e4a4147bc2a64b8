//! The vendor's side of the HTTP API, through the same client the `byoc` CLI uses.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
pub use byoc_client::{Api as Client, ApiResponse};

use std::time::Duration;

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

    /// Creates tenant `tenant_id` (its email gets the customer's mail) and returns its External ID.
    pub async fn create_tenant(&self, tenant_id: &str, email: &str) -> Result<String, String> {
        let body = serde_json::json!({"tenant_id": tenant_id, "name": format!("{tenant_id} Co"), "email": email});
        let created = self.post("/tenants", &body).await?;
        if created.status != 201 {
            return Err(format!(
                "POST /tenants: {} {}",
                created.status, created.text
            ));
        }
        created.json["external_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("POST /tenants: no external_id in {}", created.text))
    }

    /// Starts the install `body` describes (`POST /installs`, 202 expected), waits up to
    /// `timeout` for its execution to end, and returns the execution's status with the install
    /// as `GET /installs/{id}` shows it.
    pub async fn install_and_wait(
        &self,
        stack: &LocalStack,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<(String, serde_json::Value), String> {
        let accepted = self.post("/installs", body).await?;
        if accepted.status != 202 {
            return Err(format!(
                "POST /installs: {} {}",
                accepted.status, accepted.text
            ));
        }
        let field = |name: &str| {
            accepted.json[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("POST /installs: no {name} in {}", accepted.text))
        };
        let status = stack
            .wait_for_execution(&field("execution_arn")?, timeout)
            .await?;
        let install = self
            .get(&format!("/installs/{}", field("install_id")?))
            .await?;
        Ok((status, install.json))
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
