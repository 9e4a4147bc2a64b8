//! The checks made inside the customer's account and region, shared by the install's step and
//! `POST /installs/preflight`: the region's opt-in status, then permissions (DryRun), zones and
//! the instance type, the VPC block, quotas and the Kubernetes version. Every check runs and reports; none stops the others, so
//! one answer (or one email) lists every finding.

use aws_config::SdkConfig;
use aws_sdk_ec2::types::Vpc;
use byoc_core::aws::zones;
use byoc_core::customer_access::CustomerAccess;
use byoc_domain::cidr::Ipv4Cidr;
use byoc_domain::cluster_plan::{self, Support};
use byoc_domain::model::Install;
use byoc_domain::network_plan::{self, ExistingVpc};
use byoc_domain::options::QuotaRequestMode;
use byoc_domain::preflight::{Check, CheckName, PreflightReport};
use byoc_domain::quota_plan::{self, Deficit};

use crate::{aws_error, cidr_conflict, instance_type, permission_probe, CheckQuotasError};

/// Where a customer enables an opt-in region (AWS Account Management guide, "Enable or disable
/// a Region for standalone accounts").
const REGIONS_SETTING: &str = "https://console.aws.amazon.com/billing/home#/account";

/// What the account checks found, and what the install would use.
#[derive(Debug, Default)]
pub struct Findings {
    pub checks: Vec<Check>,
    /// The zones the install uses (empty when too few offer the node type).
    pub zones: Vec<String>,
    pub vpc_cidr: Option<String>,
    pub kubernetes_version: Option<String>,
    /// The version is in extended support (it costs more).
    pub extended: bool,
    pub vcpus_per_node: Option<u32>,
    /// How many quotas the plan draws on, and the ones short of room.
    pub quotas_needed: usize,
    pub deficits: Vec<Deficit>,
}

impl Findings {
    /// The preflight's report: the checks made before these (`earlier`), then these.
    pub fn into_report(self, mut earlier: Vec<Check>) -> PreflightReport {
        earlier.extend(self.checks);
        let mut report = PreflightReport::new(earlier);
        report.zones = self.zones;
        report.vpc_cidr = self.vpc_cidr;
        report.kubernetes_version = self.kubernetes_version;
        report
    }
}

/// Whether the account may use the region (opt-in regions must be enabled first): read with
/// EC2 DescribeRegions in the stack's region, which every account has enabled.
pub async fn region(
    access: &CustomerAccess,
    config: &aws_config::SdkConfig,
    install: &Install,
    checks: &mut Vec<Check>,
) -> Result<Option<String>, CheckQuotasError> {
    let home = access.in_stack_region(config);
    let region = install.region.as_str();
    let answer = aws_sdk_ec2::Client::new(&home)
        .describe_regions()
        .all_regions(true)
        .region_names(region)
        .send()
        .await
        .map_err(|e| aws_error("EC2", e))?;
    let status = answer
        .regions()
        .first()
        .and_then(|r| r.opt_in_status())
        .unwrap_or("not-listed");
    match status {
        "opt-in-not-required" | "opted-in" => {
            checks.push(Check::passed(
                CheckName::Region,
                format!("account {} may use {region} ({status})", install.account_id),
            ));
            Ok(None)
        }
        other => {
            checks.push(Check::failed(
                CheckName::Region,
                format!("{region} is an opt-in region that account {} has not enabled ({other})", install.account_id),
                format!("enable {region} in the account's settings ({REGIONS_SETTING}, AWS Regions) or with `aws account enable-region --region-name {region}`; enabling can take a few hours"),
            ));
            Ok(Some(format!("{region} is not enabled for the account")))
        }
    }
}

/// The account checks (`in_account`), all as not run: `because` says why.
pub fn not_run(because: &str) -> Findings {
    let checks = IN_ACCOUNT
        .iter()
        .map(|&name| Check::skipped(name, format!("not checked: {because}")))
        .collect();
    Findings {
        checks,
        ..Findings::default()
    }
}

