//! The queue's side of the fan-out: a batch's messages checked, the account groups at once
//! and each group in order, each install under its lease, each message deleted once done.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use futures_util::future::join_all;
use serde::Serialize;

use super::{Continuation, Dispatched, FleetMessage, QueueMessage};
use crate::store::InstallStore;
use byoc_domain::error::Result;

/// How the job's function works through a batch from its queue.
pub struct Worker<'a> {
    pub job: &'a str,
    /// The queue the batch came from: each message is deleted as soon as it is done, because a
    /// FIFO group stays blocked while any of its messages is in flight, and Lambda deletes a
    /// batch only when the whole invocation ends (Lambda Developer Guide, "Using Lambda with
    /// Amazon SQS"): a hanging account would otherwise hold up every group of its batch.
    pub sqs: &'a aws_sdk_sqs::Client,
    pub queue_url: &'a str,
    /// The Lambda's deadline.
    pub deadline: Instant,
    /// Time kept in hand: no check starts with less left.
    pub reserve: Duration,
    /// The longest one check may take; then it counts as not finished (the next cycle tries
    /// again) and its slot goes on.
    pub check_timeout: Duration,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Worked<C> {
    Checked {
        result: C,
    },
    /// Another check of the install held its lease: this one was not needed.
    AlreadyBeingChecked {
        install_id: String,
    },
    /// The check did not finish within `check_timeout`.
    TimedOut {
        install_id: String,
    },
    /// Not started before the deadline: back to the queue, in order.
    Returned {
        install_id: String,
    },
    /// Not a message this job sends: dropped (logged), so it cannot block its group.
    Unreadable {
        message_id: String,
    },
    /// The rest of an enumeration, carried on (`None`: another run was enumerating).
    Continued {
        dispatched: Option<Dispatched>,
    },
}

impl Worker<'_> {
    /// Works through `event`'s messages: the groups at once, each group in order.
    /// `go_on` carries on an enumeration that ran out of time (the job's `fan_out` from where
    /// it stopped).
    pub async fn work<C, F, Fut, G, GFut>(
        &self,
        store: &InstallStore,
        event: SqsEvent,
        check: F,
        go_on: G,
    ) -> (SqsBatchResponse, Vec<Worked<C>>)
    where
        F: Fn(FleetMessage) -> Fut,
        Fut: Future<Output = C>,
        G: Fn(Continuation) -> GFut,
        GFut: Future<Output = Result<Option<Dispatched>>>,
    {
        let mut groups: BTreeMap<String, Vec<SqsMessage>> = BTreeMap::new();
        for record in event.records {
            let group = record
                .attributes
                .get("MessageGroupId")
                .cloned()
                .unwrap_or_default();
            groups.entry(group).or_default().push(record);
        }
        let (check, go_on) = (&check, &go_on);
        let done = join_all(
            groups
                .into_values()
                .map(|records| async move { self.work_group(store, records, check, go_on).await }),
        )
        .await;
        let mut response = SqsBatchResponse::default();
        let mut worked = vec![];
        for (failed, results) in done {
            for id in failed {
                response.add_failure(id);
            }
            worked.extend(results);
        }
        (response, worked)
    }

    /// One group's messages in order; once one is not started, neither are those after it
    /// (FIFO: a group's later messages must not overtake it).
    async fn work_group<C, F, Fut, G, GFut>(
        &self,
        store: &InstallStore,
        records: Vec<SqsMessage>,
        check: &F,
        go_on: &G,
    ) -> (Vec<String>, Vec<Worked<C>>)
    where
        F: Fn(FleetMessage) -> Fut,
        Fut: Future<Output = C>,
        G: Fn(Continuation) -> GFut,
        GFut: Future<Output = Result<Option<Dispatched>>>,
    {
        let mut failed = vec![];
        let mut worked = vec![];
        for record in records {
            let message_id = record.message_id.clone().unwrap_or_default();
            let message = match record
                .body
                .as_deref()
                .map(serde_json::from_str::<QueueMessage>)
            {
                Some(Ok(QueueMessage::Check(message))) if message.job == self.job => message,
                Some(Ok(QueueMessage::Continue(rest))) if rest.job == self.job => {
                    match go_on(rest).await {
                        Ok(dispatched) => {
                            self.done(&record).await;
                            worked.push(Worked::Continued { dispatched });
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "could not carry on the enumeration; SQS delivers it again");
                            failed.push(message_id);
                        }
                    }
                    continue;
                }
                other => {
                    tracing::error!(%message_id, readable = matches!(other, Some(Ok(_))), job = self.job, "dropped a message this job does not send");
                    self.done(&record).await;
                    worked.push(Worked::Unreadable { message_id });
                    continue;
                }
            };
            let left = self.deadline.saturating_duration_since(Instant::now());
            if !failed.is_empty() || left < self.reserve {
                worked.push(Worked::Returned {
                    install_id: message.install_id.to_string(),
                });
                failed.push(message_id);
                continue;
            }
            let timeout = self.check_timeout.min(left - self.reserve);
            match checked_alone(store, self.job, message.clone(), timeout, check).await {
                Ok(outcome) => {
                    self.done(&record).await;
                    worked.push(outcome)
                }
                Err(err) => {
                    // The lease could not be read or written: SQS delivers it again.
                    tracing::warn!(error = %err, install_id = %message.install_id, "could not take the install's lease");
                    worked.push(Worked::Returned {
                        install_id: message.install_id.to_string(),
                    });
                    failed.push(message_id);
                }
            }
        }
        (failed, worked)
    }
}

impl Worker<'_> {
    /// Deletes a finished message now, unblocking its group. Should it fail, Lambda deletes it
    /// with the batch.
    async fn done(&self, record: &SqsMessage) {
        let Some(receipt) = &record.receipt_handle else {
            return;
        };
        if let Err(err) = self
            .sqs
            .delete_message()
            .queue_url(self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            tracing::warn!(error = %crate::aws::describe_sdk_error(&err), "could not delete a finished message; it goes with its batch");
        }
    }
}

/// Runs `check` on one install under its lease for this job, bounded by `timeout`.
pub async fn checked_alone<C, F, Fut>(
    store: &InstallStore,
    job: &str,
    message: FleetMessage,
    timeout: Duration,
    check: &F,
) -> Result<Worked<C>>
where
    F: Fn(FleetMessage) -> Fut,
    Fut: Future<Output = C>,
{
    let install_id = message.install_id.to_string();
    let lease = format!("{job}#{install_id}");
    let holder = byoc_domain::ids::random_hex::<8>()?;
    let now = Utc::now();
    let until = now
        + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::zero())
        + chrono::Duration::seconds(5);
    if !store.claim_schedule(&lease, &holder, now, until).await? {
        return Ok(Worked::AlreadyBeingChecked { install_id });
    }
    let outcome = match tokio::time::timeout(timeout, check(message)).await {
        Ok(result) => Worked::Checked { result },
        Err(_) => {
            tracing::warn!(%install_id, job, timeout_s = timeout.as_secs(), "the check did not finish in time; the next cycle tries again");
            Worked::TimedOut { install_id }
        }
    };
    if let Err(err) = store.release_schedule(&lease, &holder).await {
        // It expires on its own shortly.
        tracing::warn!(error = %err, %lease, "could not release the install's lease");
    }
    Ok(outcome)
}
