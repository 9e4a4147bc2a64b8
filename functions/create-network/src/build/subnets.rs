//! The subnets, a public and a private one in each planned zone (second wave): found by their
//! tags or made with the tags EKS reads, public ones handing out public addresses.

use aws_sdk_ec2::operation::create_subnet::CreateSubnetOutput;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use byoc_domain::cidr::Ipv4Cidr;

use super::find::{keep, Ensured};
use super::state::subnet_available;
use super::{Builder, Result};
use crate::discover::Inventory;
use crate::error::{ec2_error, incomplete};
use crate::record::{zone_key, Recorder, ZoneRecord};
use crate::tagging::{self, tag_spec, Tier};
use crate::unrepeatable::{one_attempt, send_once};

/// A subnet found or made: its zone index, tier, id, whether this run made it, and whether
/// it is available.
pub(super) struct SubnetOutcome {
    zone: usize,
    tier: Tier,
    id: String,
    created: bool,
    available: bool,
}

fn cidr_of(zone: &ZoneRecord, tier: Tier) -> Ipv4Cidr {
    match tier {
        Tier::Public => zone.public_cidr,
        Tier::Private => zone.private_cidr,
    }
}

impl Builder<'_> {
    /// Zone `i`'s subnet of `tier`, found or made.
    pub(super) async fn ensure_subnet(
        &self,
        vpc_id: &str,
        i: usize,
        zone: &ZoneRecord,
        tier: Tier,
        inventory: &Inventory,
    ) -> Result<SubnetOutcome> {
        let name = tagging::subnet_name(self.install, tier, &zone.zone.name);
        let Ensured {
            value: subnet,
            created,
        } = self
            .find_or_create(
                &inventory.subnets,
                &name,
                |s| Ok(s.clone()),
                "subnet",
                || self.create_subnet(vpc_id, zone, tier, &name),
                |out: CreateSubnetOutput| {
                    out.subnet()
                        .cloned()
                        .ok_or_else(|| incomplete("CreateSubnet", "subnet"))
                },
            )
            .await?;
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
            available: subnet_available(&subnet),
        })
    }

    async fn create_subnet(
        &self,
        vpc_id: &str,
        zone: &ZoneRecord,
        tier: Tier,
        name: &str,
    ) -> Result<CreateSubnetOutput> {
        send_once("CreateSubnet", || {
            self.ec2
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr_of(zone, tier).to_string())
                .availability_zone(&zone.zone.name)
                .tag_specifications(tag_spec(
                    ResourceType::Subnet,
                    tagging::tags(self.install, name, Some(tier)),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await
    }
}

/// Puts the subnets this run came by on the record (noting each new one); whether every
/// planned subnet is among them and available, so the cluster can be created.
pub(super) fn record_subnets(
    rec: &mut Recorder<'_>,
    zones: &[ZoneRecord],
    subnets: Vec<SubnetOutcome>,
) -> bool {
    let ready = subnets.len() == zones.len() * 2 && subnets.iter().all(|s| s.available);
    for subnet in subnets {
        let zone = &zones[subnet.zone];
        let tier = subnet.tier.as_str();
        let what = format!(
            "{tier} subnet {} ({}) in {}",
            subnet.id,
            cidr_of(zone, subnet.tier),
            zone.zone.name
        );
        keep(
            rec,
            |network| {
                let record = &mut network.zones[subnet.zone];
                match subnet.tier {
                    Tier::Public => &mut record.public_subnet_id,
                    Tier::Private => &mut record.private_subnet_id,
                }
            },
            &zone_key(&format!("{tier}_subnet_id"), &zone.zone.name),
            &subnet.id,
            subnet.created,
            &what,
        );
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::super::tests::install;
    use super::*;

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
