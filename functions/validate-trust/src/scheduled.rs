//! The scheduled trust check. An EventBridge schedule invokes validate-trust with a Scheduled
//! Event; the run walks the ready installs, oldest first, through the `installs-by-status`
//! index and, for each, assumes its customer role with the tenant's External ID and assesses
//! the role's trust policy, as at install time. The result goes on the install
//! (`step_data.trust_check`: ok, lost or weakened); a change of status also goes on its
//! timeline (so the vendor's events and webhooks hear of it once), and going bad emails the
//! customer once, saying what to do.
//!
//! A run is bounded (installs per run, time left before the Lambda's timeout) and keeps where
//! it stopped; the next run carries on. Runs never overlap (a lease on the job): two checks of
//! one install at once would both announce its change. One install's failure (AWS throttled, the record
//! changed meanwhile) is that install's result and never stops the others; its status stays
//! as last recorded and the next round checks it again.

use std::time::{Duration, Instant};

use byoc_core::customer_session;
use byoc_core::customer_stack::VendorAccess;
use byoc_core::customer_topic;
use byoc_core::email;
use byoc_core::install_change::Change;
use byoc_core::model::{Install, InstallStatus, Step};
use byoc_core::schedule::{ScheduleSettings, ScheduledEvent, ScheduledRun};
use byoc_core::trust_check::{TrustCheck, TrustStatus, TRUST_CHECK_KEY};
use byoc_core::vendor_access;
use byoc_core::Error;
use chrono::Utc;
use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use crate::{enter, Deps, Entry, ValidateTrustError};

/// The name the run's cursor is kept under.
pub const JOB: &str = "trust-check";
const STATUSES: [InstallStatus; 1] = [InstallStatus::Ready];
/// Installs read from the index per query.
const PAGE: i32 = 25;
/// A check is a few calls (AssumeRole, GetCallerIdentity, GetRole, two writes): about a second.
pub const DEFAULT_SETTINGS: ScheduleSettings = ScheduleSettings {
    max_installs: 100,
    reserve: Duration::from_secs(15),
};

/// `TRUST_CHECK_MAX_INSTALLS` and `TRUST_CHECK_RESERVE_SECONDS`, else the defaults.
pub fn settings_from_env() -> Result<ScheduleSettings, Error> {
    ScheduleSettings::from_env("TRUST_CHECK", DEFAULT_SETTINGS)
}

/// What one scheduled run did, install by install (ids and statuses only).
pub type ScheduledReport = byoc_core::schedule::ScheduledReport<Checked>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    pub install_id: String,
    pub tenant_id: String,
    pub result: CheckResult,
    /// The status differs from the last check's (a timeline event was written).
    pub changed: bool,
    /// The customer was emailed.
    pub emailed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    Ok,
    Lost,
    Weakened,
    /// The check did not finish (AWS unavailable or throttled); the next round tries again.
    Failed,
    /// No longer ready when it was read (being removed): not checked.
    Skipped,
    /// The role lets the vendor in, but the customer paused the vendor's access (their
    /// choice: recorded as "Access Paused" once, never emailed as a failure).
    Paused,
}

impl Checked {
    fn new(install: &Install, result: CheckResult) -> Self {
        Self {
            install_id: install.install_id.to_string(),
            tenant_id: install.tenant_id.to_string(),
            result,
            changed: false,
            emailed: false,
        }
    }
}

impl From<TrustStatus> for CheckResult {
    fn from(status: TrustStatus) -> Self {
        match status {
            TrustStatus::Ok => CheckResult::Ok,
            TrustStatus::Lost => CheckResult::Lost,
            TrustStatus::Weakened => CheckResult::Weakened,
        }
    }
}

pub async fn run(
    deps: &Deps,
    event: &ScheduledEvent,
    deadline: Instant,
) -> Result<ScheduledReport, ValidateTrustError> {
    let span = info_span!(
        "validate-trust scheduled",
        fired_at = event.time.as_deref().unwrap_or("?")
    );
    async {
        let run = ScheduledRun {
            job: JOB,
            statuses: &STATUSES,
            page: PAGE,
            settings: &deps.schedule,
            deadline,
        };
        let Some((checked, more)) = run
            .walk_alone(
                &deps.store,
                |_| true,
                |install| async move { check(deps, &install).await },
            )
            .await?
        else {
            info!("another scheduled trust check is under way; this one leaves it the round");
            return Ok(ScheduledReport::of(None));
        };
        let bad = checked
            .iter()
            .filter(|c| matches!(c.result, CheckResult::Lost | CheckResult::Weakened))
            .count();
        info!(
            checked = checked.len(),
            bad, more, "scheduled trust check finished"
        );
        Ok(ScheduledReport::of(Some((checked, more))))
    }
    .instrument(span)
    .await
}

