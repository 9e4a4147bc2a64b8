//! Section 7 of the report: the modelled upgrade's rows next to their targets, and its part of
//! BENCHMARKS.md (what was modelled, the checks by update, the transitions by hop, the bill, the
//! detection lag).

use std::fmt::Write as _;

use super::bill_report::{tables, usd};
use super::prices;
use super::report::{row, Row, Verdict, TARGET_LAG_S};
use super::upgrade::{
    transitions_of, upgrade_checks, Upgrade, CALENDAR_DAY, FROM, SIGHTINGS_PER_CHECK, SURGE_VCPUS,
    TO,
};
use byoc_domain::watch_schedule::{delay_before, WatchKind};

impl Upgrade {
    fn per_hop(&self) -> Vec<usize> {
        let hops = self.phases.len().saturating_sub(2);
        self.phases
            .iter()
            .skip(1)
            .take(hops)
            .map(|(_, states)| states.values().sum())
            .collect()
    }

    fn hops_text(&self) -> String {
        format!("{FROM} → {}", self.hops.join(" → "))
    }

    pub fn rows(&self) -> Vec<Row> {
        let total = self.bill.history.transitions();
        let per_hop = self.per_hop();
        let worst_hop = per_hop.iter().copied().max().unwrap_or(0);
        let per_hop_text: Vec<String> = per_hop.iter().map(ToString::to_string).collect();
        let sfn = self
            .bill
            .line(&prices::STATE_TRANSITION)
            .map_or(0.0, |l| l.usd());
        let mut rows = vec![
            row(
                format!(
                    "7. State transitions a hop adds, modelled upgrade {}",
                    self.hops_text()
                ),
                format!(
                    "{} ({total} for the whole upgrade, WaitForUpgrade {})",
                    per_hop_text.join(", "),
                    transitions_of(&self.bill.history, &["WaitForUpgrade"])
                ),
                format!(
                    "≤ {} (the install's cluster wait)",
                    self.install_wait_transitions
                ),
                Verdict::of(!per_hop.is_empty() && worst_hop <= self.install_wait_transitions),
            ),
            row(
                "7. Step Functions per modelled upgrade",
                usd(sfn),
                "—",
                Verdict::Info,
            ),
            row(
                "7. Whole bill per modelled upgrade",
                usd(self.bill.total_usd()),
                "—",
                Verdict::Info,
            ),
        ];
        if let Some(l) = &self.lag {
            let (worst, typical) = l.for_poll(l.poll_seconds);
            let k = self.parts.len() as f64;
            let cycle = l.poll_seconds + l.check_overhead;
            rows.push(row(
                format!(
                    "7. Detection lag, each upgrade update (poll every {:.0} s)",
                    l.poll_seconds
                ),
                format!("worst {worst:.1} s, median {typical:.1} s"),
                format!("≤ {TARGET_LAG_S:.0} s"),
                Verdict::of(worst <= TARGET_LAG_S),
            ));
            rows.push(row(
                format!(
                    "7. Detection lag over the upgrade's {} updates",
                    self.parts.len()
                ),
                format!(
                    "worst {:.0} s, median {:.0} s",
                    k * cycle + l.resume,
                    k * cycle / 2.0 + l.resume
                ),
                "—",
                Verdict::Info,
            ));
        }
        rows
    }

