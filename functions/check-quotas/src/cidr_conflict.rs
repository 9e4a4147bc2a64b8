//! A requested VPC CIDR must not overlap the account's existing VPCs: peering, transit
//! gateways and VPNs the customer has or adds later cannot route overlapping blocks.

use aws_sdk_ec2::types::Vpc;
use byoc_domain::cidr::Ipv4Cidr;
use byoc_domain::network_plan::ExistingVpc;

/// Every IPv4 block of `vpc` (its primary and associated ones).
fn blocks(vpc: &Vpc) -> impl Iterator<Item = Ipv4Cidr> + '_ {
    vpc.cidr_block_association_set()
        .iter()
        .filter_map(|a| a.cidr_block())
        .chain(vpc.cidr_block())
        .filter_map(|b| b.parse::<Ipv4Cidr>().ok())
}

/// The VPCs as the network planner reads them, to propose a free block.
pub fn existing(vpcs: &[Vpc]) -> Vec<ExistingVpc> {
    vpcs.iter()
        .map(|vpc| {
            let mut cidrs: Vec<Ipv4Cidr> = blocks(vpc).collect();
            cidrs.dedup();
            ExistingVpc {
                vpc_id: vpc.vpc_id().unwrap_or("unknown VPC").to_owned(),
                cidrs,
            }
        })
        .collect()
}

/// The existing VPCs (id, block) whose IPv4 blocks overlap `wanted`.
pub fn overlapping(wanted: &Ipv4Cidr, vpcs: &[Vpc]) -> Vec<(String, Ipv4Cidr)> {
    let mut found = Vec::new();
    for vpc in vpcs {
        let id = vpc.vpc_id().unwrap_or("unknown VPC");
        for block in blocks(vpc) {
            if block.overlaps(wanted) && !found.iter().any(|(v, b)| v == id && *b == block) {
                found.push((id.to_owned(), block));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::VpcCidrBlockAssociation;

    fn vpc(id: &str, primary: &str, extra: &[&str]) -> Vpc {
        let mut builder = Vpc::builder().vpc_id(id).cidr_block(primary);
        for block in std::iter::once(&primary).chain(extra) {
            builder = builder.cidr_block_association_set(
                VpcCidrBlockAssociation::builder()
                    .cidr_block(*block)
                    .build(),
            );
        }
        builder.build()
    }

    #[test]
    fn finds_overlaps_in_primary_and_secondary_blocks_once_each() {
        let vpcs = [
            vpc("vpc-default", "172.31.0.0/16", &[]),
            vpc("vpc-app", "10.0.0.0/16", &["10.20.128.0/20"]),
        ];
        let wanted: Ipv4Cidr = "10.20.0.0/16".parse().unwrap();
        assert_eq!(
            overlapping(&wanted, &vpcs),
            vec![("vpc-app".to_owned(), "10.20.128.0/20".parse().unwrap())]
        );
        let free: Ipv4Cidr = "10.21.0.0/16".parse().unwrap();
        assert!(overlapping(&free, &vpcs).is_empty());
        let everything: Ipv4Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!(overlapping(&everything, &vpcs).len(), 2);
    }
}
