//! The install's long waits are callback tasks that watch-install ends (issue #8): however long
//! the cluster and node group take, the state machine pays the same few transitions; the
//! watcher's checks (counted from its log) carry the wait. A lost chain of watch messages
//! restarts on the task's heartbeat timeout, and a duplicated message does not fork the chain.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType};
use byoc_e2e::bench::history::History;
use byoc_e2e::customer_ec2::steer_nat;
use byoc_e2e::customer_eks::steer_eks;
use byoc_e2e::installed::{install_with, place, Place, EXECUTION_TIMEOUT};
use byoc_e2e::{Api, LocalStack};
use serde_json::{json, Value};

/// What the issue asks of a whole modelled install is 60; the cluster wait alone must not
/// grow the count, so an install without quota requests stays far below.
const MAX_TRANSITIONS: usize = 30;

async fn setup() -> (LocalStack, Api) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    (stack, api)
}

/// One logged check of a wait: its number and outcome (`waiting`, `done`, `retry`, `failed`,
/// `duplicate`, `gone`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    check: u64,
    outcome: String,
}

/// The watcher's checks of `install_id`, in log order.
fn checks(stack: &LocalStack, install_id: &str) -> Vec<Check> {
    let name = stack
        .outputs
        .functions
        .get("watch-install")
        .expect("outputs.json names the watch-install function");
    let log = std::fs::read_to_string(
        stack
            .dir
            .join("logs")
            .join("functions")
            .join(format!("{name}.log")),
    )
    .unwrap_or_default();
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["span"]["install_id"] == install_id)
        .filter_map(|line| {
            let outcome = line["fields"]["outcome"].as_str()?.to_owned();
            Some(Check {
                check: line["span"]["check"].as_u64()?,
                outcome,
            })
        })
        .collect()
}

/// Checks actually made (duplicates dropped before checking are not).
fn made(checks: &[Check]) -> Vec<u64> {
    checks
        .iter()
        .filter(|c| c.outcome != "duplicate")
        .map(|c| c.check)
        .collect()
}

async fn history_events(stack: &LocalStack, arn: &str) -> Vec<HistoryEvent> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = stack
            .sfn()
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        events.extend(page.events().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return events;
        }
    }
}

