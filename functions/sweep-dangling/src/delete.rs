//! One deletion call per found resource, each answered as an [`Attempt`]. Nothing here waits:
//! what AWS finishes later is `Started` and looked at again by the next pass.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::RouteTableAssociation;
use byoc_domain::deletion_order::{Found, Kind};
use tracing::debug;

use crate::attempt::{self, Attempt};
use crate::clients::Clients;

/// What an accepted deletion of `kind` means: gone at once, or started and finished by AWS
/// later, which the next pass then waits for (never a sleep here).
pub fn accepted(kind: Kind) -> Attempt {
    match kind {
        // Terminated takes a while; the next pass sees it shutting-down, then gone.
        Kind::Instance => Attempt::Started,
        Kind::Nodegroup | Kind::Addon | Kind::Cluster | Kind::NatGateway | Kind::VpcEndpoint => {
            Attempt::Started
        }
        Kind::AccessEntry
        | Kind::ClassicLoadBalancer
        | Kind::LoadBalancer
        | Kind::TargetGroup
        | Kind::Volume
        | Kind::ElasticIp
        | Kind::NetworkInterface
        | Kind::SecurityGroup
        | Kind::Subnet
        | Kind::RouteTable
        | Kind::InternetGateway
        | Kind::Vpc
        | Kind::LogGroup => Attempt::Gone,
        // Never asked: the Kubernetes API's own answer says which (see `delete`).
        Kind::KubernetesService | Kind::KubernetesIngress | Kind::KubernetesVolumeClaim => {
            Attempt::Gone
        }
    }
}

/// What a refusal means for the resource (its error code decides).
fn refusal(err: impl ProvideErrorMetadata) -> Attempt {
    attempt::from_error(err.code(), err.message())
}

/// A call's answer: accepted, or refused with what the refusal means.
fn sent<T, E: ProvideErrorMetadata>(answer: Result<T, E>) -> Result<(), Attempt> {
    answer.map(|_| ()).map_err(refusal)
}

/// Deletes `found` (in the install's cluster `cluster` for EKS kinds).
pub async fn delete(c: &Clients, cluster: &str, found: &Found) -> Attempt {
    let id = found.id.as_str();
    let answer = match found.kind {
        Kind::KubernetesService | Kind::KubernetesIngress | Kind::KubernetesVolumeClaim => {
            // The API says itself whether the object is gone or its finalizers still run.
            return match c.kube.get() {
                Some(Some(api)) => api.delete(found.kind, id).await,
                // Found through the API, so it served a moment ago; ask again next pass.
                _ => Attempt::Later {
                    code: "KubernetesApiUnavailable".into(),
                },
            };
        }
        Kind::Nodegroup => sent(
            c.eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(id)
                .send()
                .await,
        ),
        Kind::Addon => sent(
            c.eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(id)
                .send()
                .await,
        ),
        Kind::AccessEntry => sent(
            c.eks
                .delete_access_entry()
                .cluster_name(cluster)
                .principal_arn(id)
                .send()
                .await,
        ),
        Kind::Cluster => sent(c.eks.delete_cluster().name(id).send().await),
        Kind::Instance => sent(c.ec2.terminate_instances().instance_ids(id).send().await),
        Kind::ClassicLoadBalancer => sent(
            c.classic_elb
                .delete_load_balancer()
                .load_balancer_name(id)
                .send()
                .await,
        ),
        Kind::LoadBalancer => sent(
            c.elb
                .delete_load_balancer()
                .load_balancer_arn(id)
                .send()
                .await,
        ),
        Kind::TargetGroup => sent(
            c.elb
                .delete_target_group()
                .target_group_arn(id)
                .send()
                .await,
        ),
        Kind::VpcEndpoint => vpc_endpoint(c, id).await,
        Kind::Volume => sent(c.ec2.delete_volume().volume_id(id).send().await),
        Kind::NatGateway => sent(c.ec2.delete_nat_gateway().nat_gateway_id(id).send().await),
        Kind::ElasticIp => sent(c.ec2.release_address().allocation_id(id).send().await),
        Kind::NetworkInterface => sent(
            c.ec2
                .delete_network_interface()
                .network_interface_id(id)
                .send()
                .await,
        ),
        Kind::SecurityGroup => sent(c.ec2.delete_security_group().group_id(id).send().await),
        Kind::Subnet => sent(c.ec2.delete_subnet().subnet_id(id).send().await),
        Kind::RouteTable => route_table(c, id).await,
        Kind::InternetGateway => internet_gateway(c, id, &found.links).await,
        Kind::Vpc => sent(c.ec2.delete_vpc().vpc_id(id).send().await),
        Kind::LogGroup => sent(c.logs.delete_log_group().log_group_name(id).send().await),
    };
    match answer {
        Ok(()) => accepted(found.kind),
        Err(refused) => refused,
    }
}

