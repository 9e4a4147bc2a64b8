//! Issue 3's promise, through the real install state machine: an install that starts with too
//! low a vCPU and Elastic IP quota files exactly one increase per quota, tells the customer it
//! is waiting for AWS, and reaches its end by itself once the emulator approves them.

use std::time::Duration;

use byoc_e2e::customer_ec2::{ec2, tagged};
use byoc_e2e::customer_quotas::{applied, requests, service_quotas, steer};
use byoc_e2e::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};
use serde_json::json;

const VCPU: &str = "L-1216C47A";
const EIP: &str = "L-0263D0A3";

#[tokio::test]
async fn an_install_short_of_quota_requests_increases_and_finishes_once_approved() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let tenant_id = random_tenant_id("quota");
    let account = random_account_id();
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Quota Co", "email": "ops@quota.example"}),
        )
        .await
        .unwrap();
    let inbox = Inbox::for_tenant(&stack, &tenant_id).await.unwrap();
    stack
        .customer(&account)
        .create_access_stack(
            &stack.outputs.vendor_account_id,
            created.json["external_id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    // A new account: 2 vCPUs and 1 Elastic IP; AWS approves each increase on its third poll.
    steer(&stack, &account, json!({
        "applied": {VCPU: 2, EIP: 1},
        "outcomes": {VCPU: {"decision": "approve", "after_polls": 3}, EIP: {"decision": "approve", "after_polls": 3}}
    }))
    .await
    .unwrap();

    // Defaults: 3 zones with a NAT gateway each (3 EIPs), up to 4 m6i.large nodes (8 vCPUs).
    let accepted = api
        .post(
            "/installs",
            &json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1"}),
        )
        .await
        .unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    let install_id = accepted.json["install_id"].as_str().unwrap();
    let install = api
        .get(&format!("/installs/{install_id}"))
        .await
        .unwrap()
        .json;
    assert_eq!(execution, "SUCCEEDED", "{install:#}");
    assert_eq!(install["status"], "ready");

    // Exactly one request per short quota, approved, and the applied values raised.
    let quotas = service_quotas(&stack, &account);
    for (code, needed) in [(VCPU, 8.0), (EIP, 3.0)] {
        let filed = requests(&quotas, "ec2", code).await.unwrap();
        assert_eq!(filed.len(), 1, "{code}: {filed:?}");
        assert_eq!(filed[0].1, "APPROVED", "{code}: {filed:?}");
        assert!(
            applied(&quotas, "ec2", code).await.unwrap() >= needed,
            "{code} not raised"
        );
    }

    // The timeline tells the story in order: short, requested, approved, re-checked, built.
    let steps: Vec<String> = install["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["step"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    let first = |wanted: &str| {
        steps
            .iter()
            .position(|s| s == wanted)
            .unwrap_or_else(|| panic!("no '{wanted}' in {steps:#?}"))
    };
    assert!(first("check-quotas waiting") < first("request-quota started"));
    assert!(first("request-quota started") < first("check-quotas succeeded"));
    assert!(first("check-quotas succeeded") < first("create-network started"));
    let last_notify = steps.iter().rposition(|s| s == "notify succeeded").unwrap();
    assert!(
        first("notify succeeded") < first("request-quota started"),
        "the waiting email goes out before requesting: {steps:#?}"
    );
    assert!(first("create-network succeeded") < last_notify);
    assert_eq!(install["notified"], json!(["waiting-for-quota", "ready"]));

    // The network exists in the customer's account.
    let network = tagged(&ec2(&stack, &account), install_id, true)
        .await
        .unwrap();
    assert_eq!(
        (
            network.vpcs.len(),
            network.subnets.len(),
            network.nat_gateways.len()
        ),
        (1, 6, 3)
    );

    // The customer heard twice: waiting for AWS, then ready.
    let emails = inbox.wait_for(2, Duration::from_secs(20)).await.unwrap();
    for email in &emails {
        println!("--- {}\n{}", email.subject, email.body);
    }
    assert_eq!(emails.len(), 2, "{emails:#?}");
    assert!(
        emails[0]
            .subject
            .ends_with("waiting for AWS quota increases"),
        "{}",
        emails[0].subject
    );
    assert!(
        emails[0]
            .body
            .contains(&format!("(ec2 {VCPU}): from 2 to 8")),
        "{}",
        emails[0].body
    );
    assert!(
        emails[0]
            .body
            .contains(&format!("(ec2 {EIP}): from 1 to 3")),
        "{}",
        emails[0].body
    );
    assert!(
        emails[1].subject.contains("is ready"),
        "{}",
        emails[1].subject
    );
}

#[tokio::test]
async fn a_denied_increase_fails_the_install_with_an_email_saying_what_to_do() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let tenant_id = random_tenant_id("denied");
    let account = random_account_id();
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Denied Co", "email": "ops@denied.example"}),
        )
        .await
        .unwrap();
    let inbox = Inbox::for_tenant(&stack, &tenant_id).await.unwrap();
    stack
        .customer(&account)
        .create_access_stack(
            &stack.outputs.vendor_account_id,
            created.json["external_id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    steer(
        &stack,
        &account,
        json!({"applied": {VCPU: 2}, "outcomes": {VCPU: {"decision": "deny", "after_polls": 1}}}),
    )
    .await
    .unwrap();

    let accepted = api
        .post(
            "/installs",
            &json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1"}),
        )
        .await
        .unwrap();
    let execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    let install = api
        .get(&format!(
            "/installs/{}",
            accepted.json["install_id"].as_str().unwrap()
        ))
        .await
        .unwrap()
        .json;
    assert_eq!(execution, "FAILED");
    assert_eq!(install["last_error"]["code"], "QuotaDenied", "{install:#}");
    assert_eq!(install["last_error"]["step"], "request-quota");
    assert!(
        tagged(
            &ec2(&stack, &account),
            accepted.json["install_id"].as_str().unwrap(),
            true
        )
        .await
        .unwrap()
        .is_empty(),
        "nothing was built"
    );

    let emails = inbox.wait_for(2, Duration::from_secs(20)).await.unwrap();
    assert_eq!(emails.len(), 2, "{emails:#?}");
    let failed = &emails[1];
    assert!(
        failed.subject.starts_with("Action needed"),
        "{}",
        failed.subject
    );
    assert!(
        failed.body.contains(VCPU) && failed.body.contains("Service Quotas console"),
        "{}",
        failed.body
    );
}

