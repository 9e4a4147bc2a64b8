//! The scheduled trust check. An EventBridge schedule invokes validate-trust with a Scheduled
//! Event; the run sends every ready install to the trust check's queue (`byoc_core::fleet`),
//! and the queue's batches come back to validate-trust, which, for each install, assumes its
//! customer role with the tenant's External ID and assesses the role's trust policy, as at
//! install time. The result goes on the install (`step_data.trust_check`: ok, lost or
//! weakened); a change of status also goes on its timeline (so the vendor's events and webhooks
//! hear of it once), and going bad emails the customer once, saying what to do.
//!
//! Every ready install is checked every cycle, whatever the fleet's size; one customer account
//! sees a bounded number of checks at once; one install is never checked twice at once (a lease
//! per install: two checks at once would both announce its change). One install's failure (AWS
//! throttled past the SDK's retries, the record changed meanwhile) is that install's result and
//! never stops the others; its status stays as last recorded and the next cycle checks it again.

use byoc_domain::step_record::StepRecord;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use byoc_core::customer_session;
use byoc_core::customer_stack::VendorAccess;
use byoc_core::customer_topic;
use byoc_core::fleet::FleetMessage;
use byoc_core::schedule::{ScheduleSettings, ScheduledEvent, ScheduledRun};
use byoc_core::vendor_access;
use byoc_domain::email;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallStatus, Step};
use byoc_domain::trust_check::{TrustCheck, TrustStatus, TRUST_CHECK_KEY};
use byoc_domain::Error;
use chrono::Utc;
use serde::Serialize;
use tracing::{info, info_span, warn, Instrument};

use crate::{enter, Deps, Entry, ValidateTrustError};

/// The name the job's leases and messages carry.
pub const JOB: &str = "trust-check";
const STATUSES: [InstallStatus; 1] = [InstallStatus::Ready];
/// A check is a few calls (AssumeRole, GetCallerIdentity, GetRole, DescribeStacks, two
/// writes): about a second; one that takes 30 s is an account in trouble, not to wait on.
pub const DEFAULT_SETTINGS: ScheduleSettings = ScheduleSettings {
    check_timeout: Duration::from_secs(30),
    reserve: Duration::from_secs(5),
};

/// `TRUST_CHECK_CHECK_TIMEOUT_SECONDS` and `TRUST_CHECK_RESERVE_SECONDS`, else the defaults.
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
    fn listed(message: &FleetMessage, result: CheckResult) -> Self {
        Self {
            install_id: message.install_id.to_string(),
            tenant_id: message.tenant_id.to_string(),
            result,
            changed: false,
            emailed: false,
        }
    }

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
    let run = scheduled_run(deps, deadline);
    let every_ready = |_: &Install| true;
    Ok(run
        .on_schedule(
            &deps.store,
            &deps.sqs,
            &deps.fleet,
            event,
            every_ready,
            |_, _| true,
            |m| check(deps, m),
        )
        .instrument(span)
        .await?)
}

fn scheduled_run(deps: &Deps, deadline: Instant) -> ScheduledRun<'_> {
    ScheduledRun {
        job: JOB,
        statuses: &STATUSES,
        settings: &deps.schedule,
        deadline,
    }
}

/// A batch from the trust check's queue: each install checked, under its lease.
pub async fn work(deps: &Deps, batch: SqsEvent, deadline: Instant) -> SqsBatchResponse {
    scheduled_run(deps, deadline)
        .on_batch(
            &deps.store,
            &deps.sqs,
            &deps.fleet,
            batch,
            |_, _| true,
            |m| check(deps, m),
        )
        .await
}

/// One install: checked and recorded. Never fails the run.
async fn check(deps: &Deps, listed: FleetMessage) -> Checked {
    let span =
        info_span!("trust check", install_id = %listed.install_id, tenant_id = %listed.tenant_id);
    async {
        match check_install(deps, &listed).await {
            Ok(checked) => {
                info!(result = ?checked.result, changed = checked.changed, emailed = checked.emailed, "checked");
                checked
            }
            // Removed (or being removed) since it was listed: its own steps own it now.
            Err(ValidateTrustError::Core(
                Error::InvalidTransition { .. } | Error::InstallNotFound(_),
            )) => Checked::listed(&listed, CheckResult::Skipped),
            Err(err) => {
                warn!(error = %err, "trust check did not finish; the next cycle tries again");
                Checked::listed(&listed, CheckResult::Failed)
            }
        }
    }
    .instrument(span)
    .await
}

async fn check_install(deps: &Deps, listed: &FleetMessage) -> Result<Checked, ValidateTrustError> {
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
                 create the stack again from the install link (or, if the stack is there, a resource control policy of their \
                 AWS organization now refuses principals from outside it, and must list the vendor account as trusted)",
                deps.access.stack_name, deps.vendor_account
            )),
        ),
        Entry::Unsafe(message) => (TrustStatus::Weakened, Some(message)),
    };
    // A paused or resumed access goes on the timeline first (its own event), whatever the
    // trust itself shows; a lost role says nothing of the switch, which stays as recorded.
    let access_before = vendor_access::VendorAccessRecord::of(&install);
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
    let access_changed = vendor_access::VendorAccessRecord::of(&install) != access_before;
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
