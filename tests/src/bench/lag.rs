//! 3. Detection lag: how long after a resource is ready the install moves on.
//!
//! The cluster, its node group and the NAT gateways are watched by watch-install (the state
//! machine waits on a callback): each check invokes create-network then create-cluster and,
//! while something is still being made, re-sends its SQS message delayed by the schedule of
//! byoc_domain::watch_schedule (at once, then 2, 4, 8 s, then every `ResourcePollSeconds` P). In the steady
//! state a check follows the previous one after C = P + o, o being the check itself, the
//! heartbeat, the re-send and SQS's delivery. A resource that becomes ready at a moment
//! uniformly spread over that cycle is seen by the next check, 0 to C later, and the install
//! moves on when that check has ended the wait (d: its own time plus Step Functions resuming):
//! lag = U(0, C) + d, worst C + d, median C/2 + d. Quota approvals likewise, every
//! `QuotaPollSeconds`.
//!
//! Measured on the modelled install's run (bench stack: P = 1 s) from the watcher's log lines:
//! o from the steady-state checks, d from the check that found everything ready to the
//! callback task's end in the execution history; the check intervals observed must be P + o.

use std::path::Path;

use chrono::DateTime;
use serde_json::Value;

use super::history::History;
use super::stats::{median, percentile};

/// One check of a watch, from watch-install's log line for it.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchCheck {
    pub install_id: String,
    /// `cluster`, `quota` or `upgrade`.
    pub watch: String,
    pub check: u64,
    /// `waiting`, `done`, `failed`, `retry`, `duplicate`, `gone`.
    pub outcome: String,
    /// Seconds until the next check (waiting and retry only).
    pub delay: Option<f64>,
    /// When the line was written, seconds since the epoch.
    pub at: f64,
}

impl WatchCheck {
    /// A watch-install JSON log line that reports a check's outcome.
    pub fn parse(line: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(line).ok()?;
        let fields = &value["fields"];
        let span = &value["span"];
        let outcome = fields["outcome"].as_str()?.to_owned();
        let at = DateTime::parse_from_rfc3339(value["timestamp"].as_str()?).ok()?;
        Some(Self {
            install_id: span["install_id"].as_str()?.to_owned(),
            watch: span["watch"].as_str()?.to_owned(),
            check: span["check"].as_u64()?,
            outcome,
            delay: fields["delay"].as_f64(),
            at: at.timestamp_micros() as f64 / 1e6,
        })
    }

    /// Every check of `install_id` in the watcher's log file, read from `offset` on.
    pub fn read(log: &Path, offset: u64, install_id: &str) -> Vec<Self> {
        let bytes = std::fs::read(log).unwrap_or_default();
        let start = (offset as usize).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..])
            .lines()
            .filter_map(Self::parse)
            .filter(|c| c.install_id == install_id)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Lag {
    /// The production poll interval (cfn/vendor.yaml's default) and the bench stack's.
    pub poll_seconds: f64,
    pub bench_poll_seconds: f64,
    pub quota_poll_seconds: f64,
    /// Measured, median: a steady-state check cycle beyond its delay (o), and the time from the
    /// check that found everything ready to the end of the wait (d).
    pub check_overhead: f64,
    pub resume: f64,
    /// Check intervals observed on the bench stack in the steady state: median and max.
    pub observed_cycle_median: f64,
    pub observed_cycle_max: f64,
    pub cycles_observed: usize,
}

impl Lag {
    /// The install's cluster wait (`WaitForCluster`, watch `cluster`).
    pub fn from_run(
        history: &History,
        checks: &[WatchCheck],
        poll_seconds: f64,
        bench_poll_seconds: f64,
        quota_poll_seconds: f64,
    ) -> Option<Self> {
        let polls = (poll_seconds, bench_poll_seconds, quota_poll_seconds);
        Self::from_wait(history, checks, "cluster", "WaitForCluster", polls)
    }

