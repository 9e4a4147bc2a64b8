//! The scheduled version check's rules: how many days of standard support an install's
//! Kubernetes version has left, which notice is due (the customer is emailed 60, 30 and 7 days
//! before the end of standard support, and once more when it has ended), and whether an
//! install that opted into `auto_upgrade` is to be upgraded now (inside its maintenance
//! window). Pure; upgrade-cluster's scheduled run does the AWS calls.
//!
//! Dates follow the EKS User Guide's version calendar ("Understand the Kubernetes version
//! lifecycle on EKS", kubernetes-versions.html): standard support lasts 14 months from the EKS
//! release, and "billing for extended support starts at the beginning of the day that the
//! version reaches end of standard support", so the end is midnight UTC starting that day.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::ids::InvalidInput;
use crate::upgrade::MinorVersion;

/// Where the check keeps its record on the install.
pub const VERSION_CHECK_KEY: &str = "version_check";

/// Days before the end of standard support at which the customer is emailed; 0: it has ended.
pub const NOTICE_DAYS: [i64; 4] = [60, 30, 7, 0];

/// An install with `auto_upgrade` is upgraded, in its window, once its version has this few
/// days of standard support left: soon enough for two tries in weekly windows before the 7-day
/// notice, late enough not to chase every new release.
pub const AUTO_UPGRADE_DAYS: i64 = 60;

/// Whole days from `now` to the start (00:00 UTC) of `end`, rounded up: 30 at any time of the
/// day 30 days before; 0 or less once the day has begun.
pub fn days_left(end: NaiveDate, now: DateTime<Utc>) -> i64 {
    let end = end.and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
    let seconds = (end - now).num_seconds();
    seconds.div_euclid(86_400) + i64::from(seconds.rem_euclid(86_400) > 0)
}

/// The notices whose day has come (`days_left` at or under them), most urgent last.
fn crossed(days_left: i64) -> impl Iterator<Item = i64> {
    NOTICE_DAYS.into_iter().filter(move |d| days_left <= *d)
}

/// A weekly window, in UTC, in which the installer may upgrade an install on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// `monday` … `sunday`.
    #[serde(with = "weekday_name")]
    pub weekday: Weekday,
    /// The hour (UTC, 0–23) the window opens.
    pub start_hour_utc: u32,
    /// How long it stays open, 1–24 hours; at least as long as the check's schedule period, or
    /// a run may never fall inside it.
    pub duration_hours: u32,
}

mod weekday_name {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    pub const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(NAMES[day.num_days_from_monday() as usize])
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let text = String::deserialize(d)?;
        NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&text))
            .and_then(|i| Weekday::try_from(i as u8).ok())
            .ok_or_else(|| {
                serde::de::Error::custom(format!("{text:?} is not a weekday (monday … sunday)"))
            })
    }
}

impl MaintenanceWindow {
    pub fn validate(&self, field: &str) -> Result<(), InvalidInput> {
        if self.start_hour_utc > 23 {
            return Err(InvalidInput::new(
                format!("{field}.start_hour_utc"),
                "\"start_hour_utc\" must be an hour 0 to 23 (UTC)",
            ));
        }
        if !(1..=24).contains(&self.duration_hours) {
            return Err(InvalidInput::new(
                format!("{field}.duration_hours"),
                "\"duration_hours\" must be 1 to 24",
            ));
        }
        Ok(())
    }

    /// Hours since the window last opened, 0 to 167.
    fn hours_since_opening(&self, now: DateTime<Utc>) -> i64 {
        let day = i64::from(now.weekday().num_days_from_monday())
            - i64::from(self.weekday.num_days_from_monday());
        (day * 24 + i64::from(now.hour()) - i64::from(self.start_hour_utc)).rem_euclid(168)
    }

    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.hours_since_opening(now) < i64::from(self.duration_hours)
    }

    /// When it next opens (now's hour when it is open now).
    pub fn next_opening(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let since = self.hours_since_opening(now);
        let this_hour = now
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        if since < i64::from(self.duration_hours) {
            this_hour
        } else {
            this_hour + Duration::hours(168 - since)
        }
    }
}

impl fmt::Display for MaintenanceWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = weekday_name::NAMES[self.weekday.num_days_from_monday() as usize];
        let mut day = name.chars();
        let first = day.next().map(|c| c.to_ascii_uppercase());
        write!(
            f,
            "{}{}s {:02}:00 UTC for {} hour{}",
            first.map(String::from).unwrap_or_default(),
            day.as_str(),
            self.start_hour_utc,
            self.duration_hours,
            if self.duration_hours == 1 { "" } else { "s" }
        )
    }
}

/// What the last check found, kept on the install (`step_data.version_check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionCheck {
    pub version: MinorVersion,
    /// `YYYY-MM-DD` (UTC), from DescribeClusterVersions.
    pub end_of_standard_support: NaiveDate,
    pub checked_at: DateTime<Utc>,
    pub days_left: i64,
    /// The notices (in days, of `NOTICE_DAYS`) already sent for this version.
    #[serde(default)]
    pub notified: Vec<i64>,
}

