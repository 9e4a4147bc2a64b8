//! What an install's leftovers cost per month while they stay, for the dry-run report. Only
//! what bills by the hour or by the GB-month on its own is counted (no traffic, no LCUs).

use byoc_domain::deletion_order::{Found, Kind};

/// us-east-1 on-demand list prices in USD. The authority is AWS's pricing pages
/// (https://aws.amazon.com/vpc/pricing/, https://aws.amazon.com/elasticloadbalancing/pricing/,
/// https://aws.amazon.com/ebs/pricing/, https://aws.amazon.com/eks/pricing/); each price was
/// checked against the page cited on it (AWS announcements, or pages quoting the us-east-1
/// list price), and all held. Re-check the pricing pages before quoting a customer.
pub mod prices {
    /// Per NAT gateway-hour; the $0.045 per GB it processes is traffic and not counted here
    /// (https://basavytix.com/blog/aws-nat-gateway-pricing, https://rajesh.medampudi.com/blog/aws-nat-gateway-hidden-tax).
    pub const NAT_GATEWAY_HOUR: f64 = 0.045;
    /// Every public IPv4 address, attached or not, since 2024-02-01
    /// (https://aws.amazon.com/blogs/networking-and-content-delivery/identify-and-optimize-public-ipv4-address-usage-on-aws/).
    pub const PUBLIC_IPV4_HOUR: f64 = 0.005;
    /// Application and Network Load Balancers alike, before LCUs (a Gateway Load Balancer is
    /// $0.0125; Kubernetes makes none) (https://awsnegotiations.com/elastic-load-balancer-cost.html).
    pub const LOAD_BALANCER_HOUR: f64 = 0.0225;
    /// A Classic Load Balancer-hour, before data processed
    /// (https://aws.amazon.com/elasticloadbalancing/pricing/, "Classic Load Balancer").
    pub const CLASSIC_LOAD_BALANCER_HOUR: f64 = 0.025;
    /// Linux On-Demand instance-hours of the types EKS nodes usually are, from
    /// https://aws.amazon.com/ec2/pricing/on-demand/ (not re-checked here); any other type is
    /// priced 0 and the leftover says its price is not known.
    pub const INSTANCE_HOUR: [(&str, f64); 10] = [
        ("t3.medium", 0.0416),
        ("t3.large", 0.0832),
        ("t3.xlarge", 0.1664),
        ("m5.large", 0.096),
        ("m5.xlarge", 0.192),
        ("m6i.large", 0.096),
        ("m6i.xlarge", 0.192),
        ("m7i.large", 0.1008),
        ("c5.large", 0.085),
        ("r5.large", 0.126),
    ];
    /// A cluster in standard Kubernetes support; extended support is $0.60
    /// (https://aws.amazon.com/blogs/containers/amazon-eks-extended-support-for-kubernetes-versions-pricing/).
    pub const EKS_CLUSTER_HOUR: f64 = 0.10;
    /// EBS storage per GB-month by volume type (provisioned IOPS and throughput not counted);
    /// an unknown type is priced as gp2. gp3 and gp2 checked against
    /// https://handbook.getfinops.cloud/gp2-vs-gp3-cost-savings/ and
    /// https://www.saisci.com/aws/gp2-vs-gp3-cost-comparison-ebs-volumes/; io1/io2, st1, sc1 and
    /// magnetic are from https://aws.amazon.com/ebs/pricing/ and not re-checked here.
    pub const EBS_GB_MONTH: [(&str, f64); 7] = [
        ("gp3", 0.08),
        ("gp2", 0.10),
        ("io1", 0.125),
        ("io2", 0.125),
        ("st1", 0.045),
        ("sc1", 0.015),
        ("standard", 0.05),
    ];
    pub const EBS_DEFAULT_GB_MONTH: f64 = 0.10;
}

