//! What invokes sweep-dangling: a state machine with an install's ids (one pass over that
//! install), or an EventBridge schedule with a Scheduled Event (a bounded run over the removed
//! and failed installs). Told apart by shape; anything else is refused with what was expected.

pub use byoc_core::schedule::ScheduledEvent;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::SweepInput;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepEvent {
    Install(SweepInput),
    Scheduled(ScheduledEvent),
}

impl<'de> Deserialize<'de> for SweepEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match ScheduledEvent::recognise(
            &value,
            "sweep-dangling runs for an install ({install_id, tenant_id, mode})",
        )
        .map_err(D::Error::custom)?
        {
            Some(event) => Ok(SweepEvent::Scheduled(event)),
            None => serde_json::from_value(value)
                .map(SweepEvent::Install)
                .map_err(D::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;
    use serde_json::json;

    #[test]
    fn a_schedule_and_a_state_machine_are_told_apart() {
        let scheduled: SweepEvent = serde_json::from_value(json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/byoc-sweep"], "detail": {}
        }))
        .unwrap();
        assert!(
            matches!(scheduled, SweepEvent::Scheduled(ScheduledEvent { ref time, .. }) if time.as_deref() == Some("2026-11-24T12:00:00Z"))
        );
        let install: SweepEvent = serde_json::from_value(json!({"install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "mode": "dry_run"})).unwrap();
        assert!(matches!(
            install,
            SweepEvent::Install(SweepInput {
                mode: Mode::DryRun,
                ..
            })
        ));
    }

    #[test]
    fn other_events_are_refused_with_what_was_expected() {
        let err = serde_json::from_value::<SweepEvent>(json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}})).unwrap_err();
        assert!(
            err.to_string().contains(
                "got detail-type \"EC2 Instance State-change Notification\" from \"aws.ec2\""
            ),
            "{err}"
        );
        let err = serde_json::from_value::<SweepEvent>(json!({"tenant_id": "acme"})).unwrap_err();
        assert!(err.to_string().contains("install_id"), "{err}");
    }
}
