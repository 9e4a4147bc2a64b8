//! 7. A modelled two-hop Kubernetes upgrade (1.33 → 1.35) of a ready install: what it costs in
//!    state transitions and money, and how late it sees each update end.
//!
//! Modelled on a real one: each hop's control plane update takes 10 minutes, the node group's
//! rolling update 8, each add-on's update 2. The whole upgrade is one callback wait
//! (`WaitForUpgrade`): watch-install calls upgrade-cluster's `advance` on the schedule of
//! byoc_domain::watch_schedule (at once, 2, 4, 8 s, then every `ResourcePollSeconds` P), and
//! each call starts the next update EKS allows. As for the install's bill, the emulator counts
//! sightings, not seconds: each update is steered to stay InProgress for as many checks as that
//! schedule makes at the production P in its modelled time, the bench stack checks every
//! second, and afterwards each update's checks are counted from the watcher's log lines
//! against its start (DescribeUpdate's createdAt), so what was modelled is shown beside what
//! the watcher did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::bill::{self, Bill, Meter};
use super::history::History;
use super::lag::{Lag, WatchCheck};
use super::session::{Session, INSTALL_TIMEOUT};
use crate::customer_eks::eks;
use byoc_domain::watch_schedule::WatchKind;

/// On this day (the emulator's EKS clock, steered per account) 1.33, 1.34 and 1.35 are all in
/// standard support, as in tests/tests/e2e/upgrade.rs.
pub const CALENDAR_DAY: &str = "2026-06-01T00:00:00Z";
pub const FROM: &str = "1.33";
pub const TO: &str = "1.35";
/// The default node group's two m6i.large nodes and its surge (twice its three zones), 2 vCPUs
/// each: what the rolling update needs of the On-Demand quota.
pub const SURGE_VCPUS: u64 = 4 + 12;
/// How often one check looks at an update in progress: upgrade-cluster's `advance` describes
/// what it updates (DescribeCluster, DescribeNodegroup or DescribeAddon) and DescribeUpdate's
/// it, once each; the emulator counts both. Checked after the run (modelled against made).
pub const SIGHTINGS_PER_CHECK: u64 = 2;
/// The bench stack needs about 1.2 s a check, and the model about 200 checks.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(1200);

/// The update times modelled, and the production poll interval.
#[derive(Debug, Clone)]
pub struct Model {
    pub control_plane_seconds: u64,
    pub node_group_seconds: u64,
    /// Each add-on's update (upgrade-cluster starts them one after another).
    pub addon_seconds: u64,
    pub poll_seconds: u64,
}

impl Model {
    pub fn new(poll_seconds: u64) -> Self {
        Self {
            control_plane_seconds: 10 * 60,
            node_group_seconds: 8 * 60,
            addon_seconds: 2 * 60,
            poll_seconds,
        }
    }

    /// The modelled time of the update recorded under `key` (`control-plane@1.34`, ...).
    pub fn seconds_of(&self, key: &str) -> u64 {
        if key.starts_with("control-plane") {
            self.control_plane_seconds
        } else if key.starts_with("node-group") {
            self.node_group_seconds
        } else {
            self.addon_seconds
        }
    }

    /// Checks after the one that started an update of `wait` seconds that still see it in
    /// progress. Only the first update starts on the watch's first check, inside the ramp.
    pub fn in_progress(&self, wait: u64, first: bool) -> u64 {
        let p = self.poll_seconds;
        if first {
            bill::Model::checks_before(WatchKind::Upgrade, wait, p).saturating_sub(1)
        } else {
            bill::Model::polls(wait, p).saturating_sub(1)
        }
    }
}

/// One update the upgrade started, as EKS and the watcher saw it.
#[derive(Debug, Clone)]
pub struct Part {
    /// The upgrade record's key: `control-plane@1.34`, `node-group/<name>@1.34`, `addon/<name>@1.34`.
    pub key: String,
    pub hop: String,
    /// DescribeUpdate's createdAt, seconds since the epoch.
    pub started: f64,
    /// Checks that were to see it in progress, and those that did.
    pub modelled: u64,
    pub seen: usize,
}

#[derive(Debug, Clone)]
pub struct Upgrade {
    pub bill: Bill<Model>,
    pub parts: Vec<Part>,
    /// Transitions (states entered and retries) by phase: before the first hop, each hop, after.
    pub phases: Vec<(String, BTreeMap<String, usize>)>,
    pub hops: Vec<String>,
    /// What the install spent on its cluster wait (ClusterReady, WaitForCluster).
    pub install_wait_transitions: usize,
    pub lag: Option<Lag>,
}

