//! The scheduled version check. An EventBridge schedule invokes upgrade-cluster with a
//! Scheduled Event; the run walks the ready installs through the `installs-by-status` index
//! and judges each from its record first (its version and the end of that version's standard
//! support, recorded by create-cluster and every upgrade), with no AWS call: most installs have
//! nothing due. Only where a notice (60, 30, 7 days before the end of standard support, and
//! when it has ended) or an automatic upgrade is due does it look at the account: the cluster's
//! version and support policy as EKS reports them (DescribeCluster) and the version's dates
//! (DescribeClusterVersions), so no email claims more than the account shows. Then the
//! customer is emailed, the timeline gets a `version-check` entry (the vendor's "Version Support
//! Ending" event), and an install with `auto_upgrade` inside its maintenance window is upgraded.
//!
//! The run judges dates by the moment its schedule fired (the event's `time`). It sends the
//! installs with something due to the version check's queue (`byoc_core::fleet`), whose
//! batches come back here; one install is never checked twice at once (a lease per install),
//! so a notice goes out once.

use byoc_domain::step_record::StepRecord;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use byoc_core::customer_session;
use byoc_core::customer_topic;
use byoc_core::fleet::{FleetMessage, FleetSettings};
use byoc_core::schedule::{ScheduleSettings, ScheduledEvent, ScheduledRun};
use byoc_core::upgrade_start::{Launched, UpgradeLauncher, UpgradeOrder};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallStatus, Outcome, Step};
use byoc_domain::tags::cluster_name;
use byoc_domain::upgrade::{self, MinorVersion, UpgradeRecord};
use byoc_domain::version_check::{self, AutoUpgrade, Decision, VersionCheck, VERSION_CHECK_KEY};
use byoc_domain::version_email::{self, Support as EmailSupport};
use byoc_domain::Error;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use crate::error::UpgradeError;
use crate::version_due::{facts, may_be_due};
use crate::{observe, versions, Deps};

/// The name the job's leases and messages carry.
pub const JOB: &str = "version-check";
const STATUSES: [InstallStatus; 1] = [InstallStatus::Ready];
/// A check that acts is AssumeRole, two EKS reads, an email, two writes, perhaps an upgrade
/// start: a few seconds. The rest are judged from DynamoDB alone and never queued.
pub const DEFAULT_SETTINGS: ScheduleSettings = ScheduleSettings {
    check_timeout: Duration::from_secs(45),
    reserve: Duration::from_secs(5),
};

/// What the scheduled check needs beyond an upgrade's step.
pub struct ScheduleDeps {
    pub settings: ScheduleSettings,
    /// The version check's queue: a scheduled run sends the installs with something due.
    pub sqs: aws_sdk_sqs::Client,
    pub fleet: FleetSettings,
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub vendor_name: String,
    pub sfn: aws_sdk_sfn::Client,
    pub upgrade_state_machine_arn: String,
}

/// `VERSION_CHECK_CHECK_TIMEOUT_SECONDS` and `VERSION_CHECK_RESERVE_SECONDS`, else the
/// defaults.
pub fn settings_from_env() -> Result<ScheduleSettings, Error> {
    ScheduleSettings::from_env("VERSION_CHECK", DEFAULT_SETTINGS)
}

/// What one scheduled run did.
pub type ScheduledReport = byoc_core::schedule::ScheduledReport<Checked>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    pub install_id: String,
    pub tenant_id: String,
    pub result: CheckResult,
    /// The notice sent (days before the end of standard support; 0: it has ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<i64>,
    /// The upgrade started, to this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_to: Option<MinorVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// A notice went out and/or an upgrade started.
    Acted,
    /// The account showed nothing due after all (the cluster was upgraded meanwhile).
    NothingDue,
    /// The check did not finish (access, AWS); the next run tries again.
    Failed,
    /// No longer ready when read again.
    Skipped,
    /// The customer paused the vendor's access: held until they resume it.
    Paused,
}

