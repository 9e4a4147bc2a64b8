//! What a scheduled check found on one removed or failed install, kept on the install
//! (`step_data["scheduled_sweep"]`, shown by `GET /installs/{id}`): each resource with why it
//! was found and what it costs a month while it stays, what was deleted, what remains, when
//! the check ran, and whether the customer's account could be reached at all. Pure: the
//! scheduled run decides, from the last findings and these, whether the timeline hears of it.

use byoc_domain::step_record::StepRecord;
use std::collections::BTreeSet;

use byoc_domain::deletion_order::Kind;
use byoc_domain::leftover::Leftover;
use byoc_domain::model::{InstallStatus, Outcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attempt::Attempt;
use crate::cost::{monthly_usd, total_monthly_usd};
use crate::report::{count_by_kind, Pass};

/// The key of the findings in the install's step data.
pub const FINDINGS_KEY: &str = byoc_domain::leftover::SCHEDULED_FINDINGS_KEY;

/// What the check does with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Delete,
    /// A failed install whose options keep what it made for inspection: reported, with its
    /// monthly cost, never deleted.
    Report,
}

/// Whether the check got into the customer's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Access {
    Ok,
    /// The installer role can no longer be assumed (the customer deleted or changed the access
    /// stack): nothing there can be checked or removed until it is back.
    Lost {
        message: String,
    },
    /// The check failed for another reason (AWS unavailable, throttled); the next run retries.
    Failed {
        code: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundEntry {
    pub kind: Kind,
    pub id: String,
    pub reason: String,
    pub monthly_cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub kind: Kind,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    pub checked_at: DateTime<Utc>,
    /// The install's status when it was checked.
    pub install_status: InstallStatus,
    pub action: Action,
    pub access: Access,
    pub found: Vec<FoundEntry>,
    pub deleted: Vec<Listed>,
    /// Still there after this check (deletions under way included).
    pub remaining: usize,
    /// What the remaining resources cost a month (USD, list prices) while they stay.
    pub monthly_cost_usd: f64,
    /// What of the remaining ones waiting will not remove (see `byoc_domain::leftover`).
    #[serde(default)]
    pub leftovers: Vec<Leftover>,
    /// Checks in a row, this one included, that looked and found nothing.
    #[serde(default)]
    pub clean_streak: u32,
}

/// The findings the scheduled check recorded last (`Findings::of(install)`).
impl StepRecord for Findings {
    const KEY: &'static str = FINDINGS_KEY;
}

impl Findings {
    pub fn of_pass(
        pass: &Pass,
        install_status: InstallStatus,
        action: Action,
        checked_at: DateTime<Utc>,
    ) -> Self {
        Self {
            checked_at,
            install_status,
            action,
            access: Access::Ok,
            found: pass
                .found
                .iter()
                .map(|f| FoundEntry {
                    kind: f.kind,
                    id: f.id.clone(),
                    reason: f.reason.describe(),
                    monthly_cost_usd: (monthly_usd(f) * 100.0).round() / 100.0,
                })
                .collect(),
            deleted: pass
                .attempts
                .iter()
                .filter(|(_, _, a)| *a == Attempt::Gone)
                .map(|(kind, id, _)| Listed {
                    kind: *kind,
                    id: id.clone(),
                })
                .collect(),
            remaining: pass.remaining.len(),
            monthly_cost_usd: total_monthly_usd(&pass.remaining),
            leftovers: pass.leftovers.clone(),
            clean_streak: 0,
        }
    }

    /// A check that could not look: nothing is known to be found or left.
    pub fn unreachable(
        access: Access,
        install_status: InstallStatus,
        action: Action,
        checked_at: DateTime<Utc>,
    ) -> Self {
        Self {
            checked_at,
            install_status,
            action,
            access,
            found: vec![],
            deleted: vec![],
            remaining: 0,
            monthly_cost_usd: 0.0,
            leftovers: vec![],
            clean_streak: 0,
        }
    }

    /// Whether this check looked and found nothing at all.
    pub fn clean(&self) -> bool {
        self.access == Access::Ok && self.found.is_empty()
    }

    /// Sets `clean_streak` from the previous check's: one more when this one is clean, else 0.
    pub fn count_clean_streak(&mut self, previous: Option<&Findings>) {
        self.clean_streak = if self.clean() {
            previous.map_or(0, |p| p.clean_streak) + 1
        } else {
            0
        };
    }

    fn found_ids(&self) -> BTreeSet<(Kind, &str)> {
        self.found.iter().map(|f| (f.kind, f.id.as_str())).collect()
    }

    /// Whether the install's timeline hears of this check: when something was deleted, when
    /// it found something it had not found last time, or when its access changed for the
    /// worse. A check that sees the same as last time (a failed install kept for inspection)
    /// adds nothing, so hourly checks do not flood the timeline. A removed install's lost
    /// access is no news: the removal email invited the customer to delete the access stack.
    /// When the install had leftovers (`had_leftovers`) and nothing is found now, that they
    /// are gone is news.
    pub fn worth_an_event(&self, previous: Option<&Findings>, had_leftovers: bool) -> bool {
        if !self.deleted.is_empty()
            || (had_leftovers && self.access == Access::Ok && self.found.is_empty())
        {
            return true;
        }
        match (&self.access, previous) {
            (Access::Lost { .. }, _) if self.install_status == InstallStatus::Removed => false,
            (Access::Ok, previous) => {
                !self.found.is_empty()
                    && previous
                        .is_none_or(|p| p.access != Access::Ok || p.found_ids() != self.found_ids())
            }
            (now, Some(previous)) => {
                std::mem::discriminant(now) != std::mem::discriminant(&previous.access)
            }
            (_, None) => true,
        }
    }

    pub fn outcome(&self) -> Outcome {
        if self.access == Access::Ok && self.action == Action::Delete && self.remaining == 0 {
            Outcome::Succeeded
        } else {
            Outcome::Waiting
        }
    }

    /// The timeline's sentence for this check, in `account`.
    pub fn message(&self, account: &str) -> String {
        let counts = |kinds: &mut dyn Iterator<Item = &Kind>| count_by_kind(kinds);
        match (&self.access, self.action) {
            (Access::Lost { message }, _) => {
                format!("scheduled check: {message}; what the install left in account {account}, if anything, cannot be checked or removed until then")
            }
            (Access::Failed { code, message }, _) => format!("scheduled check of account {account} did not finish ({code}: {message}); the next run tries again"),
            (Access::Ok, Action::Report) if self.found.is_empty() => format!("scheduled check: nothing the install made is left in account {account}"),
            (Access::Ok, Action::Report) => format!(
                "scheduled check: {} resources kept for inspection in account {account} ({}) cost about ${:.2} a month; remove the install to delete them",
                self.found.len(),
                counts(&mut self.found.iter().map(|f| &f.kind)),
                self.monthly_cost_usd
            ),
            (Access::Ok, Action::Delete) if self.found.is_empty() => format!("scheduled check: nothing of the install is left in account {account}"),
            (Access::Ok, Action::Delete) if self.remaining == self.leftovers.len() && self.deleted.is_empty() => format!(
                "scheduled check: {} resources the installer cannot delete are still in account {account} ({}), about ${:.2} a month",
                self.leftovers.len(),
                byoc_domain::leftover::one_line(&self.leftovers),
                self.monthly_cost_usd
            ),
            (Access::Ok, Action::Delete) if self.remaining == 0 => format!(
                "scheduled check found {} resources left in account {account} ({}) and deleted them; nothing is left",
                self.found.len(),
                counts(&mut self.found.iter().map(|f| &f.kind))
            ),
            (Access::Ok, Action::Delete) => format!(
                "scheduled check found {} resources left in account {account} ({}); deleted {}, {} remain (about ${:.2} a month), to be retried next run",
                self.found.len(),
                counts(&mut self.found.iter().map(|f| &f.kind)),
                self.deleted.len(),
                self.remaining,
                self.monthly_cost_usd
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::deletion_order::{Found, Reason};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn leftover_pass() -> Pass {
        let mut volume = Found::new(Kind::Volume, "vol-1", Reason::InstallTag);
        volume.size_gib = Some(100);
        volume.volume_type = Some("gp3".into());
        let address = Found::new(Kind::ElasticIp, "eipalloc-1", Reason::InstallTag);
        Pass {
            found: vec![volume.clone(), address.clone()],
            remaining: vec![volume, address],
            ..Default::default()
        }
    }

    #[test]
    fn only_checks_that_looked_and_found_nothing_count_towards_retiring() {
        let clean = || {
            Findings::of_pass(
                &Pass::default(),
                InstallStatus::Removed,
                Action::Delete,
                now(),
            )
        };
        let mut first = clean();
        first.count_clean_streak(None);
        assert_eq!(first.clean_streak, 1);
        let mut second = clean();
        second.count_clean_streak(Some(&first));
        assert_eq!(second.clean_streak, 2);
        let mut found = Findings::of_pass(
            &leftover_pass(),
            InstallStatus::Removed,
            Action::Delete,
            now(),
        );
        found.count_clean_streak(Some(&second));
        assert_eq!(
            found.clean_streak, 0,
            "something was found: the count starts again"
        );
        let mut unreachable = Findings::unreachable(
            Access::Lost {
                message: "gone".into(),
            },
            InstallStatus::Removed,
            Action::Delete,
            now(),
        );
        unreachable.count_clean_streak(Some(&second));
        assert_eq!(
            unreachable.clean_streak, 0,
            "a check that could not look proves nothing"
        );
    }

    #[test]
    fn a_report_lists_each_resource_with_its_reason_and_cost() {
        let findings = Findings::of_pass(
            &leftover_pass(),
            InstallStatus::Failed,
            Action::Report,
            now(),
        );
        let value = serde_json::to_value(&findings).unwrap();
        assert_eq!(
            value["found"][0],
            json!({"kind": "volume", "id": "vol-1", "reason": "tagged byoc:install-id", "monthly_cost_usd": 8.0})
        );
        assert_eq!(value["found"][1]["monthly_cost_usd"], 3.65);
        assert_eq!(
            (
                value["remaining"].clone(),
                value["monthly_cost_usd"].clone()
            ),
            (json!(2), json!(11.65))
        );
        assert_eq!(
            (
                value["access"].clone(),
                value["action"].clone(),
                value["install_status"].clone()
            ),
            (json!({"state": "ok"}), json!("report"), json!("failed"))
        );
        assert_eq!(value["checked_at"], "2026-11-24T12:00:00Z");
        assert_eq!(
            findings.message("111122223333"),
            "scheduled check: 2 resources kept for inspection in account 111122223333 (1 volume, 1 elastic-ip) cost about $11.65 a month; remove the install to delete them"
        );
        assert_eq!(findings.outcome(), Outcome::Waiting);
        let back: Findings = serde_json::from_value(value).unwrap();
        assert_eq!(back, findings);
    }

    #[test]
    fn deletions_are_listed_and_a_clean_sweep_succeeds() {
        let mut pass = leftover_pass();
        pass.attempts = vec![
            (Kind::Volume, "vol-1".into(), Attempt::Gone),
            (Kind::ElasticIp, "eipalloc-1".into(), Attempt::Gone),
        ];
        pass.remaining.clear();
        let findings = Findings::of_pass(&pass, InstallStatus::Removed, Action::Delete, now());
        assert_eq!(
            findings.deleted,
            vec![
                Listed {
                    kind: Kind::Volume,
                    id: "vol-1".into()
                },
                Listed {
                    kind: Kind::ElasticIp,
                    id: "eipalloc-1".into()
                }
            ]
        );
        assert_eq!(
            (
                findings.remaining,
                findings.monthly_cost_usd,
                findings.outcome()
            ),
            (0, 0.0, Outcome::Succeeded)
        );
        assert_eq!(findings.message("111122223333"), "scheduled check found 2 resources left in account 111122223333 (1 volume, 1 elastic-ip) and deleted them; nothing is left");
    }

    #[test]
    fn the_timeline_hears_of_news_only() {
        let clean = Findings::of_pass(
            &Pass::default(),
            InstallStatus::Removed,
            Action::Delete,
            now(),
        );
        assert!(
            !clean.worth_an_event(None, false),
            "nothing found, nothing to say"
        );
        assert!(
            clean.worth_an_event(Some(&clean), true),
            "what the removal left is gone"
        );
        let kept = Findings::of_pass(
            &leftover_pass(),
            InstallStatus::Failed,
            Action::Report,
            now(),
        );
        assert!(kept.worth_an_event(None, false));
        assert!(
            !kept.worth_an_event(Some(&kept), false),
            "the same resources again"
        );
        let mut more = leftover_pass();
        more.found
            .push(Found::new(Kind::Volume, "vol-2", Reason::InstallTag));
        assert!(
            Findings::of_pass(&more, InstallStatus::Failed, Action::Report, now())
                .worth_an_event(Some(&kept), false),
            "a new one"
        );

        let lost = Findings::unreachable(
            Access::Lost {
                message: "could not assume the role".into(),
            },
            InstallStatus::Failed,
            Action::Delete,
            now(),
        );
        assert!(lost.worth_an_event(Some(&clean), false) && lost.worth_an_event(None, false));
        let removed_and_gone = Findings {
            install_status: InstallStatus::Removed,
            ..lost.clone()
        };
        assert!(
            !removed_and_gone.worth_an_event(Some(&clean), false),
            "the customer was told to delete the access stack"
        );
        assert!(
            !lost.worth_an_event(Some(&lost), false),
            "still lost: said once"
        );
        assert!(
            kept.worth_an_event(Some(&lost), false),
            "back, and something is there"
        );
        assert_eq!(
            lost.message("111122223333"),
            "scheduled check: could not assume the role; what the install left in account 111122223333, if anything, cannot be checked or removed until then"
        );
    }
}
