//! Which stream records are new entries of an install's timeline, and what they say. Every
//! other change to the table (the install item, tenants, slots, a delivery outcome written on
//! an entry) is skipped: one timeline entry is one event.

use aws_lambda_events::event::dynamodb::EventRecord;
use byoc_core::store::stream::timeline_install;
use byoc_domain::ids::InstallId;
use byoc_domain::model::TimelineEvent;
use serde_dynamo::AttributeValue;

/// A record's new timeline entry, if it is one. An entry that cannot be read is an error
/// (the caller logs and skips it: retrying cannot make it readable, and would stall the
/// stream behind it; its seq shows consumers the gap).
pub fn timeline_entry(record: &EventRecord) -> Result<Option<(InstallId, TimelineEvent)>, String> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let key = |name: &str| match record.change.keys.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let (Some(pk), Some(sk)) = (key("pk"), key("sk")) else {
        return Ok(None);
    };
    let Some(install_id) = timeline_install(pk, sk) else {
        return Ok(None);
    };
    if record.change.new_image.is_empty() {
        return Err(format!("stream record for {pk}/{sk} has no new image; the table's stream must be NEW_IMAGE or NEW_AND_OLD_IMAGES"));
    }
    let event: TimelineEvent = serde_dynamo::from_item(record.change.new_image.clone())
        .map_err(|e| format!("{pk}/{sk}: {e}"))?;
    Ok(Some((install_id, event)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::dynamodb::Event;
    use serde_json::json;

    fn record(event_name: &str, sk: &str, image: serde_json::Value) -> EventRecord {
        let event: Event = serde_json::from_value(json!({"Records": [{
            "eventID": "1", "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_700_000_000.0,
                "Keys": {"pk": {"S": "INSTALL#inst-01hx9q3m5v7k2d8c4n6p0r1s3t"}, "sk": {"S": sk}},
                "NewImage": image,
                "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"
            }
        }]}))
        .unwrap();
        event.records.into_iter().next().unwrap()
    }

    fn image(sk: &str) -> serde_json::Value {
        json!({
            "pk": {"S": "INSTALL#inst-01hx9q3m5v7k2d8c4n6p0r1s3t"}, "sk": {"S": sk},
            "seq": {"N": "3"}, "step": {"S": "create-network"}, "outcome": {"S": "started"},
            "at": {"S": "2024-05-01T10:00:00Z"}, "message": {"S": "creating the VPC"}
        })
    }

    #[test]
    fn a_new_event_item_is_a_timeline_entry() {
        let (install_id, event) = timeline_entry(&record(
            "INSERT",
            "EVENT#0000000003",
            image("EVENT#0000000003"),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(install_id.as_str(), "inst-01hx9q3m5v7k2d8c4n6p0r1s3t");
        assert_eq!(
            (event.seq, event.step.as_str(), event.message.as_str()),
            (3, "create-network", "creating the VPC")
        );
    }

    #[test]
    fn everything_else_is_skipped() {
        assert!(
            timeline_entry(&record(
                "MODIFY",
                "EVENT#0000000003",
                image("EVENT#0000000003")
            ))
            .unwrap()
            .is_none(),
            "a delivery outcome written on an entry"
        );
        assert!(
            timeline_entry(&record("INSERT", "META", image("META")))
                .unwrap()
                .is_none(),
            "the install item"
        );
        assert!(
            timeline_entry(&record("REMOVE", "EVENT#0000000003", json!({})))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_unreadable_entry_is_an_error_naming_it() {
        let err = timeline_entry(&record(
            "INSERT",
            "EVENT#0000000003",
            json!({"pk": {"S": "x"}, "seq": {"S": "three"}}),
        ))
        .unwrap_err();
        assert!(err.contains("EVENT#0000000003"), "{err}");
    }
}
