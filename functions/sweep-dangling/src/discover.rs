//! Finding what an install left in the customer's account: by its tag, by the tags Kubernetes
//! controllers put on what they make for its cluster, by membership of its VPC, and by the
//! cluster's name. Describe calls are the truth about what exists (the tagging API may still
//! list what was just deleted); the tagging API finds kinds this step does not know.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use byoc_core::deletion_order::{verdict, Found, Kind, Reason, Scope, Verdict};
use byoc_core::model::Install;
use byoc_core::tags::{
    cluster_name, kubernetes_cluster_tag, made_for_cluster, CLUSTER_NAME_TAGS, INSTALL_TAG,
    TENANT_TAG,
};
use byoc_core::Error;

use crate::kubernetes::{self, KubeApi};
use crate::{classic_elb_found, ec2_found, eks_found, elb_found};

/// The install's customer-account clients, built once per invocation.
pub struct Clients {
    pub config: SdkConfig,
    /// The install's cluster's Kubernetes API, once discovery has looked (None: not serving).
    pub kube: tokio::sync::OnceCell<Option<KubeApi>>,
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub classic_elb: aws_sdk_elasticloadbalancing::Client,
    pub eks: aws_sdk_eks::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
            kube: tokio::sync::OnceCell::new(),
            ec2: aws_sdk_ec2::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            classic_elb: aws_sdk_elasticloadbalancing::Client::new(config),
            eks: aws_sdk_eks::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
        }
    }
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub delete: Vec<Found>,
    /// Found but not the install's to delete, with why.
    pub kept: Vec<(Found, String)>,
    /// ARNs carrying the install's tag of kinds this step cannot delete.
    pub unhandled: Vec<String>,
    /// What could not be looked at, and why (the cluster's Kubernetes API refused, say).
    pub notes: Vec<String>,
}

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

/// The kind an ARN names, for the kinds this step deletes (listeners go with their load
/// balancer).
pub fn arn_kind(arn: &str) -> Option<Kind> {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2)?;
    let resource = parts.nth(2)?;
    let kind = resource.split(['/', ':']).next()?;
    Some(match (service, kind) {
        ("ec2", "vpc") => Kind::Vpc,
        ("ec2", "subnet") => Kind::Subnet,
        ("ec2", "security-group") => Kind::SecurityGroup,
        ("ec2", "route-table") => Kind::RouteTable,
        ("ec2", "internet-gateway") => Kind::InternetGateway,
        ("ec2", "natgateway") => Kind::NatGateway,
        ("ec2", "elastic-ip") => Kind::ElasticIp,
        ("ec2", "network-interface") => Kind::NetworkInterface,
        ("ec2", "volume") => Kind::Volume,
        ("ec2", "vpc-endpoint") => Kind::VpcEndpoint,
        // A Classic load balancer's ARN is `loadbalancer/<name>`; others' `loadbalancer/app|net/…`.
        ("elasticloadbalancing", "loadbalancer") if resource.split('/').count() == 2 => {
            Kind::ClassicLoadBalancer
        }
        ("elasticloadbalancing", "loadbalancer" | "listener" | "listener-rule") => {
            Kind::LoadBalancer
        }
        ("ec2", "instance") => Kind::Instance,
        ("elasticloadbalancing", "targetgroup") => Kind::TargetGroup,
        ("eks", "cluster") => Kind::Cluster,
        ("eks", "nodegroup") => Kind::Nodegroup,
        ("eks", "addon") => Kind::Addon,
        ("eks", "access-entry") => Kind::AccessEntry,
        ("logs", "log-group") => Kind::LogGroup,
        _ => return None,
    })
}

pub async fn discover(clients: &Clients, install: &Install) -> Result<Discovery, Error> {
    let install_id = install.install_id.to_string();
    let vpcs = ec2_found::install_vpcs(&clients.ec2, &install_id).await?;
    let scope = Scope {
        install_id,
        tenant_id: install.tenant_id.to_string(),
        cluster_name: cluster_name(install),
        vpc_ids: vpcs.iter().map(|v| v.id.clone()).collect(),
    };
    // Keyed by kind and id: the same resource is often found more than one way.
    let mut all: BTreeMap<(Kind, String), Found> = BTreeMap::new();
    let found = [
        vpcs,
        ec2_found::in_scope(&clients.ec2, &scope).await?,
        elb_found::in_scope(&clients.elb, &scope).await?,
        classic_elb_found::in_scope(&clients.classic_elb, &scope).await?,
        eks_found::cluster(&clients.eks, &scope).await?,
        eks_found::log_group(&clients.logs, &scope).await?,
    ];
    for found in found.into_iter().flatten() {
        all.entry((found.kind, found.id.clone())).or_insert(found);
    }
    let mut discovery = Discovery {
        unhandled: unhandled(clients, &scope).await?,
        ..Default::default()
    };
    for listed in kubernetes_objects(clients, &scope.cluster_name, &mut discovery.notes).await? {
        match listed {
            Ok(found) => {
                all.insert((found.kind, found.id.clone()), found);
            }
            Err((found, why)) => discovery.kept.push((found, why)),
        }
    }
    for found in all.into_values() {
        match verdict(&found, &scope) {
            Verdict::Delete => discovery.delete.push(found),
            Verdict::Keep(why) => discovery.kept.push((found, why)),
        }
    }
    Ok(discovery)
}

