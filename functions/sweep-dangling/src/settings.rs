//! How much one scheduled run may do, read once at start. A run stops starting new installs
//! at either bound and the next run carries on where it stopped.

use std::time::Duration;

use byoc_core::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// Installs checked per scheduled run at most.
    pub max_installs: usize,
    /// Time kept in hand before the Lambda's timeout: no install is started with less left
    /// (one pass over a large install takes tens of seconds on AWS).
    pub reserve: Duration,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self { max_installs: 20, reserve: Duration::from_secs(40) }
    }
}

impl ScheduleSettings {
    /// Reads the optional `SWEEP_SCHEDULE_MAX_INSTALLS` (1–1000, default 20) and
    /// `SWEEP_SCHEDULE_RESERVE_SECONDS` (default 40).
    pub fn from_env() -> Result<Self, Error> {
        Self::from_values(std::env::var("SWEEP_SCHEDULE_MAX_INSTALLS").ok().as_deref(), std::env::var("SWEEP_SCHEDULE_RESERVE_SECONDS").ok().as_deref())
    }

    fn from_values(max_installs: Option<&str>, reserve_seconds: Option<&str>) -> Result<Self, Error> {
        let defaults = Self::default();
        let number = |name: &str, value: Option<&str>, range: std::ops::RangeInclusive<u64>, default: u64| -> Result<u64, Error> {
            let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(default) };
            value
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| Error::Config(format!("{name} must be a whole number from {} to {}, not {value:?}", range.start(), range.end())))
        };
        Ok(Self {
            max_installs: number("SWEEP_SCHEDULE_MAX_INSTALLS", max_installs, 1..=1000, defaults.max_installs as u64)? as usize,
            reserve: Duration::from_secs(number("SWEEP_SCHEDULE_RESERVE_SECONDS", reserve_seconds, 0..=900, defaults.reserve.as_secs())?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset_and_bad_values_name_the_variable() {
        assert_eq!(ScheduleSettings::from_values(None, Some(" ")).unwrap(), ScheduleSettings::default());
        let set = ScheduleSettings::from_values(Some("5"), Some("10")).unwrap();
        assert_eq!((set.max_installs, set.reserve), (5, Duration::from_secs(10)));
        let err = ScheduleSettings::from_values(Some("0"), None).unwrap_err().to_string();
        assert!(err.contains("SWEEP_SCHEDULE_MAX_INSTALLS must be a whole number from 1 to 1000, not \"0\""), "{err}");
        assert!(ScheduleSettings::from_values(None, Some("soon")).unwrap_err().to_string().contains("SWEEP_SCHEDULE_RESERVE_SECONDS"));
    }
}
