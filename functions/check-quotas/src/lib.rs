//! check-quotas: before anything is made in the customer's account, proves the install can
//! finish there. Reads each quota the plan draws on (applied value and current use), checks
//! that the region offers the node instance type in enough zones and that a requested VPC CIDR
//! is free, and records every shortfall at once on the install
//! (`step_data.quota_check.deficits`), for request-quota and for the customer's email.
//!
//! The same function answers `POST /installs/preflight` (through the Lambda Invoke API): every
//! check at once for an install not made yet, nothing written (`preflight`).

mod applied;
mod cidr_conflict;
mod instance_type;
mod permission_probe;
mod preflight;
mod prices;
mod usage;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::Vpc;
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::ids::{InstallId, TenantId};
use byoc_core::install_change::Change;
use byoc_core::model::{Install, Outcome, Step};
use byoc_core::preflight::{PreflightReport, PreflightRequest};
use byoc_core::quota_plan::{self, Deficit, Need};
use byoc_core::step_input::StepInput;
use byoc_core::store::InstallStore;
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, info_span, warn, Instrument};

/// The `step_data` key the result is stored under.
pub use byoc_core::quota_plan::QUOTA_CHECK_KEY;

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config the function runs with; customer configs derive from it.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    /// The Price List Query API, in a region that serves it (`PRICING_REGION`).
    pub pricing: aws_sdk_pricing::Client,
}