/// The checks `in_account` makes, in order.
const IN_ACCOUNT: [CheckName; 5] = [
    CheckName::Permissions,
    CheckName::InstanceType,
    CheckName::VpcCidr,
    CheckName::Quotas,
    CheckName::KubernetesVersion,
];

pub async fn in_account(
    config: &SdkConfig,
    install: &Install,
) -> Result<Findings, CheckQuotasError> {
    let options = &install.options;
    let ec2 = aws_sdk_ec2::Client::new(config);
    let mut found = Findings::default();
    let checks = &mut found.checks;

    let refused =
        permission_probe::refusals(&ec2, &aws_sdk_sts::Client::new(config), install).await?;
    if refused.is_empty() {
        checks.push(Check::passed(
            CheckName::Permissions,
            "every create the install makes is allowed (tried with DryRun)",
        ));
    }
    for refusal in &refused {
        checks.push(Check::failed(
            CheckName::Permissions,
            format!("{} on {} is refused", refusal.action, refusal.resource),
            refusal.cause.advice(),
        ));
    }

    let (facts, vcpus) = tokio::try_join!(
        async { Ok(zones::facts(&ec2, &options.node_instance_type).await?) },
        instance_type::vcpus(&ec2, &options.node_instance_type),
    )?;
    let chosen = facts.choose(
        install.region.as_str(),
        &options.node_instance_type,
        options.az_count,
    );
    found.vcpus_per_node = vcpus;
    match (vcpus, chosen) {
        (None, _) => checks.push(Check::failed(
            CheckName::InstanceType,
            format!("EC2 does not know instance type \"{}\"", options.node_instance_type),
            "choose another options.node_instance_type",
        )),
        (Some(_), Err(_)) => checks.push(Check::failed(
            CheckName::InstanceType,
            instance_type::unavailable_message(install, &facts.usable(), &facts.eligible()),
            "choose another options.node_instance_type, fewer zones (options.az_count) or another region",
        )),
        (Some(n), Ok(zones)) => {
            found.zones = zones.into_iter().map(|z| z.name).collect();
            checks.push(Check::passed(
                CheckName::InstanceType,
                format!(
                    "{} ({n} vCPUs) is offered in zones {}",
                    options.node_instance_type,
                    found.zones.join(", ")
                ),
            ));
        }
    }

    let vpcs = crate::vpcs(&ec2).await?;
    found.vpc_cidr = cidr_check(install, &vpcs, checks);

    match vcpus.filter(|_| !found.zones.is_empty()) {
        Some(n) => quota_check(config, install, n, &vpcs, &mut found).await?,
        None => found.checks.push(Check::skipped(
            CheckName::Quotas,
            "not checked: the instance type is not usable",
        )),
    }

    version_check(config, install, &mut found).await?;
    Ok(found)
}

/// The version create-cluster would choose (`cluster_plan::kubernetes_version`), from what EKS
/// offers in the region, with its support phase.
async fn version_check(
    config: &SdkConfig,
    install: &Install,
    found: &mut Findings,
) -> Result<(), CheckQuotasError> {
    let options = &install.options;
    let eks = aws_sdk_eks::Client::new(config);
    let offered = byoc_core::aws::eks_versions::offered_versions(&eks).await?;
    let version = cluster_plan::kubernetes_version(
        options.kubernetes_version.as_deref(),
        options.support_type,
        &offered,
    );
    match version {
        Ok(version) => {
            let phase = offered.iter().find(|o| o.version == version);
            found.extended = phase.is_some_and(|o| o.support == Support::Extended);
            let until = phase.and_then(|o| match o.support {
                Support::Standard => o
                    .end_of_standard_support
                    .as_ref()
                    .map(|d| format!("standard support until {d}")),
                Support::Extended => o
                    .end_of_extended_support
                    .as_ref()
                    .map(|d| format!("extended support until {d}")),
                Support::Other => None,
            });
            found.checks.push(Check::passed(
                CheckName::KubernetesVersion,
                format!(
                    "Kubernetes {version}{}",
                    until.map(|u| format!(" ({u})")).unwrap_or_default()
                ),
            ));
            found.kubernetes_version = Some(version);
        }
        Err(err) => found.checks.push(Check::failed(
            CheckName::KubernetesVersion,
            err.to_string(),
            "set options.kubernetes_version (or options.support_type) as the message says",
        )),
    }
    Ok(())
}

