//! Makes the install's network, each resource looked up by its tags first and recorded as
//! soon as it exists. Nothing here waits: a NAT gateway still pending is reported as not
//! ready, and the private default routes are added on the run that finds it available.
//!
//! A run goes in waves of calls made at once, each wave needing only what the ones before
//! made, with the ids of a wave recorded (one transaction) before the next builds on them:
//! discovery; the VPC (`vpc`); subnets (`subnets`), internet gateway (`internet_gateway`),
//! route tables (`route_tables`), Elastic IPs (`nat`) and the VPC's DNS settings; routes to the
//! internet gateway (`routes`), route table associations and the NAT gateways (`nat`); the
//! private default routes once a NAT gateway is available (`routes`). Every resource is come
//! by through `find::find_or_create`, and what EC2's state fields mean is in `state`.

mod find;
mod internet_gateway;
mod nat;
mod route_tables;
mod routes;
pub mod state;
mod subnets;
mod vpc;

use std::future::Future;

use aws_sdk_ec2::Client;
use byoc_domain::model::Install;
use byoc_domain::options::NatMode;
use byoc_lambda::fault::Fault;
use futures_util::future::join_all;

use crate::discover::{self, Inventory};
use crate::error::{incomplete, CreateNetworkError};
use crate::record::{Recorder, ZoneRecord};
use crate::tagging::{self, Tier};
use find::keep;
pub use nat::client_token;
use nat::{record_addresses, record_nats, Nat};
use route_tables::{record_private_tables, record_public_table, Table};
use routes::Target;
use subnets::record_subnets;

type Result<T> = std::result::Result<T, CreateNetworkError>;

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

/// What the second wave (everything that needs only the VPC) leaves for the later ones.
struct Foundation {
    subnets_ready: bool,
    internet_gateway: Option<String>,
    public_table: Option<Table>,
    /// By zone; none where the table's call failed.
    private_tables: Vec<Option<Table>>,
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

/// The wave's values, or the first error of its calls once all of them are recorded.
fn finish<T>(value: T, error: Option<CreateNetworkError>) -> Result<T> {
    match error {
        Some(err) => Err(err),
        None => Ok(value),
    }
}

/// Whether EC2 refused the call with `code`.
fn rejected_with(err: &CreateNetworkError, code: &str) -> bool {
    matches!(err, CreateNetworkError::Rejected { code: c, .. } if c == code)
}

/// The outcome of a call the SDK may have sent twice: when EC2 refused it with `code` (already
/// done), `took_effect` looks whether an earlier send, whose answer was lost, did what was
/// asked; if so the call succeeded after all. Looked at only for that refusal.
async fn unless_done_before<Fut>(
    sent: Result<()>,
    code: &str,
    took_effect: impl FnOnce() -> Fut,
) -> Result<()>
where
    Fut: Future<Output = Result<bool>>,
{
    if let Err(err) = sent {
        if !(rejected_with(&err, code) && took_effect().await?) {
            return Err(err);
        }
    }
    Ok(())
}

impl Builder<'_> {
    pub async fn run(&self, rec: &mut Recorder<'_>) -> Result<Readiness> {
        let inventory = discover::inventory(self.ec2, self.install).await?;
        let vpc_id = self.ensure_vpc(rec, &inventory).await?;
        rec.flush().await?;
        let inventory = inventory.in_vpc(&vpc_id);
        let zones = rec.network.zones.clone();
        let nat_zones: Vec<usize> = match self.install.options.nat_mode {
            NatMode::Single => vec![0],
            NatMode::PerAz => (0..zones.len()).collect(),
        };
        let foundation = self
            .build_on_vpc(rec, &vpc_id, &zones, &nat_zones, &inventory)
            .await?;
        // The next wave builds on these ids: they are on the record first.
        rec.flush().await?;
        let live = self
            .connect(rec, &foundation, &nat_zones, &inventory)
            .await?;
        let routed = self
            .ensure_private_routes(rec, &foundation.private_tables, &live)
            .await?;
        let nat_ready = routed && live.len() == nat_zones.len() && live.iter().all(|n| n.available);
        Ok(Readiness {
            subnets_ready: foundation.subnets_ready,
            nat_ready,
        })
    }

