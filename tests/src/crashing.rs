//! Crash safety: a copy of a deployed function with the crash hook on
//! (`BYOC_FAULT_CRASH_AFTER=<function>:<point>`, functions/core/src/fault.rs), which dies right
//! after the AWS call at `<point>` and before it records it, and the calls to run it.

use std::collections::HashMap;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use serde_json::Value;

use crate::LocalStack;

/// A copy of the deployed function of `step` (same role and environment, this checkout's
/// binary) that exits right after the create call at `point`. Returns its name.
pub async fn crashing_copy(stack: &LocalStack, step: &str, point: &str) -> String {
    crashing_copy_of(stack, step, point, step, &[]).await
}

/// As `crashing_copy`, with the role and environment of the deployed `template` function plus
/// `extra`.
pub async fn crashing_copy_of(
    stack: &LocalStack,
    step: &str,
    point: &str,
    template: &str,
    extra: &[(&str, &str)],
) -> String {
    let lambda = aws_sdk_lambda::Client::new(&stack.config);
    let deployed = stack
        .outputs
        .functions
        .get(template)
        .unwrap_or_else(|| panic!("outputs.json names no {template} function"));
    let template = lambda
        .get_function_configuration()
        .function_name(deployed)
        .send()
        .await
        .expect("the deployed function");
    let mut variables: HashMap<String, String> = template
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    variables.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    variables.insert("BYOC_FAULT_CRASH_AFTER".into(), format!("{step}:{point}"));
    let name = format!("byoc-crash-{step}-{point}");
    if lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .is_ok()
    {
        return name; // tests start in parallel; another made it first
    }
    let created = lambda
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(template.role().expect("a role"))
        .timeout(120)
        .memory_size(256)
        .environment(
            Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(crate::function_package::linked_bootstrap_zip(
                    step,
                )))
                .build(),
        )
        .send()
        .await;
    if let Err(err) = created {
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception()),
            "CreateFunction {name}: {err:?}"
        );
    }
    name
}

/// Invokes a function by name: its output, or (errorType, errorMessage).
pub async fn run(
    stack: &LocalStack,
    function: &str,
    payload: &Value,
) -> Result<Value, (String, String)> {
    let out = aws_sdk_lambda::Client::new(&stack.config)
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .expect("Invoke");
    let body: Value = out
        .payload()
        .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
        .unwrap_or(Value::Null);
    match out.function_error() {
        None => Ok(body),
        Some(_) => Err((
            body["errorType"].as_str().unwrap_or_default().to_owned(),
            body["errorMessage"].as_str().unwrap_or_default().to_owned(),
        )),
    }
}

/// Runs the crashing copy and checks it died (a process exit, not an error it returned).
pub async fn crash(stack: &LocalStack, function: &str, payload: &Value) {
    match run(stack, function, payload).await {
        Err((kind, _)) if kind.starts_with("Runtime.") => {}
        other => panic!("{function} should have died at its crash point: {other:?}"),
    }
}
