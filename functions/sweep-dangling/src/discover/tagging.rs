//! What the tagging API lists for the install or its cluster that is of no kind this step
//! knows how to delete: reported, never deleted. The tagging API may still list what was just
//! deleted, so for the kinds this step knows the Describe calls are the truth.

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use byoc_domain::deletion_order::{Kind, Scope};
use byoc_domain::tags::{kubernetes_cluster_tag, CLUSTER_NAME_TAGS, INSTALL_TAG, TENANT_TAG};
use byoc_domain::Error;

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

/// What the tagging API lists for the install or its cluster that is of no kind this step
/// knows how to delete (anything it knows, the Describe calls of the other parts saw).
pub async fn unhandled(tagging: &Client, scope: &Scope) -> Result<Vec<String>, Error> {
    let mut filters = vec![
        TagFilter::builder()
            .key(INSTALL_TAG)
            .values(&scope.install_id)
            .build(),
        TagFilter::builder()
            .key(kubernetes_cluster_tag(&scope.cluster_name))
            .values(byoc_domain::tags::OWNED)
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
        let mappings = tagging
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
