//! Retrying a failed install (`POST /installs/{id}/retry`), as a vendor does after the cause
//! is fixed: the install resumes from the step that failed, the steps before it are not run
//! again, what the rollback removed is made again, and the customer finally gets the "ready"
//! email. A retry is safe to repeat, and refused for an install that is not failed or whose
//! place another install took meanwhile.

use std::time::Duration;

use byoc_e2e::customer_ec2::{ec2, tagged};
use byoc_e2e::customer_eks::{eks, steer_eks};
use byoc_e2e::{random_account_id, random_tenant_id, Api, ApiResponse, Inbox, LocalStack};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(240);

async fn tenant(api: &Api, prefix: &str) -> (String, String) {
    let tenant_id = random_tenant_id(prefix);
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Retry Co", "email": "ops@retry.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    (
        tenant_id,
        created.json["external_id"].as_str().unwrap().to_owned(),
    )
}

async fn start(api: &Api, tenant_id: &str, account: &str) -> ApiResponse {
    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1", "options": {"node_desired_size": 2, "node_max_size": 2}});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    accepted
}

async fn retry(api: &Api, id: &str) -> ApiResponse {
    api.send("POST", &format!("/installs/{id}/retry"), None, true)
        .await
        .unwrap()
}

async fn record(api: &Api, id: &str) -> Value {
    let found = api.get(&format!("/installs/{id}")).await.unwrap();
    assert_eq!(found.status, 200, "{}", found.text);
    found.json
}

/// "step outcome" for each timeline entry after `after`.
fn steps_after(record: &Value, after: u64) -> Vec<String> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_u64().unwrap() > after)
        .map(|e| {
            format!(
                "{} {}",
                e["step"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

fn assert_gapless(record: &Value) {
    let seqs: Vec<u64> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "timeline has a gap"
    );
    assert_eq!(record["version"].as_u64(), Some(seqs.len() as u64));
}

fn assert_conflict(response: &ApiResponse, naming: &str) {
    assert_eq!(
        (response.status, response.error_field()),
        (409, Some("install_id")),
        "{}",
        response.text
    );
    let message = response.json["error"]["message"].as_str().unwrap();
    assert!(message.contains(naming), "{message}");
}

#[tokio::test]
async fn a_cluster_failure_retried_after_the_fix_resumes_at_the_network_and_ends_ready() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (tenant_id, external_id) = tenant(&api, "retry").await;
    let account = random_account_id();
    let inbox = Inbox::for_tenant(&stack, &tenant_id).await.unwrap();
    stack
        .customer(&account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();
    steer_eks(&stack, &account, json!({"cluster_fail": "Simulated: the control plane could not be created", "cluster_fail_code": "ClusterUnreachable"})).await.unwrap();

    let accepted = start(&api, &tenant_id, &account).await;
    let id = accepted.json["install_id"].as_str().unwrap().to_owned();
    assert_eq!(
        stack
            .wait_for_execution(accepted.json["execution_arn"].as_str().unwrap(), TIMEOUT)
            .await
            .unwrap(),
        "FAILED"
    );
    let failed = record(&api, &id).await;
    assert_eq!(
        (failed["status"].as_str(), failed["failed_step"].as_str()),
        (Some("failed"), Some("create-cluster")),
        "{failed:#}"
    );
    let ec2 = ec2(&stack, &account);
    let swept = tagged(&ec2, &id, false).await.unwrap();
    assert!(
        swept.vpcs.is_empty() && swept.subnets.is_empty(),
        "the failed install was rolled back: {swept:#?}"
    );
    let first_vpc = failed["resources"]["vpc_id"].as_str().unwrap().to_owned();

    // The customer's side is fixed; the vendor retries, twice (a client that repeats itself).
    steer_eks(&stack, &account, json!({"cluster_fail": null}))
        .await
        .unwrap();
    let retried = retry(&api, &id).await;
    assert_eq!(retried.status, 202, "{}", retried.text);
    assert_eq!(retried.json["install_id"], id.as_str());
    let execution = retried.json["execution_arn"].as_str().unwrap().to_owned();
    assert!(
        execution.ends_with(&format!(":{id}-retry-{}", failed["version"])),
        "one execution per failure retried: {execution}"
    );
    let again = retry(&api, &id).await;
    assert_eq!(
        (again.status, again.json["execution_arn"].as_str()),
        (202, Some(execution.as_str())),
        "a repeated retry joins the running one: {}",
        again.text
    );

    assert_eq!(
        stack.wait_for_execution(&execution, TIMEOUT).await.unwrap(),
        "SUCCEEDED"
    );
    let ready = record(&api, &id).await;
    assert_eq!(ready["status"], "ready", "{ready:#}");
    assert!(
        ready["last_error"].is_null() && ready["failed_step"].is_null(),
        "the old failure is cleared: {ready:#}"
    );
    assert_gapless(&ready);

    // Resumed where it failed: access proved again, the quota check skipped, the network made
    // again (the rollback had removed it), then the cluster.
    let after = failed["version"].as_u64().unwrap();
    let steps = steps_after(&ready, after);
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.as_str() == "request started")
            .count(),
        1,
        "one retry recorded: {steps:#?}"
    );
    let at = |s: &str| {
        steps
            .iter()
            .position(|x| x == s)
            .unwrap_or_else(|| panic!("no {s} in {steps:#?}"))
    };
    assert!(
        at("validate-trust succeeded") < at("create-network started"),
        "{steps:#?}"
    );
    assert!(
        at("create-network started") < at("create-cluster started"),
        "{steps:#?}"
    );
    assert!(
        !steps
            .iter()
            .any(|s| s.starts_with("check-quotas") || s.starts_with("request-quota")),
        "completed steps are skipped: {steps:#?}"
    );
    let message = &ready["timeline"][after as usize]["message"];
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("resumes at create-network"),
        "{message}"
    );

    // What the customer's account has now: a new network, the cluster, both the install's.
    let built = tagged(&ec2, &id, false).await.unwrap();
    assert_eq!(built.vpcs.len(), 1, "{built:#?}");
    let vpc = built.vpcs[0].vpc_id().unwrap();
    assert_ne!(
        vpc, first_vpc,
        "the rolled-back VPC is gone; the retry made a new one"
    );
    assert_eq!(ready["resources"]["vpc_id"].as_str(), Some(vpc));
    let cluster = eks(&stack, &account)
        .describe_cluster()
        .name(format!("byoc-{id}"))
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(cluster.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(ready["resources"]["cluster_arn"].as_str(), cluster.arn());

    let emails = inbox.wait_for(2, Duration::from_secs(20)).await.unwrap();
    assert!(
        emails[0].subject.to_lowercase().contains("fail")
            || emails[0].body.to_lowercase().contains("fail"),
        "{:#?}",
        emails[0]
    );
    assert!(
        emails
            .iter()
            .any(|e| e.subject.to_lowercase().contains("ready")),
        "{emails:#?}"
    );

    // A ready install has nothing to retry; one being removed or removed cannot be retried.
    assert_conflict(&retry(&api, &id).await, "ready");
    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    assert_conflict(&retry(&api, &id).await, "removing");
    assert_eq!(
        stack
            .wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT)
            .await
            .unwrap(),
        "SUCCEEDED"
    );
    assert_conflict(&retry(&api, &id).await, "removed");
    assert_eq!(
        record(&api, &id).await["status"],
        "removed",
        "the refused retries changed nothing"
    );
}

