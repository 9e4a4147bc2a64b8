//! Quotas before anything is built: check-quotas reports every shortfall of a customer's
//! account at once, request-quota asks AWS for the increases exactly once and follows them to
//! approval or denial. The functions are invoked directly, on installs created through the
//! API (whose own executions run alongside; they do not reach these steps yet).

use std::time::{Duration, Instant};

use byoc_e2e::customer_ec2::ec2;
use byoc_e2e::customer_quotas::{applied, requests, service_quotas, steer, QuotaFunctions};
use byoc_e2e::{random_account_id, random_tenant_id, Api, LocalStack};
use serde_json::{json, Value};

const POLL_SECONDS: u64 = 1;
const VCPUS: &str = "L-1216C47A";
const EIPS: &str = "L-0263D0A3";

struct Install {
    id: String,
    tenant: String,
    account: String,
}

struct Env {
    stack: LocalStack,
    api: Api,
    functions: QuotaFunctions,
}

async fn env() -> Env {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let functions = QuotaFunctions::ensure(&stack, POLL_SECONDS).await.unwrap();
    Env {
        stack,
        api,
        functions,
    }
}

impl Env {
    /// A tenant, its customer's access stack in a fresh account whose Service Quotas are
    /// steered with `settings` first, and an install there with `options`.
    async fn install(&self, options: Value, settings: Value) -> Install {
        let tenant = random_tenant_id("quota");
        let created = self
            .api
            .post(
                "/tenants",
                &json!({"tenant_id": tenant, "name": "Quota Co", "email": "ops@quota.example"}),
            )
            .await
            .unwrap();
        assert_eq!(created.status, 201, "{}", created.text);
        let external_id = created.json["external_id"].as_str().unwrap().to_owned();
        let account = random_account_id();
        steer(&self.stack, &account, settings).await.unwrap();
        self.stack
            .customer(&account)
            .create_access_stack(&self.stack.outputs.vendor_account_id, &external_id)
            .await
            .unwrap();
        let id = byoc_e2e::stepwise::recorded_install(&self.stack, &tenant, &account, options)
            .await
            .unwrap();
        Install {
            id,
            tenant,
            account,
        }
    }

    async fn record(&self, install: &Install) -> Value {
        let shown = self
            .api
            .get(&format!("/installs/{}", install.id))
            .await
            .unwrap();
        assert_eq!(shown.status, 200, "{}", shown.text);
        shown.json
    }
}

fn events(record: &Value, step: &str) -> Vec<(String, String)> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == step)
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Two zones, one NAT gateway per zone, two m6i.large nodes at most: 2 Elastic IPs, 4 vCPUs.
fn small_options() -> Value {
    json!({"az_count": 2, "nat_mode": "per-az", "node_instance_type": "m6i.large", "node_min_size": 1, "node_desired_size": 1, "node_max_size": 2})
}

/// Three zones with a NAT gateway each and up to four m6i.large nodes: 3 Elastic IPs, 8 vCPUs.
fn larger_options() -> Value {
    json!({"az_count": 3, "nat_mode": "per-az", "node_instance_type": "m6i.large", "node_max_size": 4})
}

#[tokio::test]
async fn an_account_with_room_passes_with_no_deficit() {
    let env = env().await;
    // No applied VPC value: the check falls back to AWS's default (5).
    let install = env
        .install(small_options(), json!({"applied": {"L-F678F1CE": null}}))
        .await;

    let result = env
        .functions
        .check_quotas(&install.id, &install.tenant)
        .await
        .unwrap();

    assert_eq!(result.error_type, None, "{}", result.payload);
    assert_eq!(
        result.payload,
        json!({"install_id": install.id, "tenant_id": install.tenant, "ok": true, "deficits": 0})
    );
    let record = env.record(&install).await;
    let check = &record["step_data"]["quota_check"];
    assert_eq!(check["deficits"], json!([]));
    assert_eq!(check["zones"], json!(["us-east-1a", "us-east-1b"]));
    assert_eq!(check["vcpus_per_node"], 2);
    let outcomes: Vec<String> = events(&record, "check-quotas")
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(outcomes, ["started", "succeeded"]);
}

