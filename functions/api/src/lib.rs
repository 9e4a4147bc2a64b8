//! api: the vendor's HTTP API (API Gateway REST, proxy integration). Routes requests to the
//! tenant and install handlers and turns every outcome into a JSON response; bad input is a
//! 4xx that names the field, and nothing is written for it.

pub mod api_error;
pub mod idempotent;
pub mod installs;
pub mod json_body;
pub mod preflight;
pub mod retry;
pub mod routes;
pub mod settings;
pub mod tenants;
pub mod upgrade;
pub mod webhooks;

use byoc_core::store::InstallStore;
use byoc_domain::ids::{InstallId, TenantId};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{info_span, Instrument};

use crate::api_error::ApiError;
use crate::idempotent::Answer;
use crate::routes::{Endpoint, NoRoute};
pub use crate::settings::Settings;

pub struct Deps {
    pub store: InstallStore,
    pub sns: aws_sdk_sns::Client,
    pub sfn: aws_sdk_sfn::Client,
    /// Invokes check-quotas for a preflight.
    pub lambda: aws_sdk_lambda::Client,
    /// The vendor-account config, for the region-specific reads (EKS's version catalogue).
    pub base: aws_config::SdkConfig,
    pub settings: Settings,
    /// The crash-safety tests' crash points (`uninstall-started`); none in release builds.
    pub fault: byoc_lambda::fault::Fault,
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| {
        r#"{"error":{"code":"internal","message":"response could not be encoded"}}"#.into()
    });
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn respond<T: Serialize>(result: Result<(StatusCode, T), ApiError>) -> Response<Body> {
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(err) => json_response(err.status, &err.body()),
    }
}

fn method_not_allowed(allowed: &str) -> Response<Body> {
    let err = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("use {allowed} on this path"),
    )
    .field("method");
    let mut response = json_response(err.status, &err.body());
    if let Ok(value) = lambda_http::http::HeaderValue::from_str(allowed) {
        response.headers_mut().insert("allow", value);
    }
    response
}

pub async fn handle(deps: &Deps, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let path = request.raw_http_path().to_owned();
    let method = request.method().clone();
    let span = info_span!("api", %method, %path);
    Ok(route(deps, &request, &method, &path).instrument(span).await)
}

async fn route(deps: &Deps, request: &Request, method: &Method, path: &str) -> Response<Body> {
    let endpoint = match routes::resolve(method.as_str(), path) {
        Ok(endpoint) => endpoint,
        Err(NoRoute::MethodNotAllowed(allowed)) => return method_not_allowed(&allowed),
        Err(NoRoute::NotFound) => {
            let shown: String = path.chars().take(100).collect();
            let message = format!(
                "there is no {method} {shown}; the routes are {}",
                routes::listed()
            );
            return respond::<()>(Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                message,
            )
            .field("path")));
        }
    };
    let query = request.query_string_parameters();
    match endpoint {
        Endpoint::CreateTenant => respond(create_tenant(deps, request).await),
        Endpoint::ShowTenant(tenant) => respond(
            async { tenants::show(deps, &TenantId::parse("tenant_id", tenant)?).await }.await,
        ),
        Endpoint::ListInstalls(tenant) => respond(
            async {
                installs::list(
                    deps,
                    &TenantId::parse("tenant_id", tenant)?,
                    query.first("limit"),
                    query.first("cursor"),
                )
                .await
            }
            .await,
        ),
        Endpoint::Webhook(_) => match webhooks::route(deps, request, method, path).await {
            Some(response) => response,
            None => respond::<()>(Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("the routes are {}", routes::listed()),
            )
            .field("path"))),
        },
        Endpoint::CreateInstall => respond(create_install(deps, request).await),
        Endpoint::PreflightInstall => respond(
            async { preflight::preflight(deps, json_body::parse(request.body())?).await }.await,
        ),
        Endpoint::ShowInstall(id) => respond(
            async { installs::show(deps, &InstallId::parse("install_id", id)?).await }.await,
        ),
        Endpoint::RemoveInstall(id) => respond(
            async { installs::remove(deps, &InstallId::parse("install_id", id)?).await }.await,
        ),
        Endpoint::UpgradeInstall(id) => respond(
            async {
                let id = InstallId::parse("install_id", id)?;
                let request = match request.body() {
                    body if body_is_empty(body) => upgrade::UpgradeRequest::default(),
                    body => json_body::parse(body)?,
                };
                upgrade::upgrade(deps, &id, request).await
            }
            .await,
        ),
        Endpoint::RetryInstall(id) => {
            respond(async { retry::retry(deps, &InstallId::parse("install_id", id)?).await }.await)
        }
    }
}

