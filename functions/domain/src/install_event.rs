//! The `byoc.install` event a vendor receives for each entry of an install's timeline (on its
//! EventBridge bus, and on its webhook when it registered one). The schema is versioned and
//! documented in docs/events.md; this is the one place that decides an event's detail-type.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, InstallId, Region, TenantId};
use crate::model::{Install, InstallStatus, Outcome, Step, TimelineEvent};

pub const SOURCE: &str = "byoc.install";
/// Bumped only for a change that could break a consumer (a field removed or changing
/// meaning); new fields and detail-types are added within a version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetailType {
    #[serde(rename = "Install Started")]
    InstallStarted,
    #[serde(rename = "Step Started")]
    StepStarted,
    /// Part of a step is done, or it is waiting on AWS (a NAT gateway, the cluster).
    #[serde(rename = "Step Progress")]
    StepProgress,
    #[serde(rename = "Step Succeeded")]
    StepSucceeded,
    #[serde(rename = "Step Failed")]
    StepFailed,
    /// The customer must act: their access stack is missing or wrong, or quota increases wait.
    #[serde(rename = "Action Needed")]
    ActionNeeded,
    #[serde(rename = "Install Ready")]
    InstallReady,
    #[serde(rename = "Install Failed")]
    InstallFailed,
    #[serde(rename = "Install Removed")]
    InstallRemoved,
    /// A Kubernetes version upgrade was accepted: the install is `upgrading`.
    #[serde(rename = "Upgrade Started")]
    UpgradeStarted,
    /// The upgrade reached its target version: the install is `ready` again.
    #[serde(rename = "Upgrade Succeeded")]
    UpgradeSucceeded,
    /// The upgrade stopped (blocked by its preflight or failed on the way): the install is
    /// `ready` again, at the version it reached, and its `last_error` says what to do.
    #[serde(rename = "Upgrade Failed")]
    UpgradeFailed,
    /// The install's Kubernetes version nears the end of standard support (60, 30 and 7 days
    /// before) or has reached it; the customer was emailed. The message says when, and
    /// whether an automatic upgrade starts.
    #[serde(rename = "Version Support Ending")]
    VersionSupportEnding,
    /// The customer paused the vendor's access (`VendorAccess: paused` on their access stack):
    /// installs, upgrades and removals in that account wait, scheduled work holds.
    #[serde(rename = "Access Paused")]
    AccessPaused,
    /// The customer enabled the vendor's access again; what waited goes on.
    #[serde(rename = "Access Resumed")]
    AccessResumed,
}