#[tokio::test]
async fn every_deficit_is_reported_in_one_result_with_its_numbers() {
    let env = env().await;
    let install = env
        .install(larger_options(), json!({"applied": {VCPUS: 2, EIPS: 1}}))
        .await;
    // One Elastic IP already in use in the account.
    ec2(&env.stack, &install.account)
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap();

    let result = env
        .functions
        .check_quotas(&install.id, &install.tenant)
        .await
        .unwrap();

    assert_eq!(result.error_type, None, "{}", result.payload);
    assert_eq!(
        (
            result.payload["ok"].as_bool(),
            result.payload["deficits"].as_u64()
        ),
        (Some(false), Some(2))
    );
    let record = env.record(&install).await;
    let url = |code: &str| {
        format!("https://us-east-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/{code}")
    };
    // Numbers come back from DynamoDB without their ".0".
    assert_eq!(
        record["step_data"]["quota_check"]["deficits"],
        json!([
            {"service": "ec2", "quota_code": EIPS, "quota_name": "EC2-VPC Elastic IPs",
             "applied": 1, "usage": 1, "needed": 3, "request_value": 4, "console_url": url(EIPS)},
            {"service": "ec2", "quota_code": VCPUS, "quota_name": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
             "applied": 2, "usage": 0, "needed": 8, "request_value": 8, "console_url": url(VCPUS)},
        ])
    );
    let (outcome, message) = events(&record, "check-quotas").pop().unwrap();
    assert_eq!(outcome, "waiting");
    assert!(
        message.starts_with("2 quota(s) too low")
            && message.contains("EC2-VPC Elastic IPs")
            && message.contains("request 8"),
        "{message}"
    );
}

