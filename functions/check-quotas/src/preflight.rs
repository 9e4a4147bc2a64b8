//! The provision checks of `POST /installs/preflight`: everything the install would find step by
//! step, found at once, in seconds, with nothing written and nothing built. Each check says what
//! it found and what to do; a check that cannot run (no access, a disabled region) says which
//! failed check it waits for. The session names the id the install would have
//! (`byoc.<id>.preflight`), so the customer's CloudTrail shows the probes for what they are.

use aws_sdk_ec2::types::Vpc;
use byoc_core::cidr::Ipv4Cidr;
use byoc_core::cluster_plan::{self, Support};
use byoc_core::cost_estimate;
use byoc_core::customer_access::{assume_customer_role, preflight_identity, AssumeRoleError};
use byoc_core::customer_session::resume_instruction;
use byoc_core::customer_stack::{self, template_update_command, SWITCHES_VERSION};
use byoc_core::model::Install;
use byoc_core::network_plan::{self, ExistingVpc};
use byoc_core::options::QuotaRequestMode;
use byoc_core::preflight::{Check, CheckName, PreflightReport, PreflightRequest};
use byoc_core::quota_plan::{self, Deficit};
use chrono::Utc;
use tracing::{info, info_span, warn, Instrument};

use crate::{
    aws_error, cidr_conflict, instance_type, permission_probe, prices, CheckQuotasError, Deps,
};

/// The first customer template version an install can finish with (version 4 gave the EBS CSI
/// driver its role; cfn/customer-role.yaml's TemplateVersion notes).
const INSTALLS_VERSION: u32 = 4;

/// Where a customer enables an opt-in region (AWS Account Management guide, "Enable or disable
/// a Region for standalone accounts").
const REGIONS_SETTING: &str = "https://console.aws.amazon.com/billing/home#/account";

pub async fn run(
    deps: &Deps,
    request: PreflightRequest,
) -> Result<PreflightReport, CheckQuotasError> {
    request.options.validate().map_err(byoc_core::Error::from)?;
    let tenant = deps.store.get_tenant(&request.tenant_id).await?;
    let (install, _) = Install::requested(
        request.tenant_id,
        request.account_id,
        request.region,
        request.options,
        Utc::now(),
    )
    .map_err(byoc_core::Error::from)?;
    let span =
        info_span!("preflight", install_id = %install.install_id, tenant_id = %install.tenant_id);
    async {
        let role_arn = deps.access.role_arn(&install.account_id);
        let identity = preflight_identity(&install.install_id);
        let assumed = assume_customer_role(
            &deps.base,
            &role_arn,
            &tenant.external_id,
            &identity,
            &install.region,
        )
        .await;
        let config = match assumed {
            Ok(config) => config,
            Err(AssumeRoleError::Denied { role_arn }) => {
                let denied = Check::failed(
                    CheckName::Access,
                    format!("could not assume {role_arn} with this tenant's External ID"),
                    format!(
                        "create the customer stack \"{}\" in account {} from the install link (or, if it exists, check that its ExternalId and VendorAccountId parameters match the link, and that no resource control policy of the customer's organization refuses the vendor account)",
                        deps.access.stack_name, install.account_id
                    ),
                );
                let found = report(vec![denied], "there is no access to the account");
                return Ok(priced(deps, &install, found, false).await);
            }
            Err(AssumeRoleError::Other(err)) => return Err(err.into()),
        };
        let mut checks = vec![Check::passed(
            CheckName::Access,
            format!("assumed {role_arn} with the tenant's External ID, in account {}", install.account_id),
        )];
        if let Some(stop) = stack_checks(deps, &config, &mut checks).await? {
            return Ok(priced(deps, &install, report(checks, &stop), false).await);
        }
        if let Some(stop) = region_check(deps, &config, &install, &mut checks).await? {
            return Ok(priced(deps, &install, report(checks, &stop), false).await);
        }
        let (found, extended) = account_checks(&config, &install, checks).await?;
        info!(ok = found.ok, checks = found.checks.len(), "preflight done");
        Ok(priced(deps, &install, found, extended).await)
    }
    .instrument(span)
    .await
}

