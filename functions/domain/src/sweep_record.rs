//! The sweep's record of its last pass (`step_data["sweep"]`, shown by `GET /installs/{id}`):
//! what it found and why each is the install's, what became of each deletion, what it left
//! alone, and what is left that waiting will not remove. sweep-dangling writes it; the next
//! pass, the emails and the leftovers read it.

use serde::{Deserialize, Serialize};

use crate::deletion_order::Kind;
use crate::leftover::{Leftover, SWEEP_RECORD_KEY};
use crate::step_record::StepRecord;

/// What a sweep is asked to do (the state machines' `mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepMode {
    #[default]
    Delete,
    DryRun,
    /// A failed install's Catch: delete, unless the install asked to keep what a failed
    /// install made for inspection (option `keep_failed_resources`), then only report.
    Rollback,
}

/// A resource the pass found, with why it is the install's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundEntry {
    pub kind: Kind,
    pub id: String,
    pub reason: String,
}

/// One deletion call and, when AWS refused it, its error code and (for a refusal that will
/// not pass by itself) message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptEntry {
    pub kind: Kind,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A resource found but not the install's to delete, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptEntry {
    pub kind: Kind,
    pub id: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepRecord {
    pub mode: SweepMode,
    pub found: Vec<FoundEntry>,
    /// Gone now.
    pub deleted: Vec<AttemptEntry>,
    /// Accepted; AWS takes a while (NAT gateways, clusters, node groups).
    pub started: Vec<AttemptEntry>,
    /// Refused for now (a dependent still there, throttling): tried again next pass.
    pub deferred: Vec<AttemptEntry>,
    /// Refused in a way another pass will not fix by itself.
    pub failed: Vec<AttemptEntry>,
    pub kept: Vec<KeptEntry>,
    /// ARNs carrying the install's tag of kinds the sweep does not delete.
    pub unhandled: Vec<String>,
    /// What is left that waiting will not remove, with the command that deletes each.
    pub leftovers: Vec<Leftover>,
    /// What could not be looked at, and why.
    pub notes: Vec<String>,
    /// How many of the install's resources are still there.
    pub remaining: usize,
    /// Nothing remains that another pass would remove.
    pub done: bool,
    /// What the remaining resources cost a month while they stay (USD).
    pub monthly_cost_usd: f64,
}

impl StepRecord for SweepRecord {
    const KEY: &'static str = SWEEP_RECORD_KEY;
}

impl SweepRecord {
    /// A new sweep begins unless this, the last pass recorded, was an unfinished one of the
    /// same mode.
    pub fn starts_a_sweep(last: Option<&SweepRecord>, mode: SweepMode) -> bool {
        last.is_none_or(|last| last.mode != mode || last.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sweep_starts_afresh_after_a_finished_one_or_a_mode_change() {
        let last = |mode, done| SweepRecord {
            mode,
            done,
            ..Default::default()
        };
        assert!(SweepRecord::starts_a_sweep(None, SweepMode::Delete));
        assert!(!SweepRecord::starts_a_sweep(
            Some(&last(SweepMode::Delete, false)),
            SweepMode::Delete
        ));
        assert!(SweepRecord::starts_a_sweep(
            Some(&last(SweepMode::Delete, true)),
            SweepMode::Delete
        ));
        assert!(SweepRecord::starts_a_sweep(
            Some(&last(SweepMode::DryRun, true)),
            SweepMode::Delete
        ));
    }

    #[test]
    fn the_record_reads_as_stored_and_an_older_one_with_fields_missing_still_reads() {
        let stored = json!({
            "mode": "delete",
            "found": [{"kind": "security-group", "id": "sg-1", "reason": "inside vpc-1"}],
            "deleted": [],
            "started": [{"kind": "nat-gateway", "id": "nat-1"}],
            "deferred": [{"kind": "security-group", "id": "sg-1", "code": "DependencyViolation"}],
            "failed": [],
            "kept": [{"kind": "volume", "id": "vol-9", "why": "tagged for tenant globex"}],
            "unhandled": [],
            "leftovers": [],
            "notes": [],
            "remaining": 2,
            "done": false,
            "monthly_cost_usd": 32.85
        });
        let record: SweepRecord = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(
            record.deferred[0].code.as_deref(),
            Some("DependencyViolation")
        );
        assert_eq!(record.to_value(), stored, "written back exactly as read");
        let older: SweepRecord =
            serde_json::from_value(json!({"done": true, "leftovers": []})).unwrap();
        assert!(older.done && older.found.is_empty());
    }
}
