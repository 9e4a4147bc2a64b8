//! Quota planning: which AWS service quotas an install draws on, how much headroom it needs of
//! each, and — given what an account has applied and already uses — which fall short and what
//! to ask AWS for. Pure: check-quotas feeds it numbers read from the customer's account.

use serde::{Deserialize, Serialize};

use crate::options::{InstallOptions, NatMode};

/// Where an install keeps its latest quota check (`{ok, deficits, ...}`): check-quotas writes
/// it before an install, upgrade-cluster's preflight before node groups roll; request-quota
/// asks AWS for its deficits and notify lists them.
pub const QUOTA_CHECK_KEY: &str = "quota_check";

/// A quota as Service Quotas names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The Service Quotas service code (`vpc`, `ec2`, `eks`, `elasticloadbalancing`).
    pub service: &'static str,
    pub code: &'static str,
    pub name: &'static str,
}

const fn quota(service: &'static str, code: &'static str, name: &'static str) -> Quota {
    Quota {
        service,
        code,
        name,
    }
}

pub const VPCS: Quota = quota("vpc", "L-F678F1CE", "VPCs per Region");
pub const INTERNET_GATEWAYS: Quota = quota("vpc", "L-A4707A72", "Internet gateways per Region");
pub const NAT_GATEWAYS_PER_AZ: Quota =
    quota("vpc", "L-FE5A380F", "NAT gateways per Availability Zone");
pub const ELASTIC_IPS: Quota = quota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs");
pub const EKS_CLUSTERS: Quota = quota("eks", "L-1194D53C", "Clusters");
pub const NODE_GROUPS_PER_CLUSTER: Quota =
    quota("eks", "L-6D54EA21", "Managed node groups per cluster");
pub const NETWORK_LOAD_BALANCERS: Quota = quota(
    "elasticloadbalancing",
    "L-69A177A2",
    "Network Load Balancers per Region",
);

/// On-Demand vCPU quotas, by the letters an instance type's family starts with (`m` of
/// `m6i.large`). AWS counts every family of one quota against the same number.
const ON_DEMAND_VCPU_QUOTAS: &[(&[&str], Quota)] = &[
    (
        &["a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"],
        quota(
            "ec2",
            "L-1216C47A",
            "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        ),
    ),
    (
        &["g", "gr", "vt"],
        quota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances"),
    ),
    (
        &["p"],
        quota("ec2", "L-417A185B", "Running On-Demand P instances"),
    ),
    (
        &["x"],
        quota("ec2", "L-7295265B", "Running On-Demand X instances"),
    ),
    (
        &["f"],
        quota("ec2", "L-74FC7D96", "Running On-Demand F instances"),
    ),
    (
        &["inf"],
        quota("ec2", "L-1945791B", "Running On-Demand Inf instances"),
    ),
    (
        &["dl"],
        quota("ec2", "L-6E869C2A", "Running On-Demand DL instances"),
    ),
    (
        &["trn"],
        quota("ec2", "L-2C3B7624", "Running On-Demand Trn instances"),
    ),
    (
        &["hpc"],
        quota("ec2", "L-F7808C92", "Running On-Demand HPC instances"),
    ),
    (
        &["u"],
        quota(
            "ec2",
            "L-43DA4232",
            "Running On-Demand High Memory instances",
        ),
    ),
];

/// The letters before the first digit of an instance type (`inf` of `inf2.xlarge`, `u` of
/// `u-6tb1.metal`).
pub fn family_letters(instance_type: &str) -> &str {
    let family = instance_type.split('.').next().unwrap_or(instance_type);
    let end = family
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(family.len());
    &family[..end]
}

/// The On-Demand vCPU quota that running instances of `instance_type` count against.
pub fn on_demand_vcpu_quota(instance_type: &str) -> Option<Quota> {
    let letters = family_letters(instance_type);
    ON_DEMAND_VCPU_QUOTAS
        .iter()
        .find(|(families, _)| families.contains(&letters))
        .map(|(_, q)| *q)
}

/// How the account's current use of a quota is measured; check-quotas maps each to the
/// account's own Describe/List call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Vpcs,
    InternetGateways,
    /// The quota is per zone, so the fullest of the install's zones is what can run out.
    NatGatewaysInFullestZone,
    ElasticIps,
    /// vCPUs of running On-Demand instances under the same quota.
    OnDemandVcpus,
    EksClusters,
    /// The install's cluster is new, so it has none yet.
    NodeGroupsInNewCluster,
    NetworkLoadBalancers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub quota: Quota,
    pub measure: Measure,
    pub needed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no On-Demand vCPU quota is known for instance type \"{0}\"; choose a type of a standard family such as m6i.large")]
pub struct UnknownFamily(pub String);

