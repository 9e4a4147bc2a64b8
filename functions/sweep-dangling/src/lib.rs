//! sweep-dangling: removes everything an install made in the customer's account, in
//! dependency order, one pass per call. A pass discovers what is left (by tag, by Kubernetes
//! tag, by VPC membership, by the cluster's name), deletes what nothing depends on any more,
//! and says whether anything remains; the state machine waits and calls again until nothing
//! does. A dry run only reports what would go and what it costs meanwhile. On an EventBridge
//! schedule it gives the removed and failed installs one pass each (`schedule`).
//!
//! Dependencies point one way, from the entry points down to the domain (`byoc_core`):
//!
//! - `step` (a state machine's pass) and `schedule` (the scheduled run, with `findings`) use
//! - `pass` (the engine), which uses `discover` (what is left), `delete` (one call per
//!   resource) and `report` (what a pass found and did, with `cost` and `attempt`); these use
//! - `clients` (vendor deps, customer clients, the cluster's `kubernetes` API), `input` (what
//!   invokes the function and what a pass answers), `error` and `settings`.
//!
//! `discover`'s parts each take one client and depend only on `discover::ownership` and the
//! domain's rules. No module imports this crate root.

pub mod attempt;
pub mod clients;
pub mod cost;
pub mod delete;
pub mod discover;
pub mod error;
pub mod findings;
pub mod input;
pub mod kubernetes;
pub mod pass;
pub mod report;
pub mod schedule;
pub mod settings;
pub mod step;

use serde::Serialize;

pub use clients::Deps;
pub use error::SweepError;
pub use input::{Mode, SweepEvent, SweepInput, SweepOutput};
pub use report::RECORD_KEY;
use schedule::ScheduledReport;

/// What a call answers: a pass's counts to the state machine, a scheduled run's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SweepResponse {
    Pass(SweepOutput),
    Scheduled(ScheduledReport),
    Queue(aws_lambda_events::event::sqs::SqsBatchResponse),
}

/// One pass over an install, or a scheduled run that must be done by `deadline`.
pub async fn handle(
    deps: &Deps,
    event: SweepEvent,
    deadline: std::time::Instant,
) -> Result<SweepResponse, SweepError> {
    // Boxed: the two paths' futures nest deeply enough to overflow the compiler's layout limit.
    match event {
        SweepEvent::Install(input) => Box::pin(step::run(deps, input))
            .await
            .map(SweepResponse::Pass),
        SweepEvent::Scheduled(event) => Box::pin(schedule::run(deps, &event, deadline))
            .await
            .map(SweepResponse::Scheduled),
        SweepEvent::Queue(batch) => Ok(SweepResponse::Queue(
            Box::pin(schedule::work(deps, batch, deadline)).await,
        )),
    }
}
