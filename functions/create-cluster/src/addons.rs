//! The EKS add-ons of every install, at the version EKS recommends for the cluster version.

use aws_sdk_eks::types::{Addon, AddonPodIdentityAssociations, AddonStatus, ResolveConflicts};
use aws_sdk_eks::Client;
use byoc_domain::cluster_plan::{self, AddonVersion};
use byoc_domain::controller_tags::{
    ebs_csi_configuration, EBS_CSI_ADDON, EBS_CSI_ROLE_KEY, EBS_CSI_SERVICE_ACCOUNT,
};
use byoc_domain::model::Install;
use futures_util::future::try_join_all;

use crate::cluster::{issue_line, join_issues, tag_map};
use crate::error::{aws, CreateClusterError};

async fn describe(
    eks: &Client,
    cluster: &str,
    addon: &str,
) -> Result<Option<Addon>, CreateClusterError> {
    match eks
        .describe_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .send()
        .await
    {
        Ok(out) => Ok(out.addon),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws("EKS", err)),
    }
}

async fn offered(
    eks: &Client,
    addon: &str,
    kubernetes_version: &str,
) -> Result<Vec<AddonVersion>, CreateClusterError> {
    Ok(byoc_core::aws::eks_versions::addon_versions(eks, addon, kubernetes_version).await?)
}

/// Each of `addons` as it is, those missing requested first: `(name, add-on, made by this
/// call)`. The reads go out at once; the creates one after another, each followed by
/// `after_create` (the crash point), so a crash leaves at most one add-on unrecorded.
pub async fn ensure_all(
    eks: &Client,
    install: &Install,
    cluster: &str,
    kubernetes_version: &str,
    addons: &[&str],
    after_create: impl Fn(),
) -> Result<Vec<(String, Addon, bool)>, CreateClusterError> {
    let found = try_join_all(addons.iter().map(|addon| describe(eks, cluster, addon))).await?;
    // An add-on EKS gave up on fails the step before anything more is requested.
    if let Some(failed) = found.iter().flatten().find_map(failure) {
        return Err(CreateClusterError::ClusterFailed(failed));
    }
    let missing: Vec<&str> = addons
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(a, _)| *a)
        .collect();
    let offered = try_join_all(
        missing
            .iter()
            .map(|addon| offered(eks, addon, kubernetes_version)),
    )
    .await?;
    let mut out = Vec::with_capacity(addons.len());
    for (addon, existing) in addons.iter().zip(found) {
        match existing {
            Some(existing) => out.push((addon.to_string(), existing, false)),
            None => {
                let versions = missing
                    .iter()
                    .position(|m| m == addon)
                    .map(|i| offered[i].as_slice())
                    .unwrap_or_default();
                let (state, created) =
                    create(eks, install, cluster, kubernetes_version, addon, versions).await?;
                if created {
                    after_create();
                }
                out.push((addon.to_string(), state, created));
            }
        }
    }
    Ok(out)
}

/// Requests `addon` at the version EKS recommends; one made meanwhile (a concurrent call) is
/// read instead.
async fn create(
    eks: &Client,
    install: &Install,
    cluster: &str,
    kubernetes_version: &str,
    addon: &str,
    offered: &[AddonVersion],
) -> Result<(Addon, bool), CreateClusterError> {
    let version = cluster_plan::addon_version(addon, kubernetes_version, offered)?;
    // Volumes the driver makes carry the install's tags, so the sweep finds them by tag.
    let configuration = (addon == EBS_CSI_ADDON)
        .then(|| ebs_csi_configuration(&install.install_id, &install.tenant_id));
    // AL2023 nodes give pods no node-role credentials (IMDS hop limit 1): the driver's
    // controller gets the customer stack's role through EKS Pod Identity (EKS User Guide,
    // "Amazon EBS CSI driver" and "IAM roles for Amazon EKS add-ons").
    let pod_identity = if addon == EBS_CSI_ADDON {
        let role = install.resources.get(EBS_CSI_ROLE_KEY).ok_or_else(|| {
            CreateClusterError::Invalid(format!(
                "install {} has no {EBS_CSI_ROLE_KEY}: the customer's access stack predates the EBS CSI driver role; update it from the install link",
                install.install_id
            ))
        })?;
        let association = AddonPodIdentityAssociations::builder()
            .service_account(EBS_CSI_SERVICE_ACCOUNT)
            .role_arn(role)
            .build()
            .map_err(|e| CreateClusterError::Invalid(format!("pod identity for {addon}: {e}")))?;
        Some(vec![association])
    } else {
        None
    };
    let result = eks
        .create_addon()
        .cluster_name(cluster)
        .addon_name(addon)
        .addon_version(&version)
        // EKS installs vpc-cni, coredns and kube-proxy itself as unmanaged manifests when the
        // cluster is created; the managed add-on takes those over.
        .resolve_conflicts(ResolveConflicts::Overwrite)
        .set_configuration_values(configuration)
        .set_pod_identity_associations(pod_identity)
        .set_tags(Some(tag_map(install, &format!("{cluster}-{addon}"))))
        .client_request_token(format!("{}-{addon}", install.install_id))
        .send()
        .await;
    match result {
        Ok(out) => out.addon.map(|a| (a, true)).ok_or_else(|| missing(addon)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            describe(eks, cluster, addon)
                .await?
                .map(|a| (a, false))
                .ok_or_else(|| missing(addon))
        }
        Err(err) => Err(aws("EKS", err)),
    }
}

fn missing(addon: &str) -> CreateClusterError {
    CreateClusterError::Core(byoc_domain::Error::Aws {
        service: "EKS",
        message: format!("add-on {addon} was created but cannot be read"),
    })
}

/// An add-on EKS gave up on, with its health issues.
pub fn failure(addon: &Addon) -> Option<String> {
    if !matches!(addon.status(), Some(AddonStatus::CreateFailed)) {
        return None;
    }
    let issues = addon.health().map(|h| h.issues()).unwrap_or_default();
    let text = join_issues(
        issues
            .iter()
            .map(|i| issue_line(i.code().map(|c| c.as_str()), i.message()))
            .collect(),
    );
    Some(format!(
        "add-on {} failed to install: {text}",
        addon.addon_name().unwrap_or("?")
    ))
}
