//! The scheduled sweep. An EventBridge schedule invokes sweep-dangling with a Scheduled Event;
//! the run sends every failed and removed install that built something to the sweep's queue
//! (`byoc_core::fleet`), and the queue's batches come back here: each install gets one pass.
//! What is left of it in the customer's account is found as an uninstall finds it (same
//! discovery, same safety rule, same deletion order) and deleted — unless the install failed
//! and asked to keep what it made for inspection, which is only reported with its monthly cost.
//! The findings go on the install (`findings`), and on its timeline when there is news.
//!
//! A removed install whose sweeps found nothing `retire_after` times in a row is retired: the
//! record says so (`sweep_retired`, with a timeline entry) and it leaves the removed installs'
//! listing, so the sweep's cycle follows the live fleet, not the vendor's whole history. One
//! install's failure (its customer deleted the access stack, AWS refused) is that install's
//! finding and never stops the others.

use byoc_domain::step_record::StepRecord;
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use byoc_core::customer_session;
use byoc_core::fleet::FleetMessage;
use byoc_core::schedule::{ScheduledEvent, ScheduledRun};
use byoc_core::store::by_status::SweepRetired;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallStatus, Step};
use byoc_domain::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use crate::clients::{Clients, Deps};
use crate::discover::discover;
use crate::error::SweepError;
use crate::findings::{Access, Action, Findings, FINDINGS_KEY};
use crate::pass::{delete_and_settle, pass_of};
use crate::report::RECORD_KEY;

/// The name the job's leases and messages carry.
pub const JOB: &str = "sweep-dangling";
/// The statuses a scheduled run looks at, in the order it sends them.
pub const STATUSES: [InstallStatus; 2] = [InstallStatus::Failed, InstallStatus::Removed];

/// What one scheduled run did, install by install (ids and counts only).
pub type ScheduledReport = byoc_core::schedule::ScheduledReport<Checked>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    pub install_id: String,
    pub tenant_id: String,
    pub status: InstallStatus,
    pub result: CheckResult,
    pub found: usize,
    pub deleted: usize,
    pub remaining: usize,
    pub monthly_cost_usd: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// Nothing of the install was found.
    Clean,
    /// Found and deleted, nothing left.
    Deleted,
    /// Found; some of it could not go yet (the next run tries again).
    Remaining,
    /// Kept for inspection: reported, not deleted.
    Reported,
    AccessLost,
    /// The check failed this time (recorded on the install when possible).
    Failed,
    /// No longer removed or failed when it was read (retried or being removed): not checked.
    Skipped,
    /// The customer paused the vendor's access: held until they resume it (the install's
    /// record says so once, "Access Paused"); nothing is recorded as a finding.
    Paused,
    /// Nothing found, again: a removed install no longer swept from now on.
    Retired,
}

impl Checked {
    fn listed(message: &FleetMessage, result: CheckResult) -> Self {
        Self {
            install_id: message.install_id.to_string(),
            tenant_id: message.tenant_id.to_string(),
            status: InstallStatus::Removed,
            result,
            found: 0,
            deleted: 0,
            remaining: 0,
            monthly_cost_usd: 0.0,
        }
    }

    fn new(install: &Install, result: CheckResult) -> Self {
        Self {
            install_id: install.install_id.to_string(),
            tenant_id: install.tenant_id.to_string(),
            status: install.status,
            result,
            found: 0,
            deleted: 0,
            remaining: 0,
            monthly_cost_usd: 0.0,
        }
    }

    fn of(install: &Install, findings: &Findings) -> Self {
        let result = match (&findings.access, findings.action) {
            (Access::Lost { .. }, _) => CheckResult::AccessLost,
            (Access::Failed { .. }, _) => CheckResult::Failed,
            (Access::Ok, _) if findings.found.is_empty() => CheckResult::Clean,
            (Access::Ok, Action::Report) => CheckResult::Reported,
            (Access::Ok, Action::Delete) if findings.remaining == 0 => CheckResult::Deleted,
            (Access::Ok, Action::Delete) => CheckResult::Remaining,
        };
        Self {
            found: findings.found.len(),
            deleted: findings.deleted.len(),
            remaining: findings.remaining,
            monthly_cost_usd: findings.monthly_cost_usd,
            ..Self::new(install, result)
        }
    }
}

