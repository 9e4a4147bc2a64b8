//! Publishing to the vendor's EventBridge bus: PutEvents in batches of ten (its limit), in
//! order, retrying only the entries EventBridge did not take.

use std::time::Duration;

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use byoc_domain::install_event::{InstallEvent, SOURCE};
use tracing::warn;

/// PutEvents takes at most ten entries per call.
const BATCH: usize = 10;
/// Attempts per batch before the stream is told to retry from the first entry not taken.
const ATTEMPTS: u32 = 4;

fn entry(bus: &str, event: &InstallEvent) -> Result<PutEventsRequestEntry, serde_json::Error> {
    let detail = serde_json::to_string(&event.detail)?;
    Ok(PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(event.detail_type.as_str())
        .detail(detail)
        .time(aws_smithy_types::DateTime::from_millis(
            event.detail.at.timestamp_millis(),
        ))
        .build())
}

/// Which of `pending` (positions in the batch, in the order they were sent) EventBridge did
/// not take: its results line up with the request's entries, and a refused one has an
/// error code.
pub fn not_taken(pending: &[usize], results: &[PutEventsResultEntry]) -> Vec<usize> {
    pending
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            results
                .get(*i)
                .is_none_or(|r| r.error_code().is_some() || r.event_id().is_none())
        })
        .map(|(_, position)| *position)
        .collect()
}

/// Publishes `events` in order and returns how many, from the front, are on the bus. Fewer
/// than all means the next one could not be published after retries; nothing after it is
/// counted even if EventBridge took it, so the stream retries from there (at-least-once).
pub async fn publish(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    events: &[InstallEvent],
) -> usize {
    let mut published = 0;
    for chunk in events.chunks(BATCH) {
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let mut entries = Vec::with_capacity(pending.len());
            for &i in &pending {
                match entry(bus, &chunk[i]) {
                    Ok(e) => entries.push(e),
                    // Unreachable in practice (the detail is plain data); never drop silently.
                    Err(err) => {
                        warn!(error = %err, event_id = %chunk[i].id(), "event detail could not be encoded");
                        return published + i;
                    }
                }
            }
            match client.put_events().set_entries(Some(entries)).send().await {
                Ok(out) => {
                    let refused = not_taken(&pending, out.entries());
                    for r in out.entries().iter().filter(|r| r.error_code().is_some()) {
                        warn!(
                            code = r.error_code().unwrap_or_default(),
                            message = r.error_message().unwrap_or_default(),
                            "EventBridge refused an event"
                        );
                    }
                    pending = refused;
                }
                Err(err) => {
                    warn!(attempt, error = %byoc_core::aws::describe_sdk_error(&err), "PutEvents failed")
                }
            }
            if pending.is_empty() {
                break;
            }
        }
        if let Some(first) = pending.iter().min() {
            return published + first;
        }
        published += chunk.len();
    }
    published
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: &str) -> PutEventsResultEntry {
        PutEventsResultEntry::builder().event_id(id).build()
    }

    fn refused() -> PutEventsResultEntry {
        PutEventsResultEntry::builder()
            .error_code("InternalFailure")
            .error_message("try again")
            .build()
    }

    #[test]
    fn only_refused_entries_are_sent_again() {
        assert_eq!(
            not_taken(&[0, 1, 2, 3], &[ok("a"), refused(), ok("c"), refused()]),
            vec![1, 3]
        );
        // On a retry the request held only the refused ones: results map back to positions.
        assert_eq!(not_taken(&[1, 3], &[ok("b"), refused()]), vec![3]);
        assert!(not_taken(&[0, 1], &[ok("a"), ok("b")]).is_empty());
        assert_eq!(
            not_taken(&[0, 1], &[ok("a")]),
            vec![1],
            "a missing result is not a success"
        );
    }
}
