//! 2. The bill of one modelled real install: production options (a new account is short of
//!    vCPUs, so a quota increase is requested), EKS creating the cluster for 12 minutes and the
//!    node group for 3, NAT gateways pending for 2, AWS approving the quota after 10.
//!
//! The emulator's waits count polls, not seconds, and the bench cannot wait 12 real minutes:
//! the watcher (watch-install) checks a wait on the schedule of byoc_domain::watch_schedule at
//! the production intervals (`ResourcePollSeconds` / `QuotaPollSeconds`), so a wait of W
//! seconds is seen by as many checks as that schedule places before W; the emulator is steered
//! to that many, and the bench stack checks every second. Nothing billed depends on the
//! interval, only on the number of checks; the checks made are read back from the watcher's
//! log lines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::dynamodb_units::{Estimator, Schema, Units};
use super::function_logs::{Cursor, Invocation};
use super::history::History;
use super::lag::WatchCheck;
use super::prices::{self, Price};
use super::recording::{tally, Call, Caller};
use super::session::{Session, INSTALL_TIMEOUT};
use byoc_domain::watch_schedule::{delay_before, WatchKind};

/// The real-world waits modelled, and the production poll intervals (cfn/vendor.yaml).
#[derive(Debug, Clone)]
pub struct Model {
    pub cluster_seconds: u64,
    pub nat_seconds: u64,
    pub nodegroup_seconds: u64,
    pub quota_seconds: u64,
    pub resource_poll_seconds: u64,
    pub quota_poll_seconds: u64,
}

impl Model {
    pub fn new(resource_poll_seconds: u64, quota_poll_seconds: u64) -> Self {
        Self {
            cluster_seconds: 12 * 60,
            nat_seconds: 2 * 60,
            nodegroup_seconds: 3 * 60,
            quota_seconds: 10 * 60,
            resource_poll_seconds,
            quota_poll_seconds,
        }
    }

    /// Polls that see a resource still being made: ceil(W / P).
    pub fn polls(wait: u64, every: u64) -> u64 {
        wait.div_ceil(every.max(1))
    }

    /// Checks of a watch that begins when the resource is requested and see it still being
    /// made for `wait` seconds: the immediate one and those the schedule places before `wait`.
    pub fn checks_before(kind: WatchKind, wait: u64, poll: u64) -> u64 {
        let (mut at, mut checks) = (0u64, 0u64);
        while at < wait {
            checks += 1;
            at += delay_before(kind, checks as u32, poll);
        }
        checks
    }
}

/// One priced line of the bill.
#[derive(Debug, Clone)]
pub struct Line {
    pub price: &'static Price,
    pub quantity: f64,
}

impl Line {
    pub fn usd(&self) -> f64 {
        self.quantity * self.price.usd
    }
}

/// A window's costs; `M` is what was modelled (the install's waits, or an upgrade's).
#[derive(Debug, Clone)]
pub struct Bill<M = Model> {
    pub model: M,
    pub install_id: String,
    pub history: History,
    /// The watcher's checks of the install's waits, in order.
    pub checks: Vec<WatchCheck>,
    pub invocations: Vec<Invocation>,
    pub dynamodb: Units,
    pub sns_publishes: usize,
    pub events: usize,
    pub log_bytes: u64,
    /// AWS calls the functions made, by `service:Action`, in the vendor's and the customer's account.
    pub vendor_calls: BTreeMap<String, usize>,
    pub customer_calls: BTreeMap<String, usize>,
    pub unreadable: usize,
    pub lines: Vec<Line>,
}

impl<M> Bill<M> {
    pub fn total_usd(&self) -> f64 {
        self.lines.iter().map(Line::usd).sum()
    }

    pub fn line(&self, price: &Price) -> Option<&Line> {
        self.lines.iter().find(|l| l.price.what == price.what)
    }

    pub fn gb_seconds(&self) -> f64 {
        self.invocations.iter().map(Invocation::gb_seconds).sum()
    }

    /// Per function: (invocations, GB-seconds, median milliseconds).
    pub fn by_function(&self) -> BTreeMap<String, (usize, f64, f64)> {
        let mut out: BTreeMap<String, (usize, f64, Vec<f64>)> = BTreeMap::new();
        for inv in &self.invocations {
            let entry = out.entry(inv.function.clone()).or_default();
            entry.0 += 1;
            entry.1 += inv.gb_seconds();
            entry.2.push(inv.duration_ms);
        }
        out.into_iter()
            .map(|(f, (n, gbs, ms))| (f, (n, gbs, super::stats::median(&ms).unwrap_or(0.0))))
            .collect()
    }
}

