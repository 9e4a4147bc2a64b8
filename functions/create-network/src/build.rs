//! Makes the install's network, one resource at a time, each looked up by its tags first and
//! recorded as soon as it exists. Nothing here waits: a NAT gateway still pending is reported
//! as not ready, and the private default routes are added on the run that finds it available.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttachmentStatus, DomainType, NatGatewayState, ResourceType, RouteTable, RouteTableAssociationStateCode, SubnetState,
};
use aws_sdk_ec2::Client;
use byoc_core::cidr::Ipv4Cidr;
use byoc_core::fault::Fault;
use byoc_core::model::Install;
use byoc_core::network_plan::{choose_vpc_cidr, choose_zones, plan_subnets, ZonePlan};
use byoc_core::options::NatMode;

use crate::discover::{self, Inventory};
use crate::error::{ec2_error, incomplete, CreateNetworkError};
use crate::record::{set, zone_key, Recorder, ZoneRecord};
use crate::tagging::{self, find_named, tag_spec, Tier};

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
    pub recorder: Recorder<'a>,
    pub fault: &'a Fault,
}

/// A NAT gateway this run knows about, by the index of its zone.
struct Nat {
    zone: usize,
    id: String,
    available: bool,
}

fn how(created: bool) -> &'static str {
    if created { "created" } else { "adopted (made by an earlier run)" }
}

