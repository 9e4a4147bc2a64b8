//! What invokes validate-trust: the install state machine with an install's ids (validate the
//! trust before anything is built), an EventBridge schedule with a Scheduled Event (send the
//! ready installs to the trust check's queue), or that queue with a batch of them. Told apart
//! by shape; anything else is refused with what was expected.

use aws_lambda_events::event::sqs::SqsEvent;
use byoc_core::fleet::recognise_queue_event;
use byoc_core::schedule::ScheduledEvent;
use byoc_domain::step_input::StepInput;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustEvent {
    Install(StepInput),
    Scheduled(ScheduledEvent),
    /// A batch of the trust check's queue: installs a scheduled run sent to be checked.
    Queue(SqsEvent),
}

impl<'de> Deserialize<'de> for TrustEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Some(batch) = recognise_queue_event(&value) {
            return Ok(TrustEvent::Queue(batch));
        }
        match ScheduledEvent::recognise(
            &value,
            "validate-trust runs for an install ({install_id, tenant_id})",
        )
        .map_err(D::Error::custom)?
        {
            Some(event) => Ok(TrustEvent::Scheduled(event)),
            None => serde_json::from_value(value)
                .map(TrustEvent::Install)
                .map_err(D::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schedule_and_a_state_machine_are_told_apart() {
        let scheduled: TrustEvent = serde_json::from_value(json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/byoc-trust-check"], "detail": {}
        }))
        .unwrap();
        assert!(matches!(scheduled, TrustEvent::Scheduled(_)));
        let install: TrustEvent = serde_json::from_value(
            json!({"install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme"}),
        )
        .unwrap();
        assert!(matches!(install, TrustEvent::Install(StepInput { .. })));
    }

    #[test]
    fn other_events_are_refused_with_what_was_expected() {
        let err = serde_json::from_value::<TrustEvent>(
            json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("validate-trust runs for an install ({install_id, tenant_id}) or on an EventBridge schedule"), "{err}");
        let err = serde_json::from_value::<TrustEvent>(json!({"tenant_id": "acme"})).unwrap_err();
        assert!(err.to_string().contains("install_id"), "{err}");
    }
}
