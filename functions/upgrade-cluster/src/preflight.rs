//! The preflight: every reason the upgrade would fail or hurt the workload, found at once
//! before anything changes.
//!
//! - Upgrade insights (EKS User Guide, "Prepare for Kubernetes version upgrades with cluster
//!   insights", https://docs.aws.amazon.com/eks/latest/userguide/cluster-insights.html): an
//!   `UPGRADE_READINESS` insight in `ERROR` for a version on the way blocks unless `force`
//!   (EKS itself refuses UpdateClusterVersion then, unless its `force` flag is set).
//! - Add-ons: each installed add-on has a version for each version on the way
//!   (DescribeAddonVersions).
//! - Free addresses: EKS needs up to five free IP addresses in the cluster's subnets to
//!   update the control plane ("Update existing cluster to new Kubernetes version"), and its
//!   refusal asks for five in each subnet, the stricter reading followed here.
//! - Health: the cluster, every node group and add-on ACTIVE with no health issue.
//! - Room for the node groups' surge in the On-Demand vCPU quotas (`surge.rs`): a shortfall is
//!   not a failure but a quota increase to ask for, as at install.

use aws_sdk_eks::types::{Category, InsightStatusValue, InsightsFilter};
use aws_sdk_eks::Client;
use byoc_domain::model::Install;
use byoc_domain::options::QuotaRequestMode;
use byoc_domain::quota_plan::Deficit;
use byoc_domain::upgrade::{Finding, MinorVersion};
use futures_util::future::try_join_all;

use crate::error::{aws, UpgradeError};
use crate::observe::{self, ClusterSeen, PartSeen};
use crate::surge;

/// EKS's need for free addresses in the cluster subnets during a control plane update.
pub const MIN_FREE_IPS: i64 = 5;

/// The clients the preflight reads with, in the customer's account.
pub struct Clients<'a> {
    pub eks: &'a Client,
    pub ec2: &'a aws_sdk_ec2::Client,
    pub quotas: &'a aws_sdk_servicequotas::Client,
}

/// What the preflight found: every finding, and the quota increases the surge needs.
pub struct Preflight {
    pub findings: Vec<Finding>,
    pub deficits: Vec<Deficit>,
}

pub async fn run(
    clients: &Clients<'_>,
    cluster: &str,
    seen: &ClusterSeen,
    hops: &[MinorVersion],
    force: bool,
    install: &Install,
) -> Result<Preflight, UpgradeError> {
    let install_id = install.install_id.as_str();
    let (insights, addons, free, deficits) = tokio::try_join!(
        insights(clients.eks, cluster, hops, force, install_id),
        addon_versions(clients.eks, seen, hops),
        free_ips(clients.ec2, &seen.subnet_ids),
        surge::deficits(
            clients.ec2,
            clients.quotas,
            &seen.node_group_shapes,
            install.region.as_str()
        ),
    )?;
    let mut found = insights;
    found.extend(addons);
    found.extend(free);
    found.extend(health(seen, install_id));
    found.extend(deficits.iter().map(|deficit| Finding {
        check: "vcpu_quota".into(),
        blocking: false,
        message: format!(
            "the node groups' rolling update needs room for its new nodes first: {}",
            deficit.describe()
        ),
        advice: match install.options.quota_requests {
            QuotaRequestMode::Auto => "the upgrade asks AWS for the increase and goes on once it is approved".into(),
            QuotaRequestMode::Manual => "the customer requests the increase (they are emailed the link); the upgrade goes on once it is approved".into(),
        },
    }));
    Ok(Preflight {
        findings: found,
        deficits,
    })
}