/// The headroom `options` needs of each quota, given the vCPUs of one node (from
/// DescribeInstanceTypes).
pub fn plan(options: &InstallOptions, vcpus_per_node: u32) -> Result<Vec<Need>, UnknownFamily> {
    let vcpu_quota = on_demand_vcpu_quota(&options.node_instance_type)
        .ok_or_else(|| UnknownFamily(options.node_instance_type.clone()))?;
    // One NAT gateway, and so one Elastic IP, per zone in per-az mode; one in all otherwise.
    let nat_gateways = match options.nat_mode {
        NatMode::Single => 1,
        NatMode::PerAz => u64::from(options.az_count),
    };
    let mut needs = vec![
        Need {
            quota: VPCS,
            measure: Measure::Vpcs,
            needed: 1,
        },
        Need {
            quota: INTERNET_GATEWAYS,
            measure: Measure::InternetGateways,
            needed: 1,
        },
        Need {
            quota: NAT_GATEWAYS_PER_AZ,
            measure: Measure::NatGatewaysInFullestZone,
            needed: 1,
        },
        Need {
            quota: ELASTIC_IPS,
            measure: Measure::ElasticIps,
            needed: nat_gateways,
        },
        Need {
            quota: vcpu_quota,
            measure: Measure::OnDemandVcpus,
            needed: u64::from(options.node_max_size) * u64::from(vcpus_per_node),
        },
        Need {
            quota: EKS_CLUSTERS,
            measure: Measure::EksClusters,
            needed: 1,
        },
        Need {
            quota: NODE_GROUPS_PER_CLUSTER,
            measure: Measure::NodeGroupsInNewCluster,
            needed: 1,
        },
    ];
    if options.load_balancer {
        needs.push(Need {
            quota: NETWORK_LOAD_BALANCERS,
            measure: Measure::NetworkLoadBalancers,
            needed: 1,
        });
    }
    Ok(needs)
}

/// A quota the install would exceed, with what to ask for. Stored on the install
/// (`step_data.quota_check.deficits`) for request-quota, the API and emails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deficit {
    pub service: String,
    pub quota_code: String,
    pub quota_name: String,
    pub applied: f64,
    pub usage: u64,
    pub needed: u64,
    pub request_value: u64,
    pub console_url: String,
}

impl Deficit {
    /// One line for a timeline message or an email.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} {}): limit {}, in use {}, install needs {} more; request {} at {}",
            self.quota_name,
            self.service,
            self.quota_code,
            self.applied,
            self.usage,
            self.needed,
            self.request_value,
            self.console_url
        )
    }
}

/// The deficit of `need` in an account where the quota's applied value is `applied` and
/// `usage` of it is taken; `None` when the headroom suffices.
pub fn shortfall(need: &Need, applied: f64, usage: u64, region: &str) -> Option<Deficit> {
    let wanted = usage.saturating_add(need.needed);
    // A missing or nonsensical applied value counts as none: better a needless request than
    // a build that fails halfway.
    let applied = if applied.is_finite() && applied > 0.0 {
        applied
    } else {
        0.0
    };
    if (wanted as f64) <= applied {
        return None;
    }
    Some(Deficit {
        service: need.quota.service.to_owned(),
        quota_code: need.quota.code.to_owned(),
        quota_name: need.quota.name.to_owned(),
        applied,
        usage,
        needed: need.needed,
        request_value: request_value(applied, usage, need.needed),
        console_url: console_url(region, need.quota.service, need.quota.code),
    })
}

/// What to ask for: exactly what the install needs on top of today's use (small requests are
/// the ones AWS approves automatically), and never a value that would not raise the quota.
pub fn request_value(applied: f64, usage: u64, needed: u64) -> u64 {
    // `as` saturates, and maps NaN to 0.
    let above_applied = (applied.max(0.0).floor() as u64).saturating_add(1);
    usage.saturating_add(needed).max(above_applied)
}

