//! Crash safety per step: each test deploys a copy of a deployed function with the crash hook
//! on (`BYOC_FAULT_CRASH_AFTER=<function>:<point>`, functions/core/src/fault.rs), runs it so
//! it dies right after its AWS create call and before its record write, runs the normal
//! function again, and then counts with the emulator's own listings that exactly one of the
//! thing exists and that the install record names it.
//!
//! Points: create-cluster after CreateCluster, CreateAccessEntry, CreateAddon and
//! CreateNodegroup; request-quota after RequestServiceQuotaIncrease; notify after Publish.
//! (create-network's points are tested in network.rs.) Build first:
//! `cargo build --workspace --bins`.

use std::time::Duration;

use byoc_e2e::crashing::{crash, crashing_copy, crashing_copy_of};
use byoc_e2e::customer_ec2::ec2;
use byoc_e2e::customer_eks::{create_install_network, create_nat_gateway, eks};
use byoc_e2e::customer_quotas::{requests, service_quotas, steer};
use byoc_e2e::invoke::invoke;
use byoc_e2e::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};
use serde_json::{json, Value};

const ADDONS: [&str; 5] = [
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "eks-pod-identity-agent",
    "aws-ebs-csi-driver",
];
const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
const VCPUS: &str = "L-1216C47A";
/// Enough calls for every emulated wait, few enough to fail fast.
const MAX_CALLS: usize = 12;

/// A variable of the deployed function of `step`.
async fn deployed_env(stack: &LocalStack, step: &str, name: &str) -> String {
    let lambda = aws_sdk_lambda::Client::new(&stack.config);
    let config = lambda
        .get_function_configuration()
        .function_name(&stack.outputs.functions[step])
        .send()
        .await
        .expect("the deployed function");
    config
        .environment()
        .and_then(|e| e.variables())
        .and_then(|v| v.get(name))
        .cloned()
        .unwrap_or_else(|| panic!("{step} has no {name}"))
}

struct Placed {
    id: String,
    tenant: String,
    account: String,
    api: Api,
}

impl Placed {
    fn payload(&self) -> Value {
        json!({"install_id": self.id, "tenant_id": self.tenant})
    }

    async fn record(&self) -> Value {
        let shown = self
            .api
            .get(&format!("/installs/{}", self.id))
            .await
            .unwrap();
        assert_eq!(shown.status, 200, "{}", shown.text);
        shown.json
    }
}

