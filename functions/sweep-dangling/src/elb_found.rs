//! The install's load balancers and target groups: those inside its VPC, and those a
//! Kubernetes controller or the installer tagged for it.

use aws_sdk_elasticloadbalancingv2::Client;
use byoc_core::deletion_order::{Found, Kind, Scope};
use byoc_core::Error;

use crate::discover::reason_for;

/// DescribeTags takes at most 20 ARNs a call.
const TAGS_PER_CALL: usize = 20;

fn aws(err: impl std::error::Error) -> Error {
    Error::aws("Elastic Load Balancing", err)
}

async fn tags_of(
    elb: &Client,
    arns: &[String],
) -> Result<Vec<(String, Vec<(String, String)>)>, Error> {
    let mut out = vec![];
    for chunk in arns.chunks(TAGS_PER_CALL) {
        let described = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws)?;
        for description in described.tag_descriptions() {
            let Some(arn) = description.resource_arn() else {
                continue;
            };
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
            out.push((arn.to_owned(), tags));
        }
    }
    Ok(out)
}

fn classify(
    kind: Kind,
    resources: Vec<(String, Option<String>)>,
    tagged: Vec<(String, Vec<(String, String)>)>,
    scope: &Scope,
) -> Vec<Found> {
    resources
        .into_iter()
        .filter_map(|(arn, vpc)| {
            let tags = tagged
                .iter()
                .find(|(a, _)| *a == arn)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let reason = reason_for(&tags, vpc.as_deref(), scope)?;
            Some(Found::new(kind, arn, reason).tags(tags).in_vpc(vpc))
        })
        .collect()
}

pub async fn in_scope(elb: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let balancers = elb
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    let balancers: Vec<(String, Option<String>)> = balancers
        .iter()
        .filter_map(|b| {
            Some((
                b.load_balancer_arn()?.to_owned(),
                b.vpc_id().map(str::to_owned),
            ))
        })
        .collect();
    let groups = elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    let groups: Vec<(String, Option<String>)> = groups
        .iter()
        .filter_map(|g| {
            Some((
                g.target_group_arn()?.to_owned(),
                g.vpc_id().map(str::to_owned),
            ))
        })
        .collect();
    let balancer_tags = tags_of(
        elb,
        &balancers.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
    )
    .await?;
    let group_tags = tags_of(
        elb,
        &groups.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
    )
    .await?;
    let mut out = classify(Kind::LoadBalancer, balancers, balancer_tags, scope);
    out.extend(classify(Kind::TargetGroup, groups, group_tags, scope));
    Ok(out)
}
