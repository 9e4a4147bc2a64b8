//! `POST /installs/preflight`: the provision checks a vendor shows on its onboarding page before
//! the customer clicks "install". Every finding comes at once, in one response; nothing is
//! written (no install for the tenant, no idempotency key) and nothing is built in the
//! customer's account (its VPCs, addresses and NAT gateways as they were).

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use byoc_e2e::customer_ec2::ec2;
use byoc_e2e::customer_eks::eks;
use byoc_e2e::installed::{place, place_from, Place};
use byoc_e2e::stack::OLD_CUSTOMER_TEMPLATE;
use byoc_e2e::{random_account_id, random_tenant_id, Api, ApiResponse, LocalStack};
use serde_json::{json, Value};

/// Two nodes fit a new account's 5 On-Demand Standard vCPUs; the default plan (up to four
/// m6i.large nodes, 8 vCPUs) does not.
fn fitting() -> Value {
    json!({"node_desired_size": 2, "node_max_size": 2})
}

async fn preflight(api: &Api, place: &Place, region: &str, options: Value) -> ApiResponse {
    let body = json!({"tenant_id": place.tenant_id, "account_id": place.account, "region": region, "options": options});
    api.post("/installs/preflight", &body).await.unwrap()
}

/// Each check's (status, message, advice), by name; a check reported more than once (one
/// refusal each) keeps every entry.
fn by_check(report: &Value) -> BTreeMap<String, Vec<(String, String, String)>> {
    let mut found: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for check in report["checks"].as_array().unwrap() {
        found
            .entry(check["check"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                check["status"].as_str().unwrap().to_owned(),
                check["message"].as_str().unwrap().to_owned(),
                check["advice"].as_str().unwrap_or_default().to_owned(),
            ));
    }
    found
}

fn status_of(found: &BTreeMap<String, Vec<(String, String, String)>>, check: &str) -> Vec<String> {
    found
        .get(check)
        .unwrap_or_else(|| panic!("no {check} check: {found:#?}"))
        .iter()
        .map(|(status, _, _)| status.clone())
        .collect()
}

/// What the account holds that an install would make: VPCs, Elastic IPs, NAT gateways.
async fn made(ec2: &Client) -> (usize, usize, usize) {
    let vpcs = ec2.describe_vpcs().send().await.unwrap().vpcs().len();
    let addresses = ec2
        .describe_addresses()
        .send()
        .await
        .unwrap()
        .addresses()
        .len();
    let nat = ec2
        .describe_nat_gateways()
        .send()
        .await
        .unwrap()
        .nat_gateways()
        .len();
    (vpcs, addresses, nat)
}

async fn no_install_recorded(api: &Api, place: &Place) {
    let listed = api
        .get(&format!("/tenants/{}/installs", place.tenant_id))
        .await
        .unwrap();
    assert_eq!(listed.json["installs"], json!([]), "{}", listed.text);
}

const ALL_CHECKS: [&str; 9] = [
    "access",
    "vendor_access",
    "template_version",
    "region",
    "permissions",
    "instance_type",
    "vpc_cidr",
    "quotas",
    "kubernetes_version",
];

