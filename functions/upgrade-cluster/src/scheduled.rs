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
//! The run judges dates by the moment its schedule fired (the event's `time`). Bounded and
//! resumable like the trust check; runs never overlap (a lease), so a notice goes out once.

use std::time::{Duration, Instant};

use byoc_core::cluster_plan::ClusterVersionRecord;
use byoc_core::customer_session;
use byoc_core::customer_topic;
use byoc_core::install_change::Change;
use byoc_core::model::{Install, InstallStatus, Outcome, Step};
use byoc_core::schedule::{ScheduleSettings, ScheduledEvent, ScheduledRun};
use byoc_core::step_input::StepInput;
use byoc_core::tags::cluster_name;
use byoc_core::upgrade::{self, MinorVersion, UpgradeRecord, UpgradeState};
use byoc_core::upgrade_start::{Launched, UpgradeLauncher, UpgradeOrder};
use byoc_core::version_check::{
    self, AutoUpgrade, Decision, Facts, VersionCheck, VERSION_CHECK_KEY,
};
use byoc_core::version_email::{self, Support as EmailSupport};
use byoc_core::Error;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use crate::error::UpgradeError;
use crate::{observe, versions, Deps};

/// The name the run's cursor and lease are kept under.
pub const JOB: &str = "version-check";
const STATUSES: [InstallStatus; 1] = [InstallStatus::Ready];
const PAGE: i32 = 50;
/// Installs acted on per run (each: AssumeRole, two EKS reads, an email, two writes, perhaps
/// an upgrade start: a few seconds); the rest are judged from DynamoDB alone.
pub const DEFAULT_SETTINGS: ScheduleSettings = ScheduleSettings {
    max_installs: 25,
    reserve: Duration::from_secs(20),
};

/// What the scheduled check needs beyond an upgrade's step.
pub struct ScheduleDeps {
    pub settings: ScheduleSettings,
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub vendor_name: String,
    pub sfn: aws_sdk_sfn::Client,
    pub upgrade_state_machine_arn: String,
}

/// `VERSION_CHECK_MAX_INSTALLS` and `VERSION_CHECK_RESERVE_SECONDS`, else the defaults.
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

/// What the record says of the install's version: the version and its end of standard
/// support (from the last check of this version, else from create-cluster's or the upgrade's
/// record of the cluster).
fn recorded_version(install: &Install) -> Option<(MinorVersion, Option<NaiveDate>)> {
    let version = MinorVersion::parse(install.resources.get("kubernetes_version")?)?;
    let checked = VersionCheck::recorded(&install.step_data)
        .filter(|c| c.version == version)
        .map(|c| c.end_of_standard_support);
    let from_cluster = || {
        ClusterVersionRecord::of(install)?
            .support?
            .end_of_standard_support?
            .parse()
            .ok()
    };
    Some((version, checked.or_else(from_cluster)))
}

fn failed_target(install: &Install) -> Option<MinorVersion> {
    UpgradeRecord::of(install)
        .filter(|r| r.state == UpgradeState::Failed)
        .and_then(|r| r.target.or(r.requested))
}

fn facts<'a>(
    install: &Install,
    previous: Option<&'a VersionCheck>,
    version: MinorVersion,
    end: NaiveDate,
    now: DateTime<Utc>,
    newest_standard: Option<MinorVersion>,
    changes_allowed: bool,
) -> Facts<'a> {
    let options = &install.options;
    Facts {
        version,
        end_of_standard_support: end,
        now,
        previous,
        window: options.maintenance_window.filter(|_| options.auto_upgrade),
        newest_standard,
        failed_target: failed_target(install),
        changes_allowed,
    }
}

/// Whether the record alone says something may be due: a notice, or (assuming a newer
/// version is offered) an automatic upgrade. A record without dates is looked at.
fn may_be_due(install: &Install, now: DateTime<Utc>) -> bool {
    let Some((version, end)) = recorded_version(install) else {
        return false;
    };
    let Some(end) = end else {
        return true;
    };
    let previous = VersionCheck::recorded(&install.step_data);
    let newer = Some(version.next());
    // The customer's switch is read from the stack only once something may be due.
    version_check::decide(&facts(
        install,
        previous.as_ref(),
        version,
        end,
        now,
        newer,
        true,
    ))
    .acts()
}

