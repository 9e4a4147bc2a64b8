//! Scheduled work over many installs (the sweep of failed and removed installs, the trust and
//! version checks of ready ones): the EventBridge Scheduled Event that starts a run, and the
//! run: it sends every install it owes a check to the job's queue (`fleet`), whose messages the
//! same function then checks, or it checks the installs an operator named at once. One
//! install's check never fails the run: the caller's check turns its own failures into its
//! result.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fleet::{self, Dispatched, FleetMessage, FleetSettings, Resume, Worked, Worker};
use crate::store::InstallStore;
use byoc_domain::error::{Error, Result};
use byoc_domain::ids::InstallId;
use byoc_domain::model::{Install, InstallStatus};

/// The event an EventBridge schedule rule sends (only what the functions read).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScheduledEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    /// When the schedule fired.
    #[serde(default)]
    pub time: Option<String>,
    /// A schedule rule sends `{}`. An operator invoking a job by hand may name installs here
    /// (`{"install_ids": [...]}`): the run then checks those only.
    #[serde(default)]
    pub detail: Option<ScheduledDetail>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScheduledDetail {
    #[serde(default)]
    pub install_ids: Vec<InstallId>,
}

impl ScheduledEvent {
    /// When the schedule fired (the moment a run judges dates by); now when the event does
    /// not say or says it unreadably.
    pub fn fired_at(&self) -> chrono::DateTime<Utc> {
        self.time
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(Utc::now)
    }

    /// The installs an operator named, if any.
    pub fn named_installs(&self) -> &[InstallId] {
        self.detail.as_ref().map_or(&[], |d| &d.install_ids)
    }

    /// Tells a schedule's event from a step's input by shape: `None` when `value` is not an
    /// event at all (a step's input), an error naming what was expected (`step_input`, e.g.
    /// "sweep-dangling runs for an install ({install_id, tenant_id})") when it is another event.
    pub fn recognise(
        value: &serde_json::Value,
        step_input: &str,
    ) -> std::result::Result<Option<Self>, String> {
        if value.get("detail-type").is_none() && value.get("source").is_none() {
            return Ok(None);
        }
        let event: ScheduledEvent =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        if event.detail_type != "Scheduled Event" || event.source != "aws.events" {
            return Err(format!(
                "{step_input} or on an EventBridge schedule (detail-type \"Scheduled Event\", source \"aws.events\"); \
                 got detail-type {:?} from {:?}",
                event.detail_type, event.source
            ));
        }
        Ok(Some(event))
    }
}

/// What one scheduled run did: the installs it sent to the job's queue, or, for installs an
/// operator named, what their checks found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledReport<C> {
    /// The named installs' results (empty for a schedule's run: its checks run from the queue).
    pub checked: Vec<C>,
    /// What the enumeration sent to the queue (a schedule's run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatched: Option<Dispatched>,
    /// Another run was enumerating, or a named install was being checked by another run:
    /// this one left it (the report says what it did do).
    pub busy: bool,
}

impl<C> ScheduledReport<C> {
    /// What a run that found another one enumerating did: nothing.
    pub fn busy() -> Self {
        Self {
            checked: vec![],
            dispatched: None,
            busy: true,
        }
    }
}

/// The instant by which a run must be done, from the Lambda context's deadline (epoch ms).
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Time an enumeration keeps in hand to send its last messages and its continuation.
const ENUMERATION_RESERVE: Duration = Duration::from_secs(15);

/// How long one check may take, and the time kept in hand before the Lambda's timeout (no
/// check starts with less left); read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    pub check_timeout: Duration,
    pub reserve: Duration,
}

impl ScheduleSettings {
    /// Reads the optional `<prefix>_CHECK_TIMEOUT_SECONDS` (1–600) and
    /// `<prefix>_RESERVE_SECONDS` (0–900); unset or blank takes `defaults`.
    pub fn from_env(prefix: &str, defaults: Self) -> Result<Self> {
        let read = |suffix: &str| std::env::var(format!("{prefix}_{suffix}")).ok();
        Self::from_values(
            prefix,
            read("CHECK_TIMEOUT_SECONDS").as_deref(),
            read("RESERVE_SECONDS").as_deref(),
            defaults,
        )
    }

    pub fn from_values(
        prefix: &str,
        check_timeout_seconds: Option<&str>,
        reserve_seconds: Option<&str>,
        defaults: Self,
    ) -> Result<Self> {
        let number = |suffix: &str,
                      value: Option<&str>,
                      range: std::ops::RangeInclusive<u64>,
                      default: u64| {
            whole_number(&format!("{prefix}_{suffix}"), value, range, default)
        };
        Ok(Self {
            check_timeout: Duration::from_secs(number(
                "CHECK_TIMEOUT_SECONDS",
                check_timeout_seconds,
                1..=600,
                defaults.check_timeout.as_secs(),
            )?),
            reserve: Duration::from_secs(number(
                "RESERVE_SECONDS",
                reserve_seconds,
                0..=900,
                defaults.reserve.as_secs(),
            )?),
        })
    }
}

