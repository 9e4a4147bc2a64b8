//! `POST /installs/{install_id}/upgrade` `{"kubernetes_version"?, "force"?}`: moves a ready
//! install's cluster to a newer Kubernetes version (by default the newest in standard support)
//! through the upgrade state machine. The target is checked here against the install's
//! version and what EKS offers in its region (DescribeClusterVersions, read in the vendor's
//! own account: the catalogue is the region's, the same for every account), so a version that
//! cannot work is a 400 naming `kubernetes_version`, and nothing is written for it.
//!
//! A failed upgrade leaves the install ready at the version it reached; asking again (or
//! `POST /installs/{id}/retry`) resumes it where it stopped.

use aws_config::SdkConfig;
use byoc_core::upgrade_start::{Launched, UpgradeLauncher, UpgradeOrder};
use byoc_domain::cluster_plan::OfferedVersion;
use byoc_domain::ids::{InstallId, Region};
use byoc_domain::model::{Install, InstallStatus};
use byoc_domain::step_record::StepRecord;
use byoc_domain::upgrade::{self, MinorVersion, UpgradeRecord, UpgradeState};
use lambda_http::http::StatusCode;
use serde::Deserialize;

use crate::api_error::ApiError;
use crate::installs::Accepted;
use crate::Deps;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// `1.NN`; absent: the newest version in standard support.
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    /// Go ahead past ERROR upgrade insights, and evict pods regardless of their disruption
    /// budgets when node groups roll (EKS's own `force` flags).
    #[serde(default)]
    pub force: bool,
}

fn conflict(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message).field("install_id")
}

/// Why an install cannot be upgraded now, and what to do instead.
fn refusal(install: &Install) -> Option<ApiError> {
    let id = &install.install_id;
    let message = match install.status {
        InstallStatus::Ready => return None,
        InstallStatus::Upgrading => format!("install \"{id}\" is already upgrading; follow it with GET /installs/{id}"),
        InstallStatus::Pending | InstallStatus::Running => format!("install \"{id}\" is {}: only a ready install can be upgraded; follow it with GET /installs/{id}", install.status),
        InstallStatus::Failed => format!("install \"{id}\" is failed: only a ready install can be upgraded; POST /installs/{id}/retry finishes the install first"),
        InstallStatus::Removing | InstallStatus::Removed => format!("install \"{id}\" is {} and cannot be upgraded", install.status),
    };
    Some(conflict(message))
}

/// The install's control plane version, as create-cluster (and every upgrade) recorded it.
pub fn current_version(install: &Install) -> Option<MinorVersion> {
    install
        .resources
        .get(byoc_domain::step_record::resource::KUBERNETES_VERSION)
        .and_then(|v| MinorVersion::parse(v))
}

pub async fn upgrade(
    deps: &Deps,
    install_id: &InstallId,
    request: UpgradeRequest,
) -> Result<(StatusCode, Accepted), ApiError> {
    let install = deps.store.get_install(install_id).await?;
    if install.status == InstallStatus::Upgrading {
        if let Some(running) = running_execution(deps, &install) {
            return Ok(running);
        }
    }
    if let Some(refused) = refusal(&install) {
        return Err(refused);
    }
    let current = current_version(&install).ok_or_else(|| {
        conflict(format!(
            "install \"{install_id}\" has no recorded Kubernetes version to upgrade from"
        ))
    })?;
    let offered = offered_versions(&deps.base, &install.region).await?;
    // A stopped upgrade is resumed toward its target, which the control plane may have reached
    // already (its node groups or add-ons are what is left).
    let last = UpgradeRecord::of(&install);
    let stopped_at = last
        .as_ref()
        .filter(|r| r.state == UpgradeState::Failed)
        .and_then(|r| r.target)
        .filter(|t| *t >= current);
    let requested = request.kubernetes_version.as_deref();
    let target = match (requested, stopped_at) {
        (None, Some(target)) => target,
        (Some(text), Some(target)) if MinorVersion::parse(text) == Some(target) => target,
        _ => upgrade::target(requested, current, &offered)
            .map_err(|e| ApiError::invalid("kubernetes_version", e.to_string()))?,
    };
    let attempt = last.map_or(1, |r| r.attempt + 1);
    start(
        deps,
        install,
        Some(target),
        request.force,
        attempt,
        format!("upgrade to Kubernetes {target} requested (from {current})"),
    )
    .await
}

