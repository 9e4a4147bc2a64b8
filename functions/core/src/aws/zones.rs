//! Which zones an install uses, read once and chosen by one rule for every step: check-quotas
//! (its quota and preflight checks) and create-network (its subnets) call `choose`, so both
//! see the same zones. EC2 User Guide, "Availability Zones": Local and Wavelength zones are not
//! availability zones; EKS User Guide, "Amazon EKS subnet requirements": some zones cannot
//! hold a cluster's subnets (`network_plan::EKS_UNSUPPORTED_ZONE_IDS`).

use aws_sdk_ec2::types::{AvailabilityZoneState, Filter, LocationType};
use aws_sdk_ec2::Client;

use byoc_domain::error::Error;
use byoc_domain::network_plan::{choose_zones, eligible_zones, PlanError, Zone, ZoneInfo};

/// What the choice reads: the region's zones, with whether each can take the install, and the
/// names of those that offer the node instance type.
#[derive(Debug, Clone, Default)]
pub struct ZoneFacts {
    pub zones: Vec<ZoneInfo>,
    pub offering: Vec<String>,
}

impl ZoneFacts {
    /// `count` zones for `instance_type` in `region` (`network_plan::choose_zones`).
    pub fn choose(
        &self,
        region: &str,
        instance_type: &str,
        count: u8,
    ) -> Result<Vec<Zone>, PlanError> {
        choose_zones(region, &self.zones, &self.offering, instance_type, count)
    }

    /// The names of every zone the install may use (`network_plan::eligible_zones`).
    pub fn eligible(&self) -> Vec<String> {
        eligible_zones(&self.zones, &self.offering)
            .into_iter()
            .map(|z| z.name)
            .collect()
    }

    /// The names of the zones that can take an install, in name order.
    pub fn usable(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .zones
            .iter()
            .filter(|z| z.usable)
            .map(|z| z.zone.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The region's zones and where `instance_type` is offered, read at once.
pub async fn facts(ec2: &Client, instance_type: &str) -> Result<ZoneFacts, Error> {
    let (zones, offering) = tokio::try_join!(zones(ec2), offering(ec2, instance_type))?;
    Ok(ZoneFacts { zones, offering })
}

async fn zones(ec2: &Client) -> Result<Vec<ZoneInfo>, Error> {
    let out = ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| Error::aws("EC2", e))?;
    Ok(out
        .availability_zones()
        .iter()
        .filter_map(|z| {
            let zone = Zone {
                name: z.zone_name()?.to_owned(),
                id: z.zone_id()?.to_owned(),
            };
            // Local and Wavelength zones cannot hold an EKS control plane's subnets.
            let real_zone = z.zone_type().is_none_or(|t| t == "availability-zone");
            Some(ZoneInfo {
                zone,
                usable: real_zone && z.state() == Some(&AvailabilityZoneState::Available),
            })
        })
        .collect())
}

async fn offering(ec2: &Client, instance_type: &str) -> Result<Vec<String>, Error> {
    let offerings: Vec<_> = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .values(instance_type)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("EC2", e))?;
    Ok(offerings
        .iter()
        .filter_map(|o| o.location().map(str::to_owned))
        .collect())
}
