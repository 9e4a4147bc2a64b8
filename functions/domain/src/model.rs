//! What the installer records: tenants, installs, and each install's timeline.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::external_id::ExternalId;
use crate::ids::{AccountId, Email, InstallId, Region, TenantId};
use crate::options::InstallOptions;

/// A vendor's customer. The External ID lives here and only here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub tenant_id: TenantId,
    pub name: String,
    pub email: Email,
    pub external_id: ExternalId,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallStatus {
    /// Recorded; the state machine has not picked it up yet.
    Pending,
    Running,
    Ready,
    Failed,
    Removing,
    Removed,
    /// A ready install whose Kubernetes version is being upgraded; it serves throughout and
    /// is ready again when the upgrade ends, whether it succeeded or not.
    Upgrading,
}

impl InstallStatus {
    /// The only moves an install can make. Anything else is a bug or a stale writer, and the
    /// store refuses it rather than skipping a state.
    pub fn can_become(self, next: InstallStatus) -> bool {
        use InstallStatus::*;
        matches!(
            (self, next),
            (Pending, Running)
                | (Pending, Failed)
                | (Running, Ready)
                | (Running, Failed)
                | (Ready, Removing)
                | (Failed, Removing)
                | (Failed, Pending)
                | (Removing, Removed)
                | (Removing, Failed)
                | (Ready, Upgrading)
                | (Upgrading, Ready)
        )
    }

    /// An install that holds its tenant/account/region slot: a second one there is refused.
    pub fn holds_slot(self) -> bool {
        matches!(
            self,
            InstallStatus::Pending
                | InstallStatus::Running
                | InstallStatus::Ready
                | InstallStatus::Removing
                | InstallStatus::Upgrading
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstallStatus::Pending => "pending",
            InstallStatus::Running => "running",
            InstallStatus::Ready => "ready",
            InstallStatus::Failed => "failed",
            InstallStatus::Removing => "removing",
            InstallStatus::Removed => "removed",
            InstallStatus::Upgrading => "upgrading",
        }
    }
}

impl fmt::Display for InstallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of an install, as they appear on its timeline and in emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Request,
    ValidateTrust,
    CheckQuotas,
    RequestQuota,
    CreateNetwork,
    CreateCluster,
    SweepDangling,
    Notify,
    /// A Kubernetes version upgrade of a ready install (preflight, then one minor version
    /// at a time: control plane, node groups, add-ons).
    UpgradeCluster,
    /// The scheduled version check: the install's Kubernetes version nears (or has reached)
    /// the end of standard support; it may start an upgrade (`auto_upgrade`).
    VersionCheck,
    /// The customer's switch over the vendor's access (`VendorAccess` on their access
    /// stack): paused (`waiting`) or resumed (`succeeded`).
    VendorAccess,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Request => "request",
            Step::ValidateTrust => "validate-trust",
            Step::CheckQuotas => "check-quotas",
            Step::RequestQuota => "request-quota",
            Step::CreateNetwork => "create-network",
            Step::CreateCluster => "create-cluster",
            Step::SweepDangling => "sweep-dangling",
            Step::Notify => "notify",
            Step::UpgradeCluster => "upgrade-cluster",
            Step::VersionCheck => "version-check",
            Step::VendorAccess => "vendor-access",
        }
    }

    /// How the step reads in a sentence to a customer.
    pub fn describe(self) -> &'static str {
        match self {
            Step::Request => "accepting the install request",
            Step::ValidateTrust => "checking access to your AWS account",
            Step::CheckQuotas => "checking your account's service quotas",
            Step::RequestQuota => "requesting quota increases",
            Step::CreateNetwork => "creating the network (VPC, subnets, NAT)",
            Step::CreateCluster => "creating the EKS cluster",
            Step::SweepDangling => "removing what the install created",
            Step::Notify => "sending the notification",
            Step::UpgradeCluster => "upgrading the cluster's Kubernetes version",
            Step::VersionCheck => "checking the cluster's Kubernetes version support",
            Step::VendorAccess => "your switch over the vendor's access",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Started,
    /// Part of the step is done (e.g. one resource made); the step goes on.
    Progress,
    /// Not done yet, will be tried again (e.g. the customer's stack is still being created).
    Waiting,
    Succeeded,
    Failed,
}

