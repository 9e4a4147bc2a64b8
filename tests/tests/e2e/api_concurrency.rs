//! The API under concurrent load: many installs for different tenants at once, and one install
//! POSTed many times at once (with and without an `Idempotency-Key`), all racing each other.
//! Afterwards a person checking the table finds exactly one install per tenant, account and
//! region, every answer was a 202 or a 409 naming the install that won, and every install's
//! timeline is complete and gapless: no status update was lost.
//!
//! The customers' accounts have no access stack, so every install fails fast at
//! validate-trust (after the short trust retries of the local deploy): the point is the API
//! and the store, not the building. `BYOC_CONCURRENT_INSTALLS` sets how many tenants race:
//! 20 by default, so the test stays quick beside the rest of the suite on a small machine;
//! `BYOC_CONCURRENT_INSTALLS=50` is the full size of issue #9.

use std::collections::BTreeMap;
use std::time::Duration;

use byoc_e2e::{random_account_id, random_tenant_id, Api, ApiResponse, LocalStack};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const REPEATS: usize = 10;
const TIMEOUT: Duration = Duration::from_secs(300);

fn tenants_racing() -> usize {
    std::env::var("BYOC_CONCURRENT_INSTALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

async fn create_tenant(api: &Api, prefix: &str) -> String {
    let tenant_id = random_tenant_id(prefix);
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Racing Co", "email": "ops@racing.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    tenant_id
}

fn post(api: &Api, body: Value, key: Option<String>) -> JoinHandle<ApiResponse> {
    let api = api.clone();
    tokio::spawn(async move {
        let headers: Vec<(&str, &str)> = key
            .as_deref()
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        api.send_with_headers("POST", "/installs", Some(body.to_string()), &headers)
            .await
            .unwrap()
    })
}

async fn all(handles: Vec<JoinHandle<ApiResponse>>) -> Vec<ApiResponse> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// The one install the racing POSTs for one place made: exactly one 202 (or identical 202s for
/// a shared key), every other answer a 409 naming it.
fn winner(place: &str, responses: &[ApiResponse]) -> String {
    let accepted: Vec<&ApiResponse> = responses.iter().filter(|r| r.status == 202).collect();
    assert!(
        !accepted.is_empty(),
        "{place}: no request was accepted: {:?}",
        responses.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let id = accepted[0].json["install_id"].as_str().unwrap().to_owned();
    for response in responses {
        match response.status {
            202 => assert_eq!(
                response.text, accepted[0].text,
                "{place}: two requests were accepted differently"
            ),
            409 => assert!(
                response.text.contains(&id),
                "{place}: the 409 does not name the install {id}: {}",
                response.text
            ),
            other => panic!("{place}: answered {other}: {}", response.text),
        }
    }
    id
}

async fn installs_of(api: &Api, tenant_id: &str) -> Vec<Value> {
    let listed = api
        .get(&format!("/tenants/{tenant_id}/installs?limit=100"))
        .await
        .unwrap();
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.json["installs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Gapless, and every status the install went through is on it in order, ending at its status.
fn assert_complete(install: &Value) {
    let id = install["install_id"].as_str().unwrap_or("?");
    let timeline = install["timeline"].as_array().unwrap();
    let seqs: Vec<u64> = timeline
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "{id}: timeline has a gap or is out of order"
    );
    assert_eq!(
        install["version"].as_u64(),
        Some(seqs.len() as u64),
        "{id}: version and timeline disagree"
    );
    let statuses: Vec<&str> = timeline
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["pending", "running", "failed"],
        "{id}: status moves on the timeline"
    );
    assert_eq!(install["status"], "failed", "{id}");
    assert_eq!(
        install["last_error"]["code"], "TrustNotReady",
        "{id}: {}",
        install["last_error"]
    );
    assert!(
        install["notified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "failed"),
        "{id}: the failure email was not recorded"
    );
}

#[tokio::test]
async fn racing_installs_make_one_install_per_place_and_lose_no_update() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let region = "eu-west-1";

    let mut tenants = Vec::new();
    for _ in 0..tenants_racing() {
        tenants.push(create_tenant(&api, "race").await);
    }
    let same = create_tenant(&api, "same").await;
    let same_keyed = create_tenant(&api, "keyed").await;
    let (same_account, keyed_account) = (random_account_id(), random_account_id());

    // Everything at once: one install per tenant, and two places asked REPEATS times each.
    let mut handles = Vec::new();
    let mut accounts = BTreeMap::new();
    for tenant in &tenants {
        let account = random_account_id();
        handles.push(post(
            &api,
            json!({"tenant_id": tenant, "account_id": account, "region": region}),
            None,
        ));
        accounts.insert(tenant.clone(), account);
    }
    let same_body = json!({"tenant_id": same, "account_id": same_account, "region": region});
    let keyed_body =
        json!({"tenant_id": same_keyed, "account_id": keyed_account, "region": region});
    let mut repeated = Vec::new();
    let mut keyed = Vec::new();
    for _ in 0..REPEATS {
        repeated.push(post(&api, same_body.clone(), None));
        keyed.push(post(
            &api,
            keyed_body.clone(),
            Some(format!("key-{same_keyed}")),
        ));
    }
    let spread = all(handles).await;
    let repeated = all(repeated).await;
    let keyed = all(keyed).await;

    for (tenant, response) in tenants.iter().zip(&spread) {
        assert_eq!(response.status, 202, "{tenant}: {}", response.text);
    }
    let same_id = winner("same place, no key", &repeated);
    assert_eq!(
        repeated.iter().filter(|r| r.status == 202).count(),
        1,
        "without a key exactly one POST is accepted"
    );
    let keyed_id = winner("same place, one key", &keyed);
    // Repeats that came while the first was still at work were told so (a 409 naming its
    // install); once it has answered, a repeat gets its response.
    let first_keyed = keyed.iter().find(|r| r.status == 202).unwrap();
    let late = post(&api, keyed_body.clone(), Some(format!("key-{same_keyed}")))
        .await
        .unwrap();
    assert_eq!(
        (late.status, &late.text),
        (202, &first_keyed.text),
        "a repeat after the first answered gets its response"
    );

    // Every execution ends (each install fails at validate-trust: no access stack).
    let mut executions: Vec<String> = spread
        .iter()
        .map(|r| r.json["execution_arn"].as_str().unwrap().to_owned())
        .collect();
    for responses in [&repeated, &keyed] {
        executions.push(
            responses.iter().find(|r| r.status == 202).unwrap().json["execution_arn"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for arn in &executions {
        let status = stack.wait_for_execution(arn, TIMEOUT).await.unwrap();
        assert_eq!(status, "FAILED", "{arn}");
    }

    // What a person checks: one install per tenant/account/region, each timeline complete.
    let mut places: Vec<(String, String, Option<String>)> = tenants
        .iter()
        .map(|t| (t.clone(), accounts[t].clone(), None))
        .collect();
    places.push((same.clone(), same_account.clone(), Some(same_id)));
    places.push((same_keyed.clone(), keyed_account.clone(), Some(keyed_id)));
    for (tenant, account, expected) in &places {
        let installs = installs_of(&api, tenant).await;
        assert_eq!(installs.len(), 1, "{tenant}: {} installs", installs.len());
        assert_eq!(
            (
                installs[0]["account_id"].as_str(),
                installs[0]["region"].as_str()
            ),
            (Some(account.as_str()), Some(region))
        );
        let id = installs[0]["install_id"].as_str().unwrap();
        if let Some(expected) = expected {
            assert_eq!(
                id, expected,
                "{tenant}: the listed install is not the one the API accepted"
            );
        }
        let shown = api.get(&format!("/installs/{id}")).await.unwrap();
        assert_complete(&shown.json);
    }
    // Failed installs give their place back: no slot is left behind for any of them.
    let slots: Vec<_> = stack
        .dynamodb()
        .scan()
        .table_name(&stack.outputs.table_name)
        .filter_expression("begins_with(pk, :slot)")
        .expression_attribute_values(
            ":slot",
            aws_sdk_dynamodb::types::AttributeValue::S("SLOT#".into()),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let held: Vec<&str> = slots
        .iter()
        .filter_map(|i| i["pk"].as_s().ok().map(String::as_str))
        .filter(|pk| {
            places
                .iter()
                .any(|(t, _, _)| pk.starts_with(&format!("SLOT#{t}#")))
        })
        .collect();
    assert!(
        held.is_empty(),
        "failed installs still hold their place: {held:?}"
    );
}
