//! One pass over an install as the state machine's SweepDangling step (an uninstall, a failed
//! install's rollback, a dry run): open the customer session, run a pass, record it, and say
//! whether anything remains, so the state machine waits and calls again until nothing does.

use byoc_core::customer_session;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Outcome, Step};
use byoc_domain::step_input::StepInput;
use byoc_domain::step_record::StepRecord;
use byoc_domain::sweep_record::SweepRecord;
use tracing::{info, warn};

use crate::clients::{Clients, Deps};
use crate::discover::discover;
use crate::error::SweepError;
use crate::input::{Mode, SweepInput, SweepOutput};
use crate::pass::{delete_and_settle, pass_of};

#[tracing::instrument(name = "sweep-dangling", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id, mode = ?input.mode))]
pub async fn run(deps: &Deps, input: SweepInput) -> Result<SweepOutput, SweepError> {
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
    if SweepRecord::starts_a_sweep(SweepRecord::of(install).as_ref(), mode) {
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
        .forget(byoc_domain::leftover::SCHEDULED_FINDINGS_KEY);
        deps.store.record(&install.install_id, change).await?;
    }

    let clients = Clients::new(&session.config);
    let mut pass = pass_of(discover(&clients, install).await?);
    if mode == Mode::Delete {
        delete_and_settle(&clients, install, &mut pass).await?;
    }

    let outcome = match mode {
        Mode::DryRun => Outcome::Succeeded,
        // The customer has to act on what is left: an "Action Needed" event.
        _ if pass.done() && !pass.leftovers.is_empty() => Outcome::Failed,
        _ if pass.done() => Outcome::Succeeded,
        _ => Outcome::Waiting,
    };
    let change =
        Change::new(Step::SweepDangling, outcome, pass.message(mode)).record(&pass.record(mode));
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
