//! The install's managed node group, in the private subnets, once the cluster is ACTIVE and
//! the NAT gateways let nodes reach ECR and the EKS API.

use std::collections::HashMap;

use aws_sdk_eks::types::{AmiTypes, Nodegroup, NodegroupScalingConfig};
use aws_sdk_eks::Client;
use byoc_domain::cluster_plan;
use byoc_domain::model::Install;

use crate::cluster::{issue_line, join_issues, tag_map};
use crate::error::{aws, eks_message, CreateClusterError};

/// The label every node carries, so the vendor's workloads can select the install's nodes.
pub const INSTALL_LABEL: &str = "byoc/install-id";

pub async fn describe(
    eks: &Client,
    cluster: &str,
    name: &str,
) -> Result<Option<Nodegroup>, CreateClusterError> {
    match eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.nodegroup),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws("EKS", err)),
    }
}

fn size(field: &str, value: u32) -> Result<i32, CreateClusterError> {
    i32::try_from(value)
        .map_err(|_| CreateClusterError::Invalid(format!("options.{field} is too large: {value}")))
}

pub async fn create(
    eks: &Client,
    install: &Install,
    cluster: &str,
    private_subnets: Vec<String>,
) -> Result<Nodegroup, CreateClusterError> {
    let name = cluster_plan::nodegroup_name(cluster);
    let options = &install.options;
    let node_role = install.resources.get("node_role_arn").ok_or_else(|| {
        CreateClusterError::Invalid(format!("install {} has no node_role_arn: the validate-trust step did not record the customer stack's outputs", install.install_id))
    })?;
    let scaling = NodegroupScalingConfig::builder()
        .min_size(size("node_min_size", options.node_min_size)?)
        .desired_size(size("node_desired_size", options.node_desired_size)?)
        .max_size(size("node_max_size", options.node_max_size)?)
        .build();
    let result = eks
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(&name)
        .node_role(node_role)
        .set_subnets(Some(private_subnets))
        .instance_types(&options.node_instance_type)
        .ami_type(AmiTypes::from(cluster_plan::ami_type(
            &options.node_instance_type,
        )))
        .disk_size(size("node_disk_size_gib", options.node_disk_size_gib)?)
        .scaling_config(scaling)
        .set_labels(Some(HashMap::from([(
            INSTALL_LABEL.to_owned(),
            install.install_id.to_string(),
        )])))
        .set_tags(Some(tag_map(install, &name)))
        .client_request_token(format!("{}-nodes", install.install_id))
        .send()
        .await;
    match result {
        Ok(out) => out.nodegroup.ok_or_else(|| {
            CreateClusterError::Core(byoc_domain::Error::Aws {
                service: "EKS",
                message: "CreateNodegroup returned no node group".into(),
            })
        }),
        Err(err) => match err.as_service_error() {
            Some(e) if e.is_resource_in_use_exception() => {
                describe(eks, cluster, &name).await?.ok_or_else(|| {
                    CreateClusterError::Core(byoc_domain::Error::Aws {
                        service: "EKS",
                        message: format!("node group {name} is in use but not found"),
                    })
                })
            }
            Some(e) if e.is_invalid_parameter_exception() => {
                Err(CreateClusterError::Invalid(format!(
                    "EKS refused to create node group {name}: {}",
                    eks_message(e)
                )))
            }
            _ => Err(aws("EKS", err)),
        },
    }
}

pub fn health_text(nodegroup: &Nodegroup) -> String {
    let issues = nodegroup.health().map(|h| h.issues()).unwrap_or_default();
    join_issues(
        issues
            .iter()
            .map(|i| issue_line(i.code().map(|c| c.as_str()), i.message()))
            .collect(),
    )
}
