//! sweep-dangling against the local stack, checked the way a person would check a customer's
//! account after an uninstall: everything the install and its cluster's Kubernetes
//! controllers made is gone (each kind read back with its Describe call, and the tagging
//! API), the customer's other things and another install's are still there, the vendor's
//! account is untouched; a dry run lists what would go, why, and what it costs meanwhile, and
//! deletes nothing; the deletion order is the one AWS enforces (the emulator refuses
//! out-of-order deletions with DependencyViolation, as AWS does).
//!
//! The install's resources are made by hand (`customer_sweep::build_footprint`) so this test
//! does not depend on the network and cluster steps. deploy.py does not deploy sweep-dangling
//! yet, so the test deploys it (a bootstrap exec'ing this checkout's
//! `target/debug/sweep-dangling`, with the deployed validate-trust function's environment).
//! Build first: `cargo build --workspace --bins`.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use byoc_e2e::customer_sweep::{
    build_decoys, build_footprint, install_leftovers, steer, still_there, Account,
};
use byoc_e2e::{random_account_id, random_tenant_id, Api, LocalStack};
use serde_json::{json, Value};

const FUNCTION: &str = "byoc-sweep-dangling-test";
/// Passes a sweep may take here: the emulator is steered to keep NAT gateways, node groups
/// and clusters deleting for a poll or two.
const MAX_PASSES: usize = 12;

struct Bed {
    stack: LocalStack,
    api: Api,
    lambda: aws_sdk_lambda::Client,
}

struct Installed {
    id: String,
    tenant: String,
    account: String,
}

impl Bed {
    async fn new() -> Self {
        let stack = LocalStack::connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let api = Api::new(&stack);
        let lambda = aws_sdk_lambda::Client::new(&stack.config);
        let bed = Self { stack, api, lambda };
        bed.deploy().await;
        bed
    }

    /// A tenant, its access stack in a fresh account, and an install whose own execution has
    /// ended (whatever it made is the install's too, and the sweep must remove it as well).
    async fn install(&self) -> Installed {
        let tenant = random_tenant_id("sweep");
        let account = random_account_id();
        let created = self.api.post("/tenants", &json!({"tenant_id": tenant, "name": "Customer Co", "email": "ops@customer.example"})).await.unwrap();
        assert_eq!(created.status, 201, "{}", created.text);
        let external_id = created.json["external_id"].as_str().unwrap();
        self.stack
            .customer(&account)
            .create_access_stack(&self.stack.outputs.vendor_account_id, external_id)
            .await
            .unwrap();
        // Recorded without its state machine: the test builds the install's footprint itself.
        let id = byoc_e2e::stepwise::recorded_install(&self.stack, &tenant, &account, json!({}))
            .await
            .unwrap();
        Installed {
            id,
            tenant,
            account,
        }
    }

    /// One pass, as the state machine would call it: the output, or (errorType, errorMessage).
    async fn sweep(&self, install: &Installed, mode: &str) -> Result<Value, (String, String)> {
        let payload = json!({"install_id": install.id, "tenant_id": install.tenant, "mode": mode})
            .to_string();
        let out = self
            .lambda
            .invoke()
            .function_name(FUNCTION)
            .payload(Blob::new(payload))
            .send()
            .await
            .unwrap();
        let body: Value = out
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        match out.function_error() {
            None => Ok(body),
            Some(_) => Err((
                body["errorType"].as_str().unwrap_or_default().to_owned(),
                body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            )),
        }
    }

    async fn record(&self, install: &Installed) -> Value {
        let found = self
            .api
            .get(&format!("/installs/{}", install.id))
            .await
            .unwrap();
        assert_eq!(found.status, 200, "{}", found.text);
        found.json
    }