impl Builder<'_> {
    pub async fn run(&mut self) -> Result<Readiness> {
        let (vpc_id, _) = self.ensure_vpc().await?;
        self.enable_dns(&vpc_id).await?;
        let inventory = discover::inventory(self.ec2, self.install, &vpc_id).await?;
        let subnets_ready = self.ensure_subnets(&vpc_id, &inventory).await?;
        let igw = self.ensure_internet_gateway(&vpc_id, &inventory).await?;
        self.ensure_public_routes(&vpc_id, &igw, &inventory).await?;
        let nats = self.ensure_nat_gateways(&inventory).await?;
        let routed = self.ensure_private_routes(&vpc_id, &nats, &inventory).await?;
        Ok(Readiness { subnets_ready, nat_ready: routed && nats.iter().all(|n| n.available) })
    }

    /// Zones and subnets for `cidr`, checked before anything is made so a bad fit fails fast.
    async fn plan(&self, cidr: Ipv4Cidr) -> Result<Vec<ZonePlan>> {
        let options = &self.install.options;
        let zones = discover::zones(self.ec2).await?;
        let offering = discover::zones_offering(self.ec2, &options.node_instance_type).await?;
        let chosen = choose_zones(self.install.region.as_str(), &zones, &offering, &options.node_instance_type, options.az_count)?;
        Ok(plan_subnets(cidr, &chosen)?)
    }

    async fn ensure_vpc(&mut self) -> Result<(String, Ipv4Cidr)> {
        let name = tagging::vpc_name(self.install);
        let mine = discover::install_vpcs(self.ec2, self.install).await?;
        if let Some(vpc) = find_named(&mine, self.install, &name, |v| v.tags(), |v| v.vpc_id()) {
            let vpc_id = vpc.vpc_id().ok_or_else(|| incomplete("DescribeVpcs", "VPC id"))?.to_owned();
            let cidr: Ipv4Cidr = vpc.cidr_block().and_then(|c| c.parse().ok()).ok_or_else(|| incomplete("DescribeVpcs", "IPv4 CIDR"))?;
            let network = &self.recorder.network;
            let known = network.vpc_id.as_deref() == Some(&vpc_id) && network.vpc_cidr == Some(cidr) && !network.zones.is_empty();
            if !known {
                // Crashed after the create, before the record: the plan is the same one
                // again, from the VPC's own CIDR rather than a fresh choice.
                let plan = self.plan(cidr).await?;
                self.note_vpc(&vpc_id, cidr, &plan, false).await?;
            }
            return Ok((vpc_id, cidr));
        }

        let options = &self.install.options;
        let existing = discover::existing_vpcs(self.ec2).await?;
        let cidr = choose_vpc_cidr(options.vpc_cidr, options.vpc_prefix_length, &existing)?;
        let plan = self.plan(cidr).await?;
        let out = self
            .ec2
            .create_vpc()
            .cidr_block(cidr.to_string())
            .tag_specifications(tag_spec(ResourceType::Vpc, tagging::tags(self.install, &name, None)))
            .send()
            .await
            .map_err(ec2_error("CreateVpc"))?;
        self.fault.point("vpc");
        let vpc_id = out.vpc().and_then(|v| v.vpc_id()).ok_or_else(|| incomplete("CreateVpc", "VPC id"))?.to_owned();
        self.note_vpc(&vpc_id, cidr, &plan, true).await?;
        Ok((vpc_id, cidr))
    }

    async fn note_vpc(&mut self, vpc_id: &str, cidr: Ipv4Cidr, plan: &[ZonePlan], created: bool) -> Result<()> {
        let network = &mut self.recorder.network;
        network.vpc_id = Some(vpc_id.to_owned());
        network.vpc_cidr = Some(cidr);
        network.nat_mode = Some(self.install.options.nat_mode);
        network.zones = plan.iter().map(ZoneRecord::planned).collect();
        let zones: Vec<&str> = plan.iter().map(|z| z.zone.name.as_str()).collect();
        let message = format!("{} VPC {vpc_id} ({cidr}) over {}", how(created), zones.join(", "));
        Ok(self.recorder.save("vpc_id", vpc_id, message).await?)
    }

    /// EKS needs both for its private endpoint and node registration. Setting a value it
    /// already has changes nothing, so this runs every time (a crash may have come between
    /// the create and these calls).
    async fn enable_dns(&self, vpc_id: &str) -> Result<()> {
        let on = || AttributeBooleanValue::builder().value(true).build();
        self.ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_support(on()).send().await.map_err(ec2_error("ModifyVpcAttribute"))?;
        self.ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_hostnames(on()).send().await.map_err(ec2_error("ModifyVpcAttribute"))?;
        Ok(())
    }

    async fn ensure_subnets(&mut self, vpc_id: &str, inventory: &Inventory) -> Result<bool> {
        let mut ready = true;
        for i in 0..self.recorder.network.zones.len() {
            for tier in [Tier::Public, Tier::Private] {
                ready &= self.ensure_subnet(vpc_id, i, tier, inventory).await?;
            }
        }
        Ok(ready)
    }

    async fn ensure_subnet(&mut self, vpc_id: &str, i: usize, tier: Tier, inventory: &Inventory) -> Result<bool> {
        let zone = self.recorder.network.zones[i].clone();
        let cidr = match tier {
            Tier::Public => zone.public_cidr,
            Tier::Private => zone.private_cidr,
        };
        let name = tagging::subnet_name(self.install, tier, &zone.zone.name);
        let (id, state, maps_public_ip, created) = match find_named(&inventory.subnets, self.install, &name, |s| s.tags(), |s| s.subnet_id()) {
            Some(s) => (s.subnet_id().map(str::to_owned), s.state().cloned(), s.map_public_ip_on_launch(), false),
            None => {
                let out = self
                    .ec2
                    .create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(cidr.to_string())
                    .availability_zone(&zone.zone.name)
                    .tag_specifications(tag_spec(ResourceType::Subnet, tagging::tags(self.install, &name, Some(tier))))
                    .send()
                    .await
                    .map_err(ec2_error("CreateSubnet"))?;
                self.fault.point("subnet");
                let s = out.subnet();
                (s.and_then(|s| s.subnet_id()).map(str::to_owned), s.and_then(|s| s.state()).cloned(), s.and_then(|s| s.map_public_ip_on_launch()), true)
            }
        };
        let id = id.ok_or_else(|| incomplete("CreateSubnet", "subnet id"))?;
        let record = &mut self.recorder.network.zones[i];
        let slot = match tier {
            Tier::Public => &mut record.public_subnet_id,
            Tier::Private => &mut record.private_subnet_id,
        };
        if set(slot, &id) {
            let message = format!("{} {} subnet {id} ({cidr}) in {}", how(created), tier.as_str(), zone.zone.name);
            self.recorder.save(&zone_key(&format!("{}_subnet_id", tier.as_str()), &zone.zone.name), &id, message).await?;
        }
        // Load balancers and NAT gateways there get public addresses without asking.
        if tier == Tier::Public && maps_public_ip != Some(true) {
            self.ec2
                .modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .map_err(ec2_error("ModifySubnetAttribute"))?;
        }
        Ok(state == Some(SubnetState::Available))
    }

    async fn ensure_internet_gateway(&mut self, vpc_id: &str, inventory: &Inventory) -> Result<String> {
        let name = tagging::igw_name(self.install);
        let (id, attached, created) = match find_named(&inventory.internet_gateways, self.install, &name, |g| g.tags(), |g| g.internet_gateway_id()) {
            Some(g) => {
                let attached = g.attachments().iter().any(|a| {
                    a.vpc_id() == Some(vpc_id) && !matches!(a.state(), Some(AttachmentStatus::Detached | AttachmentStatus::Detaching))
                });
                (g.internet_gateway_id().map(str::to_owned), attached, false)
            }
            None => {
                let out = self
                    .ec2
                    .create_internet_gateway()
                    .tag_specifications(tag_spec(ResourceType::InternetGateway, tagging::tags(self.install, &name, None)))
                    .send()
                    .await
                    .map_err(ec2_error("CreateInternetGateway"))?;
                self.fault.point("internet-gateway");
                (out.internet_gateway().and_then(|g| g.internet_gateway_id()).map(str::to_owned), false, true)
            }
        };
        let id = id.ok_or_else(|| incomplete("CreateInternetGateway", "internet gateway id"))?;
        if set(&mut self.recorder.network.internet_gateway_id, &id) {
            self.recorder.save("internet_gateway_id", &id, format!("{} internet gateway {id}", how(created))).await?;
        }
        if !attached {
            self.ec2.attach_internet_gateway().internet_gateway_id(&id).vpc_id(vpc_id).send().await.map_err(ec2_error("AttachInternetGateway"))?;
        }
        Ok(id)
    }

    /// The route table `name`, found or made, recorded through `record`.
    async fn ensure_route_table(&mut self, vpc_id: &str, name: &str, inventory: &Inventory) -> Result<(RouteTable, bool)> {
        if let Some(table) = find_named(&inventory.route_tables, self.install, name, |t| t.tags(), |t| t.route_table_id()) {
            return Ok((table.clone(), false));
        }
        let out = self
            .ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .tag_specifications(tag_spec(ResourceType::RouteTable, tagging::tags(self.install, name, None)))
            .send()
            .await
            .map_err(ec2_error("CreateRouteTable"))?;
        self.fault.point("route-table");
        let table = out.route_table().cloned().ok_or_else(|| incomplete("CreateRouteTable", "route table"))?;
        Ok((table, true))
    }

    async fn ensure_public_routes(&mut self, vpc_id: &str, igw: &str, inventory: &Inventory) -> Result<()> {
        let name = tagging::public_route_table_name(self.install);
        let (table, created) = self.ensure_route_table(vpc_id, &name, inventory).await?;
        let id = table.route_table_id().ok_or_else(|| incomplete("CreateRouteTable", "route table id"))?.to_owned();
        if set(&mut self.recorder.network.public_route_table_id, &id) {
            self.recorder.save("public_route_table_id", &id, format!("{} public route table {id}", how(created))).await?;
        }
        self.ensure_default_route(&table, &id, Target::Gateway(igw)).await?;
        let subnets: Vec<String> = self.recorder.network.zones.iter().filter_map(|z| z.public_subnet_id.clone()).collect();
        for subnet in subnets {
            self.ensure_association(&table, &id, &subnet).await?;
        }
        Ok(())
    }

    async fn ensure_nat_gateways(&mut self, inventory: &Inventory) -> Result<Vec<Nat>> {
        let zones: Vec<usize> = match self.install.options.nat_mode {
            NatMode::Single => vec![0],
            NatMode::PerAz => (0..self.recorder.network.zones.len()).collect(),
        };
        let mut nats = Vec::new();
        for i in zones {
            let allocation = self.ensure_elastic_ip(i, inventory).await?;
            nats.push(self.ensure_nat_gateway(i, &allocation, inventory).await?);
        }
        Ok(nats)
    }

    async fn ensure_elastic_ip(&mut self, i: usize, inventory: &Inventory) -> Result<String> {
        let zone = self.recorder.network.zones[i].zone.name.clone();
        let name = tagging::eip_name(self.install, &zone);
        let (id, created) = match find_named(&inventory.addresses, self.install, &name, |a| a.tags(), |a| a.allocation_id()) {
            Some(address) => (address.allocation_id().map(str::to_owned), false),
            None => {
                let out = self
                    .ec2
                    .allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(tag_spec(ResourceType::ElasticIp, tagging::tags(self.install, &name, None)))
                    .send()
                    .await
                    .map_err(ec2_error("AllocateAddress"))?;
                self.fault.point("eip");
                (out.allocation_id().map(str::to_owned), true)
            }
        };
        let id = id.ok_or_else(|| incomplete("AllocateAddress", "allocation id"))?;
        if set(&mut self.recorder.network.zones[i].eip_allocation_id, &id) {
            let message = format!("{} Elastic IP {id} for the NAT gateway in {zone}", how(created));
            self.recorder.save(&zone_key("eip_allocation_id", &zone), &id, message).await?;
        }
        Ok(id)
    }

    async fn ensure_nat_gateway(&mut self, i: usize, allocation: &str, inventory: &Inventory) -> Result<Nat> {
        let record = self.recorder.network.zones[i].clone();
        let zone = record.zone.name;
        let name = tagging::nat_name(self.install, &zone);
        let (gateway, created) = match find_named(&inventory.nat_gateways, self.install, &name, |n| n.tags(), |n| n.nat_gateway_id()) {
            Some(gateway) => (gateway.clone(), false),
            None => {
                let subnet = record.public_subnet_id.ok_or_else(|| incomplete("CreateSubnet", "public subnet"))?;
                let out = self
                    .ec2
                    .create_nat_gateway()
                    .subnet_id(subnet)
                    .allocation_id(allocation)
                    .client_token(client_token(self.install, &zone, allocation, record.nat_gateway_id.as_deref()))
                    .tag_specifications(tag_spec(ResourceType::Natgateway, tagging::tags(self.install, &name, None)))
                    .send()
                    .await
                    .map_err(ec2_error("CreateNatGateway"))?;
                self.fault.point("nat-gateway");
                (out.nat_gateway().cloned().ok_or_else(|| incomplete("CreateNatGateway", "NAT gateway"))?, true)
            }
        };
        let id = gateway.nat_gateway_id().ok_or_else(|| incomplete("CreateNatGateway", "NAT gateway id"))?.to_owned();
        if set(&mut self.recorder.network.zones[i].nat_gateway_id, &id) {
            let message = format!("{} NAT gateway {id} in {zone}", how(created));
            self.recorder.save(&zone_key("nat_gateway_id", &zone), &id, message).await?;
        }
        if gateway.state() == Some(&NatGatewayState::Failed) {
            return Err(CreateNetworkError::NatFailed {
                nat_gateway_id: id,
                zone,
                code: gateway.failure_code().unwrap_or("Unknown").to_owned(),
                message: gateway.failure_message().unwrap_or("EC2 gave no reason").to_owned(),
            });
        }
        Ok(Nat { zone: i, id, available: gateway.state() == Some(&NatGatewayState::Available) })
    }

    /// A route table per private subnet, its default route through the zone's NAT gateway (the
    /// one NAT gateway in `single` mode) once that is available. True when every private
    /// subnet has its default route.
    async fn ensure_private_routes(&mut self, vpc_id: &str, nats: &[Nat], inventory: &Inventory) -> Result<bool> {
        let mut routed = true;
        for i in 0..self.recorder.network.zones.len() {
            let zone = self.recorder.network.zones[i].zone.name.clone();
            let name = tagging::private_route_table_name(self.install, &zone);
            let (table, created) = self.ensure_route_table(vpc_id, &name, inventory).await?;
            let id = table.route_table_id().ok_or_else(|| incomplete("CreateRouteTable", "route table id"))?.to_owned();
            if set(&mut self.recorder.network.zones[i].private_route_table_id, &id) {
                let message = format!("{} private route table {id} for {zone}", how(created));
                self.recorder.save(&zone_key("private_route_table_id", &zone), &id, message).await?;
            }
            if let Some(subnet) = self.recorder.network.zones[i].private_subnet_id.clone() {
                self.ensure_association(&table, &id, &subnet).await?;
            }
            let nat = nats.iter().find(|n| n.zone == i).or_else(|| nats.first());
            match nat {
                // A route to a gateway that is not up yet would be a blackhole; it waits for
                // the run that sees the gateway available.
                Some(nat) if nat.available => self.ensure_default_route(&table, &id, Target::Nat(&nat.id)).await?,
                _ => routed = false,
            }
        }
        Ok(routed)
    }

    async fn ensure_default_route(&self, table: &RouteTable, id: &str, target: Target<'_>) -> Result<()> {
        let current = table.routes().iter().find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE));
        let points_at_target = |r: &aws_sdk_ec2::types::Route| match target {
            Target::Gateway(igw) => r.gateway_id() == Some(igw),
            Target::Nat(nat) => r.nat_gateway_id() == Some(nat),
        };
        match current {
            Some(route) if points_at_target(route) => Ok(()),
            // Points elsewhere (a NAT gateway that was replaced): repoint it.
            Some(_) => {
                let call = self.ec2.replace_route().route_table_id(id).destination_cidr_block(DEFAULT_ROUTE);
                let call = match target {
                    Target::Gateway(igw) => call.gateway_id(igw),
                    Target::Nat(nat) => call.nat_gateway_id(nat),
                };
                call.send().await.map_err(ec2_error("ReplaceRoute"))?;
                Ok(())
            }
            None => {
                let call = self.ec2.create_route().route_table_id(id).destination_cidr_block(DEFAULT_ROUTE);
                let call = match target {
                    Target::Gateway(igw) => call.gateway_id(igw),
                    Target::Nat(nat) => call.nat_gateway_id(nat),
                };
                call.send().await.map_err(ec2_error("CreateRoute"))?;
                Ok(())
            }
        }
    }

    async fn ensure_association(&self, table: &RouteTable, id: &str, subnet: &str) -> Result<()> {
        let associated = table.associations().iter().any(|a| {
            a.subnet_id() == Some(subnet)
                && !matches!(
                    a.association_state().and_then(|s| s.state()),
                    Some(RouteTableAssociationStateCode::Disassociated | RouteTableAssociationStateCode::Disassociating | RouteTableAssociationStateCode::Failed)
                )
        });
        if !associated {
            self.ec2.associate_route_table().route_table_id(id).subnet_id(subnet).send().await.map_err(ec2_error("AssociateRouteTable"))?;
        }
        Ok(())
    }
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
pub fn client_token(install: &Install, zone: &str, allocation: &str, replaces: Option<&str>) -> String {
    let install_id = install.install_id.as_str();
    let install_id = install_id.strip_prefix("inst-").unwrap_or(install_id);
    let allocation = allocation.strip_prefix("eipalloc-").unwrap_or(allocation);
    let mut token = match replaces {
        None => format!("{install_id}-{zone}-{allocation}"),
        Some(old) => format!("{install_id}-after-{}", old.strip_prefix("nat-").unwrap_or(old)),
    };
    token.retain(|c| c.is_ascii_graphic());
    token.truncate(64);
    token
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
        assert_eq!(a, client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef0", None));
        assert_ne!(a, client_token(&i, "ap-southeast-4b", "eipalloc-0123456789abcdef0", None));
        assert_ne!(a, client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef1", None));
        assert!(a.len() <= 64, "{a}");
        let replacing = client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef0", Some("nat-0123456789abcdef0"));
        assert_ne!(replacing, a);
        assert_ne!(replacing, client_token(&i, "ap-southeast-4a", "eipalloc-0123456789abcdef0", Some("nat-0123456789abcdef1")));
        assert!(replacing.len() <= 64, "{replacing}");
    }

    #[test]
    fn subnet_tags_carry_what_eks_reads() {
        let i = install();
        let keys = |tier| -> Vec<(String, String)> {
            tagging::tags(&i, "n", Some(tier)).iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect()
        };
        let cluster = ("kubernetes.io/cluster/byoc-inst-01hzy0000000000000000000aa".to_owned(), "shared".to_owned());
        let public = keys(Tier::Public);
        assert!(public.contains(&("kubernetes.io/role/elb".into(), "1".into())) && public.contains(&cluster));
        let private = keys(Tier::Private);
        assert!(private.contains(&("kubernetes.io/role/internal-elb".into(), "1".into())) && private.contains(&cluster));
        assert!(private.contains(&("byoc:install-id".into(), "inst-01hzy0000000000000000000aa".into())));
    }
}
