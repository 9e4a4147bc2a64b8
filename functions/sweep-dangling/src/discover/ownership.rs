//! The one rule every part of discovery applies: why a resource it sees is the install's, if
//! it is. Whether the install may delete it is the domain's safety rule
//! (`byoc_domain::deletion_order::verdict`), applied once everything is found.

use byoc_domain::deletion_order::{Reason, Scope};
use byoc_domain::tags::{kubernetes_cluster_tag, made_for_cluster, INSTALL_TAG};

/// Why a resource with these tags in this VPC is the install's, if it is found by us at all.
/// The install's own tag comes first, then a tag saying Kubernetes or EKS made it for the
/// install's cluster, then the cluster's tag key with any value (`shared`: found, and the
/// safety rule decides), then the VPC.
pub fn reason_for(
    tags: &[(String, String)],
    vpc_id: Option<&str>,
    scope: &Scope,
) -> Option<Reason> {
    let value = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if value(INSTALL_TAG) == Some(scope.install_id.as_str()) {
        return Some(Reason::InstallTag);
    }
    if let Some(tag) = made_for_cluster(tags, &scope.cluster_name) {
        return Some(Reason::KubernetesTag { tag });
    }
    let k8s = kubernetes_cluster_tag(&scope.cluster_name);
    if value(&k8s).is_some() {
        return Some(Reason::KubernetesTag { tag: k8s });
    }
    vpc_id
        .filter(|v| scope.vpc_ids.contains(*v))
        .map(|v| Reason::InVpc {
            vpc_id: v.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            install_id: "inst-a".into(),
            tenant_id: "acme".into(),
            cluster_name: "byoc-inst-a".into(),
            vpc_ids: ["vpc-1".to_owned()].into(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_install_tag_explains_first_then_kubernetes_then_the_vpc() {
        let s = scope();
        assert_eq!(
            reason_for(
                &tags(&[
                    (INSTALL_TAG, "inst-a"),
                    ("kubernetes.io/cluster/byoc-inst-a", "shared")
                ]),
                Some("vpc-1"),
                &s
            ),
            Some(Reason::InstallTag)
        );
        assert_eq!(
            reason_for(
                &tags(&[("kubernetes.io/cluster/byoc-inst-a", "owned")]),
                Some("vpc-1"),
                &s
            ),
            Some(Reason::KubernetesTag {
                tag: "kubernetes.io/cluster/byoc-inst-a".into()
            })
        );
        let controller = "elbv2.k8s.aws/cluster";
        assert_eq!(
            reason_for(&tags(&[(controller, "byoc-inst-a")]), None, &s),
            Some(Reason::KubernetesTag {
                tag: controller.into()
            })
        );
        assert_eq!(
            reason_for(&tags(&[(controller, "someone-else")]), None, &s),
            None
        );
        assert_eq!(
            reason_for(&tags(&[("KubernetesCluster", "byoc-inst-a")]), None, &s),
            Some(Reason::KubernetesTag {
                tag: "KubernetesCluster".into()
            })
        );
        assert_eq!(
            reason_for(&[], Some("vpc-1"), &s),
            Some(Reason::InVpc {
                vpc_id: "vpc-1".into()
            })
        );
        assert_eq!(reason_for(&[], Some("vpc-2"), &s), None);
    }
}
