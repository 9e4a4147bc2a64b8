//! An install's provision checks (check-quotas' step): what would stop the install ends it
//! before anything is built, with every finding on the record and in one email. The local stack
//! authorizes every call of the installer's role as AWS does (infra/local/moto_ext/iam_enforce.py)
//! and refuses calls in an opt-in region the account has not enabled
//! (infra/local/moto_ext/region_opt_in.py), so what real AWS would refuse is refused here.

use std::time::Duration;

use byoc_e2e::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};
use serde_json::json;

const EXECUTION_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_boundary_without_create_nat_gateway_and_a_taken_block_fail_the_install_before_anything_is_built_in_one_email(
) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let tenant = random_tenant_id("boundary");
    let external_id = api
        .create_tenant(&tenant, "ops@bounded.example")
        .await
        .unwrap();
    let inbox = Inbox::for_tenant(&stack, &tenant).await.unwrap();

    // The customer's security team caps every role it makes with a boundary that leaves out
    // NAT gateways.
    let account = random_account_id();
    let customer = stack.customer(&account);
    customer
        .create_access_stack_without_nat_gateways(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();

    // And the block the vendor asks for is already a VPC of the account.
    let ec2 = byoc_e2e::customer_ec2::ec2(&stack, &account);
    let taken = ec2
        .create_vpc()
        .cidr_block("10.78.0.0/16")
        .send()
        .await
        .unwrap();
    let taken = taken.vpc().and_then(|v| v.vpc_id()).unwrap().to_owned();

    let body = json!({"tenant_id": tenant, "account_id": account, "region": "us-east-1", "options": {"node_desired_size": 2, "node_max_size": 2, "vpc_cidr": "10.78.0.0/16"}});
    let (status, install) = api
        .install_and_wait(&stack, &body, EXECUTION_TIMEOUT)
        .await
        .unwrap();
    let install_id = install["install_id"].as_str().unwrap();

    assert_eq!(status, "FAILED");
    assert_eq!(install["status"], "failed");
    assert_eq!(
        install["last_error"]["code"], "ProvisionChecksFailed",
        "{:#}",
        install["last_error"]
    );
    let message = install["last_error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 provision check(s) failed, so nothing was built")
            && message.contains("ec2:CreateNatGateway")
            && message.contains("permissions boundary")
            && message.contains(&format!("{taken} (10.78.0.0/16)")),
        "{message}"
    );
    // The record keeps every check the install made, as the preflight reports them.
    let checks = install["step_data"]["provision_checks"]["checks"]
        .as_array()
        .unwrap();
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["permissions", "vpc_cidr"], "{checks:#?}");
    for passed in ["instance_type", "quotas", "kubernetes_version"] {
        assert!(
            checks
                .iter()
                .any(|c| c["check"] == passed && c["status"] != "failed"),
            "{passed}: {checks:#?}"
        );
    }
    assert!(
        !message.contains("ec2:CreateSubnet") && !message.contains("ec2:CreateVpc"),
        "only what the boundary refuses: {message}"
    );

    // Nothing was built: the account's own listings show nothing of the install.
    let tagged = aws_sdk_ec2::types::Filter::builder()
        .name("tag:byoc:install-id")
        .values(install_id)
        .build();
    assert!(ec2
        .describe_vpcs()
        .filters(tagged.clone())
        .send()
        .await
        .unwrap()
        .vpcs()
        .is_empty());
    assert!(ec2
        .describe_addresses()
        .filters(tagged)
        .send()
        .await
        .unwrap()
        .addresses()
        .is_empty());

    let emails = inbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    // One email lists both findings, each with what to do.
    let body = &emails[0].body;
    assert!(
        body.contains("2 check(s) of your account found what would stop the install")
            && body.contains("1. permissions: ec2:CreateNatGateway")
            && body.contains(&format!(
                "2. vpc_cidr: 10.78.0.0/16 overlaps existing VPC blocks: {taken} (10.78.0.0/16)"
            ))
            && body.contains("What to do: choose another options.vpc_cidr, such as"),
        "{body}"
    );
    assert!(!emails[0].body.contains(&external_id));
}

#[tokio::test]
async fn an_install_into_a_region_the_account_has_not_enabled_ends_at_its_checks_saying_how_to_enable_it(
) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let tenant = random_tenant_id("optin");
    let external_id = api
        .create_tenant(&tenant, "ops@optin.example")
        .await
        .unwrap();
    let inbox = Inbox::for_tenant(&stack, &tenant).await.unwrap();
    let account = random_account_id();
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();

    // af-south-1 is an opt-in region, and this account (as every new one) has not enabled it.
    let body = json!({"tenant_id": tenant, "account_id": account, "region": "af-south-1", "options": {"node_desired_size": 2, "node_max_size": 2}});
    let (status, install) = api
        .install_and_wait(&stack, &body, EXECUTION_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(status, "FAILED");
    assert_eq!(
        install["last_error"]["code"], "ProvisionChecksFailed",
        "{:#}",
        install["last_error"]
    );
    let checks = install["step_data"]["provision_checks"]["checks"]
        .as_array()
        .unwrap();
    let statuses: Vec<(&str, &str)> = checks
        .iter()
        .map(|c| (c["check"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("region", "failed"),
            ("permissions", "skipped"),
            ("instance_type", "skipped"),
            ("vpc_cidr", "skipped"),
            ("quotas", "skipped"),
            ("kubernetes_version", "skipped"),
        ],
        "{checks:#?}"
    );

    let emails = inbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    let body = &emails[0].body;
    assert!(
        body.contains(&format!(
            "1. region: af-south-1 is an opt-in region that account {account} has not enabled"
        )) && body.contains("aws account enable-region --region-name af-south-1"),
        "{body}"
    );
    assert!(
        !body.contains("Nothing in your account needs to change"),
        "{body}"
    );
}
