//! The scheduled sweep, invoked through the Lambda Invoke API with the event an EventBridge
//! schedule sends: what appears in a removed install's account later (a volume the CSI driver
//! made during teardown, an address with the install's tag) is removed and shown on
//! `GET /installs/{id}`; a failed install kept for inspection is reported with its monthly
//! cost and left alone; a tenant whose access stack is gone is reported while the other
//! installs are still swept.
//!
//! Every run walks every removed and failed install in the table (a bounded number per run,
//! carrying on where the last stopped), so the tests invoke it until their installs have been
//! checked after the moment that matters to them.

use std::time::Duration;

use aws_sdk_ec2::types::{DomainType, ResourceType, Tag, TagSpecification};
use byoc_e2e::customer_ec2::{ec2, tagged};
use byoc_e2e::customer_eks::steer_eks;
use byoc_e2e::customer_sweep::{csi_volume_tags, still_there, Account, INSTALL_TAG, TENANT_TAG};
use byoc_e2e::installed::{install_with, place, remove, Place};
use byoc_e2e::scheduled::ScheduledJob;
use byoc_e2e::{Api, LocalStack};
use chrono::Utc;
use serde_json::{json, Value};

/// The scheduled sweep, as its EventBridge schedule runs it.
pub(crate) const SCHEDULED_SWEEP: ScheduledJob = ScheduledJob {
    function: "sweep-dangling",
    rule: "byoc-sweep-dangling",
    record_key: "scheduled_sweep",
    max_runs: 15,
};

fn sweep_events(record: &Value) -> Vec<String> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "sweep-dangling")
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

fn found<'a>(findings: &'a Value, kind: &str, id: &str) -> &'a Value {
    findings["found"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["id"] == id)
        .unwrap_or_else(|| panic!("{kind} {id} not found: {findings:#}"))
}

/// An Elastic IP carrying the install's (and its tenant's) tag, as one of our steps makes it.
async fn tagged_address(stack: &LocalStack, place: &Place, install_id: &str) -> String {
    let tags = [
        (INSTALL_TAG, install_id),
        (TENANT_TAG, place.tenant_id.as_str()),
    ]
    .map(|(k, v)| Tag::builder().key(k).value(v).build());
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::ElasticIp)
        .set_tags(Some(tags.to_vec()))
        .build();
    let address = ec2(stack, &place.account)
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(spec)
        .send()
        .await
        .unwrap();
    address.allocation_id().unwrap().to_owned()
}

