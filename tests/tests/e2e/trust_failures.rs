//! Trust failures, as the customer and the vendor see them: an access stack made for another
//! vendor's account fails the install with what to do; and the scheduled trust check (the
//! event an EventBridge schedule sends to validate-trust, through the Lambda Invoke API) flags
//! a ready install whose access stack was deleted or whose role was weakened — on the install,
//! once on its timeline, in one email — and records it ok again once the customer repairs it.
//!
//! Every scheduled run walks every ready install in the table (a bounded number per run,
//! carrying on where the last stopped; one run at a time), so the tests invoke it until their
//! installs have been checked after the moment that matters to them.

use std::time::Duration;

use aws_sdk_cloudformation::types::StackStatus;
use byoc_e2e::installed::{install_with, place, Place};
use byoc_e2e::scheduled::ScheduledJob;
use byoc_e2e::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The scheduled trust check, as its EventBridge schedule runs it.
pub(crate) const TRUST_CHECK: ScheduledJob = ScheduledJob {
    function: "validate-trust",
    rule: "byoc-trust-check",
    record_key: "trust_check",
    max_runs: 30,
};
/// How long a test waits for an email it expects, and for one it expects not to come.
const EMAIL_WAIT: Duration = Duration::from_secs(20);
const NO_EMAIL_WAIT: Duration = Duration::from_secs(3);

fn trust_check(record: &Value) -> &Value {
    &record["step_data"]["trust_check"]
}

/// The timeline entries the scheduled trust check wrote.
fn trust_events(record: &Value) -> Vec<(String, String)> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["step"] == "validate-trust"
                && e["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("scheduled trust check")
        })
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A ready install in a new place; the ready email is read off the inbox.
async fn ready_install(stack: &LocalStack, api: &Api, prefix: &str) -> (Place, String) {
    let place = place(stack, api, prefix).await;
    let (id, execution, record) = install_with(stack, api, &place, json!({})).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    let ready = place.inbox.wait_for(1, EMAIL_WAIT).await.unwrap();
    assert_eq!(ready.len(), 1, "{ready:?}");
    (place, id)
}

