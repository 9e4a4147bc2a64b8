//! Quotas as the tests see and steer them: Service Quotas in a customer's account, the
//! emulator's knobs for applied values and AWS's decisions, and the check-quotas and
//! request-quota functions, deployed from this checkout's debug build and invoked directly.

use std::path::PathBuf;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use aws_sdk_servicequotas::Client;
use serde_json::{json, Value};

use crate::account_header::AccountHeader;
use crate::stack::LocalStack;

/// Service Quotas in `account`.
pub fn service_quotas(stack: &LocalStack, account: &str) -> Client {
    let config = aws_sdk_servicequotas::config::Builder::from(&stack.config)
        .interceptor(AccountHeader(account.to_owned()))
        .build();
    Client::from_conf(config)
}

/// Sets the emulator's Service Quotas behaviour for `account` (see
/// infra/local/moto_ext/service_quotas.py): `{"applied": {code: value}, "outcomes": {code:
/// {"decision": "approve"|"deny"|"pending", "after_polls": n}}}`.
pub async fn steer(stack: &LocalStack, account: &str, settings: Value) -> Result<(), String> {
    stack.steer("service_quotas", account, settings).await
}

/// The quota's applied value in the account.
pub async fn applied(quotas: &Client, service: &str, code: &str) -> Result<f64, String> {
    let out = quotas
        .get_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
        .map_err(|e| format!("GetServiceQuota {code}: {e:?}"))?;
    out.quota()
        .and_then(|q| q.value())
        .ok_or_else(|| format!("GetServiceQuota {code}: no value"))
}

/// Every increase request ever filed for the quota, as (id, status, desired value).
pub async fn requests(
    quotas: &Client,
    service: &str,
    code: &str,
) -> Result<Vec<(String, String, f64)>, String> {
    let out = quotas
        .list_requested_service_quota_change_history_by_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
        .map_err(|e| format!("ListRequestedServiceQuotaChangeHistoryByQuota {code}: {e:?}"))?;
    Ok(out
        .requested_quotas()
        .iter()
        .map(|r| {
            (
                r.id().unwrap_or_default().to_owned(),
                r.status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                r.desired_value().unwrap_or_default(),
            )
        })
        .collect())
}

/// What a direct Lambda invoke returned: the payload, and the error name when the function
/// failed (`errorType` of the payload).
#[derive(Debug, Clone)]
pub struct Invocation {
    pub error_type: Option<String>,
    pub payload: Value,
}

impl Invocation {
    pub fn error_message(&self) -> &str {
        self.payload["errorMessage"].as_str().unwrap_or_default()
    }
}

/// check-quotas and request-quota as Lambda functions on the local stack, configured like the
/// deployed validate-trust (same table, role and customer-access settings).
pub struct QuotaFunctions {
    lambda: aws_sdk_lambda::Client,
    pub check_quotas: String,
    pub request_quota: String,
}

const FUNCTIONS: [&str; 2] = ["check-quotas", "request-quota"];

impl QuotaFunctions {
    /// Creates the two functions unless they exist. `poll_seconds` is request-quota's
    /// QUOTA_POLL_SECONDS.
    pub async fn ensure(stack: &LocalStack, poll_seconds: u64) -> Result<Self, String> {
        let lambda = aws_sdk_lambda::Client::new(&stack.config);
        let template = lambda
            .get_function_configuration()
            .function_name(deployed_function(stack, "validate-trust")?)
            .send()
            .await
            .map_err(|e| format!("GetFunctionConfiguration validate-trust: {e:?}"))?;
        let role = template
            .role()
            .ok_or("validate-trust has no role")?
            .to_owned();
        let mut variables = template
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        variables.insert("QUOTA_POLL_SECONDS".into(), poll_seconds.to_string());
        let code_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join("target")
            })
            .join("debug");
        let mut names = Vec::new();
        for function in FUNCTIONS {
            let binary = code_dir.join(function);
            if !binary.is_file() {
                return Err(format!(
                    "{} is missing; run cargo build --workspace --bins first",
                    binary.display()
                ));
            }
            let name = format!("byoc-e2e-{function}");
            let script = format!("#!/bin/sh\nexec '{}' \"$@\"\n", binary.display());
            let created = lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&role)
                .timeout(120)
                .memory_size(256)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(crate::function_package::zip_one_executable(
                            "bootstrap",
                            script.as_bytes(),
                        )))
                        .build(),
                )
                .environment(
                    Environment::builder()
                        .set_variables(Some(variables.clone()))
                        .build(),
                )
                .send()
                .await;
            match created {
                Ok(_) => {}
                // Made by an earlier test (the functions are the same for every test).
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_conflict_exception()) => {}
                Err(err) => return Err(format!("CreateFunction {name}: {err:?}")),
            }
            names.push(name);
        }
        let [check_quotas, request_quota] =
            <[String; 2]>::try_from(names).map_err(|_| "two functions")?;
        Ok(Self {
            lambda,
            check_quotas,
            request_quota,
        })
    }

    pub async fn check_quotas(
        &self,
        install_id: &str,
        tenant_id: &str,
    ) -> Result<Invocation, String> {
        self.invoke(&self.check_quotas, install_id, tenant_id).await
    }

    pub async fn request_quota(
        &self,
        install_id: &str,
        tenant_id: &str,
    ) -> Result<Invocation, String> {
        self.invoke(&self.request_quota, install_id, tenant_id)
            .await
    }

    async fn invoke(
        &self,
        name: &str,
        install_id: &str,
        tenant_id: &str,
    ) -> Result<Invocation, String> {
        let input = json!({"install_id": install_id, "tenant_id": tenant_id}).to_string();
        let out = self
            .lambda
            .invoke()
            .function_name(name)
            .payload(Blob::new(input))
            .send()
            .await
            .map_err(|e| format!("Invoke {name}: {e:?}"))?;
        let payload = out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        let payload: Value = serde_json::from_slice(&payload)
            .map_err(|e| format!("{name} returned no JSON: {e}"))?;
        let error_type = out.function_error().map(|_| {
            payload["errorType"]
                .as_str()
                .unwrap_or("Unhandled")
                .to_owned()
        });
        Ok(Invocation {
            error_type,
            payload,
        })
    }
}

/// The name infra/deploy.py gave a function (`outputs.json` → `functions`).
fn deployed_function(stack: &LocalStack, function: &str) -> Result<String, String> {
    let path = stack.dir.join("outputs.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let outputs: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    outputs["functions"][function]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("outputs.json names no {function} function"))
}
