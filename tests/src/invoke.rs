//! A deployed function invoked through the Lambda Invoke API, as a state machine or an
//! EventBridge schedule invokes it.

use aws_sdk_lambda::primitives::Blob;
use serde_json::Value;

use crate::stack::LocalStack;

/// Invokes the deployed function of `step` (e.g. "sweep-dangling") with `payload`: its answer,
/// or the error it raised as (errorType, errorMessage).
pub async fn invoke(
    stack: &LocalStack,
    step: &str,
    payload: &Value,
) -> Result<Value, (String, String)> {
    let function = stack.outputs.functions.get(step).ok_or_else(|| {
        (
            "NotDeployed".to_owned(),
            format!("outputs.json names no {step} function"),
        )
    })?;
    let out = aws_sdk_lambda::Client::new(&stack.config)
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .map_err(|e| ("Invoke".to_owned(), format!("{e:?}")))?;
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
