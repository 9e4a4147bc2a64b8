//! How much one scheduled run may do, read once at start. A run stops starting new installs
//! at either bound and the next run carries on where it stopped.

use std::time::Duration;

pub use byoc_core::schedule::ScheduleSettings;
use byoc_core::Error;

/// One pass over a large install takes tens of seconds on AWS: 40 s are kept in hand.
pub const DEFAULT_SETTINGS: ScheduleSettings = ScheduleSettings {
    max_installs: 20,
    reserve: Duration::from_secs(40),
};

/// Reads the optional `SWEEP_SCHEDULE_MAX_INSTALLS` (1–1000, default 20) and
/// `SWEEP_SCHEDULE_RESERVE_SECONDS` (default 40).
pub fn from_env() -> Result<ScheduleSettings, Error> {
    ScheduleSettings::from_env("SWEEP_SCHEDULE", DEFAULT_SETTINGS)
}
