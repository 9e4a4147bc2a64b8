//! The install's EC2 resources: whatever carries its tag or its cluster's Kubernetes tag, and
//! every dependent inside its VPC, tagged or not. What AWS deletes with the VPC itself (the
//! default security group, the main route table) is left to it.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client;
use byoc_domain::deletion_order::{Found, Kind, Reason, Scope};
use byoc_domain::tags::{kubernetes_cluster_tag, INSTALL_TAG};
use byoc_domain::Error;

use super::ownership::reason_for;

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

/// Everything one paginated Describe call lists for each of `filters`, a call a filter, in
/// order. The same resource may come back from more than one filter; discovery keeps the first.
async fn listed<T, E, Fut>(
    filters: Vec<Filter>,
    describe: impl Fn(Filter) -> Fut,
) -> Result<Vec<T>, Error>
where
    Fut: Future<Output = Result<Vec<T>, E>>,
    E: std::error::Error,
{
    let mut out = vec![];
    for filter in filters {
        out.extend(describe(filter).await.map_err(aws)?);
    }
    Ok(out)
}

/// The VPCs carrying the install's tag: the boundary of "inside the install's VPC".
pub async fn install_vpcs(ec2: &Client, install_id: &str) -> Result<Vec<Found>, Error> {
    let filter = Filter::builder()
        .name(format!("tag:{INSTALL_TAG}"))
        .values(install_id)
        .build();
    let vpcs = listed(vec![filter], |f| {
        ec2.describe_vpcs()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
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

/// Everything of the install's that EC2 holds, one kind after another.
pub async fn in_scope(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let mut out = subnets(ec2, scope).await?;
    out.extend(security_groups(ec2, scope).await?);
    out.extend(route_tables(ec2, scope).await?);
    out.extend(internet_gateways(ec2, scope).await?);
    let (nat_gateways, nat_addresses) = nat_gateways(ec2, scope).await?;
    out.extend(nat_gateways);
    let (interfaces, interfaces_in_vpc) = network_interfaces(ec2, scope).await?;
    out.extend(interfaces);
    out.extend(vpc_endpoints(ec2, scope).await?);
    out.extend(volumes(ec2, scope).await?);
    out.extend(instances(ec2, scope).await?);
    out.extend(addresses(ec2, scope, &interfaces_in_vpc, &nat_addresses).await?);
    Ok(out)
}

async fn subnets(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let subnets = listed(lookups(scope, Some("vpc-id")), |f| {
        ec2.describe_subnets()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    Ok(subnets
        .iter()
        .filter_map(|s| found(Kind::Subnet, s.subnet_id(), s.tags(), s.vpc_id(), scope))
        .collect())
}

async fn security_groups(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let groups = listed(lookups(scope, Some("vpc-id")), |f| {
        ec2.describe_security_groups()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    // The default group goes with its VPC and cannot be deleted on its own.
    let groups = groups.iter().filter(|g| g.group_name() != Some("default"));
    Ok(groups
        .filter_map(|g| {
            found(
                Kind::SecurityGroup,
                g.group_id(),
                g.tags(),
                g.vpc_id(),
                scope,
            )
        })
        .collect())
}

async fn route_tables(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let tables = listed(lookups(scope, Some("vpc-id")), |f| {
        ec2.describe_route_tables()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    // The main table goes with its VPC. Its associations are read again when it is deleted
    // (they change as subnets go).
    let tables = tables
        .iter()
        .filter(|t| !t.associations().iter().any(|a| a.main() == Some(true)));
    Ok(tables
        .filter_map(|t| {
            found(
                Kind::RouteTable,
                t.route_table_id(),
                t.tags(),
                t.vpc_id(),
                scope,
            )
        })
        .collect())
}

async fn internet_gateways(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let gateways = listed(lookups(scope, Some("attachment.vpc-id")), |f| {
        ec2.describe_internet_gateways()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    let mut out = vec![];
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
    Ok(out)
}

/// The NAT gateways, and the allocation ids of every address they hold (an address is inside
/// the VPC through its NAT gateway).
async fn nat_gateways(ec2: &Client, scope: &Scope) -> Result<(Vec<Found>, Vec<String>), Error> {
    let gateways = listed(lookups(scope, Some("vpc-id")), |f| {
        ec2.describe_nat_gateways()
            .filter(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    let (mut out, mut addresses) = (vec![], vec![]);
    for gateway in &gateways {
        let state = gateway.state().map(|s| s.as_str()).unwrap_or_default();
        if state == "deleted" {
            continue;
        }
        addresses.extend(
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
    Ok((out, addresses))
}

/// The network interfaces the install may delete, and the VPC of every interface listed (an
/// address is inside the VPC through its interface).
async fn network_interfaces(
    ec2: &Client,
    scope: &Scope,
) -> Result<(Vec<Found>, HashMap<String, String>), Error> {
    let interfaces = listed(lookups(scope, Some("vpc-id")), |f| {
        ec2.describe_network_interfaces()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    let (mut out, mut in_vpc) = (vec![], HashMap::new());
    for eni in &interfaces {
        if let (Some(id), Some(vpc)) = (eni.network_interface_id(), eni.vpc_id()) {
            in_vpc.insert(id.to_owned(), vpc.to_owned());
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
    Ok((out, in_vpc))
}

async fn vpc_endpoints(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    let endpoints = listed(lookups(scope, Some("vpc-id")), |f| {
        ec2.describe_vpc_endpoints()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    let mut out = vec![];
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
    Ok(out)
}

async fn volumes(ec2: &Client, scope: &Scope) -> Result<Vec<Found>, Error> {
    // In-tree volumes name the cluster in their legacy tag too.
    let mut filters = lookups(scope, None);
    filters.push(
        Filter::builder()
            .name("tag:KubernetesCluster")
            .values(&scope.cluster_name)
            .build(),
    );
    let volumes = listed(filters, |f| {
        ec2.describe_volumes()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    let mut out = vec![];
    for volume in &volumes {
        let state = volume.state().map(|s| s.as_str()).unwrap_or_default();
        if state == "deleted" {
            continue;
        }
        if let Some(mut f) = found(Kind::Volume, volume.volume_id(), volume.tags(), None, scope) {
            f.size_gib = volume.size().map(i64::from);
            f.volume_type = volume.volume_type().map(|t| t.as_str().to_owned());
            out.push(f.deleting(state == "deleting"));
        }
    }
    Ok(out)
}

/// Addresses have no VPC filter: one is the install's by tag, or by being mapped to an
/// interface (or NAT gateway) inside its VPC.
async fn addresses(
    ec2: &Client,
    scope: &Scope,
    interfaces_in_vpc: &HashMap<String, String>,
    nat_addresses: &[String],
) -> Result<Vec<Found>, Error> {
    let addresses = ec2.describe_addresses().send().await.map_err(aws)?;
    let mut out = vec![];
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
    let reservations = listed(filters, |f| {
        ec2.describe_instances()
            .filters(f)
            .into_paginator()
            .items()
            .send()
            .try_collect()
    })
    .await?;
    let mut out = vec![];
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
    Ok(out)
}
