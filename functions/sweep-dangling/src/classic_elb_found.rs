//! The install's Classic load balancers: what the in-tree Kubernetes service controller makes
//! for a Service of type LoadBalancer by default. They carry the cluster only in a tag *key*
//! (`kubernetes.io/cluster/<cluster>=owned`), and lie in the install's VPC.

use aws_sdk_elasticloadbalancing::Client;
use byoc_core::deletion_order::{Found, Kind, Scope};
use byoc_core::Error;

use crate::discover::reason_for;

/// DescribeTags takes at most 20 names a call.
const TAGS_PER_CALL: usize = 20;

fn aws(err: impl std::error::Error) -> Error {
    Error::aws("Elastic Load Balancing (Classic)", err)
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
                b.load_balancer_name()?.to_owned(),
                b.vpc_id().map(str::to_owned),
            ))
        })
        .collect();
    let mut out = vec![];
    for chunk in balancers.chunks(TAGS_PER_CALL) {
        let names: Vec<String> = chunk.iter().map(|(name, _)| name.clone()).collect();
        let described = elb
            .describe_tags()
            .set_load_balancer_names(Some(names))
            .send()
            .await
            .map_err(aws)?;
        for (name, vpc) in chunk {
            let tags: Vec<(String, String)> = described
                .tag_descriptions()
                .iter()
                .filter(|d| d.load_balancer_name() == Some(name.as_str()))
                .flat_map(|d| {
                    d.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                })
                .collect();
            if let Some(reason) = reason_for(&tags, vpc.as_deref(), scope) {
                out.push(
                    Found::new(Kind::ClassicLoadBalancer, name.clone(), reason)
                        .tags(tags)
                        .in_vpc(vpc.clone()),
                );
            }
        }
    }
    Ok(out)
}
