//! Starting a state machine execution for an install whose record already says it runs
//! (`pending`, `upgrading`): when Step Functions refuses, nothing runs, so the record is put
//! back as it was (the `undo` change) rather than left claiming work that never started.

use serde::Serialize;

use crate::store::InstallStore;
use byoc_domain::error::{Error, Result};
use byoc_domain::ids::InstallId;
use byoc_domain::install_change::Change;
use byoc_domain::retry_plan::execution_arn;

/// One execution to start: `name` of `state_machine_arn`, with `input`.
pub struct Execution<'a, I: Serialize> {
    pub state_machine_arn: &'a str,
    pub name: &'a str,
    pub input: &'a I,
}

/// Starts the execution; its ARN. Step Functions answers a start with the same name and input
/// as a running execution with that execution, and one that ran and ended meanwhile
/// (`ExecutionAlreadyExists`) is the execution this start would have been, so a repeated
/// call joins it (StartExecution, Step Functions API Reference). Any other refusal records
/// `undo` on the install and is returned.
pub async fn start_or_undo<I: Serialize>(
    sfn: &aws_sdk_sfn::Client,
    store: &InstallStore,
    install_id: &InstallId,
    execution: Execution<'_, I>,
    undo: Change,
) -> Result<String> {
    let input =
        serde_json::to_string(execution.input).map_err(|e| Error::Corrupt(e.to_string()))?;
    let started = sfn
        .start_execution()
        .state_machine_arn(execution.state_machine_arn)
        .name(execution.name)
        .input(input)
        .send()
        .await;
    let err = match started {
        Ok(out) => return Ok(out.execution_arn),
        Err(err) => err,
    };
    if err
        .as_service_error()
        .is_some_and(|e| e.is_execution_already_exists())
    {
        if let Some(arn) = execution_arn(execution.state_machine_arn, execution.name) {
            return Ok(arn);
        }
    }
    let message = super::describe_sdk_error(&err);
    tracing::warn!(install_id = %install_id, execution = execution.name, error = %message, "could not start the execution");
    if let Err(err) = store.record(install_id, undo).await {
        tracing::warn!(install_id = %install_id, error = %err, "could not record the failed start");
    }
    Err(Error::Aws {
        service: "Step Functions",
        message,
    })
}