/// A tenant, its access stack in a fresh account (steered with `quotas` first), and an install
/// there whose trust is validated and whose own execution never starts.
async fn placed(stack: &LocalStack, prefix: &str, options: Value, quotas: Option<Value>) -> Placed {
    let api = Api::new(stack);
    let tenant = random_tenant_id(prefix);
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant, "name": "Crash Co", "email": "ops@crash.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let account = random_account_id();
    if let Some(settings) = quotas {
        steer(stack, &account, settings).await.unwrap();
    }
    stack
        .customer(&account)
        .create_access_stack(
            &stack.outputs.vendor_account_id,
            created.json["external_id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    let id = byoc_e2e::stepwise::recorded_install(stack, &tenant, &account, options)
        .await
        .unwrap();
    Placed {
        id,
        tenant,
        account,
        api,
    }
}

// ---------------------------------------------------------------- create-cluster

/// What the cluster step's record says, and what EKS holds, after a crash at `point` and
/// normal runs to the end.
async fn cluster_crash(point: &str, normal_calls_first: usize) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let install = placed(
        &stack,
        &format!("crash-{point}"),
        json!({"az_count": 2, "node_desired_size": 2, "node_max_size": 2}),
        None,
    )
    .await;
    let ec2 = ec2(&stack, &install.account);
    let eks = eks(&stack, &install.account);
    let network = create_install_network(&ec2, &install.id, &["us-east-1a", "us-east-1b"])
        .await
        .unwrap();
    for subnet in &network.public {
        create_nat_gateway(&ec2, &install.id, subnet).await.unwrap();
    }
    let cluster = format!("byoc-{}", install.id);
    let vendor = deployed_env(&stack, "create-cluster", "VENDOR_DEPLOY_ROLE_ARN").await;
    let crashing = crashing_copy(&stack, "create-cluster", point).await;
    for _ in 0..normal_calls_first {
        invoke(&stack, "create-cluster", &install.payload())
            .await
            .unwrap_or_else(|e| panic!("create-cluster: {e:?}"));
    }

    crash(&stack, &crashing, &install.payload()).await;
    // The crash came after the create and before the record write.
    let record = install.record().await;
    let data = &record["step_data"]["cluster"];
    match point {
        "cluster" => {
            assert_eq!(
                eks.list_clusters().send().await.unwrap().clusters(),
                std::slice::from_ref(&cluster)
            );
            assert!(
                record["resources"].get("cluster_arn").is_none(),
                "{}",
                record["resources"]
            );
        }
        "access-entry" => {
            let entries = eks
                .list_access_entries()
                .cluster_name(&cluster)
                .send()
                .await
                .unwrap();
            // The installer's entries (STANDARD); EKS adds the node role's (EC2_LINUX) itself
            // when the node group, made alongside, joins.
            let mut standard = vec![];
            for principal in entries.access_entries() {
                let entry = eks
                    .describe_access_entry()
                    .cluster_name(&cluster)
                    .principal_arn(principal)
                    .send()
                    .await
                    .unwrap();
                if entry.access_entry().and_then(|e| e.r#type()) == Some("STANDARD") {
                    standard.push(principal.clone());
                }
            }
            // The vendor's and the installer's entries are made at once: the crash came right
            // after the first (or both) were made, before any policy was associated.
            let installer = record["resources"]["customer_role_arn"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                !standard.is_empty() && standard.iter().all(|p| *p == vendor || *p == installer),
                "{standard:?}"
            );
            for principal in &standard {
                let associated = eks
                    .list_associated_access_policies()
                    .cluster_name(&cluster)
                    .principal_arn(principal)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    associated.associated_access_policies().is_empty(),
                    "the crash came before the policy was associated"
                );
            }
            assert!(
                data.get("vendor_access").is_none_or(Value::is_null),
                "{data}"
            );
        }
        "addon" => {
            let made = eks
                .list_addons()
                .cluster_name(&cluster)
                .send()
                .await
                .unwrap();
            assert_eq!(
                made.addons().len(),
                1,
                "one add-on was made before the crash: {:?}",
                made.addons()
            );
            assert!(
                data["addons"].as_object().is_none_or(|a| a.is_empty()),
                "{data}"
            );
        }
        "nodegroup" => {
            assert_eq!(
                eks.list_nodegroups()
                    .cluster_name(&cluster)
                    .send()
                    .await
                    .unwrap()
                    .nodegroups()
                    .len(),
                1
            );
            assert!(
                record["resources"].get("nodegroup_name").is_none(),
                "{}",
                record["resources"]
            );
        }
        other => panic!("no such point {other}"),
    }

    // The normal function adopts what the crashed run made and finishes.
    let mut ready = false;
    for _ in 0..MAX_CALLS {
        let status = invoke(&stack, "create-cluster", &install.payload())
            .await
            .unwrap_or_else(|e| panic!("create-cluster after the crash: {e:?}"));
        if status["ready"] == true {
            ready = true;
            break;
        }
    }
    assert!(ready, "create-cluster did not finish after the crash");

    // Counted in EKS: exactly one of everything, and the record names each.
    let clusters = eks
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .to_vec();
    assert_eq!(clusters, std::slice::from_ref(&cluster), "one cluster");
    let arn = eks
        .describe_cluster()
        .name(&cluster)
        .send()
        .await
        .unwrap()
        .cluster
        .and_then(|c| c.arn)
        .unwrap();
    let entries = eks
        .list_access_entries()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap()
        .access_entries()
        .to_vec();
    assert_eq!(
        entries.iter().filter(|e| **e == vendor).count(),
        1,
        "one vendor access entry: {entries:?}"
    );
    let associated = eks
        .list_associated_access_policies()
        .cluster_name(&cluster)
        .principal_arn(&vendor)
        .send()
        .await
        .unwrap();
    let admin: Vec<_> = associated
        .associated_access_policies()
        .iter()
        .filter(|p| p.policy_arn() == Some(ADMIN_POLICY))
        .collect();
    assert_eq!(admin.len(), 1, "cluster-admin associated once");
    let mut addons = eks
        .list_addons()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap()
        .addons()
        .to_vec();
    addons.sort();
    let mut expected: Vec<String> = ADDONS.iter().map(|a| a.to_string()).collect();
    expected.sort();
    assert_eq!(addons, expected, "each add-on once");
    let nodegroups = eks
        .list_nodegroups()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap()
        .nodegroups()
        .to_vec();
    assert_eq!(nodegroups.len(), 1, "one node group: {nodegroups:?}");

    let record = install.record().await;
    assert_eq!(record["resources"]["cluster_name"], cluster.as_str());
    assert_eq!(record["resources"]["cluster_arn"], arn.as_str());
    assert_eq!(
        record["resources"]["nodegroup_name"],
        nodegroups[0].as_str()
    );
    let data = &record["step_data"]["cluster"];
    assert_eq!(data["vendor_access"], vendor.as_str());
    let recorded: Vec<&String> = data["addons"].as_object().unwrap().keys().collect();
    assert_eq!(recorded, expected.iter().collect::<Vec<_>>());
    assert_eq!(data["ready"], true);
}

