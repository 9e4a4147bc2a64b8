//! Installs for tests that drive one step's function by hand. The record is written exactly
//! as `POST /installs` writes it and the real `validate-trust` function runs on it (through
//! the Lambda Invoke API), but no install state machine starts: nothing else acts on the
//! install while the test calls its step.

use aws_sdk_lambda::primitives::Blob;
use byoc_core::store::InstallStore;
use byoc_domain::ids::{AccountId, Region, TenantId};
use byoc_domain::model::Install;
use byoc_domain::options::InstallOptions;
use chrono::Utc;
use serde_json::Value;

use crate::stack::LocalStack;

/// Records an install of `tenant_id` (which must exist) into `account` with `options`, and
/// validates its trust; the customer's access stack must be in place. Returns the install id.
pub async fn recorded_install(
    stack: &LocalStack,
    tenant_id: &str,
    account: &str,
    options: Value,
) -> Result<String, String> {
    let options: InstallOptions =
        serde_json::from_value(options).map_err(|e| format!("options: {e}"))?;
    options.validate().map_err(|e| e.to_string())?;
    let (install, first) = Install::requested(
        TenantId::parse("tenant_id", tenant_id).map_err(|e| e.to_string())?,
        AccountId::parse("account_id", account).map_err(|e| e.to_string())?,
        Region::parse("region", &stack.outputs.region).map_err(|e| e.to_string())?,
        options,
        Utc::now(),
    )
    .map_err(|e| e.to_string())?;
    InstallStore::new(stack.dynamodb(), &stack.outputs.table_name)
        .create_install(&install, &first)
        .await
        .map_err(|e| e.to_string())?;

    let function = stack
        .outputs
        .functions
        .get("validate-trust")
        .ok_or("outputs.json names no validate-trust function")?;
    let payload =
        serde_json::json!({"install_id": install.install_id, "tenant_id": install.tenant_id})
            .to_string();
    let out = aws_sdk_lambda::Client::new(&stack.config)
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| format!("Invoke {function}: {e:?}"))?;
    if let Some(error) = out.function_error() {
        let body = out
            .payload()
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default();
        return Err(format!("validate-trust failed ({error}): {body}"));
    }
    Ok(install.install_id.to_string())
}