    /// Second wave: everything that needs only the VPC, all at once; then on the record, in
    /// the order of the calls.
    async fn build_on_vpc(
        &self,
        rec: &mut Recorder<'_>,
        vpc_id: &str,
        zones: &[ZoneRecord],
        nat_zones: &[usize],
        inventory: &Inventory,
    ) -> Result<Foundation> {
        let public_rt_name = tagging::public_route_table_name(self.install);
        let private_rt_names: Vec<String> = zones
            .iter()
            .map(|z| tagging::private_route_table_name(self.install, &z.zone.name))
            .collect();
        let subnets = zones.iter().enumerate().flat_map(|(i, zone)| {
            [Tier::Public, Tier::Private]
                .map(|tier| self.ensure_subnet(vpc_id, i, zone, tier, inventory))
        });
        let dns_enabled = rec.network.dns_enabled;
        let (dns, subnets, igw, public_rt, private_rts, eips) = tokio::join!(
            async {
                if dns_enabled {
                    Ok(())
                } else {
                    self.enable_dns(vpc_id).await
                }
            },
            join_all(subnets),
            self.ensure_internet_gateway(vpc_id, inventory),
            self.ensure_route_table(vpc_id, &public_rt_name, inventory),
            join_all(
                private_rt_names
                    .iter()
                    .map(|name| self.ensure_route_table(vpc_id, name, inventory))
            ),
            join_all(
                nat_zones
                    .iter()
                    .map(|&i| self.ensure_elastic_ip(&zones[i], inventory))
            ),
        );
        let mut error = None;
        if settle_one(dns, &mut error).is_some() {
            rec.network.dns_enabled = true;
        }
        let subnets_ready = record_subnets(rec, zones, settle(subnets, &mut error));
        let igw = settle_one(igw, &mut error);
        if let Some(igw) = &igw {
            let id = &igw.value;
            keep(
                rec,
                |network| &mut network.internet_gateway_id,
                "internet_gateway_id",
                id,
                igw.created,
                &format!("internet gateway {id}"),
            );
        }
        let public_table = record_public_table(rec, public_rt, &mut error);
        let private_tables = record_private_tables(rec, zones, private_rts, &mut error);
        record_addresses(rec, zones, nat_zones, eips, &mut error);
        let foundation = Foundation {
            subnets_ready,
            internet_gateway: igw.map(|igw| igw.value),
            public_table,
            private_tables,
        };
        finish(foundation, error)
    }

    /// Third wave: the public default route to the internet gateway, the route table
    /// associations, and the NAT gateways; the NAT gateways this run knows of.
    async fn connect(
        &self,
        rec: &mut Recorder<'_>,
        foundation: &Foundation,
        nat_zones: &[usize],
        inventory: &Inventory,
    ) -> Result<Vec<Nat>> {
        let (Some(igw_id), Some(public)) = (&foundation.internet_gateway, &foundation.public_table)
        else {
            return Err(incomplete("CreateRouteTable", "route table"));
        };
        // The subnet ids the second wave recorded.
        let zones = rec.network.zones.clone();
        let (public_rt_id, public_table) = public;
        let (public_route, associated, nats) = tokio::join!(
            self.ensure_default_route(public_table, public_rt_id, Target::Gateway(igw_id)),
            self.ensure_associations(&zones, public, &foundation.private_tables),
            self.ensure_nat_gateways(&zones, nat_zones, &inventory.nat_gateways),
        );
        let mut error = None;
        settle_one(public_route, &mut error);
        settle(associated, &mut error);
        let live = record_nats(rec, &zones, nats, &mut error);
        finish(live, error)
    }
}

#[cfg(test)]
mod tests {
    use byoc_domain::ids::{AccountId, InstallId, Region, TenantId};
    use byoc_domain::model::Install;

    /// An install as the record holds it, with a fixed id, for the tests of the parts.
    pub(super) fn install() -> Install {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let (mut install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            Default::default(),
            now,
        )
        .unwrap();
        install.install_id = InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap();
        install
    }
}
