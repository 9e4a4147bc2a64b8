//! What invokes sweep-dangling: a state machine with an install's ids (one pass over that
//! install), or an EventBridge schedule with a Scheduled Event (a bounded run over the removed
//! and failed installs). Told apart by shape; anything else is refused with what was expected.
//! A pass answers with [`SweepOutput`], which the state machine feeds back as the next input.

pub use aws_lambda_events::event::sqs::SqsEvent;
use byoc_core::fleet::recognise_queue_event;
use byoc_core::schedule::ScheduledEvent;
use byoc_domain::ids::{InstallId, TenantId};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

pub use byoc_domain::sweep_record::SweepMode as Mode;

/// Ids only, like every step's input; other fields (a caught `error`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepInput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    #[serde(default)]
    pub mode: Mode,
}

/// Ids and counts. `mode` is echoed so a state machine looping on its own output cannot turn
/// a dry run into a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepOutput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub mode: Mode,
    pub remaining: usize,
    pub done: bool,
    /// What the remaining resources cost a month (USD, list prices) while they stay.
    pub monthly_cost_usd: f64,
    /// How many of the remaining ones waiting will not remove (listed on the sweep record).
    #[serde(default)]
    pub leftovers: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepEvent {
    Install(SweepInput),
    Scheduled(ScheduledEvent),
    /// A batch of the sweep's queue: installs a scheduled run sent to be swept.
    Queue(SqsEvent),
}

impl<'de> Deserialize<'de> for SweepEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Some(batch) = recognise_queue_event(&value) {
            return Ok(SweepEvent::Queue(batch));
        }
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
    use serde_json::json;

    #[test]
    fn input_defaults_to_delete_and_ignores_a_caught_error() {
        let input: SweepInput = serde_json::from_value(json!({
            "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "error": {"Error": "Transient"}
        }))
        .unwrap();
        assert_eq!(input.mode, Mode::Delete);
        let dry: SweepInput = serde_json::from_value(json!({"install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "mode": "dry_run"})).unwrap();
        assert_eq!(dry.mode, Mode::DryRun);
        assert!(serde_json::from_value::<SweepInput>(json!({"install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "mode": "nuke"})).is_err());
    }

    #[test]
    fn output_fed_back_as_input_keeps_the_mode() {
        let out = SweepOutput {
            install_id: InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap(),
            tenant_id: TenantId::parse("t", "acme").unwrap(),
            mode: Mode::DryRun,
            remaining: 3,
            done: true,
            monthly_cost_usd: 1.5,
            leftovers: 0,
        };
        let again: SweepInput =
            serde_json::from_value(serde_json::to_value(&out).unwrap()).unwrap();
        assert_eq!(again.mode, Mode::DryRun);
    }

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
