//! One deletion call per found resource, each answered as an [`Attempt`]. Nothing here waits:
//! what AWS finishes later is `Started` and looked at again by the next pass.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use byoc_core::deletion_order::{Found, Kind};
use tracing::debug;

use crate::attempt::{self, Attempt};
use crate::discover::Clients;

fn answer<T, E: ProvideErrorMetadata>(result: Result<T, E>, done: Attempt) -> Attempt {
    match result {
        Ok(_) => done,
        Err(err) => attempt::from_error(err.code(), err.message()),
    }
}

/// Deletes `found` (in the install's cluster `cluster` for EKS kinds).
pub async fn delete(c: &Clients, cluster: &str, found: &Found) -> Attempt {
    let id = found.id.as_str();
    match found.kind {
        Kind::KubernetesService | Kind::KubernetesIngress | Kind::KubernetesVolumeClaim => {
            match c.kube.get() {
                Some(Some(api)) => api.delete(found.kind, id).await,
                // Found through the API, so it served a moment ago; ask again next pass.
                _ => Attempt::Later {
                    code: "KubernetesApiUnavailable".into(),
                },
            }
        }
        Kind::Nodegroup => answer(
            c.eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(id)
                .send()
                .await,
            Attempt::Started,
        ),
        Kind::Addon => answer(
            c.eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(id)
                .send()
                .await,
            Attempt::Started,
        ),
        Kind::AccessEntry => answer(
            c.eks
                .delete_access_entry()
                .cluster_name(cluster)
                .principal_arn(id)
                .send()
                .await,
            Attempt::Gone,
        ),
        Kind::Cluster => answer(
            c.eks.delete_cluster().name(id).send().await,
            Attempt::Started,
        ),
        // Terminated takes a while; the next pass sees it shutting-down, then gone.
        Kind::Instance => answer(
            c.ec2.terminate_instances().instance_ids(id).send().await,
            Attempt::Started,
        ),
        Kind::ClassicLoadBalancer => answer(
            c.classic_elb
                .delete_load_balancer()
                .load_balancer_name(id)
                .send()
                .await,
            Attempt::Gone,
        ),
        Kind::LoadBalancer => answer(
            c.elb
                .delete_load_balancer()
                .load_balancer_arn(id)
                .send()
                .await,
            Attempt::Gone,
        ),
        Kind::TargetGroup => answer(
            c.elb
                .delete_target_group()
                .target_group_arn(id)
                .send()
                .await,
            Attempt::Gone,
        ),
        Kind::VpcEndpoint => match c
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
        {
            // This call reports per-endpoint refusals in its answer, not as an error.
            Ok(out) => match out.unsuccessful().first().and_then(|u| u.error()) {
                Some(err) => attempt::from_error(err.code(), err.message()),
                None => Attempt::Started,
            },
            Err(err) => attempt::from_error(err.code(), err.message()),
        },
        Kind::Volume => answer(
            c.ec2.delete_volume().volume_id(id).send().await,
            Attempt::Gone,
        ),
        Kind::NatGateway => answer(
            c.ec2.delete_nat_gateway().nat_gateway_id(id).send().await,
            Attempt::Started,
        ),
        Kind::ElasticIp => answer(
            c.ec2.release_address().allocation_id(id).send().await,
            Attempt::Gone,
        ),
        Kind::NetworkInterface => answer(
            c.ec2
                .delete_network_interface()
                .network_interface_id(id)
                .send()
                .await,
            Attempt::Gone,
        ),
        Kind::SecurityGroup => answer(
            c.ec2.delete_security_group().group_id(id).send().await,
            Attempt::Gone,
        ),
        Kind::Subnet => answer(
            c.ec2.delete_subnet().subnet_id(id).send().await,
            Attempt::Gone,
        ),
        Kind::RouteTable => {
            // Associations as they are now: a subnet deleted earlier in this pass took its
            // association with it, and asking to undo that one is refused (its subnet is gone).
            let associations = match c
                .ec2
                .describe_route_tables()
                .route_table_ids(id)
                .send()
                .await
            {
                Ok(out) => out
                    .route_tables()
                    .iter()
                    .flat_map(|t| t.associations())
                    .filter(|a| a.main() != Some(true))
                    .filter_map(|a| a.route_table_association_id().map(str::to_owned))
                    .collect::<Vec<_>>(),
                Err(err) => return attempt::from_error(err.code(), err.message()),
            };
            for association in &associations {
                let undone = answer(
                    c.ec2
                        .disassociate_route_table()
                        .association_id(association)
                        .send()
                        .await,
                    Attempt::Gone,
                );
                // Undone meanwhile (its subnet was deleted by another pass): nothing to undo.
                if undone != Attempt::Gone && associated(c, id, association).await {
                    return undone;
                }
            }
            answer(
                c.ec2.delete_route_table().route_table_id(id).send().await,
                Attempt::Gone,
            )
        }
        Kind::InternetGateway => {
            for vpc in &found.links {
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
                    Err(err) => return attempt::from_error(err.code(), err.message()),
                }
            }
            answer(
                c.ec2
                    .delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await,
                Attempt::Gone,
            )
        }
        Kind::Vpc => answer(c.ec2.delete_vpc().vpc_id(id).send().await, Attempt::Gone),
        Kind::LogGroup => answer(
            c.logs.delete_log_group().log_group_name(id).send().await,
            Attempt::Gone,
        ),
    }
}

/// Whether `association` still ties a subnet to route table `table` (true when unsure).
async fn associated(c: &Clients, table: &str, association: &str) -> bool {
    match c
        .ec2
        .describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
    {
        Ok(out) => out
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .any(|a| a.route_table_association_id() == Some(association)),
        Err(_) => true,
    }
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