impl crate::step_record::StepRecord for VersionCheck {
    const KEY: &'static str = VERSION_CHECK_KEY;
}

/// Whether the installer upgrades the install on its own now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoUpgrade {
    /// The install did not opt in.
    Off,
    /// More than `AUTO_UPGRADE_DAYS` of standard support left.
    NotYet,
    /// Due, but outside the window: it opens then.
    Waiting {
        opens: DateTime<Utc>,
    },
    /// The last upgrade to this target failed: a person decides (retry, or upgrade with
    /// `force`); the installer does not try again on its own.
    AfterFailure,
    /// No newer version is in standard support.
    NothingNewer,
    /// Due, but the customer does not allow changes now (`AllowChanges` on their access
    /// stack): the installer does not start what IAM would refuse; the notices say why.
    NotAllowed {
        to: MinorVersion,
    },
    Start {
        to: MinorVersion,
    },
}

/// Everything the check decides for one install, from what it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub record: VersionCheck,
    /// The notice to send now (days), if one is due; the record counts every crossed notice
    /// as sent, so a late first check sends the most urgent one only.
    pub notice: Option<i64>,
    pub auto_upgrade: AutoUpgrade,
}

/// What the check knows of one install.
pub struct Facts<'a> {
    pub version: MinorVersion,
    pub end_of_standard_support: NaiveDate,
    pub now: DateTime<Utc>,
    pub previous: Option<&'a VersionCheck>,
    /// `Some` when the install opted into `auto_upgrade`.
    pub window: Option<MaintenanceWindow>,
    /// The newest version in standard support now, when newer than `version`.
    pub newest_standard: Option<MinorVersion>,
    /// The target of the last upgrade, when it failed.
    pub failed_target: Option<MinorVersion>,
    /// Whether the customer allows changes to the cluster now (`AllowChanges`).
    pub changes_allowed: bool,
}

pub fn decide(facts: &Facts) -> Decision {
    let days = days_left(facts.end_of_standard_support, facts.now);
    // Notices already sent count only for the same version (an upgrade starts afresh).
    let sent: Vec<i64> = facts
        .previous
        .filter(|p| p.version == facts.version)
        .map(|p| p.notified.clone())
        .unwrap_or_default();
    let due: Vec<i64> = crossed(days).filter(|d| !sent.contains(d)).collect();
    let notice = due.iter().copied().min();
    let mut notified: Vec<i64> = sent.into_iter().chain(due).collect();
    notified.sort_unstable_by(|a, b| b.cmp(a));
    notified.dedup();
    let auto_upgrade = match facts.window {
        None => AutoUpgrade::Off,
        Some(_) if days > AUTO_UPGRADE_DAYS => AutoUpgrade::NotYet,
        Some(window) => match facts.newest_standard.filter(|n| *n > facts.version) {
            None => AutoUpgrade::NothingNewer,
            Some(to) if facts.failed_target == Some(to) => AutoUpgrade::AfterFailure,
            Some(to) if !facts.changes_allowed => AutoUpgrade::NotAllowed { to },
            Some(_) if !window.contains(facts.now) => AutoUpgrade::Waiting {
                opens: window.next_opening(facts.now),
            },
            Some(to) => AutoUpgrade::Start { to },
        },
    };
    Decision {
        record: VersionCheck {
            version: facts.version,
            end_of_standard_support: facts.end_of_standard_support,
            checked_at: facts.now,
            days_left: days,
            notified,
        },
        notice,
        auto_upgrade,
    }
}