pub async fn measure(session: &Session, model: Model) -> Result<Bill, String> {
    let place = session.place("bench-bill", 1).await?;
    let account = &place.accounts[0];
    let (p, q) = (model.resource_poll_seconds, model.quota_poll_seconds);
    // The cluster is requested by CreateCluster, then watched from the start: every check
    // before it is up sees CREATING. The node group is requested by the check that sees the
    // cluster ACTIVE (by then the schedule is at P), so ceil(W/P) - 1 later checks see it
    // creating. NAT gateways are requested by CreateNetwork just before and checked by every
    // watch check (create-network runs first in each).
    let cluster_creating = Model::checks_before(WatchKind::Cluster, model.cluster_seconds, p);
    let nodegroup_creating = Model::polls(model.nodegroup_seconds, p).saturating_sub(1);
    let nat_pending = Model::checks_before(WatchKind::Cluster, model.nat_seconds, p);
    session.stack.steer("eks", account, json!({"cluster_creating_polls": cluster_creating, "nodegroup_creating_polls": nodegroup_creating, "addon_creating_polls": 0})).await?;
    session
        .stack
        .steer("nat", account, json!({"pending_polls": nat_pending}))
        .await?;
    // RequestQuota files the requests; the watch then looks at once and every Q seconds, so
    // the look that sees the approval is the first at or after W.
    let outcome = json!({"decision": "approve", "after_polls": Model::checks_before(WatchKind::Quota, model.quota_seconds, q) + 1});
    session
        .stack
        .steer(
            "service_quotas",
            account,
            json!({"outcomes": {"L-1216C47A": outcome}}),
        )
        .await?;

    let meter = Meter::begin(session).await?;
    let started = session.start(&place.tenant_id, account, &json!({})).await?;
    session
        .email(&place.inbox, &started.install_id, "ready", INSTALL_TIMEOUT)
        .await?;
    let (status, history) = session.finished(&started.execution_arn).await?;
    // One API Gateway request: POST /installs.
    let bill = meter
        .finish(session, model, started.install_id, history, 1)
        .await?;
    if status != "SUCCEEDED" {
        return Err(format!(
            "the modelled install {} ended {status}",
            bill.install_id
        ));
    }
    Ok(bill)
}

/// What one measured window costs: opened before the work is started, closed after it ended
/// (the install's, or an upgrade's), so every bill is counted and priced the same way.
pub struct Meter {
    estimator: Estimator,
    cursor: Cursor,
    watcher_log: Option<PathBuf>,
    watcher_offset: u64,
}

impl Meter {
    /// Seeds the item sizes from the table and starts recording the calls made.
    pub async fn begin(session: &Session) -> Result<Self, String> {
        let mut estimator = Estimator::new(table_schemas(session).await?);
        for (table, items) in table_items(session).await? {
            estimator.seed(&table, items);
        }
        session.recorder.start().await?;
        session.recorder.mark("bill-begin").await?;
        let cursor = session.logs.cursor();
        let watcher_log = session.logs.file_of("watch-install");
        let watcher_offset = watcher_log.as_deref().map_or(0, |f| cursor.offset(f));
        Ok(Self {
            estimator,
            cursor,
            watcher_log,
            watcher_offset,
        })
    }