/// Whether the install ever started building in the customer's account: its record holds
/// the network's or the cluster's data, or a sweep's (a rollback or a removal ran). One that
/// failed before (no access, short quotas) made nothing, and checking it would only report
/// access it never had.
pub fn built_something(install: &Install) -> bool {
    // The keys create-network, create-cluster, sweep passes and these checks record under.
    const BUILT: [&str; 4] = [
        byoc_domain::step_record::NETWORK_KEY,
        byoc_domain::cluster_plan::CLUSTER_KEY,
        RECORD_KEY,
        FINDINGS_KEY,
    ];
    BUILT.iter().any(|key| install.step_data.contains_key(*key))
        || install
            .resources
            .contains_key(byoc_domain::step_record::resource::VPC_ID)
}

/// What the check does with an install's leftovers.
pub fn action_for(install: &Install) -> Action {
    if install.status == InstallStatus::Failed && install.options.keep_failed_resources {
        Action::Report
    } else {
        Action::Delete
    }
}

pub async fn run(
    deps: &Deps,
    event: &ScheduledEvent,
    deadline: Instant,
) -> Result<ScheduledReport, SweepError> {
    let span = info_span!(
        "sweep-dangling scheduled",
        fired_at = event.time.as_deref().unwrap_or("?")
    );
    // Named by an operator: checked even when retired (what it finds brings it back).
    Ok(scheduled_run(deps, deadline)
        .on_schedule(
            &deps.store,
            &deps.sqs,
            &deps.fleet,
            event,
            built_something,
            owed_a_sweep,
            |m| check(deps, m),
        )
        .instrument(span)
        .await?)
}

/// Built something (see `built_something`), and not retired.
fn owed_a_sweep(install: &Install, _cycle: DateTime<Utc>) -> bool {
    built_something(install) && SweepRetired::of(install).is_none()
}

fn scheduled_run(deps: &Deps, deadline: Instant) -> ScheduledRun<'_> {
    ScheduledRun {
        job: JOB,
        statuses: &STATUSES,
        settings: &deps.schedule,
        deadline,
    }
}

/// A batch from the sweep's queue: each install given its pass, under its lease.
pub async fn work(deps: &Deps, batch: SqsEvent, deadline: Instant) -> SqsBatchResponse {
    scheduled_run(deps, deadline)
        .on_batch(
            &deps.store,
            &deps.sqs,
            &deps.fleet,
            batch,
            owed_a_sweep,
            |m| check(deps, m),
        )
        .await
}

