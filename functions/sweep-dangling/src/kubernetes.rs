//! Releasing what Kubernetes made, as eksctl does before it deletes a cluster: while the
//! cluster still serves its API, the objects whose controllers made AWS resources (Services of
//! type LoadBalancer, Ingresses, PersistentVolumeClaims) are deleted through it, and the nodes
//! and the cluster wait until they are gone, so their controllers remove what they made:
//! Classic load balancers that IAM cannot scope a delete to (they name the cluster only in a
//! tag key), in-tree NLBs, the controllers' security groups and target groups, volumes.
//! (eksctl "Deleting a cluster": https://eksctl.io/usage/creating-and-managing-clusters/;
//! EKS "Delete a cluster": https://docs.aws.amazon.com/eks/latest/userguide/delete-cluster.html.)
//!
//! The installer's role reaches the API with an EKS token and its own access entry
//! (create-cluster gives it AmazonEKSEditPolicy). This is the API's client (list, delete);
//! what discovery makes of a listed object is `discover::kubernetes`.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_eks::types::ClusterStatus;
use byoc_core::eks_token;
use byoc_domain::deletion_order::Kind;
use byoc_domain::Error;
use serde_json::Value;

use crate::attempt::Attempt;

/// The kinds released through Kubernetes, with their API paths.
pub const RELEASED: [Kind; 3] = [
    Kind::KubernetesService,
    Kind::KubernetesIngress,
    Kind::KubernetesVolumeClaim,
];

fn collection(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::KubernetesIngress => ("/apis/networking.k8s.io/v1", "ingresses"),
        Kind::KubernetesVolumeClaim => ("/api/v1", "persistentvolumeclaims"),
        _ => ("/api/v1", "services"),
    }
}

/// A cluster's Kubernetes API, as the installer's role.
pub struct KubeApi {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl std::fmt::Debug for KubeApi {
    // The token is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApi")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// An HTTP client that trusts only the cluster's CA (`certificateAuthority.data`: base64 PEM).
fn client_for(endpoint: &str, ca: Option<&str>) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    if !endpoint.starts_with("https://") {
        return builder.build().map_err(|e| e.to_string());
    }
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pem =
        aws_smithy_types::base64::decode(ca.ok_or("the cluster shows no certificate authority")?)
            .map_err(|e| format!("the cluster's CA is not base64: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(|e| format!("the cluster's CA: {e}"))?)
            .map_err(|e| format!("the cluster's CA: {e}"))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    builder
        .use_preconfigured_tls(tls)
        .https_only(true)
        .build()
        .map_err(|e| e.to_string())
}

impl KubeApi {
    /// The API of `cluster` while it serves one (ACTIVE or UPDATING, with an endpoint).
    pub async fn connect(
        eks: &aws_sdk_eks::Client,
        config: &SdkConfig,
        cluster: &str,
    ) -> Result<Option<Self>, Error> {
        let described = match eks.describe_cluster().name(cluster).send().await {
            Ok(out) => out,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(Error::aws("EKS", err)),
        };
        let Some(found) = described.cluster() else {
            return Ok(None);
        };
        let (Some(ClusterStatus::Active | ClusterStatus::Updating), Some(endpoint)) =
            (found.status(), found.endpoint())
        else {
            return Ok(None);
        };
        let http = client_for(
            endpoint,
            found.certificate_authority().and_then(|a| a.data()),
        )
        .map_err(|e| Error::Corrupt(format!("cluster {cluster}: {e}")))?;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| Error::Corrupt("the customer session has no credentials".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Corrupt(format!("the customer session's credentials: {e}")))?;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default();
        let token = eks_token::token(&credentials, &region, cluster, SystemTime::now())?;
        Ok(Some(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            token,
        }))
    }

    async fn send(&self, method: reqwest::Method, path: &str) -> Result<(u16, Value), String> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.endpoint))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// The objects of `kind` in every namespace that hold AWS resources.
    pub async fn list(&self, kind: Kind) -> Result<Vec<Value>, String> {
        let (prefix, plural) = collection(kind);
        let (status, body) = self
            .send(reqwest::Method::GET, &format!("{prefix}/{plural}"))
            .await?;
        if status != 200 {
            return Err(format!(
                "listing {plural}: HTTP {status} {}",
                body["message"].as_str().unwrap_or_default()
            ));
        }
        let items = body["items"].as_array().cloned().unwrap_or_default();
        Ok(items
            .into_iter()
            .filter(|item| {
                kind != Kind::KubernetesService || item["spec"]["type"] == "LoadBalancer"
            })
            .collect())
    }

    /// Deletes the object `<namespace>/<name>`: gone, or deleting while its finalizers run.
    pub async fn delete(&self, kind: Kind, id: &str) -> Attempt {
        let (prefix, plural) = collection(kind);
        let Some((namespace, name)) = id.split_once('/') else {
            return Attempt::Failed {
                code: "InvalidId".into(),
                message: format!("{id} is not <namespace>/<name>"),
            };
        };
        match self
            .send(
                reqwest::Method::DELETE,
                &format!("{prefix}/namespaces/{namespace}/{plural}/{name}"),
            )
            .await
        {
            Err(_) => Attempt::Later {
                code: "NoResponse".into(),
            },
            Ok((404, _)) => Attempt::Gone,
            Ok((200 | 202, body)) if body["metadata"]["deletionTimestamp"].is_string() => {
                Attempt::Started
            }
            Ok((200 | 202, _)) => Attempt::Gone,
            Ok((status @ (401 | 403), body)) => Attempt::Failed {
                code: if status == 401 {
                    "Unauthorized".into()
                } else {
                    "Forbidden".into()
                },
                message: body["message"].as_str().unwrap_or_default().to_owned(),
            },
            Ok((status, _)) => Attempt::Later {
                code: format!("HTTP{status}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_needs_the_clusters_ca_and_http_does_not() {
        assert!(client_for("http://127.0.0.1:5000/k8s", None).is_ok());
        assert!(
            client_for("https://abc.gr7.us-east-1.eks.amazonaws.com", None)
                .unwrap_err()
                .contains("no certificate authority")
        );
        assert!(client_for(
            "https://abc.gr7.us-east-1.eks.amazonaws.com",
            Some("not base64!")
        )
        .is_err());
    }
}
