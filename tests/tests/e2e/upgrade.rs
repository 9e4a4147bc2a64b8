//! Day-2 upgrades on the local stack, driven through the HTTP API as a vendor drives them:
//! an install is upgraded one Kubernetes minor version at a time, control plane, node groups
//! and add-ons, and each test checks what the customer's account shows afterwards (EKS's own
//! descriptions), the install's record and timeline, and the emails.
//!
//! The emulator's EKS follows its version calendar at a clock each test pins for its account
//! (infra/local/moto_ext: `{"eks": {"<account>": {"now": ...}}}`): on 2026-06-01 Kubernetes
//! 1.33, 1.34 and 1.35 are all in standard support.

use std::time::Duration;

use byoc_e2e::customer_eks::{eks, pin_calendar, steer_eks};
use byoc_e2e::customer_quotas::{applied, requests, service_quotas};
use byoc_e2e::installed::{finished, install_with, place, Place, EXECUTION_TIMEOUT};
use byoc_e2e::{Api, LocalStack};
use serde_json::{json, Value};

const CALENDAR_DAY: &str = "2026-06-01T00:00:00Z";

/// The vCPUs a rolling update of the install's node group needs at most: its two m6i.large
/// nodes and the surge of twice its three zones (EKS User Guide, "Managed node update
/// behavior"), 2 vCPUs each.
const SURGE_VCPUS: u64 = 4 + 12;

pub(crate) async fn ready_at(
    stack: &LocalStack,
    api: &Api,
    prefix: &str,
    version: &str,
) -> (Place, String) {
    ready_with_vcpus(stack, api, prefix, version, Some(SURGE_VCPUS)).await
}

/// A ready install at `version`, in an account whose On-Demand Standard vCPU quota is `vcpus`
/// (None: a new account's 5, room for the install's 4 but not for a node group's surge).
async fn ready_with_vcpus(
    stack: &LocalStack,
    api: &Api,
    prefix: &str,
    version: &str,
    vcpus: Option<u64>,
) -> (Place, String) {
    let place = place(stack, api, prefix).await;
    pin_calendar(stack, &place.account, CALENDAR_DAY, vcpus)
        .await
        .unwrap();
    let (id, execution, record) =
        install_with(stack, api, &place, json!({"kubernetes_version": version})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    assert_eq!(record["resources"]["kubernetes_version"], version);
    (place, id)
}

/// `POST /installs/{id}/upgrade` with `body`, waited for: the execution's end and the record.
pub(crate) async fn upgrade(
    stack: &LocalStack,
    api: &Api,
    id: &str,
    body: Value,
) -> (String, Value) {
    let accepted = api
        .post(&format!("/installs/{id}/upgrade"), &body)
        .await
        .unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    assert_eq!(accepted.json["status"], "upgrading");
    finished(stack, api, id, &accepted).await
}

pub(crate) struct Versions {
    pub(crate) control_plane: String,
    pub(crate) node_group: String,
    pub(crate) addons: Vec<(String, String)>,
}

/// What EKS says the cluster runs.
pub(crate) async fn versions(stack: &LocalStack, account: &str, id: &str) -> Versions {
    let eks = eks(stack, account);
    let name = format!("byoc-{id}");
    let cluster = eks.describe_cluster().name(&name).send().await.unwrap();
    let node_groups = eks
        .list_nodegroups()
        .cluster_name(&name)
        .send()
        .await
        .unwrap();
    let [node_group] = node_groups.nodegroups() else {
        panic!("one node group: {node_groups:?}")
    };
    let node_group = eks
        .describe_nodegroup()
        .cluster_name(&name)
        .nodegroup_name(node_group)
        .send()
        .await
        .unwrap();
    let mut addons = Vec::new();
    for addon in eks
        .list_addons()
        .cluster_name(&name)
        .send()
        .await
        .unwrap()
        .addons()
    {
        let described = eks
            .describe_addon()
            .cluster_name(&name)
            .addon_name(addon)
            .send()
            .await
            .unwrap();
        let described = described.addon().unwrap();
        assert_eq!(
            described.status().map(|s| s.as_str()),
            Some("ACTIVE"),
            "{addon}"
        );
        addons.push((addon.clone(), described.addon_version().unwrap().to_owned()));
    }
    Versions {
        control_plane: cluster.cluster().unwrap().version().unwrap().to_owned(),
        node_group: node_group
            .nodegroup()
            .unwrap()
            .version()
            .unwrap()
            .to_owned(),
        addons,
    }
}

/// Whether EKS lists `version` of `addon` as compatible with Kubernetes `kubernetes`.
async fn compatible(
    stack: &LocalStack,
    account: &str,
    addon: &str,
    version: &str,
    kubernetes: &str,
) -> bool {
    let offered = eks(stack, account)
        .describe_addon_versions()
        .addon_name(addon)
        .kubernetes_version(kubernetes)
        .send()
        .await
        .unwrap();
    offered
        .addons()
        .iter()
        .flat_map(|a| a.addon_versions())
        .any(|v| v.addon_version() == Some(version))
}

fn messages(record: &Value) -> Vec<String> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "upgrade-cluster")
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn cluster_updates(stack: &LocalStack, account: &str, id: &str) -> usize {
    eks(stack, account)
        .list_updates()
        .name(format!("byoc-{id}"))
        .send()
        .await
        .unwrap()
        .update_ids()
        .len()
}

