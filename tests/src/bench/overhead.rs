//! 1. Orchestration overhead: `POST /installs` to the "ready" email for installs that fit the
//!    account's quotas, with every emulator wait at zero (EKS and NAT settle at their first
//!    poll), so what is left is ours: the API, Step Functions, the functions, the Wait states the
//!    flow passes through even then (EKS answers CREATING to every create), and SNS.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::recording::{tally, Caller};
use super::session::{Session, INSTALL_TIMEOUT};
use super::stats::median;

#[derive(Debug, Clone)]
pub struct Run {
    pub install_id: String,
    /// POST → ready email, seconds.
    pub total: f64,
    pub post: f64,
    /// Seconds spent in Wait states, and how many were passed.
    pub waits: f64,
    pub wait_states: usize,
    pub transitions: usize,
    /// Per step of the timeline, seconds (see [`step_seconds`]).
    pub steps: Vec<(String, f64)>,
    /// Where the time went, from the execution's history (see [`Run::split`]).
    pub in_tasks: f64,
    pub execution: f64,
    /// Seconds in each Task state (summed over its visits), in the order first entered.
    pub tasks: Vec<(String, f64)>,
    /// From sending the request to the execution's start, and from its end to the email.
    pub before_execution: f64,
    pub after_execution: f64,
}

impl Run {
    /// The run's time by who spent it; the parts add up to `total`. The email is published
    /// by the last task, so it may arrive before the execution has ended (a negative last part).
    pub fn split(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("API, until the execution started", self.before_execution),
            ("functions (Task states)", self.in_tasks),
            ("Wait states", self.waits),
            (
                "Step Functions between states",
                self.execution - self.in_tasks - self.waits,
            ),
            (
                "after the execution ended, until the email arrived",
                self.after_execution,
            ),
        ]
    }
}

#[derive(Debug, Clone, Default)]
pub struct Overhead {
    pub runs: Vec<Run>,
    /// AWS calls the functions made for one more such install (recorded, so not timed), by
    /// `service:Action`, in the vendor's account and in the customer's: each a round trip.
    pub vendor_calls: BTreeMap<String, usize>,
    pub customer_calls: BTreeMap<String, usize>,
    /// What the local stack's IAM evaluation cost each assumed-role request of the timed runs
    /// (`GET /moto-api/byoc/iam-stats`): requests, p50 and p99 in microseconds.
    pub iam: Option<IamCost>,
}

#[derive(Debug, Clone, Default)]
pub struct IamCost {
    pub requests: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// The emulator's IAM evaluation timings since the last reset; `reset` starts afresh.
async fn iam_stats(session: &Session, reset: bool) -> Result<Option<IamCost>, String> {
    let url = format!(
        "{}/moto-api/byoc/iam-stats{}",
        session.stack.endpoint,
        if reset { "?reset=1" } else { "" }
    );
    let body: Value = reqwest::get(&url)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(body["p50_us"].as_f64().map(|p50| IamCost {
        requests: body["requests"].as_u64().unwrap_or_default(),
        p50_us: p50,
        p99_us: body["p99_us"].as_f64().unwrap_or_default(),
    }))
}

impl Overhead {
    fn median_of(&self, f: impl Fn(&Run) -> f64) -> f64 {
        median(&self.runs.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
    }

    pub fn total(&self) -> f64 {
        self.median_of(|r| r.total)
    }

    pub fn without_waits(&self) -> f64 {
        self.median_of(|r| r.total - r.waits)
    }

    pub fn waits(&self) -> f64 {
        self.median_of(|r| r.waits)
    }

    pub fn wait_states(&self) -> usize {
        self.median_of(|r| r.wait_states as f64) as usize
    }

    /// The median of each share of [`Run::split`] over the runs.
    pub fn split(&self) -> Vec<(&'static str, f64)> {
        let splits: Vec<Vec<(&'static str, f64)>> = self.runs.iter().map(Run::split).collect();
        let Some(first) = splits.first() else {
            return vec![];
        };
        first
            .iter()
            .enumerate()
            .map(|(i, (what, _))| {
                (
                    *what,
                    median(&splits.iter().map(|s| s[i].1).collect::<Vec<_>>()).unwrap_or(0.0),
                )
            })
            .collect()
    }

    /// The median of each step over the runs, in the order the steps ran.
    pub fn steps(&self) -> Vec<(String, f64)> {
        medians(self.runs.iter().map(|r| &r.steps))
    }

    /// The median time of each Task state over the runs.
    pub fn tasks(&self) -> Vec<(String, f64)> {
        medians(self.runs.iter().map(|r| &r.tasks))
    }
}

fn task_seconds(history: &super::history::History) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for state in history.states.iter().filter(|s| s.kind == "Task") {
        match out.iter_mut().find(|(name, _)| *name == state.name) {
            Some(entry) => entry.1 += state.seconds(),
            None => out.push((state.name.clone(), state.seconds())),
        }
    }
    out
}

/// Per name, the median over the runs, in the order the names first came.
fn medians<'a>(runs: impl Iterator<Item = &'a Vec<(String, f64)>>) -> Vec<(String, f64)> {
    let mut order: Vec<String> = Vec::new();
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for (name, seconds) in run {
            if !order.contains(name) {
                order.push(name.clone());
            }
            samples.entry(name.clone()).or_default().push(*seconds);
        }
    }
    order
        .into_iter()
        .map(|name| (name.clone(), median(&samples[&name]).unwrap_or(0.0)))
        .collect()
}

