//! The EKS add-ons of every install, at the version EKS recommends for the cluster version.

use aws_sdk_eks::types::{Addon, AddonStatus, ResolveConflicts};
use aws_sdk_eks::Client;
use byoc_core::cluster_plan::{self, AddonCompatibility, AddonVersion};
use byoc_core::controller_tags::{ebs_csi_configuration, EBS_CSI_ADDON};
use byoc_core::model::Install;

use crate::cluster::{issue_line, join_issues, tag_map};
use crate::error::{aws, CreateClusterError};

async fn describe(eks: &Client, cluster: &str, addon: &str) -> Result<Option<Addon>, CreateClusterError> {
    match eks.describe_addon().cluster_name(cluster).addon_name(addon).send().await {
        Ok(out) => Ok(out.addon),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(err) => Err(aws("EKS", err)),
    }
}

async fn offered(eks: &Client, addon: &str, kubernetes_version: &str) -> Result<Vec<AddonVersion>, CreateClusterError> {
    let mut pages = eks.describe_addon_versions().addon_name(addon).kubernetes_version(kubernetes_version).into_paginator().send();
    let mut versions = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws("EKS", e))?;
        for info in page.addons().iter().filter(|a| a.addon_name() == Some(addon)) {
            for v in info.addon_versions() {
                let Some(version) = v.addon_version() else { continue };
                let compatible = v
                    .compatibilities()
                    .iter()
                    .filter_map(|c| Some(AddonCompatibility { cluster_version: c.cluster_version()?.to_owned(), default: c.default_version() }))
                    .collect();
                versions.push(AddonVersion { version: version.to_owned(), compatible });
            }
        }
    }
    Ok(versions)
}

/// The add-on as it is, creating it first when it is missing.
pub async fn ensure(eks: &Client, install: &Install, cluster: &str, kubernetes_version: &str, addon: &str) -> Result<(Addon, bool), CreateClusterError> {
    if let Some(existing) = describe(eks, cluster, addon).await? {
        return Ok((existing, false));
    }
    let version = cluster_plan::addon_version(addon, kubernetes_version, &offered(eks, addon, kubernetes_version).await?)?;
    // Volumes the driver makes carry the install's tags, so the sweep finds them by tag.
    let configuration = (addon == EBS_CSI_ADDON).then(|| ebs_csi_configuration(&install.install_id, &install.tenant_id));
    let result = eks
        .create_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .addon_version(&version)
        // EKS installs vpc-cni, coredns and kube-proxy itself as unmanaged manifests when the
        // cluster is created; the managed add-on takes those over.
        .resolve_conflicts(ResolveConflicts::Overwrite)
        .set_configuration_values(configuration)
        .set_tags(Some(tag_map(install, &format!("{cluster}-{addon}"))))
        .client_request_token(format!("{}-{addon}", install.install_id))
        .send()
        .await;
    match result {
        Ok(out) => out.addon.map(|a| (a, true)).ok_or_else(|| missing(addon)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {
            describe(eks, cluster, addon).await?.map(|a| (a, false)).ok_or_else(|| missing(addon))
        }
        Err(err) => Err(aws("EKS", err)),
    }
}

fn missing(addon: &str) -> CreateClusterError {
    CreateClusterError::Core(byoc_core::Error::Aws { service: "EKS", message: format!("add-on {addon} was created but cannot be read") })
}

/// An add-on EKS gave up on, with its health issues.
pub fn failure(addon: &Addon) -> Option<String> {
    if !matches!(addon.status(), Some(AddonStatus::CreateFailed)) {
        return None;
    }
    let issues = addon.health().map(|h| h.issues()).unwrap_or_default();
    let text = join_issues(issues.iter().map(|i| issue_line(i.code().map(|c| c.as_str()), i.message())).collect());
    Some(format!("add-on {} failed to install: {text}", addon.addon_name().unwrap_or("?")))
}
