//! What create-cluster keeps on the install record (`step_data["cluster"]`): the cluster as
//! last seen, which the API and the ready email show. A call records only when this changes,
//! so polling a cluster for fifteen minutes does not flood the timeline.

use byoc_domain::step_record::StepRecord;
use std::collections::BTreeMap;

use aws_sdk_eks::types::{Addon, Cluster, Nodegroup};
use byoc_domain::model::Install;

use crate::pod_identity::ControllerIdentity;
use serde::{Deserialize, Serialize};

/// `byoc_domain::cluster_plan::CLUSTER_KEY`: other steps read the version and support from it.
pub const DATA_KEY: &str = byoc_domain::cluster_plan::CLUSTER_KEY;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterData {
    pub name: String,
    pub arn: Option<String>,
    pub endpoint: Option<String>,
    pub kubernetes_version: Option<String>,
    pub region: String,
    pub status: String,
    /// The vendor principal that has a cluster-admin access entry.
    pub vendor_access: Option<String>,
    pub nodegroup: Option<NodegroupData>,
    pub addons: BTreeMap<String, AddonData>,
    /// The cluster's support policy and its version's support dates.
    #[serde(default)]
    pub support: Option<SupportData>,
    /// The Load Balancer Controller's Pod Identity association (none when the customer stack
    /// has no role for it).
    #[serde(default)]
    pub load_balancer_controller: Option<ControllerIdentity>,
    /// What a person runs to reach the cluster.
    pub update_kubeconfig: String,
    pub ready: bool,
}

/// Where the cluster's Kubernetes version stands (shared with upgrade-cluster, which moves it).
pub use byoc_domain::cluster_plan::SupportData;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodegroupData {
    pub name: String,
    pub status: String,
    pub ami_type: Option<String>,
    pub instance_types: Vec<String>,
    pub min_size: Option<i32>,
    pub desired_size: Option<i32>,
    pub max_size: Option<i32>,
    pub disk_size_gib: Option<i32>,
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddonData {
    pub version: Option<String>,
    pub status: String,
}

impl NodegroupData {
    pub fn of(nodegroup: &Nodegroup) -> Self {
        let scaling = nodegroup.scaling_config();
        Self {
            name: nodegroup.nodegroup_name().unwrap_or_default().to_owned(),
            status: nodegroup
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            ami_type: nodegroup.ami_type().map(|a| a.as_str().to_owned()),
            instance_types: nodegroup.instance_types().to_vec(),
            min_size: scaling.and_then(|s| s.min_size()),
            desired_size: scaling.and_then(|s| s.desired_size()),
            max_size: scaling.and_then(|s| s.max_size()),
            disk_size_gib: nodegroup.disk_size(),
            subnets: nodegroup.subnets().to_vec(),
        }
    }
}

impl AddonData {
    pub fn of(addon: &Addon) -> Self {
        Self {
            version: addon.addon_version().map(str::to_owned),
            status: addon
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        }
    }
}

impl StepRecord for ClusterData {
    const KEY: &'static str = DATA_KEY;
}

impl ClusterData {
    pub fn from_cluster(install: &Install, cluster: &Cluster) -> Self {
        let name = cluster.name().unwrap_or_default().to_owned();
        Self {
            update_kubeconfig: format!(
                "aws eks update-kubeconfig --name {name} --region {}",
                install.region
            ),
            name,
            arn: cluster.arn().map(str::to_owned),
            endpoint: cluster
                .endpoint()
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            kubernetes_version: cluster.version().map(str::to_owned),
            region: install.region.to_string(),
            status: cluster
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            ..Self::default()
        }
    }

    pub fn set_nodegroup(&mut self, nodegroup: &Nodegroup) {
        self.nodegroup = Some(NodegroupData::of(nodegroup));
    }

    pub fn set_addon(&mut self, name: &str, addon: &Addon) {
        self.addons.insert(name.to_owned(), AddonData::of(addon));
    }

    pub fn nodegroup_status(&self) -> &str {
        self.nodegroup
            .as_ref()
            .map_or("NONE", |n| n.status.as_str())
    }

    /// One line on where the cluster stands, for the timeline.
    pub fn summary(&self) -> String {
        let active = self
            .addons
            .values()
            .filter(|a| a.status == "ACTIVE")
            .count();
        format!(
            "cluster {} is {}; node group {}; add-ons {active} of {} ACTIVE",
            self.name,
            self.status,
            self.nodegroup
                .as_ref()
                .map_or("not created yet".to_owned(), |n| format!(
                    "{} is {}",
                    n.name, n.status
                )),
            self.addons.len()
        )
    }
}

#[cfg(test)]
mod support_tests {
    use super::SupportData;

    #[test]
    fn the_summary_says_what_happens_when_standard_support_ends() {
        let mut support = SupportData {
            policy: "STANDARD".into(),
            end_of_standard_support: Some("2027-03-27".into()),
            end_of_extended_support: Some("2028-03-27".into()),
        };
        assert_eq!(
            support.summary(),
            "standard support until 2027-03-27, then upgraded by AWS"
        );
        support.policy = "EXTENDED".into();
        assert_eq!(
            support.summary(),
            "standard support until 2027-03-27, then extended support (at extra cost) until 2028-03-27"
        );
    }
}