/// Two nodes fit a new account's 5 On-Demand Standard vCPUs: no quota request in the way.
pub fn fitting_options() -> Value {
    json!({"node_desired_size": 2, "node_max_size": 2})
}

pub async fn measure(session: &Session, runs: usize) -> Result<Overhead, String> {
    let mut overhead = Overhead::default();
    iam_stats(session, true).await?;
    for i in 0..runs {
        // Each install in an account of its own, made (untimed) before the clock starts.
        let place = session.place("bench-overhead", 1).await?;
        let started = session
            .start(&place.tenant_id, &place.accounts[0], &fitting_options())
            .await?;
        let (arrived, arrived_wall) = session
            .email(&place.inbox, &started.install_id, "ready", INSTALL_TIMEOUT)
            .await?;
        let (status, history) = session.finished(&started.execution_arn).await?;
        if status != "SUCCEEDED" {
            return Err(format!("install {} ended {status}", started.install_id));
        }
        let record = session.record(&started.install_id).await?;
        let mut steps = vec![("POST /installs".to_owned(), started.latency)];
        steps.extend(step_seconds(
            &record,
            epoch(started.wall) + started.latency,
            epoch(arrived_wall),
        ));
        let run = Run {
            install_id: started.install_id,
            total: (arrived - started.at).as_secs_f64(),
            post: started.latency,
            waits: history.wait_seconds(),
            wait_states: history.states.iter().filter(|s| s.kind == "Wait").count(),
            transitions: history.transitions(),
            steps,
            in_tasks: history
                .states
                .iter()
                .filter(|s| s.kind == "Task")
                .map(|s| s.seconds())
                .sum(),
            execution: history.duration().unwrap_or_default(),
            tasks: task_seconds(&history),
            before_execution: history.started - epoch(started.wall),
            after_execution: epoch(arrived_wall) - history.ended.unwrap_or(history.started),
        };
        let tasks: Vec<String> = run
            .tasks
            .iter()
            .map(|(name, s)| format!("{name} {s:.2}"))
            .collect();
        eprintln!(
            "  overhead run {}/{runs}: {:.2} s ({:.2} s in {} Wait states; Task states: {})",
            i + 1,
            run.total,
            run.waits,
            run.wait_states,
            tasks.join(", ")
        );
        overhead.runs.push(run);
    }
    overhead.iam = iam_stats(session, false).await?;
    (overhead.vendor_calls, overhead.customer_calls) = calls_of_one(session).await?;
    Ok(overhead)
}