#[tokio::test]
async fn an_install_is_upgraded_hop_by_hop_to_the_newest_version_in_standard_support() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, id) = ready_at(&stack, &api, "upgrade", "1.33").await;

    let accepted = api
        .post(&format!("/installs/{id}/upgrade"), &json!({}))
        .await
        .unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let again = api
        .post(&format!("/installs/{id}/upgrade"), &json!({}))
        .await
        .unwrap();
    assert_eq!(
        (again.status, &again.json["execution_arn"]),
        (202, &accepted.json["execution_arn"]),
        "a repeated request joins the running upgrade"
    );
    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(
        removing.status, 409,
        "no removal in the middle of an upgrade: {}",
        removing.text
    );
    assert!(removing.text.contains("upgrading"), "{}", removing.text);

    let execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    assert_eq!(record["resources"]["kubernetes_version"], "1.35");
    assert_eq!(record["step_data"]["upgrade"]["state"], "succeeded");
    assert_eq!(
        record["step_data"]["upgrade"]["hops"],
        json!(["1.34", "1.35"])
    );
    // Every update is kept as successful, so the checks stopped describing it once it was.
    let updates = record["step_data"]["upgrade"]["updates"]
        .as_object()
        .unwrap();
    assert!(updates.len() >= 4, "{updates:#?}");
    assert!(
        updates.values().all(|u| u["successful"] == true),
        "{updates:#?}"
    );

    let now = versions(&stack, &place.account, &id).await;
    assert_eq!(
        (now.control_plane.as_str(), now.node_group.as_str()),
        ("1.35", "1.35")
    );
    assert!(!now.addons.is_empty());
    for (addon, version) in &now.addons {
        assert!(
            compatible(&stack, &place.account, addon, version, "1.35").await,
            "{addon} {version} runs on 1.35"
        );
    }
    let said = messages(&record).join("\n");
    for hop in ["1.34", "1.35"] {
        for part in ["the control plane update", "node group"] {
            assert!(
                said.contains(&format!("Kubernetes {hop}: {part}")),
                "hop {hop}, {part}:\n{said}"
            );
        }
    }
    assert!(
        said.contains(
            "Kubernetes 1.35: control plane, node groups and add-ons upgraded and healthy"
        ),
        "{said}"
    );
    assert_eq!(
        cluster_updates(&stack, &place.account, &id).await,
        2,
        "one control plane update per hop"
    );

    let emails = place
        .inbox
        .wait_for(3, Duration::from_secs(20))
        .await
        .unwrap();
    let subjects: Vec<&str> = emails.iter().map(|e| e.subject.as_str()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("is upgrading its cluster") && s.contains("1.35")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("is on Kubernetes 1.35")),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn a_blocking_insight_stops_the_upgrade_before_anything_changes_and_force_goes_past_it() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, id) = ready_at(&stack, &api, "upgins", "1.34").await;
    steer_eks(
        &stack,
        &place.account,
        json!({"insights": [{
            "name": "Deprecated APIs removed in Kubernetes v1.35",
            "kubernetes_version": "1.35",
            "status": "ERROR",
            "reason": "Deprecated API usage detected within last 30 days.",
            "deprecations": [{
                "usage": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
                "replacedWith": "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
                "stopServingVersion": "1.32",
                "startServingReplacementVersion": "1.29"
            }]
        }]}),
    )
    .await
    .unwrap();

    let (execution, record) = upgrade(&stack, &api, &id, json!({})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("FAILED", Some("ready")),
        "the install serves on: {record:#}"
    );
    assert_eq!(record["last_error"]["code"], "UpgradeBlocked", "{record:#}");
    let message = record["last_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Deprecated APIs removed in Kubernetes v1.35")
            && message.contains("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas")
            && message.contains("\"force\": true"),
        "{message}"
    );
    assert_eq!(
        versions(&stack, &place.account, &id).await.control_plane,
        "1.34"
    );
    assert_eq!(
        cluster_updates(&stack, &place.account, &id).await,
        0,
        "nothing was changed"
    );
    let emails = place
        .inbox
        .wait_for(2, Duration::from_secs(20))
        .await
        .unwrap();
    let stopped = emails
        .iter()
        .find(|e| e.subject.starts_with("Action needed: upgrading"))
        .unwrap_or_else(|| panic!("{emails:?}"));
    assert!(
        stopped.body.contains("v1beta3/flowschemas"),
        "{}",
        stopped.body
    );

    let (execution, record) = upgrade(&stack, &api, &id, json!({"force": true})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    assert_eq!(record["last_error"], Value::Null, "{record:#}");
    let now = versions(&stack, &place.account, &id).await;
    assert_eq!(
        (now.control_plane.as_str(), now.node_group.as_str()),
        ("1.35", "1.35")
    );
}

