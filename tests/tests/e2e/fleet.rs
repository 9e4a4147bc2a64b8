//! The scheduled jobs over the whole fleet: a schedule's event sends every install owed a check
//! to the job's FIFO queue, and the job's function works through it, many at once, each
//! customer account bounded, each install under its lease. The installs here are seeded as
//! records (ready, or removed after building) for tenants whose access stacks are real, several
//! per account (one per region, as the API allows), so a fleet larger than a batch costs seconds.
//!
//! The trust check's fan-out reaches every ready install of the shared stack, other tests'
//! too: harmless (they are checked, as a schedule would), and each test asserts on its own.

use byoc_domain::step_record::StepRecord;
use std::time::{Duration, Instant};

use byoc_core::store::by_status::{SweepRetired, INSTALLS_BY_STATUS_INDEX, STATUS_KEY};
use byoc_core::store::InstallStore;
use byoc_domain::ids::{AccountId, Region, TenantId};
use byoc_domain::model::{Install, InstallStatus};
use byoc_domain::options::InstallOptions;
use byoc_e2e::installed::{place, Place};
use byoc_e2e::invoke::invoke;
use byoc_e2e::{Api, LocalStack};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::sweep_scheduled::SCHEDULED_SWEEP;
use crate::trust_failures::TRUST_CHECK;

/// Regions the seeded installs of one account spread over (one install per region).
const REGIONS: [&str; 6] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
];
/// What one customer account sees of one job at once (vendor.yaml's FleetAccountConcurrency).
const PER_ACCOUNT: usize = 2;
/// How long a cycle may take to reach every seeded install.
const CYCLE_WAIT: Duration = Duration::from_secs(180);

fn store(stack: &LocalStack) -> InstallStore {
    InstallStore::new(stack.dynamodb(), &stack.outputs.table_name)
}

/// `count` install records for `place`'s tenant with `status`, one per region; their ids.
async fn seed(
    stack: &LocalStack,
    place: &Place,
    count: usize,
    status: InstallStatus,
) -> Vec<String> {
    let store = store(stack);
    let mut ids = vec![];
    for region in &REGIONS[..count] {
        let (mut install, first) = Install::requested(
            TenantId::parse("tenant_id", &place.tenant_id).unwrap(),
            AccountId::parse("account_id", &place.account).unwrap(),
            Region::parse("region", region).unwrap(),
            InstallOptions::default(),
            Utc::now(),
        )
        .unwrap();
        install.status = status;
        if status == InstallStatus::Removed {
            // It built a network once (so it is owed a sweep); nothing of it is in the account.
            install
                .resources
                .insert("vpc_id".into(), "vpc-0000000000000000f".into());
        }
        store.create_install(&install, &first).await.unwrap();
        ids.push(install.install_id.to_string());
    }
    ids
}

/// A schedule's own event (no installs named): what the rule sends when it fires at `at`.
fn fired(stack: &LocalStack, job_rule: &str, at: DateTime<Utc>) -> Value {
    let account = &stack.outputs.vendor_account_id;
    json!({
        "version": "0", "id": "5b0e0e43-1a8c-4f3e-9a1e-2f4b6c8d0e1f", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": account, "time": at.to_rfc3339(), "region": stack.outputs.region,
        "resources": [format!("arn:aws:events:{}:{account}:rule/{job_rule}", stack.outputs.region)], "detail": {}
    })
}

