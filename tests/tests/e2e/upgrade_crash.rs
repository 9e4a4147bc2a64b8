//! Crash safety of an upgrade: upgrade-cluster dies right after EKS accepted an update and
//! before it recorded it (`BYOC_FAULT_CRASH_AFTER=upgrade-cluster:update-started`); the next
//! call must find that update (its client request token brings the same one back), not start
//! a second, and the upgrade must finish from there. Counted with EKS's own listings.

use byoc_core::store::InstallStore;
use byoc_domain::install_change::Change;
use byoc_domain::model::{InstallStatus, Outcome, Step};
use byoc_domain::step_record::StepRecord;
use byoc_domain::upgrade::{MinorVersion, UpgradeRecord, UPGRADE_KEY};
use byoc_e2e::crashing::{crash, crashing_copy, run};
use byoc_e2e::customer_eks::{eks, pin_calendar, steer_eks};
use byoc_e2e::installed::{install_with, place};
use byoc_e2e::{Api, LocalStack};
use serde_json::{json, Value};

/// Enough calls for every part of a one-hop upgrade at zero emulated waits.
const MAX_CALLS: usize = 20;

#[tokio::test]
async fn a_crash_after_an_update_started_resumes_it_without_a_second_update() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "upgcrash").await;
    pin_calendar(&stack, &place.account, "2026-06-01T00:00:00Z", Some(16))
        .await
        .unwrap();
    let (id, execution, _) =
        install_with(&stack, &api, &place, json!({"kubernetes_version": "1.34"})).await;
    assert_eq!(execution, "SUCCEEDED");

    // What POST /installs/{id}/upgrade records before it starts the state machine; the steps
    // are then run one by one, as the state machine and the watcher would.
    let store = InstallStore::new(
        aws_sdk_dynamodb::Client::new(&stack.config),
        &stack.outputs.table_name,
    );
    let install_id = byoc_domain::ids::InstallId::parse("install_id", &id).unwrap();
    let record =
        UpgradeRecord::requested(MinorVersion::parse("1.35"), false, chrono::Utc::now(), 1);
    store
        .record(
            &install_id,
            Change::new(
                Step::Request,
                Outcome::Succeeded,
                "upgrade to Kubernetes 1.35 requested",
            )
            .status(InstallStatus::Upgrading)
            .only_from(InstallStatus::Ready)
            .data(UPGRADE_KEY, record.to_value()),
        )
        .await
        .unwrap();
    let deployed = &stack.outputs.functions["upgrade-cluster"];
    let payload =
        |action: &str| json!({"install_id": id, "tenant_id": place.tenant_id, "action": action});
    run(&stack, deployed, &payload("preflight")).await.unwrap();

    // The control plane's update is still running when the next call looks.
    steer_eks(&stack, &place.account, json!({"cluster_update_polls": 3}))
        .await
        .unwrap();
    let crashing = crashing_copy(&stack, "upgrade-cluster", "update-started").await;
    crash(&stack, &crashing, &payload("advance")).await;
    let eks = eks(&stack, &place.account);
    let cluster = format!("byoc-{id}");
    let cluster_updates = || async {
        eks.list_updates()
            .name(&cluster)
            .send()
            .await
            .unwrap()
            .update_ids()
            .to_vec()
    };
    let started = cluster_updates().await;
    assert_eq!(
        started.len(),
        1,
        "the crashed call started the control plane's update"
    );

    let mut last = Value::Null;
    for _ in 0..MAX_CALLS {
        last = run(&stack, deployed, &payload("advance")).await.unwrap();
        if last["done"] == true {
            break;
        }
    }
    assert_eq!(last["done"], true, "{last}");
    assert_eq!(
        cluster_updates().await,
        started,
        "no second control plane update"
    );
    let described = eks.describe_cluster().name(&cluster).send().await.unwrap();
    assert_eq!(described.cluster().unwrap().version(), Some("1.35"));
    let install = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        install["step_data"]["upgrade"]["updates"]["control-plane@1.35"]["id"],
        started[0].as_str(),
        "the record names the update the crashed call started: {install:#}"
    );
    assert_eq!(install["step_data"]["upgrade"]["state"], "succeeded");
    let node_groups = eks
        .list_nodegroups()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    for node_group in node_groups.nodegroups() {
        let updates = eks
            .list_updates()
            .name(&cluster)
            .nodegroup_name(node_group)
            .send()
            .await
            .unwrap();
        assert_eq!(updates.update_ids().len(), 1, "{node_group}");
    }
}
