//! Scheduled work over the whole fleet, fanned out: a schedule's run enumerates the installs
//! it owes a check through the `installs-by-status` index and sends each one as a message to
//! the job's SQS FIFO queue; the job's function, mapped to that queue, checks them in batches,
//! many at once. One cycle covers every install whatever the fleet's size, and the run that
//! enumerates does no customer-account work itself.
//!
//! Bounds, from SQS FIFO semantics (Amazon SQS Developer Guide, "FIFO queue delivery logic";
//! Lambda Developer Guide, "Using Lambda with Amazon SQS": Lambda sends one batch at a time per
//! message group): a message's group is its customer account and a slot, one of
//! `per_account` taken from the install id, so one account never sees more than `per_account`
//! checks of a job at once, however many of its installs are due, and one install's messages
//! are always in the same group (never two of its checks at once from the queue). A lease per
//! install (`SCHEDULE#<job>#<install>`) keeps an operator's run on named installs, or a message
//! delivered again after a crash, from checking it beside another check. Within a batch the
//! groups run at once and each group in order, so a slow account holds up only its own slot;
//! each check is bounded in time, and what a batch could not start before the Lambda's deadline
//! goes back to the queue (batchItemFailures) in order.

mod dispatch;
mod worker;

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use dispatch::{dispatch, Dispatched, ENUMERATION_PAGE};
pub use worker::{checked_alone, Worked, Worker};

use byoc_domain::error::Result;
use byoc_domain::ids::{AccountId, InstallId, TenantId};
use byoc_domain::model::{Install, InstallStatus};
use byoc_domain::step_input::StepInput;

/// Where a job's messages go and how many checks one customer account may see at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    pub queue_url: String,
    pub per_account: u32,
}

impl FleetSettings {
    /// `<prefix>_QUEUE_URL` (set by the vendor stack) and `FLEET_ACCOUNT_CONCURRENCY`
    /// (1 to 10, default 2).
    pub fn from_env(prefix: &str) -> Result<Self> {
        Self::from_values(
            crate::aws::env(&format!("{prefix}_QUEUE_URL"))?,
            std::env::var("FLEET_ACCOUNT_CONCURRENCY").ok().as_deref(),
        )
    }

    pub fn from_values(queue_url: String, per_account: Option<&str>) -> Result<Self> {
        let per_account =
            crate::schedule::whole_number("FLEET_ACCOUNT_CONCURRENCY", per_account, 1..=10, 2)?
                as u32;
        Ok(Self {
            queue_url,
            per_account,
        })
    }
}

/// One install owed a check in one cycle (ids only: no secret goes through the queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetMessage {
    pub job: String,
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    /// When the cycle's schedule fired: what the check judges dates by.
    pub cycle: DateTime<Utc>,
}

impl FleetMessage {
    pub fn of(job: &str, install: &Install, cycle: DateTime<Utc>) -> Self {
        Self {
            job: job.to_owned(),
            install_id: install.install_id.clone(),
            tenant_id: install.tenant_id.clone(),
            account_id: install.account_id.clone(),
            cycle,
        }
    }

    pub fn step_input(&self) -> StepInput {
        StepInput {
            install_id: self.install_id.clone(),
            tenant_id: self.tenant_id.clone(),
        }
    }

    /// The message group: the account and one of its `per_account` slots, fixed per install.
    pub fn group(&self, per_account: u32) -> String {
        let digest = Sha256::digest(self.install_id.as_str().as_bytes());
        let slot =
            u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % per_account.max(1);
        format!("{}.{slot}", self.account_id)
    }

    /// The same install in the same cycle is one message, however often the schedule's event
    /// is delivered (SQS drops a repeat within five minutes).
    pub fn deduplication_id(&self) -> String {
        format!(
            "{}.{}.{}",
            self.job,
            self.install_id,
            self.cycle.timestamp()
        )
    }
}

/// Where an enumeration that ran out of time goes on: the status it was listing and the last
/// install it read (none: that status from its start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub status: InstallStatus,
    pub after: Option<InstallId>,
}

/// The rest of a cycle's enumeration, sent through the job's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    pub job: String,
    pub cycle: DateTime<Utc>,
    pub resume: Resume,
}

impl Continuation {
    /// A group of its own: never behind an account's checks.
    pub fn group(&self) -> String {
        format!("enumeration.{}", self.job)
    }

    pub fn deduplication_id(&self) -> String {
        let after = self.resume.after.as_ref().map_or("start", |a| a.as_str());
        format!(
            "{}.continue.{}.{}.{after}",
            self.job,
            self.cycle.timestamp(),
            self.resume.status
        )
    }
}