    /// Closes the window once `history`'s execution has ended, and prices what was used in it;
    /// `api_requests` is how many API Gateway requests the window's work began with.
    pub async fn finish<M>(
        mut self,
        session: &Session,
        model: M,
        install_id: String,
        history: History,
        api_requests: usize,
    ) -> Result<Bill<M>, String> {
        // publish-events runs on the table's stream after the last step.
        session
            .logs
            .wait_quiet(
                std::time::Duration::from_secs(3),
                std::time::Duration::from_secs(60),
            )
            .await;
        session.recorder.mark("bill-end").await?;
        let recording = session.recorder.stop().await?;
        let since = session.logs.since(&self.cursor);
        let calls = recording.window("bill-begin", "bill-end");
        for call in calls.iter().filter(|c| c.caller == Caller::Vendor) {
            self.estimator.add(call);
        }
        let count = |pred: &dyn Fn(&Call) -> bool| calls.iter().filter(|c| pred(c)).count();
        let sns_publishes =
            count(&|c| c.caller == Caller::Vendor && c.service == "sns" && c.action == "Publish");
        let events: usize = calls
            .iter()
            .filter(|c| c.caller == Caller::Vendor && c.action == "PutEvents")
            .map(|c| {
                c.body
                    .as_ref()
                    .and_then(|b| b["Entries"].as_array())
                    .map_or(1, Vec::len)
            })
            .sum();
        let log_bytes: u64 = since.bytes.values().sum();
        let checks = self
            .watcher_log
            .as_deref()
            .map(|f| WatchCheck::read(f, self.watcher_offset, &install_id))
            .unwrap_or_default();
        // SQS: what the state machine and the watcher sent (recorded), and per message the
        // ReceiveMessage and DeleteMessage of Lambda's poller (inside the emulator, so counted
        // from the watcher's invocations: one message each here).
        let sqs_sent = count(&|c| {
            c.caller == Caller::Vendor && c.service == "sqs" && c.action == "SendMessage"
        });
        let watcher_invocations = since
            .invocations
            .iter()
            .filter(|i| i.function == "watch-install")
            .count();
        let sqs_requests = sqs_sent + 2 * watcher_invocations;
        let mut bill = Bill {
            checks,
            install_id,
            history,
            invocations: since.invocations,
            dynamodb: self.estimator.units.clone(),
            sns_publishes,
            events,
            log_bytes,
            vendor_calls: tally(&calls, |c| *c == Caller::Vendor),
            customer_calls: tally(&calls, |c| *c == Caller::Customer),
            unreadable: recording.unreadable,
            lines: vec![],
            model,
        };
        let api = api_requests as f64;
        let logs_gb = log_bytes as f64 / (1u64 << 30) as f64;
        bill.lines = [
            (&prices::STATE_TRANSITION, bill.history.transitions() as f64),
            (&prices::LAMBDA_REQUEST, bill.invocations.len() as f64),
            (&prices::LAMBDA_ARM_GB_SECOND, bill.gb_seconds()),
            (&prices::DYNAMODB_WRITE_UNIT, bill.dynamodb.write_units),
            (&prices::DYNAMODB_READ_UNIT, bill.dynamodb.read_units),
            (&prices::SNS_PUBLISH, sns_publishes as f64),
            // Each notice goes to the tenant's one email subscription.
            (&prices::SNS_EMAIL, sns_publishes as f64),
            (&prices::SQS_REQUEST, sqs_requests as f64),
            (&prices::EVENTBRIDGE_EVENT, events as f64),
            (&prices::API_GATEWAY_REST_REQUEST, api),
            (&prices::LOGS_INGESTED_GB, logs_gb),
        ]
        .into_iter()
        .map(|(price, quantity)| Line { price, quantity })
        .collect();
        Ok(bill)
    }
}

pub(super) async fn table_schemas(session: &Session) -> Result<BTreeMap<String, Schema>, String> {
    let table = &session.stack.outputs.table_name;
    let described = session
        .observer
        .dynamodb()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| format!("DescribeTable: {e:?}"))?;
    let description = described.table().ok_or("DescribeTable answered no table")?;
    let names = |keys: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        keys.iter()
            .map(|k| k.attribute_name().to_owned())
            .collect::<Vec<_>>()
    };
    let mut schema = Schema {
        key: names(description.key_schema()),
        ..Default::default()
    };
    for index in description.global_secondary_indexes() {
        schema.indexes.insert(
            index.index_name().unwrap_or_default().to_owned(),
            names(index.key_schema()),
        );
    }
    for index in description.local_secondary_indexes() {
        schema.indexes.insert(
            index.index_name().unwrap_or_default().to_owned(),
            names(index.key_schema()),
        );
    }
    Ok(BTreeMap::from([(table.clone(), schema)]))
}

/// Every item of the install table as DynamoDB JSON, for the item sizes.
pub(super) async fn table_items(
    session: &Session,
) -> Result<Vec<(String, Vec<Map<String, Value>>)>, String> {
    let table = &session.stack.outputs.table_name;
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = session
            .observer
            .dynamodb()
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| format!("Scan: {e:?}"))?;
        items.extend(page.items().iter().map(|item| {
            item.iter()
                .map(|(k, v)| (k.clone(), attribute_json(v)))
                .collect::<Map<_, _>>()
        }));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    Ok(vec![(table.clone(), items)])
}

/// An SDK attribute value as the wire's DynamoDB JSON.
fn attribute_json(value: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match value {
        A::S(s) => json!({"S": s}),
        A::N(n) => json!({"N": n}),
        A::Bool(b) => json!({"BOOL": b}),
        A::Null(_) => json!({"NULL": true}),
        A::B(b) => json!({"B": aws_smithy_types::base64::encode(b.as_ref())}),
        A::Ss(v) => json!({"SS": v}),
        A::Ns(v) => json!({"NS": v}),
        A::Bs(v) => {
            json!({"BS": v.iter().map(|b| aws_smithy_types::base64::encode(b.as_ref())).collect::<Vec<_>>()})
        }
        A::L(v) => json!({"L": v.iter().map(attribute_json).collect::<Vec<_>>()}),
        A::M(m) => {
            json!({"M": m.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<Map<_, _>>()})
        }
        _ => Value::Null,
    }
}