/// The task tokens of the execution's callback tasks, from what each scheduled task sent.
fn task_tokens(events: &[HistoryEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .filter_map(|d| serde_json::from_str::<Value>(d.parameters()).ok())
        .filter_map(|p| {
            let body = &p["MessageBody"];
            let body = match body.as_str() {
                Some(text) => serde_json::from_str(text).ok()?,
                None => body.clone(),
            };
            body["task_token"].as_str().map(str::to_owned)
        })
        .collect()
}

async fn wait_for_checks(stack: &LocalStack, install_id: &str, at_least: usize) {
    let start = Instant::now();
    while made(&checks(stack, install_id)).len() < at_least {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the watcher made fewer than {at_least} checks of {install_id}: {:?}",
            checks(stack, install_id)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start(api: &Api, place: &Place) -> (String, String) {
    let body = json!({"tenant_id": place.tenant_id, "account_id": place.account, "region": "us-east-1", "options": {"node_desired_size": 2, "node_max_size": 2}});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    (
        accepted.json["install_id"].as_str().unwrap().to_owned(),
        accepted.json["execution_arn"].as_str().unwrap().to_owned(),
    )
}

/// An install whose cluster stays CREATING for `cluster_polls` polls, started and seen in its
/// cluster wait (the watcher made two checks): its place, id and execution.
async fn waiting_install(
    stack: &LocalStack,
    api: &Api,
    prefix: &str,
    cluster_polls: u32,
) -> (Place, String, String) {
    let place = place(stack, api, prefix).await;
    steer_eks(
        stack,
        &place.account,
        json!({"cluster_creating_polls": cluster_polls, "nodegroup_creating_polls": 1}),
    )
    .await
    .unwrap();
    let (install_id, arn) = start(api, &place).await;
    wait_for_checks(stack, &install_id, 2).await;
    (place, install_id, arn)
}

#[tokio::test]
async fn a_long_cluster_wait_costs_the_same_few_transitions_whatever_its_length() {
    let (stack, api) = setup().await;
    let mut runs = Vec::new();
    for (cluster_polls, nodegroup_polls) in [(2, 1), (14, 4)] {
        let place = place(&stack, &api, "watch").await;
        steer_eks(&stack, &place.account, json!({"cluster_creating_polls": cluster_polls, "nodegroup_creating_polls": nodegroup_polls})).await.unwrap();
        steer_nat(&stack, &place.account, json!({"pending_polls": 2}))
            .await
            .unwrap();

        let (install_id, execution, record) = install_with(&stack, &api, &place, json!({})).await;
        assert_eq!(execution, "SUCCEEDED", "{record:#}");
        assert_eq!(record["status"], "ready");
        assert_eq!(
            record["step_data"]["cluster"]["nodegroup"]["status"], "ACTIVE",
            "{:#}",
            record["step_data"]["cluster"]
        );
        // The NAT gateways were still pending when the control plane started; the watcher's
        // create-network calls saw them through.
        let steps: Vec<String> = record["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["step"].as_str().unwrap(),
                    e["outcome"].as_str().unwrap()
                )
            })
            .collect();
        let first = |wanted: &str| {
            steps
                .iter()
                .position(|s| s == wanted)
                .unwrap_or_else(|| panic!("no '{wanted}' in {steps:#?}"))
        };
        assert!(
            first("create-cluster started") < first("create-network succeeded"),
            "{steps:#?}"
        );
        assert!(
            first("create-network succeeded") < first("create-cluster succeeded"),
            "{steps:#?}"
        );

        let arn = record["execution_arn"].as_str().unwrap().to_owned();
        let history = History::fetch(&stack.sfn(), &arn).await.unwrap();
        let transitions = history.transitions();
        assert!(
            transitions <= MAX_TRANSITIONS,
            "{transitions} transitions: {:?}",
            history.states.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        assert_eq!(history.count("WaitForCluster"), 1, "one wait, entered once");

        // The waiting happened in the watcher: one check per EKS poll at least, each made once.
        let checks = checks(&stack, &install_id);
        let made = made(&checks);
        assert!(
            made.len() >= cluster_polls,
            "{} checks for a cluster creating for {cluster_polls} polls: {checks:?}",
            made.len()
        );
        assert_eq!(
            made,
            (0..made.len() as u64).collect::<Vec<_>>(),
            "each check once, in order: {checks:?}"
        );
        assert_eq!(
            checks.last().map(|c| c.outcome.as_str()),
            Some("done"),
            "{checks:?}"
        );

        // The task token ended the wait; it is not in any function's log.
        let events = history_events(&stack, &arn).await;
        let tokens = task_tokens(&events);
        assert_eq!(tokens.len(), 1, "one callback task was scheduled");
        assert!(
            !stack.function_logs().contains(&tokens[0]),
            "a task token reached a function log"
        );
        runs.push((cluster_polls, transitions, made.len()));
    }
    println!("(cluster polls, state transitions, watcher checks): {runs:?}");
    assert_eq!(
        runs[0].1, runs[1].1,
        "the wait's length changed the transitions: {runs:?}"
    );
    assert!(
        runs[1].2 > runs[0].2,
        "a longer wait is more checks, not more transitions: {runs:?}"
    );
}

#[tokio::test]
async fn a_lost_chain_of_watch_messages_restarts_on_the_heartbeat_timeout() {
    let (stack, api) = setup().await;
    let (_place, install_id, arn) = waiting_install(&stack, &api, "lost", 12).await;

    // Lose this install's chain: its next messages are taken for duplicates (their check
    // numbers are below the one recorded) and dropped. Purging the queue would lose every
    // other install's chain on the stack too, and other tests run at the same time.
    let table = &stack.outputs.table_name;
    let items = stack
        .dynamodb()
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("WATCH#{install_id}")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "one chain so far: {items:?}");
    for item in &items {
        stack
            .dynamodb()
            .update_item()
            .table_name(table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("SET check_no = :n")
            .expression_attribute_values(":n", AttributeValue::N("1000000".into()))
            .send()
            .await
            .unwrap();
    }
    let before = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let lost = made(&checks(&stack, &install_id)).len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        made(&checks(&stack, &install_id)).len(),
        lost,
        "the chain was lost: no check since"
    );
    assert_eq!(
        stack
            .wait_for_execution(&arn, Duration::from_millis(10))
            .await
            .ok(),
        None,
        "the install still waits"
    );

    let execution = stack
        .wait_for_execution(&arn, EXECUTION_TIMEOUT)
        .await
        .unwrap();
    let record = api
        .get(&format!("/installs/{install_id}"))
        .await
        .unwrap()
        .json;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");
    assert_eq!(record["status"], "ready");
    assert!(
        before.elapsed() >= Duration::from_secs(30),
        "the wait resumed only after its heartbeat timeout ({:?})",
        before.elapsed()
    );

    let events = history_events(&stack, &arn).await;
    let heartbeat_timeouts = events
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::TaskTimedOut)
        .filter(|e| {
            e.task_timed_out_event_details().and_then(|d| d.error())
                == Some("States.HeartbeatTimeout")
        })
        .count();
    assert_eq!(heartbeat_timeouts, 1, "{events:#?}");
    let tokens = task_tokens(&events);
    assert_eq!(
        tokens.len(),
        2,
        "the Retry sent a new watch message with a new token"
    );
    assert_ne!(tokens[0], tokens[1]);
    assert!(
        made(&checks(&stack, &install_id)).len() > lost,
        "the new chain checked on to the end"
    );
    let history = History::fetch(&stack.sfn(), &arn).await.unwrap();
    assert!(
        history.transitions() <= MAX_TRANSITIONS,
        "{}",
        history.transitions()
    );
}