/// The requested block is free, or the first free block the install would take; the block.
fn cidr_check(install: &Install, vpcs: &[Vpc], checks: &mut Vec<Check>) -> Option<String> {
    let options = &install.options;
    let existing: Vec<ExistingVpc> = cidr_conflict::existing(vpcs);
    let free = network_plan::choose_vpc_cidr(None, options.vpc_prefix_length, &existing).ok();
    let Some(wanted) = options.vpc_cidr.as_ref() else {
        return match free {
            Some(block) => {
                checks.push(Check::passed(
                    CheckName::VpcCidr,
                    format!("the install will use {block}, which no VPC of the account overlaps"),
                ));
                Some(block.to_string())
            }
            None => {
                checks.push(Check::failed(
                    CheckName::VpcCidr,
                    format!("no private /{} block is free among the account's {} VPCs in {}", options.vpc_prefix_length, vpcs.len(), install.region),
                    "set options.vpc_prefix_length to a smaller block, or options.vpc_cidr to a block you know is free",
                ));
                None
            }
        };
    };
    let clashes = cidr_conflict::overlapping(wanted, vpcs);
    if clashes.is_empty() {
        checks.push(Check::passed(
            CheckName::VpcCidr,
            format!("{wanted} overlaps no VPC of the account"),
        ));
        return Some(wanted.to_string());
    }
    let listed: Vec<String> = clashes
        .iter()
        .map(|(vpc, block)| format!("{vpc} ({block})"))
        .collect();
    let proposal = match free_like(wanted, &existing) {
        Some(block) => format!("choose another options.vpc_cidr, such as {block}, which is free, or leave it out and the installer picks a free block"),
        None => "choose another options.vpc_cidr, or leave it out and the installer picks a free block".to_owned(),
    };
    checks.push(Check::failed(
        CheckName::VpcCidr,
        format!(
            "{wanted} overlaps existing VPC blocks: {}",
            listed.join(", ")
        ),
        proposal,
    ));
    None
}

/// The first free block of the requested one's size.
fn free_like(wanted: &Ipv4Cidr, existing: &[ExistingVpc]) -> Option<Ipv4Cidr> {
    network_plan::choose_vpc_cidr(None, wanted.prefix(), existing).ok()
}

/// Every quota the plan draws on; deficits are warnings (the install requests them, or waits
/// for the customer to).
async fn quota_check(
    config: &SdkConfig,
    install: &Install,
    vcpus: u32,
    vpcs: &[Vpc],
    found: &mut Findings,
) -> Result<(), CheckQuotasError> {
    let options = &install.options;
    let needs = match quota_plan::plan(options, vcpus) {
        Ok(needs) => needs,
        Err(err) => {
            found.checks.push(Check::failed(
                CheckName::Quotas,
                err.to_string(),
                "choose another options.node_instance_type",
            ));
            return Ok(());
        }
    };
    let deficits = crate::deficits(config, install, &needs, &found.zones, vpcs).await?;
    found.quotas_needed = needs.len();
    if deficits.is_empty() {
        found.checks.push(Check::passed(
            CheckName::Quotas,
            format!("all {} quotas the install needs have room", needs.len()),
        ));
    }
    for deficit in &deficits {
        found.checks.push(Check::warning(
            CheckName::Quotas,
            deficit.describe(),
            advice(options.quota_requests, deficit),
        ));
    }
    found.deficits = deficits;
    Ok(())
}

fn advice(mode: QuotaRequestMode, deficit: &Deficit) -> String {
    match mode {
        QuotaRequestMode::Auto => format!(
            "the install requests {} and waits for AWS to approve it (small increases are often approved within minutes)",
            deficit.request_value
        ),
        QuotaRequestMode::Manual => format!(
            "request {} at {} (options.quota_requests is \"manual\"); the install waits for it",
            deficit.request_value, deficit.console_url
        ),
    }
}
