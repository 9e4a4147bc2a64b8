//! The customer holds the switch: they pause and resume the vendor's access, and allow day-2
//! changes only when they choose, by updating their access stack (cfn/customer-role.yaml's
//! `VendorAccess` and `AllowChanges`); IAM enforces both in the local stack as in AWS. Every
//! session the installer opens names the install and the operation (its source identity), as
//! the customer's CloudTrail would show it; the local stack's AssumeRole log stands in for
//! CloudTrail. A stack made from the template before the switches (version 6) installs and
//! removes as before.

use std::time::Duration;

use byoc_e2e::customer_ec2::{ec2, tagged};
use byoc_e2e::event_queue::EventQueue;
use byoc_e2e::installed::{
    finished, install_with, place, place_from, start_install, start_removal, Place,
};
use byoc_e2e::stack::OLD_CUSTOMER_TEMPLATE;
use byoc_e2e::{Api, LocalStack};
use chrono::Utc;
use serde_json::{json, Value};

use crate::trust_failures::TRUST_CHECK;
use crate::upgrade::{cluster_updates, ready_at, upgrade, versions};
use crate::version_check::{check_at, ready_at_1_33, timeline_of};

const EMAIL_WAIT: Duration = Duration::from_secs(20);
const NO_EMAIL_WAIT: Duration = Duration::from_secs(3);

async fn switch(stack: &LocalStack, place: &Place, switches: &[(&str, &str)]) {
    stack
        .customer(&place.account)
        .update_access_stack(
            &stack.outputs.vendor_account_id,
            &place.external_id,
            switches,
        )
        .await
        .unwrap();
}

/// The entries the customer's switch wrote on the install's timeline: (outcome, message).
fn switch_entries(record: &Value) -> Vec<(String, String)> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "vendor-access")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The install's record once a step has seen the pause (within 30 s).
async fn once_paused(api: &Api, id: &str) -> Value {
    let mut record = Value::Null;
    for _ in 0..120 {
        record = api.get(&format!("/installs/{id}")).await.unwrap().json;
        if record["step_data"]["vendor_access"]["status"] == "paused" {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the pause was never recorded: {record:#}");
}

async fn ready(stack: &LocalStack, api: &Api, place: &Place) -> String {
    let (id, execution, record) = install_with(stack, api, place, json!({})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    id
}

/// The AssumeRole calls into the customer role for `install_id` (by session name).
fn sessions_of(stack: &LocalStack, install_id: &str) -> Vec<Value> {
    let prefix = format!("byoc.{install_id}.");
    stack
        .assume_role_log()
        .into_iter()
        .filter(|e| {
            e["session_name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect()
}

#[tokio::test]
async fn a_pause_is_recorded_by_the_trust_check_without_an_email_and_so_is_the_resume() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "pausechk").await;
    let queue = EventQueue::for_tenant(&stack, &place.tenant_id)
        .await
        .unwrap();
    let id = ready(&stack, &api, &place).await;
    assert_eq!(place.inbox.wait_for(1, EMAIL_WAIT).await.unwrap().len(), 1);

    switch(&stack, &place, &[("VendorAccess", "paused")]).await;
    let since = Utc::now();
    let [record] = <[Value; 1]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&id], since)
            .await,
    )
    .unwrap();
    assert_eq!(record["status"], "ready", "nothing in the account changed");
    assert_eq!(record["step_data"]["vendor_access"]["status"], "paused");
    assert_eq!(
        record["step_data"]["trust_check"]["status"], "ok",
        "a paused role is not a broken one: {:#}",
        record["step_data"]
    );
    let entries = switch_entries(&record);
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0].0, "waiting");
    assert!(
        entries[0].1.contains(&format!(
            "the customer paused the vendor's access to account {}",
            place.account
        )) && entries[0].1.contains(&format!(
            "to resume, update the CloudFormation stack \"{}\" in us-east-1 (Update, \"Use existing template\") with VendorAccess set to enabled",
            stack.outputs.customer_stack_name
        )),
        "{}",
        entries[0].1
    );
    assert!(
        place
            .inbox
            .wait_for(1, NO_EMAIL_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "the customer paused on purpose: no email"
    );

    switch(&stack, &place, &[("VendorAccess", "enabled")]).await;
    let since = Utc::now();
    let [record] = <[Value; 1]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&id], since)
            .await,
    )
    .unwrap();
    assert_eq!(record["step_data"]["vendor_access"]["status"], "enabled");
    let entries = switch_entries(&record);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[1].0, "succeeded");
    assert!(
        entries[1].1.starts_with(&format!(
            "the customer resumed the vendor's access to account {} (paused since ",
            place.account
        )),
        "{}",
        entries[1].1
    );

    let count = record["timeline"].as_array().unwrap().len();
    let events = queue
        .wait_for(&id, count, Duration::from_secs(30))
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    let paused = kinds.iter().position(|k| *k == "Access Paused");
    let resumed = kinds.iter().position(|k| *k == "Access Resumed");
    assert!(
        paused.is_some() && paused < resumed,
        "one of each, in order: {kinds:?}"
    );
    assert!(place
        .inbox
        .wait_for(1, NO_EMAIL_WAIT)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_removal_while_access_is_paused_waits_says_why_and_finishes_once_resumed() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "pauserm").await;
    let id = ready(&stack, &api, &place).await;
    let customer_ec2 = ec2(&stack, &place.account);
    let made = tagged(&customer_ec2, &id, false).await.unwrap();
    assert!(!made.vpcs.is_empty());

    switch(&stack, &place, &[("VendorAccess", "paused")]).await;
    let removing = start_removal(&api, &id).await;
    let record = once_paused(&api, &id).await;
    assert_eq!(
        record["status"], "removing",
        "waiting, not failed: {record:#}"
    );
    let entries = switch_entries(&record);
    assert!(
        entries.len() == 1 && entries[0].1.contains("removals there wait"),
        "{entries:#?}"
    );
    // The pause refuses everything: the sweep deleted nothing, the network is all there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = tagged(&customer_ec2, &id, false).await.unwrap();
    assert_eq!(still.ids(), made.ids(), "nothing removed while paused");

    switch(&stack, &place, &[]).await; // the defaults: VendorAccess enabled
    let (execution, record) = finished(&stack, &api, &id, &removing).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{record:#}"
    );
    assert_nothing_left(&stack, &place.account, &id).await;
    let entries = switch_entries(&record);
    assert_eq!(
        entries.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["waiting", "succeeded"],
        "{entries:#?}"
    );

    // Every session for this install named it and what it was for.
    let sessions = sessions_of(&stack, &id);
    let allowed: Vec<&Value> = sessions.iter().filter(|e| e["allowed"] == true).collect();
    assert!(!allowed.is_empty());
    for entry in &allowed {
        assert_eq!(entry["source_identity"], entry["session_name"], "{entry}");
        assert!(entry["role"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":role/byoc/{}", stack.outputs.customer_role_name)));
    }
    let operations: std::collections::BTreeSet<&str> = allowed
        .iter()
        .filter_map(|e| e["source_identity"].as_str()?.rsplit('.').next())
        .collect();
    assert!(
        operations.contains("install") && operations.contains("uninstall"),
        "{operations:?}"
    );
    assert!(
        sessions.iter().all(|e| e["allowed"] == true),
        "a version-7 stack never refuses the source identity: {sessions:#?}"
    );
}