async fn vpc_endpoint(c: &Clients, id: &str) -> Result<(), Attempt> {
    let out = c
        .ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .map_err(refusal)?;
    // This call reports per-endpoint refusals in its answer, not as an error.
    match out.unsuccessful().first().and_then(|u| u.error()) {
        Some(err) => Err(attempt::from_error(err.code(), err.message())),
        None => Ok(()),
    }
}

/// The route table's associations as they are now.
async fn associations(c: &Clients, table: &str) -> Result<Vec<RouteTableAssociation>, Attempt> {
    let out = c
        .ec2
        .describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
        .map_err(refusal)?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .cloned()
        .collect())
}

async fn route_table(c: &Clients, id: &str) -> Result<(), Attempt> {
    // Associations as they are now: a subnet deleted earlier in this pass took its
    // association with it, and asking to undo that one is refused (its subnet is gone).
    let associations: Vec<String> = associations(c, id)
        .await?
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| a.route_table_association_id().map(str::to_owned))
        .collect();
    for association in &associations {
        let undone = c
            .ec2
            .disassociate_route_table()
            .association_id(association)
            .send()
            .await;
        // Undone meanwhile (its subnet was deleted by another pass): nothing to undo.
        if let Err(refused) = sent(undone) {
            if refused != Attempt::Gone && associated(c, id, association).await {
                return Err(refused);
            }
        }
    }
    sent(c.ec2.delete_route_table().route_table_id(id).send().await)
}

/// Whether `association` still ties a subnet to route table `table` (true when unsure).
async fn associated(c: &Clients, table: &str, association: &str) -> bool {
    match associations(c, table).await {
        Ok(all) => all
            .iter()
            .any(|a| a.route_table_association_id() == Some(association)),
        Err(_) => true,
    }
}

async fn internet_gateway(c: &Clients, id: &str, vpcs: &[String]) -> Result<(), Attempt> {
    for vpc in vpcs {
        match c
            .ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
        {
            Ok(_) => {}
            // Detached meanwhile: the delete below is what matters.
            Err(err) if err.code() == Some("Gateway.NotAttached") => {}
            Err(err) => return Err(refusal(err)),
        }
    }
    sent(
        c.ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await,
    )
}

/// Revokes every rule of `group_ids`, so groups that reference one another (a load
/// balancer's group allowed into the nodes' group) do not hold each other up. A refusal
/// here shows up as the group's DependencyViolation later, so it is only logged.
pub async fn revoke_rules(c: &Clients, group_ids: &[String]) {
    if group_ids.is_empty() {
        return;
    }
    let described = match c
        .ec2
        .describe_security_groups()
        .set_group_ids(Some(group_ids.to_vec()))
        .send()
        .await
    {
        Ok(out) => out,
        Err(err) => {
            debug!(code = ?err.code(), "could not read security group rules");
            return;
        }
    };
    for group in described.security_groups() {
        let Some(id) = group.group_id() else { continue };
        if !group.ip_permissions().is_empty() {
            let revoked = c
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(group.ip_permissions().to_vec()))
                .send()
                .await;
            if let Err(err) = revoked {
                debug!(group = id, code = ?err.code(), "could not revoke ingress rules");
            }
        }
        if !group.ip_permissions_egress().is_empty() {
            let revoked = c
                .ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(group.ip_permissions_egress().to_vec()))
                .send()
                .await;
            if let Err(err) = revoked {
                debug!(group = id, code = ?err.code(), "could not revoke egress rules");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_aws_finishes_later_is_started_the_rest_is_gone() {
        for kind in [
            Kind::Instance,
            Kind::Nodegroup,
            Kind::Addon,
            Kind::Cluster,
            Kind::NatGateway,
            Kind::VpcEndpoint,
        ] {
            assert_eq!(accepted(kind), Attempt::Started, "{kind}");
        }
        for kind in [
            Kind::AccessEntry,
            Kind::ClassicLoadBalancer,
            Kind::LoadBalancer,
            Kind::TargetGroup,
            Kind::Volume,
            Kind::ElasticIp,
            Kind::NetworkInterface,
            Kind::SecurityGroup,
            Kind::Subnet,
            Kind::RouteTable,
            Kind::InternetGateway,
            Kind::Vpc,
            Kind::LogGroup,
        ] {
            assert_eq!(accepted(kind), Attempt::Gone, "{kind}");
        }
    }
}
