//! What a step records about an install, and the pure rule that turns the install as read
//! into the install as written plus its timeline event. Kept apart from the store so the rules
//! are tested without DynamoDB.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::model::{Install, InstallError, InstallStatus, Notice, Outcome, Step, TimelineEvent};

#[derive(Debug, Clone)]
pub struct Change {
    pub step: Step,
    pub outcome: Outcome,
    pub message: String,
    /// The status this change moves the install to; `None` leaves it as it is.
    pub status: Option<InstallStatus>,
    pub error: Option<InstallError>,
    pub resources: BTreeMap<String, String>,
    pub execution_arn: Option<String>,
    pub notified: Option<Notice>,
    /// Replaces these keys of `Install::step_data`.
    pub step_data: BTreeMap<String, serde_json::Value>,
    /// Applied only while the install has this status, else refused (`InvalidTransition`):
    /// a move that must happen once (a retry) is not made twice by callers racing.
    pub only_from: Option<InstallStatus>,
    /// Keys dropped from `resources` and `step_data` before this change adds its own: steps
    /// that run again from scratch (a retry) must not read the last attempt's record.
    pub forget: Vec<String>,
}

impl Change {
    pub fn new(step: Step, outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            step,
            outcome,
            message: message.into(),
            status: None,
            error: None,
            resources: BTreeMap::new(),
            execution_arn: None,
            notified: None,
            step_data: BTreeMap::new(),
            only_from: None,
            forget: Vec::new(),
        }
    }

    pub fn only_from(mut self, status: InstallStatus) -> Self {
        self.only_from = Some(status);
        self
    }

    pub fn forget(mut self, key: impl Into<String>) -> Self {
        self.forget.push(key.into());
        self
    }

    pub fn status(mut self, status: InstallStatus) -> Self {
        self.status = Some(status);
        self
    }

    pub fn error(mut self, error: InstallError) -> Self {
        self.error = Some(error);
        self
    }

    pub fn resource(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.resources.insert(name.into(), value.into());
        self
    }

    pub fn execution_arn(mut self, arn: impl Into<String>) -> Self {
        self.execution_arn = Some(arn.into());
        self
    }

    pub fn data(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.step_data.insert(key.into(), value);
        self
    }

    /// Keeps `record` under its key.
    pub fn record<R: crate::step_record::StepRecord>(self, record: &R) -> Self {
        self.data(R::KEY, record.to_value())
    }

    pub fn notified(mut self, notice: Notice) -> Self {
        self.notified = Some(notice);
        self
    }
}

