//! Makes the install's network, each resource looked up by its tags first and recorded as
//! soon as it exists. Nothing here waits: a NAT gateway still pending is reported as not
//! ready, and the private default routes are added on the run that finds it available.
//!
//! A run goes in waves of calls made at once, each wave needing only what the ones before
//! made, with the ids of a wave recorded (one transaction) before the next builds on them:
//! discovery; the VPC; subnets, internet gateway, route tables, Elastic IPs and the VPC's DNS
//! settings; routes to the internet gateway, route table associations and the NAT gateways;
//! the private default routes once a NAT gateway is available.

use aws_sdk_ec2::types::{
    AttachmentStatus, AttributeBooleanValue, DomainType, InternetGateway, NatGateway,
    NatGatewayState, ResourceType, RouteTable, RouteTableAssociationStateCode, Subnet, SubnetState,
};
use aws_sdk_ec2::Client;
use byoc_core::cidr::Ipv4Cidr;
use byoc_core::fault::Fault;
use byoc_core::model::Install;
use byoc_core::network_plan::{choose_vpc_cidr, choose_zones, plan_subnets, ZonePlan};
use byoc_core::options::NatMode;
use futures_util::future::join_all;

use crate::discover::{self, Inventory};
use crate::error::{ec2_error, incomplete, CreateNetworkError};
use crate::record::{set, zone_key, Recorder, ZoneRecord};
use crate::tagging::{self, find_named, tag_spec, Tier};
use crate::unrepeatable::{one_attempt, send_once};

type Result<T> = std::result::Result<T, CreateNetworkError>;

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Every subnet exists and is available: the cluster can be created.
    pub subnets_ready: bool,
    /// Every NAT gateway is available and every private subnet routes to one: nodes can start.
    pub nat_ready: bool,
}

pub struct Builder<'a> {
    pub ec2: &'a Client,
    pub install: &'a Install,
    pub fault: &'a Fault,
}

/// A NAT gateway this run knows about, by the index of its zone.
struct Nat {
    zone: usize,
    id: String,
    available: bool,
}

/// A subnet found or made: its zone index, tier, id, whether this run made it, and whether
/// it is available.
struct SubnetOutcome {
    zone: usize,
    tier: Tier,
    id: String,
    created: bool,
    available: bool,
}

fn how(created: bool) -> &'static str {
    if created {
        "created"
    } else {
        "adopted (made by an earlier run)"
    }
}

/// The values of `results`, keeping the first error in `error`: the calls of a wave that did
/// succeed are still recorded when one of them failed.
fn settle<T>(results: Vec<Result<T>>, error: &mut Option<CreateNetworkError>) -> Vec<T> {
    let mut values = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(value) => values.push(value),
            Err(err) => {
                error.get_or_insert(err);
            }
        }
    }
    values
}

fn settle_one<T>(result: Result<T>, error: &mut Option<CreateNetworkError>) -> Option<T> {
    settle(vec![result], error).pop()
}