async fn delete_access_stack(stack: &LocalStack, account: &str) {
    let cloudformation = stack.customer(account).cloudformation();
    cloudformation
        .delete_stack()
        .stack_name(&stack.outputs.customer_stack_name)
        .send()
        .await
        .unwrap();
    for _ in 0..300 {
        let out = cloudformation
            .describe_stacks()
            .stack_name(&stack.outputs.customer_stack_name)
            .send()
            .await;
        let status = out
            .ok()
            .and_then(|o| o.stacks().first().and_then(|s| s.stack_status().cloned()));
        if matches!(status, None | Some(StackStatus::DeleteComplete)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let role = stack
        .customer(account)
        .iam()
        .get_role()
        .role_name(&stack.outputs.customer_role_name)
        .send()
        .await;
    assert!(role.is_err(), "deleting the access stack deletes its role");
}

async fn external_id(api: &Api, tenant_id: &str) -> String {
    let tenant = api.get(&format!("/tenants/{tenant_id}")).await.unwrap();
    assert_eq!(tenant.status, 200, "{}", tenant.text);
    tenant.json["external_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stack_made_for_another_vendor_fails_the_install_and_the_email_says_to_make_it_again() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let tenant_id = random_tenant_id("othervendor");
    let account = random_account_id();
    let created = api.post("/tenants", &json!({"tenant_id": tenant_id, "name": "Customer Co", "email": "ops@customer.example"})).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let external_id = created.json["external_id"].as_str().unwrap().to_owned();
    let inbox = Inbox::for_tenant(&stack, &tenant_id).await.unwrap();
    // The customer filled in someone else's account id: the role trusts that account only.
    let another_vendor = "210987654321";
    assert_ne!(another_vendor, stack.outputs.vendor_account_id);
    let customer = stack.customer(&account);
    customer
        .create_access_stack(another_vendor, &external_id)
        .await
        .unwrap();
    let role = customer
        .iam()
        .get_role()
        .role_name(&stack.outputs.customer_role_name)
        .send()
        .await
        .unwrap();
    // (IAM may hand the document back URL-encoded; the account id reads the same either way.)
    let trust = role.role().unwrap().assume_role_policy_document().unwrap();
    assert!(
        trust.contains(another_vendor) && !trust.contains(&stack.outputs.vendor_account_id),
        "{trust}"
    );

    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "us-east-1", "options": {"node_desired_size": 2, "node_max_size": 2}});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await
        .unwrap();
    let id = accepted.json["install_id"].as_str().unwrap();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;

    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("FAILED", Some("failed")),
        "{record:#}"
    );
    assert_eq!(record["last_error"]["code"], "TrustNotReady");
    assert_eq!(record["last_error"]["step"], "validate-trust");
    let message = record["last_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not assume role") && message.contains("VendorAccountId"),
        "{message}"
    );
    assert!(
        record["resources"].get("vpc_id").is_none(),
        "nothing was built: {record:#}"
    );

    let emails = inbox.wait_for(1, EMAIL_WAIT).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(
        emails[0].subject,
        format!(
            "Action needed: Example Vendor install in AWS account {account} in us-east-1 failed"
        )
    );
    let email = &emails[0].body;
    assert!(
        email.contains(
            "ExternalId and VendorAccountId parameters must be exactly as the link filled them in"
        ),
        "{email}"
    );
    assert!(
        email.contains(
            "another vendor's account id), delete it and create it again from the install link"
        ),
        "{email}"
    );
    assert!(email.contains(&format!("retry install {id}")), "{email}");
    assert!(
        !email.contains(&external_id),
        "the External ID stays out of the email"
    );
}

