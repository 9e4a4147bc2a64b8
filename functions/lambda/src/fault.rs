//! Crash injection for the crash-safety tests: with `BYOC_FAULT_CRASH_AFTER=<function>:<point>`
//! in its environment, a function exits right after the AWS create call at `<point>` and before
//! it records that call, as a Lambda killed mid-run would. The next run must adopt what the
//! crashed one made. Unset it does nothing; built without the `crash-injection` feature (the
//! release zips) the setting is not even read.
//!
//! Points by function:
//! - `api`: `uninstall-started` (after the uninstall's StartExecution, before the answer)
//! - `create-network`: `vpc`, `subnet`, `internet-gateway`, `route-table`, `eip`, `nat-gateway`
//! - `create-cluster`: `cluster`, `access-entry`, `nodegroup`, `addon`
//! - `request-quota`: `quota-request`
//! - `notify`: `publish`
//! - `upgrade-cluster`: `update-started` (after UpdateClusterVersion, UpdateNodegroupVersion or
//!   UpdateAddon)

use tracing::error;

pub const ENV: &str = "BYOC_FAULT_CRASH_AFTER";

#[derive(Debug, Clone, Default)]
pub struct Fault {
    crash_after: Option<String>,
}

impl Fault {
    /// The crash point set for `function` (its crate name) in the environment, if any. Without
    /// the `crash-injection` feature (every release build) the environment is not read: no
    /// setting can make a deployed function exit.
    pub fn from_env(function: &str) -> Self {
        if cfg!(feature = "crash-injection") {
            Self::at(function, std::env::var(ENV).ok().as_deref())
        } else {
            Self::none()
        }
    }

    pub fn at(function: &str, setting: Option<&str>) -> Self {
        let point = setting
            .and_then(|s| s.split_once(':'))
            .filter(|(f, _)| *f == function)
            .map(|(_, point)| point.to_owned());
        Self { crash_after: point }
    }

    /// No crash anywhere: what every function outside these tests runs with.
    pub fn none() -> Self {
        Self::default()
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
    fn only_the_named_functions_points_count() {
        assert!(Fault::at("create-network", Some("create-network:vpc")).crashes_at("vpc"));
        assert!(!Fault::at("create-network", Some("create-cluster:vpc")).crashes_at("vpc"));
        assert!(!Fault::at("create-network", Some("create-network:vpc")).crashes_at("subnet"));
        assert!(!Fault::at("create-network", Some("vpc")).crashes_at("vpc"));
        assert!(!Fault::at("create-network", None).crashes_at("vpc"));
        assert!(!Fault::none().crashes_at("vpc"));
    }
}
