//! The monthly AWS bill of what an install builds, from unit prices of the AWS Price List
//! (`pricing:GetProducts`): which products an install's options draw on, how many of each, and
//! their monthly cost. Hourly prices count 730 hours a month (AWS's own convention on its
//! pricing pages and in the Pricing Calculator). What depends on traffic (NAT data processed,
//! load balancer capacity units) is listed with its unit price, outside the total.

use serde::{Deserialize, Serialize};

use crate::options::{InstallOptions, NatMode};

pub const HOURS_PER_MONTH: f64 = 730.0;

/// The products an estimate prices, each found in the Price List by its service code and
/// attributes (`check-quotas/src/prices.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// An EKS cluster's hour (standard support).
    ClusterHour,
    /// What EKS adds per cluster hour while the version is in extended support.
    ExtendedSupportHour,
    /// An On-Demand Linux instance hour of the node type.
    InstanceHour,
    /// A GB-month of gp3 volume.
    Gp3GbMonth,
    NatGatewayHour,
    NatGatewayGb,
    /// An hour of an in-use public IPv4 address (the NAT gateways' Elastic IPs).
    PublicIpv4Hour,
    NetworkLoadBalancerHour,
    NetworkLoadBalancerCapacityUnitHour,
}

/// One price as the Price List gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitPrice {
    pub sku: String,
    pub usd: f64,
    /// AWS's unit: `Hrs`, `GB-Mo`, `GB`, `LCU-Hrs`, …
    pub unit: String,
    /// When AWS published the offer the price comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub item: String,
    pub product: Product,
    pub sku: String,
    pub unit_price_usd: f64,
    pub unit: String,
    /// Units a month (hours × count, or GB-months).
    pub quantity: f64,
    pub monthly_usd: f64,
}

/// A price that depends on use, not in the total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsagePrice {
    pub item: String,
    pub product: Product,
    pub sku: String,
    pub unit_price_usd: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub currency: String,
    pub hours_per_month: f64,
    pub lines: Vec<Line>,
    pub monthly_total_usd: f64,
    pub plus_usage: Vec<UsagePrice>,
    /// Products the Price List had no price for: the total leaves them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// What an install of `options` runs, by product: (product, what it is, units a month). The
/// extended-support surcharge only while the version is in extended support.
pub fn quantities(options: &InstallOptions, extended_support: bool) -> Vec<(Product, String, f64)> {
    let nat_gateways = match options.nat_mode {
        NatMode::Single => 1,
        NatMode::PerAz => u32::from(options.az_count),
    };
    let nodes = options.node_desired_size;
    let mut wanted = vec![(
        Product::ClusterHour,
        "EKS cluster".to_owned(),
        HOURS_PER_MONTH,
    )];
    if extended_support {
        wanted.push((
            Product::ExtendedSupportHour,
            "EKS extended support (the version is past standard support)".to_owned(),
            HOURS_PER_MONTH,
        ));
    }
    wanted.push((
        Product::InstanceHour,
        format!(
            "{nodes} × {} node (On-Demand, Linux)",
            options.node_instance_type
        ),
        HOURS_PER_MONTH * f64::from(nodes),
    ));
    wanted.push((
        Product::Gp3GbMonth,
        format!(
            "{nodes} × {} GiB gp3 node volume",
            options.node_disk_size_gib
        ),
        f64::from(nodes) * f64::from(options.node_disk_size_gib),
    ));
    wanted.push((
        Product::NatGatewayHour,
        format!(
            "{nat_gateways} × NAT gateway ({})",
            nat_mode_name(options.nat_mode)
        ),
        HOURS_PER_MONTH * f64::from(nat_gateways),
    ));
    wanted.push((
        Product::PublicIpv4Hour,
        format!("{nat_gateways} × public IPv4 address (the NAT gateways' Elastic IPs)"),
        HOURS_PER_MONTH * f64::from(nat_gateways),
    ));
    if options.load_balancer {
        wanted.push((
            Product::NetworkLoadBalancerHour,
            "network load balancer".to_owned(),
            HOURS_PER_MONTH,
        ));
    }
    wanted
}

fn nat_mode_name(mode: NatMode) -> &'static str {
    match mode {
        NatMode::Single => "single",
        NatMode::PerAz => "one per zone",
    }
}

