//! Network planning: which VPC CIDR an install gets, which availability zones it spreads over,
//! and how the VPC splits into a public and a private subnet per zone. Pure: the handler
//! gathers what the account has (VPCs, zones, instance type offerings) and acts on the plan.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;

/// Availability zone ids where EKS cannot place a control plane (EKS user guide, "Amazon EKS
/// subnet requirements"). Ids, not names: zone names map to different ids in each account.
pub const EKS_UNSUPPORTED_ZONE_IDS: &[&str] = &["use1-az3", "usw1-az2", "cac1-az3"];

/// AWS refuses subnets smaller than /28.
const SMALLEST_SUBNET_PREFIX: u8 = 28;

/// Public subnets only hold load balancers and NAT gateways; private subnets hold nodes and,
/// with the VPC CNI, every pod's address. So a public subnet gets a quarter of a private one.
const PUBLIC_TO_PRIVATE_SHIFT: u8 = 2;

/// A VPC already in the account, with every IPv4 block it holds (primary and secondary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingVpc {
    pub vpc_id: String,
    pub cidrs: Vec<Ipv4Cidr>,
}

/// An availability zone as DescribeAvailabilityZones reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// e.g. `us-east-1a`: what EC2 calls take.
    pub name: String,
    /// e.g. `use1-az6`: the physical zone, which is what EKS support is listed by.
    pub id: String,
}

/// Availability as reported, kept apart from [`Zone`] so a plan never stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    pub zone: Zone,
    /// `state == available` and a real availability zone (not a Local or Wavelength zone).
    pub usable: bool,
}

/// One zone's share of the VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonePlan {
    pub zone: Zone,
    pub public_cidr: Ipv4Cidr,
    pub private_cidr: Ipv4Cidr,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the requested VPC CIDR {requested} overlaps {existing} of {vpc_id} in the customer's account; \
         choose an options.vpc_cidr that no VPC there uses, or leave it out to let the installer pick a free block"
    )]
    CidrConflict {
        requested: Ipv4Cidr,
        vpc_id: String,
        existing: Ipv4Cidr,
    },

    #[error(
        "no /{prefix} block in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 is free of the customer's {vpcs} VPCs; \
         choose a smaller block with options.vpc_prefix_length, or a specific options.vpc_cidr"
    )]
    NoFreeBlock { prefix: u8, vpcs: usize },

    #[error(
        "{region} has {usable} availability zone(s) that EKS supports and that offer {instance_type} ({zones}); \
         the install needs {wanted}: lower options.az_count or choose another options.node_instance_type"
    )]
    TooFewZones {
        region: String,
        instance_type: String,
        wanted: u8,
        usable: usize,
        zones: ZoneList,
    },

    #[error(
        "{vpc} is too small for a public and a private subnet in each of {zones} zones (AWS subnets are /28 or larger); \
         use a larger block or fewer zones"
    )]
    BlockTooSmall { vpc: Ipv4Cidr, zones: usize },
}

/// Zone names for an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneList(pub Vec<String>);

impl fmt::Display for ZoneList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.0.join(", "))
        }
    }
}

/// The VPC CIDR for an install: `requested` when no existing VPC overlaps it, otherwise (when
/// nothing was requested) the first `/prefix` block of the private ranges that overlaps none.
pub fn choose_vpc_cidr(
    requested: Option<Ipv4Cidr>,
    prefix: u8,
    existing: &[ExistingVpc],
) -> Result<Ipv4Cidr, PlanError> {
    if let Some(requested) = requested {
        for vpc in existing {
            if let Some(taken) = vpc.cidrs.iter().find(|c| c.overlaps(&requested)) {
                return Err(PlanError::CidrConflict {
                    requested,
                    vpc_id: vpc.vpc_id.clone(),
                    existing: *taken,
                });
            }
        }
        return Ok(requested);
    }
    let taken: Vec<Ipv4Cidr> = existing
        .iter()
        .flat_map(|v| v.cidrs.iter().copied())
        .collect();
    Ipv4Cidr::private_ranges()
        .iter()
        .find_map(|range| first_free_block(range, prefix, &taken))
        .ok_or(PlanError::NoFreeBlock {
            prefix,
            vpcs: existing.len(),
        })
}

