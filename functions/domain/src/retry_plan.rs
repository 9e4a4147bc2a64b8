//! Retrying a failed install: where its state machine resumes, what of the failed attempt's
//! record the steps that run again must not read, and the retry's execution. Pure rules, so
//! they are tested without AWS; `POST /installs/{id}/retry` applies them.

use serde::{Deserialize, Serialize};

use crate::ids::{InstallId, TenantId};
use crate::model::{Install, InstallStatus, Step};
use crate::step_record::{self, resource, StepRecord};

/// `step_data` key of the retry in flight.
pub const RETRY_KEY: &str = "retry";

/// What each step keeps on the record (`step_data` keys and `resources` names), in flow order.
/// A step that runs again must start from the tags, not from ids of what the rollback swept.
const RECORDS: [(Step, &[&str]); 4] = [
    (Step::CheckQuotas, &[crate::quota_plan::QUOTA_CHECK_KEY]),
    // The open requests are found again by listing; the wait's clock starts anew.
    (Step::RequestQuota, &[step_record::QUOTA_REQUESTS_KEY]),
    (Step::CreateNetwork, &[step_record::NETWORK_KEY]),
    (
        Step::CreateCluster,
        &[
            crate::cluster_plan::CLUSTER_KEY,
            resource::CLUSTER_NAME,
            resource::CLUSTER_ARN,
            resource::CLUSTER_ENDPOINT,
            resource::KUBERNETES_VERSION,
            resource::NODEGROUP_NAME,
        ],
    ),
];

/// Where a retried install's state machine goes once access is proved again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The state the `ResumePoint` Choice jumps to (`None`: every step again, from the quota
    /// check).
    pub resume_at: Option<Step>,
    /// Record keys of the steps that run again.
    pub forget: Vec<&'static str>,
}

/// The resume point for an install that failed at `failed_step`.
///
/// Access is always validated again first (the failure may be days old, and the customer may
/// have changed the stack since). Quota failures re-run the check (the account may have
/// changed); network and cluster failures resume at the network step: a rolled-back install
/// has no network left for its cluster, and a kept one is adopted by its tags in one call.
pub fn resume(failed_step: Option<Step>) -> Resume {
    let resume_at = match failed_step {
        Some(Step::CheckQuotas | Step::RequestQuota) => Some(Step::CheckQuotas),
        Some(Step::CreateNetwork | Step::CreateCluster) => Some(Step::CreateNetwork),
        _ => None,
    };
    let first = RECORDS
        .iter()
        .position(|(step, _)| Some(*step) == resume_at)
        .unwrap_or(0);
    let forget = RECORDS[first..]
        .iter()
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect();
    Resume { resume_at, forget }
}

/// The retry's execution: one per failure retried (named after the failed record's version), so
/// names stay unique and a repeated call finds the same execution.
pub fn execution_name(install_id: &InstallId, failed_version: u64) -> String {
    format!("{install_id}-retry-{failed_version}")
}

/// An execution's ARN, as Step Functions forms it from its state machine's ARN and its name
/// (`arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`).
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (prefix, machine) = state_machine_arn.split_once(":stateMachine:")?;
    (!machine.is_empty() && !machine.contains(':'))
        .then(|| format!("{prefix}:execution:{machine}:{name}"))
}

/// The retry recorded on the install under [`RETRY_KEY`] when it was requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryRecord {
    pub execution_name: String,
    pub execution_arn: String,
    /// The step that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<Step>,
}

impl RetryRecord {
    /// The retry in flight: recorded, and the install pending or running since.
    pub fn in_flight(install: &Install) -> Option<RetryRecord> {
        if !matches!(
            install.status,
            InstallStatus::Pending | InstallStatus::Running
        ) {
            return None;
        }
        Self::of(install)
    }
}

impl StepRecord for RetryRecord {
    const KEY: &'static str = RETRY_KEY;
}

/// The retry's execution input: ids and the resume point only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeInput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_cluster_failures_resume_at_the_network_and_redo_both() {
        for failed in [Step::CreateNetwork, Step::CreateCluster] {
            let plan = resume(Some(failed));
            assert_eq!(plan.resume_at, Some(Step::CreateNetwork));
            assert!(
                plan.forget.contains(&"network") && plan.forget.contains(&"cluster_name"),
                "{:?}",
                plan.forget
            );
            assert!(
                !plan.forget.contains(&"quota_check"),
                "the quota check is not redone"
            );
        }
    }

    #[test]
    fn quota_failures_check_again_and_earlier_ones_start_over() {
        let plan = resume(Some(Step::RequestQuota));
        assert_eq!(plan.resume_at, Some(Step::CheckQuotas));
        assert!(plan.forget.contains(&"quota_requests") && plan.forget.contains(&"network"));
        for early in [None, Some(Step::Request), Some(Step::ValidateTrust)] {
            let plan = resume(early);
            assert_eq!(plan.resume_at, None);
            assert_eq!(
                plan.forget.len(),
                RECORDS.iter().map(|(_, k)| k.len()).sum::<usize>()
            );
        }
    }

    #[test]
    fn the_resume_point_reaches_the_state_machine_as_its_step_name() {
        let input = ResumeInput {
            install_id: InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap(),
            tenant_id: TenantId::parse("t", "acme").unwrap(),
            resume_at: Some(Step::CreateNetwork),
        };
        let text = serde_json::to_string(&input).unwrap();
        assert_eq!(
            text,
            r#"{"install_id":"inst-01hzy0000000000000000000aa","tenant_id":"acme","resume_at":"create-network"}"#
        );
        let plain = serde_json::to_value(ResumeInput {
            resume_at: None,
            ..input
        })
        .unwrap();
        assert!(
            plain.get("resume_at").is_none(),
            "no resume point: the key is absent, as the Choice's IsPresent expects"
        );
    }

    #[test]
    fn executions_are_named_per_failure_and_their_arn_follows_the_machine() {
        let id = InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap();
        let name = execution_name(&id, 17);
        assert_eq!(name, "inst-01hzy0000000000000000000aa-retry-17");
        assert!(
            name.len() <= 80,
            "Step Functions names are at most 80 characters"
        );
        assert_eq!(
            execution_arn("arn:aws:states:eu-west-1:123456789012:stateMachine:byoc-install", &name).as_deref(),
            Some("arn:aws:states:eu-west-1:123456789012:execution:byoc-install:inst-01hzy0000000000000000000aa-retry-17")
        );
        assert_eq!(
            execution_arn("arn:aws:states:eu-west-1:123456789012:activity:x", &name),
            None
        );
    }
}
