//! The Helm values the vendor installs the AWS Load Balancer Controller with, kept on the
//! install record (`step_data["load_balancer_controller"]`, shown by `GET /installs/{id}`):
//! with them, every load balancer, target group and security group the controller makes for
//! the vendor's software carries the install's tags, and the sweep finds it by tag.

use byoc_core::controller_tags::load_balancer_controller_values;
use byoc_core::model::Install;
use byoc_core::tags::cluster_name;
use serde_json::{json, Value};

/// The chart and its values, once the install's VPC is known.
pub fn load_balancer_controller(install: &Install) -> Option<Value> {
    let vpc_id = install.resources.get("vpc_id")?;
    let values = load_balancer_controller_values(
        &cluster_name(install),
        install.region.as_str(),
        vpc_id,
        &install.install_id,
        &install.tenant_id,
    );
    Some(json!({
        "chart": "aws-load-balancer-controller",
        "repository": "https://aws.github.io/eks-charts",
        "namespace": "kube-system",
        "values": values,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_wait_for_the_vpc_then_name_the_cluster_and_tag_with_the_install() {
        let mut install: Install = serde_json::from_value(json!({
            "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "account_id": "111122223333",
            "region": "eu-west-1", "status": "running", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "version": 3,
        }))
        .unwrap();
        assert_eq!(load_balancer_controller(&install), None, "no VPC yet");
        install.resources.insert("vpc_id".into(), "vpc-0abc".into());
        let chart = load_balancer_controller(&install).unwrap();
        let values = &chart["values"];
        assert_eq!(
            values["clusterName"],
            format!("byoc-{}", install.install_id).as_str()
        );
        assert_eq!(
            (values["region"].as_str(), values["vpcId"].as_str()),
            (Some("eu-west-1"), Some("vpc-0abc"))
        );
        assert_eq!(
            values["defaultTags"]["byoc:install-id"],
            install.install_id.as_str()
        );
        assert_eq!(values["defaultTags"]["byoc:tenant-id"], "acme");
    }
}