/// A setting read from the environment (`value`, named `name`): a whole number in `range`;
/// `default` when unset or blank; otherwise an error naming the variable and what it takes.
pub fn whole_number(
    name: &str,
    value: Option<&str>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    value
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            Error::Config(format!(
                "{name} must be a whole number from {} to {}, not {value:?}",
                range.start(),
                range.end()
            ))
        })
}

/// One scheduled run of `job` over the installs with `statuses`.
pub struct ScheduledRun<'a> {
    pub job: &'a str,
    pub statuses: &'a [InstallStatus],
    pub settings: &'a ScheduleSettings,
    pub deadline: Instant,
}

impl ScheduledRun<'_> {
    /// Sends every install with the run's statuses that is `wanted` to the job's queue, for
    /// the cycle that fired at `cycle`; `None`, having sent nothing, while another run of the
    /// job is enumerating (the schedule's event may be delivered twice).
    ///
    /// An enumeration that nears the deadline sends the rest of itself to the queue, where
    /// the worker carries it on with `from` set.
    pub async fn fan_out(
        &self,
        store: &InstallStore,
        sqs: &aws_sdk_sqs::Client,
        fleet: &FleetSettings,
        wanted: impl Fn(&Install) -> bool,
        cycle: DateTime<Utc>,
        from: Option<&Resume>,
    ) -> Result<Option<Dispatched>> {
        // Time for the last page's sends and the continuation, whatever the check reserve.
        let stop_by = self
            .deadline
            .checked_sub(self.settings.reserve.max(ENUMERATION_RESERVE))
            .unwrap_or_else(Instant::now);
        self.alone(store, || {
            fleet::dispatch(
                store,
                sqs,
                fleet,
                self.job,
                self.statuses,
                wanted,
                cycle,
                from,
                stop_by,
            )
        })
        .await
    }

    /// What a job's function does with its schedule's event: checks the installs an operator
    /// named at once (those `named_wanted`), or sends every install `wanted` at the cycle's
    /// moment to the job's queue.
    #[allow(clippy::too_many_arguments)]
    pub async fn on_schedule<C, W, F, Fut>(
        &self,
        store: &InstallStore,
        sqs: &aws_sdk_sqs::Client,
        fleet: &FleetSettings,
        event: &ScheduledEvent,
        named_wanted: impl Fn(&Install) -> bool,
        wanted: W,
        check: F,
    ) -> Result<ScheduledReport<C>>
    where
        W: Fn(&Install, DateTime<Utc>) -> bool,
        F: Fn(FleetMessage) -> Fut,
        Fut: Future<Output = C>,
    {
        let cycle = event.fired_at();
        let named = event.named_installs();
        if !named.is_empty() {
            let report = self.named(store, named, named_wanted, cycle, check).await?;
            tracing::info!(
                job = self.job,
                checked = report.checked.len(),
                busy = report.busy,
                "named installs checked"
            );
            return Ok(report);
        }
        let Some(dispatched) = self
            .fan_out(store, sqs, fleet, |i| wanted(i, cycle), cycle, None)
            .await?
        else {
            tracing::info!(
                job = self.job,
                "another run is sending the fleet; this one leaves it"
            );
            return Ok(ScheduledReport::busy());
        };
        tracing::info!(
            job = self.job,
            ?dispatched,
            "installs sent to the job's queue"
        );
        Ok(ScheduledReport {
            checked: vec![],
            dispatched: Some(dispatched),
            busy: false,
        })
    }

    /// What a job's function does with a batch of its queue: each install checked under its
    /// lease, and an enumeration that ran out of time carried on (those `wanted`).
    pub async fn on_batch<C, W, F, Fut>(
        &self,
        store: &InstallStore,
        sqs: &aws_sdk_sqs::Client,
        fleet: &FleetSettings,
        batch: SqsEvent,
        wanted: W,
        check: F,
    ) -> SqsBatchResponse
    where
        C: std::fmt::Debug,
        W: Fn(&Install, DateTime<Utc>) -> bool,
        F: Fn(FleetMessage) -> Fut,
        Fut: Future<Output = C>,
    {
        let wanted = &wanted;
        let (response, worked) = self
            .worker(sqs, fleet)
            .work(store, batch, check, |rest| async move {
                self.fan_out(
                    store,
                    sqs,
                    fleet,
                    |i| wanted(i, rest.cycle),
                    rest.cycle,
                    Some(&rest.resume),
                )
                .await
            })
            .await;
        tracing::info!(job = self.job, worked = ?worked, returned = response.batch_item_failures.len(), "batch done");
        response
    }

    /// The job's queue worker, bounded by this run's deadline and settings.
    pub fn worker<'b>(
        &'b self,
        sqs: &'b aws_sdk_sqs::Client,
        fleet: &'b FleetSettings,
    ) -> Worker<'b> {
        Worker {
            job: self.job,
            sqs,
            queue_url: &fleet.queue_url,
            deadline: self.deadline,
            reserve: self.settings.reserve,
            check_timeout: self.settings.check_timeout,
        }
    }

    /// Checks the installs an operator named, now, each under its lease (as a queued check
    /// would be): those with another status or not `wanted` are passed over; the results, and
    /// whether any was being checked by another run (and so left to it).
    pub async fn named<C, F, Fut>(
        &self,
        store: &InstallStore,
        ids: &[InstallId],
        wanted: impl Fn(&Install) -> bool,
        cycle: DateTime<Utc>,
        check: F,
    ) -> Result<ScheduledReport<C>>
    where
        F: Fn(FleetMessage) -> Fut,
        Fut: Future<Output = C>,
    {
        let mut report = ScheduledReport {
            checked: vec![],
            dispatched: None,
            busy: false,
        };
        for id in ids {
            let install = store.get_install(id).await?;
            if !self.statuses.contains(&install.status) || !wanted(&install) {
                continue;
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            let timeout = self
                .settings
                .check_timeout
                .min(left.saturating_sub(self.settings.reserve));
            let message = FleetMessage::of(self.job, &install, cycle);
            match fleet::checked_alone(store, self.job, message, timeout, &check).await? {
                Worked::Checked { result } => report.checked.push(result),
                _ => report.busy = true,
            }
        }
        Ok(report)
    }

    /// Runs `work` holding the job's lease; `None`, having done nothing, while another run
    /// holds it. The lease lasts until this run's deadline, so a run that crashed holds up
    /// the next for one timeout at most.
    pub async fn alone<T, Fut>(
        &self,
        store: &InstallStore,
        work: impl FnOnce() -> Fut,
    ) -> Result<Option<T>>
    where
        Fut: Future<Output = Result<T>>,
    {
        let holder = byoc_domain::ids::random_hex::<8>()?;
        let now = Utc::now();
        let left =
            chrono::Duration::from_std(self.deadline.saturating_duration_since(Instant::now()))
                .unwrap_or(chrono::Duration::zero());
        if !store
            .claim_schedule(
                self.job,
                &holder,
                now,
                now + left + chrono::Duration::seconds(1),
            )
            .await?
        {
            return Ok(None);
        }
        let done = work().await;
        if let Err(err) = store.release_schedule(self.job, &holder).await {
            // It expires at the deadline anyway.
            tracing::warn!(error = %err, job = self.job, "could not release the schedule lease");
        }
        done.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schedule_is_told_from_a_step_and_from_other_events() {
        let scheduled = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}
        });
        let event = ScheduledEvent::recognise(&scheduled, "x").unwrap().unwrap();
        assert_eq!(event.time.as_deref(), Some("2026-11-24T12:00:00Z"));
        assert_eq!(
            ScheduledEvent::recognise(&json!({"install_id": "inst-1", "tenant_id": "acme"}), "x"),
            Ok(None)
        );
        let other = json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}});
        let err =
            ScheduledEvent::recognise(&other, "f runs for an install ({install_id, tenant_id})")
                .unwrap_err();
        assert!(
            err.starts_with(
                "f runs for an install ({install_id, tenant_id}) or on an EventBridge schedule"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "got detail-type \"EC2 Instance State-change Notification\" from \"aws.ec2\""
            ),
            "{err}"
        );
    }

    #[test]
    fn a_deadline_in_the_past_leaves_no_time() {
        let deadline = deadline_from_epoch_ms(1_000);
        assert!(deadline.saturating_duration_since(Instant::now()) < Duration::from_millis(5));
        let now_ms = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        let later = deadline_from_epoch_ms(now_ms + 60_000);
        assert!(later.saturating_duration_since(Instant::now()) > Duration::from_secs(55));
    }

    #[test]
    fn settings_default_when_unset_and_bad_values_name_the_variable() {
        let defaults = ScheduleSettings {
            check_timeout: Duration::from_secs(30),
            reserve: Duration::from_secs(40),
        };
        assert_eq!(
            ScheduleSettings::from_values("JOB", None, Some(" "), defaults.clone()).unwrap(),
            defaults
        );
        let set =
            ScheduleSettings::from_values("JOB", Some("5"), Some("10"), defaults.clone()).unwrap();
        assert_eq!(
            (set.check_timeout, set.reserve),
            (Duration::from_secs(5), Duration::from_secs(10))
        );
        let err = ScheduleSettings::from_values("JOB", Some("0"), None, defaults.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "JOB_CHECK_TIMEOUT_SECONDS must be a whole number from 1 to 600, not \"0\""
            ),
            "{err}"
        );
        assert!(
            ScheduleSettings::from_values("JOB", None, Some("soon"), defaults)
                .unwrap_err()
                .to_string()
                .contains("JOB_RESERVE_SECONDS")
        );
    }
}
