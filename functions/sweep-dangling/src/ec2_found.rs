//! The install's EC2 resources: whatever carries its tag or its cluster's Kubernetes tag, and
//! every dependent inside its VPC, tagged or not. What AWS deletes with the VPC itself (the
//! default security group, the main route table) is left to it.

use std::collections::HashMap;

use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client;
use byoc_core::deletion_order::{Found, Kind, Reason, Scope};
use byoc_core::tags::{kubernetes_cluster_tag, INSTALL_TAG};
use byoc_core::Error;

use crate::discover::reason_for;

fn tag_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn aws(err: impl std::error::Error) -> Error {
    Error::aws("EC2", err)
}

/// The VPCs carrying the install's tag: the boundary of "inside the install's VPC".
pub async fn install_vpcs(ec2: &Client, install_id: &str) -> Result<Vec<Found>, Error> {
    let filter = Filter::builder()
        .name(format!("tag:{INSTALL_TAG}"))
        .values(install_id)
        .build();
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws)?;
    Ok(vpcs
        .iter()
        .filter_map(|v| {
            let id = v.vpc_id()?;
            Some(
                Found::new(Kind::Vpc, id, Reason::InstallTag)
                    .tags(tag_pairs(v.tags()))
                    .in_vpc(Some(id.to_owned())),
            )
        })
        .collect())
}

/// The three ways an EC2 resource is looked for; `vpc_filter` names the VPC filter of the
/// Describe call (`None` where the call has none).
fn lookups(scope: &Scope, vpc_filter: Option<&str>) -> Vec<Filter> {
    let mut filters = vec![
        Filter::builder()
            .name(format!("tag:{INSTALL_TAG}"))
            .values(&scope.install_id)
            .build(),
        Filter::builder()
            .name("tag-key")
            .values(kubernetes_cluster_tag(&scope.cluster_name))
            .build(),
    ];
    if let Some(name) = vpc_filter.filter(|_| !scope.vpc_ids.is_empty()) {
        filters.push(
            Filter::builder()
                .name(name)
                .set_values(Some(scope.vpc_ids.iter().cloned().collect()))
                .build(),
        );
    }
    filters
}

fn found(
    kind: Kind,
    id: Option<&str>,
    tags: &[Tag],
    vpc_id: Option<&str>,
    scope: &Scope,
) -> Option<Found> {
    let tags = tag_pairs(tags);
    let reason = reason_for(&tags, vpc_id, scope)?;
    Some(
        Found::new(kind, id?, reason)
            .tags(tags)
            .in_vpc(vpc_id.map(str::to_owned)),
    )
}