#[tokio::test]
async fn a_pod_eviction_failure_stops_at_the_node_group_and_the_forced_upgrade_resumes_there() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, id) = ready_at(&stack, &api, "upgpdb", "1.34").await;
    steer_eks(
        &stack,
        &place.account,
        json!({"nodegroup_update_fail": "PodEvictionFailure"}),
    )
    .await
    .unwrap();

    let (execution, record) = upgrade(&stack, &api, &id, json!({})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("FAILED", Some("ready")),
        "{record:#}"
    );
    assert_eq!(record["last_error"]["code"], "UpgradeFailed", "{record:#}");
    let message = record["last_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("PodEvictionFailure") && message.contains("node group"),
        "{message}"
    );
    let stopped = versions(&stack, &place.account, &id).await;
    assert_eq!(
        (stopped.control_plane.as_str(), stopped.node_group.as_str()),
        ("1.35", "1.34"),
        "the control plane moved, the node group could not drain"
    );

    // A retry keeps the upgrade's settings (no force): EKS fails the drain again.
    let retried = api
        .send("POST", &format!("/installs/{id}/retry"), None, true)
        .await
        .unwrap();
    assert_eq!(retried.status, 202, "{}", retried.text);
    let execution = stack
        .wait_for_execution(
            retried.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(execution, "FAILED");

    let (execution, record) = upgrade(&stack, &api, &id, json!({"force": true})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    let now = versions(&stack, &place.account, &id).await;
    assert_eq!(
        (now.control_plane.as_str(), now.node_group.as_str()),
        ("1.35", "1.35")
    );
    assert_eq!(
        cluster_updates(&stack, &place.account, &id).await,
        1,
        "the control plane was updated once: each attempt resumed at the node group"
    );
}

#[tokio::test]
async fn upgrades_that_cannot_work_are_refused_naming_the_field_and_nothing_starts() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "upgbad").await;
    steer_eks(&stack, &place.account, json!({"now": CALENDAR_DAY}))
        .await
        .unwrap();
    let body = json!({"tenant_id": place.tenant_id, "account_id": place.account, "region": "us-east-1",
        "options": {"node_desired_size": 2, "node_max_size": 2, "kubernetes_version": "1.34"}});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let id = accepted.json["install_id"].as_str().unwrap().to_owned();
    let early = api
        .post(&format!("/installs/{id}/upgrade"), &json!({}))
        .await
        .unwrap();
    assert_eq!(early.status, 409, "{}", early.text);
    assert!(
        early.text.contains("only a ready install can be upgraded"),
        "{}",
        early.text
    );
    stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();

    for (body, wanted) in [
        (json!({"kubernetes_version": "1.99"}), "not offered by EKS"),
        (
            json!({"kubernetes_version": "1.33"}),
            "not newer than the cluster's 1.34",
        ),
        (
            json!({"kubernetes_version": "1.34"}),
            "not newer than the cluster's 1.34",
        ),
        (json!({"kubernetes_version": "latest"}), "write it as 1.NN"),
    ] {
        let refused = api
            .post(&format!("/installs/{id}/upgrade"), &body)
            .await
            .unwrap();
        assert_eq!(refused.status, 400, "{body}: {}", refused.text);
        assert_eq!(
            refused.json["error"]["field"], "kubernetes_version",
            "{}",
            refused.text
        );
        assert!(refused.text.contains(wanted), "{body}: {}", refused.text);
    }
    let unknown = api
        .post(
            &format!("/installs/{id}/upgrade"),
            &json!({"version": "1.35"}),
        )
        .await
        .unwrap();
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(unknown.text.contains("version"), "{}", unknown.text);

    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(record["status"], "ready");
    assert_eq!(
        record["step_data"]["upgrade"],
        Value::Null,
        "nothing was recorded"
    );
    assert_eq!(cluster_updates(&stack, &place.account, &id).await, 0);
}