#[tokio::test]
async fn a_healthy_account_passes_every_check_and_nothing_is_written_or_built() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "preflightok").await;
    let ec2 = ec2(&stack, &place.account);
    let before = made(&ec2).await;

    let answer = preflight(&api, &place, "us-east-1", fitting()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let report = &answer.json;
    let found = by_check(report);
    for check in ALL_CHECKS {
        assert_eq!(status_of(&found, check), ["passed"], "{check}: {report:#}");
    }
    assert_eq!(report["ok"], true);
    assert_eq!(
        report["zones"].as_array().map(Vec::len),
        Some(3),
        "{report:#}"
    );
    assert_eq!(
        report["vpc_cidr"], "10.0.0.0/16",
        "the first free block: {report:#}"
    );
    assert!(
        report["kubernetes_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{report:#}"
    );

    assert_eq!(made(&ec2).await, before, "the preflight built something");
    no_install_recorded(&api, &place).await;
    // The customer's CloudTrail names the probes for what they are.
    let sessions: Vec<String> = stack
        .assume_role_log()
        .iter()
        .filter(|e| {
            e["role"]
                .as_str()
                .is_some_and(|r| r.contains(&format!(":{}:", place.account)))
        })
        .filter_map(|e| e["source_identity"].as_str().map(str::to_owned))
        .collect();
    assert!(
        sessions
            .iter()
            .any(|s| s.starts_with("byoc.inst-") && s.ends_with(".preflight")),
        "{sessions:?}"
    );
}

/// The estimate's monthly cost of `product`'s line (None: no such line).
fn line(report: &Value, product: &str) -> Option<Value> {
    report["estimate"]["lines"]
        .as_array()?
        .iter()
        .find(|l| l["product"] == product)
        .cloned()
}

fn total(report: &Value) -> f64 {
    report["estimate"]["monthly_total_usd"].as_f64().unwrap()
}

#[tokio::test]
async fn the_estimate_prices_every_part_and_follows_the_nat_mode_and_the_support_phase() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "preflightcost").await;

    let per_az = preflight(&api, &place, "us-east-1", fitting()).await.json;
    let products: Vec<&str> = per_az["estimate"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["product"].as_str().unwrap())
        .collect();
    assert_eq!(
        products,
        [
            "cluster_hour",
            "instance_hour",
            "gp3_gb_month",
            "nat_gateway_hour",
            "public_ipv4_hour",
            "network_load_balancer_hour"
        ],
        "{per_az:#}"
    );
    for l in per_az["estimate"]["lines"].as_array().unwrap() {
        let expected = l["unit_price_usd"].as_f64().unwrap() * l["quantity"].as_f64().unwrap();
        assert!(
            (l["monthly_usd"].as_f64().unwrap() - expected).abs() < 0.006,
            "{l:#}"
        );
        assert!(!l["sku"].as_str().unwrap().is_empty(), "{l:#}");
    }
    let sum: f64 = per_az["estimate"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["monthly_usd"].as_f64().unwrap())
        .sum();
    assert!((total(&per_az) - sum).abs() < 0.001, "{per_az:#}");
    // Two nodes of m6i.large at $0.096 an hour, three NAT gateways (one per zone), in us-east-1.
    let nodes = line(&per_az, "instance_hour").unwrap();
    assert_eq!(
        (nodes["quantity"].as_f64(), nodes["unit_price_usd"].as_f64()),
        (Some(1460.0), Some(0.096))
    );
    assert_eq!(
        line(&per_az, "nat_gateway_hour").unwrap()["quantity"],
        2190.0
    );
    assert!(line(&per_az, "extended_support_hour").is_none());
    let usage: Vec<&str> = per_az["estimate"]["plus_usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["product"].as_str().unwrap())
        .collect();
    assert_eq!(
        usage,
        ["nat_gateway_gb", "network_load_balancer_capacity_unit_hour"]
    );

    // One NAT gateway instead of three: two gateways and their two addresses fewer.
    let mut single_options = fitting();
    single_options["nat_mode"] = json!("single");
    let single = preflight(&api, &place, "us-east-1", single_options)
        .await
        .json;
    let nat = line(&per_az, "nat_gateway_hour").unwrap()["unit_price_usd"]
        .as_f64()
        .unwrap();
    let address = line(&per_az, "public_ipv4_hour").unwrap()["unit_price_usd"]
        .as_f64()
        .unwrap();
    let saved = total(&per_az) - total(&single);
    assert!(
        (saved - 2.0 * 730.0 * (nat + address)).abs() < 0.011,
        "saved {saved}: {single:#}"
    );

    // A version already in extended support (support_type "extended"): EKS's surcharge per hour.
    let versions = eks(&stack, &place.account)
        .describe_cluster_versions()
        .send()
        .await
        .unwrap();
    let extended_version = versions
        .cluster_versions()
        .iter()
        .find(|v| v.version_status().map(|s| s.as_str()) == Some("EXTENDED_SUPPORT"))
        .and_then(|v| v.cluster_version())
        .expect("EKS offers a version in extended support")
        .to_owned();
    let mut options = fitting();
    options["kubernetes_version"] = json!(extended_version);
    options["support_type"] = json!("extended");
    let extended = preflight(&api, &place, "us-east-1", options).await.json;
    assert_eq!(extended["ok"], true, "{extended:#}");
    let surcharge =
        line(&extended, "extended_support_hour").unwrap_or_else(|| panic!("{extended:#}"));
    assert_eq!(surcharge["unit_price_usd"], 0.5);
    let added = total(&extended) - total(&per_az);
    assert!((added - 730.0 * 0.5).abs() < 0.006, "added {added}");
}