    async fn deploy(&self) {
        if self
            .lambda
            .get_function()
            .function_name(FUNCTION)
            .send()
            .await
            .is_ok()
        {
            return;
        }
        let template = self
            .lambda
            .get_function_configuration()
            .function_name("byoc-validate-trust")
            .send()
            .await
            .expect("byoc-validate-trust is deployed");
        let mut variables: HashMap<String, String> = template
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        // The sweep's own queue (its scheduled runs send there; these tests run passes only).
        if let Some(trust_queue) = variables.get("TRUST_CHECK_QUEUE_URL").cloned() {
            variables.insert(
                "SWEEP_QUEUE_URL".into(),
                trust_queue.replace("trust-check.fifo", "sweep.fifo"),
            );
        }
        let created = self
            .lambda
            .create_function()
            .function_name(FUNCTION)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(template.role().unwrap())
            .timeout(60)
            .memory_size(256)
            .environment(
                Environment::builder()
                    .set_variables(Some(variables))
                    .build(),
            )
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(byoc_e2e::function_package::linked_bootstrap_zip(
                        "sweep-dangling",
                    )))
                    .build(),
            )
            .send()
            .await;
        if let Err(err) = created {
            let conflict = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception());
            assert!(conflict, "CreateFunction {FUNCTION}: {err:?}");
        }
    }
}

/// The vendor account's VPCs, volumes and load balancers: a sweep must never reach them.
async fn vendor_snapshot(stack: &LocalStack) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(&stack.config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&stack.config);
    let mut ids: Vec<String> = ec2
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_owned))
        .collect();
    ids.extend(
        ec2.describe_subnets()
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned)),
    );
    ids.extend(
        ec2.describe_volumes()
            .send()
            .await
            .unwrap()
            .volumes()
            .iter()
            .filter_map(|v| v.volume_id().map(str::to_owned)),
    );
    ids.extend(
        elb.describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_owned)),
    );
    ids.sort();
    ids
}

fn sweep_events(record: &Value) -> Vec<(String, String)> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "sweep-dangling")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn listed(entries: &Value) -> BTreeSet<(String, String)> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn reason_of<'a>(found: &'a Value, id: &str) -> &'a str {
    found
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_else(|| panic!("{id} not found: {found:#}"))
}