    pub fn markdown(&self, md: &mut String) {
        let m = &self.bill.model;
        let checks = upgrade_checks(&self.bill).count();
        // The checks made, laid on the production schedule.
        let span: u64 = (1..checks as u32)
            .map(|c| delay_before(WatchKind::Upgrade, c, m.poll_seconds))
            .sum();
        let modelled: u64 = self.parts.iter().map(|p| m.seconds_of(&p.key)).sum();
        let _ = writeln!(
            md,
            "\n### 7. Modelled upgrade\n\nAn install made at Kubernetes {FROM} (the emulator's EKS clock at {CALENDAR_DAY}, when {FROM} to {TO} \
             are in standard support; {SURGE_VCPUS} On-Demand vCPUs, so the node group's surge fits), upgraded to {TO} with \
             `POST /installs/{{id}}/upgrade`: {}. Modelled on a real one: each hop's control plane update InProgress {} min, the \
             node group's rolling update {} min, each add-on's update {} min (upgrade-cluster starts a hop's add-on updates one after \
             another, so its add-on phase lasts that long for each add-on it updates). The whole upgrade is one callback wait, `WaitForUpgrade`: \
             watch-install calls upgrade-cluster (`advance`) at once, after 2, 4, 8 s, then every {} s (`ResourcePollSeconds`), \
             each call starting the next update EKS allows. The emulator is steered to keep each update InProgress for as many \
             checks as that schedule makes in its modelled time ({SIGHTINGS_PER_CHECK} sightings a check: the Describe of what it \
             updates and DescribeUpdate), and the bench stack checks every second: nothing billed depends on the interval, only \
             on the number of checks. The watcher made {checks} checks, which on the production schedule span {:.1} min, against \
             {:.1} min of modelled updates: the modelled times are whole multiples of P, so every update but the first (begun in \
             the ramp) ends on a check; a real one ends at a random moment, and the detection lag below adds to it. By update (checks that saw it in progress, counted from the \
             watcher's log lines against DescribeUpdate's createdAt):\n",
            self.hops_text(),
            m.control_plane_seconds / 60,
            m.node_group_seconds / 60,
            m.addon_seconds / 60,
            m.poll_seconds,
            span as f64 / 60.0,
            modelled as f64 / 60.0,
        );
        let _ = writeln!(
            md,
            "| update | modelled | checks modelled | checks made |\n|---|---|---|---|"
        );
        for p in &self.parts {
            let _ = writeln!(
                md,
                "| {} | {:.0} min | {} | {} |",
                p.key,
                m.seconds_of(&p.key) as f64 / 60.0,
                p.modelled,
                p.seen
            );
        }
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(name, states)| {
                let listed: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
                let n: usize = states.values().sum();
                if listed.is_empty() {
                    format!("{name}: 0")
                } else {
                    format!("{name}: {n} ({})", listed.join(", "))
                }
            })
            .collect();
        let _ = writeln!(
            md,
            "\nState transitions by when they were entered (a hop from its first update's start to the next hop's): {}. \
             The target: a hop adds no more than the install spends on its cluster wait, {} (ClusterReady and \
             WaitForCluster in the install's history). The checks cost Lambda invocations (the watcher and upgrade-cluster) and \
             SQS requests (the re-sent message, and Lambda's poller receiving and deleting it), not transitions.\n",
            phases.join("; "),
            self.install_wait_transitions
        );
        tables(md, &self.bill);
        if let Some(l) = &self.lag {
            let k = self.parts.len() as f64;
            let _ = writeln!(
                md,
                "\nDetection lag, as for the install's cluster wait (section 3): an update that ends at a random moment is seen by \
                 the next check, 0 to C = P + o later, and that check starts the next update; the last one ends the wait d after \
                 its check began. Measured on this run from the watcher's log lines: o = {:.3} s (median over {} steady cycles), \
                 d = {:.3} s; {}. The upgrade waits for its {} updates one after another, so their lags add up: worst k·C + d, \
                 median k·C/2 + d.\n\n| poll interval P | each update, worst | median | whole upgrade, worst | median |\n|---|---|---|---|---|",
                l.check_overhead,
                l.cycles_observed,
                l.resume,
                l.cycles_text(),
                self.parts.len(),
            );
            for p in [l.poll_seconds, 5.0, 30.0] {
                let (worst, median) = l.for_poll(p);
                let cycle = p + l.check_overhead;
                let _ = writeln!(
                    md,
                    "| {p:.0} s{} | {worst:.1} s | {median:.1} s | {:.0} s | {:.0} s |",
                    if p == l.poll_seconds {
                        " (`ResourcePollSeconds` default)"
                    } else {
                        ""
                    },
                    k * cycle + l.resume,
                    k * cycle / 2.0 + l.resume
                );
            }
        }
    }
}
