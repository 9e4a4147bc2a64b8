//! 2. The bill of one modelled real install: production options (a new account is short of
//! vCPUs, so a quota increase is requested), EKS creating the cluster for 12 minutes and the
//! node group for 3, NAT gateways pending for 2, AWS approving the quota after 10.
//!
//! The emulator's waits count polls, not seconds, and the bench cannot wait 12 real minutes:
//! a wait of W seconds polled every P seconds (the production `ResourcePollSeconds` /
//! `QuotaPollSeconds`) is ceil(W / P) polls, the emulator is steered to that many, and the
//! bench stack polls every second. Nothing billed depends on the poll interval, only on the
//! number of polls; the polls actually made are read back from the execution history.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::dynamodb_units::{Estimator, Schema, Units};
use super::function_logs::Invocation;
use super::history::History;
use super::prices::{self, Price};
use super::recording::{tally, Call, Caller};
use super::session::{Session, INSTALL_TIMEOUT};

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

#[derive(Debug, Clone)]
pub struct Bill {
    pub model: Model,
    pub install_id: String,
    pub history: History,
    /// Wait states passed, by what was awaited.
    pub waits: BTreeMap<&'static str, usize>,
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

impl Bill {
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
    // A create answers CREATING / pending and is not a poll; each later poll (one per loop of
    // the state machine) sees the state, so ceil(W/P) loops take ceil(W/P) - 1 more "creating".
    let creating = |wait: u64| Model::polls(wait, p).saturating_sub(1);
    session.stack.steer("eks", account, json!({"cluster_creating_polls": creating(model.cluster_seconds), "nodegroup_creating_polls": creating(model.nodegroup_seconds), "addon_creating_polls": 0})).await?;
    session
        .stack
        .steer(
            "nat",
            account,
            json!({"pending_polls": creating(model.nat_seconds)}),
        )
        .await?;
    // Every look at an open request is a poll; the first look is the poll after the first wait.
    let outcome =
        json!({"decision": "approve", "after_polls": Model::polls(model.quota_seconds, q)});
    session
        .stack
        .steer(
            "service_quotas",
            account,
            json!({"outcomes": {"L-1216C47A": outcome}}),
        )
        .await?;

    let mut estimator = Estimator::new(table_schemas(session).await?);
    for (table, items) in table_items(session).await? {
        estimator.seed(&table, items);
    }
    session.recorder.start().await?;
    session.recorder.mark("bill-begin").await?;
    let cursor = session.logs.cursor();
    let started = session.start(&place.tenant_id, account, &json!({})).await?;
    session
        .email(&place.inbox, &started.install_id, "ready", INSTALL_TIMEOUT)
        .await?;
    let (status, history) = session.finished(&started.execution_arn).await?;
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
    if status != "SUCCEEDED" {
        return Err(format!(
            "the modelled install {} ended {status}",
            started.install_id
        ));
    }
    let since = session.logs.since(&cursor);
    let calls = recording.window("bill-begin", "bill-end");
    for call in calls.iter().filter(|c| c.caller == Caller::Vendor) {
        estimator.add(call);
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
    let mut bill = Bill {
        waits: classify_waits(&history),
        install_id: started.install_id,
        history,
        invocations: since.invocations,
        dynamodb: estimator.units.clone(),
        sns_publishes,
        events,
        log_bytes,
        vendor_calls: tally(&calls, |c| *c == Caller::Vendor),
        customer_calls: tally(&calls, |c| *c == Caller::Customer),
        unreadable: recording.unreadable,
        lines: vec![],
        model,
    };
    bill.lines = vec![
        Line {
            price: &prices::STATE_TRANSITION,
            quantity: bill.history.transitions() as f64,
        },
        Line {
            price: &prices::LAMBDA_REQUEST,
            quantity: bill.invocations.len() as f64,
        },
        Line {
            price: &prices::LAMBDA_ARM_GB_SECOND,
            quantity: bill.gb_seconds(),
        },
        Line {
            price: &prices::DYNAMODB_WRITE_UNIT,
            quantity: bill.dynamodb.write_units,
        },
        Line {
            price: &prices::DYNAMODB_READ_UNIT,
            quantity: bill.dynamodb.read_units,
        },
        Line {
            price: &prices::SNS_PUBLISH,
            quantity: sns_publishes as f64,
        },
        // Each notice goes to the tenant's one email subscription.
        Line {
            price: &prices::SNS_EMAIL,
            quantity: sns_publishes as f64,
        },
        Line {
            price: &prices::EVENTBRIDGE_EVENT,
            quantity: events as f64,
        },
        Line {
            price: &prices::API_GATEWAY_REST_REQUEST,
            quantity: 1.0,
        },
        Line {
            price: &prices::LOGS_INGESTED_GB,
            quantity: log_bytes as f64 / (1u64 << 30) as f64,
        },
    ];
    Ok(bill)
}

/// What each Wait state of the install waited for, from the task results before it.
pub fn classify_waits(history: &History) -> BTreeMap<&'static str, usize> {
    let mut waits: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut cluster: Option<&Value> = None;
    let mut network: Option<&Value> = None;
    for state in &history.states {
        match (state.kind.as_str(), state.name.as_str()) {
            ("Task", "CreateCluster") => cluster = state.output.as_ref(),
            ("Task", "CreateNetwork" | "PollNetwork") => network = state.output.as_ref(),
            ("Wait", "WaitForQuota") => *waits.entry("quota approval").or_default() += 1,
            ("Wait", "WaitForNetwork") => *waits.entry("subnets").or_default() += 1,
            ("Wait", _) => {
                let field = |v: Option<&Value>, k: &str| {
                    v.and_then(|v| v[k].as_str()).unwrap_or_default().to_owned()
                };
                let nat_ready = network
                    .and_then(|n| n["nat_ready"].as_bool())
                    .unwrap_or(false);
                let what = if field(cluster, "cluster_status") != "ACTIVE" {
                    "cluster creating"
                } else if !nat_ready {
                    "NAT pending (cluster active)"
                } else if field(cluster, "nodegroup_status") != "ACTIVE" {
                    "node group creating"
                } else {
                    "add-ons creating"
                };
                *waits.entry(what).or_default() += 1;
                if !nat_ready {
                    *waits.entry("of which NAT pending").or_default() += 1;
                }
            }
            _ => {}
        }
    }
    waits
}

async fn table_schemas(session: &Session) -> Result<BTreeMap<String, Schema>, String> {
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
async fn table_items(session: &Session) -> Result<Vec<(String, Vec<Map<String, Value>>)>, String> {
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
