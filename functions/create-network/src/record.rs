//! What the network step keeps on the install record: every id as soon as it exists (under
//! `resources`, for sweep-dangling and people) and the whole network under
//! `step_data["network"]` (for the cluster step and the API).

use byoc_core::store::InstallStore;
use byoc_domain::cidr::Ipv4Cidr;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Outcome, Step};
use byoc_domain::network_plan::{Zone, ZonePlan};
use byoc_domain::options::NatMode;
use byoc_domain::step_record::StepRecord;
use serde::{Deserialize, Serialize};

pub const STEP_DATA_KEY: &str = byoc_domain::step_record::NETWORK_KEY;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub vpc_id: Option<String>,
    pub vpc_cidr: Option<Ipv4Cidr>,
    pub nat_mode: Option<NatMode>,
    pub internet_gateway_id: Option<String>,
    pub public_route_table_id: Option<String>,
    /// One entry per availability zone, in plan order (zone-name order).
    pub zones: Vec<ZoneRecord>,
    pub subnets_ready: bool,
    pub nat_ready: bool,
    /// DNS support and hostnames are on in the VPC (set once, after the VPC is made or adopted).
    #[serde(default)]
    pub dns_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRecord {
    pub zone: Zone,
    pub public_cidr: Ipv4Cidr,
    pub private_cidr: Ipv4Cidr,
    pub public_subnet_id: Option<String>,
    pub private_subnet_id: Option<String>,
    pub private_route_table_id: Option<String>,
    /// Only in the zones that hold a NAT gateway (the first zone in `single` mode).
    pub eip_allocation_id: Option<String>,
    pub nat_gateway_id: Option<String>,
}

impl ZoneRecord {
    pub fn planned(plan: &ZonePlan) -> Self {
        Self {
            zone: plan.zone.clone(),
            public_cidr: plan.public_cidr,
            private_cidr: plan.private_cidr,
            public_subnet_id: None,
            private_subnet_id: None,
            private_route_table_id: None,
            eip_allocation_id: None,
            nat_gateway_id: None,
        }
    }
}

/// An unreadable entry is treated as none (the tags are the truth, the record only mirrors
/// them).
impl StepRecord for NetworkRecord {
    const KEY: &'static str = STEP_DATA_KEY;
}

/// Keeps the record as the network takes shape: each id found or made is a timeline event,
/// held until `flush`, which writes every held event and the network in one transaction on
/// top of the install this run holds (no read first). Runs flush before any call that depends
/// on what they noted, so the record names each id before anything is built on it.
pub struct Recorder<'a> {
    store: &'a InstallStore,
    /// The install as this run last read or wrote it.
    pub install: Install,
    pub network: NetworkRecord,
    pending: Vec<Change>,
}

/// Sets `slot` to `id`; true when that changed it.
pub fn set(slot: &mut Option<String>, id: &str) -> bool {
    if slot.as_deref() == Some(id) {
        return false;
    }
    *slot = Some(id.to_owned());
    true
}

impl<'a> Recorder<'a> {
    pub fn new(store: &'a InstallStore, install: Install) -> Self {
        let network = NetworkRecord::of(&install).unwrap_or_default();
        Self {
            store,
            install,
            network,
            pending: Vec::new(),
        }
    }

    /// Notes that the step started (written with the next flush).
    pub fn started(&mut self, message: String) {
        self.pending
            .push(Change::new(Step::CreateNetwork, Outcome::Started, message));
    }

    /// Notes `id` under `resource`, as one timeline event.
    pub fn note(&mut self, resource: &str, id: &str, message: String) {
        self.pending.push(
            Change::new(Step::CreateNetwork, Outcome::Progress, message).resource(resource, id),
        );
    }

    /// Notes a step outcome (waiting for NAT, succeeded, failed).
    pub fn outcome(&mut self, outcome: Outcome, message: String) {
        self.pending
            .push(Change::new(Step::CreateNetwork, outcome, message));
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes what was noted, with the network as it stands now, in one transaction.
    pub async fn flush(&mut self) -> Result<(), byoc_domain::Error> {
        let Some(mut last) = self.pending.pop() else {
            return Ok(());
        };
        // Each write replaces step_data["network"]; the last event carries the whole of it.
        if self.network != NetworkRecord::of(&self.install).unwrap_or_default() {
            last = last.record(&self.network);
        }
        self.pending.push(last);
        let changes = std::mem::take(&mut self.pending);
        self.install = self.store.record_all(&self.install, &changes).await?;
        Ok(())
    }
}

/// Resource keys: one name per id, per zone where there is one per zone.
pub fn zone_key(what: &str, zone: &str) -> String {
    format!("{what}:{zone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_the_install_step_data() {
        let plan = ZonePlan {
            zone: Zone {
                name: "us-east-1a".into(),
                id: "use1-az6".into(),
            },
            public_cidr: "10.1.192.0/20".parse().unwrap(),
            private_cidr: "10.1.0.0/18".parse().unwrap(),
        };
        let mut record = NetworkRecord {
            vpc_id: Some("vpc-1".into()),
            nat_mode: Some(NatMode::Single),
            ..Default::default()
        };
        record.zones.push(ZoneRecord::planned(&plan));
        let json = record.to_value();
        assert_eq!(json["zones"][0]["zone"]["name"], "us-east-1a");
        assert_eq!(json["zones"][0]["private_cidr"], "10.1.0.0/18");
        assert_eq!(json["nat_mode"], "single");
        assert_eq!(
            serde_json::from_value::<NetworkRecord>(json).unwrap(),
            record
        );
    }

    #[test]
    fn set_reports_only_real_changes() {
        let mut slot = None;
        assert!(set(&mut slot, "vpc-1"));
        assert!(!set(&mut slot, "vpc-1"));
        assert!(set(&mut slot, "vpc-2"));
    }
}
