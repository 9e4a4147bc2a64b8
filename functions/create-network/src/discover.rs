//! Reading the customer's account: what the planner needs (VPC CIDRs in use, zones, where the
//! node instance type is offered) and what this install already made there.

use aws_sdk_ec2::types::{
    Address, AvailabilityZoneState, InternetGateway, LocationType, NatGateway, NatGatewayState, RouteTable, Subnet, Vpc, VpcCidrBlockStateCode,
};
use aws_sdk_ec2::Client;
use byoc_core::cidr::Ipv4Cidr;
use byoc_core::model::Install;
use byoc_core::network_plan::{ExistingVpc, Zone, ZoneInfo};

use crate::error::{ec2_error, CreateNetworkError};
use crate::tagging::{filter, install_filter};

type Result<T> = std::result::Result<T, CreateNetworkError>;

/// Every VPC in the region with the IPv4 blocks it holds or is taking on.
pub async fn existing_vpcs(ec2: &Client) -> Result<Vec<ExistingVpc>> {
    let vpcs: Vec<Vpc> = ec2.describe_vpcs().into_paginator().items().send().collect::<std::result::Result<_, _>>().await.map_err(ec2_error("DescribeVpcs"))?;
    Ok(vpcs.iter().map(|vpc| ExistingVpc { vpc_id: vpc.vpc_id().unwrap_or_default().to_owned(), cidrs: cidrs_of(vpc) }).collect())
}

/// The primary block and every secondary one not on its way out. A block that does not
/// parse (IPv6 never appears here) is skipped rather than failing the plan.
fn cidrs_of(vpc: &Vpc) -> Vec<Ipv4Cidr> {
    let secondary = vpc.cidr_block_association_set().iter().filter(|a| {
        !matches!(
            a.cidr_block_state().and_then(|s| s.state()),
            Some(VpcCidrBlockStateCode::Disassociated | VpcCidrBlockStateCode::Disassociating | VpcCidrBlockStateCode::Failed | VpcCidrBlockStateCode::Failing)
        )
    });
    let mut cidrs: Vec<Ipv4Cidr> = vpc.cidr_block().into_iter().chain(secondary.filter_map(|a| a.cidr_block())).filter_map(|c| c.parse().ok()).collect();
    cidrs.sort();
    cidrs.dedup();
    cidrs
}

/// The region's availability zones, with whether each can take the install.
pub async fn zones(ec2: &Client) -> Result<Vec<ZoneInfo>> {
    let out = ec2.describe_availability_zones().send().await.map_err(ec2_error("DescribeAvailabilityZones"))?;
    Ok(out
        .availability_zones()
        .iter()
        .filter_map(|z| {
            let zone = Zone { name: z.zone_name()?.to_owned(), id: z.zone_id()?.to_owned() };
            // Local and Wavelength zones cannot hold an EKS control plane's subnets.
            let real_zone = z.zone_type().is_none_or(|t| t == "availability-zone");
            Some(ZoneInfo { zone, usable: real_zone && z.state() == Some(&AvailabilityZoneState::Available) })
        })
        .collect())
}

/// Names of the zones that offer `instance_type`.
pub async fn zones_offering(ec2: &Client, instance_type: &str) -> Result<Vec<String>> {
    let offerings = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(filter("instance-type", instance_type))
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(ec2_error("DescribeInstanceTypeOfferings"))?;
    Ok(offerings.iter().filter_map(|o| o.location().map(str::to_owned)).collect())
}

/// This install's VPCs (normally none or one).
pub async fn install_vpcs(ec2: &Client, install: &Install) -> Result<Vec<Vpc>> {
    let out = ec2.describe_vpcs().filters(install_filter(install)).send().await.map_err(ec2_error("DescribeVpcs"))?;
    Ok(out.vpcs().to_vec())
}

/// Everything else this install made in its VPC, read once per run: one call per kind, so a
/// run polls each NAT gateway exactly once.
#[derive(Debug, Default)]
pub struct Inventory {
    pub subnets: Vec<Subnet>,
    pub internet_gateways: Vec<InternetGateway>,
    pub route_tables: Vec<RouteTable>,
    pub addresses: Vec<Address>,
    pub nat_gateways: Vec<NatGateway>,
}

pub async fn inventory(ec2: &Client, install: &Install, vpc_id: &str) -> Result<Inventory> {
    let in_vpc = || filter("vpc-id", vpc_id);
    let subnets = ec2.describe_subnets().filters(install_filter(install)).filters(in_vpc()).send().await.map_err(ec2_error("DescribeSubnets"))?;
    // Not filtered by VPC: a gateway made but not yet attached must be found too.
    let gateways = ec2.describe_internet_gateways().filters(install_filter(install)).send().await.map_err(ec2_error("DescribeInternetGateways"))?;
    let tables = ec2.describe_route_tables().filters(install_filter(install)).filters(in_vpc()).send().await.map_err(ec2_error("DescribeRouteTables"))?;
    let addresses = ec2.describe_addresses().filters(install_filter(install)).send().await.map_err(ec2_error("DescribeAddresses"))?;
    let nats = ec2.describe_nat_gateways().filter(install_filter(install)).filter(in_vpc()).send().await.map_err(ec2_error("DescribeNatGateways"))?;
    Ok(Inventory {
        subnets: subnets.subnets().to_vec(),
        internet_gateways: gateways.internet_gateways().to_vec(),
        route_tables: tables.route_tables().to_vec(),
        addresses: addresses.addresses().to_vec(),
        // Deleted gateways linger in listings for an hour; they are not ours to adopt.
        nat_gateways: nats
            .nat_gateways()
            .iter()
            .filter(|n| !matches!(n.state(), Some(NatGatewayState::Deleting | NatGatewayState::Deleted)))
            .cloned()
            .collect(),
    })
}
