//! How much of each quota the customer's account already uses, counted from its own
//! Describe/List calls (Service Quotas' usage metrics lag and do not cover every quota).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, InstanceLifecycleType, InstanceType, Vpc};
use aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum;
use byoc_core::quota_plan::{on_demand_vcpu_quota, Measure, Need};

use crate::{aws_error, CheckQuotasError};

pub struct Account<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub eks: &'a aws_sdk_eks::Client,
    pub elb: &'a aws_sdk_elasticloadbalancingv2::Client,
    /// The zones the install will use.
    pub zones: &'a [String],
    /// Every VPC of the account in the region (read once; the CIDR check uses it too).
    pub vpcs: &'a [Vpc],
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Account<'_> {
    pub async fn usage(&self, need: &Need) -> Result<u64, CheckQuotasError> {
        match need.measure {
            Measure::Vpcs => Ok(count(self.vpcs.len())),
            Measure::InternetGateways => {
                let gateways = self
                    .ec2
                    .describe_internet_gateways()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("EC2", e))?;
                Ok(count(gateways.len()))
            }
            Measure::NatGatewaysInFullestZone => self.nat_gateways_in_fullest_zone().await,
            Measure::ElasticIps => {
                let out = self
                    .ec2
                    .describe_addresses()
                    .filters(Filter::builder().name("domain").values("vpc").build())
                    .send()
                    .await
                    .map_err(|e| aws_error("EC2", e))?;
                Ok(count(out.addresses().len()))
            }
            Measure::OnDemandVcpus => self.on_demand_vcpus(need.quota.code).await,
            Measure::EksClusters => {
                let clusters = self
                    .eks
                    .list_clusters()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("EKS", e))?;
                Ok(count(clusters.len()))
            }
            Measure::NodeGroupsInNewCluster => Ok(0),
            Measure::NetworkLoadBalancers => {
                let balancers = self
                    .elb
                    .describe_load_balancers()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("Elastic Load Balancing", e))?;
                Ok(count(
                    balancers
                        .iter()
                        .filter(|b| b.r#type() == Some(&LoadBalancerTypeEnum::Network))
                        .count(),
                ))
            }
        }
    }

    /// NAT gateways (pending or available) in the busiest of the install's zones.
    async fn nat_gateways_in_fullest_zone(&self) -> Result<u64, CheckQuotasError> {
        let gateways = self
            .ec2
            .describe_nat_gateways()
            .filter(
                Filter::builder()
                    .name("state")
                    .values("pending")
                    .values("available")
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("EC2", e))?;
        let subnet_ids: BTreeSet<String> = gateways
            .iter()
            .filter_map(|g| g.subnet_id().map(str::to_owned))
            .collect();
        if subnet_ids.is_empty() {
            return Ok(0);
        }
        // A NAT gateway's zone is its subnet's.
        let subnets = self
            .ec2
            .describe_subnets()
            .filters(
                Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(subnet_ids.into_iter().collect()))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("EC2", e))?;
        let zone_of: BTreeMap<&str, &str> = subnets
            .iter()
            .filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?)))
            .collect();
        let mut per_zone: BTreeMap<&str, u64> = BTreeMap::new();
        for gateway in &gateways {
            if let Some(zone) = gateway.subnet_id().and_then(|s| zone_of.get(s)) {
                *per_zone.entry(zone).or_default() += 1;
            }
        }
        Ok(self
            .zones
            .iter()
            .map(|z| per_zone.get(z.as_str()).copied().unwrap_or(0))
            .max()
            .unwrap_or(0))
    }

    /// vCPUs of the running On-Demand instances that count against `quota_code`.
    async fn on_demand_vcpus(&self, quota_code: &str) -> Result<u64, CheckQuotasError> {
        let reservations = self
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("EC2", e))?;
        let mut instances_per_type: BTreeMap<String, u64> = BTreeMap::new();
        for instance in reservations.iter().flat_map(|r| r.instances()) {
            // Spot and scheduled instances count against other quotas.
            if instance
                .instance_lifecycle()
                .is_some_and(|l| !matches!(l, InstanceLifecycleType::CapacityBlock))
            {
                continue;
            }
            let Some(instance_type) = instance.instance_type().map(|t| t.as_str().to_owned())
            else {
                continue;
            };
            if on_demand_vcpu_quota(&instance_type).is_some_and(|q| q.code == quota_code) {
                *instances_per_type.entry(instance_type).or_default() += 1;
            }
        }
        if instances_per_type.is_empty() {
            return Ok(0);
        }
        let types = self
            .ec2
            .describe_instance_types()
            .set_instance_types(Some(
                instances_per_type
                    .keys()
                    .map(|t| InstanceType::from(t.as_str()))
                    .collect(),
            ))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("EC2", e))?;
        let vcpus_of = |name: &str| -> u64 {
            types
                .iter()
                .find(|t| t.instance_type().map(|t| t.as_str()) == Some(name))
                .and_then(|t| t.v_cpu_info()?.default_v_cpus())
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        };
        Ok(instances_per_type
            .iter()
            .map(|(name, n)| n.saturating_mul(vcpus_of(name)))
            .sum())
    }
}
