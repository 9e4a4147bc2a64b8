//! 8. Fleet scale: one cycle of each scheduled job (trust check, sweep, version check) over a
//!    fleet of N installs seeded as records (70 % ready, 20 % removed and 10 % failed after
//!    building) for one tenant across customer accounts with real access stacks, twenty
//!    installs per account (one per region, as the API allows). Each cycle is fired as its
//!    EventBridge schedule fires it; the bench waits until the job's queue is empty, then reads
//!    every seeded install's record: how many were checked, the longest any waited, how many
//!    checks one account saw at once (its AssumeRole calls overlapping), the AWS calls per
//!    install, and the cycle's modelled bill (Lambda, SQS FIFO, DynamoDB; STS is free).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use byoc_core::store::InstallStore;
use byoc_domain::ids::{AccountId, Region, TenantId};
use byoc_domain::model::{Install, InstallStatus};
use byoc_domain::options::InstallOptions;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use super::bill::{table_items, table_schemas};
use super::dynamodb_units::{Estimator, Units};
use super::prices;
use super::recording::{tally, Caller};
use super::session::Session;
use crate::invoke::invoke;

/// Installs per customer account: one per region.
pub const PER_ACCOUNT: usize = 20;
const REGIONS: [&str; PER_ACCOUNT] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
    "eu-south-1",
    "ap-east-1",
    "me-south-1",
];
/// The opt-in regions among `REGIONS`.
const OPT_IN: [&str; 3] = ["eu-south-1", "ap-east-1", "me-south-1"];
/// SQS FIFO requests (a batch of up to ten counts as one request, per 64 KB).
pub static SQS_FIFO_REQUEST: prices::Price = prices::Price {
    what: "SQS FIFO queue request",
    usd: 0.50 / 1_000_000.0,
    unit: "request",
    quoted: "$0.50 per 1M (after the free 1M a month)",
    source: "https://aws.amazon.com/sqs/pricing/",
};

/// One scheduled job, as the bench fires it.
pub struct Job {
    pub name: &'static str,
    pub function: &'static str,
    pub queue_suffix: &'static str,
    /// Where its check records `checked_at` on the install.
    pub record_key: &'static str,
}

pub const JOBS: [Job; 3] = [
    Job {
        name: "trust check",
        function: "validate-trust",
        queue_suffix: "trust-check.fifo",
        record_key: "trust_check",
    },
    Job {
        name: "sweep",
        function: "sweep-dangling",
        queue_suffix: "sweep.fifo",
        record_key: "scheduled_sweep",
    },
    Job {
        name: "version check",
        function: "upgrade-cluster",
        queue_suffix: "version-check.fifo",
        record_key: "version_check",
    },
];

#[derive(Debug, Clone, Default)]
pub struct Cycle {
    pub job: &'static str,
    /// Seeded installs the job owes a check (by status and record).
    pub owed: usize,
    /// What the enumeration sent (the whole table's, other installs included: none here).
    pub dispatched: u64,
    /// Installs the enumeration listed (sent or passed over).
    pub enumerated: usize,
    pub enumeration_seconds: f64,
    /// From the schedule's event to the queue being empty.
    pub coverage_seconds: f64,
    pub checked: usize,
    /// The latest check of a seeded install after the event fired.
    pub longest_wait_seconds: f64,
    /// The most AssumeRole calls into one account at one moment.
    pub most_at_once_per_account: usize,
    /// The most into all accounts at one moment.
    pub most_at_once: usize,
    pub calls: BTreeMap<String, usize>,
    pub lambda_requests: usize,
    pub gb_seconds: f64,
    pub sqs_requests: usize,
    pub dynamodb: Units,
}

impl Cycle {
    pub fn calls_total(&self) -> usize {
        self.calls.values().sum()
    }

    pub fn calls_per_install(&self) -> f64 {
        self.calls_total() as f64 / self.per_install_base() as f64
    }

