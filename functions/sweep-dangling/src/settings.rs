//! How the scheduled sweep works, read once at start: how long one install's pass may take,
//! the time kept in hand before the Lambda's timeout, where its queue is, and after how many
//! clean sweeps in a row a removed install stops being swept.

use std::time::Duration;

pub use byoc_core::schedule::ScheduleSettings;
use byoc_domain::Error;

/// One pass over a large install takes tens of seconds on AWS.
pub const DEFAULT_SETTINGS: ScheduleSettings = ScheduleSettings {
    check_timeout: Duration::from_secs(90),
    reserve: Duration::from_secs(10),
};

/// Clean sweeps in a row that retire a removed install, unless `SWEEP_RETIRE_AFTER` says.
pub const DEFAULT_RETIRE_AFTER: u32 = 3;

/// Reads the optional `SWEEP_SCHEDULE_CHECK_TIMEOUT_SECONDS` (default 90) and
/// `SWEEP_SCHEDULE_RESERVE_SECONDS` (default 10).
pub fn from_env() -> Result<ScheduleSettings, Error> {
    ScheduleSettings::from_env("SWEEP_SCHEDULE", DEFAULT_SETTINGS)
}

/// `SWEEP_RETIRE_AFTER` (1 to 100), else 3.
pub fn retire_after_from_env() -> Result<u32, Error> {
    retire_after(std::env::var("SWEEP_RETIRE_AFTER").ok().as_deref())
}

pub fn retire_after(value: Option<&str>) -> Result<u32, Error> {
    let after = byoc_core::schedule::whole_number(
        "SWEEP_RETIRE_AFTER",
        value,
        1..=100,
        u64::from(DEFAULT_RETIRE_AFTER),
    )?;
    Ok(after as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retiring_defaults_to_three_clean_sweeps_and_names_a_bad_value() {
        assert_eq!(retire_after(None).unwrap(), 3);
        assert_eq!(retire_after(Some(" 5 ")).unwrap(), 5);
        let err = retire_after(Some("0")).unwrap_err().to_string();
        assert!(
            err.contains("SWEEP_RETIRE_AFTER must be a whole number from 1 to 100, not \"0\""),
            "{err}"
        );
    }
}
