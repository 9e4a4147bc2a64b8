//! EC2 as a person checking an install's network sees it: everything tagged with the install in
//! one account, read once. And the emulator knob for how long NAT gateways stay pending.

use aws_sdk_ec2::types::{
    Address, Filter, InternetGateway, NatGateway, RouteTable, Subnet, Tag, Vpc,
};
use aws_sdk_ec2::Client;

use crate::account_header::AccountHeader;
use crate::stack::LocalStack;

/// EC2 in `account` (a customer's, or the vendor's own).
pub fn ec2(stack: &LocalStack, account: &str) -> Client {
    let config = aws_sdk_ec2::config::Builder::from(&stack.config)
        .interceptor(AccountHeader(account.to_owned()))
        .build();
    Client::from_conf(config)
}

/// The value of tag `key`, if set.
pub fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Everything in an account that carries an install's `byoc:install-id` tag.
#[derive(Debug, Clone, Default)]
pub struct Tagged {
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub internet_gateways: Vec<InternetGateway>,
    pub route_tables: Vec<RouteTable>,
    pub addresses: Vec<Address>,
    pub nat_gateways: Vec<NatGateway>,
}

impl Tagged {
    pub fn is_empty(&self) -> bool {
        self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.route_tables.is_empty()
            && self.addresses.is_empty()
            && self.nat_gateways.is_empty()
    }

    /// Every resource id, sorted: two equal lists mean nothing was made or replaced.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .vpcs
            .iter()
            .filter_map(|v| v.vpc_id())
            .chain(self.subnets.iter().filter_map(|s| s.subnet_id()))
            .chain(
                self.internet_gateways
                    .iter()
                    .filter_map(|g| g.internet_gateway_id()),
            )
            .chain(self.route_tables.iter().filter_map(|t| t.route_table_id()))
            .chain(self.addresses.iter().filter_map(|a| a.allocation_id()))
            .chain(self.nat_gateways.iter().filter_map(|n| n.nat_gateway_id()))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids
    }

    /// The ids of what is still there: every resource but a NAT gateway in state `deleted`,
    /// which EC2 keeps listing for about an hour after its deletion.
    pub fn live_ids(&self) -> Vec<String> {
        let deleted_nat: Vec<&str> = self
            .nat_gateways
            .iter()
            .filter(|n| n.state().map(|s| s.as_str()) == Some("deleted"))
            .filter_map(|n| n.nat_gateway_id())
            .collect();
        self.ids()
            .into_iter()
            .filter(|id| !deleted_nat.contains(&id.as_str()))
            .collect()
    }

    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.subnet_id() == Some(id))
    }

    pub fn named_subnet(&self, name: &str) -> Option<&Subnet> {
        self.subnets
            .iter()
            .find(|s| tag(s.tags(), "Name") == Some(name))
    }

    pub fn named_route_table(&self, name: &str) -> Option<&RouteTable> {
        self.route_tables
            .iter()
            .find(|t| tag(t.tags(), "Name") == Some(name))
    }
}

/// Reads what carries `install_id`'s tag. Note that listing NAT gateways is a poll of them
/// (the emulator moves pending gateways on per poll); pass `with_nat_gateways: false` to leave
/// them be.
pub async fn tagged(
    ec2: &Client,
    install_id: &str,
    with_nat_gateways: bool,
) -> Result<Tagged, String> {
    let by_install = || {
        Filter::builder()
            .name("tag:byoc:install-id")
            .values(install_id)
            .build()
    };
    let vpcs = ec2
        .describe_vpcs()
        .filters(by_install())
        .send()
        .await
        .map_err(|e| format!("DescribeVpcs: {e:?}"))?;
    let subnets = ec2
        .describe_subnets()
        .filters(by_install())
        .send()
        .await
        .map_err(|e| format!("DescribeSubnets: {e:?}"))?;
    let gateways = ec2
        .describe_internet_gateways()
        .filters(by_install())
        .send()
        .await
        .map_err(|e| format!("DescribeInternetGateways: {e:?}"))?;
    let tables = ec2
        .describe_route_tables()
        .filters(by_install())
        .send()
        .await
        .map_err(|e| format!("DescribeRouteTables: {e:?}"))?;
    let addresses = ec2
        .describe_addresses()
        .filters(by_install())
        .send()
        .await
        .map_err(|e| format!("DescribeAddresses: {e:?}"))?;
    let nat_gateways = if with_nat_gateways {
        ec2.describe_nat_gateways()
            .filter(by_install())
            .send()
            .await
            .map_err(|e| format!("DescribeNatGateways: {e:?}"))?
            .nat_gateways()
            .to_vec()
    } else {
        Vec::new()
    };
    Ok(Tagged {
        vpcs: vpcs.vpcs().to_vec(),
        subnets: subnets.subnets().to_vec(),
        internet_gateways: gateways.internet_gateways().to_vec(),
        route_tables: tables.route_tables().to_vec(),
        addresses: addresses.addresses().to_vec(),
        nat_gateways,
    })
}

/// Sets the emulator's NAT behaviour for `account`: `{"pending_polls": 3}` keeps each new NAT
/// gateway pending for three DescribeNatGateways polls; `{"fail": "why"}` makes it fail.
pub async fn steer_nat(
    stack: &LocalStack,
    account: &str,
    settings: serde_json::Value,
) -> Result<(), String> {
    stack.steer("nat", account, settings).await
}