/// The products priced by use that the install's options draw on.
pub fn usage_priced(options: &InstallOptions) -> Vec<(Product, &'static str)> {
    let mut usage = vec![(Product::NatGatewayGb, "NAT gateway data processed")];
    if options.load_balancer {
        usage.push((
            Product::NetworkLoadBalancerCapacityUnitHour,
            "network load balancer capacity units",
        ));
    }
    usage
}

/// Cents, as a bill shows them.
fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// The estimate of `options` with the prices found (`price` answers None for a product the
/// Price List has no price for; it is listed as missing).
pub fn estimate(
    options: &InstallOptions,
    extended_support: bool,
    price: impl Fn(Product) -> Option<UnitPrice>,
    region: &str,
) -> Estimate {
    let mut lines = vec![];
    let mut missing = vec![];
    for (product, item, quantity) in quantities(options, extended_support) {
        match price(product) {
            Some(p) => lines.push(Line {
                monthly_usd: cents(p.usd * quantity),
                item,
                product,
                sku: p.sku,
                unit_price_usd: p.usd,
                unit: p.unit,
                quantity,
            }),
            None => missing.push(format!("{item} in {region}")),
        }
    }
    let plus_usage = usage_priced(options)
        .into_iter()
        .filter_map(|(product, item)| {
            let p = price(product)?;
            Some(UsagePrice {
                item: item.to_owned(),
                product,
                sku: p.sku,
                unit_price_usd: p.usd,
                unit: p.unit,
            })
        })
        .collect();
    Estimate {
        currency: "USD".into(),
        hours_per_month: HOURS_PER_MONTH,
        monthly_total_usd: cents(lines.iter().map(|l| l.monthly_usd).sum()),
        lines,
        plus_usage,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// us-east-1's prices in the local stack's Price List.
    fn price(product: Product) -> Option<UnitPrice> {
        let usd = match product {
            Product::ClusterHour => 0.10,
            Product::ExtendedSupportHour => 0.50,
            Product::InstanceHour => 0.096,
            Product::Gp3GbMonth => 0.08,
            Product::NatGatewayHour => 0.045,
            Product::NatGatewayGb => 0.045,
            Product::PublicIpv4Hour => 0.005,
            Product::NetworkLoadBalancerHour => 0.0225,
            Product::NetworkLoadBalancerCapacityUnitHour => 0.006,
        };
        Some(UnitPrice {
            sku: format!("{product:?}"),
            usd,
            unit: "Hrs".into(),
            published: None,
        })
    }

    #[test]
    fn the_default_plan_costs_its_parts() {
        let e = estimate(&InstallOptions::default(), false, price, "us-east-1");
        let by: Vec<(Product, f64)> = e.lines.iter().map(|l| (l.product, l.monthly_usd)).collect();
        assert_eq!(
            by,
            [
                (Product::ClusterHour, 73.0),
                (Product::InstanceHour, 140.16),
                (Product::Gp3GbMonth, 8.0),
                (Product::NatGatewayHour, 98.55),
                (Product::PublicIpv4Hour, 10.95),
                (Product::NetworkLoadBalancerHour, 16.43),
            ]
        );
        assert_eq!(e.monthly_total_usd, 347.09);
        assert_eq!(e.plus_usage.len(), 2);
        assert!(e.missing.is_empty());
    }

    #[test]
    fn one_nat_gateway_saves_two_gateways_and_their_addresses() {
        let per_az = estimate(&InstallOptions::default(), false, price, "r");
        let single = InstallOptions {
            nat_mode: NatMode::Single,
            ..InstallOptions::default()
        };
        let single = estimate(&single, false, price, "r");
        let saved = per_az.monthly_total_usd - single.monthly_total_usd;
        assert!(
            (saved - 2.0 * 730.0 * (0.045 + 0.005)).abs() < 0.011,
            "{saved}"
        );
    }

    #[test]
    fn extended_support_adds_its_surcharge_and_a_missing_price_is_named() {
        let standard = estimate(&InstallOptions::default(), false, price, "r");
        let extended = estimate(&InstallOptions::default(), true, price, "r");
        assert!((extended.monthly_total_usd - standard.monthly_total_usd - 365.0).abs() < 0.001);
        let partial = estimate(
            &InstallOptions::default(),
            false,
            |p| (p != Product::InstanceHour).then(|| price(p)).flatten(),
            "us-west-2",
        );
        assert_eq!(
            partial.missing,
            ["2 × m6i.large node (On-Demand, Linux) in us-west-2"]
        );
        assert!((standard.monthly_total_usd - partial.monthly_total_usd - 140.16).abs() < 0.001);
    }
}
