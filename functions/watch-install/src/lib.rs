//! watch-install: follows an install's long waits — the cluster, NAT gateways and node group
//! coming up, AWS deciding quota increases — so the state machine need not poll them.
//!
//! The install state machine waits on a callback task that sends a watch message (kind, ids,
//! task token) to the watch queue. Each message is one check: the watcher invokes the step
//! functions the state machine used to poll, then either ends the wait (SendTaskSuccess with
//! the step's result, SendTaskFailure with its error) or heartbeats the task and sends the
//! next message, delayed by the schedule (byoc_domain::watch_schedule). A wait costs the state
//! machine two transitions however long it lasts; a lost chain of messages shows as a missed
//! heartbeat, and the state machine's Retry starts a new one.

pub mod check;
pub mod claim;
pub mod error;
pub mod message;
pub mod task;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use byoc_domain::step_input::StepInput;
use byoc_domain::watch_schedule::{delay_before, may_retry, retry_delay, WatchKind};
use futures_util::future::join_all;
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

pub use check::{Checked, Functions};
pub use claim::Claims;
pub use error::WatchError;
pub use message::WatchMessage;
use task::Answered;

pub const DEFAULT_RESOURCE_POLL_SECONDS: u64 = 15;
pub const DEFAULT_QUOTA_POLL_SECONDS: u64 = 900;

#[derive(Debug, Clone)]
pub struct Settings {
    pub functions: Functions,
    /// Where the next check's message goes (`WATCH_QUEUE_URL`): the queue this function reads.
    pub queue_url: String,
    /// The cluster watch's steady interval (`RESOURCE_POLL_SECONDS`).
    pub resource_poll_seconds: u64,
    /// The quota watch's interval (`QUOTA_POLL_SECONDS`).
    pub quota_poll_seconds: u64,
}

impl Settings {
    pub fn from_env() -> Result<Self, WatchError> {
        let env = byoc_core::aws::env;
        let seconds = |name: &str, default: u64| -> Result<u64, WatchError> {
            match std::env::var(name) {
                Ok(text) => text.trim().parse().ok().filter(|s| *s >= 1).ok_or_else(|| {
                    WatchError::Config(format!(
                        "{name} must be a whole number of seconds of at least 1, not {text:?}"
                    ))
                }),
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            functions: Functions {
                create_network: env("CREATE_NETWORK_FUNCTION")?,
                create_cluster: env("CREATE_CLUSTER_FUNCTION")?,
                request_quota: env("REQUEST_QUOTA_FUNCTION")?,
                upgrade_cluster: env("UPGRADE_CLUSTER_FUNCTION")?,
            },
            queue_url: env("WATCH_QUEUE_URL")?,
            resource_poll_seconds: seconds("RESOURCE_POLL_SECONDS", DEFAULT_RESOURCE_POLL_SECONDS)?,
            quota_poll_seconds: seconds("QUOTA_POLL_SECONDS", DEFAULT_QUOTA_POLL_SECONDS)?,
        })
    }

    fn poll_seconds(&self, kind: WatchKind) -> u64 {
        match kind {
            WatchKind::Cluster | WatchKind::Upgrade => self.resource_poll_seconds,
            WatchKind::Quota => self.quota_poll_seconds,
        }
    }
}

pub struct Deps {
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub claims: Claims,
    pub settings: Settings,
}

/// What to do after a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// End the wait with this output.
    Succeed(Value),
    /// End the wait with this error, for the state machine's Catch.
    Fail { error: String, cause: String },
    /// Heartbeat, then check again with `next` after `delay` seconds.
    Continue {
        next: WatchMessage,
        delay: u64,
        retrying: Option<String>,
    },
}

/// The decision after a check: pure, so every outcome is unit tested.
pub fn decide(message: &WatchMessage, checked: Checked, settings: &Settings) -> Action {
    match checked {
        Checked::Done(output) => Action::Succeed(output),
        Checked::Waiting => keep_waiting(message, settings),
        // The customer paused the vendor's access: the wait goes on, bounded by its own
        // limits as any wait; the step recorded the pause on the install once.
        Checked::Failed { error, .. } if error == byoc_domain::error_names::ACCESS_PAUSED => {
            keep_waiting(message, settings)
        }
        Checked::Failed { error, cause } if check::retryable(&error) => {
            let next = message.next(true);
            if may_retry(next.failures) {
                Action::Continue {
                    delay: retry_delay(next.failures),
                    next,
                    retrying: Some(error),
                }
            } else {
                Action::Fail { error, cause }
            }
        }
        Checked::Failed { error, cause } => Action::Fail { error, cause },
    }
}

