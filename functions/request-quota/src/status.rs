//! What a quota increase request's AWS status means for the install, and what a set of
//! requests means together.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
}

/// Maps a Service Quotas request status. `applied_raised` says whether the quota's applied
/// value has reached the desired value: a CASE_CLOSED request is a grant only then (support
/// closes cases both ways).
pub fn state_of(status: &str, applied_raised: bool) -> RequestState {
    match status {
        "APPROVED" => RequestState::Approved,
        "CASE_CLOSED" if applied_raised => RequestState::Approved,
        "CASE_CLOSED" | "DENIED" | "NOT_APPROVED" | "INVALID_REQUEST" => RequestState::Denied,
        // PENDING, CASE_OPENED, and any status AWS adds later: keep polling; the state
        // machine's total wait bounds it.
        _ => RequestState::Pending,
    }
}

/// One denied request settles the install; otherwise it waits while any is pending.
pub fn overall(states: impl IntoIterator<Item = RequestState>) -> RequestState {
    let mut result = RequestState::Approved;
    for state in states {
        match state {
            RequestState::Denied => return RequestState::Denied,
            RequestState::Pending => result = RequestState::Pending,
            RequestState::Approved => {}
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestState::*;

    #[test]
    fn every_aws_status_is_mapped() {
        for (status, raised, state) in [
            ("PENDING", false, Pending),
            ("CASE_OPENED", false, Pending),
            ("APPROVED", false, Approved),
            ("APPROVED", true, Approved),
            ("CASE_CLOSED", true, Approved),
            ("CASE_CLOSED", false, Denied),
            ("DENIED", false, Denied),
            ("NOT_APPROVED", false, Denied),
            ("INVALID_REQUEST", false, Denied),
            ("SOMETHING_NEW", false, Pending),
        ] {
            assert_eq!(state_of(status, raised), state, "{status} raised={raised}");
        }
    }

    #[test]
    fn denied_wins_then_pending() {
        assert_eq!(overall([Approved, Pending, Denied]), Denied);
        assert_eq!(overall([Approved, Pending]), Pending);
        assert_eq!(overall([Approved, Approved]), Approved);
        assert_eq!(overall([]), Approved, "nothing to wait for");
    }
}
