//! The EKS control plane: find it by name, or create it with everything an install wants.

use std::collections::HashMap;

use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::types::{
    AuthenticationMode, Cluster, CreateAccessConfigRequest, LogSetup, LogType, Logging,
    SupportType as EksSupportType, UpgradePolicyRequest, VpcConfigRequest,
};
use aws_sdk_eks::Client;
use byoc_domain::cluster_plan::{self, OfferedVersion};
use byoc_domain::model::Install;
use byoc_domain::tags::install_tags;

use crate::error::{aws, eks_message, CreateClusterError};
use crate::network::InstallNetwork;
use crate::settings::Settings;

/// The control-plane logs a customer's security team asks for first: API calls, the audit
/// trail, and who authenticated. (Scheduler and controller-manager logs are noise for them.)
const LOG_TYPES: [LogType; 3] = [LogType::Api, LogType::Audit, LogType::Authenticator];

pub async fn describe(eks: &Client, name: &str) -> Result<Option<Cluster>, CreateClusterError> {
    match eks.describe_cluster().name(name).send().await {
        Ok(out) => Ok(out.cluster),
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

/// What EKS offers in the region, with support dates.
pub async fn offered_versions(eks: &Client) -> Result<Vec<OfferedVersion>, CreateClusterError> {
    Ok(byoc_core::aws::eks_versions::offered_versions(eks).await?)
}

pub fn tag_map(install: &Install, name: &str) -> HashMap<String, String> {
    install_tags(install, name).into_iter().collect()
}

/// Asks EKS for the cluster. A cluster already there under this name (a retry after a
/// timeout) is fetched, not an error.
pub async fn create(
    eks: &Client,
    install: &Install,
    network: &InstallNetwork,
    version: &str,
    settings: &Settings,
) -> Result<Cluster, CreateClusterError> {
    let name = byoc_domain::tags::cluster_name(install);
    let role_arn = install.resources.get("cluster_role_arn").ok_or_else(|| {
        CreateClusterError::Invalid(format!("install {} has no cluster_role_arn: the validate-trust step did not record the customer stack's outputs", install.install_id))
    })?;
    let vpc = VpcConfigRequest::builder()
        .set_subnet_ids(Some(network.all_subnet_ids()))
        .endpoint_public_access(true)
        .endpoint_private_access(true)
        .set_public_access_cidrs(Some(settings.public_access_cidrs.clone()))
        .build();
    let logging = Logging::builder()
        .cluster_logging(
            LogSetup::builder()
                .set_types(Some(LOG_TYPES.to_vec()))
                .enabled(true)
                .build(),
        )
        .build();
    // Access entries, not the aws-auth ConfigMap; and the installer's own role gets no
    // standing admin rights in the customer's cluster: the vendor's access is its own entry.
    let access = CreateAccessConfigRequest::builder()
        .authentication_mode(AuthenticationMode::Api)
        .bootstrap_cluster_creator_admin_permissions(false)
        .build();
    let request = eks
        .create_cluster()
        .name(&name)
        .version(version)
        .role_arn(role_arn)
        .resources_vpc_config(vpc)
        .logging(logging)
        .access_config(access)
        // EKS's own default is EXTENDED: six times the price once the version ages out.
        .upgrade_policy(
            UpgradePolicyRequest::builder()
                .support_type(EksSupportType::from(
                    install.options.support_type.eks_name(),
                ))
                .build(),
        )
        .set_tags(Some(tag_map(install, &name)))
        .client_request_token(format!("{}-cluster", install.install_id));
    match request.send().await {
        Ok(out) => out.cluster.ok_or_else(|| aws_missing("CreateCluster")),
        Err(err) => match err.as_service_error() {
            Some(e) if e.is_resource_in_use_exception() => describe(eks, &name)
                .await?
                .ok_or_else(|| aws_missing("DescribeCluster")),
            Some(e)
                if e.is_invalid_parameter_exception()
                    // Not in CreateCluster's modelled errors, but what EKS answers a policy
                    // the version cannot have.
                    || e.code() == Some("InvalidRequestException")
                    || e.is_unsupported_availability_zone_exception()
                    || e.is_resource_limit_exceeded_exception() =>
            {
                Err(CreateClusterError::Invalid(format!(
                    "EKS refused to create cluster {name}: {}",
                    eks_message(e)
                )))
            }
            _ => Err(aws("EKS", err)),
        },
    }
}

fn aws_missing(operation: &str) -> CreateClusterError {
    CreateClusterError::Core(byoc_domain::Error::Aws {
        service: "EKS",
        message: format!("{operation} returned no cluster"),
    })
}

/// EKS's health issues of a failed cluster, as one line: `code: message; ...`.
pub fn health_text(cluster: &Cluster) -> String {
    let issues: Vec<String> = cluster
        .health()
        .map(|h| h.issues())
        .unwrap_or_default()
        .iter()
        .map(|i| issue_line(i.code().map(|c| c.as_str()), i.message()))
        .collect();
    join_issues(issues)
}

pub fn issue_line(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message.to_owned(),
        (Some(code), None) => code.to_owned(),
        (None, None) => "an unnamed issue".to_owned(),
    }
}

pub fn join_issues(issues: Vec<String>) -> String {
    if issues.is_empty() {
        "EKS reported no health issue".to_owned()
    } else {
        issues.join("; ")
    }
}

/// The requested version (the install's option) or the newest in standard support.
pub fn plan_version(
    install: &Install,
    offered: &[OfferedVersion],
) -> Result<String, CreateClusterError> {
    Ok(cluster_plan::kubernetes_version(
        install.options.kubernetes_version.as_deref(),
        install.options.support_type,
        offered,
    )?)
}