/// `found` with the monthly estimate of the install's plan (`extended`: its version is in
/// extended support). Without prices (the Price List unreachable) the report goes without one:
/// the checks matter more than the bill.
async fn priced(
    deps: &Deps,
    install: &Install,
    mut found: PreflightReport,
    extended: bool,
) -> PreflightReport {
    let options = &install.options;
    let region = install.region.as_str();
    match prices::unit_prices(&deps.pricing, region, &options.node_instance_type).await {
        Ok(prices) => {
            found.estimate = Some(cost_estimate::estimate(
                options,
                extended,
                |product| prices.get(&product).cloned(),
                region,
            ))
        }
        Err(err) => warn!(error = %err, "no estimate: the Price List could not be read"),
    }
    found
}

/// `checks`, with every check not run yet skipped `because`.
fn report(mut checks: Vec<Check>, because: &str) -> PreflightReport {
    for name in CheckName::ALL {
        if !checks.iter().any(|c| c.check == name) {
            checks.push(Check::skipped(name, format!("not checked: {because}")));
        }
    }
    PreflightReport::new(checks)
}

/// The customer stack's switch and version. `Some(reason)` when nothing further can be checked.
async fn stack_checks(
    deps: &Deps,
    config: &aws_config::SdkConfig,
    checks: &mut Vec<Check>,
) -> Result<Option<String>, CheckQuotasError> {
    let access = &deps.access;
    let Some(stack) = customer_stack::describe(config, access).await? else {
        checks.push(Check::warning(
            CheckName::TemplateVersion,
            format!("there is no customer stack \"{}\" in {}: the role was made some other way, and only its policies say what the install may do", access.stack_name, access.stack_region),
            "make the role with the customer stack from the install link, so its version and switches are known",
        ));
        return Ok(None);
    };
    let settings = stack.settings();
    if settings.paused() {
        checks.push(Check::failed(
            CheckName::VendorAccess,
            format!(
                "the customer paused the vendor's access on the stack \"{}\"",
                access.stack_name
            ),
            format!("ask the customer to {}", resume_instruction(access)),
        ));
        return Ok(Some("the customer paused the vendor's access".into()));
    }
    checks.push(Check::passed(
        CheckName::VendorAccess,
        "the vendor's access is enabled",
    ));
    let update = format!(
        "update the stack to the current template: {}",
        template_update_command(access)
    );
    checks.push(match settings.template_version {
        Some(v) if v >= SWITCHES_VERSION => Check::passed(CheckName::TemplateVersion, format!("the customer stack is from template version {v}")),
        Some(v) if v >= INSTALLS_VERSION => Check::warning(
            CheckName::TemplateVersion,
            format!("the customer stack is from template version {v}: the install goes ahead, but pausing access, allowing changes and sessions named in CloudTrail need version {SWITCHES_VERSION}"),
            update,
        ),
        version => Check::failed(
            CheckName::TemplateVersion,
            format!(
                "the customer stack is from template {}: its role cannot finish an install (version {INSTALLS_VERSION} or later can)",
                version.map_or_else(|| "an early version".to_owned(), |v| format!("version {v}"))
            ),
            update,
        ),
    });
    Ok(None)
}