/// An upgrade's body is optional: no body asks for the defaults.
fn body_is_empty(body: &Body) -> bool {
    match body {
        Body::Empty => true,
        Body::Text(text) => text.trim().is_empty(),
        Body::Binary(bytes) => bytes.iter().all(u8::is_ascii_whitespace),
        _ => false,
    }
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| byoc_domain::Error::Corrupt(e.to_string()).into())
}

/// `POST /tenants`, once per `Idempotency-Key`. The tenant's view holds its External ID, so a
/// key keeps only the tenant id and a repeat renders the view again.
async fn create_tenant(
    deps: &Deps,
    request: &Request,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let body: tenants::CreateTenant = json_body::parse(request.body())?;
    let keyed = idempotent::key_of(request, "POST /tenants", &json_body::parse(request.body())?)?;
    let Some(keyed) = keyed else {
        let (status, view) = tenants::create(deps, body).await?;
        return Ok((status, to_json(&view)?));
    };
    let tenant_id = body.tenant_id.to_string();
    let answer = idempotent::once(deps, &keyed, Some(tenant_id.clone()), |_| async move {
        let (status, view) = tenants::create(deps, body).await?;
        Ok(idempotent::Done {
            status,
            body: to_json(&view)?,
            keep_body: false,
            resource: Some(tenant_id),
        })
    })
    .await?;
    match answer {
        Answer::Fresh(status, body) => Ok((status, body)),
        Answer::Replay { response, resource } => {
            let tenant = resource.ok_or_else(|| {
                byoc_domain::Error::Corrupt("an idempotency key kept no tenant id".into())
            })?;
            let (_, view) = tenants::show(deps, &TenantId::parse("tenant_id", &tenant)?).await?;
            Ok((
                StatusCode::from_u16(response.status).unwrap_or(StatusCode::CREATED),
                to_json(&view)?,
            ))
        }
    }
}

/// `POST /installs`, once per `Idempotency-Key`: the key reserves the install id, so even a
/// repeat that takes over from a request that died continues that install.
async fn create_install(
    deps: &Deps,
    request: &Request,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let body: installs::CreateInstall = json_body::parse(request.body())?;
    installs::check(deps, &body).await?;
    let keyed = idempotent::key_of(
        request,
        "POST /installs",
        &json_body::parse(request.body())?,
    )?;
    let Some(keyed) = keyed else {
        let (status, accepted) = installs::create(deps, body, None).await?;
        return Ok((status, to_json(&accepted)?));
    };
    let reserve = installs::reserve_id()?;
    let answer = idempotent::once(
        deps,
        &keyed,
        Some(reserve.to_string()),
        |reserved| async move {
            let reserved = reserved
                .map(|id| InstallId::parse("install_id", &id))
                .transpose()?;
            let (status, accepted) = installs::create(deps, body, reserved).await?;
            let resource = Some(accepted.install_id.to_string());
            Ok(idempotent::Done {
                status,
                body: to_json(&accepted)?,
                keep_body: true,
                resource,
            })
        },
    )
    .await?;
    match answer {
        Answer::Fresh(status, body) => Ok((status, body)),
        Answer::Replay { response, .. } => {
            let body = response.body.ok_or_else(|| {
                byoc_domain::Error::Corrupt("an idempotency key kept no response".into())
            })?;
            Ok((
                StatusCode::from_u16(response.status).unwrap_or(StatusCode::ACCEPTED),
                body,
            ))
        }
    }
}