#[tokio::test]
async fn in_manual_mode_the_customer_files_the_requests_and_the_install_carries_on_once_raised() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let tenant_id = random_tenant_id("manual");
    let account = random_account_id();
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Manual Co", "email": "ops@manual.example"}),
        )
        .await
        .unwrap();
    let inbox = Inbox::for_tenant(&stack, &tenant_id).await.unwrap();
    stack
        .customer(&account)
        .create_access_stack(
            &stack.outputs.vendor_account_id,
            created.json["external_id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    steer(&stack, &account, json!({"applied": {VCPU: 2}}))
        .await
        .unwrap();

    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1", "options": {"quota_requests": "manual", "node_max_size": 2}});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let path = format!(
        "/installs/{}",
        accepted.json["install_id"].as_str().unwrap()
    );

    // The install waits, having asked the customer, and files nothing itself.
    let mut waiting = false;
    for _ in 0..100 {
        let record = api.get(&path).await.unwrap().json;
        if record["notified"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "waiting-for-quota"))
            && record["current_step"] == "request-quota"
        {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        waiting,
        "the install never started waiting: {:#}",
        api.get(&path).await.unwrap().json
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        api.get(&path).await.unwrap().json["status"],
        "running",
        "still waiting for the customer"
    );
    let quotas = service_quotas(&stack, &account);
    assert!(
        requests(&quotas, "ec2", VCPU).await.unwrap().is_empty(),
        "manual mode files no request"
    );

    // The customer gets the increase; the install notices and finishes by itself.
    steer(&stack, &account, json!({"applied": {VCPU: 8}}))
        .await
        .unwrap();
    let execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert_eq!(execution, "SUCCEEDED");
    assert_eq!(api.get(&path).await.unwrap().json["status"], "ready");

    let emails = inbox.wait_for(2, Duration::from_secs(20)).await.unwrap();
    assert_eq!(emails.len(), 2, "{emails:#?}");
    assert!(
        emails[0]
            .subject
            .starts_with("Action needed: quota increases for Example Vendor")
            && emails[0].body.contains("Please request these increases"),
        "{}",
        emails[0].body
    );
    assert!(emails[1].subject.contains("is ready"));
}
