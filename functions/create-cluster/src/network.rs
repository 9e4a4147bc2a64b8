//! The install's network as the customer's account shows it, found by tag: this step never
//! reads another step's records, so it works whoever made the subnets and however they were
//! recorded.

use aws_sdk_ec2::types::{Filter, NatGatewayState, SubnetState};
use aws_sdk_ec2::Client;
use byoc_domain::ids::InstallId;
use byoc_domain::tags::INSTALL_TAG;

use crate::error::{aws, CreateClusterError};

/// The tags EKS reads to place internal and internet-facing load balancers; the network
/// step sets them, and they tell private from public subnets.
const PRIVATE_ROLE_TAG: &str = "kubernetes.io/role/internal-elb";
const PUBLIC_ROLE_TAG: &str = "kubernetes.io/role/elb";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallNetwork {
    pub vpc_id: String,
    /// Sorted by zone: nodes go here.
    pub private: Vec<Subnet>,
    pub public: Vec<Subnet>,
}

impl InstallNetwork {
    /// Private then public: the control plane gets both, so public load balancers can
    /// reach nodes and nodes reach the API privately.
    pub fn all_subnet_ids(&self) -> Vec<String> {
        self.private
            .iter()
            .chain(&self.public)
            .map(|s| s.id.clone())
            .collect()
    }

    pub fn private_subnet_ids(&self) -> Vec<String> {
        self.private.iter().map(|s| s.id.clone()).collect()
    }
}

fn install_filter(install_id: &InstallId) -> Filter {
    Filter::builder()
        .name(format!("tag:{INSTALL_TAG}"))
        .values(install_id.as_str())
        .build()
}

/// The install's available subnets, split by role. Needs private subnets in two zones at
/// least (EKS refuses fewer) and all in one VPC.
pub async fn find(
    ec2: &Client,
    install_id: &InstallId,
) -> Result<InstallNetwork, CreateClusterError> {
    let mut pages = ec2
        .describe_subnets()
        .filters(install_filter(install_id))
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        found.extend(page.map_err(|e| aws("EC2", e))?.subnets.unwrap_or_default());
    }
    let tagged = |subnet: &aws_sdk_ec2::types::Subnet, key: &str| {
        subnet
            .tags()
            .iter()
            .any(|t| t.key() == Some(key) && t.value() == Some("1"))
    };
    let mut vpcs: Vec<String> = Vec::new();
    let (mut private, mut public) = (Vec::new(), Vec::new());
    for subnet in found
        .iter()
        .filter(|s| s.state() == Some(&SubnetState::Available))
    {
        let (Some(id), Some(zone), Some(vpc)) = (
            subnet.subnet_id(),
            subnet.availability_zone(),
            subnet.vpc_id(),
        ) else {
            continue;
        };
        let entry = Subnet {
            id: id.to_owned(),
            zone: zone.to_owned(),
        };
        if tagged(subnet, PRIVATE_ROLE_TAG) {
            private.push(entry);
        } else if tagged(subnet, PUBLIC_ROLE_TAG) {
            public.push(entry);
        } else {
            continue;
        }
        if !vpcs.iter().any(|v| v == vpc) {
            vpcs.push(vpc.to_owned());
        }
    }
    private.sort_by(|a, b| (&a.zone, &a.id).cmp(&(&b.zone, &b.id)));
    public.sort_by(|a, b| (&a.zone, &a.id).cmp(&(&b.zone, &b.id)));
    let mut zones: Vec<&str> = private.iter().map(|s| s.zone.as_str()).collect();
    zones.dedup();
    match vpcs.as_slice() {
        [vpc] if zones.len() >= 2 => Ok(InstallNetwork { vpc_id: vpc.clone(), private, public }),
        [_, _, ..] => Err(CreateClusterError::Invalid(format!(
            "subnets tagged {INSTALL_TAG}={install_id} lie in more than one VPC ({}); an install has one VPC",
            vpcs.join(", ")
        ))),
        _ => Err(CreateClusterError::NetworkNotReady(format!(
            "install {install_id} has no available private subnets (tagged {INSTALL_TAG} and {PRIVATE_ROLE_TAG}) in two zones yet; \
             the network step makes them before the cluster starts"
        ))),
    }
}

/// True when the install's NAT gateways exist and every one is available: only then can
/// nodes in private subnets pull images and join the cluster.
pub async fn nat_ready(ec2: &Client, install_id: &InstallId) -> Result<bool, CreateClusterError> {
    let mut pages = ec2
        .describe_nat_gateways()
        .filter(install_filter(install_id))
        .into_paginator()
        .send();
    let mut states = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws("EC2", e))?;
        states.extend(
            page.nat_gateways()
                .iter()
                .filter_map(|g| g.state().cloned()),
        );
    }
    // Deleted gateways linger in the listing for a while and say nothing about the live ones.
    states.retain(|s| !matches!(s, NatGatewayState::Deleted | NatGatewayState::Deleting));
    Ok(!states.is_empty() && states.iter().all(|s| *s == NatGatewayState::Available))
}
