//! `POST /installs/{install_id}/retry`: runs a failed install again from the step that failed.
//!
//! The install goes back to pending (taking its tenant/account/region slot again, or refused
//! if another install holds it), the record of the steps that run again is dropped (they adopt
//! by tag what still exists and make what the rollback removed), and the install state machine
//! starts with the resume point in its input. The execution is named after the failure it
//! retries, so calling again while the retry runs answers with the same execution.

use byoc_core::aws::executions::{start_or_undo, Execution};
use byoc_domain::error_names;
use byoc_domain::ids::InstallId;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallError, InstallStatus, Outcome, Step};
use byoc_domain::retry_plan::{self, ResumeInput, RetryRecord};
use byoc_domain::step_record::StepRecord;
use lambda_http::http::StatusCode;
use tracing::info;

use crate::api_error::ApiError;
use crate::installs::Accepted;
use crate::Deps;

/// Reads after losing a race to another retry call before giving up.
const ATTEMPTS: usize = 4;

fn conflict(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message).field("install_id")
}

/// Why an install that is not failed cannot be retried, and what to do instead.
fn refusal(install: &Install) -> Option<ApiError> {
    let id = &install.install_id;
    let message = match install.status {
        InstallStatus::Failed if install.resources.contains_key(byoc_domain::removal::UNINSTALL_EXECUTION_KEY) => {
            format!("install \"{id}\" failed while it was being removed; finish the removal with DELETE /installs/{id} instead of retrying it")
        }
        InstallStatus::Failed => return None,
        InstallStatus::Pending | InstallStatus::Running => {
            format!("install \"{id}\" is {}: only a failed install can be retried; follow this one with GET /installs/{id}", install.status)
        }
        InstallStatus::Ready => format!("install \"{id}\" is ready: there is nothing to retry (DELETE /installs/{id} removes it)"),
        InstallStatus::Upgrading => format!("install \"{id}\" is upgrading; follow it with GET /installs/{id}"),
        InstallStatus::Removing => format!("install \"{id}\" is removing and cannot be retried; once it is removed, start a new install with POST /installs"),
        InstallStatus::Removed => format!("install \"{id}\" is removed and cannot be retried; start a new install with POST /installs"),
    };
    Some(conflict(message))
}

pub async fn retry(
    deps: &Deps,
    install_id: &InstallId,
) -> Result<(StatusCode, Accepted), ApiError> {
    for _ in 0..ATTEMPTS {
        let install = deps.store.get_install(install_id).await?;
        if let Some(retry) = RetryRecord::in_flight(&install) {
            return start(deps, &install, &retry).await;
        }
        // A ready install whose last upgrade failed: the upgrade resumes where it stopped.
        if install.status == InstallStatus::Ready
            && byoc_domain::upgrade::UpgradeRecord::of(&install)
                .is_some_and(|r| r.state == byoc_domain::upgrade::UpgradeState::Failed)
        {
            return crate::upgrade::retry_failed(deps, install).await;
        }
        if let Some(refused) = refusal(&install) {
            return Err(refused);
        }
        let failed_step = install
            .failed_step
            .or(install.last_error.as_ref().map(|e| e.step));
        let plan = retry_plan::resume(failed_step);
        let execution_name = retry_plan::execution_name(install_id, install.version);
        let execution_arn =
            retry_plan::execution_arn(&deps.settings.install_state_machine_arn, &execution_name)
                .ok_or_else(|| {
                    byoc_domain::Error::Config(
                        "INSTALL_STATE_MACHINE_ARN is not a state machine ARN".into(),
                    )
                })?;
        let record = RetryRecord {
            execution_name,
            execution_arn,
            failed_step,
            resume_at: plan.resume_at,
        };
        let failed = failed_step.map_or_else(|| "an unknown step".to_owned(), |s| s.to_string());
        let message = match plan.resume_at {
            Some(step) => format!("retry requested (it failed at {failed}): access is checked again, then the install resumes at {step}"),
            None => format!("retry requested (it failed at {failed}): every step runs again"),
        };
        let mut change = Change::new(Step::Request, Outcome::Started, message)
            .status(InstallStatus::Pending)
            .only_from(InstallStatus::Failed)
            .execution_arn(&record.execution_arn)
            .record(&record);
        for key in plan.forget {
            change = change.forget(key);
        }
        match deps.store.record(install_id, change).await {
            Ok(pending) => {
                info!(install_id = %install_id, resume_at = ?record.resume_at, "retry requested");
                return start(deps, &pending, &record).await;
            }
            // Another call moved it first: read again and answer as that call did.
            Err(byoc_domain::Error::InvalidTransition { .. }) => continue,
            Err(byoc_domain::Error::SlotTaken { existing }) => {
                return Err(conflict(format!(
                    "install \"{existing}\" was started for the same tenant, account and region after this one failed; \
                     remove it (DELETE /installs/{existing}) before retrying this one, or keep it"
                )))
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(byoc_domain::Error::Contended(install_id.clone()).into())
}

/// Starts the retry's execution (joining it when a repeated call started it already); if Step
/// Functions refuses, nothing runs and the install must not stay pending, holding its place.
async fn start(
    deps: &Deps,
    install: &Install,
    retry: &RetryRecord,
) -> Result<(StatusCode, Accepted), ApiError> {
    let input = ResumeInput {
        install_id: install.install_id.clone(),
        tenant_id: install.tenant_id.clone(),
        resume_at: retry.resume_at,
    };
    let undo = Change::new(
        Step::Request,
        Outcome::Failed,
        "the install state machine could not be started for the retry",
    )
    .status(InstallStatus::Failed)
    .only_from(InstallStatus::Pending)
    .error(InstallError {
        step: Step::Request,
        code: error_names::START_FAILED.into(),
        message: "the retry could not be started; retry again".into(),
    });
    let execution = Execution {
        state_machine_arn: &deps.settings.install_state_machine_arn,
        name: &retry.execution_name,
        input: &input,
    };
    let execution_arn =
        start_or_undo(&deps.sfn, &deps.store, &install.install_id, execution, undo).await?;
    Ok((
        StatusCode::ACCEPTED,
        Accepted {
            install_id: install.install_id.clone(),
            status: install.status,
            execution_arn,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::ids::{AccountId, Region, TenantId};
    use chrono::Utc;

    fn install(status: InstallStatus) -> Install {
        let (mut install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            Default::default(),
            Utc::now(),
        )
        .unwrap();
        install.status = status;
        install
    }

    #[test]
    fn only_a_failed_install_can_be_retried_and_each_refusal_says_what_to_do() {
        assert!(refusal(&install(InstallStatus::Failed)).is_none());
        for (status, advice) in [
            (InstallStatus::Pending, "GET /installs/"),
            (InstallStatus::Running, "GET /installs/"),
            (InstallStatus::Ready, "DELETE /installs/"),
            (InstallStatus::Removing, "POST /installs"),
            (InstallStatus::Removed, "POST /installs"),
        ] {
            let err = refusal(&install(status)).unwrap();
            assert_eq!(
                (err.status, err.field.as_deref()),
                (StatusCode::CONFLICT, Some("install_id"))
            );
            assert!(
                err.message.contains(status.as_str()) && err.message.contains(advice),
                "{}",
                err.message
            );
        }
        let mut removal_failed = install(InstallStatus::Failed);
        removal_failed.resources.insert(
            byoc_domain::removal::UNINSTALL_EXECUTION_KEY.into(),
            "arn:x".into(),
        );
        assert!(refusal(&removal_failed)
            .unwrap()
            .message
            .contains("DELETE /installs/"));
    }
}
