//! One check of a wait: the step functions the state machine used to poll, invoked as it
//! invoked them (Lambda Invoke, RequestResponse, `{install_id, tenant_id}`), and what their
//! answer means for the wait.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_smithy_types::Blob;
use byoc_domain::error_names;
use byoc_domain::step_input::StepInput;
use byoc_domain::watch_schedule::WatchKind;
use serde_json::Value;

/// The errors the state machine's Retry blocks retry (statemachines/install.asl.json): a
/// check that fails with one of these is tried again; any other error ends the wait.
pub const RETRYABLE: [&str; 6] = [
    error_names::TRANSIENT,
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Sandbox.Timedout",
];

/// Step Functions' limits on SendTaskFailure's `error` and `cause`.
const MAX_ERROR_CHARS: usize = 256;
const MAX_CAUSE_CHARS: usize = 32_768;

/// What one check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// The wait is over: the last function's result is the callback task's output.
    Done(Value),
    /// Not yet.
    Waiting,
    /// A function (or Lambda) failed; `error` is the name the state machine would have seen.
    Failed { error: String, cause: String },
}

impl Checked {
    pub fn failed(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Checked::Failed {
            error: truncate(error.into(), MAX_ERROR_CHARS),
            cause: truncate(cause.into(), MAX_CAUSE_CHARS),
        }
    }
}

pub fn retryable(error: &str) -> bool {
    RETRYABLE.contains(&error)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.chars().count() > max {
        text = text.chars().take(max).collect();
    }
    text
}

/// The functions a check invokes, by name or ARN.
#[derive(Debug, Clone)]
pub struct Functions {
    pub create_network: String,
    pub create_cluster: String,
    pub request_quota: String,
    pub upgrade_cluster: String,
}

/// Runs one check of a `kind` wait.
pub async fn check(
    lambda: &aws_sdk_lambda::Client,
    functions: &Functions,
    kind: WatchKind,
    input: &StepInput,
) -> Checked {
    match kind {
        WatchKind::Cluster => {
            // NAT gateways are followed (and their routes made) by create-network; the node
            // group waits for them inside create-cluster.
            match invoke(lambda, &functions.create_network, input).await {
                Ok(_) => {}
                Err(failed) => return failed,
            }
            match invoke(lambda, &functions.create_cluster, input).await {
                Ok(status) if status.get("ready") == Some(&Value::Bool(true)) => {
                    Checked::Done(status)
                }
                Ok(_) => Checked::Waiting,
                Err(failed) => failed,
            }
        }
        WatchKind::Quota => match invoke(lambda, &functions.request_quota, input).await {
            Ok(status) if status.get("status").and_then(Value::as_str) == Some("approved") => {
                Checked::Done(status)
            }
            Ok(_) => Checked::Waiting,
            Err(failed) => failed,
        },
        // Each check moves the upgrade on as far as EKS lets it (upgrade-cluster `advance`).
        WatchKind::Upgrade => {
            let advance = AdvanceInput {
                install_id: input.install_id.clone(),
                tenant_id: input.tenant_id.clone(),
                action: "advance",
            };
            match invoke(lambda, &functions.upgrade_cluster, &advance).await {
                Ok(status) if status.get("done") == Some(&Value::Bool(true)) => {
                    Checked::Done(status)
                }
                Ok(_) => Checked::Waiting,
                Err(failed) => failed,
            }
        }
    }
}

/// upgrade-cluster's input for one step of the upgrade.
#[derive(serde::Serialize)]
struct AdvanceInput {
    install_id: byoc_domain::ids::InstallId,
    tenant_id: byoc_domain::ids::TenantId,
    action: &'static str,
}

/// Invokes a step function and returns its result, or the failure as Step Functions names it.
async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    input: &impl serde::Serialize,
) -> Result<Value, Checked> {
    let payload = serde_json::to_vec(input).map_err(|e| {
        Checked::failed(
            error_names::INTERNAL,
            format!("could not write the input for {function}: {e}"),
        )
    })?;
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| invoke_failed(function, &e))?;
    let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
    if out.function_error().is_some() {
        return Err(function_failed(function, body));
    }
    serde_json::from_slice(body).map_err(|e| {
        Checked::failed(
            error_names::INTERNAL,
            format!("{function} answered with something other than JSON: {e}"),
        )
    })
}

/// A function error as Lambda returns it: `{"errorType", "errorMessage"}`.
pub fn function_failed(function: &str, body: &[u8]) -> Checked {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_owned);
    match text("errorType") {
        Some(error) => Checked::failed(error, text("errorMessage").unwrap_or_default()),
        // What Step Functions reports for a function that failed without saying how.
        None => Checked::failed(
            "Lambda.Unknown",
            format!("{function} failed without an error type"),
        ),
    }
}

