//! The Helm values the vendor installs the AWS Load Balancer Controller with, kept on the
//! install record (`step_data["load_balancer_controller"]`, shown by `GET /installs/{id}`):
//! with them, every load balancer, target group and security group the controller makes for
//! the vendor's software carries the install's tags, and the sweep finds it by tag. They come
//! with the identity the controller runs as: the service account they name has a Pod Identity
//! association with the customer stack's role for it (`pod_identity`), or, when the stack
//! predates that role, a note saying the controller will have no AWS credentials.

use byoc_domain::controller_tags::load_balancer_controller_values;
use byoc_domain::model::Install;
use byoc_domain::tags::cluster_name;
use serde_json::{json, Value};

use crate::pod_identity::ControllerIdentity;

/// The chart, its values and the controller's identity, once the install's VPC is known.
pub fn load_balancer_controller(
    install: &Install,
    identity: Option<&ControllerIdentity>,
) -> Option<Value> {
    let vpc_id = install
        .resources
        .get(byoc_domain::step_record::resource::VPC_ID)?;
    let values = load_balancer_controller_values(
        &cluster_name(install),
        install.region.as_str(),
        vpc_id,
        &install.install_id,
        &install.tenant_id,
    );
    let identity = match identity {
        Some(identity) => json!({
            "service_account": identity.service_account,
            "role_arn": identity.role_arn,
            "pod_identity_association_arn": identity.association_arn,
        }),
        None => json!({
            "note": "the customer stack has no role for the Load Balancer Controller (made from a template before version 5): \
                     it will get no AWS credentials and make no load balancers until the customer updates the stack from the install link",
        }),
    };
    Some(json!({
        "chart": "aws-load-balancer-controller",
        "repository": "https://aws.github.io/eks-charts",
        "namespace": "kube-system",
        "values": values,
        "identity": identity,
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
        assert_eq!(load_balancer_controller(&install, None), None, "no VPC yet");
        install.resources.insert("vpc_id".into(), "vpc-0abc".into());
        let chart = load_balancer_controller(&install, None).unwrap();
        assert!(
            chart["identity"]["note"]
                .as_str()
                .unwrap()
                .contains("updates the stack from the install link"),
            "{chart:#}"
        );
        let identity = ControllerIdentity {
            service_account: "kube-system/aws-load-balancer-controller".into(),
            role_arn: "arn:aws:iam::111122223333:role/byoc/lbc".into(),
            association_arn: "arn:aws:eks:eu-west-1:111122223333:podidentityassociation/c/a-1"
                .into(),
        };
        let chart = load_balancer_controller(&install, Some(&identity)).unwrap();
        assert_eq!(chart["identity"]["role_arn"], identity.role_arn.as_str());
        let values = &chart["values"];
        assert_eq!(
            values["serviceAccount"]["name"], "aws-load-balancer-controller",
            "the values name the service account the association is for"
        );
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