impl Builder<'_> {
    pub async fn run(&self, rec: &mut Recorder<'_>) -> Result<Readiness> {
        let inventory = discover::inventory(self.ec2, self.install).await?;
        let vpc_id = self.ensure_vpc(rec, &inventory).await?;
        rec.flush().await?;
        let inventory = inventory.in_vpc(&vpc_id);
        let mut error = None;

        // Wave: everything that needs only the VPC.
        let zones = rec.network.zones.clone();
        let nat_zones: Vec<usize> = match self.install.options.nat_mode {
            NatMode::Single => vec![0],
            NatMode::PerAz => (0..zones.len()).collect(),
        };
        let public_rt_name = tagging::public_route_table_name(self.install);
        let private_rt_names: Vec<String> = zones
            .iter()
            .map(|z| tagging::private_route_table_name(self.install, &z.zone.name))
            .collect();
        let subnets = zones.iter().enumerate().flat_map(|(i, zone)| {
            [Tier::Public, Tier::Private]
                .map(|tier| self.ensure_subnet(&vpc_id, i, zone, tier, &inventory))
        });
        let dns_enabled = rec.network.dns_enabled;
        let (dns, subnets, igw, public_rt, private_rts, eips) = tokio::join!(
            async {
                if dns_enabled {
                    Ok(())
                } else {
                    self.enable_dns(&vpc_id).await
                }
            },
            join_all(subnets),
            self.ensure_internet_gateway(&vpc_id, &inventory),
            self.ensure_route_table(&vpc_id, &public_rt_name, &inventory),
            join_all(
                private_rt_names
                    .iter()
                    .map(|name| self.ensure_route_table(&vpc_id, name, &inventory))
            ),
            join_all(
                nat_zones
                    .iter()
                    .map(|&i| self.ensure_elastic_ip(&zones[i], &inventory))
            ),
        );
        if settle_one(dns, &mut error).is_some() {
            rec.network.dns_enabled = true;
        }
        let subnets = settle(subnets, &mut error);
        let mut subnets_ready = subnets.len() == zones.len() * 2;
        for subnet in subnets {
            subnets_ready &= subnet.available;
            let zone = &zones[subnet.zone];
            let record = &mut rec.network.zones[subnet.zone];
            let (slot, cidr) = match subnet.tier {
                Tier::Public => (&mut record.public_subnet_id, zone.public_cidr),
                Tier::Private => (&mut record.private_subnet_id, zone.private_cidr),
            };
            if set(slot, &subnet.id) {
                let message = format!(
                    "{} {} subnet {} ({cidr}) in {}",
                    how(subnet.created),
                    subnet.tier.as_str(),
                    subnet.id,
                    zone.zone.name
                );
                rec.note(
                    &zone_key(
                        &format!("{}_subnet_id", subnet.tier.as_str()),
                        &zone.zone.name,
                    ),
                    &subnet.id,
                    message,
                );
            }
        }
        let igw = settle_one(igw, &mut error);
        if let Some((id, created)) = &igw {
            if set(&mut rec.network.internet_gateway_id, id) {
                rec.note(
                    "internet_gateway_id",
                    id,
                    format!("{} internet gateway {id}", how(*created)),
                );
            }
        }
        let public_rt = settle_one(
            public_rt.and_then(|(table, created)| Ok((table_id(&table)?, table, created))),
            &mut error,
        );
        if let Some((id, _, created)) = &public_rt {
            if set(&mut rec.network.public_route_table_id, id) {
                rec.note(
                    "public_route_table_id",
                    id,
                    format!("{} public route table {id}", how(*created)),
                );
            }
        }
        let mut private_tables: Vec<Option<(String, RouteTable)>> = vec![None; zones.len()];
        for (i, table) in private_rts.into_iter().enumerate() {
            let Some((id, table, created)) = settle_one(
                table.and_then(|(table, created)| Ok((table_id(&table)?, table, created))),
                &mut error,
            ) else {
                continue;
            };
            let zone = &zones[i].zone.name;
            if set(&mut rec.network.zones[i].private_route_table_id, &id) {
                rec.note(
                    &zone_key("private_route_table_id", zone),
                    &id,
                    format!("{} private route table {id} for {zone}", how(created)),
                );
            }
            private_tables[i] = Some((id, table));
        }
        for (&i, eip) in nat_zones.iter().zip(eips) {
            let Some((id, created)) = settle_one(eip, &mut error) else {
                continue;
            };
            let zone = &zones[i].zone.name;
            if set(&mut rec.network.zones[i].eip_allocation_id, &id) {
                rec.note(
                    &zone_key("eip_allocation_id", zone),
                    &id,
                    format!(
                        "{} Elastic IP {id} for the NAT gateway in {zone}",
                        how(created)
                    ),
                );
            }
        }
        if let Some(err) = error {
            return Err(err);
        }
        // The next wave builds on these ids: they are on the record first.
        rec.flush().await?;

        // Wave: routes to the internet, associations, and the NAT gateways.
        let (Some((igw_id, _)), Some((public_rt_id, public_table, _))) = (igw, public_rt) else {
            return Err(incomplete("CreateRouteTable", "route table"));
        };
        let zones = rec.network.zones.clone();
        let mut associations = Vec::new();
        for (i, zone) in zones.iter().enumerate() {
            if let Some(subnet) = &zone.public_subnet_id {
                associations.push(self.ensure_association(&public_table, &public_rt_id, subnet));
            }
            if let (Some(subnet), Some((id, table))) = (&zone.private_subnet_id, &private_tables[i])
            {
                associations.push(self.ensure_association(table, id, subnet));
            }
        }
        let (public_route, associated, nats) = tokio::join!(
            self.ensure_default_route(&public_table, &public_rt_id, Target::Gateway(&igw_id)),
            join_all(associations),
            // One after another: a crash leaves at most one gateway unrecorded.
            async {
                let mut made = Vec::new();
                for &i in &nat_zones {
                    let result = self
                        .ensure_nat_gateway(&zones[i], &inventory.nat_gateways)
                        .await;
                    let failed = result.is_err();
                    made.push((i, result));
                    if failed {
                        break;
                    }
                }
                made
            },
        );
        settle_one(public_route, &mut error);
        settle(associated, &mut error);
        let mut live = Vec::new();
        for (i, nat) in nats {
            let Some((gateway, created)) = settle_one(nat, &mut error) else {
                continue;
            };
            let zone = zones[i].zone.name.clone();
            let Some(id) = gateway.nat_gateway_id().map(str::to_owned) else {
                error.get_or_insert(incomplete("CreateNatGateway", "NAT gateway id"));
                continue;
            };
            if set(&mut rec.network.zones[i].nat_gateway_id, &id) {
                rec.note(
                    &zone_key("nat_gateway_id", &zone),
                    &id,
                    format!("{} NAT gateway {id} in {zone}", how(created)),
                );
            }
            if gateway.state() == Some(&NatGatewayState::Failed) {
                error.get_or_insert(CreateNetworkError::NatFailed {
                    nat_gateway_id: id.clone(),
                    zone,
                    code: gateway.failure_code().unwrap_or("Unknown").to_owned(),
                    message: gateway
                        .failure_message()
                        .unwrap_or("EC2 gave no reason")
                        .to_owned(),
                });
            }
            live.push(Nat {
                zone: i,
                id,
                available: gateway.state() == Some(&NatGatewayState::Available),
            });
        }
        if let Some(err) = error {
            return Err(err);
        }

        // Wave: each private subnet's default route through its zone's NAT gateway (the one
        // NAT gateway in `single` mode), once that is available. A route to a gateway that is
        // not up yet would be a blackhole; it waits for the run that sees the gateway available.
        let mut routes = Vec::new();
        let mut routed = true;
        for (i, table) in private_tables.iter().enumerate() {
            let nat = live.iter().find(|n| n.zone == i).or_else(|| live.first());
            match (nat, table) {
                (Some(nat), Some((id, table))) if nat.available => {
                    if !routes_to(table, Target::Nat(&nat.id)) {
                        routes.push(self.ensure_default_route(table, id, Target::Nat(&nat.id)));
                    }
                }
                _ => routed = false,
            }
        }
        if !routes.is_empty() {
            // The routes name the NAT gateways: those are on the record first.
            rec.flush().await?;
            for result in join_all(routes).await {
                result?;
            }
        }
        let nat_ready = routed && live.len() == nat_zones.len() && live.iter().all(|n| n.available);
        Ok(Readiness {
            subnets_ready,
            nat_ready,
        })
    }

    /// Zones and subnets for `cidr`, checked before anything is made so a bad fit fails fast.
    fn plan(
        &self,
        cidr: Ipv4Cidr,
        zones: Vec<byoc_core::network_plan::ZoneInfo>,
        offering: Vec<String>,
    ) -> Result<Vec<ZonePlan>> {
        let options = &self.install.options;
        let chosen = choose_zones(
            self.install.region.as_str(),
            &zones,
            &offering,
            &options.node_instance_type,
            options.az_count,
        )?;
        Ok(plan_subnets(cidr, &chosen)?)
    }

    /// What the planner reads about the account: zones and where the node type is offered.
    async fn zone_facts(&self) -> Result<(Vec<byoc_core::network_plan::ZoneInfo>, Vec<String>)> {
        tokio::try_join!(
            discover::zones(self.ec2),
            discover::zones_offering(self.ec2, &self.install.options.node_instance_type)
        )
    }

    async fn ensure_vpc(&self, rec: &mut Recorder<'_>, inventory: &Inventory) -> Result<String> {
        let name = tagging::vpc_name(self.install);
        if let Some(vpc) = find_named(
            &inventory.vpcs,
            self.install,
            &name,
            |v| v.tags(),
            |v| v.vpc_id(),
        ) {
            let vpc_id = vpc
                .vpc_id()
                .ok_or_else(|| incomplete("DescribeVpcs", "VPC id"))?
                .to_owned();
            let cidr: Ipv4Cidr = vpc
                .cidr_block()
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| incomplete("DescribeVpcs", "IPv4 CIDR"))?;
            let network = &rec.network;
            let known = network.vpc_id.as_deref() == Some(&vpc_id)
                && network.vpc_cidr == Some(cidr)
                && !network.zones.is_empty();
            if !known {
                // Crashed after the create, before the record: the plan is the same one
                // again, from the VPC's own CIDR rather than a fresh choice.
                let (zones, offering) = self.zone_facts().await?;
                let plan = self.plan(cidr, zones, offering)?;
                self.note_vpc(rec, &vpc_id, cidr, &plan, false);
            }
            return Ok(vpc_id);
        }

        let options = &self.install.options;
        let (existing, (zones, offering)) =
            tokio::try_join!(discover::existing_vpcs(self.ec2), self.zone_facts())?;
        let cidr = choose_vpc_cidr(options.vpc_cidr, options.vpc_prefix_length, &existing)?;
        let plan = self.plan(cidr, zones, offering)?;
        let out = send_once("CreateVpc", || {
            self.ec2
                .create_vpc()
                .cidr_block(cidr.to_string())
                .tag_specifications(tag_spec(
                    ResourceType::Vpc,
                    tagging::tags(self.install, &name, None),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await?;
        self.fault.point("vpc");
        let vpc_id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| incomplete("CreateVpc", "VPC id"))?
            .to_owned();
        self.note_vpc(rec, &vpc_id, cidr, &plan, true);
        Ok(vpc_id)
    }

    fn note_vpc(
        &self,
        rec: &mut Recorder<'_>,
        vpc_id: &str,
        cidr: Ipv4Cidr,
        plan: &[ZonePlan],
        created: bool,
    ) {
        let network = &mut rec.network;
        network.vpc_id = Some(vpc_id.to_owned());
        network.vpc_cidr = Some(cidr);
        network.nat_mode = Some(self.install.options.nat_mode);
        network.zones = plan.iter().map(ZoneRecord::planned).collect();
        // A VPC made (or first recorded) by this run has had no DNS settings from it yet.
        network.dns_enabled = false;
        let zones: Vec<&str> = plan.iter().map(|z| z.zone.name.as_str()).collect();
        let message = format!(
            "{} VPC {vpc_id} ({cidr}) over {}",
            how(created),
            zones.join(", ")
        );
        rec.note("vpc_id", vpc_id, message);
    }

    /// EKS needs both for its private endpoint and node registration. Done once per VPC (the
    /// record says when); EC2 takes one attribute per call.
    async fn enable_dns(&self, vpc_id: &str) -> Result<()> {
        let on = || AttributeBooleanValue::builder().value(true).build();
        tokio::try_join!(
            async {
                self.ec2
                    .modify_vpc_attribute()
                    .vpc_id(vpc_id)
                    .enable_dns_support(on())
                    .send()
                    .await
                    .map_err(ec2_error("ModifyVpcAttribute"))
            },
            async {
                self.ec2
                    .modify_vpc_attribute()
                    .vpc_id(vpc_id)
                    .enable_dns_hostnames(on())
                    .send()
                    .await
                    .map_err(ec2_error("ModifyVpcAttribute"))
            },
        )?;
        Ok(())
    }

    async fn ensure_subnet(
        &self,
        vpc_id: &str,
        i: usize,
        zone: &ZoneRecord,
        tier: Tier,
        inventory: &Inventory,
    ) -> Result<SubnetOutcome> {
        let cidr = match tier {
            Tier::Public => zone.public_cidr,
            Tier::Private => zone.private_cidr,
        };
        let name = tagging::subnet_name(self.install, tier, &zone.zone.name);
        let (subnet, created): (Subnet, bool) = match find_named(
            &inventory.subnets,
            self.install,
            &name,
            |s| s.tags(),
            |s| s.subnet_id(),
        ) {
            Some(s) => (s.clone(), false),
            None => {
                let out = send_once("CreateSubnet", || {
                    self.ec2
                        .create_subnet()
                        .vpc_id(vpc_id)
                        .cidr_block(cidr.to_string())
                        .availability_zone(&zone.zone.name)
                        .tag_specifications(tag_spec(
                            ResourceType::Subnet,
                            tagging::tags(self.install, &name, Some(tier)),
                        ))
                        .customize()
                        .config_override(one_attempt())
                        .send()
                })
                .await?;
                self.fault.point("subnet");
                (
                    out.subnet()
                        .cloned()
                        .ok_or_else(|| incomplete("CreateSubnet", "subnet"))?,
                    true,
                )
            }
        };
        let id = subnet
            .subnet_id()
            .ok_or_else(|| incomplete("CreateSubnet", "subnet id"))?
            .to_owned();
        // Load balancers and NAT gateways there get public addresses without asking.
        if tier == Tier::Public && subnet.map_public_ip_on_launch() != Some(true) {
            self.ec2
                .modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .map_err(ec2_error("ModifySubnetAttribute"))?;
        }
        Ok(SubnetOutcome {
            zone: i,
            tier,
            id,
            created,
            available: subnet.state() == Some(&SubnetState::Available),
        })
    }

    /// The internet gateway, found or made, and attached to the VPC.
    async fn ensure_internet_gateway(
        &self,
        vpc_id: &str,
        inventory: &Inventory,
    ) -> Result<(String, bool)> {
        let name = tagging::igw_name(self.install);
        let (gateway, created): (InternetGateway, bool) = match find_named(
            &inventory.internet_gateways,
            self.install,
            &name,
            |g| g.tags(),
            |g| g.internet_gateway_id(),
        ) {
            Some(g) => (g.clone(), false),
            None => {
                let out = send_once("CreateInternetGateway", || {
                    self.ec2
                        .create_internet_gateway()
                        .tag_specifications(tag_spec(
                            ResourceType::InternetGateway,
                            tagging::tags(self.install, &name, None),
                        ))
                        .customize()
                        .config_override(one_attempt())
                        .send()
                })
                .await?;
                self.fault.point("internet-gateway");
                (
                    out.internet_gateway()
                        .cloned()
                        .ok_or_else(|| incomplete("CreateInternetGateway", "internet gateway"))?,
                    true,
                )
            }
        };
        let id = gateway
            .internet_gateway_id()
            .ok_or_else(|| incomplete("CreateInternetGateway", "internet gateway id"))?
            .to_owned();
        if !attached_to(&gateway, vpc_id) {
            let attach = self
                .ec2
                .attach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(vpc_id)
                .send()
                .await
                .map_err(ec2_error("AttachInternetGateway"));
            if let Err(err) = attach {
                // The SDK's repeat of an attach that took effect (its answer was lost).
                if !(rejected_with(&err, "Resource.AlreadyAssociated")
                    && self.gateway_attached(&id, vpc_id).await?)
                {
                    return Err(err);
                }
            }
        }
        Ok((id, created))
    }

    async fn gateway_attached(&self, gateway_id: &str, vpc_id: &str) -> Result<bool> {
        let out = self
            .ec2
            .describe_internet_gateways()
            .internet_gateway_ids(gateway_id)
            .send()
            .await
            .map_err(ec2_error("DescribeInternetGateways"))?;
        Ok(out
            .internet_gateways()
            .iter()
            .any(|g| attached_to(g, vpc_id)))
    }

    /// The route table `name`, found or made.
    async fn ensure_route_table(
        &self,
        vpc_id: &str,
        name: &str,
        inventory: &Inventory,
    ) -> Result<(RouteTable, bool)> {
        if let Some(table) = find_named(
            &inventory.route_tables,
            self.install,
            name,
            |t| t.tags(),
            |t| t.route_table_id(),
        ) {
            return Ok((table.clone(), false));
        }
        let out = send_once("CreateRouteTable", || {
            self.ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(
                    ResourceType::RouteTable,
                    tagging::tags(self.install, name, None),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await?;
        self.fault.point("route-table");
        let table = out
            .route_table()
            .cloned()
            .ok_or_else(|| incomplete("CreateRouteTable", "route table"))?;
        Ok((table, true))
    }

    async fn ensure_elastic_ip(
        &self,
        zone: &ZoneRecord,
        inventory: &Inventory,
    ) -> Result<(String, bool)> {
        let name = tagging::eip_name(self.install, &zone.zone.name);
        let (id, created) = match find_named(
            &inventory.addresses,
            self.install,
            &name,
            |a| a.tags(),
            |a| a.allocation_id(),
        ) {
            Some(address) => (address.allocation_id().map(str::to_owned), false),
            None => {
                let out = send_once("AllocateAddress", || {
                    self.ec2
                        .allocate_address()
                        .domain(DomainType::Vpc)
                        .tag_specifications(tag_spec(
                            ResourceType::ElasticIp,
                            tagging::tags(self.install, &name, None),
                        ))
                        .customize()
                        .config_override(one_attempt())
                        .send()
                })
                .await?;
                self.fault.point("eip");
                (out.allocation_id().map(str::to_owned), true)
            }
        };
        Ok((
            id.ok_or_else(|| incomplete("AllocateAddress", "allocation id"))?,
            created,
        ))
    }

    /// The zone's NAT gateway as found or made (from the inventory read at the start of the run).
    async fn ensure_nat_gateway(
        &self,
        record: &ZoneRecord,
        inventory_nats: &[NatGateway],
    ) -> Result<(NatGateway, bool)> {
        let zone = &record.zone.name;
        let name = tagging::nat_name(self.install, zone);
        if let Some(gateway) = find_named(
            inventory_nats,
            self.install,
            &name,
            |n| n.tags(),
            |n| n.nat_gateway_id(),
        ) {
            return Ok((gateway.clone(), false));
        }
        let subnet = record
            .public_subnet_id
            .clone()
            .ok_or_else(|| incomplete("CreateSubnet", "public subnet"))?;
        let allocation = record
            .eip_allocation_id
            .as_deref()
            .ok_or_else(|| incomplete("AllocateAddress", "allocation id"))?;
        let out = self
            .ec2
            .create_nat_gateway()
            .subnet_id(subnet)
            .allocation_id(allocation)
            .client_token(client_token(
                self.install,
                zone,
                allocation,
                record.nat_gateway_id.as_deref(),
            ))
            .tag_specifications(tag_spec(
                ResourceType::Natgateway,
                tagging::tags(self.install, &name, None),
            ))
            .send()
            .await
            .map_err(ec2_error("CreateNatGateway"))?;
        self.fault.point("nat-gateway");
        Ok((
            out.nat_gateway()
                .cloned()
                .ok_or_else(|| incomplete("CreateNatGateway", "NAT gateway"))?,
            true,
        ))
    }

    async fn ensure_default_route(
        &self,
        table: &RouteTable,
        id: &str,
        target: Target<'_>,
    ) -> Result<()> {
        let current = table
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE));
        match current {
            Some(_) if routes_to(table, target) => Ok(()),
            // Points elsewhere (a NAT gateway that was replaced): repoint it.
            Some(_) => self.replace_default_route(id, target).await,
            None => {
                let call = self
                    .ec2
                    .create_route()
                    .route_table_id(id)
                    .destination_cidr_block(DEFAULT_ROUTE);
                let call = match target {
                    Target::Gateway(igw) => call.gateway_id(igw),
                    Target::Nat(nat) => call.nat_gateway_id(nat),
                };
                match call.send().await.map_err(ec2_error("CreateRoute")) {
                    // The SDK's repeat of a create that took effect (its answer was lost), or
                    // a route made since the table was read: point it where it must go.
                    Err(err) if rejected_with(&err, "RouteAlreadyExists") => {
                        self.replace_default_route(id, target).await
                    }
                    other => other.map(|_| ()),
                }
            }
        }
    }

    async fn replace_default_route(&self, id: &str, target: Target<'_>) -> Result<()> {
        let call = self
            .ec2
            .replace_route()
            .route_table_id(id)
            .destination_cidr_block(DEFAULT_ROUTE);
        let call = match target {
            Target::Gateway(igw) => call.gateway_id(igw),
            Target::Nat(nat) => call.nat_gateway_id(nat),
        };
        call.send().await.map_err(ec2_error("ReplaceRoute"))?;
        Ok(())
    }

    async fn ensure_association(&self, table: &RouteTable, id: &str, subnet: &str) -> Result<()> {
        if !associates(table, subnet) {
            let associate = self
                .ec2
                .associate_route_table()
                .route_table_id(id)
                .subnet_id(subnet)
                .send()
                .await
                .map_err(ec2_error("AssociateRouteTable"));
            if let Err(err) = associate {
                // The SDK's repeat of an association that took effect (its answer was lost).
                if !(rejected_with(&err, "Resource.AlreadyAssociated")
                    && self.subnet_associated_with(subnet, id).await?)
                {
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    async fn subnet_associated_with(&self, subnet: &str, table_id: &str) -> Result<bool> {
        let out = self
            .ec2
            .describe_route_tables()
            .route_table_ids(table_id)
            .send()
            .await
            .map_err(ec2_error("DescribeRouteTables"))?;
        Ok(out.route_tables().iter().any(|t| associates(t, subnet)))
    }
}

fn table_id(table: &RouteTable) -> Result<String> {
    Ok(table
        .route_table_id()
        .ok_or_else(|| incomplete("CreateRouteTable", "route table id"))?
        .to_owned())
}

/// Whether `table`'s default route already leads to `target`.
fn routes_to(table: &RouteTable, target: Target<'_>) -> bool {
    table.routes().iter().any(|r| {
        r.destination_cidr_block() == Some(DEFAULT_ROUTE)
            && match target {
                Target::Gateway(igw) => r.gateway_id() == Some(igw),
                Target::Nat(nat) => r.nat_gateway_id() == Some(nat),
            }
    })
}

#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    Gateway(&'a str),
    Nat(&'a str),
}

/// CreateNatGateway's idempotency token: the same gateway for the same install, zone and
/// address on every retry; a new address (after the network was swept) gets a new gateway.
/// EC2 allows 64 ASCII characters.
///
/// EC2 answers a repeated token with the gateway it first made, even once that is deleted; so a
/// gateway that replaces a deleted one (`replaces`: the recorded id no longer live) gets a token
/// of its own.
pub fn client_token(
    install: &Install,
    zone: &str,
    allocation: &str,
    replaces: Option<&str>,
) -> String {
    let install_id = install.install_id.as_str();
    let install_id = install_id.strip_prefix("inst-").unwrap_or(install_id);
    let allocation = allocation.strip_prefix("eipalloc-").unwrap_or(allocation);
    let mut token = match replaces {
        None => format!("{install_id}-{zone}-{allocation}"),
        Some(old) => format!(
            "{install_id}-after-{}",
            old.strip_prefix("nat-").unwrap_or(old)
        ),
    };
    token.retain(|c| c.is_ascii_graphic());
    token.truncate(64);
    token
}

/// Whether the gateway is attached to the VPC, or on its way (EC2 reports an attached
/// internet gateway's attachment as `available`, so only the leaving states count against).
fn attached_to(gateway: &InternetGateway, vpc_id: &str) -> bool {
    gateway.attachments().iter().any(|a| {
        a.vpc_id() == Some(vpc_id)
            && !matches!(
                a.state(),
                Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)
            )
    })
}

/// Whether the route table is (or is becoming) the subnet's.
fn associates(table: &RouteTable, subnet: &str) -> bool {
    table.associations().iter().any(|a| {
        a.subnet_id() == Some(subnet)
            && !matches!(
                a.association_state().and_then(|s| s.state()),
                Some(
                    RouteTableAssociationStateCode::Disassociated
                        | RouteTableAssociationStateCode::Disassociating
                        | RouteTableAssociationStateCode::Failed
                )
            )
    })
}

/// Whether EC2 refused the call with `code`.
fn rejected_with(err: &CreateNetworkError, code: &str) -> bool {
    matches!(err, CreateNetworkError::Rejected { code: c, .. } if c == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_core::ids::{AccountId, InstallId, Region, TenantId};

    fn install() -> Install {
        let now = chrono_now();
        Install {
            install_id: InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap(),
            tenant_id: TenantId::parse("t", "acme").unwrap(),
            account_id: AccountId::parse("a", "111122223333").unwrap(),
            region: Region::parse("r", "us-east-1").unwrap(),
            options: Default::default(),
            status: byoc_core::model::InstallStatus::Running,
            current_step: None,
            created_at: now,
            updated_at: now,
            version: 1,
            execution_arn: None,
            last_error: None,
            failed_step: None,
            resources: Default::default(),
            step_data: Default::default(),
            notified: vec![],
        }
    }

    fn chrono_now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn client_tokens_are_stable_distinct_and_short_enough() {
        let i = install();
        let a = client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef0", None);
        assert_eq!(
            a,
            client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef0", None)
        );
        assert_ne!(
            a,
            client_token(&i, "ap-southeast-4b", "eipalloc-0123456789abcdef0", None)
        );
        assert_ne!(
            a,
            client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef1", None)
        );
        assert!(a.len() <= 64, "{a}");
        let replacing = client_token(
            &i,
            "ap-southeast-4a",
            "eipalloc-0123456789abcdef0",
            Some("nat-0123456789abcdef0"),
        );
        assert_ne!(replacing, a);
        assert_ne!(
            replacing,
            client_token(
                &i,
                "ap-southeast-4a",
                "eipalloc-0123456789abcdef0",
                Some("nat-0123456789abcdef1")
            )
        );
        assert!(replacing.len() <= 64, "{replacing}");
    }

    #[test]
    fn subnet_tags_carry_what_eks_reads() {
        let i = install();
        let keys = |tier| -> Vec<(String, String)> {
            tagging::tags(&i, "n", Some(tier))
                .iter()
                .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
                .collect()
        };
        let cluster = (
            "kubernetes.io/cluster/byoc-inst-01hzy0000000000000000000aa".to_owned(),
            "shared".to_owned(),
        );
        let public = keys(Tier::Public);
        assert!(
            public.contains(&("kubernetes.io/role/elb".into(), "1".into()))
                && public.contains(&cluster)
        );
        let private = keys(Tier::Private);
        assert!(
            private.contains(&("kubernetes.io/role/internal-elb".into(), "1".into()))
                && private.contains(&cluster)
        );
        assert!(private.contains(&(
            "byoc:install-id".into(),
            "inst-01hzy0000000000000000000aa".into()
        )));
    }
}
