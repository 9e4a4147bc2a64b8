//! `Idempotency-Key` on the POST routes: a repeat of a request with the same key (from the
//! same caller, on the same route) gets the first response and acts no more; the same key with
//! another body is refused. Only a success is kept: after an error the key is free again, so the
//! corrected request can reuse it.

use std::future::Future;
use std::time::Duration;

use byoc_domain::idempotency::{Claim, IdempotencyKey, Lease, StoredResponse, HEADER};
use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::api_error::ApiError;
use crate::Deps;

/// How long a repeat waits for the first request with its key to answer.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(10);

/// A request that carries a key, scoped to its caller and route.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: IdempotencyKey,
    /// Route and caller: one caller's key never answers another's request.
    pub scope: String,
    pub fingerprint: String,
}

/// What to answer: what this request did, or what the first one with its key did.
#[derive(Debug)]
pub enum Answer {
    Fresh(StatusCode, serde_json::Value),
    Replay {
        response: StoredResponse,
        resource: Option<String>,
    },
}

/// What a request did, and what of it the key keeps.
pub struct Done {
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// Keep the body for repeats; a body holding a secret is rendered again from `resource`.
    pub keep_body: bool,
    pub resource: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The same JSON whatever the key order or spacing.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// Who signed the request, as API Gateway's IAM authorization reports it.
fn caller(request: &Request) -> String {
    let identity = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => &context.identity,
        _ => return "unknown".into(),
    };
    identity
        .user_arn
        .clone()
        .or_else(|| identity.caller.clone())
        .or_else(|| {
            identity
                .account_id
                .as_ref()
                .map(|a| format!("{a}:{}", identity.access_key.as_deref().unwrap_or("-")))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The request's key, if it sent one; a malformed one is a 400 naming the header.
pub fn key_of(
    request: &Request,
    route: &str,
    body: &serde_json::Value,
) -> Result<Option<Keyed>, ApiError> {
    let mut values = request.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid(
            HEADER,
            format!("send one {HEADER} header, not several"),
        ));
    }
    let text = value.to_str().map_err(|_| {
        ApiError::invalid(HEADER, format!("the {HEADER} header must be plain ASCII"))
    })?;
    let key = IdempotencyKey::parse(text)?;
    let scope = format!(
        "{route}#{}",
        hex(&Sha256::digest(caller(request).as_bytes()))
    );
    let fingerprint = hex(&Sha256::digest(canonical(body).as_bytes()));
    Ok(Some(Keyed {
        key,
        scope,
        fingerprint,
    }))
}

/// The first request has not answered yet; `resource` names what it is making, if known.
fn still_running(resource: Option<&str>) -> ApiError {
    let making = resource
        .map(|r| format!(" (it is making \"{r}\")"))
        .unwrap_or_default();
    ApiError::new(StatusCode::CONFLICT, "request_in_progress", format!("the first request with this {HEADER} is still being processed{making}; repeat it in a few seconds"))
        .field(HEADER)
}

/// Runs `act` once per key: the first request acts (with what it may reserve, or what the
/// request it took over from reserved), repeats get its response.
pub async fn once<F, Fut>(
    deps: &Deps,
    keyed: &Keyed,
    reserve: Option<String>,
    act: F,
) -> Result<Answer, ApiError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<Done, ApiError>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    let mut act = Some(act);
    loop {
        let claim = deps
            .store
            .claim_key(
                &keyed.scope,
                &keyed.key,
                &keyed.fingerprint,
                reserve.as_deref(),
                Utc::now(),
            )
            .await?;
        match claim {
            Claim::Granted(lease) => {
                let act = act.take().ok_or_else(|| still_running(lease.resource.as_deref()))?;
                return finish(deps, &lease, act(lease.resource.clone()).await).await;
            }
            Claim::Replay { response, resource } => return Ok(Answer::Replay { response, resource }),
            Claim::Mismatch => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    format!("this {HEADER} was used with a different request in the last 24 hours; send a new key with a new request"),
                )
                .field(HEADER))
            }
            Claim::InProgress { resource } if started.elapsed() >= WAIT_FOR_FIRST => return Err(still_running(resource.as_deref())),
            Claim::InProgress { .. } => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn finish(
    deps: &Deps,
    lease: &Lease,
    result: Result<Done, ApiError>,
) -> Result<Answer, ApiError> {
    match result {
        Ok(done) => {
            let kept = StoredResponse {
                status: done.status.as_u16(),
                body: done.keep_body.then(|| done.body.clone()),
            };
            // The request did act: answer it even if the key could not be completed (a repeat
            // then takes the claim over once its lease ends and finds what this one made).
            if let Err(err) = deps
                .store
                .complete_key(lease, &kept, done.resource.as_deref())
                .await
            {
                warn!(error = %err, "could not keep the response for an idempotency key");
            }
            Ok(Answer::Fresh(done.status, done.body))
        }
        Err(err) => {
            if let Err(release) = deps.store.release_key(lease).await {
                warn!(error = %release, "could not free an idempotency key after a failed request");
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fingerprint_ignores_key_order_and_spacing_but_not_values() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{"tenant_id":"acme","options":{"az_count":2,"nat_mode":"single"}}"#,
        )
        .unwrap();
        let b: serde_json::Value = serde_json::from_str(
            r#"{ "options": {"nat_mode":"single", "az_count":2}, "tenant_id": "acme" }"#,
        )
        .unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(
            canonical(&a),
            canonical(
                &json!({"tenant_id": "acme", "options": {"az_count": 3, "nat_mode": "single"}})
            )
        );
        assert_eq!(
            canonical(&json!({"a\"b": [1, "x", null]})),
            r#"{"a\"b":[1,"x",null]}"#
        );
    }
}