/// Fires the job's schedule at `at` until a run sends the fleet (another test's run may be
/// sending it just then); what it sent.
async fn fire(stack: &LocalStack, function: &str, rule: &str, at: DateTime<Utc>) -> Value {
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let report = invoke(stack, function, &fired(stack, rule, at))
            .await
            .unwrap_or_else(|e| panic!("the scheduled run failed: {e:?}"));
        if report["busy"] != true {
            assert_eq!(report["checked"], json!([]), "{report:#}");
            return report["dispatched"].clone();
        }
        assert!(Instant::now() < give_up, "the job stayed busy: {report:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn records(api: &Api, ids: &[String]) -> Vec<Value> {
    let mut out = vec![];
    for id in ids {
        out.push(api.get(&format!("/installs/{id}")).await.unwrap().json);
    }
    out
}

fn trust_checked_at(record: &Value) -> Option<DateTime<Utc>> {
    TRUST_CHECK.checked_at(record)
}

/// Waits until every one of `ids` was trust-checked at or after `since`; their records.
async fn until_trust_checked(api: &Api, ids: &[String], since: DateTime<Utc>) -> Vec<Value> {
    let give_up = Instant::now() + CYCLE_WAIT;
    loop {
        let now = records(api, ids).await;
        if now
            .iter()
            .all(|r| trust_checked_at(r).is_some_and(|t| t >= since))
        {
            return now;
        }
        assert!(
            Instant::now() < give_up,
            "not all checked within {CYCLE_WAIT:?}: {:?}",
            now.iter().map(trust_checked_at).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The AssumeRole calls into `account`'s roles that started at or after `since`, as
/// (started, ended, error) in seconds since the epoch.
fn assume_roles(
    stack: &LocalStack,
    account: &str,
    since: DateTime<Utc>,
) -> Vec<(f64, f64, Option<String>)> {
    let since = since.timestamp_millis() as f64 / 1000.0;
    stack
        .assume_role_log()
        .into_iter()
        .filter(|e| {
            e["role"]
                .as_str()
                .is_some_and(|r| r.contains(&format!(":{account}:")))
        })
        .filter_map(|e| {
            Some((
                e["started"].as_f64()?,
                e["ended"].as_f64()?,
                e["error"].as_str().map(str::to_owned),
            ))
        })
        .filter(|(started, _, _)| *started >= since)
        .collect()
}

/// The most calls in flight at one moment.
fn most_at_once(calls: &[(f64, f64, Option<String>)]) -> usize {
    calls
        .iter()
        .map(|(start, _, _)| {
            calls
                .iter()
                .filter(|(s, e, _)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn one_cycle_checks_a_fleet_larger_than_a_batch_with_each_account_bounded() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let mut places = vec![];
    let mut ids = vec![];
    for n in 0..3 {
        let place = place(&stack, &api, &format!("fleet{n}")).await;
        ids.extend(seed(&stack, &place, REGIONS.len(), InstallStatus::Ready).await);
        places.push(place);
    }
    assert!(ids.len() > 10, "more than one batch of the queue");
    // The first account answers slowly, so its checks overlap and the bound shows.
    stack
        .steer("sts", &places[0].account, json!({"latency_s": 1.0}))
        .await
        .unwrap();

    let since = Utc::now();
    let dispatched = fire(&stack, "validate-trust", "byoc-trust-check", since).await;
    assert!(
        dispatched["dispatched"].as_u64().unwrap() >= ids.len() as u64,
        "{dispatched:#}"
    );
    assert_eq!(dispatched["not_sent"], 0, "{dispatched:#}");

    let checked = until_trust_checked(&api, &ids, since).await;
    for record in &checked {
        assert_eq!(
            record["step_data"]["trust_check"]["status"], "ok",
            "{record:#}"
        );
        assert_eq!(record["status"], "ready");
    }
    // Other tests' cycles check these installs too (every cycle reaches the whole fleet).
    let slow = assume_roles(&stack, &places[0].account, since);
    assert!(slow.len() >= REGIONS.len(), "{slow:?}");
    assert!(
        most_at_once(&slow) <= PER_ACCOUNT,
        "at most {PER_ACCOUNT} checks of one account at once: {slow:?}"
    );
}

#[tokio::test]
async fn an_account_that_hangs_does_not_hold_up_the_others() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let hanging = place(&stack, &api, "fleethang").await;
    let healthy = place(&stack, &api, "fleetok").await;
    // Longer than a trust check may take (30 s): each of its checks gives up. Steered before
    // its installs exist, so no other test's cycle can check them before they hang.
    stack
        .steer("sts", &hanging.account, json!({"latency_s": 35.0}))
        .await
        .unwrap();
    let hanging_ids = seed(&stack, &hanging, 2, InstallStatus::Ready).await;
    let healthy_ids = seed(&stack, &healthy, 4, InstallStatus::Ready).await;

    let since = Utc::now();
    fire(&stack, "validate-trust", "byoc-trust-check", since).await;
    let checked = until_trust_checked(&api, &healthy_ids, since).await;
    let healthy_done = checked.iter().filter_map(trust_checked_at).max().unwrap();
    // The healthy account was done while the hanging one's first call was still unanswered.
    let first_hang_ends = since + chrono::Duration::seconds(35);
    assert!(
        healthy_done < first_hang_ends,
        "the healthy installs waited for the hanging account: done at {healthy_done}"
    );

    // The hanging account's checks time out and are left to the next cycle: nothing recorded.
    tokio::time::sleep(Duration::from_secs(40)).await;
    stack
        .steer("sts", &hanging.account, json!({"latency_s": 0}))
        .await
        .unwrap();
    for record in records(&api, &hanging_ids).await {
        assert!(
            trust_checked_at(&record).is_none(),
            "a check that timed out records nothing: {record:#}"
        );
        assert_eq!(record["status"], "ready");
    }
    // Each install's lease outlives its check's timeout (30 s), so until then at most one call
    // per install, whichever cycle (other tests fire theirs) sent it. A later cycle may try again.
    let lease_ends = (since + chrono::Duration::seconds(30)).timestamp_millis() as f64 / 1000.0;
    // A call is logged when it ends; on a loaded machine the cycle may have reached the hanging
    // account seconds late, so its first (35 s) call may end after the wait above.
    let calls = {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let calls = assume_roles(&stack, &hanging.account, since);
            if !calls.is_empty() || std::time::Instant::now() > deadline {
                break calls;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let in_first_lease = calls.iter().filter(|(started, _, _)| *started < lease_ends);
    let in_first_lease = in_first_lease.count();
    assert!(
        !calls.is_empty() && in_first_lease <= hanging_ids.len(),
        "{calls:?}"
    );
}

#[tokio::test]
async fn throttled_sts_is_retried_without_failing_the_cycle() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let throttled = place(&stack, &api, "fleetthrottle").await;
    let ids = seed(&stack, &throttled, 3, InstallStatus::Ready).await;
    // Fewer throttles than one call's attempts (5), however they fall on the three calls.
    stack
        .steer(
            "sts",
            &throttled.account,
            json!({"throttle": {"id": ids[0], "count": 4}}),
        )
        .await
        .unwrap();

    let since = Utc::now();
    fire(&stack, "validate-trust", "byoc-trust-check", since).await;
    for record in until_trust_checked(&api, &ids, since).await {
        assert_eq!(
            record["step_data"]["trust_check"]["status"], "ok",
            "{record:#}"
        );
    }
    let calls = assume_roles(&stack, &throttled.account, since);
    let throttles = calls
        .iter()
        .filter(|(_, _, e)| e.as_deref() == Some("Throttling"))
        .count();
    assert_eq!(throttles, 4, "{calls:?}");
    assert!(
        calls.len() >= 4 + ids.len(),
        "each install got through: {calls:?}"
    );
}

#[tokio::test]
async fn an_install_being_checked_is_left_to_that_check() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "fleetlease").await;
    let ids = seed(&stack, &place, 1, InstallStatus::Ready).await;
    let store = store(&stack);

    // Another check holds the install (a run on named installs, a message delivered again).
    let lease = format!("trust-check#{}", ids[0]);
    let now = Utc::now();
    assert!(store
        .claim_schedule(
            &lease,
            "another-check",
            now,
            now + chrono::Duration::seconds(60)
        )
        .await
        .unwrap());
    let named = invoke(
        &stack,
        "validate-trust",
        &TRUST_CHECK.event_for(&stack, &[&ids[0]]),
    )
    .await
    .unwrap();
    assert_eq!(named["busy"], true, "{named:#}");
    assert_eq!(named["checked"], json!([]), "{named:#}");
    let since = Utc::now();
    fire(&stack, "validate-trust", "byoc-trust-check", since).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        assume_roles(&stack, &place.account, since).is_empty(),
        "the queued check left it to the one holding it"
    );
    assert!(trust_checked_at(&records(&api, &ids).await[0]).is_none());
    store
        .release_schedule(&lease, "another-check")
        .await
        .unwrap();

    // Let go, the next cycle checks it.
    let since = Utc::now();
    fire(&stack, "validate-trust", "byoc-trust-check", since).await;
    until_trust_checked(&api, &ids, since).await;
}

#[tokio::test]
async fn a_removed_install_found_clean_three_times_is_no_longer_swept() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "fleetretire").await;
    let ids = seed(&stack, &place, 1, InstallStatus::Removed).await;
    let id = ids[0].as_str();

    for sweep in 1..=3 {
        let since = Utc::now();
        let [record] = <[Value; 1]>::try_from(
            SCHEDULED_SWEEP
                .run_until_checked(&stack, &api, &[id], since)
                .await,
        )
        .unwrap();
        let findings = &record["step_data"][SCHEDULED_SWEEP.record_key];
        assert_eq!(findings["access"], json!({"state": "ok"}), "{findings:#}");
        assert_eq!(findings["found"], json!([]), "{findings:#}");
        assert_eq!(findings["clean_streak"], sweep, "{findings:#}");
        assert_eq!(
            record["step_data"].get(SweepRetired::KEY).is_some(),
            sweep == 3,
            "{record:#}"
        );
    }
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    let ended: Vec<&str> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.starts_with("scheduled sweeps end"))
        .collect();
    assert_eq!(
        ended,
        [format!(
            "scheduled sweeps end: nothing of the install was found in account {} in 3 sweeps in a row",
            place.account
        )],
        "{record:#}"
    );
    assert_eq!(record["step_data"][SweepRetired::KEY]["clean_sweeps"], 3);

    // What the schedule's enumeration reads: no longer among the removed installs.
    let listed = |status: &'static str| {
        let dynamodb = stack.dynamodb();
        let table = stack.outputs.table_name.clone();
        async move {
            let mut ids = vec![];
            let mut start = None;
            loop {
                let page = dynamodb
                    .query()
                    .table_name(&table)
                    .index_name(INSTALLS_BY_STATUS_INDEX)
                    .key_condition_expression("#s = :s")
                    .expression_attribute_names("#s", STATUS_KEY)
                    .expression_attribute_values(
                        ":s",
                        aws_sdk_dynamodb::types::AttributeValue::S(status.into()),
                    )
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .unwrap();
                ids.extend(
                    page.items()
                        .iter()
                        .filter_map(|i| i.get("install_id")?.as_s().ok().cloned()),
                );
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
            ids
        }
    };
    assert!(!listed("removed").await.contains(&id.to_owned()));
    assert!(listed(SweepRetired::INDEX_VALUE)
        .await
        .contains(&id.to_owned()));

    // A cycle of the schedule passes it over; its record stays as the third sweep left it.
    let checked_before = SCHEDULED_SWEEP.checked_at(&record);
    let since = Utc::now();
    fire(&stack, "sweep-dangling", "byoc-sweep-dangling", since).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        SCHEDULED_SWEEP.checked_at(&after),
        checked_before,
        "{after:#}"
    );
    assert!(assume_roles(&stack, &place.account, since).is_empty());
}

