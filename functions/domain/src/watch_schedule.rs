//! When the install watcher (watch-install) looks again at a long wait: the cluster coming up
//! or AWS deciding quota increases. The state machine waits on a callback while the watcher
//! checks on a chain of delayed SQS messages; these rules say how long each link is delayed.
//! Pure, so the schedule is tested without AWS.

use serde::{Deserialize, Serialize};

/// SQS holds a message back at most 15 minutes (`DelaySeconds` 0–900).
pub const MAX_DELAY_SECONDS: u64 = 900;

/// A cluster's first checks come quickly (a cluster that was nearly ready when the wait began
/// is seen in seconds), then settle at the poll interval, which bounds the detection lag. The
/// first re-check comes at once: the first check often starts something (the node group once
/// the cluster is ACTIVE) that the next look may find done, and SQS delays are whole seconds,
/// so "at once" is the only choice under one. Four ramp checks in 14 s, as many as 1, 2, 4, 8.
const CLUSTER_RAMP_SECONDS: [u64; 4] = [0, 2, 4, 8];

/// Consecutive failed checks (a `Transient` step error, Lambda throttling) the watcher retries
/// before failing the wait: the five retries the state machine's Retry blocks allow a step.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 5;

/// What a watch waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchKind {
    /// The cluster, the NAT gateways and the node group (create-network, then create-cluster).
    Cluster,
    /// AWS's decision on the install's quota increases (request-quota).
    Quota,
    /// A Kubernetes version upgrade, hop by hop (upgrade-cluster's `advance`).
    Upgrade,
}

impl WatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchKind::Cluster => "cluster",
            WatchKind::Quota => "quota",
            WatchKind::Upgrade => "upgrade",
        }
    }
}

/// Seconds before check number `check` (1 for the first re-check after the wait began) of a
/// `kind` watch whose poll interval is `poll_seconds`.
pub fn delay_before(kind: WatchKind, check: u32, poll_seconds: u64) -> u64 {
    let poll = poll_seconds.min(MAX_DELAY_SECONDS);
    match kind {
        // An upgrade starts its next part on the check that sees the last one done: the same
        // ramp as the cluster's, as each part's first look often finds it done.
        WatchKind::Cluster | WatchKind::Upgrade => {
            let ramp = check
                .checked_sub(1)
                .and_then(|i| CLUSTER_RAMP_SECONDS.get(i as usize).copied())
                .unwrap_or(poll);
            ramp.min(poll)
        }
        WatchKind::Quota => poll,
    }
}

/// Seconds before trying again after the `failures`-th consecutive failed check: 2, 4, 8, 16,
/// 32, as the state machine's Retry blocks back off (IntervalSeconds 2, BackoffRate 2).
pub fn retry_delay(failures: u32) -> u64 {
    let exponent = failures.clamp(1, 10);
    (1u64 << exponent).min(MAX_DELAY_SECONDS)
}

/// Whether a check that failed with `failures` consecutive failures (this one included) may
/// be tried again, or the wait fails with its error.
pub fn may_retry(failures: u32) -> bool {
    failures <= MAX_CONSECUTIVE_FAILURES
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cluster_checks_ramp_up_then_stay_at_the_poll_interval() {
        let delays: Vec<u64> = (1..=7)
            .map(|c| delay_before(WatchKind::Cluster, c, 15))
            .collect();
        assert_eq!(delays, [0, 2, 4, 8, 15, 15, 15]);
    }

    #[test]
    fn a_short_poll_interval_caps_the_ramp() {
        let delays: Vec<u64> = (1..=6)
            .map(|c| delay_before(WatchKind::Cluster, c, 3))
            .collect();
        assert_eq!(delays, [0, 2, 3, 3, 3, 3]);
    }

    #[test]
    fn quota_checks_wait_the_poll_interval_within_what_sqs_allows() {
        assert_eq!(delay_before(WatchKind::Quota, 1, 300), 300);
        assert_eq!(delay_before(WatchKind::Quota, 9, 900), 900);
        assert_eq!(delay_before(WatchKind::Quota, 1, 3600), MAX_DELAY_SECONDS);
    }

    #[test]
    fn failures_back_off_like_the_state_machine_and_stop_after_five() {
        let delays: Vec<u64> = (1..=5).map(retry_delay).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32]);
        assert!((1..=5).all(may_retry));
        assert!(!may_retry(6));
    }

    #[test]
    fn kinds_are_named_as_the_state_machine_sends_them() {
        for kind in [WatchKind::Cluster, WatchKind::Quota] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    proptest! {
        #[test]
        fn every_delay_is_one_sqs_accepts_and_never_beyond_the_poll_interval(check in 0u32..10_000, poll in 1u64..100_000, quota in any::<bool>()) {
            let kind = if quota { WatchKind::Quota } else { WatchKind::Cluster };
            let delay = delay_before(kind, check, poll);
            prop_assert!(delay <= MAX_DELAY_SECONDS);
            prop_assert!(delay <= poll, "detection lag is bounded by the poll interval");
            // At once only for the cluster's first re-check: never a tight loop.
            prop_assert!(delay >= 1 || (kind == WatchKind::Cluster && check == 1));
        }

        #[test]
        fn cluster_delays_never_shrink_and_settle_at_the_poll_interval(check in 1u32..10_000, poll in 1u64..2_000) {
            let now = delay_before(WatchKind::Cluster, check, poll);
            prop_assert!(delay_before(WatchKind::Cluster, check + 1, poll) >= now);
            if check > CLUSTER_RAMP_SECONDS.len() as u32 {
                prop_assert_eq!(now, poll.min(MAX_DELAY_SECONDS));
            }
        }

        #[test]
        fn retry_delays_grow_and_stay_within_sqs_limits(failures in 0u32..1_000) {
            let delay = retry_delay(failures);
            prop_assert!((2..=MAX_DELAY_SECONDS).contains(&delay));
            prop_assert!(retry_delay(failures + 1) >= delay);
        }
    }
}
