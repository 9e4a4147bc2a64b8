//! What an install's leftovers cost per month while they stay, for the dry-run report. Only
//! what bills by the hour or by the GB-month on its own is counted (no traffic, no LCUs).

use byoc_core::deletion_order::{Found, Kind};

/// us-east-1 on-demand list prices in USD as published on the AWS pricing pages (VPC, Elastic
/// Load Balancing, EBS, EKS) as known on 2025-06-01; re-check them there before quoting.
pub mod prices {
    pub const NAT_GATEWAY_HOUR: f64 = 0.045;
    /// Every public IPv4 address, attached or not, since 2024-02-01.
    pub const PUBLIC_IPV4_HOUR: f64 = 0.005;
    /// Application and Network Load Balancers alike.
    pub const LOAD_BALANCER_HOUR: f64 = 0.0225;
    /// A cluster in standard Kubernetes support.
    pub const EKS_CLUSTER_HOUR: f64 = 0.10;
    /// EBS storage per GB-month by volume type; an unknown type is priced as gp2.
    pub const EBS_GB_MONTH: [(&str, f64); 7] =
        [("gp3", 0.08), ("gp2", 0.10), ("io1", 0.125), ("io2", 0.125), ("st1", 0.045), ("sc1", 0.015), ("standard", 0.05)];
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
    (found.iter().map(monthly_usd).sum::<f64>() * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_core::deletion_order::Reason;

    fn found(kind: Kind) -> Found {
        Found::new(kind, "x", Reason::InstallTag)
    }

    #[test]
    fn a_typical_leftover_network_costs_what_the_price_pages_say() {
        // Three NAT gateways with their addresses: 3 × (32.85 + 3.65).
        let mut set: Vec<Found> = (0..3).flat_map(|_| [found(Kind::NatGateway), found(Kind::ElasticIp)]).collect();
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
        assert_eq!(total_monthly_usd(&[found(Kind::Vpc), found(Kind::Subnet), found(Kind::SecurityGroup), found(Kind::LogGroup)]), 0.0);
        let mut unknown = found(Kind::Volume);
        unknown.size_gib = Some(10);
        unknown.volume_type = Some("future-type".into());
        assert_eq!(total_monthly_usd(&[unknown]), 1.0);
        assert_eq!(total_monthly_usd(&[found(Kind::Volume)]), 0.0, "no size, no estimate");
        assert_eq!(total_monthly_usd(&[found(Kind::Cluster)]), 73.0);
    }
}