impl Decision {
    /// Whether the check has anything to do on the install (a notice or an upgrade to start).
    pub fn acts(&self) -> bool {
        self.notice.is_some() || matches!(self.auto_upgrade, AutoUpgrade::Start { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn v(text: &str) -> MinorVersion {
        MinorVersion::parse(text).unwrap()
    }

    fn facts<'a>(now: &str, previous: Option<&'a VersionCheck>) -> Facts<'a> {
        Facts {
            version: v("1.33"),
            end_of_standard_support: day("2026-07-29"),
            now: at(now),
            previous,
            window: None,
            newest_standard: Some(v("1.35")),
            failed_target: None,
            changes_allowed: true,
        }
    }

    #[test]
    fn days_are_counted_to_the_start_of_the_last_day_rounded_up() {
        let end = day("2026-07-29");
        assert_eq!(days_left(end, at("2026-06-29T00:00:00Z")), 30);
        assert_eq!(days_left(end, at("2026-06-29T23:59:00Z")), 30);
        assert_eq!(days_left(end, at("2026-06-29T00:00:01Z")), 30);
        assert_eq!(days_left(end, at("2026-06-28T23:59:59Z")), 31);
        assert_eq!(days_left(end, at("2026-07-29T00:00:00Z")), 0);
        assert_eq!(days_left(end, at("2026-07-30T12:00:00Z")), -1);
    }

    #[test]
    fn each_notice_goes_once_per_version_and_a_late_check_sends_the_most_urgent_only() {
        let first = decide(&facts("2026-05-30T10:00:00Z", None));
        assert_eq!((first.notice, first.record.days_left), (Some(60), 60));
        assert!(first.acts());
        let again = decide(&facts("2026-05-31T10:00:00Z", Some(&first.record)));
        assert_eq!(again.notice, None);
        assert!(!again.acts());
        let thirty = decide(&facts("2026-06-29T10:00:00Z", Some(&again.record)));
        assert_eq!(thirty.notice, Some(30));
        assert_eq!(thirty.record.notified, vec![60, 30]);
        // Never checked before, five days left: one email (7), all three counted as sent.
        let late = decide(&facts("2026-07-24T10:00:00Z", None));
        assert_eq!(late.notice, Some(7));
        assert_eq!(late.record.notified, vec![60, 30, 7]);
        let ended = decide(&facts("2026-07-29T01:00:00Z", Some(&late.record)));
        assert_eq!(ended.notice, Some(0));
        // A new version starts afresh.
        let mut upgraded = facts("2026-07-29T01:00:00Z", Some(&ended.record));
        upgraded.version = v("1.34");
        upgraded.end_of_standard_support = day("2026-12-02");
        let upgraded = decide(&upgraded);
        assert_eq!((upgraded.notice, upgraded.record.notified), (None, vec![]));
    }

    #[test]
    fn a_window_holds_its_hours_across_the_end_of_the_week() {
        let sunday_late = MaintenanceWindow {
            weekday: Weekday::Sun,
            start_hour_utc: 22,
            duration_hours: 4,
        };
        // 2026-12-06 is a Sunday.
        assert!(!sunday_late.contains(at("2026-12-06T21:59:00Z")));
        assert!(sunday_late.contains(at("2026-12-06T22:00:00Z")));
        assert!(sunday_late.contains(at("2026-12-07T01:59:00Z")));
        assert!(!sunday_late.contains(at("2026-12-07T02:00:00Z")));
        assert_eq!(
            sunday_late.next_opening(at("2026-12-07T02:30:00Z")),
            at("2026-12-13T22:00:00Z")
        );
        assert_eq!(
            sunday_late.next_opening(at("2026-12-06T23:30:00Z")),
            at("2026-12-06T23:00:00Z")
        );
        assert_eq!(sunday_late.to_string(), "Sundays 22:00 UTC for 4 hours");
    }

    #[test]
    fn auto_upgrade_starts_only_when_due_inside_the_window_and_not_after_a_failure() {
        let window = MaintenanceWindow {
            weekday: Weekday::Mon,
            start_hour_utc: 2,
            duration_hours: 3,
        };
        // 2026-06-29 is a Monday, 30 days before 1.33's end.
        let mut f = facts("2026-06-29T03:00:00Z", None);
        assert_eq!(decide(&f).auto_upgrade, AutoUpgrade::Off);
        f.window = Some(window);
        assert_eq!(
            decide(&f).auto_upgrade,
            AutoUpgrade::Start { to: v("1.35") }
        );
        f.failed_target = Some(v("1.35"));
        assert_eq!(decide(&f).auto_upgrade, AutoUpgrade::AfterFailure);
        f.failed_target = None;
        f.changes_allowed = false;
        assert_eq!(
            decide(&f).auto_upgrade,
            AutoUpgrade::NotAllowed { to: v("1.35") },
            "the customer's AllowChanges says no: nothing starts"
        );
        assert_eq!(
            decide(&f).acts(),
            decide(&f).notice.is_some(),
            "a notice perhaps, never an upgrade"
        );
        f.changes_allowed = true;
        f.now = at("2026-06-29T05:00:00Z");
        assert_eq!(
            decide(&f).auto_upgrade,
            AutoUpgrade::Waiting {
                opens: at("2026-07-06T02:00:00Z")
            }
        );
        f.now = at("2026-04-06T03:00:00Z");
        assert_eq!(decide(&f).auto_upgrade, AutoUpgrade::NotYet);
        f.now = at("2026-06-29T03:00:00Z");
        f.newest_standard = Some(v("1.33"));
        assert_eq!(decide(&f).auto_upgrade, AutoUpgrade::NothingNewer);
    }

    #[test]
    fn a_window_names_its_bad_field() {
        let bad: Result<MaintenanceWindow, _> =
            serde_json::from_str(r#"{"weekday":"funday","start_hour_utc":2,"duration_hours":3}"#);
        assert!(bad.unwrap_err().to_string().contains("not a weekday"));
        let late = MaintenanceWindow {
            weekday: Weekday::Mon,
            start_hour_utc: 24,
            duration_hours: 3,
        };
        assert_eq!(
            late.validate("options.maintenance_window")
                .unwrap_err()
                .field,
            "options.maintenance_window.start_hour_utc"
        );
    }
}
