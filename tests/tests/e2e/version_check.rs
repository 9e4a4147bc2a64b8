//! The scheduled version check on the local stack, run as its EventBridge schedule runs it
//! (a Scheduled Event through the Lambda Invoke API), at the moments a test chooses: the
//! event's `time` is the moment the run judges dates by, and its `detail.install_ids` keeps the
//! run to this test's install (other tests' installs are judged at the real time by the
//! hourly schedule, never at this test's). Each test checks what the customer received, what
//! the vendor's bus received, the install's record and timeline, and what EKS shows.
//!
//! Kubernetes 1.33's standard support ends on 2026-07-29 (the emulator's calendar, from the
//! EKS User Guide); the account's EKS clock is pinned to 2026-06-01, when 1.33, 1.34 and 1.35
//! are all in standard support.

use std::time::{Duration, Instant};

use byoc_e2e::customer_eks::{eks, pin_calendar};
use byoc_e2e::event_queue::EventQueue;
use byoc_e2e::installed::{install_with, place, Place};
use byoc_e2e::invoke::invoke;
use byoc_e2e::{Api, LocalStack, ReceivedEmail};
use serde_json::{json, Value};

const CALENDAR_DAY: &str = "2026-06-01T00:00:00Z";

pub(crate) async fn ready_at_1_33(
    stack: &LocalStack,
    api: &Api,
    prefix: &str,
    options: Value,
) -> (Place, EventQueue, String) {
    let place = place(stack, api, prefix).await;
    // Room for the node group's surge, should an automatic upgrade roll it.
    pin_calendar(stack, &place.account, CALENDAR_DAY, Some(16))
        .await
        .unwrap();
    let queue = EventQueue::for_tenant(stack, &place.tenant_id)
        .await
        .unwrap();
    let mut options = options;
    options["kubernetes_version"] = json!("1.33");
    let (id, execution, record) = install_with(stack, api, &place, options).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    (place, queue, id)
}

/// One run of the version check for `id`, as if its schedule fired at `time`: its report.
pub(crate) async fn check_at(stack: &LocalStack, id: &str, time: &str) -> Value {
    let account = &stack.outputs.vendor_account_id;
    let event = json!({
        "version": "0", "id": "5b0c3f1e-8a2d-4c6b-9e7f-1a2b3c4d5e6f", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": account, "time": time, "region": stack.outputs.region,
        "resources": [format!("arn:aws:events:{}:{account}:rule/byoc-version-check", stack.outputs.region)],
        "detail": {"install_ids": [id]}
    });
    for _ in 0..40 {
        let report = invoke(stack, "upgrade-cluster", &event)
            .await
            .unwrap_or_else(|e| panic!("the version check failed: {e:?}"));
        if report["busy"] != true {
            return report;
        }
        // The hourly run (or another test's) holds the job for a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the version check stayed busy");
}

fn version_emails(emails: &[ReceivedEmail]) -> Vec<&ReceivedEmail> {
    emails
        .iter()
        .filter(|e| {
            e.attributes
                .iter()
                .any(|a| a.starts_with("notice=version-support-"))
        })
        .collect()
}

pub(crate) fn timeline_of(record: &Value, step: &str) -> Vec<String> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == step)
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_customer_hears_60_and_7_days_before_standard_support_ends_and_when_it_has_each_once() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, queue, id) = ready_at_1_33(&stack, &api, "version-notices", json!({})).await;

    let early = check_at(&stack, &id, "2026-05-20T10:00:00Z").await;
    assert_eq!(early["checked"], json!([]), "70 days left: nothing due");
    let sixty = check_at(&stack, &id, "2026-05-30T10:00:00Z").await;
    assert_eq!(sixty["checked"][0]["notice"], 60, "{sixty:#}");
    let again = check_at(&stack, &id, "2026-05-31T10:00:00Z").await;
    assert_eq!(again["checked"], json!([]), "the 60-day notice goes once");
    // Never checked at 30 days (the schedule was off, say): one email, the most urgent.
    let five = check_at(&stack, &id, "2026-07-24T10:00:00Z").await;
    assert_eq!(five["checked"][0]["notice"], 7, "{five:#}");
    let ended = check_at(&stack, &id, "2026-07-30T10:00:00Z").await;
    assert_eq!(ended["checked"][0]["notice"], 0, "{ended:#}");

    let emails = place
        .inbox
        .wait_for(5, Duration::from_secs(20))
        .await
        .unwrap();
    let sent = version_emails(&emails);
    let subjects: Vec<&str> = sent.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(sent.len(), 3, "{subjects:#?}");
    assert!(subjects[0].contains("Kubernetes 1.33") && subjects[0].contains("ends in 60 days"));
    assert!(subjects[1].contains("ends in 5 days"), "{subjects:?}");
    assert!(subjects[2].contains("has ended"), "{subjects:?}");
    let body = &sent[0].body;
    assert!(body.contains("ends on 2026-07-29, in 60 days"), "{body}");
    assert!(
        body.contains("AWS upgrades the cluster's control plane"),
        "the policy is STANDARD, as the installer creates clusters: {body}"
    );
    assert!(body.contains(&id), "{body}");

    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(record["status"], "ready");
    let check = &record["step_data"]["version_check"];
    assert_eq!(
        (
            &check["version"],
            &check["end_of_standard_support"],
            &check["notified"]
        ),
        (&json!("1.33"), &json!("2026-07-29"), &json!([60, 30, 7, 0])),
        "{check:#}"
    );
    let said = timeline_of(&record, "version-check");
    assert_eq!(said.len(), 3, "{said:#?}");
    assert!(
        said[0].contains("ends on 2026-07-29 (60 days)")
            && said[0].contains("support policy STANDARD")
    );
    assert!(said[2].contains("ended on 2026-07-29"), "{said:#?}");

    // The vendor's bus: one "Version Support Ending" per notice.
    let seq_of_last = record["timeline"].as_array().unwrap().len();
    let events = queue
        .wait_for(&id, seq_of_last, Duration::from_secs(30))
        .await
        .unwrap();
    let ending: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "Version Support Ending")
        .collect();
    assert_eq!(ending.len(), 3, "{events:#?}");
    assert_eq!(ending[0]["detail"]["step"], "version-check");
    assert_eq!(ending[0]["detail"]["status"], Value::Null);
}