#[tokio::test]
async fn what_appears_after_a_removal_is_swept_on_schedule_and_shown_on_the_install() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "later").await;
    let (id, execution, _) = install_with(&stack, &api, &place, json!({})).await;
    assert_eq!(execution, "SUCCEEDED");
    let account = Account::new(&stack, &place.account);
    let cluster = format!("byoc-{id}");
    // The CSI driver's tags for a claim, as its add-on is configured (the cluster goes with the
    // removal; a volume it was still provisioning turns up afterwards).
    let volume_tags = csi_volume_tags(&account, &cluster, "data-late-0")
        .await
        .unwrap();
    assert!(
        volume_tags.contains(&(INSTALL_TAG.to_owned(), id.clone())),
        "{volume_tags:?}"
    );

    let (execution, record) = remove(&stack, &api, &id).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed"))
    );
    let events_before = sweep_events(&record).len();

    let pairs: Vec<(&str, &str)> = volume_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::Volume)
        .set_tags(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build();
    let volume = account
        .ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(10)
        .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
        .tag_specifications(spec)
        .send()
        .await
        .unwrap();
    let volume = volume.volume_id().unwrap().to_owned();
    let address = tagged_address(&stack, &place, &id).await;
    let leftovers = vec![("volume", volume.clone()), ("elastic-ip", address.clone())];
    let appeared = Utc::now();

    let [record] = <[Value; 1]>::try_from(
        SCHEDULED_SWEEP
            .run_until_checked(&stack, &api, &[&id], appeared)
            .await,
    )
    .unwrap();
    assert!(
        still_there(&account, &cluster, &leftovers)
            .await
            .unwrap()
            .is_empty(),
        "the schedule removed them"
    );
    assert_eq!(record["status"], "removed", "a check changes no status");
    let findings = &record["step_data"]["scheduled_sweep"];
    assert_eq!(
        (
            findings["install_status"].as_str(),
            findings["action"].as_str(),
            &findings["access"]
        ),
        (Some("removed"), Some("delete"), &json!({"state": "ok"})),
        "{findings:#}"
    );
    // One pass may find it in an earlier run than the one that deleted the last of it: the
    // latest findings, or a timeline event, say what became of both.
    let events = sweep_events(&record);
    let news: Vec<&String> = events[events_before..]
        .iter()
        .filter(|m| m.starts_with("scheduled check found"))
        .collect();
    assert!(!news.is_empty(), "the timeline heard of it: {events:#?}");
    assert!(
        news.iter().any(|m| m.contains("volume")) && news.iter().any(|m| m.contains("elastic-ip")),
        "{news:#?}"
    );
    if !findings["found"].as_array().unwrap().is_empty() {
        assert_eq!(
            found(findings, "volume", &volume)["reason"],
            "tagged byoc:install-id",
            "found by the tag the add-on gave it"
        );
        assert_eq!(found(findings, "volume", &volume)["monthly_cost_usd"], 0.8);
        assert_eq!(
            found(findings, "elastic-ip", &address)["monthly_cost_usd"],
            3.65
        );
        let deleted: Vec<&str> = findings["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["id"].as_str())
            .collect();
        assert!(
            deleted.contains(&volume.as_str()) && deleted.contains(&address.as_str()),
            "{findings:#}"
        );
    }
    assert_eq!(
        (
            findings["remaining"].as_u64(),
            findings["monthly_cost_usd"].as_f64()
        ),
        (Some(0), Some(0.0)),
        "{findings:#}"
    );

    // Checked again with nothing there: recorded, but the timeline hears nothing new.
    let quiet_since = Utc::now();
    let [again] = <[Value; 1]>::try_from(
        SCHEDULED_SWEEP
            .run_until_checked(&stack, &api, &[&id], quiet_since)
            .await,
    )
    .unwrap();
    assert_eq!(again["step_data"]["scheduled_sweep"]["found"], json!([]));
    assert_eq!(
        sweep_events(&again),
        sweep_events(&record),
        "no news, no event"
    );
}

#[tokio::test]
async fn a_failed_install_kept_for_inspection_is_reported_with_its_cost_and_left_alone() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "kept").await;
    steer_eks(&stack, &place.account, json!({"cluster_fail": "Simulated: the control plane could not be created", "cluster_fail_code": "ClusterUnreachable"})).await.unwrap();
    let (id, execution, record) =
        install_with(&stack, &api, &place, json!({"keep_failed_resources": true})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("FAILED", Some("failed")),
        "{record:#}"
    );
    let ec2 = ec2(&stack, &place.account);
    let kept = tagged(&ec2, &id, true).await.unwrap();
    let since = Utc::now();

    let [record] = <[Value; 1]>::try_from(
        SCHEDULED_SWEEP
            .run_until_checked(&stack, &api, &[&id], since)
            .await,
    )
    .unwrap();
    let findings = &record["step_data"]["scheduled_sweep"];
    assert_eq!(
        (
            findings["install_status"].as_str(),
            findings["action"].as_str()
        ),
        (Some("failed"), Some("report")),
        "{findings:#}"
    );
    assert_eq!(findings["deleted"], json!([]));
    let vpc = kept.vpcs[0].vpc_id().unwrap();
    assert_eq!(
        found(findings, "vpc", vpc)["reason"],
        "tagged byoc:install-id"
    );
    let nats: Vec<&Value> = findings["found"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "nat-gateway")
        .collect();
    assert!(
        !nats.is_empty() && nats.iter().all(|n| n["monthly_cost_usd"] == 32.85),
        "{findings:#}"
    );
    // At least the NAT gateways and their addresses: 3 × (32.85 + 3.65).
    let cost = findings["monthly_cost_usd"].as_f64().unwrap();
    assert!(cost >= 36.5 * nats.len() as f64, "{cost}: {findings:#}");
    assert_eq!(
        findings["remaining"].as_u64(),
        Some(findings["found"].as_array().unwrap().len() as u64)
    );
    let events = sweep_events(&record);
    let report = events
        .iter()
        .find(|m| m.starts_with("scheduled check:") && m.contains("kept for inspection"))
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert!(
        report.contains(&format!("cost about ${cost:.2} a month")),
        "{report}"
    );

    // Nothing was deleted; checking again says nothing new.
    let still = tagged(&ec2, &id, true).await.unwrap();
    assert_eq!(
        (
            still.vpcs.len(),
            still.subnets.len(),
            still.nat_gateways.len()
        ),
        (kept.vpcs.len(), kept.subnets.len(), kept.nat_gateways.len())
    );
    let [again] = <[Value; 1]>::try_from(
        SCHEDULED_SWEEP
            .run_until_checked(&stack, &api, &[&id], Utc::now())
            .await,
    )
    .unwrap();
    assert_eq!(
        sweep_events(&again),
        events,
        "the same resources again: no new event"
    );
    assert_eq!(again["status"], "failed");
}

