//! What the upgrade reads from EKS on every call: the cluster, its managed node groups and
//! add-ons, and the updates it started. Read fresh each time and reduced to plain values, so
//! the decision (`next.rs`) is a pure function of what the account shows.

use std::collections::BTreeMap;

use aws_sdk_eks::types::{Addon, Cluster, Nodegroup, Update};
use aws_sdk_eks::Client;
use byoc_domain::cluster_plan::AddonVersion;
use byoc_domain::upgrade::{MinorVersion, Part, UpdateRef};
use futures_util::future::try_join_all;

use crate::error::{aws, UpgradeError};

/// The cluster as EKS shows it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSeen {
    /// `ACTIVE`, `UPDATING`, …
    pub status: String,
    pub version: MinorVersion,
    /// The cluster's `upgradePolicy.supportType` (`STANDARD`, `EXTENDED`).
    pub support_type: String,
    pub subnet_ids: Vec<String>,
    pub node_groups: Vec<PartSeen>,
    /// What decides each node group's surge when it rolls (same order as `node_groups`).
    pub node_group_shapes: Vec<NodeGroupShape>,
    pub addons: Vec<PartSeen>,
}

/// A managed node group's size, instances and update settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeGroupShape {
    pub name: String,
    pub instance_types: Vec<String>,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    pub subnet_ids: Vec<String>,
    pub desired_size: i32,
    pub max_unavailable: Option<i32>,
    pub max_unavailable_percentage: Option<i32>,
}

/// A node group or an add-on.
#[derive(Debug, Clone, PartialEq)]
pub struct PartSeen {
    pub name: String,
    /// A node group's Kubernetes version (`1.34`); an add-on's own version (`v1.12.3-eksbuild.1`).
    pub version: String,
    /// `ACTIVE`, `UPDATING`, `DEGRADED`, …
    pub status: String,
    /// EKS's health issues, `code: message` each.
    pub issues: Vec<String>,
}

/// One update EKS reports (DescribeUpdate).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateSeen {
    /// `InProgress`, `Failed`, `Cancelled`, `Successful`.
    pub status: String,
    /// EKS's errors, `code: message` each.
    pub errors: Vec<String>,
    pub error_codes: Vec<String>,
}

/// The cluster's Kubernetes version and `upgradePolicy.supportType`, from DescribeCluster
/// alone (EKS's own default policy, EXTENDED, when it names none).
pub struct VersionSeen {
    pub version: MinorVersion,
    pub support_type: String,
}

async fn describe_cluster(
    eks: &Client,
    name: &str,
) -> Result<(Cluster, VersionSeen), UpgradeError> {
    let described = eks
        .describe_cluster()
        .name(name)
        .send()
        .await
        .map_err(|e| aws("EKS", e))?;
    let cluster = described
        .cluster
        .ok_or_else(|| UpgradeError::Failed(format!("EKS did not describe cluster {name}")))?;
    let version = cluster
        .version()
        .and_then(MinorVersion::parse)
        .ok_or_else(|| {
            UpgradeError::Failed(format!("EKS reports no version for cluster {name}"))
        })?;
    let support_type = cluster
        .upgrade_policy()
        .and_then(|p| p.support_type())
        .map_or("EXTENDED", |t| t.as_str())
        .to_owned();
    Ok((
        cluster,
        VersionSeen {
            version,
            support_type,
        },
    ))
}

pub async fn version(eks: &Client, name: &str) -> Result<VersionSeen, UpgradeError> {
    Ok(describe_cluster(eks, name).await?.1)
}

pub async fn cluster(eks: &Client, name: &str) -> Result<ClusterSeen, UpgradeError> {
    let (cluster, seen) = describe_cluster(eks, name).await?;
    let subnet_ids = cluster
        .resources_vpc_config()
        .map(|c| c.subnet_ids().to_vec())
        .unwrap_or_default();
    let (node_groups, addons) = tokio::try_join!(node_groups(eks, name), addons(eks, name))?;
    let (node_groups, node_group_shapes): (Vec<_>, Vec<_>) = node_groups.into_iter().unzip();
    Ok(ClusterSeen {
        status: cluster
            .status()
            .map_or_else(String::new, |s| s.as_str().to_owned()),
        version: seen.version,
        support_type: seen.support_type,
        subnet_ids,
        node_groups,
        node_group_shapes,
        addons,
    })
}

async fn node_groups(
    eks: &Client,
    cluster: &str,
) -> Result<Vec<(PartSeen, NodeGroupShape)>, UpgradeError> {
    let mut names = Vec::new();
    let mut pages = eks
        .list_nodegroups()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        names.extend(
            page.map_err(|e| aws("EKS", e))?
                .nodegroups()
                .iter()
                .cloned(),
        );
    }
    try_join_all(names.iter().map(|name| async move {
        let out = eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| aws("EKS", e))?;
        Ok(out.nodegroup().map(|n| (node_group(n), shape(n))))
    }))
    .await
    .map(|found| found.into_iter().flatten().collect())
}

fn shape(nodegroup: &Nodegroup) -> NodeGroupShape {
    let update = nodegroup.update_config();
    NodeGroupShape {
        name: nodegroup.nodegroup_name().unwrap_or_default().to_owned(),
        instance_types: nodegroup.instance_types().to_vec(),
        capacity_type: nodegroup
            .capacity_type()
            .map_or("ON_DEMAND", |c| c.as_str())
            .to_owned(),
        subnet_ids: nodegroup.subnets().to_vec(),
        desired_size: nodegroup
            .scaling_config()
            .and_then(|s| s.desired_size())
            .unwrap_or(0),
        max_unavailable: update.and_then(|u| u.max_unavailable()),
        max_unavailable_percentage: update.and_then(|u| u.max_unavailable_percentage()),
    }
}