#[tokio::test]
async fn create_cluster_crash_after_create_cluster_is_adopted() {
    cluster_crash("cluster", 0).await;
}

#[tokio::test]
async fn create_cluster_crash_after_create_access_entry_is_adopted() {
    cluster_crash("access-entry", 1).await;
}

#[tokio::test]
async fn create_cluster_crash_after_create_addon_is_adopted() {
    cluster_crash("addon", 1).await;
}

#[tokio::test]
async fn create_cluster_crash_after_create_nodegroup_is_adopted() {
    cluster_crash("nodegroup", 1).await;
}

// ---------------------------------------------------------------- request-quota

#[tokio::test]
async fn request_quota_crash_after_filing_is_adopted_not_filed_again() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Four m6i.large nodes need 8 vCPUs; the account has 2: one increase to request.
    let settings = json!({"applied": {VCPUS: 2}, "outcomes": {VCPUS: {"decision": "approve", "after_polls": 3}}});
    let options = json!({"az_count": 2, "node_instance_type": "m6i.large", "node_max_size": 4});
    let install = placed(&stack, "crash-quota", options, Some(settings)).await;
    let quotas = service_quotas(&stack, &install.account);
    let checked = invoke(&stack, "check-quotas", &install.payload())
        .await
        .unwrap();
    assert_eq!(checked["ok"], false, "{checked}");

    // The emulator answers GetFunctionConfiguration of the deployed request-quota with its
    // numeric variables as JSON numbers, which the SDK refuses: copy validate-trust's instead.
    let crashing = crashing_copy_of(
        &stack,
        "request-quota",
        "quota-request",
        "validate-trust",
        &[("QUOTA_POLL_SECONDS", "1")],
    )
    .await;
    crash(&stack, &crashing, &install.payload()).await;
    let filed = requests(&quotas, "ec2", VCPUS).await.unwrap();
    assert_eq!(filed.len(), 1, "filed before the crash: {filed:?}");
    let record = install.record().await;
    assert!(
        record["step_data"].get("quota_requests").is_none(),
        "the crash came before the record write: {}",
        record["step_data"]
    );

    let result = invoke(&stack, "request-quota", &install.payload())
        .await
        .unwrap_or_else(|e| panic!("request-quota after the crash: {e:?}"));
    assert_eq!(result["status"], "pending", "{result}");
    let after = requests(&quotas, "ec2", VCPUS).await.unwrap();
    assert_eq!(
        after.len(),
        1,
        "the open request was adopted, not filed again: {after:?}"
    );
    let record = install.record().await;
    let recorded = record["step_data"]["quota_requests"]["requests"]
        .as_array()
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0]["request_id"],
        after[0].0.as_str(),
        "the record names the request AWS holds"
    );
}

// ---------------------------------------------------------------- notify

/// Email is at-least-once: a crash between Publish and the record write sends the email again
/// on the retry (SNS cannot deduplicate email; see functions/notify/src/lib.rs). Counted: two
/// identical emails, one timeline entry, the notice recorded once; a third run sends nothing.
#[tokio::test]
async fn notify_crash_after_publish_sends_again_once_and_records_once() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let install = placed(&stack, "crash-notify", json!({}), None).await;
    let inbox = Inbox::for_tenant(&stack, &install.tenant).await.unwrap();
    let crashing = crashing_copy(&stack, "notify", "publish").await;
    let mut payload = install.payload();
    payload["outcome"] = json!("failed");
    payload["error"] = json!({"Error": "NetworkFailed", "Cause": "{\"errorMessage\":\"NAT gateway nat-1 failed\"}"});

    crash(&stack, &crashing, &payload).await;
    let record = install.record().await;
    assert_eq!(record["status"], "failed");
    assert!(
        record["notified"].as_array().is_none_or(|n| n.is_empty()),
        "the crash came before the record write: {}",
        record["notified"]
    );

    invoke(&stack, "notify", &payload)
        .await
        .unwrap_or_else(|e| panic!("notify after the crash: {e:?}"));
    invoke(&stack, "notify", &payload)
        .await
        .unwrap_or_else(|e| panic!("notify once more: {e:?}"));
    let emails = inbox.wait_for(3, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        emails.len(),
        2,
        "the crashed run's email and the retry's; the third run sends none: {emails:#?}"
    );
    assert_eq!(emails[0], emails[1], "the same email twice");
    assert!(
        emails[0].body.contains("NAT gateway nat-1 failed"),
        "{}",
        emails[0].body
    );

    let record = install.record().await;
    assert_eq!(record["notified"], json!(["failed"]));
    let sent: Vec<&Value> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["step"] == "notify" && e["message"].as_str().unwrap_or("").contains("email sent")
        })
        .collect();
    assert_eq!(sent.len(), 1, "one timeline entry for the email: {sent:#?}");
}
