//! One check per check number: SQS may deliver a message twice, and each copy would send its
//! own next message, forking the chain of checks. Before checking, the watcher records the
//! check number it is about to make for its chain (one chain per task token) in the installs
//! table; a message whose number is not above the recorded one is a duplicate and is dropped,
//! unless it is the very message that made the record (an SQS redelivery after a failure,
//! same message id). Two copies handled at once may both pass; their next messages carry the
//! same number and only one of those passes, so a fork lasts one check at most.
//!
//! The items live under their own key (`WATCH#<install>`, sort key `<kind>#<chain>`), not in
//! the install's partition, whose items the install store reads as the install and its
//! timeline; they carry no index attribute, and publish-events passes over them (they are not
//! timeline entries). The table's TTL removes them a month after their last check.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::error::WatchError;
use crate::message::WatchMessage;

/// Long after any wait's ceiling (3 hours for a cluster, the quota wait's bound).
const KEEP_SECONDS: i64 = 30 * 24 * 3600;

#[derive(Clone)]
pub struct Claims {
    pub client: Client,
    pub table: String,
}

pub fn key(message: &WatchMessage) -> (String, String) {
    (
        format!("WATCH#{}", message.install_id),
        format!("{}#{}", message.watch.as_str(), message.chain()),
    )
}

impl Claims {
    /// Whether this delivery may make its check (`false`: a duplicate, drop it).
    pub async fn claim(
        &self,
        message: &WatchMessage,
        message_id: &str,
    ) -> Result<bool, WatchError> {
        let (pk, sk) = key(message);
        let expires_at = chrono::Utc::now().timestamp() + KEEP_SECONDS;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .update_expression("SET check_no = :n, message_id = :m, expires_at = :e")
            .condition_expression(
                "attribute_not_exists(pk) OR check_no < :n OR (check_no = :n AND message_id = :m)",
            )
            .expression_attribute_values(":n", AttributeValue::N(message.check.to_string()))
            .expression_attribute_values(":m", AttributeValue::S(message_id.to_owned()))
            .expression_attribute_values(":e", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(WatchError::Aws {
                service: "DynamoDB",
                message: byoc_core::aws::describe_sdk_error(&err),
            }),
        }
    }
}
