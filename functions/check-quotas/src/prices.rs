//! Unit prices from the AWS Price List Query API (`pricing:GetProducts`, from the vendor's
//! account: prices are public, the customer's role need not allow it). The API is served from a
//! few regions only (us-east-1 among them; AWS Price List Query API, "Endpoints"), so the client
//! is pointed at `PRICING_REGION`, whatever region the install is in.
//!
//! Each product is found by its service code and a few attributes (TERM_MATCH filters), then by
//! the end of its usage type, which AWS prefixes with a region code outside us-east-1
//! (`USE2-EBS:VolumeUsage.gp3`). Prices change a few times a year: answers are kept for a day
//! in the function's memory, so a burst of preflights costs one round of calls.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_pricing::types::{Filter, FilterType};
use byoc_domain::cost_estimate::{Product, UnitPrice};
use futures_util::future::try_join_all;
use serde_json::Value;

use crate::{aws_error, CheckQuotasError};

const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

/// One Price List query: a service code and attribute values that must match exactly.
struct Query {
    service_code: &'static str,
    terms: Vec<(&'static str, String)>,
    /// The products it serves, each told by the end of its usage type.
    products: Vec<(Product, &'static str)>,
}

fn queries(region: &str, instance_type: &str) -> Vec<Query> {
    let region_term = || ("regionCode", region.to_owned());
    vec![
        Query {
            service_code: "AmazonEKS",
            terms: vec![region_term()],
            products: vec![
                (Product::ClusterHour, "AmazonEKS-Hours:perCluster"),
                (
                    Product::ExtendedSupportHour,
                    "AmazonEKS-Hours:extendedSupport",
                ),
            ],
        },
        Query {
            service_code: "AmazonEC2",
            terms: vec![
                region_term(),
                ("instanceType", instance_type.to_owned()),
                ("operatingSystem", "Linux".into()),
                ("tenancy", "Shared".into()),
                ("preInstalledSw", "NA".into()),
                ("capacitystatus", "Used".into()),
            ],
            products: vec![(Product::InstanceHour, "BoxUsage:")],
        },
        Query {
            service_code: "AmazonEC2",
            terms: vec![region_term(), ("volumeApiName", "gp3".into())],
            products: vec![(Product::Gp3GbMonth, "EBS:VolumeUsage.gp3")],
        },
        Query {
            service_code: "AmazonEC2",
            terms: vec![region_term(), ("group", "NGW:NatGateway".into())],
            products: vec![
                (Product::NatGatewayHour, "-NatGateway-Hours"),
                (Product::NatGatewayGb, "-NatGateway-Bytes"),
            ],
        },
        Query {
            service_code: "AmazonVPC",
            terms: vec![region_term(), ("group", "VPCPublicIPv4Address".into())],
            products: vec![(Product::PublicIpv4Hour, "PublicIPv4:InUseAddress")],
        },
        Query {
            service_code: "AWSELB",
            terms: vec![region_term(), ("operation", "LoadBalancing:Network".into())],
            products: vec![
                (Product::NetworkLoadBalancerHour, "LoadBalancerUsage"),
                (Product::NetworkLoadBalancerCapacityUnitHour, "LCUUsage"),
            ],
        },
    ]
}

/// Whether `usagetype` is the product's: `BoxUsage:` is a prefix (then the type); the others
/// end the usage type. A leading `-` marks an end that must not be part of a longer name
/// (`NatGateway-Hours` but not `RegionalNatGateway-Hours`): the usage type is it, or a region
/// code and it.
fn is_product(usagetype: &str, mark: &str) -> bool {
    if let Some(end) = mark.strip_prefix('-') {
        return usagetype == end
            || usagetype
                .split_once('-')
                .is_some_and(|(_, rest)| rest == end);
    }
    if mark.ends_with(':') {
        return usagetype.starts_with(mark)
            || usagetype
                .split_once('-')
                .is_some_and(|(_, rest)| rest.starts_with(mark));
    }
    usagetype.ends_with(mark)
}

/// The On-Demand price of one Price List record (its first price dimension in USD).
fn unit_price(record: &Value) -> Option<(String, UnitPrice)> {
    let usagetype = record["product"]["attributes"]["usagetype"]
        .as_str()?
        .to_owned();
    let sku = record["product"]["sku"].as_str()?.to_owned();
    let term = record["terms"]["OnDemand"].as_object()?.values().next()?;
    let dimension = term["priceDimensions"].as_object()?.values().next()?;
    let usd = dimension["pricePerUnit"]["USD"].as_str()?.parse().ok()?;
    Some((
        usagetype,
        UnitPrice {
            sku,
            usd,
            unit: dimension["unit"].as_str().unwrap_or_default().to_owned(),
            published: record["publicationDate"].as_str().map(str::to_owned),
        },
    ))
}

type Kept = HashMap<(String, String), (Instant, HashMap<Product, UnitPrice>)>;

fn kept() -> &'static Mutex<Kept> {
    static KEPT: OnceLock<Mutex<Kept>> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The prices of every product an install in `region` with `instance_type` nodes draws on; a
/// product the Price List has no record for is absent.
pub async fn unit_prices(
    pricing: &aws_sdk_pricing::Client,
    region: &str,
    instance_type: &str,
) -> Result<HashMap<Product, UnitPrice>, CheckQuotasError> {
    let key = (region.to_owned(), instance_type.to_owned());
    if let Ok(kept) = kept().lock() {
        if let Some((at, prices)) = kept.get(&key).filter(|(at, _)| at.elapsed() < KEPT_FOR) {
            tracing::debug!(age_s = at.elapsed().as_secs(), "prices from memory");
            return Ok(prices.clone());
        }
    }
    // At once: one round trip, not six.
    let answers = try_join_all(
        queries(region, instance_type)
            .into_iter()
            .map(|q| products(pricing, q)),
    )
    .await?;
    let prices: HashMap<Product, UnitPrice> = answers.into_iter().flatten().collect();
    if let Ok(mut kept) = kept().lock() {
        kept.insert(key, (Instant::now(), prices.clone()));
    }
    Ok(prices)
}

async fn products(
    pricing: &aws_sdk_pricing::Client,
    query: Query,
) -> Result<HashMap<Product, UnitPrice>, CheckQuotasError> {
    let mut request = pricing
        .get_products()
        .service_code(query.service_code)
        .format_version("aws_v1")
        .max_results(100);
    for (field, value) in &query.terms {
        let filter = Filter::builder()
            .r#type(FilterType::TermMatch)
            .field(*field)
            .value(value)
            .build()
            .map_err(|e| aws_error("Pricing", e))?;
        request = request.filters(filter);
    }
    let mut pages = request.into_paginator().send();
    let mut found = HashMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("Pricing", e))?;
        for text in page.price_list() {
            let Some((usagetype, price)) = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|record| unit_price(&record))
            else {
                continue;
            };
            for (product, mark) in &query.products {
                if is_product(&usagetype, mark) {
                    found.entry(*product).or_insert_with(|| price.clone());
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_types_are_told_apart_with_or_without_a_region_code() {
        assert!(is_product("NatGateway-Hours", "-NatGateway-Hours"));
        assert!(is_product("USE2-NatGateway-Hours", "-NatGateway-Hours"));
        assert!(!is_product("RegionalNatGateway-Hours", "-NatGateway-Hours"));
        assert!(is_product("BoxUsage:m6i.large", "BoxUsage:"));
        assert!(is_product("USW2-BoxUsage:m6i.large", "BoxUsage:"));
        assert!(!is_product("DedicatedUsage:m6i.large", "BoxUsage:"));
        assert!(is_product(
            "USE1-AmazonEKS-Hours:perCluster",
            "AmazonEKS-Hours:perCluster"
        ));
        assert!(!is_product(
            "USE1-AmazonEKS-Hours:extendedSupport",
            "AmazonEKS-Hours:perCluster"
        ));
    }

    #[test]
    fn a_record_gives_its_on_demand_price() {
        let record = serde_json::json!({
            "product": {"sku": "B8JJ44GS8MG4RPR4", "attributes": {"usagetype": "BoxUsage:m6i.large"}},
            "terms": {"OnDemand": {"B8JJ44GS8MG4RPR4.JRTCKXETXF": {"priceDimensions": {"B8JJ44GS8MG4RPR4.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0960000000"}}}}}},
            "publicationDate": "2026-09-25T17:45:21Z"
        });
        let (usagetype, price) = unit_price(&record).unwrap();
        assert_eq!(usagetype, "BoxUsage:m6i.large");
        assert_eq!(
            (price.sku.as_str(), price.usd, price.unit.as_str()),
            ("B8JJ44GS8MG4RPR4", 0.096, "Hrs")
        );
    }
}