/// Nothing of the install is left in the account (a deleted NAT gateway stays listed for a
/// while, as in AWS, in state `deleted`).
async fn assert_nothing_left(stack: &LocalStack, account: &str, id: &str) {
    let left = tagged(&ec2(stack, account), id, true).await.unwrap();
    assert!(
        left.vpcs.is_empty()
            && left.subnets.is_empty()
            && left.addresses.is_empty()
            && left.route_tables.is_empty()
            && left.internet_gateways.is_empty()
            && left
                .nat_gateways
                .iter()
                .all(|n| n.state().map(|s| s.as_str()) == Some("deleted")),
        "{left:#?}"
    );
}

#[tokio::test]
async fn an_install_into_a_paused_account_waits_at_the_access_check_and_goes_on_once_resumed() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "pauseinst").await;
    switch(&stack, &place, &[("VendorAccess", "paused")]).await;
    let accepted = start_install(&api, &place, json!({})).await;
    let id = accepted.json["install_id"].as_str().unwrap().to_owned();
    let record = once_paused(&api, &id).await;
    assert_eq!(
        record["status"], "running",
        "waiting, not failed: {record:#}"
    );
    assert_eq!(
        record["last_error"],
        Value::Null,
        "a pause is not broken trust: {record:#}"
    );
    assert!(
        tagged(&ec2(&stack, &place.account), &id, false)
            .await
            .unwrap()
            .is_empty(),
        "nothing is built while paused"
    );

    switch(&stack, &place, &[("VendorAccess", "enabled")]).await;
    let (execution, record) = finished(&stack, &api, &id, &accepted).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    assert_eq!(
        switch_entries(&record)
            .iter()
            .map(|e| e.0.as_str())
            .collect::<Vec<_>>(),
        ["waiting", "succeeded"]
    );
}