#[tokio::test]
async fn duplicated_watch_messages_do_not_fork_the_chain() {
    let (stack, api) = setup().await;
    let (place, install_id, arn) = waiting_install(&stack, &api, "dupes", 14).await;

    // SQS delivers a message at least once: send copies of the chain's messages, past and
    // coming, twice each, as a redelivery would.
    let events = history_events(&stack, &arn).await;
    let token = task_tokens(&events)
        .pop()
        .expect("the callback task's token");
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let queue_url = sqs
        .get_queue_url()
        .queue_name(format!("{}-watch", stack_name(&stack)))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for check in 0..8u32 {
        let body = json!({"watch": "cluster", "install_id": install_id, "tenant_id": place.tenant_id, "task_token": token, "check": check});
        for _ in 0..2 {
            sqs.send_message()
                .queue_url(&queue_url)
                .message_body(body.to_string())
                .delay_seconds(check.min(5) as i32)
                .send()
                .await
                .unwrap();
        }
    }

    let execution = stack
        .wait_for_execution(&arn, EXECUTION_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(execution, "SUCCEEDED");
    // Let the last copies arrive (at most 5 s late), then count.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let checks = checks(&stack, &install_id);
    let mut per_check: BTreeMap<u64, usize> = BTreeMap::new();
    for check in made(&checks) {
        *per_check.entry(check).or_default() += 1;
    }
    let twice: Vec<_> = per_check.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "checks made more than once: {twice:?} in {checks:?}"
    );
    // Two messages of each number 0..8 at least, one check of each at most.
    let dropped = checks.iter().filter(|c| c.outcome == "duplicate").count();
    assert!(dropped >= 8, "{dropped} duplicates dropped: {checks:?}");
    assert_eq!(
        api.get(&format!("/installs/{install_id}"))
            .await
            .unwrap()
            .json["status"],
        "ready"
    );
}

/// The deployed stack's name: the prefix of its function names.
fn stack_name(stack: &LocalStack) -> String {
    let function = stack
        .outputs
        .functions
        .get("watch-install")
        .expect("watch-install deployed");
    function
        .strip_suffix("-watch-install")
        .expect("functions are named <stack>-<function>")
        .to_owned()
}

#[tokio::test]
async fn a_message_that_is_no_watch_reaches_the_dead_letter_queue_after_five_quick_tries() {
    let (stack, _api) = setup().await;
    let sqs = aws_sdk_sqs::Client::new(&stack.config);
    let name = stack_name(&stack);
    let queue = sqs
        .get_queue_url()
        .queue_name(format!("{name}-watch"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dead = sqs
        .get_queue_url()
        .queue_name(format!("{name}-watch-dead-letter"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let marker = format!("not a watch {}", byoc_e2e::random_tenant_id("x"));
    sqs.send_message()
        .queue_url(&queue)
        .message_body(&marker)
        .send()
        .await
        .unwrap();

    // Refused five times, each time back after a short backoff (not the queue's 25-minute
    // visibility timeout), then moved by the queue's redrive policy.
    let start = Instant::now();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(&dead)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(found) = got
            .messages()
            .iter()
            .find(|m| m.body() == Some(marker.as_str()))
        {
            sqs.delete_message()
                .queue_url(&dead)
                .receipt_handle(found.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the refused message never reached the dead-letter queue"
        );
    }
    assert!(
        start.elapsed() >= Duration::from_secs(2 + 4 + 8 + 16),
        "each receive came back after its backoff: {:?}",
        start.elapsed()
    );
}