    /// Any callback wait: the checks of `watch`, ended by the callback task `state`; `polls`
    /// is (production P, the bench stack's P, `QuotaPollSeconds`).
    pub fn from_wait(
        history: &History,
        checks: &[WatchCheck],
        watch: &str,
        state: &str,
        polls: (f64, f64, f64),
    ) -> Option<Self> {
        let (poll_seconds, bench_poll_seconds, quota_poll_seconds) = polls;
        let watched: Vec<&WatchCheck> = checks.iter().filter(|c| c.watch == watch).collect();
        // Consecutive checks where the first asked for the steady-state delay.
        let mut cycles = Vec::new();
        let mut overheads = Vec::new();
        for pair in watched.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            if before.outcome == "waiting"
                && after.check == before.check + 1
                && before.delay == Some(bench_poll_seconds)
            {
                cycles.push(after.at - before.at);
                overheads.push(after.at - before.at - bench_poll_seconds);
            }
        }
        // The check that ended the wait, and the callback task's end in the history.
        let done = watched.iter().rev().find(|c| c.outcome == "done")?;
        let wait_ended = history
            .states
            .iter()
            .rev()
            .find(|s| s.name == state)?
            .exited?;
        let last_cycle_start = watched
            .iter()
            .rev()
            .find(|c| c.check + 1 == done.check)
            .map(|c| c.at);
        // d: from the moment the last check began looking (its predecessor's line plus the
        // delay) to the state machine moving on.
        let resume = match (
            last_cycle_start,
            watched
                .iter()
                .rev()
                .find(|c| c.check + 1 == done.check)
                .and_then(|c| c.delay),
        ) {
            (Some(previous), Some(delay)) => wait_ended - (previous + delay),
            _ => wait_ended - done.at,
        };
        Some(Self {
            poll_seconds,
            bench_poll_seconds,
            quota_poll_seconds,
            check_overhead: median(&overheads)?,
            resume: resume.max(0.0),
            observed_cycle_median: median(&cycles)?,
            observed_cycle_max: percentile(&cycles, 100.0)?,
            cycles_observed: cycles.len(),
        })
    }

    /// (worst, median) lag for checks every `poll` seconds.
    pub fn for_poll(&self, poll: f64) -> (f64, f64) {
        let cycle = poll + self.check_overhead;
        (cycle + self.resume, cycle / 2.0 + self.resume)
    }

    /// The model against the run: the bench stack's predicted cycle and the cycles observed.
    pub fn cycles_text(&self) -> String {
        format!(
            "at the bench stack's P = {:.0} s the model predicts cycles of {:.2} s; observed median {:.2} s, longest {:.2} s",
            self.bench_poll_seconds,
            self.predicted_bench_cycle(),
            self.observed_cycle_median,
            self.observed_cycle_max
        )
    }

    /// The check cycle the model predicts for the bench stack's interval.
    pub fn predicted_bench_cycle(&self) -> f64 {
        self.bench_poll_seconds + self.check_overhead
    }
}

/// The `Default` of a parameter in a CloudFormation template's text (e.g. ResourcePollSeconds).
pub fn template_default(template: &str, parameter: &str) -> Option<f64> {
    let mut lines = template
        .lines()
        .skip_while(|l| l.trim() != format!("{parameter}:"));
    lines.next()?;
    lines
        .take_while(|l| l.starts_with("    "))
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .and_then(|v| v.trim().trim_matches('"').parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::StateRun;

    fn check(n: u64, outcome: &str, delay: Option<f64>, at: f64) -> WatchCheck {
        WatchCheck {
            install_id: "i".into(),
            watch: "cluster".into(),
            check: n,
            outcome: outcome.into(),
            delay,
            at,
        }
    }

    #[test]
    fn a_watch_line_is_read() {
        let line = r#"{"timestamp":"2026-11-24T12:02:27.500000Z","level":"INFO","fields":{"message":"watch check: not yet","outcome":"waiting","delay":4},"span":{"install_id":"inst-1","tenant_id":"t","watch":"cluster","check":2,"name":"watch-install"}}"#;
        let parsed = WatchCheck::parse(line).unwrap();
        assert_eq!(
            (
                parsed.install_id.as_str(),
                parsed.watch.as_str(),
                parsed.check,
                parsed.outcome.as_str(),
                parsed.delay
            ),
            ("inst-1", "cluster", 2, "waiting", Some(4.0))
        );
        assert!((parsed.at - 1_795_521_747.5).abs() < 1e-3, "{}", parsed.at);
        assert_eq!(WatchCheck::parse(r#"{"fields":{"message":"other"}}"#), None);
    }

    #[test]
    fn cycles_are_timed_between_steady_checks() {
        let checks = vec![
            check(0, "waiting", Some(1.0), 0.0),
            check(1, "waiting", Some(1.0), 1.3),
            check(2, "waiting", Some(1.0), 2.6),
            check(3, "waiting", Some(1.0), 4.0),
            check(4, "done", None, 5.3),
        ];
        let history = History {
            started: -5.0,
            ended: Some(6.0),
            states: vec![StateRun {
                name: "WaitForCluster".into(),
                kind: "Task".into(),
                entered: -0.2,
                exited: Some(5.4),
                output: None,
                attempts: 1,
            }],
        };
        let lag = Lag::from_run(&history, &checks, 15.0, 1.0, 900.0).unwrap();
        assert_eq!(lag.cycles_observed, 4);
        assert!(
            (lag.check_overhead - 0.3).abs() < 1e-9,
            "{}",
            lag.check_overhead
        );
        assert!((lag.observed_cycle_max - 1.4).abs() < 1e-9);
        // The last check began looking at 4.0 + 1.0 and the wait ended at 5.4.
        assert!((lag.resume - 0.4).abs() < 1e-9, "{}", lag.resume);
        let (worst, typical) = lag.for_poll(15.0);
        assert!((worst - (15.3 + 0.4)).abs() < 1e-9 && (typical - (7.65 + 0.4)).abs() < 1e-9);
    }

    #[test]
    fn template_defaults_are_read() {
        let template = "Parameters:\n  ResourcePollSeconds:\n    Type: Number\n    Default: 30\n    MinValue: 1\n  Other:\n    Default: 5\n";
        assert_eq!(
            template_default(template, "ResourcePollSeconds"),
            Some(30.0)
        );
        assert_eq!(template_default(template, "Missing"), None);
    }
}
