//! Scheduled work over many installs (the sweep of failed and removed installs, the trust
//! check of ready ones): the EventBridge Scheduled Event that starts a run, the run's bounds,
//! and the walk through the `installs-by-status` index that keeps where it stopped so the next
//! run carries on. One install's check never fails the run: the caller's check turns its own
//! failures into its result.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::InstallId;
use crate::model::{Install, InstallStatus};
use crate::store::by_status::ScheduleCursor;
use crate::store::InstallStore;

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

/// What one scheduled run did, install by install (ids and results only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledReport<C> {
    pub checked: Vec<C>,
    /// The run stopped at its bounds; the next one carries on where it stopped.
    pub more: bool,
    /// Another run was under way, so this one checked nothing.
    pub busy: bool,
}

impl<C> ScheduledReport<C> {
    /// From what `ScheduledRun::walk_alone` (or `alone`) returned.
    pub fn of(walked: Option<(Vec<C>, bool)>) -> Self {
        match walked {
            Some((checked, more)) => Self {
                checked,
                more,
                busy: false,
            },
            None => Self {
                checked: vec![],
                more: false,
                busy: true,
            },
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

/// How much one scheduled run may do, read once at start. A run stops starting new installs
/// at either bound and the next run carries on where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// Installs checked per scheduled run at most.
    pub max_installs: usize,
    /// Time kept in hand before the Lambda's timeout: no install is started with less left.
    pub reserve: Duration,
}

impl ScheduleSettings {
    /// Reads the optional `<prefix>_MAX_INSTALLS` (1–1000) and `<prefix>_RESERVE_SECONDS`
    /// (0–900); unset or blank takes `defaults`.
    pub fn from_env(prefix: &str, defaults: Self) -> Result<Self> {
        let read = |suffix: &str| std::env::var(format!("{prefix}_{suffix}")).ok();
        Self::from_values(
            prefix,
            read("MAX_INSTALLS").as_deref(),
            read("RESERVE_SECONDS").as_deref(),
            defaults,
        )
    }

    pub fn from_values(
        prefix: &str,
        max_installs: Option<&str>,
        reserve_seconds: Option<&str>,
        defaults: Self,
    ) -> Result<Self> {
        let number = |suffix: &str,
                      value: Option<&str>,
                      range: std::ops::RangeInclusive<u64>,
                      default: u64|
         -> Result<u64> {
            let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
                return Ok(default);
            };
            value
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{prefix}_{suffix} must be a whole number from {} to {}, not {value:?}",
                        range.start(),
                        range.end()
                    ))
                })
        };
        Ok(Self {
            max_installs: number(
                "MAX_INSTALLS",
                max_installs,
                1..=1000,
                defaults.max_installs as u64,
            )? as usize,
            reserve: Duration::from_secs(number(
                "RESERVE_SECONDS",
                reserve_seconds,
                0..=900,
                defaults.reserve.as_secs(),
            )?),
        })
    }
}

/// One scheduled run of `job` over the installs with `statuses`, walked in that order, each
/// oldest first, `page` at a time.
pub struct ScheduledRun<'a> {
    pub job: &'a str,
    pub statuses: &'a [InstallStatus],
    pub page: i32,
    pub settings: &'a ScheduleSettings,
    pub deadline: Instant,
}

/// Where a run starts: after the cursor, or at the first status when there is none.
fn start(statuses: &[InstallStatus], cursor: Option<ScheduleCursor>) -> (usize, Option<InstallId>) {
    match cursor {
        Some(cursor) => (
            statuses
                .iter()
                .position(|s| *s == cursor.status)
                .unwrap_or(0),
            Some(cursor.after),
        ),
        None => (0, None),
    }
}