/// Whether the account may use the region (opt-in regions must be enabled first): read with
/// EC2 DescribeRegions in the stack's region, which every account has enabled.
async fn region_check(
    deps: &Deps,
    config: &aws_config::SdkConfig,
    install: &Install,
    checks: &mut Vec<Check>,
) -> Result<Option<String>, CheckQuotasError> {
    let home = config
        .to_builder()
        .region(aws_config::Region::new(
            deps.access.stack_region.as_str().to_owned(),
        ))
        .build();
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

/// The checks made inside the account and region: permissions, zones, the VPC block, quotas
/// and the Kubernetes version.
async fn account_checks(
    config: &aws_config::SdkConfig,
    install: &Install,
    mut checks: Vec<Check>,
) -> Result<(PreflightReport, bool), CheckQuotasError> {
    let options = &install.options;
    let ec2 = aws_sdk_ec2::Client::new(config);
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

    let wanted = usize::from(options.az_count);
    let (available, offered) =
        instance_type::offering_zones(&ec2, &options.node_instance_type).await?;
    let vcpus = instance_type::vcpus(&ec2, &options.node_instance_type).await?;
    let zones: Vec<String> = offered.iter().take(wanted).cloned().collect();
    match vcpus {
        None => checks.push(Check::failed(
            CheckName::InstanceType,
            format!("EC2 does not know instance type \"{}\"", options.node_instance_type),
            "choose another options.node_instance_type",
        )),
        Some(_) if offered.len() < wanted => checks.push(Check::failed(
            CheckName::InstanceType,
            crate::unavailable_message(install, &available, &offered),
            "choose another options.node_instance_type, fewer zones (options.az_count) or another region",
        )),
        Some(n) => checks.push(Check::passed(
            CheckName::InstanceType,
            format!("{} ({n} vCPUs) is offered in zones {}", options.node_instance_type, zones.join(", ")),
        )),
    }

    let vpcs = crate::vpcs(&ec2).await?;
    let vpc_cidr = cidr_check(install, &vpcs, &mut checks);

    let quotas_checked = match vcpus {
        Some(n) if offered.len() >= wanted => {
            quota_check(config, install, n, &zones, &vpcs, &mut checks).await?
        }
        _ => false,
    };
    if !quotas_checked {
        checks.push(Check::skipped(
            CheckName::Quotas,
            "not checked: the instance type is not usable",
        ));
    }

    let eks = aws_sdk_eks::Client::new(config);
    let offered_versions = byoc_core::aws::eks_versions::offered_versions(&eks).await?;
    let version = cluster_plan::kubernetes_version(
        options.kubernetes_version.as_deref(),
        options.support_type,
        &offered_versions,
    );
    let mut extended = false;
    let kubernetes_version = match version {
        Ok(version) => {
            let phase = offered_versions.iter().find(|o| o.version == version);
            extended = phase.is_some_and(|o| o.support == Support::Extended);
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
            checks.push(Check::passed(
                CheckName::KubernetesVersion,
                format!(
                    "Kubernetes {version}{}",
                    until.map(|u| format!(" ({u})")).unwrap_or_default()
                ),
            ));
            Some(version)
        }
        Err(err) => {
            checks.push(Check::failed(
                CheckName::KubernetesVersion,
                err.to_string(),
                "set options.kubernetes_version (or options.support_type) as the message says",
            ));
            None
        }
    };
    let mut report = PreflightReport::new(checks);
    report.zones = zones;
    report.vpc_cidr = vpc_cidr;
    report.kubernetes_version = kubernetes_version;
    Ok((report, extended))
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
/// for the customer to). False when the plan could not be made.
async fn quota_check(
    config: &aws_config::SdkConfig,
    install: &Install,
    vcpus: u32,
    zones: &[String],
    vpcs: &[Vpc],
    checks: &mut Vec<Check>,
) -> Result<bool, CheckQuotasError> {
    let options = &install.options;
    let needs = match quota_plan::plan(options, vcpus) {
        Ok(needs) => needs,
        Err(err) => {
            checks.push(Check::failed(
                CheckName::Quotas,
                err.to_string(),
                "choose another options.node_instance_type",
            ));
            return Ok(true);
        }
    };
    let deficits = crate::deficits(config, install, &needs, zones, vpcs).await?;
    if deficits.is_empty() {
        checks.push(Check::passed(
            CheckName::Quotas,
            format!("all {} quotas the install needs have room", needs.len()),
        ));
    }
    for deficit in &deficits {
        checks.push(Check::warning(
            CheckName::Quotas,
            deficit.describe(),
            advice(options.quota_requests, deficit),
        ));
    }
    Ok(true)
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
