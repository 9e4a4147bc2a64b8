//! The install's EKS cluster (named after the install), what hangs off it, and its log group.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::Client;
use byoc_domain::deletion_order::{Found, Kind, Reason, Scope};
use byoc_domain::tags::INSTALL_TAG;
use byoc_domain::Error;

fn aws(err: impl std::error::Error) -> Error {
    Error::aws("EKS", err)
}

fn not_found(err: &impl ProvideErrorMetadata) -> bool {
    err.code() == Some("ResourceNotFoundException")
}

fn pairs(tags: Option<&HashMap<String, String>>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = tags
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    pairs.sort();
    pairs
}

/// Each of `names` with what `describe` answers for it, in order; one deleted since it was
/// listed is passed over.
async fn described<O, E, Fut>(
    names: Vec<String>,
    describe: impl Fn(String) -> Fut,
) -> Result<Vec<(String, O)>, Error>
where
    Fut: Future<Output = Result<O, E>>,
    E: ProvideErrorMetadata + std::error::Error,
{
    let mut out = vec![];
    for name in names {
        match describe(name.clone()).await {
            Ok(answer) => out.push((name, answer)),
            Err(err) if not_found(&err) => continue,
            Err(err) => return Err(aws(err)),
        }
    }
    Ok(out)
}

pub async fn cluster(eks: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let name = &scope.cluster_name;
    let answer = match eks.describe_cluster().name(name).send().await {
        Ok(out) => out,
        Err(err) if not_found(&err) => return Ok(vec![]),
        Err(err) => return Err(aws(err)),
    };
    let Some(cluster) = answer.cluster() else {
        return Ok(vec![]);
    };
    let vpc = cluster
        .resources_vpc_config()
        .and_then(|c| c.vpc_id())
        .map(str::to_owned);
    let reason = || Reason::ClusterName {
        cluster: name.clone(),
    };
    let deleting = |status: Option<&str>| status == Some("DELETING");
    let mut out = vec![Found::new(Kind::Cluster, name, reason())
        .tags(pairs(cluster.tags()))
        .in_vpc(vpc.clone())
        .deleting(deleting(cluster.status().map(|s| s.as_str())))];

    let nodegroups = eks
        .list_nodegroups()
        .cluster_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    let nodegroups = described(nodegroups, |nodegroup| {
        eks.describe_nodegroup()
            .cluster_name(name)
            .nodegroup_name(nodegroup)
            .send()
    })
    .await?;
    for (nodegroup, answer) in nodegroups {
        let group = answer.nodegroup();
        let status = group.and_then(|g| g.status()).map(|s| s.as_str());
        out.push(
            Found::new(Kind::Nodegroup, nodegroup, reason())
                .tags(pairs(group.and_then(|g| g.tags())))
                .in_vpc(vpc.clone())
                .deleting(deleting(status)),
        );
    }

    let addons = eks
        .list_addons()
        .cluster_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    let addons = described(addons, |addon| {
        eks.describe_addon()
            .cluster_name(name)
            .addon_name(addon)
            .send()
    })
    .await?;
    for (addon, answer) in addons {
        let record = answer.addon();
        let status = record.and_then(|a| a.status()).map(|s| s.as_str());
        out.push(
            Found::new(Kind::Addon, addon, reason())
                .tags(pairs(record.and_then(|a| a.tags())))
                .in_vpc(vpc.clone())
                .deleting(deleting(status)),
        );
    }

    // Only the entries the install made (tagged with it): EKS adds its own (the node role's)
    // and the customer may add theirs; the role may not delete those, and EKS deletes every
    // entry with the cluster (EKS API reference, DeleteCluster). A cluster in CONFIG_MAP mode
    // has no access entries, and EKS says so with an error.
    let principals = match eks
        .list_access_entries()
        .cluster_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
    {
        Ok(entries) => entries,
        Err(err) if err.code() == Some("InvalidRequestException") => vec![],
        Err(err) => return Err(aws(err)),
    };
    let entries = described(principals, |principal| {
        eks.describe_access_entry()
            .cluster_name(name)
            .principal_arn(principal)
            .send()
    })
    .await?;
    for (principal, answer) in entries {
        let tags = answer.access_entry().and_then(|e| e.tags());
        if tags.and_then(|t| t.get(INSTALL_TAG)) == Some(&scope.install_id) {
            out.push(
                Found::new(Kind::AccessEntry, principal, reason())
                    .tags(pairs(tags))
                    .in_vpc(vpc.clone()),
            );
        }
    }
    Ok(out)
}

/// EKS's control-plane log group for the cluster, `/aws/eks/<cluster>/cluster`.
pub async fn log_group(
    logs: &aws_sdk_cloudwatchlogs::Client,
    scope: &Scope,
) -> Result<Vec<Found>, Error> {
    let name = format!("/aws/eks/{}/cluster", scope.cluster_name);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("CloudWatch Logs", e))?;
    Ok(groups
        .iter()
        .filter(|g| g.log_group_name() == Some(name.as_str()))
        .map(|_| {
            Found::new(
                Kind::LogGroup,
                &name,
                Reason::ClusterName {
                    cluster: scope.cluster_name.clone(),
                },
            )
        })
        .collect())
}
