//! Install events as a vendor receives them (docs/events.md): every timeline entry of an install
//! on the vendor's EventBridge bus (read through an SQS queue that a rule targets, as a vendor
//! would consume them), and on the tenant's webhook, signed with the secret the API handed out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use byoc_e2e::event_queue::EventQueue;
use byoc_e2e::webhook_receiver::{ReceivedRequest, WebhookReceiver};
use byoc_e2e::{random_account_id, random_tenant_id, Api, LocalStack};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const EXECUTION_TIMEOUT: Duration = Duration::from_secs(120);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// A public address, never sent to: registration resolves names (and the test machine may
/// have no DNS), so the tests that only register use an address.
const PUBLIC_HOOK: &str = "https://93.184.215.14";

async fn setup() -> (LocalStack, Api) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    (stack, api)
}

/// A new tenant; its External ID.
async fn create_tenant(api: &Api, tenant_id: &str) -> String {
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Events Co", "email": "ops@events.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["external_id"].as_str().unwrap().to_owned()
}

/// Starts an install (small enough to need no quota increase), waits for its execution, and
/// returns the execution's status and the install as `GET /installs/{id}` shows it.
async fn install(stack: &LocalStack, api: &Api, tenant_id: &str, account: &str) -> (String, Value) {
    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1", "options": {"node_desired_size": 2, "node_max_size": 2}});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let status = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();
    (
        status,
        show(api, accepted.json["install_id"].as_str().unwrap()).await,
    )
}

async fn show(api: &Api, install_id: &str) -> Value {
    let shown = api.get(&format!("/installs/{install_id}")).await.unwrap();
    assert_eq!(shown.status, 200, "{}", shown.text);
    shown.json
}

fn entries(install: &Value) -> Vec<Value> {
    install["timeline"].as_array().unwrap().clone()
}

fn detail_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect()
}

/// Each event is its timeline entry, whole and in order: seq 1..n with no gap.
fn assert_events_match_the_timeline(events: &[Value], install: &Value) {
    let timeline = entries(install);
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["detail"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=timeline.len() as u64).collect::<Vec<_>>(),
        "every entry once, no gap"
    );
    for (event, entry) in events.iter().zip(&timeline) {
        assert_eq!(event["source"], "byoc.install");
        let detail = &event["detail"];
        assert_eq!(detail["schema_version"], 1);
        for field in ["install_id", "tenant_id", "account_id", "region"] {
            assert_eq!(detail[field], install[field], "{field}");
        }
        for field in ["seq", "step", "outcome", "message", "at"] {
            assert_eq!(
                detail[field], entry[field],
                "{field} of seq {}",
                entry["seq"]
            );
        }
        assert_eq!(
            detail["status"],
            entry.get("status").cloned().unwrap_or(Value::Null)
        );
        let at = entry["at"].as_str().unwrap();
        assert!(
            event["time"].as_str().unwrap().starts_with(&at[..19]),
            "time {} vs at {at}",
            event["time"]
        );
    }
}

#[tokio::test]
async fn every_entry_of_a_full_install_reaches_the_vendors_bus_in_order() {
    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("events");
    let external_id = create_tenant(&api, &tenant_id).await;
    let queue = EventQueue::for_tenant(&stack, &tenant_id).await.unwrap();
    let account = random_account_id();
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();

    let (execution, install) = install(&stack, &api, &tenant_id, &account).await;
    assert_eq!(execution, "SUCCEEDED");
    let install_id = install["install_id"].as_str().unwrap();
    let timeline = entries(&install);
    let events = queue
        .wait_for(install_id, timeline.len(), DELIVERY_TIMEOUT)
        .await
        .unwrap();
    assert_events_match_the_timeline(&events, &install);
    assert_eq!(
        queue.repeats(install_id),
        0,
        "no event twice when nothing failed"
    );

    let kinds = detail_types(&events);
    assert_eq!(kinds[0], "Install Started");
    let ready: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == "Install Ready")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(ready.len(), 1, "{kinds:?}");
    assert_eq!(events[ready[0]]["detail"]["status"], "ready");
    assert!(
        events[ready[0] + 1..]
            .iter()
            .all(|e| e["detail"]["step"] == "notify"),
        "only the email follows readiness: {kinds:?}"
    );
    for (event, kind) in events.iter().zip(&kinds) {
        let outcome = event["detail"]["outcome"].as_str().unwrap();
        let expected = match (event["detail"]["status"].as_str(), outcome) {
            (Some("pending"), _) => "Install Started",
            (Some("ready"), _) => "Install Ready",
            (_, "started") => "Step Started",
            (_, "succeeded") => "Step Succeeded",
            (_, "progress" | "waiting") => "Step Progress",
            other => panic!("a ready install has no {other:?} entry"),
        };
        assert_eq!(*kind, expected, "seq {}", event["detail"]["seq"]);
    }
    let everything = serde_json::to_string(&events).unwrap();
    assert!(
        !everything.contains(&external_id),
        "the External ID is in an event"
    );
}

