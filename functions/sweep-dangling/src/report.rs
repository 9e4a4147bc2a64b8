//! What one sweep pass found and did, as the install's timeline shows it: a sentence for the
//! event and a `sweep` record (kinds, ids and reasons only; never a secret).

use std::collections::BTreeMap;

use byoc_core::deletion_order::{Found, Kind};
use serde_json::{json, Value};

use crate::attempt::Attempt;
use crate::cost::total_monthly_usd;
use crate::Mode;

#[derive(Debug, Default)]
pub struct Pass {
    pub found: Vec<Found>,
    pub kept: Vec<(Found, String)>,
    pub unhandled: Vec<String>,
    /// Each deletion issued, with its answer.
    pub attempts: Vec<(Kind, String, Attempt)>,
    /// What is still there after this pass (including deletions under way).
    pub remaining: Vec<Found>,
}

/// "3 nat-gateway, 1 vpc", in deletion order.
pub fn count_by_kind<'a>(kinds: impl Iterator<Item = &'a Kind>) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for kind in kinds {
        *counts.entry(*kind).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
}

impl Pass {
    pub fn done(&self) -> bool {
        self.remaining.is_empty()
    }

    pub fn deleted(&self) -> impl Iterator<Item = &(Kind, String, Attempt)> {
        self.attempts.iter().filter(|(_, _, a)| *a == Attempt::Gone)
    }

    pub fn monthly_cost_usd(&self) -> f64 {
        total_monthly_usd(&self.remaining)
    }

    pub fn message(&self, mode: Mode) -> String {
        let found = self.found.len();
        let mut text = match mode {
            Mode::DryRun if found == 0 => "dry run: nothing of the install is left in the account".to_owned(),
            Mode::DryRun => format!(
                "dry run: {found} resources would be deleted ({}); they cost about ${:.2} a month while they stay; nothing was deleted",
                count_by_kind(self.found.iter().map(|f| &f.kind)),
                self.monthly_cost_usd()
            ),
            // A rollback is reported as what it did: a delete pass (or a dry run when kept).
            Mode::Delete | Mode::Rollback if self.done() => format!("nothing of the install is left: deleted {} of {found} resources found", self.deleted().count()),
            Mode::Delete | Mode::Rollback => format!(
                "deleted {} of {found} resources found; {} remain ({}), to be retried on the next pass",
                self.deleted().count(),
                self.remaining.len(),
                count_by_kind(self.remaining.iter().map(|f| &f.kind))
            ),
        };
        if !self.kept.is_empty() {
            text.push_str(&format!("; left alone {} resources that are not the install's", self.kept.len()));
        }
        if !self.unhandled.is_empty() {
            text.push_str(&format!("; {} tagged resources are of kinds this step does not delete (see the sweep record)", self.unhandled.len()));
        }
        text
    }

    pub fn record(&self, mode: Mode) -> Value {
        let entry = |f: &Found| json!({"kind": f.kind, "id": f.id, "reason": f.reason.describe()});
        let by_result = |wanted: fn(&Attempt) -> bool| -> Vec<Value> {
            self.attempts
                .iter()
                .filter(|(_, _, a)| wanted(a))
                .map(|(kind, id, a)| {
                    let mut v = json!({"kind": kind, "id": id});
                    if let Attempt::Later { code } | Attempt::Failed { code, .. } = a {
                        v["code"] = json!(code);
                    }
                    if let Attempt::Failed { message, .. } = a {
                        v["message"] = json!(message);
                    }
                    v
                })
                .collect()
        };
        json!({
            "mode": mode,
            "found": self.found.iter().map(entry).collect::<Vec<_>>(),
            "deleted": by_result(|a| *a == Attempt::Gone),
            "started": by_result(|a| *a == Attempt::Started),
            "deferred": by_result(|a| matches!(a, Attempt::Later { .. })),
            "failed": by_result(|a| matches!(a, Attempt::Failed { .. })),
            "kept": self.kept.iter().map(|(f, why)| json!({"kind": f.kind, "id": f.id, "why": why})).collect::<Vec<_>>(),
            "unhandled": self.unhandled,
            "remaining": self.remaining.len(),
            "done": self.done(),
            "monthly_cost_usd": self.monthly_cost_usd(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_core::deletion_order::Reason;

    #[test]
    fn a_pass_reads_as_counts_and_the_record_lists_ids_with_reasons() {
        let nat = Found::new(Kind::NatGateway, "nat-1", Reason::InstallTag).deleting(true);
        let sg = Found::new(Kind::SecurityGroup, "sg-1", Reason::InVpc { vpc_id: "vpc-1".into() });
        let pass = Pass {
            found: vec![nat.clone(), sg.clone()],
            kept: vec![(Found::new(Kind::Volume, "vol-9", Reason::InstallTag), "tagged for tenant globex".into())],
            unhandled: vec![],
            attempts: vec![(Kind::SecurityGroup, "sg-1".into(), Attempt::Later { code: "DependencyViolation".into() })],
            remaining: vec![nat, sg],
        };
        assert_eq!(
            pass.message(Mode::Delete),
            "deleted 0 of 2 resources found; 2 remain (1 nat-gateway, 1 security-group), to be retried on the next pass; left alone 1 resources that are not the install's"
        );
        let record = pass.record(Mode::Delete);
        assert_eq!(record["found"][1], json!({"kind": "security-group", "id": "sg-1", "reason": "inside vpc-1"}));
        assert_eq!(record["deferred"], json!([{"kind": "security-group", "id": "sg-1", "code": "DependencyViolation"}]));
        assert_eq!(record["kept"][0]["why"], "tagged for tenant globex");
        assert_eq!((record["remaining"].clone(), record["done"].clone(), record["monthly_cost_usd"].clone()), (json!(2), json!(false), json!(32.85)));
        assert!(pass.message(Mode::DryRun).contains("about $32.85 a month"));
    }
}