/// What a job's queue carries: an install to check, or the rest of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Check(FleetMessage),
    Continue(Continuation),
}

impl QueueMessage {
    pub fn job(&self) -> &str {
        match self {
            QueueMessage::Check(m) => &m.job,
            QueueMessage::Continue(c) => &c.job,
        }
    }
}

/// Whether `value` is an SQS event (what the queue's mapping sends the job's function).
pub fn recognise_queue_event(value: &serde_json::Value) -> Option<SqsEvent> {
    let records = value.get("Records")?.as_array()?;
    let from_sqs = records
        .first()
        .and_then(|r| r.get("eventSource"))
        .and_then(|s| s.as_str())
        == Some("aws:sqs");
    if !from_sqs {
        return None;
    }
    serde_json::from_value(value.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(install: &str, account: &str) -> FleetMessage {
        FleetMessage {
            job: "trust-check".into(),
            install_id: InstallId::parse("install_id", install).unwrap(),
            tenant_id: TenantId::parse("tenant_id", "acme").unwrap(),
            account_id: AccountId::parse("account_id", account).unwrap(),
            cycle: "2026-12-07T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn an_account_gets_at_most_its_slots_and_an_install_always_the_same_one() {
        let mut groups = std::collections::BTreeSet::new();
        for n in 0..200 {
            let id = format!("inst-01hzy0000000000000000{n:05}");
            let m = message(&id, "111122223333");
            assert_eq!(m.group(3), message(&id, "111122223333").group(3));
            groups.insert(m.group(3));
        }
        assert_eq!(
            groups.into_iter().collect::<Vec<_>>(),
            ["111122223333.0", "111122223333.1", "111122223333.2"]
        );
        let one = message("inst-01hzy0000000000000000000aa", "444455556666");
        assert_eq!(one.group(1), "444455556666.0");
    }

    #[test]
    fn a_repeat_of_the_same_cycle_is_one_message_and_the_next_cycle_another() {
        let m = message("inst-01hzy0000000000000000000aa", "111122223333");
        assert_eq!(
            m.deduplication_id(),
            "trust-check.inst-01hzy0000000000000000000aa.1796644800"
        );
        let later = FleetMessage {
            cycle: "2026-12-07T18:00:00Z".parse().unwrap(),
            ..m.clone()
        };
        assert_ne!(m.deduplication_id(), later.deduplication_id());
        assert!(m.deduplication_id().len() <= 128);
    }

    #[test]
    fn settings_default_to_two_checks_per_account_and_name_a_bad_value() {
        let s = FleetSettings::from_values("q".into(), None).unwrap();
        assert_eq!(s.per_account, 2);
        assert_eq!(
            FleetSettings::from_values("q".into(), Some("5"))
                .unwrap()
                .per_account,
            5
        );
        let err = FleetSettings::from_values("q".into(), Some("0"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "FLEET_ACCOUNT_CONCURRENCY must be a whole number from 1 to 10, not \"0\""
            ),
            "{err}"
        );
    }

    #[test]
    fn a_continuation_is_told_from_a_check_and_has_a_group_of_its_own() {
        let check = message("inst-01hzy0000000000000000000aa", "111122223333");
        let body = serde_json::to_string(&check).unwrap();
        assert_eq!(
            serde_json::from_str::<QueueMessage>(&body).unwrap(),
            QueueMessage::Check(check.clone())
        );
        let rest = Continuation {
            job: "sweep-dangling".into(),
            cycle: check.cycle,
            resume: Resume {
                status: InstallStatus::Removed,
                after: Some(check.install_id.clone()),
            },
        };
        let body = serde_json::to_string(&rest).unwrap();
        assert_eq!(
            serde_json::from_str::<QueueMessage>(&body).unwrap(),
            QueueMessage::Continue(rest.clone())
        );
        assert_eq!(rest.group(), "enumeration.sweep-dangling");
        assert_eq!(
            rest.deduplication_id(),
            "sweep-dangling.continue.1796644800.removed.inst-01hzy0000000000000000000aa"
        );
    }

    #[test]
    fn a_queue_event_is_told_from_other_events() {
        let event = json!({"Records": [{"messageId": "m1", "receiptHandle": "r", "body": "{}", "attributes": {"MessageGroupId": "111122223333.0"},
                           "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q.fifo", "awsRegion": "us-east-1"}]});
        let read = recognise_queue_event(&event).unwrap();
        assert_eq!(
            read.records[0].attributes["MessageGroupId"],
            "111122223333.0"
        );
        assert!(recognise_queue_event(&json!({"install_id": "x"})).is_none());
        assert!(
            recognise_queue_event(&json!({"Records": [{"eventSource": "aws:dynamodb"}]})).is_none()
        );
    }
}
