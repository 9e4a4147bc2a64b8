//! Answering the state machine's callback task: success, failure, heartbeat. A task that no
//! longer waits (it timed out, or its execution ended or moved on) answers TaskTimedOut,
//! TaskDoesNotExist or InvalidToken: the watch is over, not failed.

use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::Client;

use crate::error::WatchError;
use crate::message::WatchMessage;

/// What became of a call on the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Taken,
    /// The task is no longer waiting; the code says why (`TaskTimedOut`, ...).
    Gone(String),
}

const GONE: [&str; 3] = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

fn answered<O, E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    result: Result<O, SdkError<E, R>>,
    message: &WatchMessage,
) -> Result<Answered, WatchError> {
    match result {
        Ok(_) => Ok(Answered::Taken),
        Err(err) => match err.as_service_error().and_then(|e| e.code()) {
            Some(code) if GONE.contains(&code) => Ok(Answered::Gone(code.to_owned())),
            // Step Functions may quote the token back: keep it out of the message we log.
            _ => Err(WatchError::Aws {
                service: "Step Functions",
                message: message.redact(&byoc_core::aws::describe_sdk_error(&err)),
            }),
        },
    }
}

pub async fn succeed(
    sfn: &Client,
    message: &WatchMessage,
    output: &serde_json::Value,
) -> Result<Answered, WatchError> {
    let result = sfn
        .send_task_success()
        .task_token(&message.task_token)
        .output(output.to_string())
        .send()
        .await;
    answered(result, message)
}

pub async fn fail(
    sfn: &Client,
    message: &WatchMessage,
    error: &str,
    cause: &str,
) -> Result<Answered, WatchError> {
    let result = sfn
        .send_task_failure()
        .task_token(&message.task_token)
        .error(error)
        .cause(cause)
        .send()
        .await;
    answered(result, message)
}

pub async fn heartbeat(sfn: &Client, message: &WatchMessage) -> Result<Answered, WatchError> {
    let result = sfn
        .send_task_heartbeat()
        .task_token(&message.task_token)
        .send()
        .await;
    answered(result, message)
}
