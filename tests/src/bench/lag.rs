//! 3. Detection lag: how long after a resource is ready the install moves on, for the
//! polling schedule of statemachines/install.asl.json.
//!
//! The cluster, its node group and the NAT gateways are polled by one loop:
//! `Wait P → PollNetwork → CreateCluster → ClusterReady`, so one loop takes C = P + o, with o
//! the time of the two tasks and the transitions. A resource that becomes ready at a moment
//! uniformly spread over a loop is seen by the next DescribeX, 0 to C later, and the install
//! moves on when that CreateCluster call returns (it requests the node group, or the Choice
//! sends the install to NotifyReady): lag = U(0, C) + d, d the CreateCluster call's time.
//! Worst case C + d, median C/2 + d. The quota loop likewise, with `QuotaPollSeconds`.
//!
//! Checked against the modelled install's run (bench stack: P = 1 s): o and d are measured
//! there, and the loop times observed must be P + o.

use super::history::History;
use super::stats::{median, percentile};

#[derive(Debug, Clone)]
pub struct Lag {
    /// The production poll interval (cfn/vendor.yaml's default) and the bench stack's.
    pub poll_seconds: f64,
    pub bench_poll_seconds: f64,
    pub quota_poll_seconds: f64,
    /// Measured per loop, median: everything but the Wait (o), and the CreateCluster call (d).
    pub loop_overhead: f64,
    pub create_cluster_call: f64,
    /// Loop times observed on the bench stack: median and max.
    pub observed_loop_median: f64,
    pub observed_loop_max: f64,
    pub loops_observed: usize,
}

impl Lag {
    pub fn from_run(
        history: &History,
        poll_seconds: f64,
        bench_poll_seconds: f64,
        quota_poll_seconds: f64,
    ) -> Option<Self> {
        // Consecutive CreateCluster calls with a Wait between them are one loop apart.
        let mut loops = Vec::new();
        let mut overheads = Vec::new();
        let mut previous: Option<f64> = None;
        let mut waited = 0.0;
        for state in &history.states {
            match (state.kind.as_str(), state.name.as_str()) {
                ("Wait", "WaitForClusterAndNetwork") => waited += state.seconds(),
                ("Task", "CreateCluster") => {
                    if let Some(before) = previous.filter(|_| waited > 0.0) {
                        loops.push(state.entered - before);
                        overheads.push(state.entered - before - waited);
                    }
                    previous = Some(state.entered);
                    waited = 0.0;
                }
                _ => {}
            }
        }
        let calls: Vec<f64> = history
            .states
            .iter()
            .filter(|s| s.name == "CreateCluster")
            .map(|s| s.seconds())
            .collect();
        Some(Self {
            poll_seconds,
            bench_poll_seconds,
            quota_poll_seconds,
            loop_overhead: median(&overheads)?,
            create_cluster_call: median(&calls)?,
            observed_loop_median: median(&loops)?,
            observed_loop_max: percentile(&loops, 100.0)?,
            loops_observed: loops.len(),
        })
    }

    /// (worst, median) lag for a loop polling every `poll` seconds.
    pub fn for_poll(&self, poll: f64) -> (f64, f64) {
        let cycle = poll + self.loop_overhead;
        (
            cycle + self.create_cluster_call,
            cycle / 2.0 + self.create_cluster_call,
        )
    }

    /// The loop time the model predicts for the bench stack's interval.
    pub fn predicted_bench_loop(&self) -> f64 {
        self.bench_poll_seconds + self.loop_overhead
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

    fn state(kind: &str, name: &str, entered: f64, seconds: f64) -> StateRun {
        StateRun {
            name: name.into(),
            kind: kind.into(),
            entered,
            exited: Some(entered + seconds),
            output: None,
            attempts: 1,
        }
    }

    #[test]
    fn loops_are_timed_between_polls() {
        let history = History {
            started: 0.0,
            ended: Some(10.0),
            states: vec![
                state("Task", "CreateCluster", 0.0, 0.2),
                state("Wait", "WaitForClusterAndNetwork", 0.2, 1.0),
                state("Task", "PollNetwork", 1.2, 0.1),
                state("Task", "CreateCluster", 1.3, 0.2),
                state("Wait", "WaitForClusterAndNetwork", 1.5, 1.0),
                state("Task", "PollNetwork", 2.5, 0.1),
                state("Task", "CreateCluster", 2.7, 0.2),
            ],
        };
        let lag = Lag::from_run(&history, 30.0, 1.0, 900.0).unwrap();
        assert_eq!(lag.loops_observed, 2);
        assert!((lag.loop_overhead - 0.35).abs() < 1e-9);
        assert!((lag.observed_loop_max - 1.4).abs() < 1e-9);
        let (worst, typical) = lag.for_poll(30.0);
        assert!((worst - (30.35 + 0.2)).abs() < 1e-9 && (typical - (15.175 + 0.2)).abs() < 1e-9);
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