impl ScheduledRun<'_> {
    /// `walk`, for a job whose runs must not overlap (two runs checking one install at once
    /// would both announce the same change): `None`, having done nothing, while another run
    /// holds the job's lease. The lease lasts until this run's deadline, so a run that
    /// crashed holds up the next for one timeout at most.
    pub async fn walk_alone<C, F, Fut>(
        &self,
        store: &InstallStore,
        wanted: impl Fn(&Install) -> bool,
        check: F,
    ) -> Result<Option<(Vec<C>, bool)>>
    where
        F: FnMut(Install) -> Fut,
        Fut: Future<Output = C>,
    {
        self.alone(store, || self.walk(store, wanted, check)).await
    }

    /// Runs `work` holding the job's lease (see `walk_alone`); `None`, having done nothing,
    /// while another run holds it.
    pub async fn alone<T, Fut>(
        &self,
        store: &InstallStore,
        work: impl FnOnce() -> Fut,
    ) -> Result<Option<T>>
    where
        Fut: Future<Output = Result<T>>,
    {
        let holder = crate::ids::random_hex::<8>()?;
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

    /// Runs `check` on each listed install that is `wanted`, until the bounds; the results in
    /// order, and whether the run stopped early (the next run carries on after the last one).
    pub async fn walk<C, F, Fut>(
        &self,
        store: &InstallStore,
        wanted: impl Fn(&Install) -> bool,
        mut check: F,
    ) -> Result<(Vec<C>, bool)>
    where
        F: FnMut(Install) -> Fut,
        Fut: Future<Output = C>,
    {
        let mut results = vec![];
        let (first, mut after) = start(self.statuses, store.schedule_cursor(self.job).await?);
        for status in &self.statuses[first..] {
            loop {
                let page = store
                    .installs_with_status(*status, self.page, after.as_ref())
                    .await?;
                for install in page.installs.into_iter().filter(|i| wanted(i)) {
                    let out_of_time = self.deadline.saturating_duration_since(Instant::now())
                        < self.settings.reserve;
                    if results.len() >= self.settings.max_installs || out_of_time {
                        return Ok((results, true));
                    }
                    let id = install.install_id.clone();
                    results.push(check(install).await);
                    // Kept after each install, so a run cut short by its timeout loses one at most.
                    store
                        .set_schedule_cursor(
                            self.job,
                            Some(&ScheduleCursor {
                                status: *status,
                                after: id,
                            }),
                        )
                        .await?;
                }
                after = page.next;
                if after.is_none() {
                    break;
                }
            }
        }
        // A whole round done: the next run starts from the first status again.
        store.set_schedule_cursor(self.job, None).await?;
        Ok((results, false))
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
            max_installs: 20,
            reserve: Duration::from_secs(40),
        };
        assert_eq!(
            ScheduleSettings::from_values("JOB", None, Some(" "), defaults.clone()).unwrap(),
            defaults
        );
        let set =
            ScheduleSettings::from_values("JOB", Some("5"), Some("10"), defaults.clone()).unwrap();
        assert_eq!(
            (set.max_installs, set.reserve),
            (5, Duration::from_secs(10))
        );
        let err = ScheduleSettings::from_values("JOB", Some("0"), None, defaults.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("JOB_MAX_INSTALLS must be a whole number from 1 to 1000, not \"0\""),
            "{err}"
        );
        assert!(
            ScheduleSettings::from_values("JOB", None, Some("soon"), defaults)
                .unwrap_err()
                .to_string()
                .contains("JOB_RESERVE_SECONDS")
        );
    }

    #[test]
    fn a_run_carries_on_after_the_cursor() {
        let statuses = [InstallStatus::Failed, InstallStatus::Removed];
        assert_eq!(start(&statuses, None), (0, None));
        let after = InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap();
        assert_eq!(
            start(
                &statuses,
                Some(ScheduleCursor {
                    status: InstallStatus::Removed,
                    after: after.clone()
                })
            ),
            (1, Some(after.clone()))
        );
        assert_eq!(
            start(
                &statuses,
                Some(ScheduleCursor {
                    status: InstallStatus::Failed,
                    after: after.clone()
                })
            ),
            (0, Some(after.clone()))
        );
        assert_eq!(
            start(
                &[InstallStatus::Ready],
                Some(ScheduleCursor {
                    status: InstallStatus::Ready,
                    after: after.clone()
                })
            ),
            (0, Some(after))
        );
    }
}