fn keep_waiting(message: &WatchMessage, settings: &Settings) -> Action {
    let next = message.next(false);
    let delay = delay_before(
        message.watch,
        next.check,
        settings.poll_seconds(message.watch),
    );
    Action::Continue {
        next,
        delay,
        retrying: None,
    }
}

/// Handles a batch: every message at once; those whose handling failed go back to SQS.
pub async fn handle(deps: &Deps, event: SqsEvent) -> Result<SqsBatchResponse, WatchError> {
    let results = join_all(
        event
            .records
            .iter()
            .map(|record| handle_record(deps, record)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, result) in event.records.iter().zip(results) {
        if let Err(err) = result {
            match &record.message_id {
                Some(id) => {
                    retry_soon(deps, record).await;
                    response.add_failure(id.clone());
                }
                // Cannot be reported on its own: fail the batch, SQS delivers it again.
                None => return Err(err),
            }
        }
    }
    Ok(response)
}

/// A message whose handling failed would come back only when its visibility timeout (many
/// times the function's timeout) ends, long after its wait's heartbeat timeout: bring it back
/// after a short backoff instead. Should this call fail too, the visibility timeout stands.
async fn retry_soon(deps: &Deps, record: &SqsMessage) {
    let Some(receipt) = &record.receipt_handle else {
        return;
    };
    let received: u32 = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let delay = retry_delay(received) as i32;
    let changed = deps
        .sqs
        .change_message_visibility()
        .queue_url(&deps.settings.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(delay)
        .send()
        .await;
    if let Err(err) = changed {
        warn!(error = %byoc_core::aws::describe_sdk_error(&err), "could not bring the message back early; it returns after the queue's visibility timeout");
    }
}

async fn handle_record(deps: &Deps, record: &SqsMessage) -> Result<(), WatchError> {
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let message = match record.body.as_deref().map(WatchMessage::parse) {
        Some(Ok(message)) => message,
        Some(Err(problem)) => return Err(refused(message_id, problem)),
        None => return Err(refused(message_id, "the message has no body".into())),
    };
    let span = info_span!("watch-install", install_id = %message.install_id, tenant_id = %message.tenant_id, watch = message.watch.as_str(), check = message.check);
    async {
        let result = watch(deps, &message, message_id).await;
        if let Err(err) = &result {
            warn!(error = %err, "watch check not finished; SQS delivers the message again");
        }
        result
    }
    .instrument(span)
    .await
}

fn refused(message_id: &str, problem: String) -> WatchError {
    error!(message_id, %problem, "message refused; it goes to the dead-letter queue after its last receive");
    WatchError::BadMessage(problem)
}

async fn watch(deps: &Deps, message: &WatchMessage, message_id: &str) -> Result<(), WatchError> {
    if !deps.claims.claim(message, message_id).await? {
        info!(
            outcome = "duplicate",
            "watch check already made for this chain; message dropped"
        );
        return Ok(());
    }
    let input = StepInput {
        install_id: message.install_id.clone(),
        tenant_id: message.tenant_id.clone(),
    };
    let checked = check::check(
        &deps.lambda,
        &deps.settings.functions,
        message.watch,
        &input,
    )
    .await;
    let answered = match decide(message, checked, &deps.settings) {
        Action::Succeed(output) => {
            info!(outcome = "done", "watch check: the wait is over");
            task::succeed(&deps.sfn, message, &output).await?
        }
        Action::Fail { error, cause } => {
            warn!(outcome = "failed", error = %error, cause = %cause, "watch check: the wait failed");
            task::fail(&deps.sfn, message, &error, &cause).await?
        }
        Action::Continue {
            next,
            delay,
            retrying,
        } => {
            match &retrying {
                Some(error) => {
                    warn!(outcome = "retry", error = %error, failures = next.failures, delay, "watch check failed; trying again")
                }
                None => info!(outcome = "waiting", delay, "watch check: not yet"),
            }
            let answered = task::heartbeat(&deps.sfn, message).await?;
            if answered == Answered::Taken {
                send(deps, &next, delay).await?;
            }
            answered
        }
    };
    if let Answered::Gone(code) = answered {
        info!(outcome = "gone", code = %code, "the task no longer waits (the execution moved on); the watch ends");
    }
    Ok(())
}

async fn send(deps: &Deps, next: &WatchMessage, delay: u64) -> Result<(), WatchError> {
    let delay = i32::try_from(delay)
        .unwrap_or(i32::MAX)
        .min(byoc_domain::watch_schedule::MAX_DELAY_SECONDS as i32);
    deps.sqs
        .send_message()
        .queue_url(&deps.settings.queue_url)
        .message_body(next.body())
        .delay_seconds(delay)
        .send()
        .await
        .map(drop)
        .map_err(|err| WatchError::Aws {
            service: "SQS",
            message: next.redact(&byoc_core::aws::describe_sdk_error(&err)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::watch_schedule::MAX_CONSECUTIVE_FAILURES;

    fn settings() -> Settings {
        Settings {
            functions: Functions {
                create_network: "n".into(),
                create_cluster: "c".into(),
                request_quota: "q".into(),
                upgrade_cluster: "u".into(),
            },
            queue_url: "https://sqs/q".into(),
            resource_poll_seconds: 15,
            quota_poll_seconds: 600,
        }
    }

    fn message(watch: WatchKind, check: u32, failures: u32) -> WatchMessage {
        let body = serde_json::json!({"watch": watch, "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "task_token": "tok", "check": check, "failures": failures});
        WatchMessage::parse(&body.to_string()).unwrap()
    }

    #[test]
    fn waiting_checks_again_on_the_schedule() {
        let Action::Continue {
            next,
            delay,
            retrying: None,
        } = decide(
            &message(WatchKind::Cluster, 0, 0),
            Checked::Waiting,
            &settings(),
        )
        else {
            panic!()
        };
        assert_eq!(
            (next.check, delay),
            (1, 0),
            "the first re-check comes at once"
        );
        let Action::Continue { delay, .. } = decide(
            &message(WatchKind::Cluster, 9, 0),
            Checked::Waiting,
            &settings(),
        ) else {
            panic!()
        };
        assert_eq!(delay, 15);
        let Action::Continue { delay, .. } = decide(
            &message(WatchKind::Quota, 0, 0),
            Checked::Waiting,
            &settings(),
        ) else {
            panic!()
        };
        assert_eq!(delay, 600);
    }

    #[test]
    fn done_ends_the_wait_with_the_steps_result() {
        let output = serde_json::json!({"ready": true});
        assert_eq!(
            decide(
                &message(WatchKind::Cluster, 3, 0),
                Checked::Done(output.clone()),
                &settings()
            ),
            Action::Succeed(output)
        );
    }

    #[test]
    fn step_errors_the_state_machine_catches_end_the_wait_at_once() {
        for error in [
            "ClusterFailed",
            "QuotaDenied",
            "QuotaWaitExpired",
            "AccessLost",
            "Lambda.Unknown",
        ] {
            let action = decide(
                &message(WatchKind::Quota, 2, 0),
                Checked::failed(error, "why"),
                &settings(),
            );
            assert_eq!(
                action,
                Action::Fail {
                    error: error.into(),
                    cause: "why".into()
                }
            );
        }
    }

    #[test]
    fn a_pause_by_the_customer_keeps_the_wait_going_as_a_wait() {
        let current = message(WatchKind::Cluster, 3, 2);
        let paused = decide(
            &current,
            Checked::failed(byoc_domain::error_names::ACCESS_PAUSED, "paused"),
            &settings(),
        );
        let waiting = decide(&current, Checked::Waiting, &settings());
        assert_eq!(paused, waiting, "neither a failure nor a retry of one");
        assert!(matches!(paused, Action::Continue { retrying: None, .. }));
    }

    #[test]
    fn retried_errors_back_off_and_fail_after_five_in_a_row() {
        let mut current = message(WatchKind::Cluster, 4, 0);
        let mut delays = Vec::new();
        loop {
            match decide(
                &current,
                Checked::failed("Transient", "DynamoDB call failed"),
                &settings(),
            ) {
                Action::Continue {
                    next,
                    delay,
                    retrying,
                } => {
                    assert_eq!(retrying.as_deref(), Some("Transient"));
                    delays.push(delay);
                    current = next;
                }
                Action::Fail { error, cause } => {
                    assert_eq!(
                        (error.as_str(), cause.as_str()),
                        ("Transient", "DynamoDB call failed")
                    );
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(delays, [2, 4, 8, 16, 32]);
        assert_eq!(current.failures, MAX_CONSECUTIVE_FAILURES);
        // A check that then works starts the count again.
        let Action::Continue { next, .. } = decide(&current, Checked::Waiting, &settings()) else {
            panic!()
        };
        assert_eq!(next.failures, 0);
    }
}