#[tokio::test]
async fn a_tenant_whose_access_stack_is_gone_is_reported_and_the_others_are_still_swept() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (gone, staying) = (
        place(&stack, &api, "gone").await,
        place(&stack, &api, "staying").await,
    );
    let mut ids = vec![];
    for place in [&gone, &staying] {
        steer_eks(
            &stack,
            &place.account,
            json!({"cluster_fail": "Simulated: the control plane could not be created"}),
        )
        .await
        .unwrap();
        let (id, execution, record) = install_with(&stack, &api, place, json!({})).await;
        assert_eq!(
            (execution.as_str(), record["status"].as_str()),
            ("FAILED", Some("failed")),
            "{record:#}"
        );
        ids.push(id);
    }
    // One customer deletes the access stack; the other's account gets a leftover later.
    let customer = stack.customer(&gone.account);
    customer
        .cloudformation()
        .delete_stack()
        .stack_name(&stack.outputs.customer_stack_name)
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        if customer
            .iam()
            .get_role()
            .role_name(&stack.outputs.customer_role_name)
            .send()
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        customer
            .iam()
            .get_role()
            .role_name(&stack.outputs.customer_role_name)
            .send()
            .await
            .is_err(),
        "the role went with its stack"
    );
    let account = Account::new(&stack, &staying.account);
    let address = tagged_address(&stack, &staying, &ids[1]).await;
    let since = Utc::now();

    let records = SCHEDULED_SWEEP
        .run_until_checked(&stack, &api, &[&ids[0], &ids[1]], since)
        .await;
    let lost = &records[0]["step_data"]["scheduled_sweep"];
    assert_eq!(lost["access"]["state"], "lost", "{lost:#}");
    assert!(
        lost["access"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("arn:aws:iam::{}:role/byoc/", gone.account)),
        "{lost:#}"
    );
    let events = sweep_events(&records[0]);
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("scheduled check: could not assume")),
        "{events:#?}"
    );
    assert_eq!(records[0]["status"], "failed");

    let swept = &records[1]["step_data"]["scheduled_sweep"];
    assert_eq!(
        (
            swept["access"]["state"].as_str(),
            swept["remaining"].as_u64()
        ),
        (Some("ok"), Some(0)),
        "{swept:#}"
    );
    assert!(
        still_there(&account, "", &[("elastic-ip", address.clone())])
            .await
            .unwrap()
            .is_empty(),
        "the other tenant's leftover was swept"
    );
    assert!(
        sweep_events(&records[1])
            .iter()
            .any(|m| m.starts_with("scheduled check found 1 resources")
                && m.contains("1 elastic-ip")),
        "{:#?}",
        sweep_events(&records[1])
    );

    // Still lost on the next check: said once.
    let again = SCHEDULED_SWEEP
        .run_until_checked(&stack, &api, &[&ids[0]], Utc::now())
        .await;
    assert_eq!(
        sweep_events(&again[0]),
        events,
        "no second event for the same lost access"
    );
}