fn node_group(nodegroup: &Nodegroup) -> PartSeen {
    PartSeen {
        name: nodegroup.nodegroup_name().unwrap_or_default().to_owned(),
        version: nodegroup.version().unwrap_or_default().to_owned(),
        status: nodegroup
            .status()
            .map_or_else(String::new, |s| s.as_str().to_owned()),
        issues: nodegroup
            .health()
            .map(|h| {
                h.issues()
                    .iter()
                    .map(|i| issue(i.code().map(|c| c.as_str()), i.message()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

async fn addons(eks: &Client, cluster: &str) -> Result<Vec<PartSeen>, UpgradeError> {
    let mut names = Vec::new();
    let mut pages = eks
        .list_addons()
        .cluster_name(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        names.extend(page.map_err(|e| aws("EKS", e))?.addons().iter().cloned());
    }
    try_join_all(names.iter().map(|name| async move {
        let out = eks
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send()
            .await
            .map_err(|e| aws("EKS", e))?;
        Ok(out.addon().map(addon))
    }))
    .await
    .map(|found| found.into_iter().flatten().collect())
}

/// One health issue or update error as the record and the messages quote it: `code: message`.
fn issue(code: Option<&str>, message: Option<&str>) -> String {
    format!(
        "{}: {}",
        code.unwrap_or_default(),
        message.unwrap_or_default()
    )
}

fn addon(addon: &Addon) -> PartSeen {
    PartSeen {
        name: addon.addon_name().unwrap_or_default().to_owned(),
        version: addon.addon_version().unwrap_or_default().to_owned(),
        status: addon
            .status()
            .map_or_else(String::new, |s| s.as_str().to_owned()),
        issues: addon
            .health()
            .map(|h| {
                h.issues()
                    .iter()
                    .map(|i| issue(i.code().map(|c| c.as_str()), i.message()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The update EKS has in progress on `part`, if any (ListUpdates, then DescribeUpdate of each,
/// the last listed first).
pub async fn in_progress(
    eks: &Client,
    cluster: &str,
    part: &Part,
) -> Result<Option<UpdateRef>, UpgradeError> {
    let (node_group, addon) = match part {
        Part::ControlPlane => (None, None),
        Part::NodeGroup(name) => (Some(name.clone()), None),
        Part::Addon(name) => (None, Some(name.clone())),
    };
    let listed = eks
        .list_updates()
        .name(cluster)
        .set_nodegroup_name(node_group.clone())
        .set_addon_name(addon.clone())
        .send()
        .await
        .map_err(|e| aws("EKS", e))?;
    for id in listed.update_ids().iter().rev() {
        let update = UpdateRef {
            id: id.clone(),
            node_group: node_group.clone(),
            addon: addon.clone(),
            successful: false,
        };
        let seen = describe(eks, cluster, &update).await?;
        if seen.is_some_and(|s| s.status == "InProgress") {
            return Ok(Some(update));
        }
    }
    Ok(None)
}

async fn describe(
    eks: &Client,
    cluster: &str,
    update: &UpdateRef,
) -> Result<Option<UpdateSeen>, UpgradeError> {
    let out = eks
        .describe_update()
        .name(cluster)
        .update_id(&update.id)
        .set_nodegroup_name(update.node_group.clone())
        .set_addon_name(update.addon.clone())
        .send()
        .await
        .map_err(|e| aws("EKS", e))?;
    Ok(out.update().map(update_seen))
}

/// The updates the upgrade recorded, as EKS reports them now, by the record's key (one
/// recorded as successful is not described again).
pub async fn updates(
    eks: &Client,
    cluster: &str,
    recorded: &BTreeMap<String, UpdateRef>,
) -> Result<BTreeMap<String, UpdateSeen>, UpgradeError> {
    let seen = try_join_all(recorded.iter().map(|(key, update)| async move {
        if update.successful {
            let done = UpdateSeen {
                status: "Successful".into(),
                errors: vec![],
                error_codes: vec![],
            };
            return Ok::<_, UpgradeError>((key.clone(), Some(done)));
        }
        Ok((key.clone(), describe(eks, cluster, update).await?))
    }))
    .await?;
    Ok(seen
        .into_iter()
        .filter_map(|(key, update)| Some((key, update?)))
        .collect())
}

pub fn update_seen(update: &Update) -> UpdateSeen {
    UpdateSeen {
        status: update
            .status()
            .map_or_else(String::new, |s| s.as_str().to_owned()),
        errors: update
            .errors()
            .iter()
            .map(|e| issue(e.error_code().map(|c| c.as_str()), e.error_message()))
            .collect(),
        error_codes: update
            .errors()
            .iter()
            .filter_map(|e| e.error_code().map(|c| c.as_str().to_owned()))
            .collect(),
    }
}

/// The versions of `addon` EKS offers for Kubernetes `version` (DescribeAddonVersions).
pub async fn addon_versions(
    eks: &Client,
    addon: &str,
    version: MinorVersion,
) -> Result<Vec<AddonVersion>, UpgradeError> {
    Ok(byoc_core::aws::eks_versions::addon_versions(eks, addon, &version.to_string()).await?)
}
