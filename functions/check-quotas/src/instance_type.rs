//! Where the node instance type can run: the zones of the region that offer it, and its vCPUs.

use aws_sdk_ec2::types::{Filter, LocationType};
use aws_sdk_ec2::Client;

use crate::CheckQuotasError;

/// The region's available zones that offer `instance_type`, by name.
pub async fn offering_zones(
    ec2: &Client,
    instance_type: &str,
) -> Result<(Vec<String>, Vec<String>), CheckQuotasError> {
    let zones = ec2
        .describe_availability_zones()
        .filters(Filter::builder().name("state").values("available").build())
        .filters(
            Filter::builder()
                .name("zone-type")
                .values("availability-zone")
                .build(),
        )
        .send()
        .await
        .map_err(|e| crate::aws_error("EC2", e))?;
    let mut available: Vec<String> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect();
    available.sort();
    let offerings = ec2
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
        .map_err(|e| crate::aws_error("EC2", e))?;
    let offered: Vec<String> = available
        .iter()
        .filter(|zone| {
            offerings
                .iter()
                .any(|o| o.location() == Some(zone.as_str()))
        })
        .cloned()
        .collect();
    Ok((available, offered))
}

/// The default vCPUs of one instance of `instance_type` (what AWS counts against the quota).
pub async fn vcpus(ec2: &Client, instance_type: &str) -> Result<Option<u32>, CheckQuotasError> {
    Ok(byoc_core::aws::vcpu_quota::instance_vcpus(ec2, instance_type).await?)
}
