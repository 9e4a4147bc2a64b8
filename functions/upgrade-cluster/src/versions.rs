//! What EKS offers: Kubernetes versions with their support dates (DescribeClusterVersions)
//! and each add-on's versions for a Kubernetes version (DescribeAddonVersions).

use std::collections::BTreeMap;

use aws_sdk_eks::Client;
use byoc_domain::cluster_plan::{self, OfferedVersion, SupportData};
use byoc_domain::upgrade::MinorVersion;
use futures_util::future::try_join_all;

use crate::error::UpgradeError;
use crate::next::AddonTarget;
use crate::observe::{self, ClusterSeen, PartSeen};

pub async fn offered(eks: &Client) -> Result<Vec<OfferedVersion>, UpgradeError> {
    Ok(byoc_core::aws::eks_versions::offered_versions(eks).await?)
}

/// What EKS says of `version` (its support and dates), if it offers it.
pub fn dates(offered: &[OfferedVersion], version: MinorVersion) -> Option<&OfferedVersion> {
    offered
        .iter()
        .find(|o| MinorVersion::parse(&o.version) == Some(version))
}

/// The cluster's support policy with the dates of `version`, for the record and the emails.
pub async fn support(
    eks: &Client,
    seen: &ClusterSeen,
    version: MinorVersion,
) -> Result<SupportData, UpgradeError> {
    let offered = offered(eks).await?;
    let dates = dates(&offered, version);
    Ok(SupportData {
        policy: seen.support_type.clone(),
        end_of_standard_support: dates.and_then(|d| d.end_of_standard_support.clone()),
        end_of_extended_support: dates.and_then(|d| d.end_of_extended_support.clone()),
    })
}

/// For each installed add-on, EKS's default version for `version` and every compatible one.
/// An add-on EKS offers nothing for is left out (the preflight reported it).
pub async fn addon_targets(
    eks: &Client,
    addons: &[PartSeen],
    version: MinorVersion,
) -> Result<BTreeMap<String, AddonTarget>, UpgradeError> {
    let offered = try_join_all(addons.iter().map(|addon| async move {
        observe::addon_versions(eks, &addon.name, version)
            .await
            .map(|versions| (addon.name.clone(), versions))
    }))
    .await?;
    let kubernetes = version.to_string();
    Ok(offered
        .into_iter()
        .filter_map(|(name, versions)| {
            let wanted = cluster_plan::addon_version(&name, &kubernetes, &versions).ok()?;
            let compatible = versions
                .iter()
                .filter(|v| v.compatible.iter().any(|c| c.cluster_version == kubernetes))
                .map(|v| v.version.clone())
                .collect();
            Some((name, AddonTarget { wanted, compatible }))
        })
        .collect())
}