#[tokio::test]
async fn a_deleted_access_stack_is_flagged_once_and_cleared_when_it_is_made_again() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (gone, gone_id) = ready_install(&stack, &api, "trustgone").await;
    let (kept, kept_id) = ready_install(&stack, &api, "trustkept").await;

    let deleting = Utc::now();
    delete_access_stack(&stack, &gone.account).await;
    let since = Utc::now();
    let [record, other] = <[Value; 2]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&gone_id, &kept_id], since)
            .await,
    )
    .unwrap();

    // Flagged on the install, which stays ready (nothing in the account changed).
    assert_eq!(record["status"], "ready");
    let check = trust_check(&record);
    assert_eq!(check["status"], "lost", "{check:#}");
    let reason = check["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "could not assume role arn:aws:iam::{}:role/byoc/{}",
            gone.account, stack.outputs.customer_role_name
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "access stack \"{}\" was deleted",
            stack.outputs.customer_stack_name
        )),
        "{reason}"
    );
    // Since the first check that saw it gone: ours, or another test's run that came first.
    let lost_since: DateTime<Utc> = check["since"].as_str().unwrap().parse().unwrap();
    assert!(
        deleting <= lost_since && Some(lost_since) <= TRUST_CHECK.checked_at(&record),
        "{check:#}"
    );
    // The other install was checked in the same walk: one lost role stops nothing.
    assert_eq!(
        trust_check(&other)["status"],
        "ok",
        "{:#}",
        trust_check(&other)
    );
    assert!(
        trust_events(&other).is_empty(),
        "an ok install's timeline hears nothing: {:?}",
        trust_events(&other)
    );

    let events = trust_events(&record);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].0, "waiting", "an Action Needed entry");
    assert!(
        events[0].1.starts_with(&format!(
            "scheduled trust check: access to account {} is lost: could not assume role",
            gone.account
        )),
        "{}",
        events[0].1
    );
    assert!(
        events[0].1.contains("customer emailed (SNS message "),
        "{}",
        events[0].1
    );

    let emails = gone.inbox.wait_for(1, EMAIL_WAIT).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(
        emails[0].subject,
        format!(
            "Action needed: Example Vendor lost access to your AWS account {} in us-east-1",
            gone.account
        )
    );
    let body = &emails[0].body;
    assert!(
        body.contains(&format!(
            "create the CloudFormation stack \"{}\" again from the install link",
            stack.outputs.customer_stack_name
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!("ask Example Vendor to remove install {gone_id}")),
        "{body}"
    );
    assert!(
        emails[0]
            .attributes
            .contains(&"notice=trust-lost".to_owned()),
        "{:?}",
        emails[0].attributes
    );
    let external_id = external_id(&api, &gone.tenant_id).await;
    assert!(!body.contains(&external_id) && !reason.contains(&external_id));
    assert!(
        kept.inbox
            .wait_for(1, NO_EMAIL_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "the other customer hears nothing"
    );

    // Still gone at the next check: recorded, but said once.
    let again_since = Utc::now();
    let [again] = <[Value; 1]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&gone_id], again_since)
            .await,
    )
    .unwrap();
    assert_eq!(trust_check(&again)["status"], "lost");
    assert_eq!(
        trust_check(&again)["since"],
        check["since"],
        "since the first check that saw it"
    );
    assert_eq!(trust_events(&again), events, "no new timeline entry");
    assert!(
        gone.inbox
            .wait_for(1, NO_EMAIL_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "no second email"
    );

    // The customer makes the stack again from the link: ok, once on the timeline, no email.
    stack
        .customer(&gone.account)
        .create_access_stack(&stack.outputs.vendor_account_id, &external_id)
        .await
        .unwrap();
    let back_since = Utc::now();
    let [back] = <[Value; 1]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&gone_id], back_since)
            .await,
    )
    .unwrap();
    assert_eq!(
        trust_check(&back)["status"],
        "ok",
        "{:#}",
        trust_check(&back)
    );
    assert!(trust_check(&back).get("reason").is_none());
    let events = trust_events(&back);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1], ("succeeded".to_owned(), format!("scheduled trust check: access to account {} works again and the role is as the template makes it", gone.account)));
    assert!(
        gone.inbox
            .wait_for(1, NO_EMAIL_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "recovery is not emailed"
    );
    assert_eq!(back["status"], "ready");
}

#[tokio::test]
async fn a_role_weakened_after_the_install_is_flagged_and_the_customer_told_how_to_fix_it() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let (place, id) = ready_install(&stack, &api, "trustweak").await;
    let iam = stack.customer(&place.account).iam();
    let vendor = &stack.outputs.vendor_account_id;

    // The customer drops the External ID condition: the vendor still gets in, anyone at the
    // vendor without the External ID would too.
    let without_external_id = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{vendor}:root")}, "Action": "sts:AssumeRole"}]});
    iam.update_assume_role_policy()
        .role_name(&stack.outputs.customer_role_name)
        .policy_document(without_external_id.to_string())
        .send()
        .await
        .unwrap();
    let since = Utc::now();
    let [record] = <[Value; 1]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&id], since)
            .await,
    )
    .unwrap();
    let check = trust_check(&record);
    assert_eq!(check["status"], "weakened", "{check:#}");
    assert!(
        check["reason"]
            .as_str()
            .unwrap()
            .contains("no StringEquals condition on sts:ExternalId"),
        "{check:#}"
    );
    let events = trust_events(&record);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(
        events[0].1.starts_with(&format!(
            "scheduled trust check: the access role in account {} is weakened: role arn:aws:iam::",
            place.account
        )),
        "{}",
        events[0].1
    );

    let emails = place.inbox.wait_for(1, EMAIL_WAIT).await.unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].subject, format!("Action needed: the access role of Example Vendor in your AWS account {} is no longer safe", place.account));
    assert!(
        emails[0]
            .body
            .contains("no StringEquals condition on sts:ExternalId"),
        "{}",
        emails[0].body
    );
    assert!(
        emails[0].body.contains("from the install link"),
        "{}",
        emails[0].body
    );

    // Another account trusted as well (External ID back): still weakened, for another reason;
    // the status did not change, so the timeline and the inbox hear nothing new.
    let external_id = external_id(&api, &place.tenant_id).await;
    let two_accounts = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{vendor}:root"), "arn:aws:iam::999988887777:root"]}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]});
    iam.update_assume_role_policy()
        .role_name(&stack.outputs.customer_role_name)
        .policy_document(two_accounts.to_string())
        .send()
        .await
        .unwrap();
    let [again] = <[Value; 1]>::try_from(
        TRUST_CHECK
            .run_until_checked(&stack, &api, &[&id], Utc::now())
            .await,
    )
    .unwrap();
    assert_eq!(trust_check(&again)["status"], "weakened");
    assert!(
        trust_check(&again)["reason"]
            .as_str()
            .unwrap()
            .contains("also trusts arn:aws:iam::999988887777:root"),
        "{:#}",
        trust_check(&again)
    );
    assert_eq!(trust_events(&again).len(), 1);
    assert!(place
        .inbox
        .wait_for(1, NO_EMAIL_WAIT)
        .await
        .unwrap()
        .is_empty());
    assert!(
        !again.to_string().contains(&external_id),
        "the External ID stays out of the record"
    );
}

