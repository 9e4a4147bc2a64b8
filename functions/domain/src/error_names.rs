//! The error names the functions fail with, as Step Functions sees them (a failed Lambda
//! invocation's `errorType`): the state machines' Retry and Catch route on them, the install
//! keeps the one it failed with (`last_error.code`), and the emails, events and watches read
//! them. Each is defined once, here, so a rename is one change the compiler follows into every
//! function that raises it and every place that reads it.

/// AWS was busy or the call may pass later: the state machines retry it.
pub const TRANSIENT: &str = "Transient";
/// The customer paused the vendor's access: the state machines wait and try again.
pub const ACCESS_PAUSED: &str = "AccessPaused";
/// The customer's role cannot be assumed yet (the stack is still being made): retried.
pub const TRUST_NOT_READY: &str = "TrustNotReady";
/// The customer's role trusts too much or too little; the customer must fix the stack.
pub const TRUST_INVALID: &str = "TrustInvalid";
/// The role could be assumed before and cannot be now.
pub const ACCESS_LOST: &str = "AccessLost";
pub const INSTALL_NOT_FOUND: &str = "InstallNotFound";
pub const INVALID_TRANSITION: &str = "InvalidTransition";
/// A fault of ours or of the deployment (a missing setting): not retried.
pub const INTERNAL: &str = "Internal";
/// One of the provision checks failed before anything was built.
pub const PROVISION_CHECKS_FAILED: &str = "ProvisionChecksFailed";
pub const QUOTA_UNAVAILABLE: &str = "QuotaUnavailable";
pub const QUOTA_DENIED: &str = "QuotaDenied";
pub const QUOTA_WAIT_EXPIRED: &str = "QuotaWaitExpired";
pub const NETWORK_INVALID: &str = "NetworkInvalid";
pub const NETWORK_FAILED: &str = "NetworkFailed";
pub const INSTALL_NOT_ACTIVE: &str = "InstallNotActive";
pub const NETWORK_NOT_READY: &str = "NetworkNotReady";
pub const CLUSTER_FAILED: &str = "ClusterFailed";
pub const CLUSTER_INVALID: &str = "ClusterInvalid";
pub const UPGRADE_BLOCKED: &str = "UpgradeBlocked";
pub const UPGRADE_FAILED: &str = "UpgradeFailed";
pub const UPGRADE_INVALID: &str = "UpgradeInvalid";
/// A watch message that is not one (watch-install's queue).
pub const BAD_MESSAGE: &str = "BadMessage";
/// The API could not start a state machine (recorded on the install, never raised by a step).
pub const START_FAILED: &str = "StartFailed";

/// The names the state machines retry (the rest end the execution through its Catch).
pub const RETRIED: [&str; 3] = [TRANSIENT, TRUST_NOT_READY, ACCESS_PAUSED];

#[cfg(test)]
mod tests {
    use super::*;

    /// The error names in a state machine's `ErrorEquals` lists (the definitions carry
    /// `${…}` placeholders, so they are read as text).
    fn routed(file: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../statemachines")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        text.split("\"ErrorEquals\": [")
            .skip(1)
            .flat_map(|rest| {
                let list = rest.split(']').next().unwrap_or_default();
                list.split('"')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_state_machines_route_only_on_names_defined_here_or_by_the_runtime() {
        let runtime = |name: &str| {
            name.starts_with("States.")
                || name.starts_with("Lambda.")
                || name.starts_with("Sandbox.")
        };
        let mut seen = std::collections::BTreeSet::new();
        for file in ["install.asl.json", "upgrade.asl.json", "uninstall.asl.json"] {
            for name in routed(file) {
                if runtime(&name) {
                    continue;
                }
                assert!(
                    RETRIED.contains(&name.as_str()),
                    "{file} routes on {name}, which no function raises under that name"
                );
                seen.insert(name);
            }
        }
        for name in RETRIED {
            assert!(seen.contains(name), "no state machine retries {name}");
        }
    }
}