#[tokio::test]
async fn too_little_vcpu_for_the_surge_is_asked_of_aws_and_the_upgrade_goes_on_once_approved() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, id) = ready_with_vcpus(&stack, &api, "upgquota", "1.34", None).await;
    let quotas = service_quotas(&stack, &place.account);
    assert!(requests(&quotas, "ec2", "L-1216C47A")
        .await
        .unwrap()
        .is_empty());

    let (execution, record) = upgrade(&stack, &api, &id, json!({})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    // One request, for what the install uses (4) and the surge (6 nodes of 2 vCPUs) together.
    let filed = requests(&quotas, "ec2", "L-1216C47A").await.unwrap();
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert!(applied(&quotas, "ec2", "L-1216C47A").await.unwrap() >= SURGE_VCPUS as f64);
    let now = versions(&stack, &place.account, &id).await;
    assert_eq!(
        (now.control_plane.as_str(), now.node_group.as_str()),
        ("1.35", "1.35")
    );

    let timeline: Vec<String> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e["step"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    let first = |prefix: &str| {
        timeline
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {timeline:#?}"))
    };
    assert!(
        timeline[first("upgrade-cluster waiting")].contains("L-1216C47A"),
        "{timeline:#?}"
    );
    assert!(first("upgrade-cluster waiting") < first("request-quota started"));
    assert!(
        first("request-quota started")
            < first("upgrade-cluster started: Kubernetes 1.35: the control plane"),
        "nothing changed before the quota was there: {timeline:#?}"
    );
    let emails = place
        .inbox
        .wait_for(4, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        emails.iter().any(|e| e.subject.contains("upgrade in")
            && e.subject.ends_with("waiting for AWS quota increases")),
        "{:?}",
        emails.iter().map(|e| &e.subject).collect::<Vec<_>>()
    );
}