pub async fn run(
    deps: &Deps,
    event: &ScheduledEvent,
    deadline: Instant,
) -> Result<ScheduledReport, UpgradeError> {
    let now = event.fired_at();
    let span = info_span!("upgrade-cluster version check", fired_at = %now);
    async {
        let run = ScheduledRun {
            job: JOB,
            statuses: &STATUSES,
            page: PAGE,
            settings: &deps.schedule.settings,
            deadline,
        };
        let named = event.named_installs();
        let walked = if named.is_empty() {
            run.walk_alone(
                &deps.store,
                |install| may_be_due(install, now),
                |install| async move { check(deps, &install, now).await },
            )
            .await?
        } else {
            run.alone(&deps.store, || async {
                let mut checked = vec![];
                for id in named {
                    let install = deps.store.get_install(id).await?;
                    if install.status == InstallStatus::Ready && may_be_due(&install, now) {
                        checked.push(check(deps, &install, now).await);
                    }
                }
                Ok((checked, false))
            })
            .await?
        };
        let Some((checked, more)) = walked else {
            info!("another version check is under way; this one leaves it the round");
            return Ok(ScheduledReport::of(None));
        };
        info!(acted_on = checked.len(), more, "version check finished");
        Ok(ScheduledReport::of(Some((checked, more))))
    }
    .instrument(span)
    .await
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

/// One install: looked at and acted on. Never fails the run.
async fn check(deps: &Deps, listed: &Install, now: DateTime<Utc>) -> Checked {
    let span =
        info_span!("version check", install_id = %listed.install_id, tenant_id = %listed.tenant_id);
    async {
        match check_install(deps, listed, now).await {
            Ok(done) => {
                info!(result = ?done.result, notice = ?done.notice, upgrade_to = ?done.upgrade_to, "checked");
                done
            }
            Err(UpgradeError::Core(Error::InvalidTransition { .. })) => {
                checked(listed, CheckResult::Skipped)
            }
            Err(UpgradeError::Core(Error::AccessPaused { .. })) => {
                info!("the customer paused the vendor's access; held until they resume it");
                checked(listed, CheckResult::Paused)
            }
            Err(err) => {
                warn!(error = %err, "version check did not finish; the next run tries again");
                checked(listed, CheckResult::Failed)
            }
        }
    }
    .instrument(span)
    .await
}

async fn check_install(
    deps: &Deps,
    listed: &Install,
    now: DateTime<Utc>,
) -> Result<Checked, UpgradeError> {
    let step = StepInput {
        install_id: listed.install_id.clone(),
        tenant_id: listed.tenant_id.clone(),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_core::cluster_plan::CLUSTER_KEY;
    use byoc_core::ids::{AccountId, Region, TenantId};

    fn install(version: &str, end: &str, options: serde_json::Value) -> Install {
        let (mut install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            serde_json::from_value(options).unwrap(),
            Utc::now(),
        )
        .unwrap();
        install.status = InstallStatus::Ready;
        install
            .resources
            .insert("kubernetes_version".into(), version.into());
        install.step_data.insert(
            CLUSTER_KEY.into(),
            serde_json::json!({"support": {"policy": "STANDARD", "end_of_standard_support": end}}),
        );
        install
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_record_alone_tells_which_installs_to_look_at() {
        let quiet = install("1.35", "2027-03-27", serde_json::json!({}));
        assert!(!may_be_due(&quiet, at("2026-12-07T10:00:00Z")));
        assert!(
            may_be_due(&quiet, at("2027-01-26T10:00:00Z")),
            "60 days before"
        );
        let mut told = quiet.clone();
        told.step_data.insert(
            VERSION_CHECK_KEY.into(),
            serde_json::json!({"version": "1.35", "end_of_standard_support": "2027-03-27",
                "checked_at": "2027-01-26T10:00:00Z", "days_left": 60, "notified": [60]}),
        );
        assert!(
            !may_be_due(&told, at("2027-01-27T10:00:00Z")),
            "told already"
        );
        assert!(
            may_be_due(&told, at("2027-02-25T10:00:00Z")),
            "30 days before"
        );
        // Auto-upgrade: due inside the window (2027-01-31 is a Sunday), not outside it.
        let auto = install(
            "1.35",
            "2027-03-27",
            serde_json::json!({"auto_upgrade": true, "maintenance_window": {"weekday": "sunday", "start_hour_utc": 2, "duration_hours": 4}}),
        );
        let mut auto = auto;
        auto.step_data = told.step_data.clone();
        assert!(may_be_due(&auto, at("2027-01-31T03:00:00Z")));
        assert!(!may_be_due(&auto, at("2027-01-31T07:00:00Z")));
        // A record without dates is looked at; one without a version is not.
        let mut undated = quiet.clone();
        undated.step_data.clear();
        assert!(may_be_due(&undated, at("2026-12-07T10:00:00Z")));
        undated.resources.clear();
        assert!(!may_be_due(&undated, at("2026-12-07T10:00:00Z")));
    }
}
