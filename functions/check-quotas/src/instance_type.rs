//! The node instance type: its vCPUs, and what to say when too few of the region's zones offer
//! it (the zones themselves come from `byoc_core::aws::zones`, as create-network reads them).

use aws_sdk_ec2::Client;
use byoc_domain::model::Install;

use crate::CheckQuotasError;

/// The default vCPUs of one instance of `instance_type` (what AWS counts against the quota).
pub async fn vcpus(ec2: &Client, instance_type: &str) -> Result<Option<u32>, CheckQuotasError> {
    Ok(byoc_core::aws::vcpu_quota::instance_vcpus(ec2, instance_type).await?)
}

/// `available`: the zones that can take an install; `offered`: those of them the install may
/// use (EKS supports them and they offer the type).
pub fn unavailable_message(install: &Install, available: &[String], offered: &[String]) -> String {
    let options = &install.options;
    if offered.is_empty() {
        format!(
            "instance type {} is not offered in {} (none of its zones {}); choose another node_instance_type or region",
            options.node_instance_type,
            install.region,
            available.join(", ")
        )
    } else {
        format!(
            "instance type {} is offered in only {} zone(s) of {} ({}), and the install asks for {} (az_count); choose fewer zones or another node_instance_type",
            options.node_instance_type,
            offered.len(),
            install.region,
            offered.join(", "),
            options.az_count
        )
    }
}