#[tokio::test]
async fn every_problem_of_an_account_is_reported_at_once() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let tenant = random_tenant_id("preflightbad");
    let external_id = api
        .create_tenant(&tenant, "ops@bounded.example")
        .await
        .unwrap();
    let account = random_account_id();
    let customer = stack.customer(&account);
    // A boundary that leaves out NAT gateways, as a security team might set.
    customer
        .create_access_stack_without_nat_gateways(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();
    // The block the vendor asks for is taken by the customer's own network.
    let ec2 = ec2(&stack, &account);
    ec2.create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let before = made(&ec2).await;

    // The default plan's four nodes need 8 vCPUs of a new account's 5; 1.29 left EKS in 2026.
    let body = json!({"tenant_id": tenant, "account_id": account, "region": "us-east-1",
        "options": {"vpc_cidr": "10.0.0.0/16", "kubernetes_version": "1.29"}});
    let answer = api.post("/installs/preflight", &body).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    let report = &answer.json;
    assert_eq!(report["ok"], false);
    let found = by_check(report);
    for check in [
        "access",
        "vendor_access",
        "template_version",
        "region",
        "instance_type",
    ] {
        assert_eq!(status_of(&found, check), ["passed"], "{check}: {report:#}");
    }
    let permissions = &found["permissions"];
    assert_eq!(
        permissions.len(),
        1,
        "only what the boundary refuses: {permissions:?}"
    );
    let (status, message, advice) = &permissions[0];
    assert_eq!(status, "failed");
    assert!(
        message.starts_with("ec2:CreateNatGateway on arn:aws:ec2:us-east-1:"),
        "{message}"
    );
    assert!(advice.contains("permissions boundary"), "{advice}");

    let (status, message, advice) = &found["vpc_cidr"][0];
    assert_eq!(status, "failed");
    assert!(
        message.contains("10.0.0.0/16 overlaps existing VPC blocks: vpc-"),
        "{message}"
    );
    assert!(
        advice.contains("such as 10.1.0.0/16"),
        "a free block is proposed: {advice}"
    );

    let quotas = &found["quotas"];
    assert!(quotas.iter().all(|(s, _, _)| s == "warning"), "{quotas:?}");
    assert!(
        quotas
            .iter()
            .any(|(_, m, a)| m.contains("L-1216C47A") && a.starts_with("the install requests")),
        "the vCPU deficit, which auto requests: {quotas:?}"
    );

    let (status, message, _) = &found["kubernetes_version"][0];
    assert_eq!(status, "failed");
    assert!(
        message.starts_with("Kubernetes 1.29 is not offered by EKS in this region"),
        "{message}"
    );

    assert_eq!(made(&ec2).await, before, "the preflight built something");
    let listed = api
        .get(&format!("/tenants/{tenant}/installs"))
        .await
        .unwrap();
    assert_eq!(listed.json["installs"], json!([]), "{}", listed.text);
}