/// `POST /installs/{id}/retry` on a ready install whose last upgrade failed: the same target
/// and `force`, resumed where it stopped.
pub async fn retry_failed(
    deps: &Deps,
    install: Install,
) -> Result<(StatusCode, Accepted), ApiError> {
    let Some(last) = UpgradeRecord::of(&install).filter(|r| r.state == UpgradeState::Failed) else {
        return Err(conflict(format!("install \"{}\" is ready: there is nothing to retry (POST /installs/{}/upgrade upgrades it, DELETE /installs/{} removes it)", install.install_id, install.install_id, install.install_id)));
    };
    let requested = last.target.or(last.requested);
    let message = format!(
        "retry of the failed upgrade requested{}",
        requested.map_or(String::new(), |t| format!(" (to Kubernetes {t})"))
    );
    start(
        deps,
        install,
        requested,
        last.force,
        last.attempt + 1,
        message,
    )
    .await
}

fn launcher(deps: &Deps) -> UpgradeLauncher<'_> {
    UpgradeLauncher {
        store: &deps.store,
        sfn: &deps.sfn,
        state_machine_arn: &deps.settings.upgrade_state_machine_arn,
    }
}

fn accepted(install_id: &InstallId, execution_arn: String) -> (StatusCode, Accepted) {
    (
        StatusCode::ACCEPTED,
        Accepted {
            install_id: install_id.clone(),
            status: InstallStatus::Upgrading,
            execution_arn,
        },
    )
}

/// The upgrade that is running: a repeated request answers with its execution.
fn running_execution(deps: &Deps, install: &Install) -> Option<(StatusCode, Accepted)> {
    let arn = launcher(deps).running(install)?;
    Some(accepted(&install.install_id, arn))
}

async fn start(
    deps: &Deps,
    install: Install,
    requested: Option<MinorVersion>,
    force: bool,
    attempt: u32,
    message: String,
) -> Result<(StatusCode, Accepted), ApiError> {
    let order = UpgradeOrder {
        requested,
        force,
        attempt,
        message,
    };
    let id = &install.install_id;
    match launcher(deps).start(&install, order).await? {
        Launched::Started { execution_arn } | Launched::Running { execution_arn } => {
            Ok(accepted(id, execution_arn))
        }
        Launched::Changed => Err(conflict(format!(
            "install \"{id}\" changed while the upgrade was requested; GET /installs/{id} shows it"
        ))),
    }
}

/// The Kubernetes versions EKS offers in `region` (DescribeClusterVersions).
pub(crate) async fn offered_versions(
    base: &SdkConfig,
    region: &Region,
) -> Result<Vec<OfferedVersion>, ApiError> {
    let config = aws_sdk_eks::config::Builder::from(base)
        .region(aws_sdk_eks::config::Region::new(region.to_string()))
        .build();
    let eks = aws_sdk_eks::Client::from_conf(config);
    Ok(byoc_core::aws::eks_versions::offered_versions(&eks).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::ids::{AccountId, TenantId};
    use chrono::Utc;

    fn install(status: InstallStatus) -> Install {
        let (mut install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            Default::default(),
            Utc::now(),
        )
        .unwrap();
        install.status = status;
        install
    }

    #[test]
    fn only_a_ready_install_is_upgraded_and_each_refusal_says_why() {
        assert!(refusal(&install(InstallStatus::Ready)).is_none());
        for status in [
            InstallStatus::Pending,
            InstallStatus::Running,
            InstallStatus::Failed,
            InstallStatus::Removing,
            InstallStatus::Removed,
            InstallStatus::Upgrading,
        ] {
            let err = refusal(&install(status)).unwrap();
            assert_eq!(
                (err.status, err.field.as_deref()),
                (StatusCode::CONFLICT, Some("install_id"))
            );
            assert!(err.message.contains(status.as_str()), "{}", err.message);
        }
    }

    #[test]
    fn the_current_version_is_the_recorded_one() {
        let mut ready = install(InstallStatus::Ready);
        assert_eq!(current_version(&ready), None);
        ready
            .resources
            .insert("kubernetes_version".into(), "1.33".into());
        assert_eq!(current_version(&ready), MinorVersion::parse("1.33"));
    }
}
