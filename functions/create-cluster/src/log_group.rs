//! The cluster's control-plane log group, made by us before the cluster so that it carries the
//! install's tags and a retention. EKS would otherwise make `/aws/eks/<cluster>/cluster` itself
//! when logging is on, untagged ("Tags don't propagate to other resources associated with the
//! cluster", EKS User Guide, "Tag your Amazon EKS resources"), never expiring, and leave it
//! behind when the cluster is deleted; EKS writes to the group if it already exists (EKS User
//! Guide, "Send control plane logs to CloudWatch Logs").

use aws_sdk_cloudwatchlogs::Client;
use byoc_domain::model::Install;

use crate::cluster::tag_map;
use crate::error::{aws, CreateClusterError};

/// How long control-plane logs are kept: long enough to investigate an incident reported a
/// few weeks late, short enough not to bill the customer for years of audit logs.
pub const RETENTION_DAYS: i32 = 30;

pub fn name(cluster: &str) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

/// Creates the group (or finds it, on a repeat) and sets its retention; safe to call again.
pub async fn ensure(
    logs: &Client,
    install: &Install,
    cluster: &str,
) -> Result<String, CreateClusterError> {
    let name = name(cluster);
    match logs
        .create_log_group()
        .log_group_name(&name)
        .set_tags(Some(tag_map(install, &name)))
        .send()
        .await
    {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_already_exists_exception()) => {}
        Err(err) => return Err(aws("CloudWatch Logs", err)),
    }
    logs.put_retention_policy()
        .log_group_name(&name)
        .retention_in_days(RETENTION_DAYS)
        .send()
        .await
        .map_err(|e| aws("CloudWatch Logs", e))?;
    Ok(name)
}