async fn insights(
    eks: &Client,
    cluster: &str,
    hops: &[MinorVersion],
    force: bool,
    install_id: &str,
) -> Result<Vec<Finding>, UpgradeError> {
    let filter = InsightsFilter::builder()
        .categories(Category::UpgradeReadiness)
        .set_kubernetes_versions(Some(hops.iter().map(ToString::to_string).collect()))
        .build();
    let mut summaries = Vec::new();
    let mut pages = eks
        .list_insights()
        .cluster_name(cluster)
        .filter(filter)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        summaries.extend(page.map_err(|e| aws("EKS", e))?.insights().to_vec());
    }
    let worrying: Vec<_> = summaries
        .iter()
        .filter(|s| {
            matches!(
                s.insight_status().and_then(|st| st.status()),
                Some(InsightStatusValue::Error | InsightStatusValue::Warning)
            )
        })
        .filter_map(|s| s.id().map(str::to_owned))
        .collect();
    let described = try_join_all(worrying.iter().map(|id| async move {
        eks.describe_insight()
            .cluster_name(cluster)
            .id(id)
            .send()
            .await
            .map_err(|e| aws("EKS", e))
    }))
    .await?;
    Ok(described
        .iter()
        .filter_map(|out| out.insight())
        .map(|insight| {
            let error = insight.insight_status().and_then(|s| s.status())
                == Some(&InsightStatusValue::Error);
            let deprecated: Vec<String> = insight
                .category_specific_summary()
                .map(|c| {
                    c.deprecation_details()
                        .iter()
                        .map(|d| {
                            let replaced = d
                                .replaced_with()
                                .filter(|r| !r.is_empty())
                                .map_or(String::new(), |r| format!(" (use {r})"));
                            format!("{}{replaced}", d.usage().unwrap_or_default())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let apis = if deprecated.is_empty() {
                String::new()
            } else {
                format!("; still in use: {}", deprecated.join(", "))
            };
            let reason = insight
                .insight_status()
                .and_then(|s| s.reason())
                .filter(|r| !r.is_empty())
                .map_or(String::new(), |r| format!(": {r}"));
            let version = insight.kubernetes_version().unwrap_or_default();
            let name = insight.name().unwrap_or_default();
            let blocking = error && !force;
            Finding {
                check: "insight".into(),
                blocking,
                message: format!(
                    "EKS upgrade insight \"{name}\" for Kubernetes {version} is {}{reason}{apis}",
                    if error { "ERROR" } else { "WARNING" }
                ),
                advice: match (error, force) {
                    (true, false) => format!(
                        "move the workloads off what the insight lists (its recommendation: {}), then upgrade again; or upgrade \
                         with force (POST /installs/{install_id}/upgrade {{\"force\": true}}) to go ahead regardless",
                        insight.recommendation().unwrap_or("see the EKS console's Upgrade insights")
                    ),
                    (true, true) => "going ahead because the upgrade was forced".to_owned(),
                    _ => "not blocking; worth fixing before the next upgrade".to_owned(),
                },
            }
        })
        .collect())
}

async fn addon_versions(
    eks: &Client,
    seen: &ClusterSeen,
    hops: &[MinorVersion],
) -> Result<Vec<Finding>, UpgradeError> {
    let pairs: Vec<(&PartSeen, MinorVersion)> = seen
        .addons
        .iter()
        .flat_map(|addon| hops.iter().map(move |hop| (addon, *hop)))
        .collect();
    let offered = try_join_all(pairs.iter().map(|(addon, hop)| async move {
        observe::addon_versions(eks, &addon.name, *hop)
            .await
            .map(|versions| (*addon, *hop, versions.is_empty()))
    }))
    .await?;
    Ok(offered
        .into_iter()
        .filter(|(_, _, none)| *none)
        .map(|(addon, hop, _)| Finding {
            check: "addon_versions".into(),
            blocking: true,
            message: format!("EKS offers no version of the {} add-on for Kubernetes {hop}", addon.name),
            advice: format!(
                "upgrade to an older version first, or remove the {} add-on from the cluster before upgrading",
                addon.name
            ),
        })
        .collect())
}

async fn free_ips(
    ec2: &aws_sdk_ec2::Client,
    subnet_ids: &[String],
) -> Result<Vec<Finding>, UpgradeError> {
    if subnet_ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .send()
        .await
        .map_err(|e| aws("EC2", e))?;
    // EKS refuses the update unless each subnet has them ("need at least 5 IPs in each subnet
    // to be free for this operation"), so each subnet short of them is a finding.
    Ok(out
        .subnets()
        .iter()
        .filter_map(|subnet| {
            let free = i64::from(subnet.available_ip_address_count().unwrap_or(0));
            (free < MIN_FREE_IPS).then(|| Finding {
                check: "free_ips".into(),
                blocking: true,
                message: format!(
                    "subnet {} of the cluster has {free} free IP addresses; EKS needs {MIN_FREE_IPS} in each of the cluster's subnets to update the control plane",
                    subnet.subnet_id().unwrap_or_default()
                ),
                advice: "free addresses in that subnet (scale down or remove what uses them), then upgrade again".into(),
            })
        })
        .collect())
}

fn health(seen: &ClusterSeen, install_id: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    if seen.status != "ACTIVE" {
        found.push(Finding {
            check: "cluster_health".into(),
            blocking: true,
            message: format!("the cluster is {}, not ACTIVE", seen.status),
            advice: format!("wait until the cluster is ACTIVE, then upgrade again (POST /installs/{install_id}/upgrade)"),
        });
    }
    for (check, kind, parts) in [
        ("nodegroup_health", "node group", &seen.node_groups),
        ("addon_health", "add-on", &seen.addons),
    ] {
        for part in parts
            .iter()
            .filter(|p| p.status != "ACTIVE" || !p.issues.is_empty())
        {
            let issues = if part.issues.is_empty() {
                String::new()
            } else {
                format!(": {}", part.issues.join("; "))
            };
            found.push(Finding {
                check: check.into(),
                blocking: true,
                message: format!("{kind} {} is {}{issues}", part.name, part.status),
                advice: format!(
                    "fix {kind} {} (the EKS console shows its health issues), then upgrade again",
                    part.name
                ),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unhealthy_part_is_a_finding_of_its_own() {
        let seen = ClusterSeen {
            status: "ACTIVE".into(),
            version: MinorVersion::parse("1.33").unwrap(),
            support_type: "STANDARD".into(),
            subnet_ids: vec![],
            node_groups: vec![PartSeen {
                name: "ng".into(),
                version: "1.33".into(),
                status: "DEGRADED".into(),
                issues: vec!["AsgInstanceLaunchFailures: no capacity".into()],
            }],
            node_group_shapes: vec![],
            addons: vec![
                PartSeen {
                    name: "coredns".into(),
                    version: "v1".into(),
                    status: "ACTIVE".into(),
                    issues: vec![],
                },
                PartSeen {
                    name: "vpc-cni".into(),
                    version: "v1".into(),
                    status: "DEGRADED".into(),
                    issues: vec![],
                },
            ],
        };
        let found = health(&seen, "inst-1");
        let checks: Vec<&str> = found.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(checks, ["nodegroup_health", "addon_health"]);
        assert!(found[0]
            .message
            .contains("AsgInstanceLaunchFailures: no capacity"));
        assert!(found.iter().all(|f| f.blocking));
    }
}
