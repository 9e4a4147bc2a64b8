//! How much of each quota the customer's account already uses, counted from its own
//! Describe/List calls (Service Quotas' usage metrics lag and do not cover every quota).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, Vpc};
use aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum;
use byoc_domain::quota_plan::{Measure, Need};

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
            Measure::OnDemandVcpus => Ok(byoc_core::aws::vcpu_quota::on_demand_vcpus_in_use(
                self.ec2,
                need.quota.code,
            )
            .await?),
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
}