impl DetailType {
    pub const ALL: [DetailType; 15] = [
        DetailType::InstallStarted,
        DetailType::StepStarted,
        DetailType::StepProgress,
        DetailType::StepSucceeded,
        DetailType::StepFailed,
        DetailType::ActionNeeded,
        DetailType::InstallReady,
        DetailType::InstallFailed,
        DetailType::InstallRemoved,
        DetailType::UpgradeStarted,
        DetailType::UpgradeSucceeded,
        DetailType::UpgradeFailed,
        DetailType::VersionSupportEnding,
        DetailType::AccessPaused,
        DetailType::AccessResumed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::InstallStarted => "Install Started",
            DetailType::StepStarted => "Step Started",
            DetailType::StepProgress => "Step Progress",
            DetailType::StepSucceeded => "Step Succeeded",
            DetailType::StepFailed => "Step Failed",
            DetailType::ActionNeeded => "Action Needed",
            DetailType::InstallReady => "Install Ready",
            DetailType::InstallFailed => "Install Failed",
            DetailType::InstallRemoved => "Install Removed",
            DetailType::UpgradeStarted => "Upgrade Started",
            DetailType::UpgradeSucceeded => "Upgrade Succeeded",
            DetailType::UpgradeFailed => "Upgrade Failed",
            DetailType::VersionSupportEnding => "Version Support Ending",
            DetailType::AccessPaused => "Access Paused",
            DetailType::AccessResumed => "Access Resumed",
        }
    }

    /// What a timeline entry means to the vendor. A status the entry moved the install to
    /// wins over its step's outcome: the entry that makes an install ready is "Install Ready".
    pub fn of(event: &TimelineEvent) -> Self {
        match (event.status, event.step, event.outcome) {
            (None, Step::VendorAccess, Outcome::Waiting | Outcome::Failed) => {
                return DetailType::AccessPaused
            }
            (None, Step::VendorAccess, _) => return DetailType::AccessResumed,
            (Some(InstallStatus::Upgrading), _, _) => return DetailType::UpgradeStarted,
            (Some(InstallStatus::Ready), Step::UpgradeCluster, Outcome::Failed) => {
                return DetailType::UpgradeFailed
            }
            (Some(InstallStatus::Ready), Step::UpgradeCluster, _) => {
                return DetailType::UpgradeSucceeded
            }
            _ => {}
        }
        match event.status {
            Some(InstallStatus::Pending) => return DetailType::InstallStarted,
            Some(InstallStatus::Ready) => return DetailType::InstallReady,
            Some(InstallStatus::Failed) => return DetailType::InstallFailed,
            Some(InstallStatus::Removed) => return DetailType::InstallRemoved,
            Some(InstallStatus::Running | InstallStatus::Removing | InstallStatus::Upgrading)
            | None => {}
        }
        match (event.step, event.outcome) {
            (Step::VersionCheck, _) => DetailType::VersionSupportEnding,
            // The customer's access stack is not there yet, or does not let us in.
            (Step::ValidateTrust, Outcome::Waiting | Outcome::Failed) => DetailType::ActionNeeded,
            // Quota increases are waiting on AWS (or, in manual mode, on the customer).
            (Step::RequestQuota, Outcome::Waiting) => DetailType::ActionNeeded,
            // A removal left resources only the customer can delete.
            (Step::SweepDangling, Outcome::Failed) => DetailType::ActionNeeded,
            (_, Outcome::Started) => DetailType::StepStarted,
            (_, Outcome::Progress | Outcome::Waiting) => DetailType::StepProgress,
            (_, Outcome::Succeeded) => DetailType::StepSucceeded,
            (_, Outcome::Failed) => DetailType::StepFailed,
        }
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event's `detail`. Every field is always present (`status` is null when the entry did
/// not change the install's status), so consumers can rely on the shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallEventDetail {
    pub schema_version: u32,
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub region: Region,
    pub step: Step,
    pub outcome: Outcome,
    /// The status this entry moved the install to; null when it stayed as it was.
    pub status: Option<InstallStatus>,
    pub message: String,
    /// The timeline entry's number: 1, 2, 3… per install with no gap, so a consumer can
    /// order events and notice a missing one.
    pub seq: u64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstallEvent {
    pub detail_type: DetailType,
    pub detail: InstallEventDetail,
}

impl InstallEvent {
    /// The event for one entry of `install`'s timeline (only the install's identity is read).
    pub fn new(install: &Install, event: &TimelineEvent) -> Self {
        Self {
            detail_type: DetailType::of(event),
            detail: InstallEventDetail {
                schema_version: SCHEMA_VERSION,
                install_id: install.install_id.clone(),
                tenant_id: install.tenant_id.clone(),
                account_id: install.account_id.clone(),
                region: install.region.clone(),
                step: event.step,
                outcome: event.outcome,
                status: event.status,
                message: event.message.clone(),
                seq: event.seq,
                at: event.at,
            },
        }
    }

    /// Stable across redeliveries of the same entry: `<install_id>:<seq>`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.detail.install_id, self.detail.seq)
    }

    /// The webhook body: the same envelope fields EventBridge delivers, with our stable id.
    pub fn webhook_body(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id(),
            "source": SOURCE,
            "detail-type": self.detail_type.as_str(),
            "time": self.detail.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "detail": self.detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstallStatus as S;
    use Outcome as O;

    fn entry(step: Step, outcome: Outcome, status: Option<InstallStatus>) -> TimelineEvent {
        TimelineEvent {
            seq: 7,
            step,
            outcome,
            at: Utc::now(),
            message: "m".into(),
            status,
            webhook: None,
        }
    }

    fn kind(step: Step, outcome: Outcome, status: Option<InstallStatus>) -> &'static str {
        DetailType::of(&entry(step, outcome, status)).as_str()
    }

    #[test]
    fn status_moves_are_install_events() {
        assert_eq!(
            kind(Step::Request, O::Succeeded, Some(S::Pending)),
            "Install Started"
        );
        assert_eq!(
            kind(Step::Request, O::Started, Some(S::Pending)),
            "Install Started",
            "a retry starts the install again"
        );
        assert_eq!(
            kind(Step::Notify, O::Succeeded, Some(S::Ready)),
            "Install Ready"
        );
        assert_eq!(
            kind(Step::CreateNetwork, O::Failed, Some(S::Failed)),
            "Install Failed"
        );
        assert_eq!(
            kind(Step::Request, O::Failed, Some(S::Failed)),
            "Install Failed"
        );
        assert_eq!(
            kind(Step::SweepDangling, O::Succeeded, Some(S::Removed)),
            "Install Removed"
        );
        assert_eq!(
            kind(Step::ValidateTrust, O::Started, Some(S::Running)),
            "Step Started"
        );
        assert_eq!(
            kind(Step::Request, O::Succeeded, Some(S::Removing)),
            "Step Succeeded"
        );
    }

    #[test]
    fn the_customer_is_needed_for_access_and_quota_waits() {
        assert_eq!(kind(Step::ValidateTrust, O::Waiting, None), "Action Needed");
        assert_eq!(kind(Step::ValidateTrust, O::Failed, None), "Action Needed");
        assert_eq!(kind(Step::RequestQuota, O::Waiting, None), "Action Needed");
        assert_eq!(kind(Step::RequestQuota, O::Failed, None), "Step Failed");
        assert_eq!(
            kind(Step::CreateNetwork, O::Waiting, None),
            "Step Progress",
            "waiting on AWS is not the customer's job"
        );
    }

    #[test]
    fn an_upgrade_starts_and_ends_with_its_own_types() {
        assert_eq!(
            kind(Step::Request, O::Succeeded, Some(S::Upgrading)),
            "Upgrade Started"
        );
        assert_eq!(
            kind(Step::UpgradeCluster, O::Succeeded, Some(S::Ready)),
            "Upgrade Succeeded"
        );
        assert_eq!(
            kind(Step::UpgradeCluster, O::Failed, Some(S::Ready)),
            "Upgrade Failed"
        );
        assert_eq!(kind(Step::UpgradeCluster, O::Started, None), "Step Started");
        assert_eq!(
            kind(Step::VersionCheck, O::Waiting, None),
            "Version Support Ending"
        );
        assert_eq!(
            kind(Step::Notify, O::Succeeded, Some(S::Ready)),
            "Install Ready",
            "the install's own ready entry"
        );
    }

    #[test]
    fn every_step_outcome_maps_to_a_documented_type() {
        let steps = [
            Step::Request,
            Step::ValidateTrust,
            Step::CheckQuotas,
            Step::RequestQuota,
            Step::CreateNetwork,
            Step::CreateCluster,
            Step::SweepDangling,
            Step::Notify,
            Step::UpgradeCluster,
            Step::VersionCheck,
        ];
        let outcomes = [O::Started, O::Progress, O::Waiting, O::Succeeded, O::Failed];
        let statuses = [
            None,
            Some(S::Pending),
            Some(S::Running),
            Some(S::Ready),
            Some(S::Failed),
            Some(S::Removing),
            Some(S::Removed),
            Some(S::Upgrading),
        ];
        let docs = include_str!("../../../docs/events.md");
        for step in steps {
            for outcome in outcomes {
                for status in statuses {
                    let detail_type = DetailType::of(&entry(step, outcome, status));
                    assert!(
                        docs.contains(&format!("`{detail_type}`")),
                        "{detail_type} is not in docs/events.md"
                    );
                }
            }
        }
        assert_eq!(
            kind(Step::CreateCluster, O::Progress, None),
            "Step Progress"
        );
        assert_eq!(
            kind(Step::CheckQuotas, O::Succeeded, None),
            "Step Succeeded"
        );
        assert_eq!(kind(Step::CreateCluster, O::Failed, None), "Step Failed");
        for detail_type in DetailType::ALL {
            assert_eq!(
                serde_json::to_value(detail_type).unwrap(),
                detail_type.as_str()
            );
        }
    }

    #[test]
    fn detail_has_every_field_and_a_stable_id() {
        let now = Utc::now();
        let (install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "eu-west-1").unwrap(),
            Default::default(),
            now,
        )
        .unwrap();
        let event = InstallEvent::new(&install, &entry(Step::CreateCluster, O::Started, None));
        let body = event.webhook_body();
        assert_eq!(body["source"], SOURCE);
        assert_eq!(body["detail-type"], "Step Started");
        assert_eq!(body["id"], format!("{}:7", install.install_id));
        let detail = body["detail"].as_object().unwrap();
        let mut keys: Vec<&str> = detail.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "account_id",
                "at",
                "install_id",
                "message",
                "outcome",
                "region",
                "schema_version",
                "seq",
                "status",
                "step",
                "tenant_id"
            ]
        );
        assert_eq!(detail["status"], serde_json::Value::Null);
        assert_eq!(detail["step"], "create-cluster");
        assert_eq!(detail["schema_version"], 1);
        assert_eq!(detail["region"], "eu-west-1");
    }
}
