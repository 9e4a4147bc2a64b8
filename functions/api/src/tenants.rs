//! `POST /tenants`, `GET /tenants/{tenant_id}`.

use byoc_domain::external_id::ExternalId;
use byoc_domain::ids::{Email, TenantId};
use byoc_domain::model::Tenant;
use byoc_domain::quick_create::QuickCreate;
use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::api_error::ApiError;
use crate::Deps;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub tenant_id: TenantId,
    pub name: String,
    pub email: Email,
}

/// What the vendor passes on to its customer to set up access.
#[derive(Debug, Serialize)]
pub struct CustomerSetup {
    pub quick_create_url: String,
    pub template_url: String,
    pub stack_name: String,
    pub role_name: String,
    pub vendor_account_id: String,
}

#[derive(Debug, Serialize)]
pub struct TenantView {
    pub tenant_id: TenantId,
    pub name: String,
    pub email: Email,
    pub external_id: String,
    pub created_at: DateTime<Utc>,
    pub customer_setup: CustomerSetup,
}

fn view(deps: &Deps, tenant: Tenant) -> TenantView {
    let settings = &deps.settings;
    let quick_create = QuickCreate {
        template_url: &settings.customer_template_url,
        stack_name: &settings.access.stack_name,
        role_name: &settings.access.role_name,
        vendor_account: &settings.vendor_account,
        region: &settings.access.stack_region,
    };
    TenantView {
        customer_setup: CustomerSetup {
            quick_create_url: quick_create.link(&tenant.external_id),
            template_url: settings.customer_template_url.clone(),
            stack_name: settings.access.stack_name.clone(),
            role_name: settings.access.role_name.clone(),
            vendor_account_id: settings.vendor_account.to_string(),
        },
        external_id: tenant.external_id.reveal().to_owned(),
        tenant_id: tenant.tenant_id,
        name: tenant.name,
        email: tenant.email,
        created_at: tenant.created_at,
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    if (1..=100).contains(&len) && !name.chars().any(char::is_control) && !name.trim().is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "name",
            "\"name\" must be 1 to 100 characters, not only spaces, without control characters",
        ))
    }
}

pub async fn create(
    deps: &Deps,
    request: CreateTenant,
) -> Result<(StatusCode, TenantView), ApiError> {
    check_name(&request.name)?;
    let tenant = Tenant {
        tenant_id: request.tenant_id,
        name: request.name,
        email: request.email,
        external_id: ExternalId::generate().map_err(byoc_domain::Error::from)?,
        created_at: Utc::now(),
    };
    deps.store.create_tenant(&tenant).await?;
    if let Err(err) = subscribe(deps, &tenant).await {
        // Leave nothing half-made: without its subscription the tenant would never hear back.
        deps.store.delete_tenant(&tenant.tenant_id).await?;
        return Err(err.into());
    }
    info!(tenant_id = %tenant.tenant_id, "tenant created");
    Ok((StatusCode::CREATED, view(deps, tenant)))
}

/// Subscribes the tenant's email to the topic, filtered to messages about this tenant.
async fn subscribe(deps: &Deps, tenant: &Tenant) -> Result<(), byoc_domain::Error> {
    let filter = serde_json::json!({ "tenant_id": [tenant.tenant_id.as_str()] }).to_string();
    deps.sns
        .subscribe()
        .topic_arn(&deps.settings.topic_arn)
        .protocol("email")
        .endpoint(tenant.email.as_str())
        .attributes("FilterPolicy", filter)
        .attributes("FilterPolicyScope", "MessageAttributes")
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| byoc_domain::Error::aws("SNS", e))?;
    Ok(())
}

pub async fn show(deps: &Deps, tenant_id: &TenantId) -> Result<(StatusCode, TenantView), ApiError> {
    let tenant = deps.store.get_tenant(tenant_id).await?;
    Ok((StatusCode::OK, view(deps, tenant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(check_name("Acme Corp — Production").is_ok());
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(101)] {
            assert_eq!(check_name(bad).unwrap_err().field.as_deref(), Some("name"));
        }
    }
}
