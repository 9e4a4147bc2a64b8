//! `PUT|GET|DELETE /tenants/{tenant_id}/webhook`: the tenant's optional webhook, where
//! publish-events POSTs each install event signed with the secret handed out here, once.

use byoc_core::ids::TenantId;
use byoc_core::webhook::{Webhook, WebhookSecret, WebhookUrl};
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

/// Registers the webhook, or replaces it: a new URL and always a new secret (so a PUT is
/// also how a leaked secret is rotated).
pub async fn put(
    deps: &Deps,
    tenant_id: &TenantId,
    request: PutWebhook,
) -> Result<(StatusCode, WebhookRegistered), ApiError> {
    let url = WebhookUrl::parse("url", &request.url)?;
    let webhook = Webhook {
        url,
        secret: WebhookSecret::generate().map_err(byoc_core::Error::from)?,
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
