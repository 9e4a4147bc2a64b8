//! `POST /installs`, `GET /installs/{id}`, `GET /tenants/{tenant_id}/installs`.

use byoc_core::aws::executions::{start_or_undo, Execution};
use byoc_domain::cluster_plan;
use byoc_domain::error_names;
use byoc_domain::ids::{AccountId, InstallId, Region, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallError, InstallStatus, Outcome, Step, TimelineEvent};
use byoc_domain::options::{InstallOptions, SupportType};
use byoc_domain::removal;
use byoc_domain::retry_plan::execution_arn;
use byoc_domain::step_input::StepInput;
use chrono::Utc;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::api_error::ApiError;
use crate::Deps;

const DEFAULT_PAGE: i32 = 20;
const MAX_PAGE: i32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInstall {
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub region: Region,
    #[serde(default)]
    pub options: InstallOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub install_id: InstallId,
    pub status: InstallStatus,
    pub execution_arn: String,
}

#[derive(Debug, Serialize)]
pub struct InstallView {
    #[serde(flatten)]
    pub install: Install,
    pub timeline: Vec<TimelineEvent>,
}

#[derive(Debug, Serialize)]
pub struct InstallList {
    pub installs: Vec<Install>,
    pub next_cursor: Option<InstallId>,
}

/// Checks what `create` would refuse before anything is written (or an idempotency key kept):
/// the options, and that EKS offers a requested Kubernetes version in the region at all
/// (DescribeClusterVersions), so `1.99` is a 400 naming `options.kubernetes_version` instead
/// of an install that fails minutes later. Whether its support phase suits
/// `options.support_type` is the preflight's finding and create-cluster's rule: a version can
/// leave standard support between the request and the cluster.
pub async fn check(deps: &Deps, request: &CreateInstall) -> Result<(), ApiError> {
    request.options.validate()?;
    let Some(requested) = request.options.kubernetes_version.as_deref() else {
        return Ok(());
    };
    // Read from the vendor's account, which may not have enabled an opt-in region its customer
    // uses (AWS then refuses the call): the check is left to the preflight and create-cluster,
    // which read the catalogue through the customer's session.
    let offered = match crate::upgrade::offered_versions(&deps.base, &request.region).await {
        Ok(offered) => offered,
        Err(err) => {
            tracing::warn!(error = %err.message, region = %request.region, "EKS's versions could not be read; the version is checked later");
            return Ok(());
        }
    };
    if offered.iter().any(|o| o.version == requested) {
        return Ok(());
    }
    let not_offered =
        cluster_plan::kubernetes_version(Some(requested), SupportType::Extended, &offered)
            .err()
            .map_or_else(
                || format!("Kubernetes {requested} is not offered by EKS in this region"),
                |e| e.to_string(),
            );
    Err(ApiError::invalid("options.kubernetes_version", not_offered))
}