/// One install: its pass, its findings recorded. Never fails the run.
async fn check(deps: &Deps, listed: FleetMessage) -> Checked {
    let span = info_span!("scheduled check", install_id = %listed.install_id, tenant_id = %listed.tenant_id);
    async {
        let input = listed.step_input();
        // When access was tried: what the findings say held then, however long the pass takes.
        let now = Utc::now();
        let (install, findings) =
            match customer_session::open(&deps.store, &deps.base, &deps.access, &input).await {
                Ok(session) if !STATUSES.contains(&session.install.status) => {
                    return Checked::new(&session.install, CheckResult::Skipped)
                }
                Ok(session) => match sweep_once(deps, &session, now).await {
                    Ok(Some(findings)) => (session.install, findings),
                    Ok(None) => return Checked::new(&session.install, CheckResult::Skipped),
                    Err(err) => {
                        // A pass that failed may have lost its access on the way (the customer
                        // deleted the access stack after the role was assumed: the session's
                        // calls are then denied). Assuming the role again tells the two apart,
                        // so a lost access is reported as lost, not as a passing failure.
                        let access = match customer_session::open(
                            &deps.store,
                            &deps.base,
                            &deps.access,
                            &input,
                        )
                        .await
                        {
                            Err(lost @ Error::AccessLost { .. }) => Access::Lost {
                                message: lost.to_string(),
                            },
                            Err(Error::AccessPaused { .. }) => {
                                return Checked::new(&session.install, CheckResult::Paused)
                            }
                            _ => failed(&err),
                        };
                        let findings = Findings::unreachable(
                            access,
                            session.install.status,
                            action_for(&session.install),
                            now,
                        );
                        (session.install, findings)
                    }
                },
                Err(Error::AccessPaused { .. }) => {
                    info!("the customer paused the vendor's access; held until they resume it");
                    return Checked::listed(&listed, CheckResult::Paused);
                }
                Err(err) => {
                    // The session could not be opened: the findings say why, on the install
                    // as it is now.
                    let install = match deps.store.get_install(&listed.install_id).await {
                        Ok(install) if STATUSES.contains(&install.status) => install,
                        Ok(install) => return Checked::new(&install, CheckResult::Skipped),
                        Err(Error::InstallNotFound(_)) => {
                            return Checked::listed(&listed, CheckResult::Skipped)
                        }
                        Err(read) => {
                            warn!(error = %read, "could not read the install");
                            return Checked::listed(&listed, CheckResult::Failed);
                        }
                    };
                    let access = match err {
                        lost @ Error::AccessLost { .. } => Access::Lost {
                            message: lost.to_string(),
                        },
                        other => failed(&other),
                    };
                    let findings =
                        Findings::unreachable(access, install.status, action_for(&install), now);
                    (install, findings)
                }
            };
        match &findings.access {
            Access::Ok => info!(
                found = findings.found.len(),
                deleted = findings.deleted.len(),
                remaining = findings.remaining,
                "checked"
            ),
            other => warn!(access = ?other, "could not check"),
        }
        match record(deps, &install, findings).await {
            Ok(checked) => checked,
            Err(err) => {
                warn!(error = %err, "could not record the findings");
                Checked::new(&install, CheckResult::Failed)
            }
        }
    }
    .instrument(span)
    .await
}

fn failed(err: &Error) -> Access {
    Access::Failed {
        code: err.error_name().to_owned(),
        message: err.to_string(),
    }
}

/// Discovers what is left and, unless it is only to be reported, deletes what can go now.
/// `None` when the install changed status meanwhile (a retry, a removal): its own steps own it.
async fn sweep_once(
    deps: &Deps,
    session: &customer_session::CustomerSession,
    checked_at: DateTime<Utc>,
) -> Result<Option<Findings>, Error> {
    let install = &session.install;
    let action = action_for(install);
    let clients = Clients::new(&session.config);
    let mut pass = pass_of(discover(&clients, install).await?);
    if action == Action::Delete && !pass.remaining.is_empty() {
        // Discovery took a while: read the status again right before deleting anything.
        if deps.store.get_install(&install.install_id).await?.status != install.status {
            return Ok(None);
        }
        delete_and_settle(&clients, install, &mut pass).await?;
    }
    Ok(Some(Findings::of_pass(
        &pass,
        install.status,
        action,
        checked_at,
    )))
}

