//! Delivering events to a tenant's webhook: a signed POST over HTTPS, retried with backoff
//! while the receiver may recover (5xx, 429, 408, no answer), and never followed through a
//! redirect. Only public addresses are reached (byoc_core::destination): an address in the
//! URL is checked before the request, a name is resolved and checked by the client's own
//! resolver (checked_dns), which is also what the connection uses; no proxy is consulted. At
//! most MAX_RESPONSE_BYTES of an answer are read. The outcome is returned to be written on
//! the timeline entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use byoc_core::destination::{self, DestinationPolicy, Refused, Resolve, SystemResolver, Target};
use byoc_domain::install_event::InstallEvent;
use byoc_domain::webhook::{
    is_success, retry_delay, worth_retrying, DeliveryOutcome, Webhook, WebhookDelivery,
    EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use chrono::Utc;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tracing::{info, warn};

use crate::checked_dns::{self, CheckedResolver};
use crate::error::PublishError;

/// Names a PEM file of extra CA certificates to trust besides the system's (a local test
/// receiver's self-signed certificate). Unset on AWS.
pub const EXTRA_CA_ENV: &str = "WEBHOOK_EXTRA_CA_PEM";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_ATTEMPTS: u32 = 4;
const RETRY_BASE: Duration = Duration::from_millis(500);
/// Only the status matters; a receiver's long answer is not read past this.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// Why an attempt got no status.
enum AttemptError {
    /// The destination may not be reached; a retry would be refused the same way.
    Refused(String),
    Failed(String),
}

/// Builds its HTTPS client at the first delivery (most batches have none), and again later
/// if that failed: a CA file that cannot be read fails deliveries, recorded as such, not the
/// stream.
pub struct WebhookSender {
    extra_ca_pem: Option<PathBuf>,
    /// A malformed WEBHOOK_ALLOWED_CIDRS fails deliveries (recorded), not the stream.
    policy: Result<DestinationPolicy, String>,
    resolver: Arc<dyn Resolve>,
    client: tokio::sync::OnceCell<reqwest::Client>,
}

fn tls_config(extra_ca_pem: Option<&Path>) -> Result<rustls::ClientConfig, PublishError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca_pem {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| PublishError::Config(format!("{EXTRA_CA_ENV}={shown}: {e}")))?;
        let mut count = 0;
        for cert in certs {
            let cert =
                cert.map_err(|e| PublishError::Config(format!("{EXTRA_CA_ENV}={shown}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| PublishError::Config(format!("{EXTRA_CA_ENV}={shown}: {e}")))?;
            count += 1;
        }
        if count == 0 {
            return Err(PublishError::Config(format!(
                "{EXTRA_CA_ENV}={shown} holds no PEM certificate"
            )));
        }
    } else if added == 0 {
        warn!("no system CA certificates found: webhook deliveries will fail TLS verification");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PublishError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn http_client(
    extra_ca_pem: Option<&Path>,
    policy: &DestinationPolicy,
    resolver: Arc<dyn Resolve>,
) -> Result<reqwest::Client, PublishError> {
    let checked = CheckedResolver {
        policy: policy.clone(),
        resolver,
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config(extra_ca_pem)?)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy (HTTPS_PROXY) would resolve the name itself, past the check.
        .no_proxy()
        .dns_resolver(Arc::new(checked))
        .timeout(REQUEST_TIMEOUT)
        .user_agent("byoc-installer-webhooks/1")
        .build()
        .map_err(|e| PublishError::Config(format!("webhook HTTP client: {e}")))
}

impl WebhookSender {
    /// A sender that reaches what `policy` allows, finding names with `resolver`.
    pub fn new(
        extra_ca_pem: Option<PathBuf>,
        policy: DestinationPolicy,
        resolver: Arc<dyn Resolve>,
    ) -> Self {
        Self {
            extra_ca_pem,
            policy: Ok(policy),
            resolver,
            client: tokio::sync::OnceCell::new(),
        }
    }

    pub fn from_env() -> Self {
        let mut sender = Self::new(
            std::env::var_os(EXTRA_CA_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            DestinationPolicy::public_only(),
            Arc::new(SystemResolver),
        );
        sender.policy = DestinationPolicy::from_env().map_err(|e| format!("configuration: {e}"));
        sender
    }

    async fn client(&self, policy: &DestinationPolicy) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_try_init(|| async {
                http_client(
                    self.extra_ca_pem.as_deref(),
                    policy,
                    Arc::clone(&self.resolver),
                )
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// One attempt; the receiver's status, or why there was none. The error never names the
    /// URL (its query may hold the vendor's own token).
    async fn attempt(
        &self,
        webhook: &Webhook,
        event_id: &str,
        body: &[u8],
    ) -> Result<u16, AttemptError> {
        let policy = self
            .policy
            .as_ref()
            .map_err(|e| AttemptError::Refused(e.clone()))?;
        // An address written in the URL is never looked up, so it is checked here; a name is
        // checked by the client's resolver, on the addresses the connection then uses.
        if let Some(Target::Address(ip)) = destination::target(&webhook.url) {
            if let Some(reason) = policy.refusal(ip) {
                let host = ip.to_string();
                return Err(AttemptError::Refused(
                    Refused::Address { host, reason }.to_string(),
                ));
            }
        }
        let timestamp = Utc::now().timestamp();
        let mut response = self
            .client(policy)
            .await
            .map_err(AttemptError::Failed)?
            .post(webhook.url.as_str())
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, webhook.secret.sign(timestamp, body))
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(EVENT_ID_HEADER, event_id)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| match checked_dns::refusal_in(&e) {
                Some(
                    refused @ (Refused::Address { .. }
                    | Refused::Resolved { .. }
                    | Refused::LocalName { .. }),
                ) => AttemptError::Refused(refused.to_string()),
                // A name that does not resolve now may later: retried like no answer.
                _ => AttemptError::Failed(byoc_core::aws::describe_sdk_error(&e.without_url())),
            })?;
        let status = response.status().as_u16();
        // Read a little of the answer (a short one frees the connection for the next event),
        // never more than MAX_RESPONSE_BYTES; it is not kept.
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        Ok(status)
    }

    /// Delivers `event`, retrying while it may pass; `attempts` caps the tries (a receiver
    /// that already failed in this invocation gets fewer, so one dead endpoint cannot hold
    /// the stream past the function's timeout).
    pub async fn deliver(
        &self,
        webhook: &Webhook,
        event: &InstallEvent,
        attempts: u32,
    ) -> WebhookDelivery {
        let event_id = event.id();
        let body = event.webhook_body().to_string().into_bytes();
        let attempts = attempts.clamp(1, MAX_ATTEMPTS);
        let mut last_status = None;
        let mut last_error = None;
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(retry_delay(RETRY_BASE, attempt - 1)).await;
            }
            match self.attempt(webhook, &event_id, &body).await {
                Ok(status) if is_success(status) => {
                    info!(event_id, attempt, status, "webhook delivered");
                    return WebhookDelivery {
                        outcome: DeliveryOutcome::Delivered,
                        attempts: attempt,
                        http_status: Some(status),
                        error: None,
                        at: Utc::now(),
                    };
                }
                Ok(status) => {
                    warn!(
                        event_id,
                        attempt, status, "webhook receiver refused the event"
                    );
                    last_status = Some(status);
                    last_error = Some(format!("the receiver answered HTTP {status}"));
                    if !worth_retrying(Some(status)) {
                        return WebhookDelivery {
                            outcome: DeliveryOutcome::Failed,
                            attempts: attempt,
                            http_status: last_status,
                            error: last_error,
                            at: Utc::now(),
                        };
                    }
                }
                Err(AttemptError::Refused(reason)) => {
                    warn!(event_id, attempt, %reason, "webhook destination refused");
                    return WebhookDelivery {
                        outcome: DeliveryOutcome::Failed,
                        attempts: attempt,
                        http_status: None,
                        error: Some(format!("not sent: {reason}")),
                        at: Utc::now(),
                    };
                }
                Err(AttemptError::Failed(error)) => {
                    warn!(event_id, attempt, %error, "webhook delivery failed");
                    last_status = None;
                    last_error = Some(error);
                }
            }
        }
        WebhookDelivery {
            outcome: DeliveryOutcome::Failed,
            attempts,
            http_status: last_status,
            error: last_error,
            at: Utc::now(),
        }
    }
}