pub async fn in_scope(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let mut out = vec![];
    for filter in lookups(scope, Some("vpc-id")) {
        let subnets = ec2
            .describe_subnets()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        out.extend(
            subnets
                .iter()
                .filter_map(|s| found(Kind::Subnet, s.subnet_id(), s.tags(), s.vpc_id(), scope)),
        );
    }
    for filter in lookups(scope, Some("vpc-id")) {
        let groups = ec2
            .describe_security_groups()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        // The default group goes with its VPC and cannot be deleted on its own.
        let groups = groups.iter().filter(|g| g.group_name() != Some("default"));
        out.extend(groups.filter_map(|g| {
            found(
                Kind::SecurityGroup,
                g.group_id(),
                g.tags(),
                g.vpc_id(),
                scope,
            )
        }));
    }
    for filter in lookups(scope, Some("vpc-id")) {
        let tables = ec2
            .describe_route_tables()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for table in &tables {
            // The main table goes with its VPC.
            if table.associations().iter().any(|a| a.main() == Some(true)) {
                continue;
            }
            // Its associations are read again when it is deleted (they change as subnets go).
            out.extend(found(
                Kind::RouteTable,
                table.route_table_id(),
                table.tags(),
                table.vpc_id(),
                scope,
            ));
        }
    }
    for filter in lookups(scope, Some("attachment.vpc-id")) {
        let gateways = ec2
            .describe_internet_gateways()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for gateway in &gateways {
            let attached: Vec<String> = gateway
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(str::to_owned))
                .collect();
            // Attached to one of ours, it is inside it; attached elsewhere, its tag decides.
            let vpc = attached
                .iter()
                .find(|v| scope.vpc_ids.contains(*v))
                .or(attached.first())
                .cloned();
            out.extend(
                found(
                    Kind::InternetGateway,
                    gateway.internet_gateway_id(),
                    gateway.tags(),
                    vpc.as_deref(),
                    scope,
                )
                .map(|f| f.links(attached)),
            );
        }
    }
    let mut nat_addresses = vec![];
    for filter in lookups(scope, Some("vpc-id")) {
        let gateways = ec2
            .describe_nat_gateways()
            .filter(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for gateway in &gateways {
            let state = gateway.state().map(|s| s.as_str()).unwrap_or_default();
            if state == "deleted" {
                continue;
            }
            nat_addresses.extend(
                gateway
                    .nat_gateway_addresses()
                    .iter()
                    .filter_map(|a| a.allocation_id().map(str::to_owned)),
            );
            out.extend(
                found(
                    Kind::NatGateway,
                    gateway.nat_gateway_id(),
                    gateway.tags(),
                    gateway.vpc_id(),
                    scope,
                )
                .map(|f| f.deleting(state == "deleting")),
            );
        }
    }
    let mut interfaces_in_vpc: HashMap<String, String> = HashMap::new();
    for filter in lookups(scope, Some("vpc-id")) {
        let interfaces = ec2
            .describe_network_interfaces()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for eni in &interfaces {
            if let (Some(id), Some(vpc)) = (eni.network_interface_id(), eni.vpc_id()) {
                interfaces_in_vpc.insert(id.to_owned(), vpc.to_owned());
            }
            // Requester-managed interfaces (EKS's, load balancers', endpoints') belong to their
            // owner and go with it; nobody else may delete them (EC2 User Guide,
            // "Requester-managed network interfaces"). Their owner is what is waited for.
            if eni.requester_managed() == Some(true) {
                continue;
            }
            out.extend(found(
                Kind::NetworkInterface,
                eni.network_interface_id(),
                eni.tag_set(),
                eni.vpc_id(),
                scope,
            ));
        }
    }
    for filter in lookups(scope, Some("vpc-id")) {
        let endpoints = ec2
            .describe_vpc_endpoints()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for endpoint in &endpoints {
            let state = endpoint
                .state()
                .map(|s| s.as_str().to_ascii_lowercase())
                .unwrap_or_default();
            if state == "deleted" {
                continue;
            }
            out.extend(
                found(
                    Kind::VpcEndpoint,
                    endpoint.vpc_endpoint_id(),
                    endpoint.tags(),
                    endpoint.vpc_id(),
                    scope,
                )
                .map(|f| f.deleting(state == "deleting")),
            );
        }
    }
    // In-tree volumes name the cluster in their legacy tag too.
    let mut volume_lookups = lookups(scope, None);
    volume_lookups.push(
        Filter::builder()
            .name("tag:KubernetesCluster")
            .values(&scope.cluster_name)
            .build(),
    );
    for filter in volume_lookups {
        let volumes = ec2
            .describe_volumes()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for volume in &volumes {
            let state = volume.state().map(|s| s.as_str()).unwrap_or_default();
            if state == "deleted" {
                continue;
            }
            if let Some(mut f) = found(Kind::Volume, volume.volume_id(), volume.tags(), None, scope)
            {
                f.size_gib = volume.size().map(i64::from);
                f.volume_type = volume.volume_type().map(|t| t.as_str().to_owned());
                out.push(f.deleting(state == "deleting"));
            }
        }
    }
    out.extend(instances(ec2, scope).await?);
    // Addresses have no VPC filter: one is the install's by tag, or by being mapped to an
    // interface (or NAT gateway) inside its VPC.
    let addresses = ec2.describe_addresses().send().await.map_err(aws)?;
    for address in addresses.addresses() {
        let vpc = address
            .network_interface_id()
            .and_then(|eni| interfaces_in_vpc.get(eni))
            .cloned()
            .or_else(|| {
                address
                    .allocation_id()
                    .filter(|a| nat_addresses.iter().any(|n| n == a))
                    .and_then(|_| scope.vpc_ids.first().cloned())
            });
        out.extend(found(
            Kind::ElasticIp,
            address.allocation_id(),
            address.tags(),
            vpc.as_deref(),
            scope,
        ));
    }
    Ok(out)
}

/// Instances launched for the cluster outside managed node groups (Karpenter names it in
/// `eks:eks-cluster-name`, self-managed nodes carry `kubernetes.io/cluster/<cluster>`), and
/// any instance inside the install's VPC (which the safety rule keeps unless one of those
/// tags says it is the cluster's). Terminated ones are gone; shutting-down ones are going.
async fn instances(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let mut filters = lookups(scope, Some("vpc-id"));
    for key in ["eks:eks-cluster-name", "eks:cluster-name"] {
        filters.push(
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(&scope.cluster_name)
                .build(),
        );
    }
    let mut out = vec![];
    for filter in filters {
        let reservations = ec2
            .describe_instances()
            .filters(filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(aws)?;
        for instance in reservations.iter().flat_map(|r| r.instances()) {
            let state = instance
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str())
                .unwrap_or_default();
            if state == "terminated" {
                continue;
            }
            if let Some(mut f) = found(
                Kind::Instance,
                instance.instance_id(),
                instance.tags(),
                instance.vpc_id(),
                scope,
            ) {
                f.instance_type = instance.instance_type().map(|t| t.as_str().to_owned());
                out.push(f.deleting(state == "shutting-down"));
            }
        }
    }
    Ok(out)
}