pub async fn measure(
    session: &Session,
    model: Model,
    polls: (f64, f64, f64),
) -> Result<Upgrade, String> {
    let place = session.place("bench-upgrade", 1).await?;
    let account = &place.accounts[0];
    let stack = &session.stack;
    stack
        .steer("eks", account, json!({"now": CALENDAR_DAY}))
        .await?;
    stack
        .steer(
            "service_quotas",
            account,
            json!({"applied": {"L-1216C47A": SURGE_VCPUS}}),
        )
        .await?;
    let options = json!({"kubernetes_version": FROM});
    let install = session.start(&place.tenant_id, account, &options).await?;
    session
        .email(&place.inbox, &install.install_id, "ready", INSTALL_TIMEOUT)
        .await?;
    let (status, install_history) = session.finished(&install.execution_arn).await?;
    if status != "SUCCEEDED" {
        return Err(format!("the install at {FROM} ended {status}"));
    }
    let id = install.install_id;
    let cluster = format!("byoc-{id}");

    let s = SIGHTINGS_PER_CHECK;
    let (cp, ng, addon) = (
        model.control_plane_seconds,
        model.node_group_seconds,
        model.addon_seconds,
    );
    stack.steer("eks", account, json!({"cluster_update_polls": s * model.in_progress(cp, true), "nodegroup_update_polls": s * model.in_progress(ng, false), "addon_update_polls": s * model.in_progress(addon, false)})).await?;
    let meter = Meter::begin(session).await?;
    let body = json!({"kubernetes_version": TO});
    let accepted = session
        .api
        .post(&format!("/installs/{id}/upgrade"), &body)
        .await?;
    if accepted.status != 202 {
        return Err(format!(
            "POST /installs/{id}/upgrade answered {}: {}",
            accepted.status, accepted.text
        ));
    }
    let execution_arn = accepted.json["execution_arn"]
        .as_str()
        .ok_or_else(|| format!("POST /upgrade answered no execution_arn: {}", accepted.text))?
        .to_owned();
    // Settings apply to updates started after them: once the first control plane update is
    // running, the second is steered as one started on a steady-state check.
    let eks = eks(&session.observer, account);
    first_update(&eks, &cluster).await?;
    stack
        .steer(
            "eks",
            account,
            json!({"cluster_update_polls": s * model.in_progress(cp, false)}),
        )
        .await?;
    let status = session
        .observer
        .wait_for_execution(&execution_arn, UPGRADE_TIMEOUT)
        .await?;
    let history = History::fetch(&session.observer.sfn(), &execution_arn).await?;
    // One API Gateway request: POST /installs/{id}/upgrade.
    let bill = meter.finish(session, model, id.clone(), history, 1).await?;
    if status != "SUCCEEDED" {
        return Err(format!("the modelled upgrade of {id} ended {status}"));
    }

    let record = session.record(&id).await?;
    let upgrade = &record["step_data"]["upgrade"];
    let hops: Vec<String> = upgrade["hops"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut parts = Vec::new();
    for (key, update) in upgrade["updates"].as_object().into_iter().flatten() {
        let update_id = update["id"].as_str().ok_or("an update without an id")?;
        let described = eks
            .describe_update()
            .name(&cluster)
            .update_id(update_id)
            .set_nodegroup_name(update["node_group"].as_str().map(str::to_owned))
            .set_addon_name(update["addon"].as_str().map(str::to_owned))
            .send()
            .await
            .map_err(|e| format!("DescribeUpdate {key}: {e:?}"))?;
        let created = described
            .update()
            .and_then(|u| u.created_at())
            .ok_or_else(|| format!("DescribeUpdate {key} answered no createdAt"))?;
        parts.push(Part {
            key: key.clone(),
            hop: key.rsplit('@').next().unwrap_or_default().to_owned(),
            started: created.secs() as f64 + f64::from(created.subsec_nanos()) / 1e9,
            modelled: 0,
            seen: 0,
        });
    }
    parts.sort_by(|a, b| a.started.total_cmp(&b.started));
    let starts: Vec<f64> = parts.iter().map(|p| p.started).collect();
    let lines: Vec<f64> = upgrade_checks(&bill).map(|c| c.at).collect();
    for (i, (part, seen)) in parts.iter_mut().zip(seen(&starts, &lines)).enumerate() {
        part.modelled = bill
            .model
            .in_progress(bill.model.seconds_of(&part.key), i == 0);
        part.seen = seen;
    }
    let wait_ended = wait_end(&bill.history);
    let phases = phases(&bill.history, &parts, wait_ended);
    let lag = Lag::from_wait(
        &bill.history,
        &bill.checks,
        "upgrade",
        "WaitForUpgrade",
        polls,
    );
    Ok(Upgrade {
        install_wait_transitions: transitions_of(
            &install_history,
            &["ClusterReady", "WaitForCluster"],
        ),
        bill,
        parts,
        phases,
        hops,
        lag,
    })
}

/// The watcher's checks of the upgrade's own wait (a short quota is watched apart).
pub fn upgrade_checks(bill: &Bill<Model>) -> impl Iterator<Item = &WatchCheck> {
    bill.checks.iter().filter(|c| c.watch == "upgrade")
}

/// Waits until the cluster's first update shows (ListUpdates does not count as a sighting).
async fn first_update(eks: &aws_sdk_eks::Client, cluster: &str) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        let listed = eks
            .list_updates()
            .name(cluster)
            .send()
            .await
            .map_err(|e| format!("ListUpdates: {e:?}"))?;
        if !listed.update_ids().is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("no update of {cluster} started within 120 s"))
}

