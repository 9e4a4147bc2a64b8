//! What the scheduled trust check found on a ready install, kept on the install
//! (`step_data["trust_check"]`, shown by `GET /installs/{id}`), and the rules that decide when
//! that is news: the timeline (and so the vendor's events and webhooks) hears of a change of
//! status only, and the customer is emailed once when it goes bad. Pure; validate-trust does
//! the AWS calls.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Outcome;

/// The key of the check in the install's step data.
pub const TRUST_CHECK_KEY: &str = "trust_check";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustStatus {
    /// The role is there, trusts only the vendor, and requires the tenant's External ID.
    Ok,
    /// The role cannot be assumed with the tenant's External ID any more (the access stack
    /// was deleted, or its trust policy no longer names the vendor or this External ID).
    Lost,
    /// The role still lets the vendor in, but is no longer as the template makes it (the
    /// External ID condition removed or loosened, another account trusted as well).
    Weakened,
}

impl TrustStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustStatus::Ok => "ok",
            TrustStatus::Lost => "lost",
            TrustStatus::Weakened => "weakened",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustCheck {
    pub status: TrustStatus,
    pub checked_at: DateTime<Utc>,
    /// When the install entered this status (the first check that saw it).
    pub since: DateTime<Utc>,
    /// What is wrong and what the customer should do; absent when ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl crate::step_record::StepRecord for TrustCheck {
    const KEY: &'static str = TRUST_CHECK_KEY;
}

impl TrustCheck {
    /// This run's result, carrying `since` over from the last check when the status is the same.
    pub fn new(
        status: TrustStatus,
        reason: Option<String>,
        checked_at: DateTime<Utc>,
        previous: Option<&TrustCheck>,
    ) -> Self {
        let since = previous
            .filter(|p| p.status == status)
            .map_or(checked_at, |p| p.since);
        Self {
            status,
            checked_at,
            since,
            reason,
        }
    }

    /// Whether the status changed since the last check. An install never checked became
    /// ready through a validated trust, so a first `ok` is no news.
    pub fn changed(&self, previous: Option<&TrustCheck>) -> bool {
        self.status != previous.map_or(TrustStatus::Ok, |p| p.status)
    }

    /// Whether the customer is emailed: when the trust goes bad, or bad in another way (the
    /// fix differs); not when it recovers, nor while it stays as it was.
    pub fn emails_customer(&self, previous: Option<&TrustCheck>) -> bool {
        self.status != TrustStatus::Ok && self.changed(previous)
    }

    /// A bad status is "Action Needed" for the vendor (validate-trust, waiting on the customer).
    pub fn outcome(&self) -> Outcome {
        match self.status {
            TrustStatus::Ok => Outcome::Succeeded,
            TrustStatus::Lost | TrustStatus::Weakened => Outcome::Waiting,
        }
    }

    /// The timeline's sentence for a change to this status.
    pub fn message(&self, account: &str) -> String {
        let reason = self.reason.as_deref().unwrap_or("no reason recorded");
        match self.status {
            TrustStatus::Ok => format!("scheduled trust check: access to account {account} works again and the role is as the template makes it"),
            TrustStatus::Lost => format!("scheduled trust check: access to account {account} is lost: {reason}"),
            TrustStatus::Weakened => format!("scheduled trust check: the access role in account {account} is weakened: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step_record::StepRecord;
    use serde_json::json;

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    #[test]
    fn only_a_change_of_status_is_news_and_only_going_bad_emails() {
        let ok = TrustCheck::new(TrustStatus::Ok, None, at("2026-11-24T00:00:00Z"), None);
        assert!(
            !ok.changed(None) && !ok.emails_customer(None),
            "a first ok says nothing"
        );
        let lost = TrustCheck::new(
            TrustStatus::Lost,
            Some("role gone".into()),
            at("2026-11-24T06:00:00Z"),
            Some(&ok),
        );
        assert!(lost.changed(Some(&ok)) && lost.emails_customer(Some(&ok)));
        assert!(lost.emails_customer(None), "bad at the first check");
        let still = TrustCheck::new(
            TrustStatus::Lost,
            Some("role gone".into()),
            at("2026-11-24T12:00:00Z"),
            Some(&lost),
        );
        assert!(
            !still.changed(Some(&lost)) && !still.emails_customer(Some(&lost)),
            "said once"
        );
        assert_eq!(
            still.since,
            at("2026-11-24T06:00:00Z"),
            "since carries over"
        );
        let weakened = TrustCheck::new(
            TrustStatus::Weakened,
            Some("no External ID".into()),
            at("2026-11-24T18:00:00Z"),
            Some(&still),
        );
        assert!(
            weakened.emails_customer(Some(&still)),
            "another problem, another fix"
        );
        assert_eq!(weakened.since, at("2026-11-24T18:00:00Z"));
        let back = TrustCheck::new(
            TrustStatus::Ok,
            None,
            at("2026-11-25T00:00:00Z"),
            Some(&weakened),
        );
        assert!(
            back.changed(Some(&weakened)) && !back.emails_customer(Some(&weakened)),
            "recovery is recorded, not emailed"
        );
        assert_eq!(
            (back.outcome(), lost.outcome()),
            (Outcome::Succeeded, Outcome::Waiting)
        );
    }

    #[test]
    fn the_record_reads_as_the_api_documents_it() {
        let lost = TrustCheck::new(
            TrustStatus::Lost,
            Some("the access stack was deleted".into()),
            at("2026-11-24T06:00:00Z"),
            None,
        );
        let value = serde_json::to_value(&lost).unwrap();
        assert_eq!(
            value,
            json!({"status": "lost", "checked_at": "2026-11-24T06:00:00Z", "since": "2026-11-24T06:00:00Z", "reason": "the access stack was deleted"})
        );
        let step_data = [(TRUST_CHECK_KEY.to_string(), value)].into();
        assert_eq!(TrustCheck::recorded(&step_data), Some(lost.clone()));
        let ok = serde_json::to_value(TrustCheck::new(
            TrustStatus::Ok,
            None,
            at("2026-11-24T06:00:00Z"),
            None,
        ))
        .unwrap();
        assert!(ok.get("reason").is_none(), "{ok}");
        assert_eq!(lost.message("111122223333"), "scheduled trust check: access to account 111122223333 is lost: the access stack was deleted");
    }
}