/// A failed Invoke call, named as Step Functions names it for a Lambda task.
fn invoke_failed(function: &str, err: &SdkError<InvokeError>) -> Checked {
    let error = match err {
        SdkError::ServiceError(service) => {
            let server_side = service.raw().status().is_server_error();
            match service.err().code() {
                Some("TooManyRequestsException") => "Lambda.TooManyRequestsException".to_owned(),
                Some("ServiceException") => "Lambda.ServiceException".to_owned(),
                _ if server_side => "Lambda.ServiceException".to_owned(),
                // ResourceNotFoundException, AccessDeniedException...: retrying will not help.
                Some(code) => format!("Lambda.{code}"),
                None => "Lambda.AWSLambdaException".to_owned(),
            }
        }
        // The call got no answer (connection, timeout, unreadable response).
        _ => "Lambda.SdkClientException".to_owned(),
    };
    Checked::failed(
        error,
        format!(
            "invoking {function}: {}",
            byoc_core::aws::describe_sdk_error(err)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::error_names::ACCESS_PAUSED;

    /// A state machine definition with its `${Name}` placeholders filled (all numbers or
    /// ARNs) so it parses.
    fn definition(file: &str) -> Value {
        let path = format!("{}/../../statemachines/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut filled = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            let end = start + rest[start..].find('}').unwrap();
            let quoted = rest[..start].ends_with('"');
            filled.push_str(&rest[..start]);
            filled.push_str(if quoted { "x" } else { "1" });
            rest = &rest[end + 1..];
        }
        filled.push_str(rest);
        serde_json::from_str(&filled).unwrap()
    }

    /// Every task that runs a function acting in the customer's account (it opens a customer
    /// session, which answers AccessPaused while the customer pauses the vendor's access)
    /// waits on AccessPaused with the PausedRetry bound, in every state machine; the callback
    /// waits keep waiting through watch-install (`decide`).
    #[test]
    fn every_task_in_the_customers_account_waits_while_access_is_paused() {
        const IN_THE_CUSTOMERS_ACCOUNT: [&str; 7] = [
            "${ValidateTrustFunctionArn}",
            "${CheckQuotasFunctionArn}",
            "${RequestQuotaFunctionArn}",
            "${CreateNetworkFunctionArn}",
            "${CreateClusterFunctionArn}",
            "${SweepDanglingFunctionArn}",
            "${UpgradeClusterFunctionArn}",
        ];
        let mut tasks = 0;
        for file in ["install.asl.json", "upgrade.asl.json", "uninstall.asl.json"] {
            let text = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../statemachines")
                    .join(file),
            )
            .unwrap();
            let asl = definition(file);
            for (name, state) in asl["States"].as_object().unwrap() {
                // The raw text names the function; the parsed definition has it filled in.
                let start = text.find(&format!("\"{name}\": {{")).unwrap();
                let resource = text[start..]
                    .split("\"Resource\": \"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or_default();
                if state["Type"] != "Task" || !IN_THE_CUSTOMERS_ACCOUNT.contains(&resource) {
                    continue;
                }
                tasks += 1;
                let retries = state["Retry"].as_array().unwrap();
                let paused = retries
                    .iter()
                    .position(|r| r["ErrorEquals"] == serde_json::json!([ACCESS_PAUSED]));
                assert!(
                    paused.is_some(),
                    "{file}: {name} ({resource}) does not wait on {ACCESS_PAUSED}"
                );
            }
            for placeholder in [
                "PausedRetryIntervalSeconds",
                "PausedRetryBackoffRate",
                "PausedRetryMaxAttempts",
                "PausedRetryMaxDelaySeconds",
            ] {
                assert!(text.contains(placeholder), "{file}: {placeholder}");
            }
        }
        assert_eq!(tasks, 9, "the customer-account tasks of the three machines");
    }

    /// Every machine whose steps a watch calls: the install's and the upgrade's (the
    /// uninstall's steps are called by its own tasks only, and retry the same set).
    #[test]
    fn the_retried_errors_are_the_state_machines() {
        let mut wanted: Vec<&str> = RETRYABLE.to_vec();
        wanted.sort();
        for (file, at_least) in [
            ("install.asl.json", 5),
            ("upgrade.asl.json", 1),
            ("uninstall.asl.json", 1),
        ] {
            let asl = definition(file);
            let mut tasks = 0;
            for (name, state) in asl["States"].as_object().unwrap() {
                for retry in state["Retry"].as_array().into_iter().flatten() {
                    let mut errors: Vec<&str> = retry["ErrorEquals"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    errors.sort();
                    if errors.contains(&"Transient") {
                        assert_eq!(errors, wanted, "{file}: {name} retries another set");
                        tasks += 1;
                    }
                }
            }
            assert!(
                tasks >= at_least,
                "{file}: the step tasks' Retry blocks were found"
            );
        }
    }

    #[test]
    fn function_errors_keep_their_name_and_message() {
        let failed = function_failed(
            "byoc-create-cluster",
            br#"{"errorType":"ClusterFailed","errorMessage":"EKS could not create cluster x"}"#,
        );
        assert_eq!(
            failed,
            Checked::failed("ClusterFailed", "EKS could not create cluster x")
        );
        let unknown = function_failed("byoc-create-cluster", b"Segmentation fault");
        assert!(
            matches!(&unknown, Checked::Failed { error, .. } if error == "Lambda.Unknown"),
            "{unknown:?}"
        );
    }

    #[test]
    fn only_the_retried_errors_are_retried() {
        for error in [
            "Transient",
            "Lambda.TooManyRequestsException",
            "Sandbox.Timedout",
            "Lambda.ServiceException",
        ] {
            assert!(retryable(error), "{error}");
        }
        for error in [
            "ClusterFailed",
            "ClusterInvalid",
            "QuotaDenied",
            "QuotaWaitExpired",
            "AccessLost",
            "InstallNotFound",
            "Lambda.Unknown",
            "Lambda.ResourceNotFoundException",
            "Internal",
        ] {
            assert!(!retryable(error), "{error}");
        }
    }

    #[test]
    fn failures_fit_step_functions_limits() {
        let Checked::Failed { error, cause } = Checked::failed("E".repeat(300), "c".repeat(40_000))
        else {
            panic!()
        };
        assert_eq!(
            (error.len(), cause.len()),
            (MAX_ERROR_CHARS, MAX_CAUSE_CHARS)
        );
    }
}