#[tokio::test]
async fn dry_run_then_delete_removes_everything_of_the_install_in_order_and_nothing_else() {
    let bed = Bed::new().await;
    let install = bed.install().await;
    let account = Account::new(&bed.stack, &install.account);
    let vendor_before = vendor_snapshot(&bed.stack).await;
    // Deletions take polls, as on AWS: the sweep has to come back rather than wait.
    steer(&bed.stack, "sweep", &install.account, json!({"nat_deleting_polls": 2, "nodegroup_deleting_polls": 1, "cluster_deleting_polls": 1})).await.unwrap();
    let footprint = build_footprint(&account, &install.id, &install.tenant)
        .await
        .unwrap();
    let decoys = build_decoys(&account, &install.id).await.unwrap();
    let cluster = footprint.cluster.clone();
    let vpc = footprint.vpc().to_owned();

    // Out of order, AWS (and so the emulator) refuses: the order below is not decoration.
    let early = account
        .ec2
        .delete_vpc()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap_err();
    assert_eq!(early.code(), Some("DependencyViolation"));
    let lb_group = footprint
        .resources
        .iter()
        .find(|(k, _)| *k == "security-group")
        .map(|(_, id)| id.clone())
        .unwrap();
    let early = account
        .ec2
        .delete_security_group()
        .group_id(&lb_group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        early.code(),
        Some("DependencyViolation"),
        "the NLB and the nodes' rule use it"
    );

    // Dry run: everything listed with why, a monthly cost, nothing deleted.
    let out = bed.sweep(&install, "dry_run").await.unwrap();
    assert_eq!(
        (out["install_id"].as_str(), out["tenant_id"].as_str()),
        (Some(install.id.as_str()), Some(install.tenant.as_str()))
    );
    assert_eq!(
        (out["mode"].as_str(), out["done"].as_bool()),
        (Some("dry_run"), Some(true))
    );
    let record = bed.record(&install).await;
    let sweep = &record["step_data"]["sweep"];
    let found = listed(&sweep["found"]);
    for (kind, id) in &footprint.resources {
        assert!(
            found.contains(&(kind.to_string(), id.clone())),
            "dry run missed {kind} {id}: {:#}",
            sweep["found"]
        );
    }
    assert_eq!(out["remaining"].as_u64(), Some(found.len() as u64));
    for (_, id) in &decoys.resources {
        assert!(
            !found.iter().any(|(_, f)| f == id),
            "a decoy was listed for deletion: {id}"
        );
    }
    let k8s = format!("tagged kubernetes.io/cluster/{cluster} by Kubernetes");
    assert_eq!(reason_of(&sweep["found"], &vpc), "tagged byoc:install-id");
    assert_eq!(reason_of(&sweep["found"], &lb_group), k8s);
    assert_eq!(
        reason_of(&sweep["found"], footprint.id("load-balancer").unwrap()),
        k8s
    );
    assert_eq!(
        reason_of(&sweep["found"], footprint.id("network-interface").unwrap()),
        "tagged cluster.k8s.amazonaws.com/name by Kubernetes",
        "the VPC CNI names the cluster on the interfaces it makes"
    );
    assert_eq!(
        reason_of(&sweep["found"], footprint.id("volume").unwrap()),
        "tagged byoc:install-id"
    );
    assert_eq!(
        reason_of(&sweep["found"], &footprint.log_group),
        format!("part of cluster {cluster}")
    );
    assert_eq!(
        reason_of(&sweep["found"], "default"),
        format!("part of cluster {cluster}"),
        "the node group"
    );
    let kept = &sweep["kept"];
    let decoy_volume = decoys
        .resources
        .iter()
        .find(|(k, _)| *k == "volume")
        .map(|(_, id)| id.as_str())
        .unwrap();
    assert!(
        kept.as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == decoy_volume && k["why"] == "tagged for tenant globex"),
        "{kept:#}"
    );
    // At least: NAT 32.85 + its address 3.65 + NLB 16.425 + cluster 73.00 + 10 GB gp3 0.80.
    let cost = out["monthly_cost_usd"].as_f64().unwrap();
    assert!(cost >= 126.72, "monthly cost {cost}");
    assert_eq!(sweep["monthly_cost_usd"].as_f64(), Some(cost));
    assert!(
        sweep_events(&record)
            .last()
            .unwrap()
            .1
            .starts_with(&format!(
                "dry run: {} resources would be deleted",
                found.len()
            )),
        "{:?}",
        sweep_events(&record)
    );
    assert_eq!(
        still_there(&account, &cluster, &footprint.resources)
            .await
            .unwrap(),
        footprint.resources,
        "the dry run deleted something"
    );

    // Delete: passes until done, bounded, each recorded.
    let mut passes = vec![];
    loop {
        let out = bed
            .sweep(&install, "delete")
            .await
            .unwrap_or_else(|e| panic!("sweep failed: {e:?}"));
        let record = bed.record(&install).await;
        passes.push((out.clone(), record["step_data"]["sweep"].clone()));
        if out["done"] == true {
            break;
        }
        assert!(
            passes.len() < MAX_PASSES,
            "still not done after {MAX_PASSES} passes: {:#}",
            record["step_data"]["sweep"]
        );
    }
    let (first_out, first) = &passes[0];
    assert!(
        passes.len() >= 3,
        "node group, cluster and NAT deletions take polls: {} passes",
        passes.len()
    );
    assert_eq!(first_out["done"], false);
    assert!(first_out["remaining"].as_u64().unwrap() > 0);
    // The first pass started the slow deletions and left what depends on them for later.
    let started = listed(&first["started"]);
    assert!(
        started.contains(&("nodegroup".into(), "default".into())),
        "{first:#}"
    );
    let nat = (
        "nat-gateway".to_owned(),
        footprint.id("nat-gateway").unwrap().to_owned(),
    );
    assert!(
        !started.contains(&nat),
        "the NAT gateway waits until the nodes are gone: {first:#}"
    );
    let nat_started = passes
        .iter()
        .position(|(_, s)| listed(&s["started"]).contains(&nat));
    assert!(
        nat_started > Some(0),
        "the NAT gateway's deletion was started on a later pass"
    );
    let first_deleted = listed(&first["deleted"]);
    assert!(
        !first_deleted.contains(&("vpc".into(), vpc.clone())),
        "the VPC went before its dependents"
    );
    assert!(
        !first_deleted.contains(&("cluster".into(), cluster.clone())),
        "the cluster went before its node group"
    );
    assert!(
        !first_deleted.contains(&(
            "elastic-ip".into(),
            footprint.id("elastic-ip").unwrap().into()
        )),
        "the address went before its NAT gateway"
    );
    // Whatever was deferred was refused for a reason worth retrying, never abandoned.
    for (_, sweep) in &passes {
        assert_eq!(sweep["failed"], json!([]), "{sweep:#}");
        for deferred in sweep["deferred"].as_array().unwrap() {
            assert!(
                [
                    "DependencyViolation",
                    "InvalidIPAddress.InUse",
                    "InvalidNetworkInterface.InUse",
                    "ResourceInUse",
                    "ResourceInUseException"
                ]
                .contains(&deferred["code"].as_str().unwrap()),
                "{deferred}"
            );
        }
    }
    let deleted: BTreeSet<(String, String)> = passes
        .iter()
        .flat_map(|(_, s)| listed(&s["deleted"]))
        .collect();
    let position = |kind: &str, id: &str| {
        passes
            .iter()
            .position(|(_, s)| listed(&s["deleted"]).contains(&(kind.to_owned(), id.to_owned())))
    };
    // Within a pass the kinds go in order too, so a VPC may share its subnets' pass.
    assert!(position("vpc", &vpc) >= position("subnet", footprint.id("subnet").unwrap()));
    assert!(position("elastic-ip", footprint.id("elastic-ip").unwrap()) > Some(0));
    assert!(deleted.contains(&("volume".into(), footprint.id("volume").unwrap().into())));

    // Nothing of the install is left, read back kind by kind; the rest is untouched.
    assert_eq!(
        still_there(&account, &cluster, &footprint.resources)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        install_leftovers(&account, &install.id, std::slice::from_ref(&vpc))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        still_there(&account, &cluster, &decoys.resources)
            .await
            .unwrap(),
        decoys.resources,
        "a decoy was touched"
    );
    assert_eq!(
        vendor_snapshot(&bed.stack).await,
        vendor_before,
        "the vendor's account changed"
    );

    let record = bed.record(&install).await;
    let events = sweep_events(&record);
    let outcomes: Vec<&str> = events.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outcomes.first(), Some(&"started"));
    assert_eq!(outcomes.last(), Some(&"succeeded"));
    assert!(outcomes.contains(&"waiting"), "{events:?}");
    assert!(
        events
            .last()
            .unwrap()
            .1
            .starts_with("nothing of the install is left"),
        "{events:?}"
    );

    // Sweeping again finds nothing and succeeds.
    let again = bed.sweep(&install, "delete").await.unwrap();
    assert_eq!(
        (
            again["remaining"].as_u64(),
            again["done"].as_bool(),
            again["monthly_cost_usd"].as_f64()
        ),
        (Some(0), Some(true), Some(0.0))
    );
    let record = bed.record(&install).await;
    assert_eq!(record["step_data"]["sweep"]["found"], json!([]));
    assert_eq!(record["step_data"]["sweep"]["deleted"], json!([]));
}

