//! Installs and uninstalls under injected faults: the functions reach AWS through
//! infra/local/fault_proxy.py, which throttles (in each protocol's shape), answers 500/503,
//! resets connections or adds latency on a share of their calls. Every install and its
//! uninstall must still finish; afterwards each install made exactly one of everything (no
//! resource of a kind twice), nothing is left after the uninstall, and every timeline is
//! complete and gapless.
//!
//! Needs a stack started with faults, so it is ignored in the ordinary run:
//!     infra/test-faults                      # 6 installs at a 20% fault rate
//!     infra/test-faults --installs 30        # the full size
//! (or `BYOC_FAULT_RATE=0.2 infra/local/up`, deploy, then
//! `cargo test -p byoc-e2e --test faults -- --ignored`; BYOC_FAULT_INSTALLS sets the count).

use std::collections::BTreeMap;
use std::time::Duration;

use byoc_e2e::customer_ec2::{ec2, tag, tagged};
use byoc_e2e::customer_eks::eks;
use byoc_e2e::{random_account_id, random_tenant_id, Api, ApiResponse, LocalStack};
use serde_json::{json, Value};

/// Retries and faults make executions slower than the clean suite's.
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(900);
const ZONES: usize = 2;
const ADDONS: usize = 5;

fn installs() -> usize {
    std::env::var("BYOC_FAULT_INSTALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

/// The vendor's side: a 5xx from the API (its own AWS calls gave up) is retried, as a vendor's
/// backend would, with the same Idempotency-Key for a POST.
async fn call(
    api: &Api,
    method: &str,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> ApiResponse {
    let mut last = None;
    for attempt in 0..6u32 {
        let headers: Vec<(&str, &str)> = key
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        match api
            .send_with_headers(method, path, body.map(Value::to_string), &headers)
            .await
        {
            Ok(response) if response.status < 500 => return response,
            Ok(response) => last = Some(format!("{} {}", response.status, response.text)),
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
    }
    panic!("{method} {path} kept failing: {last:?}");
}

struct Outcome {
    install_id: String,
    install_execution: String,
    /// The install's last_error when it did not become ready.
    install_error: Value,
    removal_execution: String,
    duplicates: Vec<String>,
    leaks: Vec<String>,
    timeline_problems: Vec<String>,
}

/// Counts one install's resources by tag and name: a kind with more than the install asked
/// for, or two resources of a kind under one Name, is a duplicate. (Call it on an install
/// that became ready: a failed one was rolled back.)
async fn duplicates(stack: &LocalStack, account: &str, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    let net = tagged(&ec2(stack, account), id, true).await.unwrap();
    let live_nats: Vec<_> = net
        .nat_gateways
        .iter()
        .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
        .collect();
    let counts = [
        ("vpc", net.vpcs.len(), 1),
        ("subnet", net.subnets.len(), 2 * ZONES),
        ("internet gateway", net.internet_gateways.len(), 1),
        ("elastic ip", net.addresses.len(), ZONES),
        ("nat gateway", live_nats.len(), ZONES),
    ];
    for (kind, n, want) in counts {
        if n > want {
            found.push(format!("{id}: {n} {kind}(s), expected {want}"));
        }
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for name in net
        .route_tables
        .iter()
        .filter_map(|t| tag(t.tags(), "Name"))
    {
        *names.entry(format!("route table {name}")).or_default() += 1;
    }
    for name in net.subnets.iter().filter_map(|s| tag(s.tags(), "Name")) {
        *names.entry(format!("subnet {name}")).or_default() += 1;
    }
    found.extend(
        names
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, n)| format!("{id}: {n} x {name}")),
    );

    let eks = eks(stack, account);
    let clusters = eks
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .to_vec();
    if clusters.len() > 1 {
        found.push(format!("{id}: clusters {clusters:?}"));
    }
    for cluster in &clusters {
        let nodegroups = eks
            .list_nodegroups()
            .cluster_name(cluster)
            .send()
            .await
            .unwrap()
            .nodegroups()
            .len();
        let addons = eks
            .list_addons()
            .cluster_name(cluster)
            .send()
            .await
            .unwrap()
            .addons()
            .len();
        // The installer's entries (STANDARD: the vendor's and the installer role's own); EKS
        // adds the node role's (EC2_LINUX) itself.
        let principals = eks
            .list_access_entries()
            .cluster_name(cluster)
            .send()
            .await
            .unwrap()
            .access_entries()
            .to_vec();
        let mut entries = 0;
        for principal in &principals {
            let entry = eks
                .describe_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
                .send()
                .await
                .unwrap();
            if entry.access_entry().and_then(|e| e.r#type()) == Some("STANDARD") {
                entries += 1;
            }
        }
        if nodegroups > 1 || addons > ADDONS || entries > 2 {
            found.push(format!(
                "{id}: {nodegroups} node groups, {addons} add-ons, {entries} access entries"
            ));
        }
    }
    found
}

/// What the uninstall left in the account.
async fn leaks(stack: &LocalStack, account: &str, id: &str) -> Vec<String> {
    let net = tagged(&ec2(stack, account), id, true).await.unwrap();
    let mut left = net.live_ids();
    left.extend(
        eks(stack, account)
            .list_clusters()
            .send()
            .await
            .unwrap()
            .clusters()
            .iter()
            .cloned(),
    );
    left.into_iter().map(|r| format!("{id}: {r}")).collect()
}

/// The removal's entries on the install's timeline (the sweep's passes and the notice), each
/// as `<id>: <step> <outcome>: <message>`.
fn removal_entries(id: &str, record: &Value) -> Vec<String> {
    let timeline = record["timeline"].as_array().cloned().unwrap_or_default();
    let start = timeline
        .iter()
        .rposition(|e| e["step"] == "sweep-dangling" && e["outcome"] == "started")
        .unwrap_or(0);
    timeline[start..]
        .iter()
        .map(|e| {
            format!(
                "{id}: {} {}: {}",
                e["step"].as_str().unwrap_or("?"),
                e["outcome"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// A complete timeline: seq 1, 2, 3… without a gap or a repeat, the install declared ready
/// before the removal, and removed at the end.
fn timeline_problems(id: &str, record: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let timeline = record["timeline"].as_array().cloned().unwrap_or_default();
    let seqs: Vec<u64> = timeline.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let expected: Vec<u64> = (1..=timeline.len() as u64).collect();
    if seqs != expected {
        problems.push(format!("{id}: seq {seqs:?}"));
    }
    let steps: Vec<String> = timeline
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["step"].as_str().unwrap_or("?"),
                e["outcome"].as_str().unwrap_or("?")
            )
        })
        .collect();
    for needed in [
        "validate-trust succeeded",
        "create-network succeeded",
        "create-cluster succeeded",
        "sweep-dangling succeeded",
    ] {
        if !steps.iter().any(|s| s == needed) {
            problems.push(format!("{id}: no \"{needed}\" in {steps:?}"));
        }
    }
    let notices = record["notified"].as_array().cloned().unwrap_or_default();
    if !notices.contains(&json!("ready")) || !notices.contains(&json!("removed")) {
        problems.push(format!("{id}: notified {notices:?}"));
    }
    if record["status"] != "removed" {
        problems.push(format!("{id}: status {}", record["status"]));
    }
    problems
}

async fn install_and_remove(stack: &LocalStack, n: usize) -> Outcome {
    let api = Api::new(stack);
    let tenant_id = random_tenant_id(&format!("fault{n}"));
    let account = random_account_id();
    let tenant = call(
        &api,
        "POST",
        "/tenants",
        Some(&json!({"tenant_id": tenant_id, "name": "Faulty Co", "email": "ops@faulty.example"})),
        None,
    )
    .await;
    // A retried POST may find the tenant its first try made.
    let tenant = if tenant.status == 409 {
        call(&api, "GET", &format!("/tenants/{tenant_id}"), None, None).await
    } else {
        tenant
    };
    assert_eq!(tenant.status / 100, 2, "{}", tenant.text);
    let external_id = tenant.json["external_id"]
        .as_str()
        .expect("the tenant's External ID")
        .to_owned();
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();

    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1",
        "options": {"az_count": ZONES, "nat_mode": "per-az", "node_desired_size": 2, "node_max_size": 2}});
    let key = format!("faults-{tenant_id}");
    let accepted = call(&api, "POST", "/installs", Some(&body), Some(&key)).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let install_id = accepted.json["install_id"].as_str().unwrap().to_owned();
    let install_execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();
    let install_error = if install_execution == "SUCCEEDED" {
        Value::Null
    } else {
        call(&api, "GET", &format!("/installs/{install_id}"), None, None)
            .await
            .json["last_error"]
            .clone()
    };
    let duplicates = duplicates(stack, &account, &install_id).await;

    let removing = call(
        &api,
        "DELETE",
        &format!("/installs/{install_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(removing.status, 202, "{}", removing.text);
    let removal_execution = stack
        .wait_for_execution(
            removing.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();
    let mut leaks = leaks(stack, &account, &install_id).await;
    let record = call(&api, "GET", &format!("/installs/{install_id}"), None, None)
        .await
        .json;
    let timeline_problems = timeline_problems(&install_id, &record);
    // What the removal said it did, beside what it left: a leak is read from the two together.
    if !leaks.is_empty() {
        leaks.extend(removal_entries(&install_id, &record));
    }
    Outcome {
        install_id,
        install_execution,
        install_error,
        removal_execution,
        duplicates,
        leaks,
        timeline_problems,
    }
}

#[tokio::test]
#[ignore = "needs a stack started with BYOC_FAULT_RATE: run infra/test-faults"]
async fn installs_and_uninstalls_finish_under_faults_with_no_duplicate_and_no_leak() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let env = std::fs::read_to_string(stack.dir.join("stack.env")).unwrap();
    assert!(env.contains("BYOC_FAULT_RATE="), "the local stack runs without faults; start it with BYOC_FAULT_RATE (infra/test-faults does)");
    let counts_file = stack.dir.join("fault-proxy.json");
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(&counts_file).unwrap()).unwrap();

    let n = installs();
    let mut running = tokio::task::JoinSet::new();
    for i in 0..n {
        let stack = stack.clone();
        running.spawn(async move { install_and_remove(&stack, i).await });
    }
    let outcomes: Vec<Outcome> = running.join_all().await;

    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(&counts_file).unwrap()).unwrap();
    let injected = after["injected"].as_u64().unwrap() - before["injected"].as_u64().unwrap();
    let requests = after["requests"].as_u64().unwrap() - before["requests"].as_u64().unwrap();
    let completed = outcomes
        .iter()
        .filter(|o| o.install_execution == "SUCCEEDED" && o.removal_execution == "SUCCEEDED")
        .count();
    let duplicates: Vec<&String> = outcomes.iter().flat_map(|o| &o.duplicates).collect();
    let leaks: Vec<&String> = outcomes.iter().flat_map(|o| &o.leaks).collect();
    let gaps: Vec<&String> = outcomes.iter().flat_map(|o| &o.timeline_problems).collect();
    println!(
        "faults: {injected} injected in {requests} function calls to AWS (by kind {}, by code {}); installs completed (installed and removed): {completed}/{n}; duplicates: {}; leaks: {}; incomplete timelines: {}",
        after["by_kind"],
        after["by_code"],
        duplicates.len(),
        leaks.len(),
        gaps.len()
    );
    for o in outcomes
        .iter()
        .filter(|o| o.install_execution != "SUCCEEDED" || o.removal_execution != "SUCCEEDED")
    {
        println!(
            "  {}: install {} ({}), removal {}",
            o.install_id, o.install_execution, o.install_error, o.removal_execution
        );
    }
    for problem in duplicates.iter().chain(&leaks).chain(&gaps) {
        println!("  {problem}");
    }
    assert!(injected > 0, "the proxy injected nothing");
    assert_eq!(completed, n, "every install and uninstall finishes");
    assert!(duplicates.is_empty(), "duplicates: {duplicates:#?}");
    assert!(leaks.is_empty(), "left after the uninstall: {leaks:#?}");
    assert!(gaps.is_empty(), "timelines: {gaps:#?}");
}