/// Keeps the findings on the install, and tells its timeline when there is news; retires a
/// removed install found clean `retire_after` times in a row.
async fn record(deps: &Deps, install: &Install, mut findings: Findings) -> Result<Checked, Error> {
    let previous = Findings::of(install);
    findings.count_clean_streak(previous.as_ref());
    let had_leftovers = !byoc_domain::leftover::recorded(install).is_empty();
    let value = serde_json::to_value(&findings).map_err(|e| Error::Corrupt(e.to_string()))?;
    let checked = Checked::of(install, &findings);
    let retired = SweepRetired::of(install).is_some();
    if retired && !findings.found.is_empty() {
        // Something appeared after all: swept on schedule again.
        let change = Change::new(
            Step::SweepDangling,
            findings.outcome(),
            format!(
                "{}; the install is swept on schedule again",
                findings.message(install.account_id.as_str())
            ),
        )
        .data(FINDINGS_KEY, value)
        .forget(SweepRetired::KEY);
        deps.store.record(&install.install_id, change).await?;
        return Ok(checked);
    }
    if install.status == InstallStatus::Removed
        && !retired
        && findings.clean_streak >= deps.retire_after
    {
        let retired = SweepRetired {
            retired_at: findings.checked_at,
            clean_sweeps: findings.clean_streak,
        };
        let change = Change::new(
            Step::SweepDangling,
            findings.outcome(),
            format!(
                "scheduled sweeps end: nothing of the install was found in account {} in {} sweeps in a row",
                install.account_id, findings.clean_streak
            ),
        )
        .data(FINDINGS_KEY, value)
        .data(
            SweepRetired::KEY,
            serde_json::to_value(&retired).map_err(|e| Error::Corrupt(e.to_string()))?,
        )
        .only_from(InstallStatus::Removed);
        deps.store.record(&install.install_id, change).await?;
        return Ok(Checked {
            result: CheckResult::Retired,
            ..checked
        });
    }
    if !findings.worth_an_event(previous.as_ref(), had_leftovers) {
        deps.store
            .set_step_data_quietly(&install.install_id, FINDINGS_KEY, &value)
            .await?;
        return Ok(checked);
    }
    // The findings and their event in one write: a reader never sees new findings without
    // the event that announces them.
    let change = Change::new(
        Step::SweepDangling,
        findings.outcome(),
        findings.message(install.account_id.as_str()),
    )
    .data(FINDINGS_KEY, value);
    deps.store.record(&install.install_id, change).await?;
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(status: InstallStatus, keep: bool) -> Install {
        serde_json::from_value(serde_json::json!({
            "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "account_id": "111122223333",
            "region": "us-east-1", "status": status, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "version": 9, "options": {"keep_failed_resources": keep},
        }))
        .unwrap()
    }

    #[test]
    fn only_a_failed_install_kept_for_inspection_is_just_reported() {
        assert_eq!(
            action_for(&install(InstallStatus::Failed, true)),
            Action::Report
        );
        assert_eq!(
            action_for(&install(InstallStatus::Failed, false)),
            Action::Delete
        );
        assert_eq!(
            action_for(&install(InstallStatus::Removed, true)),
            Action::Delete,
            "removing it asked for everything to go"
        );
    }

    #[test]
    fn installs_that_never_built_are_not_checked() {
        let mut early = install(InstallStatus::Failed, false);
        assert!(
            !built_something(&early),
            "failed at the trust or quota check"
        );
        early
            .step_data
            .insert("quota_check".into(), serde_json::json!({}));
        assert!(!built_something(&early));
        for key in ["network", "cluster", "sweep", "scheduled_sweep"] {
            let mut built = install(InstallStatus::Removed, false);
            built.step_data.insert(key.into(), serde_json::json!({}));
            assert!(built_something(&built), "{key}");
        }
        early.resources.insert("vpc_id".into(), "vpc-1".into());
        assert!(built_something(&early), "the VPC's id alone");
    }

    #[test]
    fn the_summary_reads_the_findings() {
        let failed = install(InstallStatus::Failed, true);
        let lost = Findings::unreachable(
            Access::Lost {
                message: "x".into(),
            },
            InstallStatus::Failed,
            Action::Report,
            Utc::now(),
        );
        assert_eq!(Checked::of(&failed, &lost).result, CheckResult::AccessLost);
        let clean = Findings::of_pass(
            &Default::default(),
            InstallStatus::Failed,
            Action::Report,
            Utc::now(),
        );
        assert_eq!(Checked::of(&failed, &clean).result, CheckResult::Clean);
    }
}