/// Per update (starts sorted), the checks that saw it in progress: the watcher's lines between
/// its start and the next one's, less the check that started it (its line comes after the
/// start); the last update's, less that and the check that ended the wait too.
pub fn seen(starts: &[f64], lines: &[f64]) -> Vec<usize> {
    starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let end = starts.get(i + 1).copied().unwrap_or(f64::INFINITY);
            let between = lines.iter().filter(|t| **t > *start && **t < end).count();
            between.saturating_sub(if end.is_finite() { 1 } else { 2 })
        })
        .collect()
}

fn wait_end(history: &History) -> f64 {
    history
        .states
        .iter()
        .rev()
        .find(|s| s.name == "WaitForUpgrade")
        .and_then(|s| s.exited)
        .unwrap_or(f64::INFINITY)
}

/// Transitions of the states named `names`: each entry, and each retry.
pub fn transitions_of(history: &History, names: &[&str]) -> usize {
    history
        .states
        .iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .map(|s| 1 + s.attempts.saturating_sub(1) as usize)
        .sum()
}

/// The execution's transitions by when they were entered: before the first hop's first update
/// started, during each hop (until the next hop's first update, the last until the wait
/// ended), after.
pub fn phases(
    history: &History,
    parts: &[Part],
    wait_ended: f64,
) -> Vec<(String, BTreeMap<String, usize>)> {
    let mut hop_starts: Vec<(String, f64)> = Vec::new();
    for part in parts {
        if hop_starts.last().is_none_or(|(hop, _)| *hop != part.hop) {
            hop_starts.push((part.hop.clone(), part.started));
        }
    }
    let mut out: Vec<(String, BTreeMap<String, usize>)> =
        std::iter::once("before the first hop".to_owned())
            .chain(hop_starts.iter().map(|(hop, _)| format!("hop to {hop}")))
            .chain(std::iter::once("after the last hop".to_owned()))
            .map(|name| (name, BTreeMap::new()))
            .collect();
    let after = out.len() - 1;
    for state in &history.states {
        let at = state.entered;
        let slot = if at >= wait_ended {
            after
        } else {
            hop_starts
                .iter()
                .rposition(|(_, start)| *start <= at)
                .map_or(0, |h| h + 1)
        };
        *out[slot].1.entry(state.name.clone()).or_default() +=
            1 + state.attempts.saturating_sub(1) as usize;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::StateRun;

    #[test]
    fn updates_are_modelled_in_checks_of_the_production_schedule() {
        let m = Model::new(15);
        // The first control plane update starts on check 0: checks at 0, 2, 6, 14, then every
        // 15 s until 599 see it; a later one sees 39 checks (15 s to 585 s).
        assert_eq!(m.in_progress(600, true), 43);
        assert_eq!(m.in_progress(600, false), 39);
        assert_eq!(m.in_progress(480, false), 31);
        assert_eq!(m.in_progress(120, false), 7);
        assert_eq!(m.seconds_of("node-group/default@1.34"), 480);
        assert_eq!(m.seconds_of("addon/coredns@1.35"), 120);
    }

    #[test]
    fn checks_are_counted_between_update_starts() {
        // Starts at 10 and 20; lines of the starter (10.5), three looks, the next starter
        // (20.5), two looks and the check that ended the wait.
        let lines = [1.0, 10.5, 12.0, 14.0, 16.0, 20.5, 22.0, 24.0, 26.0];
        assert_eq!(seen(&[10.0, 20.0], &lines), [3, 2]);
    }

    fn state(name: &str, entered: f64, attempts: u32) -> StateRun {
        StateRun {
            name: name.into(),
            kind: "Task".into(),
            entered,
            exited: Some(entered + 0.1),
            output: None,
            attempts,
        }
    }

    #[test]
    fn transitions_fall_into_the_hop_they_were_entered_in() {
        let history = History {
            started: 0.0,
            ended: Some(100.0),
            states: vec![
                state("Preflight", 1.0, 1),
                state("WaitForUpgrade", 2.0, 2),
                state("NotifyUpgraded", 91.0, 1),
            ],
        };
        let part = |key: &str, hop: &str, started: f64| Part {
            key: key.into(),
            hop: hop.into(),
            started,
            modelled: 0,
            seen: 0,
        };
        let parts = [
            part("control-plane@1.34", "1.34", 3.0),
            part("node-group/n@1.34", "1.34", 30.0),
            part("control-plane@1.35", "1.35", 50.0),
        ];
        let phases = phases(&history, &parts, 90.0);
        let counts: Vec<usize> = phases.iter().map(|(_, s)| s.values().sum()).collect();
        assert_eq!(counts, [3, 0, 0, 1], "{phases:?}");
        assert_eq!(phases[1].0, "hop to 1.34");
    }
}
