//! 5. Throughput: N installs started at once (one tenant, N customer accounts, every emulator
//!    wait at zero), all followed to their "ready" email. Checked the way a vendor would: every
//!    request accepted with its own install, exactly one ready email and one execution per
//!    install, every record `ready`, and in every account exactly one VPC and one cluster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::Filter;
use byoc_domain::tags::INSTALL_TAG;
use serde_json::json;

use super::overhead::fitting_options;
use super::session::Session;
use super::stats::percentile;
use crate::customer_ec2::ec2;
use crate::customer_eks::eks;

#[derive(Debug, Clone, Default)]
pub struct Throughput {
    pub installs: usize,
    pub accepted: usize,
    /// POST /installs round trips, seconds.
    pub latencies: Vec<f64>,
    /// First request sent → the last ready email, seconds.
    pub time_to_last: f64,
    pub ready: usize,
    /// Everything that was not as it should be, one line each.
    pub problems: Vec<String>,
    /// The wait was cut short to protect the machine (see `measure`).
    pub stopped: bool,
    /// The emulator's largest resident memory seen while waiting, GB.
    pub emulator_peak_gb: f64,
}

impl Throughput {
    pub fn p(&self, p: f64) -> f64 {
        percentile(&self.latencies, p).unwrap_or(f64::NAN)
    }
}

pub async fn measure(
    session: &Session,
    installs: usize,
    timeout: Duration,
) -> Result<Throughput, String> {
    eprintln!("  making {installs} customer accounts with their access stacks");
    let place = session.place("bench-load", installs).await?;
    let machine = &session.stack.outputs.install_state_machine_arn;
    let before = executions(session, machine).await?;

    let start = Instant::now();
    let tasks: Vec<_> = place
        .accounts
        .iter()
        .map(|account| {
            let (api, body) = (session.api.clone(), json!({"tenant_id": place.tenant_id, "account_id": account, "region": session.stack.outputs.region, "options": fitting_options()}));
            tokio::spawn(async move {
                let sent = Instant::now();
                let answer = api.post("/installs", &body).await;
                (sent.elapsed().as_secs_f64(), answer)
            })
        })
        .collect();
    let mut result = Throughput {
        installs,
        ..Default::default()
    };
    let mut started: BTreeMap<String, (String, String)> = BTreeMap::new(); // install → (account, execution)
    for (task, account) in tasks.into_iter().zip(&place.accounts) {
        let (latency, answer) = task.await.map_err(|e| e.to_string())?;
        result.latencies.push(latency);
        match answer {
            Ok(a) if a.status == 202 => {
                let id = a.json["install_id"].as_str().unwrap_or_default().to_owned();
                let execution = a.json["execution_arn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if started
                    .insert(id.clone(), (account.clone(), execution))
                    .is_some()
                {
                    result
                        .problems
                        .push(format!("install id {id} was answered twice"));
                }
            }
            Ok(a) => result.problems.push(format!(
                "POST /installs for {account} answered {}: {}",
                a.status, a.text
            )),
            Err(e) => result
                .problems
                .push(format!("POST /installs for {account}: {e}")),
        }
    }
    result.accepted = started.len();
    eprintln!(
        "  {} of {installs} accepted in {:.1} s; waiting for the ready emails",
        result.accepted,
        start.elapsed().as_secs_f64()
    );

    let mut emails: BTreeMap<String, usize> = BTreeMap::new();
    let mut last = start;
    let memory_cap_gb = match super::session::machine_memory_gb() {
        total if total > 0.0 => total / 2.0,
        _ => f64::INFINITY,
    };
    while emails.len() < started.len() && start.elapsed() < timeout {
        // The emulator's memory grows with concurrent installs; on a shared machine, stop
        // before the kernel's OOM killer picks a process.
        let rss = session.emulator_rss_gb().unwrap_or_default();
        result.emulator_peak_gb = result.emulator_peak_gb.max(rss);
        if rss > memory_cap_gb {
            let gb = rss;
            result.problems.push(format!(
                "stopped waiting: the emulator's resident memory reached {gb:.1} GB (the bench stops at {memory_cap_gb:.1} GB, half the machine's memory)"
            ));
            result.stopped = true;
            break;
        }
        for email in place.inbox.wait_for(1, Duration::from_secs(5)).await? {
            let attribute = |name: &str| {
                email
                    .attributes
                    .iter()
                    .find_map(|a| a.strip_prefix(&format!("{name}=")))
                    .unwrap_or_default()
                    .to_owned()
            };
            match attribute("notice").as_str() {
                "ready" => {
                    *emails.entry(attribute("install_id")).or_default() += 1;
                    last = Instant::now();
                }
                other => result.problems.push(format!(
                    "install {} emailed {other}",
                    attribute("install_id")
                )),
            }
        }
    }
    result.time_to_last = (last - start).as_secs_f64();
    result.ready = emails.keys().filter(|id| started.contains_key(*id)).count();
    if result.stopped {
        return Ok(result);
    }
    // A late duplicate would arrive now.
    for email in place
        .inbox
        .wait_for(usize::MAX, Duration::from_secs(5))
        .await?
    {
        let ready = email.attributes.iter().any(|a| a == "notice=ready");
        if let Some(id) = email
            .attributes
            .iter()
            .find_map(|a| a.strip_prefix("install_id="))
            .filter(|_| ready)
        {
            *emails.entry(id.to_owned()).or_default() += 1;
        }
    }
    result.ready = emails.keys().filter(|id| started.contains_key(*id)).count();
    for (id, n) in &emails {
        if *n > 1 {
            result
                .problems
                .push(format!("install {id} sent {n} ready emails"));
        }
        if !started.contains_key(id) {
            result
                .problems
                .push(format!("a ready email for {id}, which no request started"));
        }
    }

    for (id, (account, execution)) in &started {
        if !emails.contains_key(id) {
            result.problems.push(format!(
                "install {id} sent no ready email within {timeout:?}"
            ));
        }
        let status = session
            .observer
            .sfn()
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .map_err(|e| format!("DescribeExecution: {e:?}"))?;
        if status.status().as_str() != "SUCCEEDED" {
            result.problems.push(format!(
                "install {id}'s execution is {}",
                status.status().as_str()
            ));
        }
        let record = session.record(id).await?;
        if record["status"] != "ready" {
            result
                .problems
                .push(format!("install {id} is {}", record["status"]));
        }
        let vpcs = ec2(&session.observer, account)
            .describe_vpcs()
            .filters(
                Filter::builder()
                    .name(format!("tag:{INSTALL_TAG}"))
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("DescribeVpcs: {e:?}"))?;
        let clusters = eks(&session.observer, account)
            .list_clusters()
            .send()
            .await
            .map_err(|e| format!("ListClusters: {e:?}"))?;
        if vpcs.vpcs().len() != 1 || clusters.clusters().len() != 1 {
            result.problems.push(format!(
                "account {account} holds {} VPCs and {} clusters for install {id}",
                vpcs.vpcs().len(),
                clusters.clusters().len()
            ));
        }
    }
    let after = executions(session, machine).await?;
    if after - before != started.len() {
        result.problems.push(format!(
            "{} executions started for {} installs",
            after - before,
            started.len()
        ));
    }
    Ok(result)
}

async fn executions(session: &Session, machine: &str) -> Result<usize, String> {
    let mut count = 0;
    let mut token = None;
    loop {
        let page = session
            .observer
            .sfn()
            .list_executions()
            .state_machine_arn(machine)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("ListExecutions: {e:?}"))?;
        count += page.executions().len();
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(count);
        }
    }
}
