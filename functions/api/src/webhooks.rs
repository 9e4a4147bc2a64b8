//! `PUT|GET|DELETE /tenants/{tenant_id}/webhook`: the tenant's optional webhook, where
//! publish-events POSTs each install event signed with the secret handed out here, once.

use std::sync::OnceLock;

use byoc_core::destination::{self, DestinationPolicy, Resolve, SystemResolver};
use byoc_domain::ids::TenantId;
use byoc_domain::webhook::{Webhook, WebhookSecret, WebhookUrl};
use chrono::{DateTime, Utc};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::api_error::ApiError;
use crate::{json_body, method_not_allowed, respond, Deps};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutWebhook {
    pub url: String,
}

/// The one response that carries the secret.
#[derive(Debug, Serialize)]
pub struct WebhookRegistered {
    pub tenant_id: TenantId,
    pub url: WebhookUrl,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct WebhookView {
    pub tenant_id: TenantId,
    pub url: WebhookUrl,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct WebhookRemoved {
    pub tenant_id: TenantId,
    pub removed: bool,
}

/// Answers `/tenants/{tenant_id}/webhook`; `None` for any other path.
pub async fn route(
    deps: &Deps,
    request: &Request,
    method: &Method,
    path: &str,
) -> Option<Response<Body>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["tenants", tenant, "webhook"] = segments.as_slice() else {
        return None;
    };
    let tenant_id = || TenantId::parse("tenant_id", tenant).map_err(ApiError::from);
    Some(match *method {
        Method::PUT => respond(
            async { put(deps, &tenant_id()?, json_body::parse(request.body())?).await }.await,
        ),
        Method::GET => respond(async { show(deps, &tenant_id()?).await }.await),
        Method::DELETE => respond(async { remove(deps, &tenant_id()?).await }.await),
        _ => method_not_allowed("PUT, GET, DELETE"),
    })
}

/// Where webhooks may point, from `WEBHOOK_ALLOWED_CIDRS` (unset on AWS: public only). Read
/// once; a malformed value fails every registration with the variable named.
fn policy() -> Result<&'static DestinationPolicy, ApiError> {
    static POLICY: OnceLock<Result<DestinationPolicy, String>> = OnceLock::new();
    POLICY
        .get_or_init(DestinationPolicy::from_env)
        .as_ref()
        .map_err(|e| ApiError::from(byoc_domain::Error::Config(e.clone())))
}

/// The URL as registered: https, no credentials, and a host that is, or resolves only to,
/// public addresses (docs/events.md). A refusal is a 400 naming `url`; it comes before any
/// write, so a refused request writes nothing.
pub async fn checked_url(
    request: &PutWebhook,
    policy: &DestinationPolicy,
    resolver: &dyn Resolve,
) -> Result<WebhookUrl, ApiError> {
    let url = WebhookUrl::parse("url", &request.url)?;
    destination::check_url(policy, resolver, &url)
        .await
        .map_err(|refused| ApiError::from(refused.invalid_input("url")))?;
    Ok(url)
}

/// Registers the webhook, or replaces it: a new URL and always a new secret (so a PUT is
/// also how a leaked secret is rotated).
pub async fn put(
    deps: &Deps,
    tenant_id: &TenantId,
    request: PutWebhook,
) -> Result<(StatusCode, WebhookRegistered), ApiError> {
    let url = checked_url(&request, policy()?, &SystemResolver).await?;
    let webhook = Webhook {
        url,
        secret: WebhookSecret::generate().map_err(byoc_domain::Error::from)?,
        created_at: Utc::now(),
    };
    deps.store.put_webhook(tenant_id, &webhook).await?;
    // Neither the URL (its query may hold the vendor's token) nor the secret is logged.
    info!(%tenant_id, "webhook registered");
    Ok((
        StatusCode::OK,
        WebhookRegistered {
            tenant_id: tenant_id.clone(),
            secret: webhook.secret.reveal().to_owned(),
            url: webhook.url,
            created_at: webhook.created_at,
        },
    ))
}

pub async fn show(
    deps: &Deps,
    tenant_id: &TenantId,
) -> Result<(StatusCode, WebhookView), ApiError> {
    let webhook = deps.store.get_webhook(tenant_id).await?.ok_or_else(|| {
        ApiError::not_found("tenant_id", format!("tenant \"{tenant_id}\" has no webhook; register one with PUT /tenants/{tenant_id}/webhook"))
    })?;
    Ok((
        StatusCode::OK,
        WebhookView {
            tenant_id: tenant_id.clone(),
            url: webhook.url,
            created_at: webhook.created_at,
        },
    ))
}

pub async fn remove(
    deps: &Deps,
    tenant_id: &TenantId,
) -> Result<(StatusCode, WebhookRemoved), ApiError> {
    let removed = deps.store.delete_webhook(tenant_id).await?;
    info!(%tenant_id, removed, "webhook removed");
    Ok((
        StatusCode::OK,
        WebhookRemoved {
            tenant_id: tenant_id.clone(),
            removed,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_core::destination::StaticResolver;

    async fn refused(url: &str, resolver: &StaticResolver) -> ApiError {
        let request = PutWebhook { url: url.into() };
        checked_url(&request, &DestinationPolicy::public_only(), resolver)
            .await
            .expect_err(url)
    }

    #[tokio::test]
    async fn inward_destinations_are_a_400_naming_url() {
        let resolver = StaticResolver::default()
            .with("internal.example.com", &["10.0.0.5".parse().unwrap()])
            .with("hooks.example.com", &["93.184.215.14".parse().unwrap()]);
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://localhost/",
            "https://127.0.0.1:8080/",
            "https://[::1]/",
            "https://10.0.0.5/",
            "https://192.168.1.1/",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.170.2/v2/credentials",
            "https://internal.example.com/byoc",
            "https://unknown.example.com/byoc",
            "https://user:pw@hooks.example.com/byoc",
            "http://hooks.example.com/byoc",
        ] {
            let err = refused(url, &resolver).await;
            assert_eq!(
                (err.status, err.body()["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some("url")),
                "{url}: {}",
                err.body()
            );
        }
        let private = refused("https://internal.example.com/byoc?token=t", &resolver).await;
        let message = private.body()["error"]["message"].to_string();
        assert!(
            message.contains("resolves to 10.0.0.5, a private address"),
            "{message}"
        );
        assert!(
            !message.contains("token"),
            "the query is never repeated: {message}"
        );
        let ok = checked_url(
            &PutWebhook {
                url: "https://hooks.example.com/byoc".into(),
            },
            &DestinationPolicy::public_only(),
            &resolver,
        )
        .await;
        assert!(ok.is_ok());
    }

    #[test]
    fn the_secret_is_only_in_the_registration_response() {
        let now = Utc::now();
        let url = WebhookUrl::parse("url", "https://hooks.example.com/byoc").unwrap();
        let tenant_id = TenantId::parse("tenant_id", "acme").unwrap();
        let view = serde_json::to_value(WebhookView {
            tenant_id,
            url,
            created_at: now,
        })
        .unwrap();
        assert_eq!(
            view.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["created_at", "tenant_id", "url"]
        );
    }
}