    /// What the cycle's cost is spread over: the installs it sent to its queue, or, when it
    /// sent none (the version check with nothing due), those it enumerated.
    pub fn per_install_base(&self) -> usize {
        // An enumeration that continued through the queue reports its first part only: what
        // was checked counts then.
        let sent = (self.dispatched as usize).max(self.checked);
        if sent > 0 {
            sent
        } else {
            self.enumerated.max(1)
        }
    }

    /// The cycle's modelled bill, by line.
    pub fn lines(&self) -> Vec<(&'static prices::Price, f64)> {
        vec![
            (&prices::LAMBDA_REQUEST, self.lambda_requests as f64),
            (&prices::LAMBDA_ARM_GB_SECOND, self.gb_seconds),
            (&SQS_FIFO_REQUEST, self.sqs_requests as f64),
            (&prices::DYNAMODB_READ_UNIT, self.dynamodb.read_units),
            (&prices::DYNAMODB_WRITE_UNIT, self.dynamodb.write_units),
        ]
    }

    pub fn usd(&self) -> f64 {
        self.lines().iter().map(|(p, q)| p.usd * q).sum()
    }
}

#[derive(Debug, Clone, Default)]
pub struct FleetRun {
    pub size: usize,
    pub accounts: usize,
    pub seeding_seconds: f64,
    pub cycles: Vec<Cycle>,
    /// Jobs not run at this size.
    pub skipped: Vec<&'static str>,
}

