//! The install cluster's Kubernetes API as the vendor's software reaches it: as the vendor's
//! deploy role (cluster-admin through its access entry), with an EKS token. Tests create
//! Services, Ingresses and volume claims through it, and their controllers make AWS resources.

use std::time::SystemTime;

use serde_json::Value;

use crate::LocalStack;

pub struct Kubernetes {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Kubernetes {
    /// The API of `cluster` in `endpoint` (DescribeCluster's), as `role_arn` of the vendor.
    pub async fn as_role(
        stack: &LocalStack,
        role_arn: &str,
        cluster: &str,
        endpoint: &str,
    ) -> Result<Self, String> {
        let sts = aws_sdk_sts::Client::new(&stack.config);
        let assumed = sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("vendor-deploy")
            .send()
            .await
            .map_err(|e| format!("AssumeRole {role_arn}: {e:?}"))?;
        let c = assumed
            .credentials()
            .ok_or("AssumeRole gave no credentials")?;
        let credentials = aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "vendor-deploy",
        );
        let token = byoc_core::eks_token::token(
            &credentials,
            &stack.outputs.region,
            cluster,
            SystemTime::now(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            http: reqwest::Client::new(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `method` on `path` with `body`: (HTTP status, JSON answer).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.endpoint))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| format!("{path}: {e}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Creates `body` in `collection` (e.g. `/api/v1/namespaces/shop/services`).
    pub async fn create(&self, collection: &str, body: &Value) -> Result<Value, String> {
        match self
            .call(reqwest::Method::POST, collection, Some(body))
            .await?
        {
            (201 | 200, created) => Ok(created),
            (status, answer) => Err(format!("POST {collection}: HTTP {status}: {answer}")),
        }
    }
}