/// The lowest `/prefix` block inside `range` that overlaps nothing in `taken`. Skips past each
/// overlapping block at once, so the walk is bounded by the number of taken blocks.
fn first_free_block(range: &Ipv4Cidr, prefix: u8, taken: &[Ipv4Cidr]) -> Option<Ipv4Cidr> {
    if prefix < range.prefix() || prefix > 32 {
        return None;
    }
    let size = 1u64 << (32 - prefix);
    let mut first = u64::from(range.first());
    while first + size - 1 <= u64::from(range.last()) {
        let candidate = Ipv4Cidr::from_first(u32::try_from(first).ok()?, prefix)?;
        match taken
            .iter()
            .filter(|t| t.overlaps(&candidate))
            .map(|t| u64::from(t.last()))
            .max()
        {
            None => return Some(candidate),
            // Next aligned block after the furthest-reaching overlap.
            Some(last) => first = (last + 1).div_ceil(size) * size,
        }
    }
    None
}

/// Every zone an install may use, in zone-name order: usable, supported by EKS, and offering
/// the node instance type.
pub fn eligible_zones(zones: &[ZoneInfo], offering_instance_type: &[String]) -> Vec<Zone> {
    let mut eligible: Vec<Zone> = zones
        .iter()
        .filter(|z| z.usable)
        .filter(|z| !EKS_UNSUPPORTED_ZONE_IDS.contains(&z.zone.id.as_str()))
        .filter(|z| {
            offering_instance_type
                .iter()
                .any(|name| name == &z.zone.name)
        })
        .map(|z| z.zone.clone())
        .collect();
    eligible.sort_by(|a, b| a.name.cmp(&b.name));
    eligible.dedup_by(|a, b| a.name == b.name);
    eligible
}

/// `count` zones, in zone-name order, among the usable ones that EKS supports and that offer
/// the node instance type. Name order makes the choice the same on every run.
pub fn choose_zones(
    region: &str,
    zones: &[ZoneInfo],
    offering_instance_type: &[String],
    instance_type: &str,
    count: u8,
) -> Result<Vec<Zone>, PlanError> {
    let mut eligible = eligible_zones(zones, offering_instance_type);
    if eligible.len() < usize::from(count) {
        return Err(PlanError::TooFewZones {
            region: region.to_owned(),
            instance_type: instance_type.to_owned(),
            wanted: count,
            usable: eligible.len(),
            zones: ZoneList(eligible.into_iter().map(|z| z.name).collect()),
        });
    }
    eligible.truncate(usize::from(count));
    Ok(eligible)
}

/// The subnet sizes for `zones` zones in `vpc`: the largest private subnets such that every
/// private subnet and a public subnet a quarter its size (but at least /28) fit side by side.
/// Only when even that cannot fit (a /24 over six zones) do both sides get /28s.
pub fn subnet_prefixes(vpc: Ipv4Cidr, zones: usize) -> Result<(u8, u8), PlanError> {
    let too_small = PlanError::BlockTooSmall { vpc, zones };
    if zones == 0 {
        return Err(too_small);
    }
    let zones = zones as u64;
    for private in (vpc.prefix() + 1)..=SMALLEST_SUBNET_PREFIX {
        let public = (private + PUBLIC_TO_PRIVATE_SHIFT).min(SMALLEST_SUBNET_PREFIX);
        let needed = zones * ((1u64 << (32 - private)) + (1u64 << (32 - public)));
        if needed <= vpc.size() {
            return Ok((private, public));
        }
    }
    Err(too_small)
}