#[tokio::test]
async fn a_sweep_of_an_install_that_made_nothing_finds_nothing() {
    let bed = Bed::new().await;
    let install = bed.install().await;
    let account = Account::new(&bed.stack, &install.account);
    // Whatever the install flow made is swept first, so the account holds only decoys.
    for _ in 0..MAX_PASSES {
        if bed.sweep(&install, "delete").await.unwrap()["done"] == true {
            break;
        }
    }
    let decoys = build_decoys(&account, &install.id).await.unwrap();
    let out = bed.sweep(&install, "dry_run").await.unwrap();
    assert_eq!(
        (out["remaining"].as_u64(), out["monthly_cost_usd"].as_f64()),
        (Some(0), Some(0.0))
    );
    let out = bed.sweep(&install, "delete").await.unwrap();
    assert_eq!(
        (out["remaining"].as_u64(), out["done"].as_bool()),
        (Some(0), Some(true))
    );
    assert_eq!(
        still_there(&account, "none", &decoys.resources)
            .await
            .unwrap(),
        decoys.resources
    );
}

#[tokio::test]
async fn a_sweep_for_another_tenant_is_refused_as_not_found() {
    let bed = Bed::new().await;
    let install = bed.install().await;
    let wrong = Installed {
        id: install.id.clone(),
        tenant: random_tenant_id("intruder"),
        account: install.account.clone(),
    };
    let (error_type, _) = bed.sweep(&wrong, "delete").await.unwrap_err();
    assert_eq!(error_type, "InstallNotFound");
}