fn last_error(record: &Value) -> (&str, &str) {
    (
        record["last_error"]["code"].as_str().unwrap_or_default(),
        record["last_error"]["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn upgrades_go_ahead_only_while_the_customer_allows_changes() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, id) = ready_at(&stack, &api, "allowchg", "1.34").await;

    switch(&stack, &place, &[("AllowChanges", "no")]).await;
    let (execution, record) = upgrade(&stack, &api, &id, json!({})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("FAILED", Some("ready")),
        "{record:#}"
    );
    let (code, message) = last_error(&record);
    assert_eq!(code, "UpgradeBlocked", "{record:#}");
    assert!(
        message.contains("nothing was changed")
            && message.contains("AllowChanges: no")
            && message.contains(&format!(
                "update the CloudFormation stack \"{}\" in us-east-1",
                stack.outputs.customer_stack_name
            ))
            && message
                .contains("with AllowChanges set to yes, or a UTC time after the upgrade is done"),
        "{message}"
    );
    assert_eq!(cluster_updates(&stack, &place.account, &id).await, 0);
    let emails = place.inbox.wait_for(2, EMAIL_WAIT).await.unwrap();
    let stopped = emails
        .iter()
        .find(|e| e.subject.starts_with("Action needed: upgrading"))
        .unwrap_or_else(|| panic!("{emails:?}"));
    assert!(stopped.body.contains("AllowChanges"), "{}", stopped.body);

    let ended = (Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    switch(&stack, &place, &[("AllowChanges", &ended)]).await;
    let (execution, record) = upgrade(&stack, &api, &id, json!({})).await;
    assert_eq!(execution, "FAILED", "{record:#}");
    let (code, message) = last_error(&record);
    assert!(
        code == "UpgradeBlocked"
            && message.contains(&format!("until {ended}"))
            && message.contains("which has passed"),
        "{message}"
    );
    assert_eq!(cluster_updates(&stack, &place.account, &id).await, 0);

    let until = (Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    switch(&stack, &place, &[("AllowChanges", &until)]).await;
    let (execution, record) = upgrade(&stack, &api, &id, json!({})).await;
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
    assert!(
        sessions_of(&stack, &id)
            .iter()
            .any(|e| e["allowed"] == true && e["source_identity"] == format!("byoc.{id}.upgrade")),
        "the upgrade's sessions say so"
    );
}

#[tokio::test]
async fn an_automatic_upgrade_the_customer_does_not_allow_does_not_start_and_the_notice_says_why() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    // Mondays 02:00-05:00 UTC; 2026-07-06 is a Monday, 23 days before 1.33's end.
    let window = json!({"weekday": "monday", "start_hour_utc": 2, "duration_hours": 3});
    let (place, _queue, id) = ready_at_1_33(
        &stack,
        &api,
        "autonochg",
        json!({"auto_upgrade": true, "maintenance_window": window}),
    )
    .await;
    switch(&stack, &place, &[("AllowChanges", "no")]).await;

    let inside = check_at(&stack, &id, "2026-07-06T03:00:00Z").await;
    assert_eq!(inside["checked"][0]["notice"], 30, "{inside:#}");
    assert_eq!(inside["checked"][0].get("upgrade_to"), None, "{inside:#}");
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(record["status"], "ready", "nothing started: {record:#}");
    assert_eq!(record["resources"]["kubernetes_version"], "1.33");
    let said = timeline_of(&record, "version-check").join("\n");
    assert!(
        said.contains("an automatic upgrade to Kubernetes 1.35 is due, but the customer does not allow changes now"),
        "{said}"
    );
    let emails = place.inbox.wait_for(2, EMAIL_WAIT).await.unwrap();
    let notice = emails
        .iter()
        .find(|e| {
            e.attributes
                .iter()
                .any(|a| a == "notice=version-support-30")
        })
        .unwrap_or_else(|| panic!("{emails:?}"));
    assert!(
        notice
            .body
            .contains("does not allow changes now (its AllowChanges parameter)"),
        "{}",
        notice.body
    );
}

#[tokio::test]
async fn a_stack_from_before_the_switches_installs_and_removes_as_before() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place_from(&stack, &api, "oldstack", OLD_CUSTOMER_TEMPLATE).await;
    let id = ready(&stack, &api, &place).await;
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        record["resources"]["customer_stack_version"], "6",
        "{:#}",
        record["resources"]
    );
    assert_eq!(
        record["step_data"]["vendor_access"],
        Value::Null,
        "nothing to say"
    );

    let (execution, record) = byoc_e2e::installed::remove(&stack, &api, &id).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{record:#}"
    );
    assert_nothing_left(&stack, &place.account, &id).await;
    // Its trust policy does not allow sts:SetSourceIdentity: each session is refused with a
    // source identity, then opened without one, named by its session name only.
    let sessions = sessions_of(&stack, &id);
    assert!(
        sessions
            .iter()
            .any(|e| e["allowed"] == false && e["source_identity"].is_string()),
        "{sessions:#?}"
    );
    let allowed: Vec<&Value> = sessions.iter().filter(|e| e["allowed"] == true).collect();
    assert!(!allowed.is_empty());
    assert!(
        allowed.iter().all(|e| e["source_identity"].is_null()),
        "{allowed:#?}"
    );
}
