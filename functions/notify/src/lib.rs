//! notify: closes an install — marks it ready or failed on its record — and emails the
//! customer through the SNS topic, filtered to the tenant by its `tenant_id` attribute.
//! A retried call does not email twice: the record says which notifications went out.
//! Delivery is at least once: a crash between Publish and the record write sends the email
//! again on the retry. Exactly once is not on offer: SNS deduplicates only on FIFO topics,
//! which cannot deliver email, and marking "sending" before Publish would trade the
//! duplicate for a lost email (a crash before Publish would leave it marked, unsent).

use byoc_core::customer_topic;
use byoc_core::store::InstallStore;
use byoc_domain::email::{self, Email, QuotaLine};
use byoc_domain::error::NamedError;
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallError, InstallStatus, Notice, Outcome, Step};
use byoc_domain::quota_plan::Deficit;
use byoc_domain::step_input::CaughtError;
use byoc_domain::step_record::StepRecord;
use byoc_domain::upgrade::{UpgradeRecord, UpgradeState};
use byoc_lambda::fault::Fault;
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use tracing::info;

pub struct Deps {
    pub store: InstallStore,
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub vendor_name: String,
    /// Crash points for the crash-safety tests (none outside them).
    pub fault: Fault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOutcome {
    Ready,
    Failed,
    /// Quota increases were requested: tell the customer the install is waiting for AWS.
    WaitingForQuota,
    /// The uninstall swept everything away.
    Removed,
    /// An upgrade passed its preflight and is changing the cluster.
    UpgradeStarted,
    /// An upgrade reached its target: the install is ready again.
    Upgraded,
    /// An upgrade stopped: the install is ready again, at the version it reached.
    UpgradeFailed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyInput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub outcome: NotifyOutcome,
    /// What the state machine caught, for `failed`.
    #[serde(default)]
    pub error: Option<CaughtError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotifyOutput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub status: InstallStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for NotifyError {
    fn error_name(&self) -> &'static str {
        let NotifyError::Core(core) = self;
        core.error_name()
    }
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

#[tracing::instrument(name = "notify", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id, outcome = ?input.outcome))]
pub async fn handle(deps: &Deps, input: NotifyInput) -> Result<NotifyOutput, NotifyError> {
    let install = deps.store.get_install(&input.install_id).await?;
    if install.tenant_id != input.tenant_id {
        return Err(byoc_domain::Error::InstallNotFound(input.install_id.clone()).into());
    }
    let (install, email, notice) = match input.outcome {
        NotifyOutcome::Ready => {
            let (install, email) = mark_ready(deps, install).await?;
            (install, email, Notice::Ready)
        }
        NotifyOutcome::Failed => {
            let (install, email) = mark_failed(deps, install, input.error.as_ref()).await?;
            (install, email, Notice::Failed)
        }
        NotifyOutcome::Removed => {
            let install = if install.status == InstallStatus::Removed {
                install
            } else {
                let change = Change::new(
                    Step::SweepDangling,
                    Outcome::Succeeded,
                    removed_message(&install),
                )
                .status(InstallStatus::Removed);
                deps.store.record(&install.install_id, change).await?
            };
            let email = email::removed(&deps.vendor_name, &install);
            (install, email, Notice::Removed)
        }
        NotifyOutcome::WaitingForQuota => {
            let email =
                email::waiting_for_quota(&deps.vendor_name, &install, &requested_quotas(&install));
            (install, email, Notice::WaitingForQuota)
        }
        NotifyOutcome::UpgradeStarted => {
            let email = byoc_domain::upgrade_email::started(&deps.vendor_name, &install);
            (install, email, Notice::UpgradeStarted)
        }
        NotifyOutcome::Upgraded => {
            let install = end_upgrade(deps, install, None).await?;
            let email = byoc_domain::upgrade_email::upgraded(&deps.vendor_name, &install);
            (install, email, Notice::Upgraded)
        }
        NotifyOutcome::UpgradeFailed => {
            let install = end_upgrade(deps, install, input.error.as_ref()).await?;
            let email = byoc_domain::upgrade_email::upgrade_failed(&deps.vendor_name, &install);
            (install, email, Notice::UpgradeFailed)
        }
    };
    if install.notified.contains(&notice) {
        info!("notification already sent");
    } else {
        let message_id = publish(deps, &install, &email, notice).await?;
        deps.fault.point("publish");
        let change = Change::new(
            Step::Notify,
            Outcome::Succeeded,
            format!("{} email sent (SNS message {message_id})", notice.as_str()),
        );
        deps.store
            .record(&install.install_id, change.notified(notice))
            .await?;
        info!(%message_id, "notification sent");
    }
    Ok(NotifyOutput {
        install_id: install.install_id,
        tenant_id: install.tenant_id,
        status: install.status,
    })
}

/// What the removal's last entry says: "nothing it made is left" only when the sweep's last
/// pass found nothing left in the account's listings; otherwise what is left.
fn removed_message(install: &Install) -> String {
    let leftovers = byoc_domain::leftover::recorded(install);
    if leftovers.is_empty() {
        "install removed: nothing it made is left".to_owned()
    } else {
        format!(
            "install removed, except {} resources it made that the installer cannot delete ({}), about ${:.2} a month; the customer was sent the commands that delete them",
            leftovers.len(),
            byoc_domain::leftover::one_line(&leftovers),
            byoc_domain::leftover::total_monthly_usd(&leftovers)
        )
    }
}

/// Ends an upgrade: the install is ready again. A failed one keeps why (the error the state
/// machine caught, and the upgrade record marked failed if the function could not say so).
async fn end_upgrade(
    deps: &Deps,
    install: Install,
    caught: Option<&CaughtError>,
) -> Result<Install, NotifyError> {
    if install.status != InstallStatus::Upgrading {
        return Ok(install);
    }
    let mut record = UpgradeRecord::of(&install);
    let version = install
        .resources
        .get(byoc_domain::step_record::resource::KUBERNETES_VERSION)
        .cloned()
        .unwrap_or_default();
    let change = match caught {
        None => Change::new(
            Step::UpgradeCluster,
            Outcome::Succeeded,
            format!("upgrade finished: the install is ready at Kubernetes {version}"),
        ),
        Some(caught) => {
            if let Some(record) = record.as_mut().filter(|r| r.state != UpgradeState::Failed) {
                record.state = UpgradeState::Failed;
            }
            let error = InstallError {
                step: Step::UpgradeCluster,
                code: caught.error.clone(),
                message: caught.message(),
            };
            Change::new(
                Step::UpgradeCluster,
                Outcome::Failed,
                format!(
                    "upgrade failed, the install serves at Kubernetes {version}: {}",
                    error.message
                ),
            )
            .error(error)
        }
    };
    let mut change = change
        .status(InstallStatus::Ready)
        .only_from(InstallStatus::Upgrading);
    if let Some(record) = record {
        change = change.record(&record);
    }
    Ok(deps.store.record(&install.install_id, change).await?)
}

async fn mark_ready(deps: &Deps, install: Install) -> Result<(Install, Email), NotifyError> {
    let install = if install.status == InstallStatus::Ready {
        install
    } else {
        let change = Change::new(Step::Notify, Outcome::Succeeded, "install is ready")
            .status(InstallStatus::Ready);
        deps.store.record(&install.install_id, change).await?
    };
    let email = email::ready(&deps.vendor_name, &install);
    Ok((install, email))
}

async fn mark_failed(
    deps: &Deps,
    install: Install,
    caught: Option<&CaughtError>,
) -> Result<(Install, Email), NotifyError> {
    let install = if install.status == InstallStatus::Failed {
        install
    } else {
        let error = InstallError {
            // The step that recorded the failure, else the one running when it was caught.
            step: install
                .failed_step
                .or(install.current_step)
                .unwrap_or(Step::Request),
            code: caught.map_or_else(|| "Unknown".to_owned(), |c| c.error.clone()),
            message: caught.map_or_else(
                || "the install stopped without an error description".to_owned(),
                CaughtError::message,
            ),
        };
        let change = Change::new(
            error.step,
            Outcome::Failed,
            format!("install failed: {}", error.message),
        )
        .status(InstallStatus::Failed)
        .error(error);
        deps.store.record(&install.install_id, change).await?
    };
    let error = install.last_error.clone().unwrap_or(InstallError {
        step: Step::Request,
        code: "Unknown".into(),
        message: "the install failed".into(),
    });
    let email = email::failed(&deps.vendor_name, &install, &error);
    Ok((install, email))
}

/// The quotas check-quotas found short, as recorded under `step_data["quota_check"]`.
fn requested_quotas(install: &Install) -> Vec<QuotaLine> {
    let deficits = install
        .step_data
        .get(byoc_domain::quota_plan::QUOTA_CHECK_KEY)
        .and_then(|check| check.get("deficits"))
        .and_then(|d| serde_json::from_value::<Vec<Deficit>>(d.clone()).ok())
        .unwrap_or_default();
    deficits
        .into_iter()
        .map(|d| QuotaLine {
            service: d.service,
            quota_code: d.quota_code,
            quota_name: d.quota_name,
            applied: d.applied,
            requested: d.request_value as f64,
            console_url: d.console_url,
        })
        .collect()
}

async fn publish(
    deps: &Deps,
    install: &Install,
    email: &Email,
    notice: Notice,
) -> Result<String, NotifyError> {
    Ok(
        customer_topic::publish(&deps.sns, &deps.topic_arn, install, email, notice.as_str())
            .await?,
    )
}
