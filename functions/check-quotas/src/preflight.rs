//! The provision checks of `POST /installs/preflight`: everything the install would find step by
//! step, found at once, in seconds, with nothing written and nothing built. Each check says what
//! it found and what to do; a check that cannot run (no access, a disabled region) says which
//! failed check it waits for. The session names the id the install would have
//! (`byoc.<id>.preflight`), so the customer's CloudTrail shows the probes for what they are.

use byoc_core::customer_access::{assume_customer_role, preflight_identity, AssumeRoleError};
use byoc_core::customer_session::resume_instruction;
use byoc_core::customer_stack::{self, template_update_command, SWITCHES_VERSION};
use byoc_domain::cost_estimate;
use byoc_domain::model::Install;
use byoc_domain::preflight::{Check, CheckName, PreflightReport, PreflightRequest};
use chrono::Utc;
use tracing::{info, info_span, warn, Instrument};

use crate::{checks, prices, CheckQuotasError, Deps};

/// The first customer template version an install can finish with (version 4 gave the EBS CSI
/// driver its role; cfn/customer-role.yaml's TemplateVersion notes).
const INSTALLS_VERSION: u32 = 4;

pub async fn run(
    deps: &Deps,
    request: PreflightRequest,
) -> Result<PreflightReport, CheckQuotasError> {
    request
        .options
        .validate()
        .map_err(byoc_domain::Error::from)?;
    let tenant = deps.store.get_tenant(&request.tenant_id).await?;
    let (install, _) = Install::requested(
        request.tenant_id,
        request.account_id,
        request.region,
        request.options,
        Utc::now(),
    )
    .map_err(byoc_domain::Error::from)?;
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
        if let Some(stop) = checks::region(&deps.access, &config, &install, &mut checks).await? {
            return Ok(priced(deps, &install, report(checks, &stop), false).await);
        }
        let found = checks::in_account(&config, &install).await?;
        let extended = found.extended;
        let found = found.into_report(checks);
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