pub async fn run(
    deps: &Deps,
    event: &ScheduledEvent,
    deadline: Instant,
) -> Result<ScheduledReport, UpgradeError> {
    let now = event.fired_at();
    let span = info_span!("upgrade-cluster version check", fired_at = %now);
    let schedule = &deps.schedule;
    Ok(scheduled_run(deps, deadline)
        .on_schedule(
            &deps.store,
            &schedule.sqs,
            &schedule.fleet,
            event,
            |install| may_be_due(install, now),
            may_be_due,
            |m| check(deps, m),
        )
        .instrument(span)
        .await?)
}

fn scheduled_run(deps: &Deps, deadline: Instant) -> ScheduledRun<'_> {
    ScheduledRun {
        job: JOB,
        statuses: &STATUSES,
        settings: &deps.schedule.settings,
        deadline,
    }
}

/// A batch from the version check's queue: each install looked at, under its lease.
pub async fn work(deps: &Deps, batch: SqsEvent, deadline: Instant) -> SqsBatchResponse {
    let schedule = &deps.schedule;
    scheduled_run(deps, deadline)
        .on_batch(
            &deps.store,
            &schedule.sqs,
            &schedule.fleet,
            batch,
            may_be_due,
            |m| check(deps, m),
        )
        .await
}

fn listed(message: &FleetMessage, result: CheckResult) -> Checked {
    Checked {
        install_id: message.install_id.to_string(),
        tenant_id: message.tenant_id.to_string(),
        result,
        notice: None,
        upgrade_to: None,
    }
}

fn checked(install: &Install, result: CheckResult) -> Checked {
    Checked {
        install_id: install.install_id.to_string(),
        tenant_id: install.tenant_id.to_string(),
        result,
        notice: None,
        upgrade_to: None,
    }
}

/// One install: looked at and acted on, judged at the cycle's moment. Never fails the run.
async fn check(deps: &Deps, message: FleetMessage) -> Checked {
    let span = info_span!("version check", install_id = %message.install_id, tenant_id = %message.tenant_id);
    async {
        match check_install(deps, &message, message.cycle).await {
            Ok(done) => {
                info!(result = ?done.result, notice = ?done.notice, upgrade_to = ?done.upgrade_to, "checked");
                done
            }
            Err(UpgradeError::Core(Error::InvalidTransition { .. } | Error::InstallNotFound(_))) => {
                listed(&message, CheckResult::Skipped)
            }
            Err(UpgradeError::Core(Error::AccessPaused { .. })) => {
                info!("the customer paused the vendor's access; held until they resume it");
                listed(&message, CheckResult::Paused)
            }
            Err(err) => {
                warn!(error = %err, "version check did not finish; the next cycle tries again");
                listed(&message, CheckResult::Failed)
            }
        }
    }
    .instrument(span)
    .await
}

async fn check_install(
    deps: &Deps,
    listed: &FleetMessage,
    now: DateTime<Utc>,
) -> Result<Checked, UpgradeError> {
    let step = listed.step_input();
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, &step).await?;
    let install = session.install;
    if install.status != InstallStatus::Ready {
        return Ok(checked(&install, CheckResult::Skipped));
    }
    let eks = aws_sdk_eks::Client::new(&session.config);
    let seen = observe::version(&eks, &cluster_name(&install)).await?;
    let (version, policy) = (seen.version, seen.support_type);
    let offered = versions::offered(&eks).await?;
    let dates = versions::dates(&offered, version);
    let date = |d: Option<&String>| d.and_then(|d| d.parse::<NaiveDate>().ok());
    let Some(end) = date(dates.and_then(|d| d.end_of_standard_support.as_ref())) else {
        return Err(UpgradeError::Failed(format!(
            "EKS gives no end of standard support for Kubernetes {version}"
        )));
    };
    // What an upgrade asked for no version goes to (none when the cluster is there already).
    let newest_standard = upgrade::target(None, version, &offered).ok();
    let previous = VersionCheck::recorded(&install.step_data);
    let decision = version_check::decide(&facts(
        &install,
        previous.as_ref(),
        version,
        end,
        now,
        newest_standard,
        session
            .stack
            .as_ref()
            .is_none_or(|s| s.allow_changes.allows_at(now)),
    ));
    let support = EmailSupport {
        policy: &policy,
        end_of_extended_support: date(dates.and_then(|d| d.end_of_extended_support.as_ref())),
    };
    let install = record(deps, &install, &decision, &support).await?;
    let upgrade_to = match decision.auto_upgrade {
        AutoUpgrade::Start { to } => start_upgrade(deps, &install, &decision, to).await?,
        _ => None,
    };
    let acted = decision.notice.is_some() || upgrade_to.is_some();
    Ok(Checked {
        notice: decision.notice,
        upgrade_to,
        ..checked(
            &install,
            if acted {
                CheckResult::Acted
            } else {
                CheckResult::NothingDue
            },
        )
    })
}