#[tokio::test]
async fn auto_upgrade_waits_for_its_maintenance_window_then_upgrades_to_the_newest_standard_version(
) {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    // Without a window, auto_upgrade is refused, naming the field; nothing is recorded.
    let place_for_refusal = place(&stack, &api, "version-refused").await;
    let refused = api
        .post(
            "/installs",
            &json!({"tenant_id": place_for_refusal.tenant_id, "account_id": place_for_refusal.account,
                    "region": "us-east-1", "options": {"auto_upgrade": true}}),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("options.maintenance_window"),
        "{}",
        refused.text
    );
    let listed = api
        .get(&format!(
            "/tenants/{}/installs",
            place_for_refusal.tenant_id
        ))
        .await
        .unwrap();
    assert_eq!(listed.json["installs"], json!([]), "{}", listed.text);

    // Mondays 02:00-05:00 UTC. 2026-06-29 is a Monday, 30 days before 1.33's end.
    let window = json!({"weekday": "monday", "start_hour_utc": 2, "duration_hours": 3});
    let (place, _queue, id) = ready_at_1_33(
        &stack,
        &api,
        "version-auto",
        json!({"auto_upgrade": true, "maintenance_window": window}),
    )
    .await;
    let outside = check_at(&stack, &id, "2026-06-29T06:00:00Z").await;
    assert_eq!(outside["checked"][0]["notice"], 30, "{outside:#}");
    assert_eq!(outside["checked"][0].get("upgrade_to"), None, "{outside:#}");
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        record["status"], "ready",
        "outside the window nothing starts"
    );
    let said = timeline_of(&record, "version-check").join("\n");
    assert!(
        said.contains("maintenance window opening 2026-07-06 02:00 UTC"),
        "{said}"
    );

    let inside = check_at(&stack, &id, "2026-07-06T03:00:00Z").await;
    assert_eq!(inside["checked"][0]["upgrade_to"], "1.35", "{inside:#}");
    assert_eq!(
        inside["checked"][0].get("notice"),
        None,
        "the 30-day notice went already; 7 days are not reached"
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    let record = loop {
        let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
        if record["status"] != "upgrading" || Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(record["status"], "ready", "{record:#}");
    assert_eq!(
        record["step_data"]["upgrade"]["state"], "succeeded",
        "{record:#}"
    );
    assert_eq!(record["resources"]["kubernetes_version"], "1.35");
    let requests = timeline_of(&record, "request").join("\n");
    assert!(
        requests.contains(
            "automatic upgrade to Kubernetes 1.35 in the maintenance window (Mondays 02:00 UTC for 3 hours)"
        ),
        "{requests}"
    );
    let cluster = eks(&stack, &place.account)
        .describe_cluster()
        .name(format!("byoc-{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cluster.cluster().unwrap().version(), Some("1.35"));

    let emails = place
        .inbox
        .wait_for(4, Duration::from_secs(20))
        .await
        .unwrap();
    let notices: Vec<String> = emails
        .iter()
        .flat_map(|e| e.attributes.iter())
        .filter_map(|a| a.strip_prefix("notice=").map(str::to_owned))
        .collect();
    for notice in ["version-support-30", "upgrade-started", "upgraded"] {
        assert!(notices.iter().any(|n| n == notice), "{notice}: {notices:?}");
    }
    // Upgraded: nothing is due at the same moment any more.
    let after = check_at(&stack, &id, "2026-07-06T04:00:00Z").await;
    assert_eq!(after["checked"], json!([]), "{after:#}");
}