/// One install: checked and recorded. Never fails the run.
async fn check(deps: &Deps, listed: &Install) -> Checked {
    let span =
        info_span!("trust check", install_id = %listed.install_id, tenant_id = %listed.tenant_id);
    async {
        match check_install(deps, listed).await {
            Ok(checked) => {
                info!(result = ?checked.result, changed = checked.changed, emailed = checked.emailed, "checked");
                checked
            }
            // Removed (or being removed) since it was listed: its own steps own it now.
            Err(ValidateTrustError::Core(Error::InvalidTransition { .. })) => Checked::new(listed, CheckResult::Skipped),
            Err(err) => {
                warn!(error = %err, "trust check did not finish; the next round tries again");
                Checked::new(listed, CheckResult::Failed)
            }
        }
    }
    .instrument(span)
    .await
}

async fn check_install(deps: &Deps, listed: &Install) -> Result<Checked, ValidateTrustError> {
    // The index is eventually consistent: act on the install as it is now.
    let install = deps.store.get_install(&listed.install_id).await?;
    if install.status != InstallStatus::Ready {
        return Ok(Checked::new(&install, CheckResult::Skipped));
    }
    let tenant = deps.store.get_tenant(&install.tenant_id).await?;
    // When the role was tried: what the check says held then, however long recording takes.
    let checked_at = Utc::now();
    let entry = enter(deps, &install, &tenant.external_id).await?;
    let paused = matches!(entry, Entry::Paused);
    let (status, reason) = match entry {
        Entry::Entered { .. } | Entry::Paused => (TrustStatus::Ok, None),
        Entry::Denied { role_arn } => (
            TrustStatus::Lost,
            Some(format!(
                "could not assume role {role_arn} with this tenant's External ID: the customer's access stack \"{}\" was \
                 deleted, or the role no longer trusts the vendor account {} with this External ID; the customer must \
                 create the stack again from the install link",
                deps.access.stack_name, deps.vendor_account
            )),
        ),
        Entry::Unsafe(message) => (TrustStatus::Weakened, Some(message)),
    };
    // A paused or resumed access goes on the timeline first (its own event), whatever the
    // trust itself shows; a lost role says nothing of the switch, which stays as recorded.
    let access_before = vendor_access::VendorAccessRecord::recorded(&install);
    let install = match (&status, paused) {
        (TrustStatus::Ok, true) => {
            let instruction = customer_session::resume_instruction(&deps.access);
            vendor_access::note(&deps.store, install, VendorAccess::Paused, &instruction).await?
        }
        (TrustStatus::Ok, false) => {
            vendor_access::note(&deps.store, install, VendorAccess::Enabled, "").await?
        }
        _ => install,
    };
    let access_changed = vendor_access::VendorAccessRecord::recorded(&install) != access_before;
    let previous = TrustCheck::recorded(&install.step_data);
    let found = TrustCheck::new(status, reason, checked_at, previous.as_ref());
    let emailed = record(deps, &install, &found, previous.as_ref()).await?;
    let result = if paused {
        CheckResult::Paused
    } else {
        status.into()
    };
    Ok(Checked {
        changed: found.changed(previous.as_ref()) || access_changed,
        emailed,
        ..Checked::new(&install, result)
    })
}

/// Keeps the check on the install; on a change of status also tells the timeline and, when it
/// went bad, the customer. Whether the customer was emailed.
async fn record(
    deps: &Deps,
    install: &Install,
    found: &TrustCheck,
    previous: Option<&TrustCheck>,
) -> Result<bool, ValidateTrustError> {
    let value = serde_json::to_value(found).map_err(|e| Error::Corrupt(e.to_string()))?;
    if !found.changed(previous) {
        deps.store
            .set_step_data_quietly(&install.install_id, TRUST_CHECK_KEY, &value)
            .await?;
        return Ok(false);
    }
    let mut message = found.message(install.account_id.as_str());
    let emailed = found.emails_customer(previous);
    if emailed {
        // Published before the record, as notify does: a crash in between emails again on
        // the next run (at least once) rather than never.
        let email = email::access_at_risk(
            &deps.vendor_name,
            install,
            found.status,
            found.reason.as_deref().unwrap_or_default(),
        );
        let notice = format!("trust-{}", found.status.as_str());
        let message_id =
            customer_topic::publish(&deps.sns, &deps.topic_arn, install, &email, &notice).await?;
        message.push_str(&format!("; customer emailed (SNS message {message_id})"));
    }
    // Only while ready: a removal that started meanwhile owns the install's timeline.
    let change = Change::new(Step::ValidateTrust, found.outcome(), message)
        .data(TRUST_CHECK_KEY, value)
        .only_from(InstallStatus::Ready);
    deps.store.record(&install.install_id, change).await?;
    Ok(emailed)
}
