//! The AWS Load Balancer Controller's AWS identity: an EKS Pod Identity association giving the
//! customer stack's `LoadBalancerControllerRole` to `kube-system/aws-load-balancer-controller`,
//! the service account the Helm values on the install record name. The vendor installs the
//! chart after the install is ready, so the association is there before the controller's
//! pods start, which is when EKS hands them credentials (EKS User Guide, "Understand how EKS
//! Pod Identity works"). The nodes give pods none: AL2023 node groups set the instance metadata
//! hop limit to 1. The association goes with the cluster (EKS deletes a cluster's associations
//! with it), so removal has nothing more to do.

use aws_sdk_eks::types::PodIdentityAssociation;
use aws_sdk_eks::Client;
use byoc_domain::controller_tags::{
    CONTROLLER_NAMESPACE, LOAD_BALANCER_CONTROLLER_ROLE_KEY,
    LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
};
use byoc_domain::model::Install;
use serde::{Deserialize, Serialize};

use crate::cluster::tag_map;
use crate::error::{aws, eks_message, CreateClusterError};

/// Who the controller runs as, kept on the install record with the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerIdentity {
    /// `namespace/name` of the service account.
    pub service_account: String,
    pub role_arn: String,
    pub association_arn: String,
}

/// The association for the controller, made when missing: `None` when the customer stack
/// has no role for the controller (made from a template before version 5). An association for
/// that service account made by someone else, with another role, is left alone and reported
/// as it is: EKS allows one per service account, and it is not ours to replace.
pub async fn ensure_load_balancer_controller(
    eks: &Client,
    install: &Install,
    cluster: &str,
) -> Result<Option<(ControllerIdentity, bool)>, CreateClusterError> {
    let Some(role) = install.resources.get(LOAD_BALANCER_CONTROLLER_ROLE_KEY) else {
        return Ok(None);
    };
    if let Some(found) = find(eks, cluster).await? {
        return Ok(Some((identity(&found), false)));
    }
    let created = eks
        .create_pod_identity_association()
        .cluster_name(cluster)
        .namespace(CONTROLLER_NAMESPACE)
        .service_account(LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT)
        .role_arn(role)
        .set_tags(Some(tag_map(
            install,
            &format!("{cluster}-load-balancer-controller"),
        )))
        .client_request_token(format!("{}-lbc-identity", install.install_id))
        .send()
        .await;
    match created {
        Ok(out) => {
            let association = out.association();
            Ok(Some((
                ControllerIdentity {
                    service_account: service_account(),
                    role_arn: association
                        .and_then(|a| a.role_arn())
                        .unwrap_or(role)
                        .to_owned(),
                    association_arn: association
                        .and_then(|a| a.association_arn())
                        .unwrap_or_default()
                        .to_owned(),
                },
                true,
            )))
        }
        // Made by a concurrent call between our read and this write: read it.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            let found = find(eks, cluster).await?.ok_or_else(|| {
                CreateClusterError::Core(byoc_domain::Error::Aws {
                    service: "EKS",
                    message: format!(
                        "EKS said an association for {} exists in {cluster} but lists none",
                        service_account()
                    ),
                })
            })?;
            Ok(Some((identity(&found), false)))
        }
        Err(err) => match err.as_service_error() {
            Some(e) if e.is_invalid_parameter_exception() || e.is_invalid_request_exception() => {
                Err(CreateClusterError::Invalid(format!(
                    "EKS refused the Load Balancer Controller's role {role} for {}: {}; update the customer stack from the install link",
                    service_account(),
                    eks_message(e)
                )))
            }
            _ => Err(aws("EKS", err)),
        },
    }
}

fn service_account() -> String {
    format!("{CONTROLLER_NAMESPACE}/{LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT}")
}

fn identity(found: &PodIdentityAssociation) -> ControllerIdentity {
    ControllerIdentity {
        service_account: service_account(),
        role_arn: found.role_arn().unwrap_or_default().to_owned(),
        association_arn: found.association_arn().unwrap_or_default().to_owned(),
    }
}

/// The association for the controller's service account, if any (at most one: EKS refuses a
/// second), described for its role (the listing does not carry it).
async fn find(
    eks: &Client,
    cluster: &str,
) -> Result<Option<PodIdentityAssociation>, CreateClusterError> {
    let listed = eks
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .namespace(CONTROLLER_NAMESPACE)
        .service_account(LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT)
        .send()
        .await
        .map_err(|e| aws("EKS", e))?;
    let Some(id) = listed
        .associations()
        .first()
        .and_then(|a| a.association_id())
    else {
        return Ok(None);
    };
    let described = eks
        .describe_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id)
        .send()
        .await
        .map_err(|e| aws("EKS", e))?;
    Ok(described.association().cloned())
}
