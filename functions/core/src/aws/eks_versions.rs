//! The Kubernetes versions EKS offers in a region, with their support dates
//! (DescribeClusterVersions, https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeClusterVersions.html),
//! read into the planner's plain values. One reader for create-cluster, upgrade-cluster and the
//! API's check of an upgrade's target.

use crate::cluster_plan::{OfferedVersion, Support};
use crate::error::Error;

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