/// Applies `change` to `current`. The new version is `current.version + 1`, and it is also
/// the seq of the returned event.
pub fn apply(
    current: &Install,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<(Install, TimelineEvent)> {
    if change.only_from.is_some_and(|from| from != current.status) {
        let to = change.status.unwrap_or(current.status);
        return Err(Error::InvalidTransition {
            install_id: current.install_id.clone(),
            from: current.status,
            to,
        });
    }
    let mut next = current.clone();
    for key in &change.forget {
        next.resources.remove(key);
        next.step_data.remove(key);
    }
    if let Some(to) = change.status {
        if to != current.status {
            if !current.status.can_become(to) {
                return Err(Error::InvalidTransition {
                    install_id: current.install_id.clone(),
                    from: current.status,
                    to,
                });
            }
            next.status = to;
        }
    }
    // Retrying a failed install starts afresh: the old error no longer describes it.
    if next.status == InstallStatus::Pending {
        next.last_error = None;
        next.failed_step = None;
        next.notified.clear();
    }
    // Each upgrade sends its own emails and reports its own failure.
    if next.status == InstallStatus::Upgrading && current.status != InstallStatus::Upgrading {
        next.last_error = None;
        next.failed_step = None;
        next.notified.retain(|notice| !notice.of_upgrade());
    }
    if let Some(error) = &change.error {
        next.last_error = Some(error.clone());
    }
    // A step becomes the current one when it starts; later events about it (or a record
    // made by another writer meanwhile) do not move the pointer back.
    // A sweep that starts while the install is still running is the rollback of a failed
    // step: that step stays current, so the failure is reported against it.
    let rollback = change.step == Step::SweepDangling && next.status == InstallStatus::Running;
    if change.outcome == Outcome::Started && !rollback {
        next.current_step = Some(change.step);
    }
    if change.outcome == Outcome::Failed
        && change.step != Step::SweepDangling
        && change.step != Step::Notify
    {
        next.failed_step = Some(change.step);
    }
    next.resources
        .extend(change.resources.iter().map(|(k, v)| (k.clone(), v.clone())));
    next.step_data
        .extend(change.step_data.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(arn) = &change.execution_arn {
        next.execution_arn = Some(arn.clone());
    }
    if let Some(notice) = change.notified {
        if !next.notified.contains(&notice) {
            next.notified.push(notice);
        }
    }
    next.version = current.version + 1;
    next.updated_at = now;
    let event = TimelineEvent {
        seq: next.version,
        step: change.step,
        outcome: change.outcome,
        at: now,
        message: change.message.clone(),
        status: (next.status != current.status).then_some(next.status),
        webhook: None,
    };
    Ok((next, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, InstallId, Region, TenantId};

    fn install(status: InstallStatus, version: u64) -> Install {
        let now = Utc::now();
        Install {
            install_id: InstallId::generate(1).unwrap(),
            tenant_id: TenantId::parse("t", "acme").unwrap(),
            account_id: AccountId::parse("a", "111122223333").unwrap(),
            region: Region::parse("r", "us-east-1").unwrap(),
            options: Default::default(),
            status,
            current_step: None,
            created_at: now,
            updated_at: now,
            version,
            execution_arn: None,
            last_error: None,
            failed_step: None,
            resources: Default::default(),
            step_data: Default::default(),
            notified: vec![],
        }
    }

    #[test]
    fn each_change_takes_the_next_seq() {
        let start = install(InstallStatus::Pending, 1);
        let (next, event) = apply(
            &start,
            &Change::new(Step::ValidateTrust, Outcome::Started, "checking")
                .status(InstallStatus::Running),
            Utc::now(),
        )
        .unwrap();
        assert_eq!((next.version, event.seq), (2, 2));
        assert_eq!(event.status, Some(InstallStatus::Running));
        let (next, event) = apply(
            &next,
            &Change::new(Step::ValidateTrust, Outcome::Succeeded, "ok")
                .resource("role_arn", "arn:x"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!((next.version, event.seq, event.status), (3, 3, None));
        assert_eq!(next.resources["role_arn"], "arn:x");
        assert_eq!(next.current_step, Some(Step::ValidateTrust));
        let (next, _) = apply(
            &next,
            &Change::new(Step::Request, Outcome::Succeeded, "execution started"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            next.current_step,
            Some(Step::ValidateTrust),
            "only a starting step becomes current"
        );
    }

    #[test]
    fn a_rollback_sweep_leaves_the_failed_step_current_but_an_uninstall_sweep_takes_over() {
        let mut running = install(InstallStatus::Running, 5);
        running.current_step = Some(Step::CreateNetwork);
        let (next, _) = apply(
            &running,
            &Change::new(Step::SweepDangling, Outcome::Started, "rolling back"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(next.current_step, Some(Step::CreateNetwork));
        let removing = install(InstallStatus::Removing, 9);
        let (next, _) = apply(
            &removing,
            &Change::new(Step::SweepDangling, Outcome::Started, "removing"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(next.current_step, Some(Step::SweepDangling));
    }

    #[test]
    fn the_step_that_recorded_a_failure_is_remembered() {
        let mut running = install(InstallStatus::Running, 5);
        running.current_step = Some(Step::CreateCluster);
        let (next, _) = apply(
            &running,
            &Change::new(Step::CreateNetwork, Outcome::Failed, "NAT failed"),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            (next.failed_step, next.current_step),
            (Some(Step::CreateNetwork), Some(Step::CreateCluster))
        );
    }

    #[test]
    fn refuses_a_skipped_state() {
        let err = apply(
            &install(InstallStatus::Pending, 1),
            &Change::new(Step::Notify, Outcome::Succeeded, "").status(InstallStatus::Ready),
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidTransition {
                from: InstallStatus::Pending,
                to: InstallStatus::Ready,
                ..
            }
        ));
    }

    #[test]
    fn same_status_is_not_a_move() {
        let (next, event) = apply(
            &install(InstallStatus::Running, 4),
            &Change::new(Step::ValidateTrust, Outcome::Started, "again")
                .status(InstallStatus::Running),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(next.status, InstallStatus::Running);
        assert_eq!(event.status, None);
    }

    #[test]
    fn retry_clears_the_old_error_and_notifications() {
        let mut failed = install(InstallStatus::Failed, 7);
        failed.last_error = Some(InstallError {
            step: Step::ValidateTrust,
            code: "TrustInvalid".into(),
            message: "x".into(),
        });
        failed.notified = vec![Notice::Failed];
        let (next, _) = apply(
            &failed,
            &Change::new(Step::Request, Outcome::Started, "retry").status(InstallStatus::Pending),
            Utc::now(),
        )
        .unwrap();
        assert!(next.last_error.is_none() && next.notified.is_empty());
    }

    #[test]
    fn a_change_for_one_status_is_refused_once_the_install_left_it() {
        let change = Change::new(Step::Request, Outcome::Started, "retry")
            .status(InstallStatus::Pending)
            .only_from(InstallStatus::Failed);
        assert!(apply(&install(InstallStatus::Failed, 7), &change, Utc::now()).is_ok());
        let err = apply(&install(InstallStatus::Pending, 8), &change, Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidTransition {
                    from: InstallStatus::Pending,
                    ..
                }
            ),
            "a second retry of the same failure is refused"
        );
    }

    #[test]
    fn forgotten_keys_are_dropped_before_the_change_adds_its_own() {
        let mut failed = install(InstallStatus::Failed, 7);
        failed
            .resources
            .insert("cluster_name".into(), "byoc-x".into());
        failed.resources.insert("role_arn".into(), "arn:x".into());
        failed
            .step_data
            .insert("network".into(), serde_json::json!({"vpc_id": "vpc-1"}));
        let change = Change::new(Step::Request, Outcome::Started, "retry")
            .forget("cluster_name")
            .forget("network")
            .data("retry", serde_json::json!({"n": 1}));
        let (next, _) = apply(&failed, &change, Utc::now()).unwrap();
        assert!(
            !next.resources.contains_key("cluster_name") && !next.step_data.contains_key("network")
        );
        assert_eq!(
            (
                next.resources["role_arn"].as_str(),
                &next.step_data["retry"]
            ),
            ("arn:x", &serde_json::json!({"n": 1}))
        );
    }
}
