//! EKS in a customer's account as a test sees it, the emulator knob for how long clusters and
//! node groups take (or how they fail), and a stand-in for the install's network: subnets and
//! NAT gateways tagged the way the network step tags them, so the cluster step can be tested
//! on its own.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::Value;

use crate::account_header::AccountHeader;
use crate::stack::LocalStack;

/// EKS in `account`.
pub fn eks(stack: &LocalStack, account: &str) -> aws_sdk_eks::Client {
    let config = aws_sdk_eks::config::Builder::from(&stack.config)
        .interceptor(AccountHeader(account.to_owned()))
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

/// Sets the emulator's EKS behaviour for `account`, e.g. `{"cluster_creating_polls": 3}`
/// (DescribeCluster polls a new cluster stays CREATING), `{"cluster_fail": "why"}`,
/// `{"nodegroup_fail": "why", "nodegroup_fail_status": "DEGRADED"}`.
pub async fn steer_eks(stack: &LocalStack, account: &str, settings: Value) -> Result<(), String> {
    stack.steer("eks", account, settings).await
}

/// An account made ready for a day-2 test: its EKS version calendar pinned at `now`, and, with
/// `vcpus`, its On-Demand Standard vCPU quota (L-1216C47A) raised to it (room for a node
/// group's surge; a new account's 5 fits an install's two nodes only).
pub async fn pin_calendar(
    stack: &LocalStack,
    account: &str,
    now: &str,
    vcpus: Option<u64>,
) -> Result<(), String> {
    steer_eks(stack, account, serde_json::json!({ "now": now })).await?;
    if let Some(vcpus) = vcpus {
        let applied = serde_json::json!({"applied": {"L-1216C47A": vcpus}});
        stack.steer("service_quotas", account, applied).await?;
    }
    Ok(())
}

/// An install's network as the network step leaves it: one VPC, a private and a public
/// subnet per zone.
#[derive(Debug, Clone)]
pub struct InstallNetwork {
    pub vpc_id: String,
    pub private: Vec<String>,
    pub public: Vec<String>,
}

fn tags(resource: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    let tags = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build());
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags.collect()))
        .build()
}

/// Makes `install_id`'s VPC with a private and a public subnet in each of `zones`, tagged
/// `byoc:install-id` and with the EKS load balancer role tags.
pub async fn create_install_network(
    ec2: &aws_sdk_ec2::Client,
    install_id: &str,
    zones: &[&str],
) -> Result<InstallNetwork, String> {
    let install = ("byoc:install-id", install_id);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.60.0.0/16")
        .tag_specifications(tags(ResourceType::Vpc, &[install]))
        .send()
        .await
        .map_err(|e| format!("CreateVpc: {e:?}"))?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or("CreateVpc returned no id")?
        .to_owned();
    let mut network = InstallNetwork {
        vpc_id: vpc_id.clone(),
        private: Vec::new(),
        public: Vec::new(),
    };
    for (i, zone) in zones.iter().enumerate() {
        for (public, role) in [
            (false, "kubernetes.io/role/internal-elb"),
            (true, "kubernetes.io/role/elb"),
        ] {
            let cidr = format!("10.60.{}.0/24", i * 2 + usize::from(public));
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(cidr)
                .availability_zone(*zone)
                .tag_specifications(tags(ResourceType::Subnet, &[install, (role, "1")]))
                .send()
                .await
                .map_err(|e| format!("CreateSubnet: {e:?}"))?;
            let id = subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .ok_or("CreateSubnet returned no id")?
                .to_owned();
            if public {
                network.public.push(id)
            } else {
                network.private.push(id)
            }
        }
    }
    Ok(network)
}

/// A NAT gateway of `install_id` in `public_subnet`.
pub async fn create_nat_gateway(
    ec2: &aws_sdk_ec2::Client,
    install_id: &str,
    public_subnet: &str,
) -> Result<String, String> {
    let address = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .map_err(|e| format!("AllocateAddress: {e:?}"))?;
    let gateway = ec2
        .create_nat_gateway()
        .subnet_id(public_subnet)
        .set_allocation_id(address.allocation_id().map(str::to_owned))
        .tag_specifications(tags(
            ResourceType::Natgateway,
            &[("byoc:install-id", install_id)],
        ))
        .send()
        .await
        .map_err(|e| format!("CreateNatGateway: {e:?}"))?;
    Ok(gateway
        .nat_gateway()
        .and_then(|g| g.nat_gateway_id())
        .ok_or("CreateNatGateway returned no id")?
        .to_owned())
}

/// The ids of `install_id`'s subnets, for checks that nothing else was used.
pub async fn install_subnets(
    ec2: &aws_sdk_ec2::Client,
    install_id: &str,
) -> Result<Vec<String>, String> {
    let out = ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("tag:byoc:install-id")
                .values(install_id)
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("DescribeSubnets: {e:?}"))?;
    Ok(out
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect())
}