/// Ids and flags only: the numbers live on the install record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaCheckOutput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub ok: bool,
    pub deficits: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckQuotasError {
    /// The region, or too few of its zones, offer the node instance type.
    #[error("{0}")]
    InstanceTypeUnavailable(String),
    /// No On-Demand vCPU quota is known for the type's family (e.g. Mac instances).
    #[error("{0}")]
    InstanceTypeUnsupported(String),
    #[error("{0}")]
    CidrConflict(String),
    /// Service Quotas has no value for a quota the plan needs.
    #[error("{0}")]
    QuotaUnavailable(String),
    /// The customer role may not make what the install makes (found by DryRun, before
    /// anything is built).
    #[error("{0}")]
    PermissionDenied(String),
    #[error(transparent)]
    Core(#[from] byoc_core::Error),
}

impl CheckQuotasError {
    /// Errors the customer or vendor must act on; waiting does not fix them.
    fn is_final(&self) -> bool {
        !matches!(self, CheckQuotasError::Core(_))
    }
}

impl From<CheckQuotasError> for Diagnostic {
    fn from(err: CheckQuotasError) -> Self {
        let error_type = match &err {
            CheckQuotasError::InstanceTypeUnavailable(_) => "InstanceTypeUnavailable",
            CheckQuotasError::InstanceTypeUnsupported(_) => "InstanceTypeUnsupported",
            CheckQuotasError::CidrConflict(_) => "CidrConflict",
            CheckQuotasError::QuotaUnavailable(_) => "QuotaUnavailable",
            CheckQuotasError::PermissionDenied(_) => "PermissionDenied",
            CheckQuotasError::Core(core) => core.error_name(),
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

pub(crate) fn aws_error(service: &'static str, err: impl std::error::Error) -> CheckQuotasError {
    CheckQuotasError::Core(byoc_core::Error::aws(service, err))
}

/// What the function is asked: the state machine's step, or the API's preflight.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Request {
    Preflight { preflight: PreflightRequest },
    Step(StepInput),
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Preflight(PreflightReport),
    Step(QuotaCheckOutput),
}

pub async fn handle(deps: &Deps, request: Request) -> Result<Answer, CheckQuotasError> {
    match request {
        Request::Preflight { preflight } => {
            Ok(Answer::Preflight(preflight::run(deps, preflight).await?))
        }
        Request::Step(input) => Ok(Answer::Step(step(deps, input).await?)),
    }
}

pub async fn step(deps: &Deps, input: StepInput) -> Result<QuotaCheckOutput, CheckQuotasError> {
    let span =
        info_span!("check-quotas", install_id = %input.install_id, tenant_id = %input.tenant_id);
    async {
        let result = check(deps, &input).await;
        match &result {
            Ok(deficits) => info!(deficits = deficits.len(), "quotas checked"),
            Err(err) if err.is_final() => {
                warn!(error = %err, "install cannot proceed");
                deps.store
                    .record(
                        &input.install_id,
                        Change::new(Step::CheckQuotas, Outcome::Failed, err.to_string()),
                    )
                    .await?;
            }
            Err(err) => warn!(error = %err, "check-quotas failed"),
        }
        let deficits = result?.len();
        Ok(QuotaCheckOutput {
            install_id: input.install_id.clone(),
            tenant_id: input.tenant_id.clone(),
            ok: deficits == 0,
            deficits,
        })
    }
    .instrument(span)
    .await
}

async fn check(deps: &Deps, input: &StepInput) -> Result<Vec<Deficit>, CheckQuotasError> {
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, input).await?;
    let install = &session.install;
    let options = &install.options;
    if install.current_step != Some(Step::CheckQuotas) {
        let change = Change::new(
            Step::CheckQuotas,
            Outcome::Started,
            format!(
                "checking quotas in account {} ({})",
                install.account_id, install.region
            ),
        );
        deps.store.record(&install.install_id, change).await?;
    }
    let ec2 = aws_sdk_ec2::Client::new(&session.config);

    let refused =
        permission_probe::refusals(&ec2, &aws_sdk_sts::Client::new(&session.config), install)
            .await?;
    if !refused.is_empty() {
        let listed: Vec<String> = refused.iter().map(ToString::to_string).collect();
        return Err(CheckQuotasError::PermissionDenied(format!(
            "the customer role in account {} may not make what the install needs, so nothing was built: {}",
            install.account_id,
            listed.join("; ")
        )));
    }

    let instance_type = &options.node_instance_type;
    let (available, offered) = instance_type::offering_zones(&ec2, instance_type).await?;
    let wanted = usize::from(options.az_count);
    if offered.len() < wanted {
        return Err(CheckQuotasError::InstanceTypeUnavailable(
            unavailable_message(install, &available, &offered),
        ));
    }
    // The zones the install uses: the first that offer the type, by name, so every step and
    // every re-check picks the same ones.
    let zones: Vec<String> = offered.into_iter().take(wanted).collect();
    let vcpus = instance_type::vcpus(&ec2, instance_type)
        .await?
        .ok_or_else(|| CheckQuotasError::InstanceTypeUnavailable(format!("EC2 does not know instance type \"{instance_type}\"; choose another node_instance_type")))?;
    let needs = quota_plan::plan(options, vcpus)
        .map_err(|e| CheckQuotasError::InstanceTypeUnsupported(e.to_string()))?;

    let vpcs = vpcs(&ec2).await?;
    if let Some(wanted) = &options.vpc_cidr {
        let clashes = cidr_conflict::overlapping(wanted, &vpcs);
        if !clashes.is_empty() {
            let listed: Vec<String> = clashes
                .iter()
                .map(|(vpc, block)| format!("{vpc} ({block})"))
                .collect();
            return Err(CheckQuotasError::CidrConflict(format!(
                "the requested VPC CIDR {wanted} overlaps existing VPC blocks in account {} ({}): {}; choose another vpc_cidr, or leave it out and the installer picks a free block",
                install.account_id,
                install.region,
                listed.join(", ")
            )));
        }
    }

    let deficits = deficits(&session.config, install, &needs, &zones, &vpcs).await?;

    let (outcome, message) = if deficits.is_empty() {
        (
            Outcome::Succeeded,
            format!(
                "all {} quotas the install needs have room (zones {})",
                needs.len(),
                zones.join(", ")
            ),
        )
    } else {
        let listed: Vec<String> = deficits.iter().map(Deficit::describe).collect();
        (
            Outcome::Waiting,
            format!("{} quota(s) too low: {}", deficits.len(), listed.join("; ")),
        )
    };
    let data = json!({
        "deficits": deficits,
        "zones": zones,
        "instance_type": instance_type,
        "vcpus_per_node": vcpus,
    });
    deps.store
        .record(
            &install.install_id,
            Change::new(Step::CheckQuotas, outcome, message).data(QUOTA_CHECK_KEY, data),
        )
        .await?;
    Ok(deficits)
}

/// Every VPC of the account in the session's region.
pub(crate) async fn vpcs(ec2: &aws_sdk_ec2::Client) -> Result<Vec<Vpc>, CheckQuotasError> {
    ec2.describe_vpcs()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("EC2", e))
}

/// The shortfall of each quota in `needs`: its applied value against what the account uses.
pub(crate) async fn deficits(
    config: &SdkConfig,
    install: &Install,
    needs: &[Need],
    zones: &[String],
    vpcs: &[Vpc],
) -> Result<Vec<Deficit>, CheckQuotasError> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let eks = aws_sdk_eks::Client::new(config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let service_quotas = aws_sdk_servicequotas::Client::new(config);
    let account = usage::Account {
        ec2: &ec2,
        eks: &eks,
        elb: &elb,
        zones,
        vpcs,
    };
    let mut deficits = Vec::new();
    for need in needs {
        let applied = applied::applied_value(&service_quotas, &need.quota).await?;
        let usage = account.usage(need).await?;
        info!(
            quota = need.quota.code,
            applied,
            usage,
            needed = need.needed,
            "quota read"
        );
        deficits.extend(quota_plan::shortfall(
            need,
            applied,
            usage,
            install.region.as_str(),
        ));
    }
    Ok(deficits)
}

pub(crate) fn unavailable_message(
    install: &Install,
    available: &[String],
    offered: &[String],
) -> String {
    let options = &install.options;
    if offered.is_empty() {
        format!(
            "instance type {} is not offered in {} (none of its zones {}); choose another node_instance_type or region",
            options.node_instance_type,
            install.region,
            available.join(", ")
        )
    } else {
        format!(
            "instance type {} is offered in only {} zone(s) of {} ({}), and the install asks for {} (az_count); choose fewer zones or another node_instance_type",
            options.node_instance_type,
            offered.len(),
            install.region,
            offered.join(", "),
            options.az_count
        )
    }
}
