//! sweep-dangling: removes everything an install made in the customer's account, in
//! dependency order, one pass per call. A pass discovers what is left (by tag, by Kubernetes
//! tag, by VPC membership, by the cluster's name), deletes what nothing depends on any more,
//! and says whether anything remains; the state machine waits and calls again until nothing
//! does. A dry run only reports what would go and what it costs meanwhile. On an EventBridge
//! schedule it gives the removed and failed installs one pass each (`schedule`).

pub mod attempt;
pub mod classic_elb_found;
pub mod cost;
pub mod delete;
pub mod discover;
pub mod ec2_found;
pub mod eks_found;
pub mod elb_found;
pub mod event;
pub mod findings;
pub mod kubernetes;
pub mod report;
pub mod schedule;
pub mod settings;

use aws_config::SdkConfig;
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::deletion_order::{ready_now, Kind, ORDER};
use byoc_core::ids::{InstallId, TenantId};
use byoc_core::install_change::Change;
use byoc_core::model::{Outcome, Step};
use byoc_core::step_input::StepInput;
use byoc_core::store::InstallStore;
use byoc_core::tags::cluster_name;
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use tracing::{info, info_span, warn, Instrument};

use crate::attempt::Attempt;
use crate::discover::{discover, Clients, Discovery};
use crate::event::SweepEvent;
use crate::report::Pass;
use crate::schedule::ScheduledReport;
use crate::settings::ScheduleSettings;

/// The key of the sweep's record in the install's step data.
pub const RECORD_KEY: &str = byoc_core::leftover::SWEEP_RECORD_KEY;

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config; the customer config derives from it per call.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    pub schedule: ScheduleSettings,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Delete,
    DryRun,
    /// A failed install's Catch: delete, unless the install asked to keep what a failed
    /// install made for inspection (option `keep_failed_resources`), then only report.
    Rollback,
}

/// Ids only, like every step's input; other fields (a caught `error`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepInput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    #[serde(default)]
    pub mode: Mode,
}

/// What a call answers: a pass's counts to the state machine, a scheduled run's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SweepResponse {
    Pass(SweepOutput),
    Scheduled(ScheduledReport),
}

/// Ids and counts. `mode` is echoed so a state machine looping on its own output cannot turn
/// a dry run into a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepOutput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub mode: Mode,
    pub remaining: usize,
    pub done: bool,
    /// What the remaining resources cost a month (USD, list prices) while they stay.
    pub monthly_cost_usd: f64,
    /// How many of the remaining ones waiting will not remove (listed on the sweep record).
    #[serde(default)]
    pub leftovers: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Loading the install, assuming the customer role, a Describe call or the record failed.
    /// DependencyViolation and throttling on deletions are not errors: they leave the
    /// resource for the next pass.
    #[error(transparent)]
    Core(#[from] byoc_core::Error),
}

