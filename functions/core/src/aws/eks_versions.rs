//! The Kubernetes versions EKS offers in a region, with their support dates
//! (DescribeClusterVersions, https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeClusterVersions.html),
//! and each add-on's versions for a Kubernetes version (DescribeAddonVersions), read into the
//! planner's plain values. One reader for create-cluster, upgrade-cluster and the API's check
//! of an upgrade's target.

use byoc_domain::cluster_plan::{AddonCompatibility, AddonVersion, OfferedVersion, Support};
use byoc_domain::error::Error;

pub async fn offered_versions(eks: &aws_sdk_eks::Client) -> Result<Vec<OfferedVersion>, Error> {
    let mut pages = eks.describe_cluster_versions().into_paginator().send();
    let mut offered = Vec::new();
    while let Some(page) = pages.next().await {
        for v in page.map_err(|e| Error::aws("EKS", e))?.cluster_versions() {
            let Some(version) = v.cluster_version() else {
                continue;
            };
            let status = v
                .version_status()
                .map(|s| s.as_str())
                .or(v.status().map(|s| s.as_str()))
                .unwrap_or_default();
            offered.push(OfferedVersion {
                version: version.to_owned(),
                support: Support::parse(status),
                end_of_standard_support: v.end_of_standard_support_date().map(day),
                end_of_extended_support: v.end_of_extended_support_date().map(day),
            });
        }
    }
    Ok(offered)
}

/// `YYYY-MM-DD` of an EKS date (EKS's support dates are days, in UTC).
fn day(date: &aws_sdk_eks::primitives::DateTime) -> String {
    date.fmt(aws_sdk_eks::primitives::DateTimeFormat::DateTime)
        .map(|text| text.chars().take(10).collect())
        .unwrap_or_default()
}

/// The versions of `addon` EKS offers for Kubernetes `kubernetes_version`, each with the
/// cluster versions it runs on and whether it is EKS's default there.
pub async fn addon_versions(
    eks: &aws_sdk_eks::Client,
    addon: &str,
    kubernetes_version: &str,
) -> Result<Vec<AddonVersion>, Error> {
    let mut pages = eks
        .describe_addon_versions()
        .addon_name(addon)
        .kubernetes_version(kubernetes_version)
        .into_paginator()
        .send();
    let mut versions = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("EKS", e))?;
        for info in page
            .addons()
            .iter()
            .filter(|a| a.addon_name() == Some(addon))
        {
            for v in info.addon_versions() {
                let Some(version) = v.addon_version() else {
                    continue;
                };
                let compatible = v
                    .compatibilities()
                    .iter()
                    .filter_map(|c| {
                        Some(AddonCompatibility {
                            cluster_version: c.cluster_version()?.to_owned(),
                            default: c.default_version(),
                        })
                    })
                    .collect();
                versions.push(AddonVersion {
                    version: version.to_owned(),
                    compatible,
                });
            }
        }
    }
    Ok(versions)
}
