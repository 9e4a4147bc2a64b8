//! Crash injection for the crash-safety tests: with `BYOC_FAULT_CRASH_AFTER=create-network:<point>`
//! in its environment, the function exits right after the create call at `<point>` and before
//! recording it, as a Lambda killed mid-run would. Points: `vpc`, `subnet`, `internet-gateway`,
//! `route-table`, `eip`, `nat-gateway`. Unset (always, in a real deployment) it does nothing.

use tracing::error;

pub const ENV: &str = "BYOC_FAULT_CRASH_AFTER";
const PREFIX: &str = "create-network:";

#[derive(Debug, Clone, Default)]
pub struct Fault {
    crash_after: Option<String>,
}

impl Fault {
    pub fn from_env() -> Self {
        Self::at(std::env::var(ENV).ok().as_deref())
    }

    pub fn at(setting: Option<&str>) -> Self {
        Self { crash_after: setting.and_then(|s| s.strip_prefix(PREFIX)).map(str::to_owned) }
    }

    pub fn crashes_at(&self, point: &str) -> bool {
        self.crash_after.as_deref() == Some(point)
    }

    /// Exits the process when `point` is the configured crash point.
    pub fn point(&self, point: &str) {
        if self.crashes_at(point) {
            error!(point, "{ENV} reached: exiting before the record write");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_functions_points_count() {
        assert!(Fault::at(Some("create-network:vpc")).crashes_at("vpc"));
        assert!(!Fault::at(Some("create-cluster:vpc")).crashes_at("vpc"));
        assert!(!Fault::at(Some("create-network:vpc")).crashes_at("subnet"));
        assert!(!Fault::at(None).crashes_at("vpc"));
    }
}