/// What the installer does about it, in a phrase for the timeline.
fn plan(decision: &Decision) -> String {
    match &decision.auto_upgrade {
        AutoUpgrade::Start { to } => format!("an automatic upgrade to Kubernetes {to} starts now"),
        AutoUpgrade::Waiting { opens } => format!(
            "the automatic upgrade starts in the maintenance window opening {}",
            opens.format("%Y-%m-%d %H:%M UTC")
        ),
        AutoUpgrade::AfterFailure => {
            "no automatic upgrade: the last upgrade failed and needs attention".into()
        }
        AutoUpgrade::NothingNewer => "no newer version is in standard support yet".into(),
        AutoUpgrade::NotAllowed { to } => format!(
            "an automatic upgrade to Kubernetes {to} is due, but the customer does not allow changes now (AllowChanges on their access stack): it does not start"
        ),
        AutoUpgrade::Off | AutoUpgrade::NotYet => {
            "upgrade it with POST /installs/{id}/upgrade".into()
        }
    }
}

/// Keeps the check on the install; with a notice due, emails the customer (before the record,
/// as notify does: a crash in between emails again rather than never) and tells the timeline.
/// The install as recorded.
async fn record(
    deps: &Deps,
    install: &Install,
    decision: &Decision,
    support: &EmailSupport<'_>,
) -> Result<Install, UpgradeError> {
    let value =
        serde_json::to_value(&decision.record).map_err(|e| Error::Corrupt(e.to_string()))?;
    let Some(days) = decision.notice else {
        deps.store
            .set_step_data_quietly(&install.install_id, VERSION_CHECK_KEY, &value)
            .await?;
        return Ok(install.clone());
    };
    let email =
        version_email::support_ending(&deps.schedule.vendor_name, install, decision, support);
    let notice = format!("version-support-{days}");
    let message_id = customer_topic::publish(
        &deps.schedule.sns,
        &deps.schedule.topic_arn,
        install,
        &email,
        &notice,
    )
    .await?;
    let check = &decision.record;
    let when = if check.days_left <= 0 {
        format!("ended on {}", check.end_of_standard_support)
    } else {
        format!(
            "ends on {} ({} days)",
            check.end_of_standard_support, check.days_left
        )
    };
    let message = format!(
        "standard support for Kubernetes {} {when}; support policy {}; {}; customer emailed (SNS message {message_id})",
        check.version,
        support.policy,
        plan(decision).replace("{id}", install.install_id.as_str()),
    );
    let change = Change::new(Step::VersionCheck, Outcome::Waiting, message)
        .data(VERSION_CHECK_KEY, value)
        .only_from(InstallStatus::Ready);
    Ok(deps.store.record(&install.install_id, change).await?)
}

async fn start_upgrade(
    deps: &Deps,
    install: &Install,
    decision: &Decision,
    to: MinorVersion,
) -> Result<Option<MinorVersion>, UpgradeError> {
    let launcher = UpgradeLauncher {
        store: &deps.store,
        sfn: &deps.schedule.sfn,
        state_machine_arn: &deps.schedule.upgrade_state_machine_arn,
    };
    let window = install
        .options
        .maintenance_window
        .map_or(String::new(), |w| format!(" ({w})"));
    let order = UpgradeOrder {
        requested: Some(to),
        force: false,
        attempt: UpgradeRecord::of(install).map_or(1, |r| r.attempt + 1),
        message: format!(
            "automatic upgrade to Kubernetes {to} in the maintenance window{window}: {} days of standard support left for {}",
            decision.record.days_left, decision.record.version
        ),
    };
    Ok(match launcher.start(install, order).await? {
        Launched::Started { .. } | Launched::Running { .. } => Some(to),
        Launched::Changed => None,
    })
}
