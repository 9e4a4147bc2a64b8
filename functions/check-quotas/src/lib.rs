//! check-quotas: before anything is made in the customer's account, proves the install can
//! finish there. Runs the provision checks (`checks`: DryRun permission probes, the zones that
//! offer the node instance type, a free VPC block, every quota the plan draws on, the
//! Kubernetes version) and records them on the install (`step_data.provision_checks`). A failed
//! check ends the install before anything is built, listing every finding at once
//! (`ProvisionChecksFailed`); quota shortfalls are recorded (`step_data.quota_check.deficits`)
//! for request-quota and for the customer's email.
//!
//! The same function answers `POST /installs/preflight` (through the Lambda Invoke API): every
//! check at once for an install not made yet, nothing written (`preflight`).

mod applied;
mod checks;
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
use byoc_core::store::InstallStore;
use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Outcome, Step};
use byoc_domain::preflight::{PreflightReport, PreflightRequest, ProvisionChecks};
use byoc_domain::quota_plan::{self, Deficit, Need};
use byoc_domain::step_input::StepInput;
use chrono::Utc;
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

/// The `step_data` key the result is stored under.
pub use byoc_domain::quota_plan::QUOTA_CHECK_KEY;

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
    /// A check found what the install cannot get past (a refused permission, a taken VPC
    /// block, an instance type too few zones offer, a version EKS does not offer): nothing was
    /// built, and every finding is listed, each with what to do.
    #[error("{}", .0.summary())]
    ProvisionChecksFailed(Box<ProvisionChecks>),
    /// Service Quotas has no value for a quota the plan needs.
    #[error("{0}")]
    QuotaUnavailable(String),
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl CheckQuotasError {
    /// Errors the customer or vendor must act on; waiting does not fix them.
    fn is_final(&self) -> bool {
        !matches!(self, CheckQuotasError::Core(_))
    }
}

impl NamedError for CheckQuotasError {
    fn error_name(&self) -> &'static str {
        match self {
            CheckQuotasError::ProvisionChecksFailed(_) => error_names::PROVISION_CHECKS_FAILED,
            CheckQuotasError::QuotaUnavailable(_) => error_names::QUOTA_UNAVAILABLE,
            CheckQuotasError::Core(core) => core.error_name(),
        }
    }
}

impl From<CheckQuotasError> for Diagnostic {
    fn from(err: CheckQuotasError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

pub(crate) fn aws_error(service: &'static str, err: impl std::error::Error) -> CheckQuotasError {
    CheckQuotasError::Core(byoc_domain::Error::aws(service, err))
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

#[tracing::instrument(name = "check-quotas", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id))]
pub async fn step(deps: &Deps, input: StepInput) -> Result<QuotaCheckOutput, CheckQuotasError> {
    let result = check(deps, &input).await;
    match &result {
        Ok(deficits) => info!(deficits = deficits.len(), "quotas checked"),
        Err(err) if err.is_final() => {
            warn!(error = %err, "install cannot proceed");
            let mut change = Change::new(Step::CheckQuotas, Outcome::Failed, err.to_string());
            // Every finding, on the record the API serves and the failure email reads.
            if let CheckQuotasError::ProvisionChecksFailed(checks) = err {
                change = change.record(checks.as_ref());
            }
            deps.store.record(&input.install_id, change).await?;
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
    // An opt-in region the account has not enabled refuses every call there: said as such,
    // not as a failed call.
    let mut region = Vec::new();
    let found = match checks::region(&deps.access, &session.config, install, &mut region).await? {
        None => checks::in_account(&session.config, install).await?,
        Some(because) => checks::not_run(&because),
    };
    region.extend(found.checks);
    let recorded = ProvisionChecks::new(region, Utc::now());
    if !recorded.ok {
        return Err(CheckQuotasError::ProvisionChecksFailed(Box::new(recorded)));
    }
    let deficits = found.deficits;
    let (outcome, message) = if deficits.is_empty() {
        (
            Outcome::Succeeded,
            format!(
                "every provision check passed; all {} quotas the install needs have room (zones {})",
                found.quotas_needed,
                found.zones.join(", ")
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
        "zones": found.zones,
        "instance_type": options.node_instance_type,
        "vcpus_per_node": found.vcpus_per_node,
    });
    let change = Change::new(Step::CheckQuotas, outcome, message)
        .data(QUOTA_CHECK_KEY, data)
        .record(&recorded);
    deps.store.record(&install.install_id, change).await?;
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