/// Runs of one scheduled job never overlap (two checks of one install at once would both
/// announce its change): the lease on the local DynamoDB, under a job name of this test's own.
#[tokio::test]
async fn scheduled_runs_of_a_job_never_overlap() {
    use byoc_core::schedule::{ScheduleSettings, ScheduledRun};
    use byoc_core::store::InstallStore;
    use byoc_domain::model::InstallStatus;
    use std::time::Instant;

    let stack = LocalStack::connect().await.unwrap();
    let store = InstallStore::new(stack.dynamodb(), &stack.outputs.table_name);
    let job = random_tenant_id("lease-test");
    let now = Utc::now();
    let minute = chrono::Duration::seconds(60);
    assert!(store
        .claim_schedule(&job, "run-a", now, now + minute)
        .await
        .unwrap());
    assert!(
        !store
            .claim_schedule(&job, "run-b", now, now + minute)
            .await
            .unwrap(),
        "run-a holds it"
    );
    store.release_schedule(&job, "run-b").await.unwrap();
    assert!(
        !store
            .claim_schedule(&job, "run-b", now, now + minute)
            .await
            .unwrap(),
        "only the holder lets go"
    );

    let settings = ScheduleSettings {
        check_timeout: Duration::from_secs(5),
        reserve: Duration::ZERO,
    };
    let run = ScheduledRun {
        job: &job,
        statuses: &[InstallStatus::Ready],
        settings: &settings,
        deadline: Instant::now() + Duration::from_secs(20),
    };
    let ran = run.alone(&store, || async { Ok(()) }).await.unwrap();
    assert!(
        ran.is_none(),
        "another run is under way: this one does nothing"
    );

    store.release_schedule(&job, "run-a").await.unwrap();
    run.alone(&store, || async { Ok(()) })
        .await
        .unwrap()
        .expect("free: this run goes ahead");
    assert!(
        store
            .claim_schedule(&job, "run-c", Utc::now(), Utc::now() + minute)
            .await
            .unwrap(),
        "the run let go when done"
    );
    // A run that crashed holds the job until its lease expires, no longer.
    assert!(!store
        .claim_schedule(&job, "run-d", Utc::now(), Utc::now() + minute)
        .await
        .unwrap());
    assert!(store
        .claim_schedule(
            &job,
            "run-d",
            Utc::now() + minute + chrono::Duration::seconds(2),
            Utc::now() + minute * 2
        )
        .await
        .unwrap());
}