/// One more install like the timed ones, with moto's recorder on: the AWS calls it took.
async fn calls_of_one(
    session: &Session,
) -> Result<(BTreeMap<String, usize>, BTreeMap<String, usize>), String> {
    let place = session.place("bench-overhead", 1).await?;
    session.recorder.start().await?;
    session.recorder.mark("one-begin").await?;
    let started = session
        .start(&place.tenant_id, &place.accounts[0], &fitting_options())
        .await?;
    session
        .email(&place.inbox, &started.install_id, "ready", INSTALL_TIMEOUT)
        .await?;
    session.finished(&started.execution_arn).await?;
    session
        .logs
        .wait_quiet(
            std::time::Duration::from_secs(2),
            std::time::Duration::from_secs(30),
        )
        .await;
    session.recorder.mark("one-end").await?;
    let recording = session.recorder.stop().await?;
    let calls = recording.window("one-begin", "one-end");
    Ok((
        tally(&calls, |c| *c == Caller::Vendor),
        tally(&calls, |c| *c == Caller::Customer),
    ))
}

pub fn epoch(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn at(event: &Value) -> Option<f64> {
    let time: DateTime<Utc> = event["at"].as_str()?.parse().ok()?;
    Some(time.timestamp_micros() as f64 / 1e6)
}

/// The timeline cut into steps: each step from its first event to the first event of the step
/// after it (steps are summed where they interleave), the first from when the API answered,
/// then the email's delivery after the last event. The same cut as `byoc installs watch`.
pub fn step_seconds(install: &Value, answered: f64, email: f64) -> Vec<(String, f64)> {
    let mut spans: Vec<(String, f64)> = Vec::new();
    for event in install["timeline"].as_array().into_iter().flatten() {
        let (Some(step), Some(time)) = (event["step"].as_str(), at(event)) else {
            continue;
        };
        if spans.last().is_none_or(|(last, _)| last != step) {
            spans.push((step.to_owned(), time));
        }
    }
    let last_event = install["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(at)
        .fold(f64::NAN, f64::max);
    let mut out: Vec<(String, f64)> = Vec::new();
    for (i, (step, start)) in spans.iter().enumerate() {
        let start = if i == 0 { answered.min(*start) } else { *start };
        let end = spans.get(i + 1).map_or(last_event, |next| next.1);
        let seconds = (end - start).max(0.0);
        match out.iter_mut().find(|(s, _)| s == step) {
            Some(existing) => existing.1 += seconds,
            None => out.push((step.clone(), seconds)),
        }
    }
    if last_event.is_finite() {
        out.push(("email delivery".to_owned(), (email - last_event).max(0.0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_until_the_next_one_starts_and_the_email_ends_it() {
        let install = json!({"timeline": [
            {"step": "request", "at": "2026-01-01T00:00:00Z"},
            {"step": "validate-trust", "at": "2026-01-01T00:00:01Z"},
            {"step": "create-network", "at": "2026-01-01T00:00:02Z"},
            {"step": "create-cluster", "at": "2026-01-01T00:00:04Z"},
            {"step": "create-network", "at": "2026-01-01T00:00:05Z"},
            {"step": "create-cluster", "at": "2026-01-01T00:00:06Z"},
            {"step": "notify", "at": "2026-01-01T00:00:07Z"},
            {"step": "notify", "at": "2026-01-01T00:00:07.5Z"},
        ]});
        let t0 = 1_767_225_600.0;
        let steps = step_seconds(&install, t0, t0 + 8.0);
        let get = |name: &str| {
            steps
                .iter()
                .find(|(s, _)| s == name)
                .map(|(_, v)| *v)
                .unwrap()
        };
        assert_eq!(get("request"), 1.0);
        assert_eq!(get("create-network"), 3.0);
        assert_eq!(get("create-cluster"), 2.0);
        assert_eq!(get("notify"), 0.5);
        assert_eq!(get("email delivery"), 0.5);
        assert_eq!(steps.iter().map(|(_, v)| v).sum::<f64>(), 8.0);
    }
}