#[tokio::test]
async fn increases_are_filed_once_and_followed_until_approved() {
    let env = env().await;
    let approve_on_second_poll = json!({"decision": "approve", "after_polls": 2});
    let settings = json!({"applied": {VCPUS: 2, EIPS: 1}, "outcomes": {VCPUS: approve_on_second_poll, EIPS: approve_on_second_poll}});
    let install = env.install(larger_options(), settings).await;
    let quotas = service_quotas(&env.stack, &install.account);
    assert_eq!(
        env.functions
            .check_quotas(&install.id, &install.tenant)
            .await
            .unwrap()
            .payload["deficits"],
        2
    );

    // Listing requests is a poll too, so the checks below read the install's record until the end.
    let mut statuses = Vec::new();
    let mut ids_per_run = Vec::new();
    for _ in 0..3 {
        let result = env
            .functions
            .request_quota(&install.id, &install.tenant)
            .await
            .unwrap();
        assert_eq!(result.error_type, None, "{}", result.payload);
        assert_eq!(result.payload["wait_seconds"], POLL_SECONDS);
        assert_eq!(result.payload["install_id"], install.id.as_str());
        statuses.push(result.payload["status"].as_str().unwrap().to_owned());
        let record = env.record(&install).await;
        let ids: Vec<(String, String)> = record["step_data"]["quota_requests"]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["quota_code"].as_str().unwrap().to_owned(),
                    r["request_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        ids_per_run.push(ids);
    }
    assert_eq!(
        statuses,
        ["pending", "pending", "approved"],
        "filed, polled once, approved on the second poll"
    );
    assert!(
        ids_per_run.iter().all(|ids| *ids == ids_per_run[0]),
        "the same two requests every run: {ids_per_run:?}"
    );
    // However often it ran, AWS holds one request per quota, for the value the check asked.
    for (code, value) in [(VCPUS, 8.0), (EIPS, 3.0)] {
        let filed = requests(&quotas, "ec2", code).await.unwrap();
        assert_eq!(filed.len(), 1, "{code}: {filed:?}");
        assert_eq!((filed[0].1.as_str(), filed[0].2), ("APPROVED", value));
    }

    assert_eq!(applied(&quotas, "ec2", VCPUS).await.unwrap(), 8.0);
    assert_eq!(applied(&quotas, "ec2", EIPS).await.unwrap(), 3.0);
    let record = env.record(&install).await;
    let recorded = record["step_data"]["quota_requests"]["requests"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(recorded.len(), 2);
    for request in &recorded {
        let filed = requests(&quotas, "ec2", request["quota_code"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(request["request_id"], filed[0].0.as_str());
        assert_eq!(
            (request["aws_status"].as_str(), request["state"].as_str()),
            (Some("APPROVED"), Some("approved"))
        );
    }
    let outcomes: Vec<String> = events(&record, "request-quota")
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(
        outcomes,
        ["started", "waiting", "succeeded"],
        "a poll that changes nothing adds no event"
    );

    // The re-check now finds room, and another run files nothing new.
    let recheck = env
        .functions
        .check_quotas(&install.id, &install.tenant)
        .await
        .unwrap();
    assert_eq!(recheck.payload["ok"], true, "{}", recheck.payload);
    assert_eq!(requests(&quotas, "ec2", VCPUS).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_denied_increase_fails_with_quota_denied_and_says_what_to_do() {
    let env = env().await;
    let settings = json!({"applied": {VCPUS: 2, EIPS: 1}, "outcomes": {EIPS: {"decision": "deny", "after_polls": 0}, VCPUS: {"decision": "pending"}}});
    let install = env.install(larger_options(), settings).await;
    env.functions
        .check_quotas(&install.id, &install.tenant)
        .await
        .unwrap();

    let first = env
        .functions
        .request_quota(&install.id, &install.tenant)
        .await
        .unwrap();
    assert_eq!(
        first.payload["status"], "pending",
        "filing does not wait for AWS's answer: {}",
        first.payload
    );
    let denied = env
        .functions
        .request_quota(&install.id, &install.tenant)
        .await
        .unwrap();

    assert_eq!(
        denied.error_type.as_deref(),
        Some("QuotaDenied"),
        "{}",
        denied.payload
    );
    let message = denied.error_message();
    println!("QuotaDenied: {message}");
    assert!(
        message.contains(
            "EC2-VPC Elastic IPs (ec2 L-0263D0A3): AWS answered DENIED to a request for 3"
        ),
        "{message}"
    );
    assert!(message.contains("https://us-east-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-0263D0A3"), "{message}");
    assert!(message.contains("nat_mode \"single\""), "{message}");
    assert!(
        !message.contains(VCPUS),
        "only the denied quota is listed: {message}"
    );
    let record = env.record(&install).await;
    let (outcome, text) = events(&record, "request-quota").pop().unwrap();
    assert_eq!(outcome, "failed");
    assert!(text.contains("DENIED"), "{text}");
    // Asking again changes nothing: the same denied request, no new one.
    let again = env
        .functions
        .request_quota(&install.id, &install.tenant)
        .await
        .unwrap();
    assert_eq!(again.error_type.as_deref(), Some("QuotaDenied"));
    assert_eq!(
        requests(&service_quotas(&env.stack, &install.account), "ec2", EIPS)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_instance_type_the_region_does_not_offer_fails_fast() {
    let env = env().await;
    // x8aedz exists, but not in us-east-1.
    let options = json!({"az_count": 2, "node_instance_type": "x8aedz.large", "node_max_size": 2, "node_min_size": 1, "node_desired_size": 1});
    let install = env.install(options, json!({})).await;

    let started = Instant::now();
    let result = env
        .functions
        .check_quotas(&install.id, &install.tenant)
        .await
        .unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        result.error_type.as_deref(),
        Some("ProvisionChecksFailed"),
        "{}",
        result.payload
    );
    assert!(
        result.error_message().starts_with(
            "1 provision check(s) failed, so nothing was built: instance_type: instance type x8aedz.large is not offered in us-east-1"
        ),
        "{}",
        result.error_message()
    );
    let record = env.record(&install).await;
    assert_eq!(
        events(&record, "check-quotas")
            .pop()
            .map(|(o, _)| o)
            .as_deref(),
        Some("failed")
    );
    assert!(
        record["step_data"].get("quota_check").is_none(),
        "nothing recorded as checked"
    );
    // The record keeps every check: the one that failed, and the quotas it could not check.
    let checks = &record["step_data"]["provision_checks"];
    assert_eq!(checks["ok"], false, "{checks:#}");
    let status = |name: &str| {
        checks["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status("instance_type").as_deref(), Some("failed"));
    assert_eq!(status("quotas").as_deref(), Some("skipped"));
    assert_eq!(status("vpc_cidr").as_deref(), Some("passed"));
}

#[tokio::test]
async fn a_requested_cidr_that_overlaps_an_existing_vpc_is_refused() {
    let env = env().await;
    let install = env.install(json!({"vpc_cidr": "10.77.0.0/16", "node_max_size": 2, "node_min_size": 1, "node_desired_size": 1}), json!({})).await;
    let vpc = ec2(&env.stack, &install.account)
        .create_vpc()
        .cidr_block("10.77.128.0/20")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_owned();

    let result = env
        .functions
        .check_quotas(&install.id, &install.tenant)
        .await
        .unwrap();

    assert_eq!(
        result.error_type.as_deref(),
        Some("ProvisionChecksFailed"),
        "{}",
        result.payload
    );
    assert!(
        result
            .error_message()
            .contains("vpc_cidr: 10.77.0.0/16 overlaps existing VPC blocks"),
        "{}",
        result.error_message()
    );
    assert!(
        result
            .error_message()
            .contains(&format!("{vpc_id} (10.77.128.0/20)")),
        "{}",
        result.error_message()
    );
}
