//! A customer's inbox: an SQS queue subscribed to the notification topic with the same filter
//! policy the API gives the customer's email subscription, so it receives exactly what the
//! customer's email address receives.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::stack::LocalStack;

pub struct Inbox {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEmail {
    pub subject: String,
    pub body: String,
    /// The SNS message attributes, as `name=value`.
    pub attributes: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Subject", default)]
    subject: Option<String>,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "MessageAttributes", default)]
    attributes: serde_json::Map<String, serde_json::Value>,
}

impl Inbox {
    pub async fn for_tenant(stack: &LocalStack, tenant_id: &str) -> Result<Self, String> {
        let sqs = aws_sdk_sqs::Client::new(&stack.config);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("inbox-{tenant_id}"))
            .send()
            .await
            .map_err(|e| format!("CreateQueue: {e:?}"))?
            .queue_url
            .ok_or("no queue url")?;
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("GetQueueAttributes: {e:?}"))?
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .ok_or("no queue arn")?;
        aws_sdk_sns::Client::new(&stack.config)
            .subscribe()
            .topic_arn(&stack.outputs.topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes(
                "FilterPolicy",
                serde_json::json!({ "tenant_id": [tenant_id] }).to_string(),
            )
            .attributes("FilterPolicyScope", "MessageAttributes")
            .send()
            .await
            .map_err(|e| format!("Subscribe: {e:?}"))?;
        Ok(Self { sqs, queue_url })
    }

    /// Everything received so far, waiting up to `timeout` for at least `count` emails.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedEmail>, String> {
        let start = Instant::now();
        let mut emails = Vec::new();
        while emails.len() < count && start.elapsed() < timeout {
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
                let envelope: Envelope = serde_json::from_str(message.body().unwrap_or_default())
                    .map_err(|e| format!("SNS envelope: {e}"))?;
                let mut attributes: Vec<String> = envelope
                    .attributes
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.get("Value").and_then(|x| x.as_str()).unwrap_or_default()
                        )
                    })
                    .collect();
                attributes.sort();
                emails.push(ReceivedEmail {
                    subject: envelope.subject.unwrap_or_default(),
                    body: envelope.message,
                    attributes,
                });
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
        }
        Ok(emails)
    }
}
