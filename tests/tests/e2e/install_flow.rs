//! An install end to end, as a vendor and its customer live it: register the tenant, create
//! the access stack in the customer's account, start the install, and check what a person
//! would — the execution, the install record and its timeline, the email.

use std::time::Duration;

use byoc_e2e::{random_account_id, random_tenant_id, Api, ApiResponse, Inbox, LocalStack};
use serde_json::{json, Value};

const EXECUTION_TIMEOUT: Duration = Duration::from_secs(90);

struct Tenant {
    id: String,
    external_id: String,
    inbox: Inbox,
}

async fn setup() -> (LocalStack, Api) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    (stack, api)
}

async fn create_tenant(stack: &LocalStack, api: &Api, prefix: &str) -> Tenant {
    let id = random_tenant_id(prefix);
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": id, "name": "Customer Co", "email": "ops@customer.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let external_id = created.json["external_id"].as_str().unwrap().to_owned();
    let inbox = Inbox::for_tenant(stack, &id).await.unwrap();
    Tenant {
        id,
        external_id,
        inbox,
    }
}

/// Two nodes of m6i.large at most: 4 vCPUs, inside a new account's default quota of 5, so
/// these installs need no quota increase (tests/tests/e2e/install_quotas.rs covers that path).
async fn start_install(api: &Api, tenant: &Tenant, account: &str) -> ApiResponse {
    api.post("/installs", &json!({"tenant_id": tenant.id, "account_id": account, "region": "us-east-1", "options": {"node_desired_size": 2, "node_max_size": 2}}))
        .await
        .unwrap()
}

