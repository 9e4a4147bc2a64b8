//! The NAT gateways: their Elastic IPs (second wave) and the gateways themselves (third wave),
//! one per zone or, in `single` mode, one in the first zone. Both are found by their tags or
//! made; CreateNatGateway carries a client token, so the SDK may repeat it safely.

use aws_sdk_ec2::operation::allocate_address::AllocateAddressOutput;
use aws_sdk_ec2::operation::create_nat_gateway::CreateNatGatewayOutput;
use aws_sdk_ec2::types::{DomainType, NatGateway, ResourceType};
use byoc_domain::model::Install;

use super::find::{keep, Ensured};
use super::state::{nat_available, nat_failed};
use super::{settle_one, Builder, Result};
use crate::discover::Inventory;
use crate::error::{ec2_error, incomplete, CreateNetworkError};
use crate::record::{zone_key, Recorder, ZoneRecord};
use crate::tagging::{self, tag_spec};
use crate::unrepeatable::{one_attempt, send_once};

/// A NAT gateway this run knows about, by the index of its zone.
pub(super) struct Nat {
    pub zone: usize,
    pub id: String,
    pub available: bool,
}

impl Builder<'_> {
    /// The allocation id of the Elastic IP for the zone's NAT gateway, found or allocated.
    pub(super) async fn ensure_elastic_ip(
        &self,
        zone: &ZoneRecord,
        inventory: &Inventory,
    ) -> Result<Ensured<String>> {
        let name = tagging::eip_name(self.install, &zone.zone.name);
        let allocation_id = |id: Option<&str>| {
            id.map(str::to_owned)
                .ok_or_else(|| incomplete("AllocateAddress", "allocation id"))
        };
        self.find_or_create(
            &inventory.addresses,
            &name,
            |address| allocation_id(address.allocation_id()),
            "eip",
            || self.allocate_address(&name),
            |out: AllocateAddressOutput| allocation_id(out.allocation_id()),
        )
        .await
    }

    async fn allocate_address(&self, name: &str) -> Result<AllocateAddressOutput> {
        send_once("AllocateAddress", || {
            self.ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(
                    ResourceType::ElasticIp,
                    tagging::tags(self.install, name, None),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await
    }

    /// The NAT gateways of `nat_zones`, one after another so that a crash leaves at most one
    /// gateway unrecorded; stops at the first that fails.
    pub(super) async fn ensure_nat_gateways(
        &self,
        zones: &[ZoneRecord],
        nat_zones: &[usize],
        inventory_nats: &[NatGateway],
    ) -> Vec<(usize, Result<Ensured<NatGateway>>)> {
        let mut made = Vec::new();
        for &i in nat_zones {
            let result = self.ensure_nat_gateway(&zones[i], inventory_nats).await;
            let failed = result.is_err();
            made.push((i, result));
            if failed {
                break;
            }
        }
        made
    }

    /// The zone's NAT gateway as found or made (from the inventory read at the start of the run).
    async fn ensure_nat_gateway(
        &self,
        record: &ZoneRecord,
        inventory_nats: &[NatGateway],
    ) -> Result<Ensured<NatGateway>> {
        let name = tagging::nat_name(self.install, &record.zone.name);
        self.find_or_create(
            inventory_nats,
            &name,
            |gateway| Ok(gateway.clone()),
            "nat-gateway",
            || self.create_nat_gateway(record, &name),
            |out: CreateNatGatewayOutput| {
                out.nat_gateway()
                    .cloned()
                    .ok_or_else(|| incomplete("CreateNatGateway", "NAT gateway"))
            },
        )
        .await
    }

    /// Makes the zone's NAT gateway in its public subnet, on its Elastic IP (both recorded by
    /// the wave before).
    async fn create_nat_gateway(
        &self,
        record: &ZoneRecord,
        name: &str,
    ) -> Result<CreateNatGatewayOutput> {
        let subnet = record
            .public_subnet_id
            .clone()
            .ok_or_else(|| incomplete("CreateSubnet", "public subnet"))?;
        let allocation = record
            .eip_allocation_id
            .as_deref()
            .ok_or_else(|| incomplete("AllocateAddress", "allocation id"))?;
        self.ec2
            .create_nat_gateway()
            .subnet_id(subnet)
            .allocation_id(allocation)
            .client_token(client_token(
                self.install,
                &record.zone.name,
                allocation,
                record.nat_gateway_id.as_deref(),
            ))
            .tag_specifications(tag_spec(
                ResourceType::Natgateway,
                tagging::tags(self.install, name, None),
            ))
            .send()
            .await
            .map_err(ec2_error("CreateNatGateway"))
    }
}

/// Puts the Elastic IPs on the record (noted when new); `eips` are in the order of `nat_zones`.
pub(super) fn record_addresses(
    rec: &mut Recorder<'_>,
    zones: &[ZoneRecord],
    nat_zones: &[usize],
    eips: Vec<Result<Ensured<String>>>,
    error: &mut Option<CreateNetworkError>,
) {
    for (&i, eip) in nat_zones.iter().zip(eips) {
        let Some(Ensured { value: id, created }) = settle_one(eip, error) else {
            continue;
        };
        let zone = &zones[i].zone.name;
        let what = format!("Elastic IP {id} for the NAT gateway in {zone}");
        keep(
            rec,
            |network| &mut network.zones[i].eip_allocation_id,
            &zone_key("eip_allocation_id", zone),
            &id,
            created,
            &what,
        );
    }
}

/// Puts the NAT gateways on the record (noted when new); the ones this run knows of. A failed
/// gateway is recorded too, and fails the step with EC2's reason.
pub(super) fn record_nats(
    rec: &mut Recorder<'_>,
    zones: &[ZoneRecord],
    nats: Vec<(usize, Result<Ensured<NatGateway>>)>,
    error: &mut Option<CreateNetworkError>,
) -> Vec<Nat> {
    let mut live = Vec::new();
    for (i, nat) in nats {
        let Some(Ensured {
            value: gateway,
            created,
        }) = settle_one(nat, error)
        else {
            continue;
        };
        let zone = zones[i].zone.name.clone();
        let Some(id) = gateway.nat_gateway_id().map(str::to_owned) else {
            error.get_or_insert(incomplete("CreateNatGateway", "NAT gateway id"));
            continue;
        };
        let what = format!("NAT gateway {id} in {zone}");
        keep(
            rec,
            |network| &mut network.zones[i].nat_gateway_id,
            &zone_key("nat_gateway_id", &zone),
            &id,
            created,
            &what,
        );
        if nat_failed(&gateway) {
            error.get_or_insert(failed(&gateway, &id, zone));
        }
        live.push(Nat {
            zone: i,
            id,
            available: nat_available(&gateway),
        });
    }
    live
}

/// The step's error for a NAT gateway EC2 could not make.
fn failed(gateway: &NatGateway, id: &str, zone: String) -> CreateNetworkError {
    CreateNetworkError::NatFailed {
        nat_gateway_id: id.to_owned(),
        zone,
        code: gateway.failure_code().unwrap_or("Unknown").to_owned(),
        message: gateway
            .failure_message()
            .unwrap_or("EC2 gave no reason")
            .to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::super::tests::install;
    use super::*;

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
}
