//! The provision checks: every reason an install would fail in the customer's account, found
//! at once and before anything is built, each with what to do. check-quotas runs them (it holds
//! the probes); the API's `POST /installs/preflight` answers with the report. This module is the
//! contract between the two: the request, the report and its findings. An install runs the same
//! checks first (check-quotas' step) and keeps them on its record (`ProvisionChecks`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cost_estimate::Estimate;
use crate::ids::{AccountId, Region, TenantId};
use crate::options::InstallOptions;

/// The `step_data` key an install's provision checks are recorded under.
pub const PROVISION_CHECKS_KEY: &str = "provision_checks";

/// The same body as `POST /installs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightRequest {
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub region: Region,
    #[serde(default)]
    pub options: InstallOptions,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    /// The install would go ahead, but the customer should know (e.g. a quota the install will
    /// request and wait for, an old but working stack).
    Warning,
    /// The install would fail: the advice says what to do.
    Failed,
    /// Not run: a failed check it depends on (e.g. no access) says why.
    Skipped,
}

/// The checks, in the order they run and are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    Access,
    VendorAccess,
    TemplateVersion,
    Region,
    Permissions,
    InstanceType,
    VpcCidr,
    Quotas,
    KubernetesVersion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub check: CheckName,
    pub status: CheckStatus,
    pub message: String,
    /// What to do about it (absent when nothing is to be done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl Check {
    /// The finding in one line, with its advice: for an error message.
    pub fn line(&self) -> String {
        match &self.advice {
            Some(advice) => format!("{}: {} ({advice})", self.check.as_str(), self.message),
            None => format!("{}: {}", self.check.as_str(), self.message),
        }
    }

    pub fn passed(check: CheckName, message: impl Into<String>) -> Self {
        Self {
            check,
            status: CheckStatus::Passed,
            message: message.into(),
            advice: None,
        }
    }

    pub fn warning(
        check: CheckName,
        message: impl Into<String>,
        advice: impl Into<String>,
    ) -> Self {
        Self {
            check,
            status: CheckStatus::Warning,
            message: message.into(),
            advice: Some(advice.into()),
        }
    }

    pub fn failed(check: CheckName, message: impl Into<String>, advice: impl Into<String>) -> Self {
        Self {
            check,
            status: CheckStatus::Failed,
            message: message.into(),
            advice: Some(advice.into()),
        }
    }

    pub fn skipped(check: CheckName, because: impl Into<String>) -> Self {
        Self {
            check,
            status: CheckStatus::Skipped,
            message: because.into(),
            advice: None,
        }
    }
}

/// Every check's finding, and what the install would use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightReport {
    /// No check failed or was skipped: the install can go ahead.
    pub ok: bool,
    pub checks: Vec<Check>,
    /// The zones the install would use (the first that offer the node type, by name).
    pub zones: Vec<String>,
    /// The VPC block the install would use (the requested one, or the first free one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_cidr: Option<String>,
    /// The Kubernetes version the install would run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// The monthly AWS bill of the plan (absent when the Price List could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
}

impl PreflightReport {
    pub fn new(checks: Vec<Check>) -> Self {
        let ok = checks
            .iter()
            .all(|c| matches!(c.status, CheckStatus::Passed | CheckStatus::Warning));
        Self {
            ok,
            checks,
            zones: vec![],
            vpc_cidr: None,
            kubernetes_version: None,
            estimate: None,
        }
    }

    /// The failed checks, one line each, for an error or an email.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
            .map(Check::line)
            .collect()
    }
}

impl CheckName {
    /// Every check, in the order they run and are reported.
    pub const ALL: [CheckName; 9] = [
        CheckName::Access,
        CheckName::VendorAccess,
        CheckName::TemplateVersion,
        CheckName::Region,
        CheckName::Permissions,
        CheckName::InstanceType,
        CheckName::VpcCidr,
        CheckName::Quotas,
        CheckName::KubernetesVersion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Access => "access",
            CheckName::VendorAccess => "vendor_access",
            CheckName::TemplateVersion => "template_version",
            CheckName::Region => "region",
            CheckName::Permissions => "permissions",
            CheckName::InstanceType => "instance_type",
            CheckName::VpcCidr => "vpc_cidr",
            CheckName::Quotas => "quotas",
            CheckName::KubernetesVersion => "kubernetes_version",
        }
    }
}

/// The provision checks an install made before building anything, as its record keeps them
/// (`step_data.provision_checks`): the latest run's, replaced on every run of the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionChecks {
    pub checked_at: DateTime<Utc>,
    /// No check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl crate::step_record::StepRecord for ProvisionChecks {
    const KEY: &'static str = PROVISION_CHECKS_KEY;
}

impl ProvisionChecks {
    pub fn new(checks: Vec<Check>, checked_at: DateTime<Utc>) -> Self {
        let ok = checks.iter().all(|c| c.status != CheckStatus::Failed);
        Self {
            checked_at,
            ok,
            checks,
        }
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
    }

    /// Every failed finding in one line: the install's error message.
    pub fn summary(&self) -> String {
        let failed: Vec<String> = self.failed().map(Check::line).collect();
        format!(
            "{} provision check(s) failed, so nothing was built: {}",
            failed.len(),
            failed.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_checks_fail_only_on_a_failed_check_and_list_each_in_the_summary() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let warned = Check::warning(CheckName::Quotas, "low", "the install requests it");
        assert!(ProvisionChecks::new(vec![warned.clone()], at).ok);
        let checks = ProvisionChecks::new(
            vec![
                Check::failed(CheckName::Permissions, "NAT refused", "update the boundary"),
                warned,
                Check::failed(CheckName::VpcCidr, "taken", "choose another"),
            ],
            at,
        );
        assert!(!checks.ok);
        assert_eq!(checks.failed().count(), 2);
        assert_eq!(
            checks.summary(),
            "2 provision check(s) failed, so nothing was built: permissions: NAT refused (update the boundary); vpc_cidr: taken (choose another)"
        );
    }

    #[test]
    fn a_report_is_ok_only_when_nothing_failed_or_was_skipped() {
        let passed = Check::passed(CheckName::Access, "in");
        let warned = Check::warning(CheckName::Quotas, "low", "the install requests it");
        assert!(PreflightReport::new(vec![passed.clone(), warned.clone()]).ok);
        let failed = Check::failed(CheckName::VpcCidr, "taken", "choose another");
        let report = PreflightReport::new(vec![passed.clone(), failed]);
        assert!(!report.ok);
        assert_eq!(report.failures(), ["vpc_cidr: taken (choose another)"]);
        assert!(
            !PreflightReport::new(vec![passed, Check::skipped(CheckName::Region, "no access")]).ok
        );
    }

    #[test]
    fn check_names_serialize_as_their_names() {
        for name in CheckName::ALL {
            assert_eq!(serde_json::to_value(name).unwrap(), name.as_str());
        }
    }
}