#[tokio::test]
async fn a_stack_the_install_cannot_use_stops_the_checks_that_need_it_and_says_why() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);

    // Paused by the customer: the vendor's role may do nothing, so nothing else is probed.
    let paused = place(&stack, &api, "preflightpause").await;
    stack
        .customer(&paused.account)
        .update_access_stack(
            &stack.outputs.vendor_account_id,
            &paused.external_id,
            &[("VendorAccess", "paused")],
        )
        .await
        .unwrap();
    let answer = preflight(&api, &paused, "us-east-1", fitting()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let found = by_check(&answer.json);
    assert_eq!(
        status_of(&found, "vendor_access"),
        ["failed"],
        "{:#}",
        answer.json
    );
    assert!(
        found["vendor_access"][0]
            .2
            .contains("VendorAccess set to enabled"),
        "{found:?}"
    );
    for check in ["region", "permissions", "quotas", "kubernetes_version"] {
        assert_eq!(
            status_of(&found, check),
            ["skipped"],
            "{check}: {:#}",
            answer.json
        );
    }

    // A version-6 stack still installs: a warning with the command that updates it.
    let old = place_from(&stack, &api, "preflightold", OLD_CUSTOMER_TEMPLATE).await;
    let answer = preflight(&api, &old, "us-east-1", fitting()).await;
    let found = by_check(&answer.json);
    assert_eq!(
        status_of(&found, "template_version"),
        ["warning"],
        "{:#}",
        answer.json
    );
    assert!(
        found["template_version"][0]
            .1
            .contains("template version 6"),
        "{found:?}"
    );
    assert!(
        found["template_version"][0]
            .2
            .contains("aws cloudformation update-stack"),
        "{found:?}"
    );
    assert_eq!(answer.json["ok"], true, "{:#}", answer.json);

    // An opt-in region the account has not enabled: said at once, with where to enable it.
    let answer = preflight(&api, &old, "af-south-1", fitting()).await;
    let found = by_check(&answer.json);
    assert_eq!(status_of(&found, "region"), ["failed"], "{:#}", answer.json);
    assert!(
        found["region"][0]
            .1
            .contains("af-south-1 is an opt-in region"),
        "{found:?}"
    );
    assert!(
        found["region"][0]
            .2
            .contains("enable-region --region-name af-south-1"),
        "{found:?}"
    );
    assert_eq!(status_of(&found, "permissions"), ["skipped"]);

    // No stack at all in the account: access fails, and nothing else can be checked.
    let tenant = random_tenant_id("preflightnone");
    api.create_tenant(&tenant, "ops@new.example").await.unwrap();
    let body =
        json!({"tenant_id": tenant, "account_id": random_account_id(), "region": "us-east-1"});
    let answer = api.post("/installs/preflight", &body).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    let found = by_check(&answer.json);
    assert_eq!(status_of(&found, "access"), ["failed"], "{:#}", answer.json);
    assert!(found["access"][0].2.contains("install link"), "{found:?}");
    assert_eq!(status_of(&found, "quotas"), ["skipped"]);
    assert_eq!(answer.json["ok"], false);
}

#[tokio::test]
async fn a_bad_body_or_an_unknown_tenant_is_refused_naming_the_field() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let account = random_account_id();
    let ghost = random_tenant_id("preflightghost");
    let cases = [
        (
            json!({"tenant_id": ghost, "account_id": account, "region": "us-east-1"}),
            404,
            "tenant_id",
        ),
        (
            json!({"tenant_id": ghost, "account_id": "12", "region": "us-east-1"}),
            400,
            "account_id",
        ),
        (
            json!({"tenant_id": ghost, "account_id": account, "region": "us-east-1", "options": {"az_count": 1}}),
            400,
            "options.az_count",
        ),
        (
            json!({"tenant_id": ghost, "account_id": account, "region": "us-east-1", "extra": 1}),
            400,
            "extra",
        ),
    ];
    for (body, status, field) in cases {
        let answer = api.post("/installs/preflight", &body).await.unwrap();
        assert_eq!(answer.status, status, "{body}: {}", answer.text);
        assert_eq!(answer.error_field(), Some(field), "{body}: {}", answer.text);
    }
}