/// Seeds `size` installs and runs one cycle of every job over them; the sweep only up to
/// `sweep_up_to` installs (each pass is some 45 AWS calls: thousands of them take the emulator
/// long).
pub async fn measure(
    session: &Session,
    size: usize,
    sweep_up_to: usize,
) -> Result<FleetRun, String> {
    let started = Instant::now();
    let accounts = size.div_ceil(PER_ACCOUNT);
    // Every account of the bench has enabled its opt-in regions (the stack refuses calls
    // into an opt-in region an account has not enabled, as AWS does).
    let opted_in: Vec<&str> = REGIONS
        .iter()
        .copied()
        .filter(|r| OPT_IN.contains(r))
        .collect();
    session
        .stack
        .steer("regions", "default", json!({"opted_in": opted_in}))
        .await?;
    let place = session.place("fleet", accounts).await?;
    let store = InstallStore::new(
        session.observer.dynamodb(),
        &session.stack.outputs.table_name,
    );
    let seeded: Vec<Result<(String, InstallStatus), String>> = stream::iter(0..size)
        .map(|n| {
            let (store, tenant) = (&store, &place.tenant_id);
            let account = &place.accounts[n / PER_ACCOUNT];
            async move { seed_one(store, tenant, account, REGIONS[n % PER_ACCOUNT], n).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let seeded: Vec<(String, InstallStatus)> = seeded.into_iter().collect::<Result<_, _>>()?;
    let mut run = FleetRun {
        size,
        accounts,
        seeding_seconds: started.elapsed().as_secs_f64(),
        cycles: vec![],
        skipped: vec![],
    };
    for job in &JOBS {
        if job.function == "sweep-dangling" && size > sweep_up_to {
            eprintln!(
                "    {} skipped at {size} installs (--fleet-sweep-up-to {sweep_up_to})",
                job.name
            );
            run.skipped.push(job.name);
            continue;
        }
        eprintln!("    {} over {size} installs", job.name);
        run.cycles
            .push(cycle(session, job, &place.tenant_id, &place.accounts, &seeded).await?);
    }
    Ok(run)
}

/// One install: 70 % ready (Kubernetes 1.34, supported until 2027-12-01: no notice due for
/// months, as for most of a fleet), 20 % removed and 10 % failed, both after building a network.
async fn seed_one(
    store: &InstallStore,
    tenant: &str,
    account: &str,
    region: &str,
    n: usize,
) -> Result<(String, InstallStatus), String> {
    let (mut install, first) = Install::requested(
        TenantId::parse("tenant_id", tenant).map_err(|e| e.to_string())?,
        AccountId::parse("account_id", account).map_err(|e| e.to_string())?,
        Region::parse("region", region).map_err(|e| e.to_string())?,
        InstallOptions::default(),
        Utc::now(),
    )
    .map_err(|e| e.to_string())?;
    install.status = match n % 10 {
        0 => InstallStatus::Failed,
        1 | 2 => InstallStatus::Removed,
        _ => InstallStatus::Ready,
    };
    if install.status == InstallStatus::Ready {
        install
            .resources
            .insert("kubernetes_version".into(), "1.34".into());
        install.step_data.insert(
            byoc_domain::cluster_plan::CLUSTER_KEY.into(),
            json!({"support": {"policy": "STANDARD", "end_of_standard_support": "2027-12-01"}}),
        );
    } else {
        install
            .resources
            .insert("vpc_id".into(), "vpc-0000000000000000f".into());
    }
    store
        .create_install(&install, &first)
        .await
        .map_err(|e| e.to_string())?;
    Ok((install.install_id.to_string(), install.status))
}

async fn cycle(
    session: &Session,
    job: &Job,
    tenant: &str,
    accounts: &[String],
    seeded: &[(String, InstallStatus)],
) -> Result<Cycle, String> {
    let owed_statuses: &[InstallStatus] = match job.function {
        "sweep-dangling" => &[InstallStatus::Failed, InstallStatus::Removed],
        "validate-trust" => &[InstallStatus::Ready],
        // The version check queues only installs with something due: none of these.
        _ => &[],
    };
    let owed = seeded
        .iter()
        .filter(|(_, s)| owed_statuses.contains(s))
        .count();
    let mut estimator = Estimator::new(table_schemas(session).await?);
    for (table, items) in table_items(session).await? {
        estimator.seed(&table, items);
    }
    let cursor = session.logs.cursor();
    session.recorder.start().await?;
    session.recorder.mark("fleet-begin").await?;
    let fired = Utc::now();
    let begun = Instant::now();
    let account = &session.stack.outputs.vendor_account_id;
    let event = json!({
        "version": "0", "id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": account, "time": fired.to_rfc3339(), "region": session.stack.outputs.region, "resources": [], "detail": {}
    });
    let report = invoke(&session.stack, job.function, &event)
        .await
        .map_err(|e| format!("{}: the scheduled run failed: {e:?}", job.name))?;
    let enumeration_seconds = begun.elapsed().as_secs_f64();
    let dispatched = report["dispatched"]["dispatched"].as_u64().unwrap_or(0);
    let enumerated =
        dispatched as usize + report["dispatched"]["passed_over"].as_u64().unwrap_or(0) as usize;
    // The vendor stack's name, as its function names carry it ("<stack>-validate-trust").
    let function_name = session
        .stack
        .outputs
        .functions
        .get(job.function)
        .ok_or_else(|| format!("outputs.json names no {} function", job.function))?;
    let stack_name = function_name.trim_end_matches(&format!("-{}", job.function));
    let queue = format!("{stack_name}-{}", job.queue_suffix);
    wait_empty(session, &queue, Duration::from_secs(600 + owed as u64)).await?;
    let coverage_seconds = begun.elapsed().as_secs_f64();
    session.recorder.mark("fleet-end").await?;
    let recording = session.recorder.stop().await?;
    let calls = recording.window("fleet-begin", "fleet-end");
    for call in calls.iter().filter(|c| c.caller == Caller::Vendor) {
        estimator.add(call);
    }
    let since = session.logs.since(&cursor);
    let invocations: Vec<_> = since
        .invocations
        .iter()
        .filter(|i| i.function == job.function)
        .collect();
    let sent = calls
        .iter()
        .filter(|c| {
            c.caller == Caller::Vendor && c.service == "sqs" && c.action.starts_with("SendMessage")
        })
        .count();
    let deleted = calls
        .iter()
        .filter(|c| c.caller == Caller::Vendor && c.service == "sqs" && c.action == "DeleteMessage")
        .count();
    // Lambda's poller: one ReceiveMessage per batch (inside the emulator, not recorded).
    let batches = invocations.len().saturating_sub(1);
    let checked_at = checked_times(session, tenant, job.record_key).await?;
    let checked: Vec<&DateTime<Utc>> = checked_at.values().filter(|t| **t >= fired).collect();
    let longest = checked
        .iter()
        .map(|t| (**t - fired).num_milliseconds())
        .max()
        .unwrap_or(0);
    let (per_account, overall) = overlaps(session, accounts, fired);
    Ok(Cycle {
        job: job.name,
        owed,
        dispatched,
        enumerated,
        enumeration_seconds,
        coverage_seconds,
        checked: checked.len(),
        longest_wait_seconds: longest as f64 / 1000.0,
        most_at_once_per_account: per_account,
        most_at_once: overall,
        calls: tally(&calls, |c| matches!(c, Caller::Vendor | Caller::Customer)),
        lambda_requests: invocations.len(),
        gb_seconds: invocations.iter().map(|i| i.gb_seconds()).sum(),
        sqs_requests: sent + deleted + batches,
        dynamodb: estimator.units.clone(),
    })
}

/// Waits until the queue holds no message, visible or in flight (twice in a row).
async fn wait_empty(session: &Session, queue: &str, max: Duration) -> Result<(), String> {
    let sqs = aws_sdk_sqs::Client::new(&session.observer.config);
    let url = sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .map_err(|e| format!("GetQueueUrl {queue}: {e:?}"))?
        .queue_url
        .unwrap_or_default();
    let give_up = Instant::now() + max;
    let mut empty_in_a_row = 0;
    while empty_in_a_row < 2 {
        if Instant::now() > give_up {
            return Err(format!("{queue} still held messages after {max:?}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| format!("GetQueueAttributes {queue}: {e:?}"))?;
        let count = |name: aws_sdk_sqs::types::QueueAttributeName| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let left = count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
        empty_in_a_row = if left == 0 { empty_in_a_row + 1 } else { 0 };
    }
    Ok(())
}

/// Each seeded install's `step_data.<key>.checked_at`, by install id (one paged scan).
async fn checked_times(
    session: &Session,
    tenant: &str,
    key: &str,
) -> Result<BTreeMap<String, DateTime<Utc>>, String> {
    let dynamodb = session.observer.dynamodb();
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(&session.stack.outputs.table_name)
            .filter_expression("tenant_id = :t AND sk = :meta")
            .expression_attribute_values(
                ":t",
                aws_sdk_dynamodb::types::AttributeValue::S(tenant.into()),
            )
            .expression_attribute_values(
                ":meta",
                aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| format!("scan: {e:?}"))?;
        for item in page.items() {
            let id = item
                .get("install_id")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let at = item
                .get("step_data")
                .and_then(|v| v.as_m().ok())
                .and_then(|m| m.get(key))
                .and_then(|v| v.as_m().ok())
                .and_then(|m| m.get("checked_at"))
                .and_then(|v| v.as_s().ok())
                .and_then(|t| t.parse().ok());
            if let Some(at) = at {
                out.insert(id, at);
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// The most AssumeRole calls in flight at once into one of `accounts`, and into all of them,
/// from the local STS's log.
fn overlaps(session: &Session, accounts: &[String], since: DateTime<Utc>) -> (usize, usize) {
    let since = since.timestamp_millis() as f64 / 1000.0;
    let mut by_account: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for entry in session.stack.assume_role_log() {
        let (Some(role), Some(start), Some(end)) = (
            entry["role"].as_str(),
            entry["started"].as_f64(),
            entry["ended"].as_f64(),
        ) else {
            continue;
        };
        let Some(account) = accounts.iter().find(|a| role.contains(&format!(":{a}:"))) else {
            continue;
        };
        if start >= since {
            by_account
                .entry(account.clone())
                .or_default()
                .push((start, end));
        }
    }
    let most = |calls: &[(f64, f64)]| {
        calls
            .iter()
            .map(|(start, _)| {
                calls
                    .iter()
                    .filter(|(s, e)| s <= start && start < e)
                    .count()
            })
            .max()
            .unwrap_or(0)
    };
    let per_account = by_account.values().map(|c| most(c)).max().unwrap_or(0);
    let all: Vec<(f64, f64)> = by_account.into_values().flatten().collect();
    (per_account, most(&all))
}