fn signature(secret: &str, request: &ReceivedRequest) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(request.header("byoc-timestamp").as_bytes());
    mac.update(b".");
    mac.update(request.body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn delivered(requests: &[ReceivedRequest]) -> Vec<&ReceivedRequest> {
    requests.iter().filter(|r| r.answered == 200).collect()
}

#[tokio::test]
async fn a_failed_install_says_the_customer_must_act_on_the_bus_and_the_signed_webhook() {
    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("hooks");
    let external_id = create_tenant(&api, &tenant_id).await;
    let queue = EventQueue::for_tenant(&stack, &tenant_id).await.unwrap();
    // The receiver answers 500 to the first delivery: that one must be retried.
    let receiver = WebhookReceiver::start(&stack, 1).await.unwrap();
    let registered = api
        .send(
            "PUT",
            &format!("/tenants/{tenant_id}/webhook"),
            Some(json!({"url": receiver.url}).to_string()),
            true,
        )
        .await
        .unwrap();
    assert_eq!(registered.status, 200, "{}", registered.text);
    let secret = registered.json["secret"].as_str().unwrap().to_owned();

    // No access stack in the customer's account: the install waits for it, then fails.
    let (execution, install) = install(&stack, &api, &tenant_id, &random_account_id()).await;
    assert_eq!(execution, "FAILED");
    let install_id = install["install_id"].as_str().unwrap().to_owned();
    let count = entries(&install).len();

    let events = queue
        .wait_for(&install_id, count, DELIVERY_TIMEOUT)
        .await
        .unwrap();
    assert_events_match_the_timeline(&events, &install);
    let kinds = detail_types(&events);
    let action = kinds
        .iter()
        .position(|k| *k == "Action Needed")
        .unwrap_or_else(|| panic!("no Action Needed in {kinds:?}"));
    assert_eq!(events[action]["detail"]["step"], "validate-trust");
    assert!(
        events[action]["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("CloudFormation stack"),
        "{}",
        events[action]["detail"]["message"]
    );
    let failed = kinds
        .iter()
        .position(|k| *k == "Install Failed")
        .unwrap_or_else(|| panic!("no Install Failed in {kinds:?}"));
    assert!(action < failed);
    assert_eq!(events[failed]["detail"]["status"], "failed");

    // The webhook got every event, in order, each signed with the secret the API returned.
    let requests = receiver
        .wait_for(DELIVERY_TIMEOUT, |r| delivered(r).len() >= count)
        .await
        .unwrap();
    assert_eq!(requests[0].answered, 500);
    assert_eq!(
        requests[1].header("byoc-event-id"),
        requests[0].header("byoc-event-id"),
        "the refused event is sent again, first"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert!(
            receiver.url.ends_with(&request.path),
            "{} vs {}",
            request.path,
            receiver.url
        );
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(
            request.header("byoc-signature"),
            signature(&secret, request),
            "signature of {}",
            request.header("byoc-event-id")
        );
        let timestamp: i64 = request.header("byoc-timestamp").parse().unwrap();
        assert!(
            (now - timestamp).abs() < 300,
            "timestamp {timestamp} is not current"
        );
    }
    let delivered = delivered(&requests);
    assert_eq!(delivered.len(), count, "each event delivered once");
    for (request, event) in delivered.iter().zip(&events) {
        let body: Value = serde_json::from_str(&request.body).unwrap();
        let id = format!("{install_id}:{}", event["detail"]["seq"]);
        assert_eq!(
            (body["id"].as_str(), request.header("byoc-event-id")),
            (Some(id.as_str()), id.as_str())
        );
        assert_eq!(body["source"], "byoc.install");
        assert_eq!(body["detail-type"], event["detail-type"]);
        assert_eq!(
            body["detail"], event["detail"],
            "the webhook and the bus carry the same detail"
        );
    }
    // Someone else's secret does not verify: the check above can fail.
    assert_ne!(
        delivered[0].header("byoc-signature"),
        signature("whsec_not-the-secret", delivered[0])
    );

    // Each timeline entry shows what became of its delivery.
    let deadline = std::time::Instant::now() + DELIVERY_TIMEOUT;
    let install = loop {
        let install = show(&api, &install_id).await;
        if entries(&install)
            .iter()
            .all(|e| e["webhook"]["outcome"] == "delivered")
            || std::time::Instant::now() > deadline
        {
            break install;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let timeline = entries(&install);
    let outcomes: Vec<(u64, &str, u64, u64)> = timeline
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["webhook"]["outcome"].as_str().unwrap_or("none"),
                e["webhook"]["attempts"].as_u64().unwrap_or(0),
                e["webhook"]["http_status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let expected: Vec<(u64, &str, u64, u64)> = (1..=count as u64)
        .map(|seq| (seq, "delivered", if seq == 1 { 2 } else { 1 }, 200))
        .collect();
    assert_eq!(outcomes, expected);

    // The secret never leaves the one response that handed it out.
    assert!(
        !install.to_string().contains(&secret),
        "secret in GET /installs"
    );
    assert!(
        !stack.function_logs().contains(&secret),
        "secret in function logs"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.body.contains(&secret) || r.headers.values().any(|v| v.contains(&secret))),
        "secret sent in a request"
    );
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains(&external_id));
}

#[tokio::test]
async fn webhooks_are_https_only_and_their_secret_is_shown_once() {
    let (_stack, api) = setup().await;
    let tenant_id = random_tenant_id("hookapi");
    create_tenant(&api, &tenant_id).await;
    let path = format!("/tenants/{tenant_id}/webhook");
    let put = |body: Value| {
        let api = api.clone();
        let path = path.clone();
        async move {
            api.send("PUT", &path, Some(body.to_string()), true)
                .await
                .unwrap()
        }
    };

    for (body, field) in [
        (json!({"url": "http://hooks.example.com/byoc"}), "url"),
        (
            json!({"url": "https://user:pw@hooks.example.com/byoc"}),
            "url",
        ),
        (json!({"url": 5}), "url"),
        (json!({}), "url"),
        (
            json!({"url": "https://hooks.example.com", "secret": "mine"}),
            "secret",
        ),
    ] {
        let refused = put(body.clone()).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.text);
        assert_eq!(
            refused.json["error"]["field"], field,
            "{body}: {}",
            refused.text
        );
    }
    let plain_http = put(json!({"url": "http://x.example"})).await;
    assert!(
        plain_http.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https://"),
        "{}",
        plain_http.text
    );
    let nobody = api
        .send(
            "PUT",
            "/tenants/no-such-tenant/webhook",
            Some(json!({"url": PUBLIC_HOOK}).to_string()),
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        (nobody.status, nobody.json["error"]["field"].as_str()),
        (404, Some("tenant_id")),
        "{}",
        nobody.text
    );
    assert_eq!(api.get(&path).await.unwrap().status, 404, "no webhook yet");

    let first = put(json!({"url": format!("{PUBLIC_HOOK}/byoc?team=platform")})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let secret = first.json["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(
        first.json["url"],
        format!("{PUBLIC_HOOK}/byoc?team=platform")
    );

    let shown = api.get(&path).await.unwrap();
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["url"], first.json["url"]);
    assert!(
        shown.json.get("secret").is_none() && !shown.text.contains(&secret),
        "{}",
        shown.text
    );
    let tenant = api.get(&format!("/tenants/{tenant_id}")).await.unwrap();
    assert!(!tenant.text.contains(&secret), "secret in GET /tenants");

    let second = put(json!({"url": format!("{PUBLIC_HOOK}/v2")})).await;
    let rotated = second.json["secret"].as_str().unwrap();
    assert_ne!(rotated, secret, "a PUT hands out a new secret");

    let removed = api.send("DELETE", &path, None, true).await.unwrap();
    assert_eq!(
        (removed.status, removed.json["removed"].as_bool()),
        (200, Some(true)),
        "{}",
        removed.text
    );
    assert_eq!(api.get(&path).await.unwrap().status, 404);
    let again = api.send("DELETE", &path, None, true).await.unwrap();
    assert_eq!(
        (again.status, again.json["removed"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(
        api.send("POST", &path, Some("{}".into()), true)
            .await
            .unwrap()
            .status,
        405
    );
}

/// Publishing follows the table, not the writer: an entry written and then left alone (as by a
/// step that crashed right after its write) is published all the same, once per entry.
#[tokio::test]
async fn an_entry_is_published_even_when_its_writer_does_nothing_more() {
    use byoc_core::store::InstallStore;
    use byoc_domain::ids::{AccountId, Region, TenantId};
    use byoc_domain::install_change::Change;
    use byoc_domain::model::{Install, Outcome, Step};

    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("crash");
    create_tenant(&api, &tenant_id).await;
    let queue = EventQueue::for_tenant(&stack, &tenant_id).await.unwrap();
    let store = InstallStore::new(stack.dynamodb(), &stack.outputs.table_name);
    let (install, first) = Install::requested(
        TenantId::parse("tenant_id", &tenant_id).unwrap(),
        AccountId::parse("account_id", &random_account_id()).unwrap(),
        Region::parse("region", "us-east-1").unwrap(),
        Default::default(),
        chrono::Utc::now(),
    )
    .unwrap();
    store.create_install(&install, &first).await.unwrap();
    store
        .record(
            &install.install_id,
            Change::new(
                Step::ValidateTrust,
                Outcome::Waiting,
                "the access stack is not there yet",
            ),
        )
        .await
        .unwrap();

    let events = queue
        .wait_for(install.install_id.as_str(), 2, DELIVERY_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(detail_types(&events), ["Install Started", "Action Needed"]);
    assert_eq!(
        events[1]["detail"]["message"],
        "the access stack is not there yet"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = queue
        .wait_for(install.install_id.as_str(), 2, DELIVERY_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "nothing more");
    assert_eq!(
        queue.repeats(install.install_id.as_str()),
        0,
        "nothing twice"
    );
}
