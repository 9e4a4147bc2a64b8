//! Nothing left billing the customer: an uninstall removes everything an install made, and an
//! install that fails after it started building is rolled back before the customer hears.

use std::time::Duration;

use byoc_e2e::customer_ec2::{ec2, tagged};
use byoc_e2e::customer_eks::{eks, steer_eks};
use byoc_e2e::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(180);

struct Place {
    tenant_id: String,
    account: String,
    inbox: Inbox,
}

async fn place(stack: &LocalStack, api: &Api, prefix: &str) -> Place {
    let tenant_id = random_tenant_id(prefix);
    let account = random_account_id();
    let created = api.post("/tenants", &json!({"tenant_id": tenant_id, "name": "Leaving Co", "email": "ops@leaving.example"})).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let inbox = Inbox::for_tenant(stack, &tenant_id).await.unwrap();
    stack.customer(&account).create_access_stack(&stack.outputs.vendor_account_id, created.json["external_id"].as_str().unwrap()).await.unwrap();
    Place { tenant_id, account, inbox }
}

async fn install(stack: &LocalStack, api: &Api, place: &Place) -> (String, String, Value) {
    install_with(stack, api, place, json!({})).await
}

/// An install with `extra` options on top of two nodes (which fit a new account's quotas).
async fn install_with(stack: &LocalStack, api: &Api, place: &Place, extra: Value) -> (String, String, Value) {
    let mut options = json!({"node_desired_size": 2, "node_max_size": 2});
    if let (Some(options), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
        options.extend(extra.clone());
    }
    let body = json!({"tenant_id": place.tenant_id, "account_id": place.account, "region": "us-east-1", "options": options});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let execution = stack.wait_for_execution(accepted.json["execution_arn"].as_str().unwrap(), TIMEOUT).await.unwrap();
    let id = accepted.json["install_id"].as_str().unwrap().to_owned();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    (id, execution, record)
}

async fn cluster_exists(stack: &LocalStack, account: &str, install_id: &str) -> bool {
    eks(stack, account).describe_cluster().name(format!("byoc-{install_id}")).send().await.is_ok()
}

fn steps(record: &Value) -> Vec<String> {
    record["timeline"].as_array().unwrap().iter().map(|e| format!("{} {}", e["step"].as_str().unwrap(), e["outcome"].as_str().unwrap())).collect()
}

#[tokio::test]
async fn removing_an_install_deletes_everything_it_made_and_tells_the_customer() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "remove").await;
    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!((execution.as_str(), record["status"].as_str()), ("SUCCEEDED", Some("ready")), "{record:#}");
    let ec2 = ec2(&stack, &place.account);
    assert!(!tagged(&ec2, &id, true).await.unwrap().is_empty());
    assert!(cluster_exists(&stack, &place.account, &id).await);

    let removing = api.send("DELETE", &format!("/installs/{id}"), None, true).await.unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    assert_eq!(removing.json["status"], "removing");
    let again = api.send("DELETE", &format!("/installs/{id}"), None, true).await.unwrap();
    assert_eq!((again.status, &again.json["execution_arn"]), (202, &removing.json["execution_arn"]), "a repeated DELETE joins the running removal");

    let execution = stack.wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT).await.unwrap();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!((execution.as_str(), record["status"].as_str()), ("SUCCEEDED", Some("removed")), "{record:#}");
    assert!(steps(&record).contains(&"sweep-dangling succeeded".to_owned()), "{:#?}", steps(&record));
    assert_eq!(record["step_data"]["sweep"]["remaining"], 0);

    // What a person would check in the customer's account: nothing of the install is left.
    let left = tagged(&ec2, &id, true).await.unwrap();
    assert!(left.vpcs.is_empty() && left.subnets.is_empty() && left.addresses.is_empty() && left.route_tables.is_empty() && left.internet_gateways.is_empty(), "{left:#?}");
    assert!(left.nat_gateways.iter().all(|n| n.state().map(|s| s.as_str()) == Some("deleted")), "{:#?}", left.nat_gateways);
    assert!(!cluster_exists(&stack, &place.account, &id).await, "the cluster is gone");

    let emails = place.inbox.wait_for(2, Duration::from_secs(20)).await.unwrap();
    assert_eq!(emails.len(), 2, "{emails:#?}");
    assert!(emails[1].subject.contains("was removed from your AWS account"), "{}", emails[1].subject);

    let removed_again = api.send("DELETE", &format!("/installs/{id}"), None, true).await.unwrap();
    assert_eq!(removed_again.status, 409, "{}", removed_again.text);
    // The place is free again.
    let (_, execution, _) = install(&stack, &api, &place).await;
    assert_eq!(execution, "SUCCEEDED");
}

