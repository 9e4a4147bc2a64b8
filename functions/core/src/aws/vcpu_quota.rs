//! What an account's On-Demand vCPU quotas allow and what already counts against them: the
//! quota's applied value (Service Quotas, else AWS's default), the vCPUs of running
//! On-Demand instances per quota, and one instance type's vCPUs. Read by check-quotas before
//! an install and by upgrade-cluster before node groups roll (their surge nodes count too).
//!
//! Service Quotas User Guide, "Viewing service quotas": GetServiceQuota answers
//! NoSuchResourceException for a quota the account never changed, whose value is AWS's
//! default (GetAWSDefaultServiceQuota). EC2 User Guide, "On-Demand Instance quotas": running
//! On-Demand instances count their vCPUs against the quota of their family; Spot instances
//! count against other quotas.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, InstanceLifecycleType, InstanceType};
use aws_sdk_servicequotas::error::SdkError;

use byoc_domain::error::Error;
use byoc_domain::quota_plan::{on_demand_vcpu_quota, Quota};

/// The value of `quota` that applies to the account; `None` when Service Quotas knows no
/// such quota in the region or gives no value.
pub async fn applied_value(
    quotas: &aws_sdk_servicequotas::Client,
    quota: &Quota,
) -> Result<Option<f64>, Error> {
    let applied = quotas
        .get_service_quota()
        .service_code(quota.service)
        .quota_code(quota.code)
        .send()
        .await;
    match applied {
        Ok(out) => return Ok(out.quota().and_then(|q| q.value())),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => {}
        Err(err) => return Err(Error::aws("Service Quotas", err)),
    }
    let default = quotas
        .get_aws_default_service_quota()
        .service_code(quota.service)
        .quota_code(quota.code)
        .send()
        .await;
    match default {
        Ok(out) => Ok(out.quota().and_then(|q| q.value())),
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_resource_exception() => Ok(None),
        Err(err) => Err(Error::aws("Service Quotas", err)),
    }
}

/// The default vCPUs of one instance of `instance_type` (what AWS counts against the quota);
/// `None` for a name EC2 does not know.
pub async fn instance_vcpus(
    ec2: &aws_sdk_ec2::Client,
    instance_type: &str,
) -> Result<Option<u32>, Error> {
    let out = ec2
        .describe_instance_types()
        .instance_types(InstanceType::from(instance_type))
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(err)
            if aws_sdk_ec2::error::ProvideErrorMetadata::code(&err)
                .is_some_and(|c| c.starts_with("InvalidInstanceType")) =>
        {
            return Ok(None)
        }
        Err(err) => return Err(Error::aws("EC2", err)),
    };
    Ok(out
        .instance_types()
        .first()
        .and_then(|t| t.v_cpu_info())
        .and_then(|v| v.default_v_cpus())
        .and_then(|n| u32::try_from(n).ok()))
}

/// vCPUs of the pending and running On-Demand instances that count against `quota_code`.
pub async fn on_demand_vcpus_in_use(
    ec2: &aws_sdk_ec2::Client,
    quota_code: &str,
) -> Result<u64, Error> {
    let reservations = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("EC2", e))?;
    let mut instances_per_type: BTreeMap<String, u64> = BTreeMap::new();
    for instance in reservations.iter().flat_map(|r| r.instances()) {
        // Spot and scheduled instances count against other quotas.
        if instance
            .instance_lifecycle()
            .is_some_and(|l| !matches!(l, InstanceLifecycleType::CapacityBlock))
        {
            continue;
        }
        let Some(instance_type) = instance.instance_type().map(|t| t.as_str().to_owned()) else {
            continue;
        };
        if on_demand_vcpu_quota(&instance_type).is_some_and(|q| q.code == quota_code) {
            *instances_per_type.entry(instance_type).or_default() += 1;
        }
    }
    if instances_per_type.is_empty() {
        return Ok(0);
    }
    let types = ec2
        .describe_instance_types()
        .set_instance_types(Some(
            instances_per_type
                .keys()
                .map(|t| InstanceType::from(t.as_str()))
                .collect(),
        ))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("EC2", e))?;
    let vcpus_of = |name: &str| -> u64 {
        types
            .iter()
            .find(|t| t.instance_type().map(|t| t.as_str()) == Some(name))
            .and_then(|t| t.v_cpu_info()?.default_v_cpus())
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok(instances_per_type
        .iter()
        .map(|(name, n)| n.saturating_mul(vcpus_of(name)))
        .sum())
}
