//! What the cluster's own controllers are told, so that what they make in the customer's
//! account carries the install's tags from birth: EBS volumes from the EBS CSI driver add-on
//! (which we install), and load balancers, target groups and security groups from the AWS Load
//! Balancer Controller (which the vendor installs with Helm, from the values the install
//! record offers). sweep-dangling then finds them by the install tag instead of guessing:
//! without this, a CSI volume carries only `ebs.csi.aws.com/cluster=true`, which names no
//! cluster.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::ids::{InstallId, TenantId};
use crate::tags::{INSTALL_TAG, TENANT_TAG};

/// The EKS add-on name of the EBS CSI driver.
pub const EBS_CSI_ADDON: &str = "aws-ebs-csi-driver";
/// The driver's controller service account (in `kube-system`), which its role is given to.
pub const EBS_CSI_SERVICE_ACCOUNT: &str = "ebs-csi-controller-sa";
/// Where validate-trust records the customer stack's EBS CSI driver role
/// (output `EbsCsiDriverRoleArn`).
pub const EBS_CSI_ROLE_KEY: &str = "ebs_csi_role_arn";

/// Where create-cluster records the Load Balancer Controller's Helm values
/// (`step_data["load_balancer_controller"]`).
pub const LOAD_BALANCER_CONTROLLER_KEY: &str = "load_balancer_controller";
/// Where validate-trust records the customer stack's Load Balancer Controller role (output
/// `LoadBalancerControllerRoleArn`, template version 5 on; older stacks have none).
pub const LOAD_BALANCER_CONTROLLER_ROLE_KEY: &str = "load_balancer_controller_role_arn";
/// The namespace both controllers run in.
pub const CONTROLLER_NAMESPACE: &str = "kube-system";
/// The Load Balancer Controller's service account: the chart's default name, which the values
/// name explicitly so the Pod Identity association made for it is the one the pods use.
pub const LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT: &str = "aws-load-balancer-controller";

/// The tags every resource a controller makes for the install carries: the install's and its
/// tenant's. No `Name`: one name on every volume and balancer would only mislead.
pub fn controller_tags(install_id: &InstallId, tenant_id: &TenantId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (INSTALL_TAG.to_owned(), install_id.to_string()),
        (TENANT_TAG.to_owned(), tenant_id.to_string()),
    ])
}

/// The EBS CSI add-on's `configurationValues`: every volume the driver provisions gets the
/// install's tags (`controller.extraVolumeTags`, in the add-on's configuration schema). The
/// driver adds its own tags and, with the provisioner's default `extraCreateMetadata`, the
/// PVC's name and namespace and the PV's name.
pub fn ebs_csi_configuration(install_id: &InstallId, tenant_id: &TenantId) -> String {
    json!({"controller": {"extraVolumeTags": controller_tags(install_id, tenant_id)}}).to_string()
}

/// The Helm values of the AWS Load Balancer Controller chart (`eks/aws-load-balancer-controller`)
/// for the install's cluster: `defaultTags` go on every load balancer, target group, listener
/// and security group it creates; `clusterName`, `region` and `vpcId` spare it from asking the
/// instance metadata service, which pods often cannot reach.
pub fn load_balancer_controller_values(
    cluster_name: &str,
    region: &str,
    vpc_id: &str,
    install_id: &InstallId,
    tenant_id: &TenantId,
) -> Value {
    json!({
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "defaultTags": controller_tags(install_id, tenant_id),
        "serviceAccount": {"create": true, "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The driver's own check of `extraVolumeTags` (pkg/driver/validation.go): it refuses the
    /// keys it sets itself and the `kubernetes.io` and `aws:` prefixes, and then never starts,
    /// so the add-on never becomes healthy.
    fn ebs_csi_accepts(key: &str) -> bool {
        let reserved = [
            "CSIVolumeName",
            "CSIVolumeSnapshotName",
            "ebs.csi.aws.com/cluster",
        ];
        !key.is_empty()
            && key.len() <= 128
            && !reserved.contains(&key)
            && !["kubernetes.io", "aws:"].iter().any(|p| key.starts_with(p))
    }

    fn ids() -> (InstallId, TenantId) {
        (
            InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap(),
            TenantId::parse("t", "acme").unwrap(),
        )
    }

    #[test]
    fn csi_volumes_get_the_install_and_tenant_tags() {
        let (install, tenant) = ids();
        let config: Value =
            serde_json::from_str(&ebs_csi_configuration(&install, &tenant)).unwrap();
        assert_eq!(
            config,
            json!({"controller": {"extraVolumeTags": {"byoc:install-id": "inst-01hzy0000000000000000000aa", "byoc:tenant-id": "acme"}}})
        );
    }

    #[test]
    fn the_driver_accepts_every_tag_we_give_it_and_we_know_what_it_refuses() {
        let (install, tenant) = ids();
        for key in controller_tags(&install, &tenant).keys() {
            assert!(ebs_csi_accepts(key), "{key}");
        }
        for refused in [
            "kubernetes.io/cluster/byoc-x",
            "aws:cloudformation:stack-id",
            "ebs.csi.aws.com/cluster",
            "CSIVolumeName",
            "",
        ] {
            assert!(!ebs_csi_accepts(refused), "{refused}");
        }
    }

    #[test]
    fn load_balancer_controller_values_name_the_cluster_and_tag_everything() {
        let (install, tenant) = ids();
        let values = load_balancer_controller_values(
            "byoc-inst-01hzy0000000000000000000aa",
            "eu-west-1",
            "vpc-0abc",
            &install,
            &tenant,
        );
        assert_eq!(
            values["clusterName"],
            "byoc-inst-01hzy0000000000000000000aa"
        );
        assert_eq!(
            (values["region"].as_str(), values["vpcId"].as_str()),
            (Some("eu-west-1"), Some("vpc-0abc"))
        );
        assert_eq!(
            values["defaultTags"],
            json!({"byoc:install-id": "inst-01hzy0000000000000000000aa", "byoc:tenant-id": "acme"})
        );
    }
}