#[tokio::test]
async fn an_install_that_fails_after_building_is_rolled_back_before_the_email() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "rollback").await;
    steer_eks(&stack, &place.account, json!({"cluster_fail": "Simulated: the control plane could not be created", "cluster_fail_code": "ClusterUnreachable"})).await.unwrap();

    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(execution, "FAILED");
    assert_eq!(record["status"], "failed");
    assert_eq!(record["last_error"]["code"], "ClusterFailed", "{record:#}");
    assert_eq!(record["last_error"]["step"], "create-cluster", "the failure is reported against the step that failed");
    assert!(record["last_error"]["message"].as_str().unwrap().contains("Simulated: the control plane could not be created"));
    let steps = steps(&record);
    let at = |s: &str| steps.iter().position(|x| x == s).unwrap_or_else(|| panic!("no {s} in {steps:#?}"));
    assert!(at("create-network started") < at("sweep-dangling succeeded"));
    let failure_email = steps.iter().rposition(|x| x == "notify succeeded").expect("the failure email was recorded");
    assert!(at("sweep-dangling succeeded") < failure_email, "rolled back before the customer was told: {steps:#?}");

    let left = tagged(&ec2(&stack, &place.account), &id, true).await.unwrap();
    assert!(left.vpcs.is_empty() && left.subnets.is_empty() && left.addresses.is_empty(), "rolled back: {left:#?}");
    assert!(!cluster_exists(&stack, &place.account, &id).await);

    let emails = place.inbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert!(emails[0].body.contains("Simulated: the control plane could not be created"), "{}", emails[0].body);
    assert!(emails[0].body.contains("Nothing that Example Vendor created is left running"));

    // Removing the failed install finishes at once: there is nothing left to sweep.
    let removing = api.send("DELETE", &format!("/installs/{id}"), None, true).await.unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    assert_eq!(removing.json["status"], "removing");
    stack.wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT).await.unwrap();
    assert_eq!(api.get(&format!("/installs/{id}")).await.unwrap().json["status"], "removed");
}

#[tokio::test]
async fn a_failed_install_can_keep_what_it_made_for_inspection_until_removed() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "inspect").await;
    steer_eks(&stack, &place.account, json!({"cluster_fail": "Simulated: subnets have no free addresses", "cluster_fail_code": "InsufficientFreeAddresses"})).await.unwrap();

    let (id, execution, record) = install_with(&stack, &api, &place, json!({"keep_failed_resources": true})).await;
    assert_eq!((execution.as_str(), record["last_error"]["code"].as_str()), ("FAILED", Some("ClusterFailed")), "{record:#}");
    let ec2 = ec2(&stack, &place.account);
    let kept = tagged(&ec2, &id, true).await.unwrap();
    assert_eq!((kept.vpcs.len(), kept.subnets.len()), (1, 6), "the network is kept for inspection");
    assert_eq!(record["step_data"]["sweep"]["mode"], "dry_run", "the rollback only reported: {:#}", record["step_data"]["sweep"]);
    let emails = place.inbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert!(emails[0].body.contains("kept for inspection") && emails[0].body.contains("costs money"), "{}", emails[0].body);

    // Removing it later deletes everything.
    let removing = api.send("DELETE", &format!("/installs/{id}"), None, true).await.unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    stack.wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT).await.unwrap();
    assert_eq!(api.get(&format!("/installs/{id}")).await.unwrap().json["status"], "removed");
    let left = tagged(&ec2, &id, true).await.unwrap();
    assert!(left.vpcs.is_empty() && left.subnets.is_empty() && left.addresses.is_empty(), "{left:#?}");
}

#[tokio::test]
async fn a_failure_in_the_middle_of_the_network_rolls_back_the_partial_network() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "midnet").await;
    byoc_e2e::customer_ec2::steer_nat(&stack, &place.account, json!({"pending_polls": 1, "fail": "Simulated: insufficient capacity for NAT gateways", "fail_code": "InternalError"})).await.unwrap();

    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!((execution.as_str(), record["last_error"]["code"].as_str()), ("FAILED", Some("NetworkFailed")), "{record:#}");
    assert_eq!(record["last_error"]["step"], "create-network");
    assert!(steps(&record).contains(&"sweep-dangling succeeded".to_owned()), "{:#?}", steps(&record));
    let left = tagged(&ec2(&stack, &place.account), &id, true).await.unwrap();
    assert!(left.vpcs.is_empty() && left.subnets.is_empty() && left.addresses.is_empty() && left.route_tables.is_empty() && left.internet_gateways.is_empty(), "{left:#?}");
    assert!(!cluster_exists(&stack, &place.account, &id).await);
}

#[tokio::test]
async fn what_kubernetes_left_in_the_install_is_removed_too_and_the_neighbours_stay() {
    use byoc_e2e::customer_sweep::{build_decoys, install_leftovers, kubernetes_leftovers, still_there, Account};
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "k8sleft").await;
    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");

    // What the vendor's software would have made through Kubernetes, inside the install's VPC.
    let resources = record["resources"].as_object().unwrap();
    let vpc = resources["vpc_id"].as_str().unwrap().to_owned();
    let subnets = |prefix: &str| -> Vec<String> { resources.iter().filter(|(k, _)| k.starts_with(prefix)).filter_map(|(_, v)| v.as_str().map(str::to_owned)).collect() };
    let (public, private) = (subnets("public_subnet_id:"), subnets("private_subnet_id:"));
    let account = Account::new(&stack, &place.account);
    let leftovers = kubernetes_leftovers(&account, &id, &vpc, &public, &private[0]).await.unwrap();
    let decoys = build_decoys(&account, &id).await.unwrap();
    assert!(!leftovers.resources.is_empty());

    let removing = api.send("DELETE", &format!("/installs/{id}"), None, true).await.unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    let execution = stack.wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT).await.unwrap();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!((execution.as_str(), record["status"].as_str()), ("SUCCEEDED", Some("removed")), "{:#}", record["step_data"]["sweep"]);

    // The emulator's own listings (tagging API, Describe calls by tag and by VPC) find nothing.
    let left = install_leftovers(&account, &id, &[vpc]).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
    let cluster = format!("byoc-{id}");
    assert!(still_there(&account, &cluster, &leftovers.resources).await.unwrap().is_empty());
    assert_eq!(still_there(&account, &cluster, &decoys.resources).await.unwrap(), decoys.resources, "a neighbour was touched");
}