/// Splits `vpc` into a public and a private subnet per zone: the private subnets first, one
/// after the other from the start of the block, then the public ones packed after them. Each
/// private subnet is a whole multiple of a public one, so every subnet stays aligned.
pub fn plan_subnets(vpc: Ipv4Cidr, zones: &[Zone]) -> Result<Vec<ZonePlan>, PlanError> {
    let (private_prefix, public_prefix) = subnet_prefixes(vpc, zones.len())?;
    let private_size = 1u64 << (32 - private_prefix);
    let public_size = 1u64 << (32 - public_prefix);
    let start = u64::from(vpc.first());
    let public_start = start + private_size * zones.len() as u64;
    let block = |first: u64, prefix: u8| {
        u32::try_from(first)
            .ok()
            .and_then(|first| Ipv4Cidr::from_first(first, prefix))
            .ok_or(PlanError::BlockTooSmall {
                vpc,
                zones: zones.len(),
            })
    };
    zones
        .iter()
        .enumerate()
        .map(|(i, zone)| {
            Ok(ZonePlan {
                zone: zone.clone(),
                private_cidr: block(start + private_size * i as u64, private_prefix)?,
                public_cidr: block(public_start + public_size * i as u64, public_prefix)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cidr(text: &str) -> Ipv4Cidr {
        text.parse().unwrap()
    }

    fn vpc(id: &str, cidrs: &[&str]) -> ExistingVpc {
        ExistingVpc {
            vpc_id: id.into(),
            cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
        }
    }

    fn zone(name: &str, id: &str) -> ZoneInfo {
        ZoneInfo {
            zone: Zone {
                name: name.into(),
                id: id.into(),
            },
            usable: true,
        }
    }

    fn zones(n: usize) -> Vec<Zone> {
        (0..n)
            .map(|i| Zone {
                name: format!("us-east-1{}", (b'a' + i as u8) as char),
                id: format!("use1-az{i}"),
            })
            .collect()
    }

    /// us-east-1 as EC2 shows it in one account: use1-az3 is there but EKS refuses it.
    fn us_east_1() -> Vec<ZoneInfo> {
        vec![
            zone("us-east-1a", "use1-az6"),
            zone("us-east-1b", "use1-az1"),
            zone("us-east-1c", "use1-az2"),
            zone("us-east-1d", "use1-az4"),
            zone("us-east-1e", "use1-az3"),
            zone("us-east-1f", "use1-az5"),
        ]
    }

    fn all_names() -> Vec<String> {
        us_east_1().into_iter().map(|z| z.zone.name).collect()
    }

    #[test]
    fn requested_cidr_is_used_when_free() {
        let existing = [vpc("vpc-default", &["172.31.0.0/16"])];
        assert_eq!(
            choose_vpc_cidr(Some(cidr("10.20.0.0/16")), 16, &existing),
            Ok(cidr("10.20.0.0/16"))
        );
    }

    #[test]
    fn requested_cidr_overlapping_a_secondary_block_is_refused_with_the_vpc_named() {
        let existing = [vpc("vpc-1", &["10.0.0.0/16", "10.20.128.0/17"])];
        let err = choose_vpc_cidr(Some(cidr("10.20.0.0/16")), 16, &existing).unwrap_err();
        assert_eq!(
            err,
            PlanError::CidrConflict {
                requested: cidr("10.20.0.0/16"),
                vpc_id: "vpc-1".into(),
                existing: cidr("10.20.128.0/17")
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("vpc-1")
                && message.contains("10.20.128.0/17")
                && message.contains("options.vpc_cidr"),
            "{message}"
        );
    }

    #[test]
    fn picks_the_first_free_block_skipping_taken_ones() {
        assert_eq!(choose_vpc_cidr(None, 16, &[]), Ok(cidr("10.0.0.0/16")));
        let existing = [
            vpc("vpc-a", &["10.0.0.0/16"]),
            vpc("vpc-b", &["172.31.0.0/16", "10.1.4.0/24"]),
        ];
        assert_eq!(
            choose_vpc_cidr(None, 16, &existing),
            Ok(cidr("10.2.0.0/16"))
        );
        assert_eq!(
            choose_vpc_cidr(None, 24, &existing),
            Ok(cidr("10.1.0.0/24"))
        );
        // A customer using all of 10/8 gets a block from the next range.
        assert_eq!(
            choose_vpc_cidr(None, 20, &[vpc("vpc-big", &["10.0.0.0/8"])]),
            Ok(cidr("172.16.0.0/20"))
        );
    }

    #[test]
    fn every_private_range_taken_is_a_clear_error() {
        let existing = [vpc(
            "vpc-1",
            &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        )];
        let err = choose_vpc_cidr(None, 16, &existing).unwrap_err();
        assert_eq!(
            err,
            PlanError::NoFreeBlock {
                prefix: 16,
                vpcs: 1
            }
        );
        assert!(err.to_string().contains("options.vpc_prefix_length"));
    }

    #[test]
    fn zones_skip_eks_unsupported_ids_and_zones_without_the_instance_type() {
        let chosen = choose_zones("us-east-1", &us_east_1(), &all_names(), "m6i.large", 6);
        let err = chosen.unwrap_err();
        assert!(
            matches!(
                err,
                PlanError::TooFewZones {
                    usable: 5,
                    wanted: 6,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            !err.to_string().contains("us-east-1e"),
            "use1-az3 is not usable: {err}"
        );

        let offered: Vec<String> = ["us-east-1a", "us-east-1c", "us-east-1d", "us-east-1e"]
            .map(String::from)
            .to_vec();
        let chosen = choose_zones("us-east-1", &us_east_1(), &offered, "p4d.24xlarge", 3).unwrap();
        let names: Vec<&str> = chosen.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, ["us-east-1a", "us-east-1c", "us-east-1d"]);
    }

    #[test]
    fn zones_are_chosen_in_name_order_whatever_order_ec2_lists_them() {
        let mut listed = us_east_1();
        listed.reverse();
        listed[0].usable = false; // us-east-1f is impaired
        let chosen = choose_zones("us-east-1", &listed, &all_names(), "m6i.large", 4).unwrap();
        let names: Vec<&str> = chosen.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(
            names,
            ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
        );
    }

    #[test]
    fn too_few_zones_names_what_there_is() {
        let listed = vec![
            zone("us-west-1a", "usw1-az3"),
            zone("us-west-1c", "usw1-az2"),
        ];
        let names = vec!["us-west-1a".to_string(), "us-west-1c".to_string()];
        let err = choose_zones("us-west-1", &listed, &names, "m6i.large", 2).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("us-west-1 has 1 availability zone(s)")
                && message.contains("(us-west-1a)")
                && message.contains("options.az_count"),
            "{message}"
        );
    }

    #[test]
    fn a_16_over_three_zones_gets_private_18s_and_public_20s() {
        let plan = plan_subnets(cidr("10.1.0.0/16"), &zones(3)).unwrap();
        let private: Vec<String> = plan.iter().map(|z| z.private_cidr.to_string()).collect();
        let public: Vec<String> = plan.iter().map(|z| z.public_cidr.to_string()).collect();
        assert_eq!(private, ["10.1.0.0/18", "10.1.64.0/18", "10.1.128.0/18"]);
        assert_eq!(public, ["10.1.192.0/20", "10.1.208.0/20", "10.1.224.0/20"]);
        assert_eq!(plan[1].zone.name, "us-east-1b");
    }

    #[test]
    fn subnet_sizes_across_the_supported_range() {
        let sizes = |vpc: &str, n| subnet_prefixes(cidr(vpc), n).unwrap();
        assert_eq!(sizes("10.0.0.0/16", 2), (18, 20));
        assert_eq!(sizes("10.0.0.0/16", 6), (19, 21));
        assert_eq!(sizes("10.0.0.0/24", 2), (26, 28));
        assert_eq!(sizes("10.0.0.0/24", 5), (27, 28));
        // The one corner where a quarter-size public subnet would be under /28.
        assert_eq!(sizes("10.0.0.0/24", 6), (28, 28));
        assert!(subnet_prefixes(cidr("10.0.0.0/26"), 6).is_err());
    }

    fn arbitrary_vpc() -> impl Strategy<Value = Ipv4Cidr> {
        (16u8..=24, any::<u32>()).prop_map(|(prefix, bits)| {
            let block = Ipv4Cidr::private_ranges()[(bits % 3) as usize];
            let span = 1u64 << (prefix - block.prefix().min(prefix));
            let offset = (u64::from(bits) % span) << (32 - prefix);
            Ipv4Cidr::from_first(block.first() + offset as u32, prefix).unwrap()
        })
    }

    proptest! {
        #[test]
        fn subnets_fit_never_overlap_and_private_ones_are_larger(vpc in arbitrary_vpc(), n in 2usize..=6) {
            let plan = plan_subnets(vpc, &zones(n)).unwrap();
            prop_assert_eq!(plan.len(), n);
            let all: Vec<Ipv4Cidr> = plan.iter().flat_map(|z| [z.public_cidr, z.private_cidr]).collect();
            for (i, a) in all.iter().enumerate() {
                prop_assert!(vpc.contains(a), "{} outside {}", a, vpc);
                prop_assert!(a.prefix() <= SMALLEST_SUBNET_PREFIX, "{} below /28", a);
                for b in &all[i + 1..] {
                    prop_assert!(!a.overlaps(b), "{} overlaps {}", a, b);
                }
            }
            for z in &plan {
                prop_assert!(z.private_cidr.size() >= z.public_cidr.size());
                if vpc.prefix() <= 23 {
                    prop_assert!(z.private_cidr.size() > z.public_cidr.size(), "{:?}", z);
                }
            }
            // Same input, same plan: a rerun recomputes exactly what the first run made.
            prop_assert_eq!(plan, plan_subnets(vpc, &zones(n)).unwrap());
        }

        #[test]
        fn a_chosen_block_overlaps_no_existing_vpc_and_is_the_first_such(
            taken in prop::collection::vec((arbitrary_vpc(), 0u8..=8), 0..12),
            prefix in 16u8..=24,
        ) {
            // Existing VPCs of assorted sizes (/16../32), as customers have them.
            let existing: Vec<ExistingVpc> = taken
                .iter()
                .enumerate()
                .map(|(i, (c, extra))| {
                    let p = c.prefix() + extra;
                    ExistingVpc { vpc_id: format!("vpc-{i}"), cidrs: vec![Ipv4Cidr::from_first(c.first(), p).unwrap()] }
                })
                .collect();
            let chosen = choose_vpc_cidr(None, prefix, &existing).unwrap();
            prop_assert_eq!(chosen.prefix(), prefix);
            prop_assert!(chosen.is_private());
            let all: Vec<Ipv4Cidr> = existing.iter().flat_map(|v| v.cidrs.clone()).collect();
            prop_assert!(all.iter().all(|c| !c.overlaps(&chosen)), "{} overlaps one of {:?}", chosen, all);
            // No free aligned block comes before it in the same range.
            let range = Ipv4Cidr::private_ranges().into_iter().find(|r| r.contains(&chosen)).unwrap();
            let mut first = range.first();
            while first < chosen.first() {
                let earlier = Ipv4Cidr::from_first(first, prefix).unwrap();
                prop_assert!(all.iter().any(|c| c.overlaps(&earlier)), "{} was free and earlier than {}", earlier, chosen);
                first += 1 << (32 - prefix);
            }
            // A requested block is accepted exactly when it is free.
            prop_assert_eq!(choose_vpc_cidr(Some(chosen), 16, &existing), Ok(chosen));
        }
    }
}