/// Records the install and starts its state machine; `check` has passed. `reserved` is the install id an
/// idempotency key reserved: when the request that reserved it died after recording the
/// install, this one carries on with that install instead of making a second.
pub async fn create(
    deps: &Deps,
    request: CreateInstall,
    reserved: Option<InstallId>,
) -> Result<(StatusCode, Accepted), ApiError> {
    if let Some(id) = &reserved {
        match deps.store.get_install(id).await {
            Ok(existing) => return carry_on(deps, existing).await,
            Err(byoc_domain::Error::InstallNotFound(_)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    deps.store.get_tenant(&request.tenant_id).await?;
    let (mut install, requested) = Install::requested(
        request.tenant_id,
        request.account_id,
        request.region,
        request.options,
        Utc::now(),
    )
    .map_err(byoc_domain::Error::from)?;
    if let Some(id) = reserved {
        install.install_id = id;
    }
    // Contended: the install holding the place let go while we looked; it is free now.
    let mut attempts = 0;
    loop {
        match deps.store.create_install(&install, &requested).await {
            Err(byoc_domain::Error::Contended(_)) if attempts < 3 => attempts += 1,
            Err(byoc_domain::Error::SlotTaken { existing }) => {
                return Err(place_taken(&existing, "account_id"))
            }
            other => break other?,
        }
    }
    start(deps, &install).await
}

/// Another install is active for the same tenant, account and region.
fn place_taken(existing: &InstallId, field: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!("install \"{existing}\" is already active for this tenant, account and region; GET /installs/{existing} shows it"),
    )
    .field(field)
}

/// A new install id, for an idempotency key to reserve before the install is recorded.
pub fn reserve_id() -> Result<InstallId, ApiError> {
    let now = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    Ok(InstallId::generate(now).map_err(byoc_domain::Error::from)?)
}

/// An install recorded by a request that stopped before answering: started if it is not yet.
async fn carry_on(deps: &Deps, install: Install) -> Result<(StatusCode, Accepted), ApiError> {
    match (&install.execution_arn, install.status) {
        (Some(arn), _) => Ok((StatusCode::ACCEPTED, Accepted { install_id: install.install_id.clone(), status: install.status, execution_arn: arn.clone() })),
        (None, InstallStatus::Pending) => start(deps, &install).await,
        (None, status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("install \"{id}\" was recorded for this request but is {status}; GET /installs/{id} shows why, POST /installs/{id}/retry tries it again", id = install.install_id),
        )
        .field("install_id")),
    }
}

/// Starts the install's state machine; a start that fails marks the install failed.
async fn start(deps: &Deps, install: &Install) -> Result<(StatusCode, Accepted), ApiError> {
    let install_id = install.install_id.clone();
    let input = StepInput {
        install_id: install_id.clone(),
        tenant_id: install.tenant_id.clone(),
    };
    let failed = Change::new(
        Step::Request,
        Outcome::Failed,
        "the install state machine could not be started",
    )
    .status(InstallStatus::Failed)
    .error(InstallError {
        step: Step::Request,
        code: error_names::START_FAILED.into(),
        message: "the install state machine could not be started; retry the request".into(),
    });
    // Named after the install: a repeated start cannot run the install twice.
    let execution = Execution {
        state_machine_arn: &deps.settings.install_state_machine_arn,
        name: install_id.as_str(),
        input: &input,
    };
    let execution_arn =
        start_or_undo(&deps.sfn, &deps.store, &install_id, execution, failed).await?;
    let change = Change::new(
        Step::Request,
        Outcome::Succeeded,
        "install state machine started",
    )
    .execution_arn(&execution_arn);
    deps.store.record(&install_id, change).await?;
    info!(install_id = %install_id, tenant_id = %install.tenant_id, "install started");
    Ok((
        StatusCode::ACCEPTED,
        Accepted {
            install_id,
            status: InstallStatus::Pending,
            execution_arn,
        },
    ))
}

/// Starts the uninstall: everything the install made is swept from the customer's account.
/// The execution is named and recorded with the request (status `removing`) before it is
/// started, so a repeated DELETE — the vendor's retry after a lost answer or a 5xx, or after
/// this function stopped between the two — starts or joins that execution, never a second one.
pub async fn remove(
    deps: &Deps,
    install_id: &InstallId,
) -> Result<(StatusCode, Accepted), ApiError> {
    let install = deps.store.get_install(install_id).await?;
    let conflict = |message: String| {
        ApiError::new(StatusCode::CONFLICT, "conflict", message).field("install_id")
    };
    match install.status {
        InstallStatus::Removing => {
            if let Some(arn) = install.resources.get(removal::UNINSTALL_EXECUTION_KEY) {
                let arn = start_uninstall(deps, &install, arn).await?;
                return Ok((StatusCode::ACCEPTED, Accepted { install_id: install.install_id, status: InstallStatus::Removing, execution_arn: arn }));
            }
        }
        InstallStatus::Ready | InstallStatus::Failed => {}
        InstallStatus::Removed => return Err(conflict(format!("install \"{install_id}\" is already removed"))),
        InstallStatus::Upgrading => {
            return Err(conflict(format!("install \"{install_id}\" is upgrading; remove it once the upgrade has ended (GET /installs/{install_id} follows it)")))
        }
        InstallStatus::Pending | InstallStatus::Running => {
            return Err(conflict(format!("install \"{install_id}\" is still {}; remove it once it is ready or failed (a failed install has already been swept)", install.status)))
        }
    }
    let name = removal::execution_name(install_id, install.version);
    let arn =
        execution_arn(&deps.settings.uninstall_state_machine_arn, &name).ok_or_else(|| {
            byoc_domain::Error::Config(format!(
                "UNINSTALL_STATE_MACHINE_ARN is not a state machine's ARN: {}",
                deps.settings.uninstall_state_machine_arn
            ))
        })?;
    let requested = Change::new(Step::Request, Outcome::Succeeded, "removal requested")
        .status(InstallStatus::Removing)
        .resource(removal::UNINSTALL_EXECUTION_KEY, &arn);
    let install = match deps.store.record(install_id, requested).await {
        // A failed install gave its place up; another took it since.
        Err(byoc_domain::Error::SlotTaken { existing }) => {
            return Err(place_taken(&existing, "install_id"))
        }
        other => other?,
    };
    // A request racing this one may have recorded its own name last: start the recorded one.
    let recorded = install
        .resources
        .get(removal::UNINSTALL_EXECUTION_KEY)
        .cloned()
        .unwrap_or(arn);
    let execution_arn = start_uninstall(deps, &install, &recorded).await?;
    deps.fault.point("uninstall-started");
    let change = Change::new(
        Step::Request,
        Outcome::Succeeded,
        "uninstall state machine started",
    );
    deps.store.record(install_id, change).await?;
    info!(install_id = %install_id, "uninstall started");
    Ok((
        StatusCode::ACCEPTED,
        Accepted {
            install_id: install_id.clone(),
            status: InstallStatus::Removing,
            execution_arn,
        },
    ))
}

/// Starts the recorded uninstall execution, or joins it when it already runs or ran. A start
/// Step Functions refuses leaves the install `removing` with its execution named, and says on
/// its timeline that a repeated DELETE starts it.
async fn start_uninstall(
    deps: &Deps,
    install: &Install,
    recorded_arn: &str,
) -> Result<String, ApiError> {
    let name = removal::name_of(recorded_arn).ok_or_else(|| {
        byoc_domain::Error::Corrupt(format!(
            "the install's uninstall execution is not an execution ARN: {recorded_arn}"
        ))
    })?;
    let input = StepInput {
        install_id: install.install_id.clone(),
        tenant_id: install.tenant_id.clone(),
    };
    let not_started = Change::new(
        Step::Request,
        Outcome::Failed,
        format!(
            "the uninstall state machine could not be started; DELETE /installs/{} again starts it",
            install.install_id
        ),
    );
    let execution = Execution {
        state_machine_arn: &deps.settings.uninstall_state_machine_arn,
        name,
        input: &input,
    };
    Ok(start_or_undo(
        &deps.sfn,
        &deps.store,
        &install.install_id,
        execution,
        not_started,
    )
    .await?)
}

pub async fn show(
    deps: &Deps,
    install_id: &InstallId,
) -> Result<(StatusCode, InstallView), ApiError> {
    let found = deps.store.get_install_with_timeline(install_id).await?;
    Ok((
        StatusCode::OK,
        InstallView {
            install: found.install,
            timeline: found.timeline,
        },
    ))
}

fn parse_limit(raw: Option<&str>) -> Result<i32, ApiError> {
    match raw {
        None => Ok(DEFAULT_PAGE),
        Some(text) => text
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("\"limit\" must be a whole number from 1 to {MAX_PAGE}"),
                )
            }),
    }
}

pub async fn list(
    deps: &Deps,
    tenant_id: &TenantId,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<(StatusCode, InstallList), ApiError> {
    let limit = parse_limit(limit)?;
    let cursor = cursor.map(|c| InstallId::parse("cursor", c)).transpose()?;
    deps.store.get_tenant(tenant_id).await?;
    let page = deps
        .store
        .list_installs(tenant_id, limit, cursor.as_ref())
        .await?;
    Ok((
        StatusCode::OK,
        InstallList {
            installs: page.installs,
            next_cursor: page.next,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(
                parse_limit(Some(bad)).unwrap_err().field.as_deref(),
                Some("limit")
            );
        }
    }
}
