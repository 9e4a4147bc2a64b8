//! A scheduled job (the scheduled sweep, the trust check, the version check) run through the
//! Lambda Invoke API with a "Scheduled Event", as its EventBridge schedule runs it. A schedule's
//! own event sends the whole fleet to the job's queue (`fleet.rs` tests that); a test that
//! checks what one check does names its installs in the event (`detail.install_ids`, as an
//! operator may), which runs the same check on them at once, each under its install's lease,
//! and so does not make every other test's installs work for it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::invoke::invoke;
use crate::{Api, LocalStack};

/// How long a test waits in all for runs of a job other tests' runs hold.
const BUSY_WAIT: Duration = Duration::from_secs(240);

/// A scheduled job: the function the rule targets, the rule, where a run records its check.
pub struct ScheduledJob {
    /// The step whose function the schedule invokes (e.g. "sweep-dangling").
    pub function: &'static str,
    /// The EventBridge rule's name, as the event names it.
    pub rule: &'static str,
    /// The key under the install's `step_data` that holds the check's `checked_at`.
    pub record_key: &'static str,
    /// Runs a test makes at most while waiting for its installs to be checked.
    pub max_runs: usize,
}

impl ScheduledJob {
    /// The event EventBridge sends the function when the rule fires.
    pub fn event(&self, stack: &LocalStack) -> Value {
        self.event_for(stack, &[])
    }

    /// The same event naming `ids`: the run checks those at once.
    pub fn event_for(&self, stack: &LocalStack, ids: &[&str]) -> Value {
        let account = &stack.outputs.vendor_account_id;
        json!({
            "version": "0", "id": "7d1e2c4a-0b7e-4a51-9d0e-3f2a1b0c9d8e", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account, "time": Utc::now().to_rfc3339(), "region": stack.outputs.region,
            "resources": [format!("arn:aws:events:{}:{account}:rule/{}", stack.outputs.region, self.rule)],
            "detail": if ids.is_empty() { json!({}) } else { json!({"install_ids": ids}) }
        })
    }

    /// When the job last checked the install `record` (as `GET /installs/{id}` shows it).
    pub fn checked_at(&self, record: &Value) -> Option<DateTime<Utc>> {
        record["step_data"][self.record_key]["checked_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
    }

    /// Runs the job on `ids` until every one of them was checked after `since`; their records.
    pub async fn run_until_checked(
        &self,
        stack: &LocalStack,
        api: &Api,
        ids: &[&str],
        since: DateTime<Utc>,
    ) -> Vec<Value> {
        // Runs that found an install busy do not count: another run (a fleet test's cycle) is
        // checking it. Time bounds the wait for it.
        let give_up = std::time::Instant::now() + BUSY_WAIT;
        let mut runs = 0;
        while runs < self.max_runs && std::time::Instant::now() < give_up {
            let report = invoke(stack, self.function, &self.event_for(stack, ids))
                .await
                .unwrap_or_else(|e| panic!("the scheduled run failed: {e:?}"));
            assert!(report["checked"].is_array(), "{report:#}");
            if report["busy"] == true {
                tokio::time::sleep(Duration::from_millis(500)).await;
            } else {
                runs += 1;
            }
            let mut records = vec![];
            for id in ids {
                records.push(api.get(&format!("/installs/{id}")).await.unwrap().json);
            }
            if records
                .iter()
                .all(|r| self.checked_at(r).is_some_and(|t| t >= since))
            {
                return records;
            }
        }
        panic!(
            "{ids:?} not checked after {} scheduled runs of {}",
            self.max_runs, self.function
        );
    }
}
