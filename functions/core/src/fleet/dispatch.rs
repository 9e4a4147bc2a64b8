//! The schedule's side of the fan-out: enumerate the installs a job owes a check and send
//! them to its queue, ten at a time.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;

use std::time::{Duration, Instant};

use super::{Continuation, FleetMessage, FleetSettings, Resume};
use crate::store::InstallStore;
use byoc_domain::error::{Error, Result};
use byoc_domain::ids::InstallId;
use byoc_domain::model::{Install, InstallStatus};

/// SQS takes at most ten entries per SendMessageBatch.
const SEND_BATCH: usize = 10;
/// Attempts at entries SendMessageBatch did not take (each after the SDK's own retries).
const SEND_ATTEMPTS: usize = 3;
/// Installs read from the index per query while enumerating.
pub const ENUMERATION_PAGE: i32 = 100;

/// What one enumeration sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    /// Installs sent to the queue.
    pub dispatched: usize,
    /// Installs listed but not owed a check (`wanted` said no).
    pub passed_over: usize,
    /// Installs SQS would not take after every attempt: the next cycle sends them again.
    pub not_sent: usize,
    /// The enumeration ran out of time here and sent itself on through the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continued_from: Option<Resume>,
}

/// Enumerates the installs with `statuses` (from `from`, or from the start) and sends those
/// `wanted` to the job's queue. With nothing left to start by `stop_by`, it sends the rest of
/// the enumeration to the queue as a `Continuation` (the job's worker carries on from there), so
/// no fleet is too large for one invocation.
#[allow(clippy::too_many_arguments)]
pub async fn dispatch(
    store: &InstallStore,
    sqs: &aws_sdk_sqs::Client,
    settings: &FleetSettings,
    job: &str,
    statuses: &[InstallStatus],
    wanted: impl Fn(&Install) -> bool,
    cycle: DateTime<Utc>,
    from: Option<&Resume>,
    stop_by: Instant,
) -> Result<Dispatched> {
    let mut out = Dispatched::default();
    let mut pending: Vec<FleetMessage> = Vec::with_capacity(SEND_BATCH);
    let mut slowest_page = Duration::ZERO;
    let first = from
        .and_then(|r| statuses.iter().position(|s| *s == r.status))
        .unwrap_or(0);
    for (n, status) in statuses.iter().enumerate().skip(first) {
        let mut after: Option<InstallId> =
            from.filter(|_| n == first).and_then(|r| r.after.clone());
        loop {
            // A page (its query and its sends) must fit before `stop_by`, twice the slowest so
            // far: a slow store (a loaded emulator queries in O(table)) must not run the
            // invocation into its timeout, which would leave the rest in flight for a whole
            // visibility timeout.
            if Instant::now() + slowest_page * 2 >= stop_by {
                if !pending.is_empty() {
                    send(sqs, settings, std::mem::take(&mut pending), &mut out).await?;
                }
                let resume = Resume {
                    status: *status,
                    after,
                };
                continue_later(sqs, settings, job, cycle, &resume).await?;
                out.continued_from = Some(resume);
                return Ok(out);
            }
            let page_started = Instant::now();
            let page = store
                .installs_with_status(*status, ENUMERATION_PAGE, after.as_ref())
                .await?;
            for install in &page.installs {
                if !wanted(install) {
                    out.passed_over += 1;
                    continue;
                }
                pending.push(FleetMessage::of(job, install, cycle));
                if pending.len() == SEND_BATCH {
                    send(sqs, settings, std::mem::take(&mut pending), &mut out).await?;
                }
            }
            slowest_page = slowest_page.max(page_started.elapsed());
            after = page.next;
            if after.is_none() {
                break;
            }
        }
    }
    if !pending.is_empty() {
        send(sqs, settings, pending, &mut out).await?;
    }
    Ok(out)
}

/// Sends the rest of an enumeration to the job's queue, in a group of its own.
async fn continue_later(
    sqs: &aws_sdk_sqs::Client,
    settings: &FleetSettings,
    job: &str,
    cycle: DateTime<Utc>,
    resume: &Resume,
) -> Result<()> {
    let continuation = Continuation {
        job: job.to_owned(),
        cycle,
        resume: resume.clone(),
    };
    let body = serde_json::to_string(&continuation).map_err(|e| Error::Corrupt(e.to_string()))?;
    sqs.send_message()
        .queue_url(&settings.queue_url)
        .message_body(body)
        .message_group_id(continuation.group())
        .message_deduplication_id(continuation.deduplication_id())
        .send()
        .await
        .map_err(|e| Error::aws("SQS", e))?;
    tracing::info!(job, status = %resume.status, after = ?resume.after, "the enumeration goes on from the queue");
    Ok(())
}

async fn send(
    sqs: &aws_sdk_sqs::Client,
    settings: &FleetSettings,
    messages: Vec<FleetMessage>,
    out: &mut Dispatched,
) -> Result<()> {
    let mut left: BTreeMap<String, FleetMessage> = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| (i.to_string(), m))
        .collect();
    for _ in 0..SEND_ATTEMPTS {
        if left.is_empty() {
            break;
        }
        let mut entries = vec![];
        for (id, message) in &left {
            let body = serde_json::to_string(message).map_err(|e| Error::Corrupt(e.to_string()))?;
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(body)
                    .message_group_id(message.group(settings.per_account))
                    .message_deduplication_id(message.deduplication_id())
                    .build()
                    .map_err(|e| Error::Corrupt(e.to_string()))?,
            );
        }
        let answer = sqs
            .send_message_batch()
            .queue_url(&settings.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| Error::aws("SQS", e))?;
        for sent in answer.successful() {
            if left.remove(sent.id()).is_some() {
                out.dispatched += 1;
            }
        }
        for failed in answer.failed() {
            tracing::warn!(
                code = failed.code(),
                sender_fault = failed.sender_fault(),
                "SQS did not take a message"
            );
        }
    }
    out.not_sent += left.len();
    Ok(())
}