pub fn console_url(region: &str, service: &str, code: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/servicequotas/home/services/{service}/quotas/{code}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn needs(json: &str, vcpus: u32) -> Vec<(&'static str, u64)> {
        let options: InstallOptions = serde_json::from_str(json).unwrap();
        plan(&options, vcpus)
            .unwrap()
            .into_iter()
            .map(|n| (n.quota.code, n.needed))
            .collect()
    }

    #[test]
    fn defaults_need_one_of_each_and_a_nat_address_per_zone() {
        // Defaults: 3 zones, per-az NAT, m6i.large, up to 4 nodes, a load balancer.
        assert_eq!(
            needs("{}", 2),
            vec![
                ("L-F678F1CE", 1),
                ("L-A4707A72", 1),
                ("L-FE5A380F", 1),
                ("L-0263D0A3", 3),
                ("L-1216C47A", 8),
                ("L-1194D53C", 1),
                ("L-6D54EA21", 1),
                ("L-69A177A2", 1),
            ]
        );
    }

    #[test]
    fn single_nat_needs_one_address_and_no_balancer_needs_no_nlb() {
        let n = needs(
            r#"{"nat_mode":"single","az_count":4,"load_balancer":false,"node_instance_type":"g5.2xlarge","node_max_size":3}"#,
            8,
        );
        assert!(n.contains(&("L-0263D0A3", 1)));
        assert!(n.contains(&("L-DB2E81BA", 24)), "{n:?}");
        assert!(!n.iter().any(|(code, _)| *code == "L-69A177A2"));
    }

    #[test]
    fn families_map_to_their_vcpu_quota() {
        for (instance_type, code) in [
            ("m6i.large", "L-1216C47A"),
            ("t3.medium", "L-1216C47A"),
            ("im4gn.large", "L-1216C47A"),
            ("c7gn.xlarge", "L-1216C47A"),
            ("g5.xlarge", "L-DB2E81BA"),
            ("vt1.3xlarge", "L-DB2E81BA"),
            ("p4d.24xlarge", "L-417A185B"),
            ("x2idn.16xlarge", "L-7295265B"),
            ("f1.2xlarge", "L-74FC7D96"),
            ("inf2.xlarge", "L-1945791B"),
            ("dl1.24xlarge", "L-6E869C2A"),
            ("trn1.2xlarge", "L-2C3B7624"),
            ("hpc7g.4xlarge", "L-F7808C92"),
            ("u-6tb1.metal", "L-43DA4232"),
        ] {
            assert_eq!(
                on_demand_vcpu_quota(instance_type).map(|q| q.code),
                Some(code),
                "{instance_type}"
            );
        }
        assert_eq!(on_demand_vcpu_quota("mac2.metal"), None);
        let options = InstallOptions {
            node_instance_type: "mac2.metal".into(),
            ..Default::default()
        };
        assert_eq!(plan(&options, 12), Err(UnknownFamily("mac2.metal".into())));
    }

    #[test]
    fn shortfall_reports_what_to_request_and_where() {
        let vcpus = Need {
            quota: plan(&InstallOptions::default(), 2).unwrap()[4].quota,
            measure: Measure::OnDemandVcpus,
            needed: 8,
        };
        assert_eq!(
            shortfall(&vcpus, 16.0, 8, "us-east-1"),
            None,
            "exactly enough is enough"
        );
        let d = shortfall(&vcpus, 5.0, 2, "eu-west-1").unwrap();
        assert_eq!(
            (d.applied, d.usage, d.needed, d.request_value),
            (5.0, 2, 8, 10)
        );
        assert_eq!(d.console_url, "https://eu-west-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-1216C47A");
        assert!(d.describe().contains("request 10"), "{}", d.describe());
    }

    #[test]
    fn request_never_stays_at_or_below_the_applied_value() {
        // Usage above the limit (instances launched before a decrease): ask for more than applied.
        assert_eq!(request_value(20.0, 25, 0), 25);
        assert_eq!(request_value(30.0, 1, 0), 31);
        assert_eq!(request_value(4.5, 3, 1), 5);
        assert_eq!(request_value(f64::NAN, 0, 2), 2);
    }

    proptest! {
        #[test]
        fn deficit_exactly_when_headroom_is_short(applied in 0u64..10_000, usage in 0u64..10_000, needed in 0u64..1_000) {
            let need = Need { quota: VPCS, measure: Measure::Vpcs, needed };
            let result = shortfall(&need, applied as f64, usage, "us-east-1");
            let short = applied.saturating_sub(usage) < needed || usage > applied;
            prop_assert_eq!(result.is_some(), short);
            if let Some(d) = result {
                prop_assert!(d.request_value >= usage + needed, "covers the need");
                prop_assert!(d.request_value > applied, "raises the quota");
                prop_assert!(d.request_value <= (usage + needed).max(applied + 1), "asks for no more than that");
            }
        }

        #[test]
        fn plan_scales_with_options(az_count in 2u8..=6, max_size in 1u32..=450, vcpus in 1u32..=192, per_az: bool, lb: bool) {
            let options = InstallOptions {
                az_count,
                nat_mode: if per_az { NatMode::PerAz } else { NatMode::Single },
                node_max_size: max_size,
                node_min_size: 1,
                node_desired_size: 1,
                load_balancer: lb,
                ..Default::default()
            };
            let needs = plan(&options, vcpus).unwrap();
            let of = |code: &str| needs.iter().find(|n| n.quota.code == code).map(|n| n.needed);
            prop_assert_eq!(of("L-0263D0A3"), Some(if per_az { u64::from(az_count) } else { 1 }));
            prop_assert_eq!(of("L-1216C47A"), Some(u64::from(max_size) * u64::from(vcpus)));
            prop_assert_eq!(of("L-69A177A2").is_some(), lb);
            prop_assert!(needs.iter().all(|n| n.needed >= 1));
        }
    }
}