#[tokio::test]
async fn a_retry_takes_the_place_back_or_is_refused_when_another_install_holds_it() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (tenant_id, _) = tenant(&api, "retryslot").await;
    // No access stack: installs fail at validate-trust, quickly.
    let account = random_account_id();
    let first = start(&api, &tenant_id, &account).await;
    let first_id = first.json["install_id"].as_str().unwrap().to_owned();
    assert_conflict(
        &retry(&api, &first_id).await,
        "only a failed install can be retried",
    );
    assert_eq!(
        stack
            .wait_for_execution(first.json["execution_arn"].as_str().unwrap(), TIMEOUT)
            .await
            .unwrap(),
        "FAILED"
    );

    // Its place was given back, and taken by a new install: the retry is refused, naming it.
    let second = start(&api, &tenant_id, &account).await;
    let second_id = second.json["install_id"].as_str().unwrap().to_owned();
    assert_conflict(&retry(&api, &first_id).await, &second_id);
    assert_eq!(
        record(&api, &first_id).await["status"],
        "failed",
        "the refused retry changed nothing"
    );
    assert_eq!(
        stack
            .wait_for_execution(second.json["execution_arn"].as_str().unwrap(), TIMEOUT)
            .await
            .unwrap(),
        "FAILED"
    );

    // Free again: several retries at once start one execution, and the install holds the place.
    let before = record(&api, &first_id).await;
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let (api, id) = (api.clone(), first_id.clone());
            tokio::spawn(async move { retry(&api, &id).await })
        })
        .collect();
    let mut executions = Vec::new();
    for call in calls {
        let response = call.await.unwrap();
        assert_eq!(response.status, 202, "{}", response.text);
        executions.push(response.json["execution_arn"].as_str().unwrap().to_owned());
    }
    executions.dedup();
    assert_eq!(
        executions.len(),
        1,
        "one execution for one retry: {executions:?}"
    );
    let taken = api
        .post(
            "/installs",
            &json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1"}),
        )
        .await
        .unwrap();
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert!(
        taken.text.contains(&first_id),
        "the retried install holds its place again: {}",
        taken.text
    );

    // It failed at validate-trust, so every step runs again; and fails the same way.
    assert_eq!(
        stack
            .wait_for_execution(&executions[0], TIMEOUT)
            .await
            .unwrap(),
        "FAILED"
    );
    let retried = record(&api, &first_id).await;
    assert_gapless(&retried);
    let steps = steps_after(&retried, before["version"].as_u64().unwrap());
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.as_str() == "request started")
            .count(),
        1,
        "five calls, one retry: {steps:#?}"
    );
    assert!(
        steps.contains(&"validate-trust started".to_owned()),
        "{steps:#?}"
    );
    assert_eq!(
        (
            retried["status"].as_str(),
            retried["last_error"]["code"].as_str()
        ),
        (Some("failed"), Some("TrustNotReady"))
    );

    // A second failure is retried with an execution of its own.
    let again = retry(&api, &first_id).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_ne!(
        again.json["execution_arn"].as_str(),
        Some(executions[0].as_str())
    );
    stack
        .wait_for_execution(again.json["execution_arn"].as_str().unwrap(), TIMEOUT)
        .await
        .unwrap();

    // Bad ids are a 400 naming the id; unknown ones a 404.
    let bad = retry(&api, "..%2F..%2Fetc").await;
    assert_eq!(
        (bad.status, bad.error_field()),
        (400, Some("install_id")),
        "{}",
        bad.text
    );
    let unknown = retry(&api, "inst-00000000000000000000000000").await;
    assert_eq!(
        (unknown.status, unknown.error_field()),
        (404, Some("install_id")),
        "{}",
        unknown.text
    );
}