/// The hours AWS bills a month as (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The monthly cost of one resource, in USD.
pub fn monthly_usd(found: &Found) -> f64 {
    use prices::*;
    match found.kind {
        Kind::NatGateway => NAT_GATEWAY_HOUR * HOURS_PER_MONTH,
        Kind::ElasticIp => PUBLIC_IPV4_HOUR * HOURS_PER_MONTH,
        Kind::LoadBalancer => LOAD_BALANCER_HOUR * HOURS_PER_MONTH,
        Kind::ClassicLoadBalancer => CLASSIC_LOAD_BALANCER_HOUR * HOURS_PER_MONTH,
        Kind::Instance => found
            .instance_type
            .as_deref()
            .and_then(|t| INSTANCE_HOUR.iter().find(|(name, _)| *name == t))
            .map_or(0.0, |(_, hour)| hour * HOURS_PER_MONTH),
        Kind::Cluster => EKS_CLUSTER_HOUR * HOURS_PER_MONTH,
        Kind::Volume => {
            let per_gb = found
                .volume_type
                .as_deref()
                .and_then(|t| EBS_GB_MONTH.iter().find(|(name, _)| *name == t))
                .map_or(EBS_DEFAULT_GB_MONTH, |(_, price)| *price);
            per_gb * found.size_gib.unwrap_or(0).max(0) as f64
        }
        _ => 0.0,
    }
}

/// The monthly cost of everything in `found`, rounded to cents.
pub fn total_monthly_usd(found: &[Found]) -> f64 {
    // fold from +0.0: an empty f64 sum is -0.0, which JSON shows as "-0.0".
    (found
        .iter()
        .map(monthly_usd)
        .fold(0.0, |total, usd| total + usd)
        * 100.0)
        .round()
        / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::deletion_order::Reason;

    fn found(kind: Kind) -> Found {
        Found::new(kind, "x", Reason::InstallTag)
    }

    #[test]
    fn a_typical_leftover_network_costs_what_the_price_pages_say() {
        // Three NAT gateways with their addresses: 3 × (32.85 + 3.65).
        let mut set: Vec<Found> = (0..3)
            .flat_map(|_| [found(Kind::NatGateway), found(Kind::ElasticIp)])
            .collect();
        assert_eq!(total_monthly_usd(&set), 109.5);
        set.push(found(Kind::LoadBalancer));
        let mut volume = found(Kind::Volume);
        volume.size_gib = Some(100);
        volume.volume_type = Some("gp3".into());
        set.push(volume);
        // + 16.425 for the NLB + 8.00 for 100 GB of gp3
        assert_eq!(total_monthly_usd(&set), 133.93);
    }

    #[test]
    fn free_things_and_odd_volumes() {
        assert_eq!(
            total_monthly_usd(&[
                found(Kind::Vpc),
                found(Kind::Subnet),
                found(Kind::SecurityGroup),
                found(Kind::LogGroup)
            ]),
            0.0
        );
        let mut unknown = found(Kind::Volume);
        unknown.size_gib = Some(10);
        unknown.volume_type = Some("future-type".into());
        assert_eq!(total_monthly_usd(&[unknown]), 1.0);
        assert_eq!(
            total_monthly_usd(&[found(Kind::Volume)]),
            0.0,
            "no size, no estimate"
        );
        assert_eq!(total_monthly_usd(&[found(Kind::Cluster)]), 73.0);
        assert_eq!(
            total_monthly_usd(&[found(Kind::ClassicLoadBalancer)]),
            18.25
        );
        let mut node = found(Kind::Instance);
        node.instance_type = Some("t3.medium".into());
        assert_eq!(total_monthly_usd(&[node.clone()]), 30.37);
        node.instance_type = Some("x9.huge".into());
        assert_eq!(
            total_monthly_usd(&[node]),
            0.0,
            "an unknown type is not guessed"
        );
        assert!(
            total_monthly_usd(&[]).is_sign_positive(),
            "nothing costs $0.00, not $-0.00"
        );
    }
}
