//! A vendor's consumer of `byoc.install` events: an SQS queue that is the target of a rule on
//! the installer's EventBridge bus, matching one tenant's events (as a vendor would route
//! them), so a test reads exactly what that vendor's consumer would get.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};

use crate::stack::LocalStack;

pub struct EventQueue {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// Every event received, by (install_id, seq); a repeat (at-least-once) replaces itself.
    received: std::sync::Mutex<BTreeMap<(String, u64), Value>>,
    /// How many times each (install_id, seq) arrived.
    arrivals: std::sync::Mutex<BTreeMap<(String, u64), usize>>,
}

impl EventQueue {
    /// A queue receiving every `byoc.install` event about `tenant_id`'s installs.
    pub async fn for_tenant(stack: &LocalStack, tenant_id: &str) -> Result<Self, String> {
        let bus = stack
            .outputs
            .event_bus_name
            .as_deref()
            .ok_or("the deployment has no event_bus_name output; deploy again")?;
        let sqs = aws_sdk_sqs::Client::new(&stack.config);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("events-{tenant_id}"))
            .send()
            .await
            .map_err(|e| format!("CreateQueue: {e:?}"))?
            .queue_url
            .ok_or("no queue url")?;
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("GetQueueAttributes: {e:?}"))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or("no queue arn")?;
        let events = aws_sdk_eventbridge::Client::new(&stack.config);
        let rule = format!("installs-{tenant_id}");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(
                json!({"source": ["byoc.install"], "detail": {"tenant_id": [tenant_id]}})
                    .to_string(),
            )
            .send()
            .await
            .map_err(|e| format!("PutRule: {e:?}"))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("queue")
            .arn(queue_arn)
            .build()
            .map_err(|e| e.to_string())?;
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| format!("PutTargets: {e:?}"))?;
        Ok(Self {
            sqs,
            queue_url,
            received: Default::default(),
            arrivals: Default::default(),
        })
    }

    /// Receives what is waiting, then returns `install_id`'s events ordered by seq.
    async fn poll(&self, install_id: &str) -> Result<Vec<Value>, String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
        for message in out.messages() {
            let event: Value = serde_json::from_str(message.body().unwrap_or_default())
                .map_err(|e| format!("event body: {e}"))?;
            let key = (
                event["detail"]["install_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                event["detail"]["seq"].as_u64().unwrap_or(0),
            );
            *self
                .arrivals
                .lock()
                .map_err(|e| e.to_string())?
                .entry(key.clone())
                .or_default() += 1;
            self.received
                .lock()
                .map_err(|e| e.to_string())?
                .insert(key, event);
            if let Some(handle) = message.receipt_handle() {
                let _ = self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
        let received = self.received.lock().map_err(|e| e.to_string())?;
        Ok(received
            .iter()
            .filter(|((id, _), _)| id == install_id)
            .map(|(_, event)| event.clone())
            .collect())
    }

    /// How many of `install_id`'s events arrived more than once so far (delivery is at least
    /// once; without a failure, once).
    pub fn repeats(&self, install_id: &str) -> usize {
        self.arrivals.lock().map_or(0, |arrivals| {
            arrivals
                .iter()
                .filter(|((id, _), n)| id == install_id && **n > 1)
                .count()
        })
    }

    /// `install_id`'s events ordered by seq, once at least `count` have arrived.
    pub async fn wait_for(
        &self,
        install_id: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Value>, String> {
        let start = Instant::now();
        loop {
            let events = self.poll(install_id).await?;
            if events.len() >= count {
                return Ok(events);
            }
            if start.elapsed() > timeout {
                let seqs: Vec<u64> = events
                    .iter()
                    .filter_map(|e| e["detail"]["seq"].as_u64())
                    .collect();
                return Err(format!("after {timeout:?}, {} of {count} events of {install_id} arrived (seqs {seqs:?})", events.len()));
            }
        }
    }
}
