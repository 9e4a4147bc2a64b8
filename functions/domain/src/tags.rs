//! The tags on everything an install creates. sweep-dangling finds an install's resources by
//! them, and deletes nothing without them.

use crate::model::Install;

pub const INSTALL_TAG: &str = "byoc:install-id";
pub const TENANT_TAG: &str = "byoc:tenant-id";

/// The EKS cluster of an install: one per install, named after it.
pub fn cluster_name(install: &Install) -> String {
    format!("byoc-{}", install.install_id)
}

/// `byoc:install-id`, `byoc:tenant-id` and `Name` for a resource of `install`.
pub fn install_tags(install: &Install, name: &str) -> Vec<(String, String)> {
    vec![
        (INSTALL_TAG.to_owned(), install.install_id.to_string()),
        (TENANT_TAG.to_owned(), install.tenant_id.to_string()),
        ("Name".to_owned(), name.to_owned()),
    ]
}

/// The tag key Kubernetes (the in-tree cloud provider, the AWS Load Balancer Controller,
/// EKS itself) puts on what it makes or uses for a cluster; the value says how:
/// `owned` (made for that cluster, to go with it) or `shared` (used, not owned).
/// (kubernetes/cloud-provider-aws, "Tagging": https://cloud-provider-aws.sigs.k8s.io/)
pub fn kubernetes_cluster_tag(cluster: &str) -> String {
    format!("kubernetes.io/cluster/{cluster}")
}

/// What `kubernetes_cluster_tag` says of a resource made for the cluster.
pub const OWNED: &str = "owned";

/// Tags whose *value* is the name of the cluster something was made for:
/// - `elbv2.k8s.aws/cluster`: the AWS Load Balancer Controller's load balancers, target
///   groups and security groups;
/// - `eks:cluster-name`: managed node group instances;
/// - `eks:eks-cluster-name`: Karpenter's instances (its EC2NodeClass default tags);
/// - `aws:eks:cluster-name`: the cluster security group EKS makes;
/// - `KubernetesCluster`: the legacy in-tree tag, still on in-tree EBS volumes;
/// - `cluster.k8s.amazonaws.com/name`: interfaces the VPC CNI made for pods.
pub const CLUSTER_NAME_TAGS: [&str; 6] = [
    "elbv2.k8s.aws/cluster",
    "eks:cluster-name",
    "eks:eks-cluster-name",
    "aws:eks:cluster-name",
    "KubernetesCluster",
    "cluster.k8s.amazonaws.com/name",
];

/// The tag by which `tags` say their resource was made for (is owned by) `cluster`, if any:
/// `kubernetes.io/cluster/<cluster>=owned`, or one of [`CLUSTER_NAME_TAGS`] naming it.
/// `shared` is not ownership: a customer's own subnet may be shared with a cluster. A
/// cluster's name holds the install id, so no other install's resource carries these.
pub fn made_for_cluster(tags: &[(String, String)], cluster: &str) -> Option<String> {
    let owned_key = kubernetes_cluster_tag(cluster);
    tags.iter()
        .find(|(k, v)| {
            (*k == owned_key && v == OWNED)
                || (CLUSTER_NAME_TAGS.contains(&k.as_str()) && v == cluster)
        })
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn owned_or_named_is_made_for_the_cluster_shared_is_not() {
        let c = "byoc-inst-a";
        assert_eq!(
            made_for_cluster(&tags(&[("kubernetes.io/cluster/byoc-inst-a", "owned")]), c)
                .as_deref(),
            Some("kubernetes.io/cluster/byoc-inst-a")
        );
        assert_eq!(
            made_for_cluster(&tags(&[("kubernetes.io/cluster/byoc-inst-a", "shared")]), c),
            None
        );
        assert_eq!(
            made_for_cluster(&tags(&[("kubernetes.io/cluster/byoc-inst-b", "owned")]), c),
            None
        );
        for key in CLUSTER_NAME_TAGS {
            assert_eq!(
                made_for_cluster(&tags(&[(key, c)]), c).as_deref(),
                Some(key)
            );
            assert_eq!(
                made_for_cluster(&tags(&[(key, "byoc-inst-b")]), c),
                None,
                "{key} naming another cluster"
            );
        }
        assert_eq!(
            made_for_cluster(&tags(&[("ebs.csi.aws.com/cluster", "true")]), c),
            None,
            "names no cluster"
        );
    }
}
