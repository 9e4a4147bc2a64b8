//! api: the vendor's HTTP API (API Gateway REST, proxy integration). Routes requests to the
//! tenant and install handlers and turns every outcome into a JSON response; bad input is a
//! 4xx that names the field, and nothing is written for it.

pub mod api_error;
pub mod installs;
pub mod json_body;
pub mod settings;
pub mod tenants;

use byoc_core::ids::{InstallId, TenantId};
use byoc_core::store::InstallStore;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{info_span, Instrument};

use crate::api_error::ApiError;
pub use crate::settings::Settings;

pub struct Deps {
    pub store: InstallStore,
    pub sns: aws_sdk_sns::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub settings: Settings,
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| r#"{"error":{"code":"internal","message":"response could not be encoded"}}"#.into());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
    response
}

fn respond<T: Serialize>(result: Result<(StatusCode, T), ApiError>) -> Response<Body> {
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(err) => json_response(err.status, &err.body()),
    }
}

fn method_not_allowed(allowed: &str) -> Response<Body> {
    let err = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("use {allowed} on this path"));
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
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let query = request.query_string_parameters();
    match (segments.as_slice(), method) {
        (["tenants"], &Method::POST) => respond(async { tenants::create(deps, json_body::parse(request.body())?).await }.await),
        (["tenants"], _) => method_not_allowed("POST"),
        (["tenants", tenant], &Method::GET) => respond(async { tenants::show(deps, &TenantId::parse("tenant_id", tenant)?).await }.await),
        (["tenants", _], _) => method_not_allowed("GET"),
        (["tenants", tenant, "installs"], &Method::GET) => respond(
            async { installs::list(deps, &TenantId::parse("tenant_id", tenant)?, query.first("limit"), query.first("cursor")).await }.await,
        ),
        (["tenants", _, "installs"], _) => method_not_allowed("GET"),
        (["installs"], &Method::POST) => respond(async { installs::create(deps, json_body::parse(request.body())?).await }.await),
        (["installs"], _) => method_not_allowed("POST"),
        (["installs", id], &Method::GET) => respond(async { installs::show(deps, &InstallId::parse("install_id", id)?).await }.await),
        (["installs", id], &Method::DELETE) => respond(async { installs::remove(deps, &InstallId::parse("install_id", id)?).await }.await),
        (["installs", _], _) => method_not_allowed("GET, DELETE"),
        _ => respond::<()>(Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("there is no {method} {path}; the routes are POST /tenants, GET /tenants/{{tenant_id}}, GET /tenants/{{tenant_id}}/installs, POST /installs, GET /installs/{{install_id}} and DELETE /installs/{{install_id}}")).field("path"))),
    }
}
