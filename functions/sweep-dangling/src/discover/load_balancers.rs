//! The install's load balancers and target groups: those inside its VPC, and those a
//! Kubernetes controller or the installer tagged for it.
//!
//! Classic load balancers are what the in-tree Kubernetes service controller makes for a
//! Service of type LoadBalancer by default. They carry the cluster only in a tag *key*
//! (`kubernetes.io/cluster/<cluster>=owned`), and lie in the install's VPC.
//!
//! Both APIs list every load balancer with its VPC and give tags only through DescribeTags,
//! so both go through `tagged`.

use std::future::Future;

use aws_sdk_elasticloadbalancing as classic;
use aws_sdk_elasticloadbalancingv2 as v2;
use byoc_domain::deletion_order::{Found, Kind, Scope};
use byoc_domain::Error;

use super::ownership::reason_for;

/// DescribeTags of either API takes at most 20 ARNs (or Classic names) a call.
const TAGS_PER_CALL: usize = 20;

/// A resource's id (ARN, or a Classic load balancer's name) and its VPC.
type Located = (String, Option<String>);
/// A resource's id and its tags.
type Tagged = (String, Vec<(String, String)>);

fn aws(err: impl std::error::Error) -> Error {
    Error::aws("Elastic Load Balancing", err)
}

fn aws_classic(err: impl std::error::Error) -> Error {
    Error::aws("Elastic Load Balancing (Classic)", err)
}

/// The id and VPC of each of `items` that has an id.
fn located<T>(
    items: &[T],
    id: impl Fn(&T) -> Option<&str>,
    vpc: impl Fn(&T) -> Option<&str>,
) -> Vec<Located> {
    items
        .iter()
        .filter_map(|item| Some((id(item)?.to_owned(), vpc(item).map(str::to_owned))))
        .collect()
}

/// Those of `resources` that are the install's, as `kind`, their tags read `TAGS_PER_CALL` at
/// a time through `describe_tags`.
async fn tagged<Fut>(
    kind: Kind,
    resources: Vec<Located>,
    scope: &Scope,
    describe_tags: impl Fn(Vec<String>) -> Fut,
) -> Result<Vec<Found>, Error>
where
    Fut: Future<Output = Result<Vec<Tagged>, Error>>,
{
    let mut out = vec![];
    for chunk in resources.chunks(TAGS_PER_CALL) {
        let described = describe_tags(chunk.iter().map(|(id, _)| id.clone()).collect()).await?;
        out.extend(chunk.iter().filter_map(|(id, vpc)| {
            let tags = described
                .iter()
                .find(|(d, _)| d == id)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let reason = reason_for(&tags, vpc.as_deref(), scope)?;
            Some(
                Found::new(kind, id.clone(), reason)
                    .tags(tags)
                    .in_vpc(vpc.clone()),
            )
        }));
    }
    Ok(out)
}

async fn tags_of(elb: &v2::Client, arns: Vec<String>) -> Result<Vec<Tagged>, Error> {
    let described = elb
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .map_err(aws)?;
    Ok(described
        .tag_descriptions()
        .iter()
        .filter_map(|description| {
            let tags = description
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            Some((description.resource_arn()?.to_owned(), tags))
        })
        .collect())
}

async fn classic_tags_of(elb: &classic::Client, names: Vec<String>) -> Result<Vec<Tagged>, Error> {
    let described = elb
        .describe_tags()
        .set_load_balancer_names(Some(names))
        .send()
        .await
        .map_err(aws_classic)?;
    Ok(described
        .tag_descriptions()
        .iter()
        .filter_map(|description| {
            let tags = description
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect();
            Some((description.load_balancer_name()?.to_owned(), tags))
        })
        .collect())
}

/// Application, Network and Gateway load balancers, and target groups.
pub async fn in_scope(elb: &v2::Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let balancers = elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    let groups = elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    let balancers = located(&balancers, |b| b.load_balancer_arn(), |b| b.vpc_id());
    let groups = located(&groups, |g| g.target_group_arn(), |g| g.vpc_id());
    let mut out = tagged(Kind::LoadBalancer, balancers, scope, |arns| {
        tags_of(elb, arns)
    })
    .await?;
    out.extend(tagged(Kind::TargetGroup, groups, scope, |arns| tags_of(elb, arns)).await?);
    Ok(out)
}

/// Classic load balancers.
pub async fn classic_in_scope(elb: &classic::Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let balancers = elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_classic)?;
    let balancers = located(&balancers, |b| b.load_balancer_name(), |b| b.vpc_id());
    tagged(Kind::ClassicLoadBalancer, balancers, scope, |names| {
        classic_tags_of(elb, names)
    })
    .await
}