/// The emails an install sends, each at most once per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notice {
    Ready,
    Failed,
    /// Quota increases were requested; the install resumes by itself once AWS approves.
    WaitingForQuota,
    /// Uninstall finished: nothing the install made is left.
    Removed,
    /// An upgrade passed its preflight and started changing the cluster.
    UpgradeStarted,
    /// An upgrade reached its target version.
    Upgraded,
    /// An upgrade stopped (blocked in preflight, or failed on the way): what to do next.
    UpgradeFailed,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Ready => "ready",
            Notice::Failed => "failed",
            Notice::WaitingForQuota => "waiting-for-quota",
            Notice::Removed => "removed",
            Notice::UpgradeStarted => "upgrade-started",
            Notice::Upgraded => "upgraded",
            Notice::UpgradeFailed => "upgrade-failed",
        }
    }

    /// The notices an upgrade sends, each at most once per upgrade and again for the next one
    /// (an upgrade may wait for quota as its install did).
    pub fn of_upgrade(self) -> bool {
        matches!(
            self,
            Notice::UpgradeStarted
                | Notice::Upgraded
                | Notice::UpgradeFailed
                | Notice::WaitingForQuota
        )
    }
}

/// One entry of an install's timeline. `seq` numbers them 1, 2, 3… with no gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub seq: u64,
    pub step: Step,
    pub outcome: Outcome,
    pub at: DateTime<Utc>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<InstallStatus>,
    /// What became of sending this entry to the tenant's webhook, once publish-events tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<crate::webhook::WebhookDelivery>,
}

/// Why an install failed, in words a customer can act on. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallError {
    pub step: Step,
    /// The stable error name the state machine routed on, e.g. `TrustNotReady`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Install {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub region: Region,
    #[serde(default, deserialize_with = "crate::options::lenient")]
    pub options: InstallOptions,
    pub status: InstallStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<Step>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every recorded change; also the seq of the newest timeline event.
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<InstallError>,
    /// The step that last recorded a failure: steps interleave (the network is polled while
    /// the cluster comes up), so the current step alone cannot say which one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<Step>,
    /// Ids and ARNs of what the install found or made, by name (e.g. `role_arn`).
    #[serde(default)]
    pub resources: BTreeMap<String, String>,
    /// Structured results a step keeps for later steps and for the API (e.g. the quota
    /// check's deficits, the network's ids), by step-chosen key.
    #[serde(default)]
    pub step_data: BTreeMap<String, serde_json::Value>,
    /// Which notifications went out, so a retried notify step does not email twice.
    #[serde(default)]
    pub notified: Vec<Notice>,
}

impl Install {
    /// A just-requested install, with a new time-sortable id, and the first event of its
    /// timeline (seq 1), as the store's `create_install` takes them.
    pub fn requested(
        tenant_id: TenantId,
        account_id: AccountId,
        region: Region,
        options: InstallOptions,
        now: DateTime<Utc>,
    ) -> Result<(Install, TimelineEvent), getrandom::Error> {
        let install_id = InstallId::generate(u64::try_from(now.timestamp_millis()).unwrap_or(0))?;
        let event = TimelineEvent {
            seq: 1,
            step: Step::Request,
            outcome: Outcome::Succeeded,
            at: now,
            message: format!("install requested for account {account_id} in {region}"),
            status: Some(InstallStatus::Pending),
            webhook: None,
        };
        let install = Install {
            install_id,
            tenant_id,
            account_id,
            region,
            options,
            status: InstallStatus::Pending,
            current_step: Some(Step::Request),
            created_at: now,
            updated_at: now,
            version: 1,
            execution_arn: None,
            last_error: None,
            failed_step: None,
            resources: BTreeMap::new(),
            step_data: BTreeMap::new(),
            notified: vec![],
        };
        Ok((install, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstallStatus::*;

    const ALL: [InstallStatus; 7] = [
        Pending, Running, Ready, Failed, Removing, Removed, Upgrading,
    ];

    #[test]
    fn removed_is_final_and_nothing_skips_running() {
        for s in ALL {
            assert!(!Removed.can_become(s));
            assert!(!s.can_become(s), "{s} -> {s} is not a transition");
        }
        assert!(
            !Pending.can_become(Ready),
            "ready without running would skip a state"
        );
        assert!(Pending.can_become(Running) && Running.can_become(Ready));
    }

    #[test]
    fn only_removed_and_failed_installs_free_their_slot() {
        let free: Vec<_> = ALL.into_iter().filter(|s| !s.holds_slot()).collect();
        assert_eq!(free, vec![Failed, Removed]);
    }

    #[test]
    fn statuses_and_steps_serialize_as_documented() {
        assert_eq!(serde_json::to_string(&Running).unwrap(), "\"running\"");
        assert_eq!(
            serde_json::to_string(&Step::ValidateTrust).unwrap(),
            "\"validate-trust\""
        );
        assert_eq!(Step::ValidateTrust.as_str(), "validate-trust");
        for notice in [
            Notice::Ready,
            Notice::Failed,
            Notice::WaitingForQuota,
            Notice::Removed,
            Notice::UpgradeStarted,
            Notice::Upgraded,
            Notice::UpgradeFailed,
        ] {
            assert_eq!(serde_json::to_value(notice).unwrap(), notice.as_str());
        }
    }
}