async fn finish(stack: &LocalStack, api: &Api, accepted: &ApiResponse) -> (String, Value) {
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let arn = accepted.json["execution_arn"].as_str().unwrap();
    let status = stack
        .wait_for_execution(arn, EXECUTION_TIMEOUT)
        .await
        .unwrap();
    let install = api
        .get(&format!(
            "/installs/{}",
            accepted.json["install_id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(install.status, 200, "{}", install.text);
    (status, install.json)
}

fn timeline(install: &Value) -> Vec<(String, String, String)> {
    install["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_gapless(install: &Value) {
    let seqs: Vec<u64> = install["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "timeline has a gap or is out of order"
    );
    assert_eq!(install["version"].as_u64(), Some(seqs.len() as u64));
}

#[tokio::test]
async fn install_reaches_ready_records_every_step_and_emails_the_customer() {
    let (stack, api) = setup().await;
    let tenant = create_tenant(&stack, &api, "ready").await;
    let account = random_account_id();
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &tenant.external_id)
        .await
        .unwrap();
    // NAT gateways take a while, as on AWS: the cluster must not wait for them.
    byoc_e2e::customer_ec2::steer_nat(&stack, &account, json!({"pending_polls": 3}))
        .await
        .unwrap();

    let accepted = start_install(&api, &tenant, &account).await;
    assert_eq!(accepted.json["status"], "pending");
    let install_id = accepted.json["install_id"].as_str().unwrap().to_owned();
    let (execution, install) = finish(&stack, &api, &accepted).await;

    assert_eq!(execution, "SUCCEEDED");
    assert_eq!(install["status"], "ready");
    assert_eq!(install["account_id"], account.as_str());
    assert!(install["last_error"].is_null());
    assert_eq!(install["execution_arn"], accepted.json["execution_arn"]);
    let role_prefix = format!("arn:aws:iam::{account}:role/byoc/");
    assert_eq!(
        install["resources"]["customer_role_arn"],
        format!("{role_prefix}{}", stack.outputs.customer_role_name).as_str()
    );
    for role in ["cluster_role_arn", "node_role_arn"] {
        assert!(
            install["resources"][role]
                .as_str()
                .unwrap()
                .starts_with(&role_prefix),
            "{role}: {}",
            install["resources"]
        );
    }

    // The cluster the vendor deploys into, in the customer's account, with its nodes.
    let cluster_name = format!("byoc-{install_id}");
    assert_eq!(install["resources"]["cluster_name"], cluster_name.as_str());
    assert_eq!(
        install["step_data"]["cluster"]["nodegroup"]["status"], "ACTIVE",
        "{:#}",
        install["step_data"]["cluster"]
    );
    assert!(install["resources"]["vpc_id"]
        .as_str()
        .is_some_and(|v| v.starts_with("vpc-")));

    assert_gapless(&install);
    let steps: Vec<(String, String)> = timeline(&install)
        .into_iter()
        .map(|(s, o, _)| (s, o))
        .collect();
    let pos = |step: &str, outcome: &str| {
        steps
            .iter()
            .position(|(s, o)| s == step && o == outcome)
            .unwrap_or_else(|| panic!("no {step}/{outcome} in {steps:?}"))
    };
    assert_eq!(pos("request", "succeeded"), 0);
    assert!(pos("validate-trust", "started") < pos("validate-trust", "succeeded"));
    assert!(pos("validate-trust", "succeeded") < pos("check-quotas", "succeeded"));
    assert!(pos("check-quotas", "succeeded") < pos("create-network", "started"));
    assert!(pos("create-network", "started") < pos("create-cluster", "started"));
    assert!(
        pos("create-cluster", "started") < pos("create-network", "succeeded"),
        "the control plane started before the NAT gateways were available: {steps:#?}"
    );
    assert!(pos("create-cluster", "succeeded") < pos("notify", "succeeded"));
    let last = timeline(&install).last().cloned().unwrap();
    assert!(last.2.starts_with("ready email sent"), "{last:?}");

    // The record in DynamoDB is what the API showed.
    let item = stack
        .dynamodb()
        .get_item()
        .table_name(&stack.outputs.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INSTALL#{install_id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "ready");

    let emails = tenant
        .inbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(emails.len(), 1, "exactly one email: {emails:?}");
    let email = &emails[0];
    assert_eq!(
        email.subject,
        format!("Example Vendor is ready in your AWS account {account} in us-east-1")
    );
    assert!(
        email.body.contains(&install_id) && email.body.contains("What to do next"),
        "{}",
        email.body
    );
    // When the cluster's version stops being supported, and what AWS does then.
    let support = email
        .body
        .lines()
        .find(|l| l.trim_start().starts_with("Support:"))
        .unwrap_or_else(|| panic!("no Support line: {}", email.body));
    assert!(
        support.contains("standard support until 20") && support.ends_with("then upgraded by AWS"),
        "{support}"
    );
    assert!(
        email.body.contains(&format!(
            "aws eks update-kubeconfig --region us-east-1 --name {cluster_name}"
        )),
        "{}",
        email.body
    );
    assert!(
        email
            .attributes
            .contains(&format!("tenant_id={}", tenant.id)),
        "{:?}",
        email.attributes
    );

    // The External ID stays out of the execution, the logs and the install record.
    let history = stack
        .execution_history_text(accepted.json["execution_arn"].as_str().unwrap())
        .await
        .unwrap();
    assert!(history.contains(&install_id), "history is readable");
    assert!(
        !history.contains(&tenant.external_id),
        "External ID in execution history"
    );
    assert!(
        !stack.function_logs().contains(&tenant.external_id),
        "External ID in function logs"
    );
    let emulator_log =
        std::fs::read_to_string(stack.dir.join("logs").join("moto.log")).unwrap_or_default();
    assert!(
        !emulator_log.contains(&tenant.external_id),
        "External ID in the emulator's request log"
    );
    assert!(
        !install.to_string().contains(&tenant.external_id),
        "External ID in GET /installs"
    );
}

#[tokio::test]
async fn wrong_external_id_fails_and_the_email_says_what_to_fix() {
    let (stack, api) = setup().await;
    let tenant = create_tenant(&stack, &api, "wrongid").await;
    let account = random_account_id();
    let someone_elses = "0123456789abcdef0123456789abcdef01234567";
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, someone_elses)
        .await
        .unwrap();

    let accepted = start_install(&api, &tenant, &account).await;
    let (execution, install) = finish(&stack, &api, &accepted).await;

    assert_eq!(execution, "FAILED");
    assert_eq!(install["status"], "failed");
    assert_eq!(install["last_error"]["code"], "TrustNotReady");
    assert_eq!(install["last_error"]["step"], "validate-trust");
    assert!(install["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("ExternalId"));
    assert_gapless(&install);
    let waits = timeline(&install)
        .iter()
        .filter(|(s, o, _)| s == "validate-trust" && o == "waiting")
        .count();
    assert!(
        waits >= 2,
        "the state machine retried before giving up: {:?}",
        timeline(&install)
    );

    let emails = tenant
        .inbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(
        emails[0]
            .subject
            .starts_with("Action needed: Example Vendor install"),
        "{}",
        emails[0].subject
    );
    assert!(
        emails[0]
            .body
            .contains("ExternalId and VendorAccountId parameters"),
        "{}",
        emails[0].body
    );
    assert!(emails[0].body.contains(&format!(
        "retry install {}",
        accepted.json["install_id"].as_str().unwrap()
    )));
    assert!(
        !emails[0].body.contains(&tenant.external_id) && !emails[0].body.contains(someone_elses)
    );
}

#[tokio::test]
async fn missing_customer_stack_fails_and_the_email_says_to_create_it() {
    let (stack, api) = setup().await;
    let tenant = create_tenant(&stack, &api, "nostack").await;
    let account = random_account_id();

    let accepted = start_install(&api, &tenant, &account).await;
    let (execution, install) = finish(&stack, &api, &accepted).await;

    assert_eq!(execution, "FAILED");
    assert_eq!(install["status"], "failed");
    assert_eq!(install["last_error"]["code"], "TrustNotReady");
    let emails = tenant
        .inbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0]
            .body
            .contains("Create (or fix) the CloudFormation stack"),
        "{}",
        emails[0].body
    );
    assert!(emails[0].body.contains(&account));

    // A failed install frees its slot: the vendor can start again once the customer acts.
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &tenant.external_id)
        .await
        .unwrap();
    let again = start_install(&api, &tenant, &account).await;
    let (execution, install) = finish(&stack, &api, &again).await;
    assert_eq!(
        (execution.as_str(), install["status"].as_str()),
        ("SUCCEEDED", Some("ready"))
    );
}

#[tokio::test]
async fn a_stack_created_while_the_install_waits_is_picked_up() {
    let (stack, api) = setup().await;
    let tenant = create_tenant(&stack, &api, "late").await;
    let account = random_account_id();

    let accepted = start_install(&api, &tenant, &account).await;
    assert_eq!(accepted.status, 202);
    // The customer is slower than the vendor: the stack appears after the first attempt.
    let install_path = format!(
        "/installs/{}",
        accepted.json["install_id"].as_str().unwrap()
    );
    for _ in 0..100 {
        let install = api.get(&install_path).await.unwrap();
        if timeline(&install.json)
            .iter()
            .any(|(_, o, _)| o == "waiting")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &tenant.external_id)
        .await
        .unwrap();

    let (execution, install) = finish(&stack, &api, &accepted).await;
    assert_eq!(execution, "SUCCEEDED", "{install}");
    assert_eq!(install["status"], "ready");
    assert!(timeline(&install)
        .iter()
        .any(|(s, o, m)| s == "validate-trust"
            && o == "waiting"
            && m.contains("could not assume role")));
}

async fn install_with_trust_policy(policy: Value) -> (Value, Vec<byoc_e2e::ReceivedEmail>, String) {
    let (stack, api) = setup().await;
    let tenant = create_tenant(&stack, &api, "unsafe").await;
    let account = random_account_id();
    let customer = stack.customer(&account);
    customer
        .create_access_stack(&stack.outputs.vendor_account_id, &tenant.external_id)
        .await
        .unwrap();
    let policy = policy
        .to_string()
        .replace("EXTERNAL_ID", &tenant.external_id)
        .replace("VENDOR", &stack.outputs.vendor_account_id);
    customer
        .iam()
        .update_assume_role_policy()
        .role_name(&stack.outputs.customer_role_name)
        .policy_document(policy)
        .send()
        .await
        .unwrap();

    let accepted = start_install(&api, &tenant, &account).await;
    let (execution, install) = finish(&stack, &api, &accepted).await;
    assert_eq!(execution, "FAILED");
    let emails = tenant
        .inbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .unwrap();
    (install, emails, tenant.external_id)
}

#[tokio::test]
async fn a_role_any_account_can_assume_is_refused_at_once() {
    let (install, emails, external_id) = install_with_trust_policy(json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                       "Condition": {"StringEquals": {"sts:ExternalId": "EXTERNAL_ID"}}}]
    }))
    .await;
    assert_eq!(install["last_error"]["code"], "TrustInvalid");
    assert!(install["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("allows any AWS account"));
    assert!(
        !timeline(&install).iter().any(|(_, o, _)| o == "waiting"),
        "TrustInvalid is not retried"
    );
    assert!(
        emails[0].body.contains("allows any AWS account"),
        "{}",
        emails[0].body
    );
    assert!(!emails[0].body.contains(&external_id));
}

#[tokio::test]
async fn a_role_without_the_external_id_condition_is_refused() {
    let (install, emails, _) = install_with_trust_policy(json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::VENDOR:root"}, "Action": "sts:AssumeRole"}]
    }))
    .await;
    assert_eq!(install["last_error"]["code"], "TrustInvalid");
    assert!(install["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("sts:ExternalId"));
    assert!(
        emails[0]
            .body
            .contains("no StringEquals condition on sts:ExternalId"),
        "{}",
        emails[0].body
    );
}
