//! Reading the customer's account: what the planner needs (VPC CIDRs in use; the zones come
//! from `byoc_core::aws::zones`, as check-quotas reads them) and what this install already made
//! there.

use aws_sdk_ec2::types::{Address, InternetGateway, NatGateway, RouteTable, Subnet, Vpc};
use aws_sdk_ec2::Client;
use byoc_domain::cidr::Ipv4Cidr;
use byoc_domain::model::Install;
use byoc_domain::network_plan::ExistingVpc;

use crate::build::state;
use crate::error::{ec2_error, CreateNetworkError};
use crate::tagging::install_filter;

type Result<T> = std::result::Result<T, CreateNetworkError>;

/// Every VPC in the region with the IPv4 blocks it holds or is taking on.
pub async fn existing_vpcs(ec2: &Client) -> Result<Vec<ExistingVpc>> {
    let vpcs: Vec<Vpc> = ec2
        .describe_vpcs()
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<_, _>>()
        .await
        .map_err(ec2_error("DescribeVpcs"))?;
    Ok(vpcs
        .iter()
        .map(|vpc| ExistingVpc {
            vpc_id: vpc.vpc_id().unwrap_or_default().to_owned(),
            cidrs: cidrs_of(vpc),
        })
        .collect())
}

/// The primary block and every secondary one not on its way out. A block that does not
/// parse (IPv6 never appears here) is skipped rather than failing the plan.
fn cidrs_of(vpc: &Vpc) -> Vec<Ipv4Cidr> {
    let secondary = vpc
        .cidr_block_association_set()
        .iter()
        .filter(|a| state::cidr_block_held(a));
    let mut cidrs: Vec<Ipv4Cidr> = vpc
        .cidr_block()
        .into_iter()
        .chain(secondary.filter_map(|a| a.cidr_block()))
        .filter_map(|c| c.parse().ok())
        .collect();
    cidrs.sort();
    cidrs.dedup();
    cidrs
}

/// Everything this install made in the account, read once per run: one call per kind, all
/// at once, so a run polls each NAT gateway exactly once. Filtered by the install tag only (a
/// gateway made but not yet attached must be found too); `in_vpc` narrows it to the VPC.
#[derive(Debug, Default)]
pub struct Inventory {
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub internet_gateways: Vec<InternetGateway>,
    pub route_tables: Vec<RouteTable>,
    pub addresses: Vec<Address>,
    pub nat_gateways: Vec<NatGateway>,
}

pub async fn inventory(ec2: &Client, install: &Install) -> Result<Inventory> {
    let mine = || install_filter(install);
    let (vpcs, subnets, gateways, tables, addresses, nats) = tokio::try_join!(
        async {
            ec2.describe_vpcs()
                .filters(mine())
                .send()
                .await
                .map_err(ec2_error("DescribeVpcs"))
        },
        async {
            ec2.describe_subnets()
                .filters(mine())
                .send()
                .await
                .map_err(ec2_error("DescribeSubnets"))
        },
        async {
            ec2.describe_internet_gateways()
                .filters(mine())
                .send()
                .await
                .map_err(ec2_error("DescribeInternetGateways"))
        },
        async {
            ec2.describe_route_tables()
                .filters(mine())
                .send()
                .await
                .map_err(ec2_error("DescribeRouteTables"))
        },
        async {
            ec2.describe_addresses()
                .filters(mine())
                .send()
                .await
                .map_err(ec2_error("DescribeAddresses"))
        },
        nat_gateways(ec2, install),
    )?;
    Ok(Inventory {
        vpcs: vpcs.vpcs().to_vec(),
        subnets: subnets.subnets().to_vec(),
        internet_gateways: gateways.internet_gateways().to_vec(),
        route_tables: tables.route_tables().to_vec(),
        addresses: addresses.addresses().to_vec(),
        nat_gateways: nats,
    })
}

/// The install's NAT gateways that are not on their way out: deleted gateways linger in
/// listings for an hour; they are not ours to adopt.
pub async fn nat_gateways(ec2: &Client, install: &Install) -> Result<Vec<NatGateway>> {
    let nats = ec2
        .describe_nat_gateways()
        .filter(install_filter(install))
        .send()
        .await
        .map_err(ec2_error("DescribeNatGateways"))?;
    Ok(nats
        .nat_gateways()
        .iter()
        .filter(|n| !state::nat_gone(n))
        .cloned()
        .collect())
}

impl Inventory {
    /// Only what lies in `vpc_id` (internet gateways and addresses have no VPC until attached
    /// or associated, and stay).
    pub fn in_vpc(mut self, vpc_id: &str) -> Self {
        self.subnets.retain(|s| s.vpc_id() == Some(vpc_id));
        self.route_tables.retain(|t| t.vpc_id() == Some(vpc_id));
        self.nat_gateways.retain(|n| n.vpc_id() == Some(vpc_id));
        self
    }
}
