//! Who reaches the cluster's Kubernetes API, by EKS access entries (no aws-auth ConfigMap is
//! ever edited): the vendor's deploy role with the cluster-admin access policy, to deploy its
//! software; and the installer's own role with the edit policy, so a removal can delete the
//! Services, Ingresses and volume claims whose controllers made AWS resources before the
//! cluster goes (sweep-dangling's `kubernetes` module).

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use aws_sdk_eks::Client;
use byoc_domain::cluster_plan::{CLUSTER_ADMIN_POLICY_ARN, EDIT_POLICY_ARN};
use byoc_domain::model::Install;
use byoc_lambda::fault::Fault;

use crate::cluster::tag_map;
use crate::error::{aws, eks_message, CreateClusterError};

/// Makes sure `principal_arn` is cluster admin, reading before writing (the install record
/// cannot tell: a cluster deleted and made again keeps its name and ARN). The entry and its
/// policies are read at once; when both are in place that is the whole call. True when it had
/// to create or associate something.
pub async fn ensure_vendor_admin(
    eks: &Client,
    install: &Install,
    cluster: &str,
    principal_arn: &str,
    fault: &Fault,
) -> Result<bool, CreateClusterError> {
    ensure_access(
        eks,
        install,
        cluster,
        principal_arn,
        CLUSTER_ADMIN_POLICY_ARN,
        "vendor-access",
        fault,
    )
    .await
}

/// The installer role's entry (the install's `customer_role_arn`), with the edit policy cluster-wide.
pub async fn ensure_installer_edit(
    eks: &Client,
    install: &Install,
    cluster: &str,
    fault: &Fault,
) -> Result<Option<String>, CreateClusterError> {
    let role = install.resources.get("customer_role_arn").ok_or_else(|| {
        CreateClusterError::Invalid(format!("install {} has no customer_role_arn: the validate-trust step did not record the installer role", install.install_id))
    })?;
    let changed = ensure_access(
        eks,
        install,
        cluster,
        role,
        EDIT_POLICY_ARN,
        "installer-access",
        fault,
    )
    .await?;
    Ok(changed.then(|| role.clone()))
}

/// An access entry for `principal_arn` with `policy_arn` at cluster scope; whether anything
/// had to be made. `purpose` names the entry and its idempotency token.
async fn ensure_access(
    eks: &Client,
    install: &Install,
    cluster: &str,
    principal_arn: &str,
    policy_arn: &str,
    purpose: &str,
    fault: &Fault,
) -> Result<bool, CreateClusterError> {
    let (entry, associated) = tokio::join!(
        eks.describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .send(),
        eks.list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .send(),
    );
    let mut changed = false;
    match entry {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            create_entry(eks, install, cluster, principal_arn, purpose).await?;
            // Before the admin policy is associated: the next run must still associate it.
            fault.point("access-entry");
            changed = true;
        }
        Err(err) => return Err(aws("EKS", err)),
    }
    let is_admin = match associated {
        Ok(out) => out.associated_access_policies().iter().any(|p| {
            p.policy_arn() == Some(policy_arn)
                && p.access_scope().and_then(|s| s.r#type()) == Some(&AccessScopeType::Cluster)
        }),
        // No entry yet (just made above): nothing is associated with it.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(err) => return Err(aws("EKS", err)),
    };
    if !is_admin {
        eks.associate_access_policy()
            .cluster_name(cluster)
            .principal_arn(principal_arn)
            .policy_arn(policy_arn)
            .access_scope(
                AccessScope::builder()
                    .r#type(AccessScopeType::Cluster)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws("EKS", e))?;
        changed = true;
    }
    Ok(changed)
}

async fn create_entry(
    eks: &Client,
    install: &Install,
    cluster: &str,
    principal_arn: &str,
    purpose: &str,
) -> Result<(), CreateClusterError> {
    let created = eks
        .create_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal_arn)
        .set_tags(Some(tag_map(install, &format!("{cluster}-{purpose}"))))
        .client_request_token(format!("{}-{purpose}", install.install_id))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        // A concurrent call made it between our read and this write.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(err) => match err.as_service_error() {
            Some(e) if e.is_invalid_parameter_exception() || e.is_invalid_request_exception() => {
                Err(CreateClusterError::Invalid(format!(
                    "EKS refused an access entry for {principal_arn}: {}",
                    eks_message(e)
                )))
            }
            _ => Err(aws("EKS", err)),
        },
    }
}