#[tokio::test]
async fn an_enumeration_out_of_time_goes_on_from_the_queue() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "fleetgoon").await;
    let ids = seed(&stack, &place, 3, InstallStatus::Ready).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let queue_url = sqs
        .get_queue_url()
        .queue_name("byoc-trust-check.fifo")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let settings = byoc_core::fleet::FleetSettings {
        queue_url,
        per_account: 2,
    };
    // A run whose time is up before its first page, as one at the end of a huge fleet's
    // enumeration: it sends the rest of itself to the queue, and the job's worker enumerates.
    let since = Utc::now();
    let sent = byoc_core::fleet::dispatch(
        &store(&stack),
        &sqs,
        &settings,
        "trust-check",
        &[InstallStatus::Ready],
        |_| true,
        since,
        None,
        Instant::now(),
    )
    .await
    .unwrap();
    assert_eq!(sent.dispatched, 0, "{sent:?}");
    assert_eq!(
        sent.continued_from,
        Some(byoc_core::fleet::Resume {
            status: InstallStatus::Ready,
            after: None
        })
    );
    for record in until_trust_checked(&api, &ids, since).await {
        assert_eq!(
            record["step_data"]["trust_check"]["status"], "ok",
            "{record:#}"
        );
    }
    // Carried on by validate-trust from the queue (no other test's enumeration runs out of time).
    assert!(
        stack.function_logs().contains("Continued {"),
        "validate-trust carried the enumeration on"
    );
}
