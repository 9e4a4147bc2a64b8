//! Room for the surge: a managed node group's rolling update launches new nodes before it
//! drains the old ones, and those count against the account's On-Demand vCPU quota. EKS User
//! Guide, "Understand each phase of node updates"
//! (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html), scale
//! up phase: the Auto Scaling group's maximum and desired sizes grow by the larger of "up to
//! twice the number of Availability Zones that the Auto Scaling group is deployed in" and "the
//! maximum unavailable of upgrade". Short of room, the new instances fail to launch
//! (VcpuLimitExceeded) and the update fails half way; the preflight finds it first, and the
//! upgrade asks AWS for the increase and waits for it, as an install does.

use std::collections::{BTreeMap, BTreeSet};

use byoc_domain::quota_plan::{self, Deficit, Measure, Need};

use crate::error::UpgradeError;
use crate::observe::NodeGroupShape;

/// The nodes a rolling update of `shape` adds at most before old ones go.
pub fn surge_nodes(shape: &NodeGroupShape, zones: usize) -> u64 {
    let twice_zones = 2 * zones as u64;
    let max_unavailable = match (shape.max_unavailable, shape.max_unavailable_percentage) {
        (Some(n), _) => u64::try_from(n).unwrap_or(0),
        (None, Some(percent)) => {
            let desired = u64::try_from(shape.desired_size).unwrap_or(0);
            let percent = u64::try_from(percent).unwrap_or(0);
            (desired * percent).div_ceil(100)
        }
        // EKS's default update config: one node unavailable at a time.
        (None, None) => 1,
    };
    twice_zones.max(max_unavailable)
}

/// Every On-Demand vCPU quota the node groups' surges would exceed, as the install's quota
/// check records them (`step_data.quota_check.deficits`), so request-quota can ask for them.
pub async fn deficits(
    ec2: &aws_sdk_ec2::Client,
    quotas: &aws_sdk_servicequotas::Client,
    shapes: &[NodeGroupShape],
    region: &str,
) -> Result<Vec<Deficit>, UpgradeError> {
    let mut needed: BTreeMap<&'static str, (quota_plan::Quota, u64)> = BTreeMap::new();
    for shape in shapes.iter().filter(|s| s.capacity_type == "ON_DEMAND") {
        let Some(instance_type) = shape.instance_types.first() else {
            continue;
        };
        let Some(quota) = quota_plan::on_demand_vcpu_quota(instance_type) else {
            continue;
        };
        let vcpus = byoc_core::aws::vcpu_quota::instance_vcpus(ec2, instance_type)
            .await?
            .unwrap_or(0);
        let zones = zones_of(ec2, &shape.subnet_ids).await?;
        let surge = surge_nodes(shape, zones).saturating_mul(u64::from(vcpus));
        needed.entry(quota.code).or_insert((quota, 0)).1 += surge;
    }
    let mut found = Vec::new();
    for (code, (quota, surge)) in needed {
        let applied = byoc_core::aws::vcpu_quota::applied_value(quotas, &quota)
            .await?
            .unwrap_or(0.0);
        let usage = byoc_core::aws::vcpu_quota::on_demand_vcpus_in_use(ec2, code).await?;
        let need = Need {
            quota,
            measure: Measure::OnDemandVcpus,
            needed: surge,
        };
        found.extend(quota_plan::shortfall(&need, applied, usage, region));
    }
    Ok(found)
}

async fn zones_of(ec2: &aws_sdk_ec2::Client, subnet_ids: &[String]) -> Result<usize, UpgradeError> {
    if subnet_ids.is_empty() {
        return Ok(1);
    }
    let out = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids.to_vec()))
        .send()
        .await
        .map_err(|e| crate::error::aws("EC2", e))?;
    let zones: BTreeSet<&str> = out
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    Ok(zones.len().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(desired: i32, max: Option<i32>, percent: Option<i32>) -> NodeGroupShape {
        NodeGroupShape {
            name: "ng".into(),
            instance_types: vec!["m6i.large".into()],
            capacity_type: "ON_DEMAND".into(),
            subnet_ids: vec![],
            desired_size: desired,
            max_unavailable: max,
            max_unavailable_percentage: percent,
        }
    }

    #[test]
    fn the_surge_is_twice_the_zones_or_the_max_unavailable_whichever_is_larger() {
        assert_eq!(surge_nodes(&shape(2, None, None), 3), 6);
        assert_eq!(surge_nodes(&shape(2, Some(1), None), 1), 2);
        assert_eq!(surge_nodes(&shape(20, Some(10), None), 3), 10);
        assert_eq!(surge_nodes(&shape(30, None, Some(50)), 2), 15, "half of 30");
        assert_eq!(surge_nodes(&shape(3, None, Some(50)), 1), 2, "rounded up");
    }
}