/// The cluster's Services of type LoadBalancer, Ingresses and volume claims, while it serves
/// its API. What cannot be listed is noted, not fatal: the sweep then finds what their
/// controllers made by its tags.
async fn kubernetes_objects(
    clients: &Clients,
    cluster: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<Result<Found, (Found, String)>>, Error> {
    let api = clients
        .kube
        .get_or_try_init(|| KubeApi::connect(&clients.eks, &clients.config, cluster))
        .await?;
    let Some(api) = api else { return Ok(vec![]) };
    let now = chrono::Utc::now();
    let mut out = vec![];
    for kind in kubernetes::RELEASED {
        match api.list(kind).await {
            Ok(items) => out.extend(
                items
                    .iter()
                    .filter_map(|item| kubernetes::classify(kind, item, cluster, now)),
            ),
            Err(problem) => notes.push(format!("the cluster's Kubernetes API: {problem}")),
        }
    }
    Ok(out)
}

/// What the tagging API lists for the install or its cluster that is of no kind this step
/// knows how to delete (anything it knows, the Describe calls above already saw).
async fn unhandled(clients: &Clients, scope: &Scope) -> Result<Vec<String>, Error> {
    let mut filters = vec![
        TagFilter::builder()
            .key(INSTALL_TAG)
            .values(&scope.install_id)
            .build(),
        TagFilter::builder()
            .key(kubernetes_cluster_tag(&scope.cluster_name))
            .values(byoc_core::tags::OWNED)
            .build(),
    ];
    filters.extend(CLUSTER_NAME_TAGS.iter().map(|key| {
        TagFilter::builder()
            .key(*key)
            .values(&scope.cluster_name)
            .build()
    }));
    let mut arns = vec![];
    for filter in filters {
        let mappings = clients
            .tagging
            .get_resources()
            .tag_filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("Resource Groups Tagging", e))?;
        for mapping in mappings {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let tags: Vec<(String, String)> = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            let foreign = |key: &str, ours: &str| tags.iter().any(|(k, v)| k == key && v != ours);
            if arn_kind(arn).is_none()
                && !foreign(INSTALL_TAG, &scope.install_id)
                && !foreign(TENANT_TAG, &scope.tenant_id)
                && !arns.iter().any(|a| a == arn)
            {
                arns.push(arn.to_owned());
            }
        }
    }
    Ok(arns)
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

    #[test]
    fn arns_map_to_kinds() {
        assert_eq!(
            arn_kind("arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1"),
            Some(Kind::Vpc)
        );
        assert_eq!(
            arn_kind("arn:aws:ec2:us-east-1:111122223333:elastic-ip/eipalloc-1"),
            Some(Kind::ElasticIp)
        );
        assert_eq!(
            arn_kind("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/k8s-x/abc"),
            Some(Kind::LoadBalancer)
        );
        assert_eq!(
            arn_kind("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/a0123456789abcdef"),
            Some(Kind::ClassicLoadBalancer)
        );
        assert_eq!(
            arn_kind("arn:aws:ec2:us-east-1:1:instance/i-0abc"),
            Some(Kind::Instance)
        );
        assert_eq!(
            arn_kind("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/k8s-tg/abc"),
            Some(Kind::TargetGroup)
        );
        assert_eq!(
            arn_kind("arn:aws:eks:us-east-1:1:nodegroup/byoc-x/ng/uuid"),
            Some(Kind::Nodegroup)
        );
        assert_eq!(
            arn_kind("arn:aws:logs:us-east-1:1:log-group:/aws/eks/byoc-x/cluster:*"),
            Some(Kind::LogGroup)
        );
        assert_eq!(
            arn_kind("arn:aws:ec2:us-east-1:1:launch-template/lt-1"),
            None
        );
        assert_eq!(arn_kind("arn:aws:iam::1:role/x"), None);
        assert_eq!(arn_kind("not an arn"), None);
    }
}