impl From<SweepError> for Diagnostic {
    fn from(err: SweepError) -> Self {
        let error_type = match &err {
            SweepError::Core(core) => core.error_name(),
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// One pass over an install, or a scheduled run that must be done by `deadline`.
pub async fn handle(
    deps: &Deps,
    event: SweepEvent,
    deadline: std::time::Instant,
) -> Result<SweepResponse, SweepError> {
    // Boxed: the two paths' futures nest deeply enough to overflow the compiler's layout limit.
    match event {
        SweepEvent::Install(input) => Box::pin(handle_install(deps, input))
            .await
            .map(SweepResponse::Pass),
        SweepEvent::Scheduled(event) => Box::pin(schedule::run(deps, &event, deadline))
            .await
            .map(SweepResponse::Scheduled),
    }
}

async fn handle_install(deps: &Deps, input: SweepInput) -> Result<SweepOutput, SweepError> {
    let span = info_span!("sweep-dangling", install_id = %input.install_id, tenant_id = %input.tenant_id, mode = ?input.mode);
    async {
        let result = sweep(deps, &input).await;
        match &result {
            Ok(out) => info!(
                remaining = out.remaining,
                done = out.done,
                "sweep pass finished"
            ),
            Err(err) => warn!(error = %err, "sweep pass failed"),
        }
        result
    }
    .instrument(span)
    .await
}

async fn sweep(deps: &Deps, input: &SweepInput) -> Result<SweepOutput, SweepError> {
    let step_input = StepInput {
        install_id: input.install_id.clone(),
        tenant_id: input.tenant_id.clone(),
    };
    let session =
        customer_session::open(&deps.store, &deps.base, &deps.access, &step_input).await?;
    let install = &session.install;
    let kept_for_inspection = input.mode == Mode::Rollback && install.options.keep_failed_resources;
    let mode = match input.mode {
        Mode::Rollback if kept_for_inspection => Mode::DryRun,
        Mode::Rollback => Mode::Delete,
        other => other,
    };
    if starts_a_sweep(install.step_data.get(RECORD_KEY), mode) {
        let what = if kept_for_inspection {
            "keeping for inspection, as the install's options ask,"
        } else if mode == Mode::DryRun {
            "looking for"
        } else {
            "removing"
        };
        // A new sweep's record replaces the scheduled checks' findings of an earlier one.
        let change = Change::new(
            Step::SweepDangling,
            Outcome::Started,
            format!(
                "{what} what the install made in account {} ({})",
                install.account_id, install.region
            ),
        )
        .forget(byoc_core::leftover::SCHEDULED_FINDINGS_KEY);
        deps.store.record(&install.install_id, change).await?;
    }

    let clients = Clients::new(&session.config);
    let mut pass = pass_of(discover(&clients, install).await?);
    if mode == Mode::Delete {
        delete_what_can_go(&clients, &cluster_name(install), &mut pass).await;
        pass.settle(install.region.as_str(), &cluster_name(install));
    }

    let outcome = match mode {
        Mode::DryRun => Outcome::Succeeded,
        // The customer has to act on what is left: an "Action Needed" event.
        _ if pass.done() && !pass.leftovers.is_empty() => Outcome::Failed,
        _ if pass.done() => Outcome::Succeeded,
        _ => Outcome::Waiting,
    };
    let change = Change::new(Step::SweepDangling, outcome, pass.message(mode))
        .data(RECORD_KEY, pass.record(mode));
    deps.store.record(&install.install_id, change).await?;
    Ok(SweepOutput {
        install_id: input.install_id.clone(),
        tenant_id: input.tenant_id.clone(),
        mode: input.mode,
        remaining: pass.remaining.len(),
        done: mode == Mode::DryRun || pass.done(),
        monthly_cost_usd: pass.monthly_cost_usd(),
        leftovers: pass.leftovers.len(),
    })
}

/// A new sweep begins unless the last pass recorded was an unfinished one of the same mode.
fn starts_a_sweep(last: Option<&serde_json::Value>, mode: Mode) -> bool {
    let Some(last) = last else { return true };
    let same_mode = last
        .get("mode")
        .and_then(|m| serde_json::from_value::<Mode>(m.clone()).ok())
        == Some(mode);
    !same_mode || last.get("done").and_then(|d| d.as_bool()).unwrap_or(true)
}

/// A pass that has deleted nothing yet: everything found to delete still remains.
pub(crate) fn pass_of(discovery: Discovery) -> Pass {
    Pass {
        found: discovery.delete.clone(),
        remaining: discovery.delete,
        kept: discovery.kept,
        unhandled: discovery.unhandled,
        notes: discovery.notes,
        ..Default::default()
    }
}

/// Walks the kinds in deletion order, issuing every deletion whose blockers are gone, so one
/// pass gets as far as AWS lets it (a VPC whose parts all delete at once goes in one pass).
pub(crate) async fn delete_what_can_go(clients: &Clients, cluster: &str, pass: &mut Pass) {
    for kind in ORDER {
        let ready: Vec<usize> = ready_now(&pass.remaining)
            .into_iter()
            .filter(|&i| pass.remaining[i].kind == kind)
            .collect();
        if ready.is_empty() {
            continue;
        }
        if kind == Kind::SecurityGroup {
            let groups: Vec<String> = ready
                .iter()
                .map(|&i| pass.remaining[i].id.clone())
                .collect();
            delete::revoke_rules(clients, &groups).await;
        }
        let mut gone = vec![];
        for i in ready {
            let found = &mut pass.remaining[i];
            let attempt = delete::delete(clients, cluster, found).await;
            match &attempt {
                Attempt::Gone => gone.push(i),
                Attempt::Started => found.deleting = true,
                Attempt::Later { code } => {
                    info!(kind = %found.kind, id = %found.id, code, "not deletable yet")
                }
                Attempt::Failed { code, message } => {
                    warn!(kind = %found.kind, id = %found.id, code, message, "deletion refused")
                }
            }
            pass.attempts.push((found.kind, found.id.clone(), attempt));
        }
        for i in gone.into_iter().rev() {
            pass.remaining.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_defaults_to_delete_and_ignores_a_caught_error() {
        let input: SweepInput = serde_json::from_value(json!({
            "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "error": {"Error": "Transient"}
        }))
        .unwrap();
        assert_eq!(input.mode, Mode::Delete);
        let dry: SweepInput = serde_json::from_value(json!({"install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "mode": "dry_run"})).unwrap();
        assert_eq!(dry.mode, Mode::DryRun);
        assert!(serde_json::from_value::<SweepInput>(json!({"install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "mode": "nuke"})).is_err());
    }

    #[test]
    fn output_fed_back_as_input_keeps_the_mode() {
        let out = SweepOutput {
            install_id: InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap(),
            tenant_id: TenantId::parse("t", "acme").unwrap(),
            mode: Mode::DryRun,
            remaining: 3,
            done: true,
            monthly_cost_usd: 1.5,
            leftovers: 0,
        };
        let again: SweepInput =
            serde_json::from_value(serde_json::to_value(&out).unwrap()).unwrap();
        assert_eq!(again.mode, Mode::DryRun);
    }

    #[test]
    fn a_sweep_starts_afresh_after_a_finished_one_or_a_mode_change() {
        assert!(starts_a_sweep(None, Mode::Delete));
        assert!(!starts_a_sweep(
            Some(&json!({"mode": "delete", "done": false})),
            Mode::Delete
        ));
        assert!(starts_a_sweep(
            Some(&json!({"mode": "delete", "done": true})),
            Mode::Delete
        ));
        assert!(starts_a_sweep(
            Some(&json!({"mode": "dry_run", "done": true})),
            Mode::Delete
        ));
    }
}
