//! Idempotency keys in the install store: one item per caller, route and key
//! (`IDEMPOTENCY#<scope>#<key>`, `META`), claimed with a conditional write so that of any
//! number of concurrent requests with one key exactly one acts. The rules (what a found key
//! means) are in `byoc_domain::idempotency`.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use tracing::warn;

use super::{s, InstallStore};
use byoc_domain::error::{Error, Result};
use byoc_domain::idempotency::{
    judge, Claim, IdempotencyKey, Judgement, KeyRecord, KeyState, Lease, StoredResponse,
    KEEP_SECONDS, LEASE_MILLIS,
};

/// Rounds of claim / read / take-over before answering "still in progress".
const MAX_ROUNDS: u32 = 5;

type Item = HashMap<String, AttributeValue>;

fn key_pk(scope: &str, key: &IdempotencyKey) -> String {
    format!("IDEMPOTENCY#{scope}#{}", key.as_str())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().ok(),
        _ => None,
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

fn key_record(item: &Item) -> Result<KeyRecord> {
    let corrupt =
        |what: &str| Error::Corrupt(format!("idempotency key item without a valid {what}"));
    let response = match number(item, "response_status") {
        Some(status) => Some(StoredResponse {
            status: u16::try_from(status).map_err(|_| corrupt("response_status"))?,
            body: text(item, "response_body")
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("response_body"))?,
        }),
        None => None,
    };
    Ok(KeyRecord {
        fingerprint: text(item, "fingerprint")
            .ok_or_else(|| corrupt("fingerprint"))?
            .to_owned(),
        state: text(item, "key_state")
            .and_then(KeyState::parse)
            .ok_or_else(|| corrupt("key_state"))?,
        lease_until_ms: number(item, "lease_until").ok_or_else(|| corrupt("lease_until"))?,
        expires_at: number(item, "expires_at").ok_or_else(|| corrupt("expires_at"))?,
        resource: text(item, "resource").map(str::to_owned),
        response,
    })
}

fn refused<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

impl InstallStore {
    /// Claims `key` for a request whose body digests to `fingerprint`, reserving `reserve`
    /// (what the request will make, e.g. a new install id) for a take-over to continue with.
    pub async fn claim_key(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
        reserve: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Claim> {
        let pk = key_pk(scope, key);
        let now_ms = now.timestamp_millis();
        let lease_until_ms = now_ms + LEASE_MILLIS;
        // Tells this request's own write from another's when the SDK repeats a write that took
        // effect (its answer lost) and the repeat is refused.
        let holder = byoc_domain::ids::random_hex::<16>()?;
        for _ in 0..MAX_ROUNDS {
            let mut item: Item = HashMap::from([
                ("pk".to_string(), s(pk.clone())),
                ("sk".to_string(), s("META")),
                ("fingerprint".to_string(), s(fingerprint)),
                ("key_state".to_string(), s(KeyState::InProgress.as_str())),
                ("lease_until".to_string(), n(lease_until_ms)),
                ("holder".to_string(), s(holder.clone())),
                ("expires_at".to_string(), n(now.timestamp() + KEEP_SECONDS)),
            ]);
            if let Some(resource) = reserve {
                item.insert("resource".into(), s(resource));
            }
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
                .expression_attribute_values(":now", n(now.timestamp()))
                .send()
                .await;
            match put {
                Ok(_) => {
                    return Ok(Claim::Granted(Lease {
                        pk,
                        lease_until_ms,
                        resource: reserve.map(str::to_owned),
                    }))
                }
                Err(err) if refused(&err) => {}
                Err(err) => return Err(Error::aws("DynamoDB", err)),
            }

            let found = self.get_item(pk.clone()).await?;
            if let Some(mine) = found
                .as_ref()
                .filter(|item| text(item, "holder") == Some(holder.as_str()))
            {
                return Ok(Claim::Granted(Lease {
                    pk,
                    lease_until_ms: number(mine, "lease_until").unwrap_or(lease_until_ms),
                    resource: text(mine, "resource").map(str::to_owned),
                }));
            }
            let record = found.as_ref().map(key_record).transpose()?;
            match judge(record.as_ref(), fingerprint, now_ms) {
                Judgement::Free => continue,
                Judgement::Claim(claim) => return Ok(claim),
                Judgement::TakeOver {
                    seen_lease_until_ms,
                } => {
                    let taken = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", s(pk.clone()))
                        .key("sk", s("META"))
                        .update_expression("SET lease_until = :mine, key_state = :in_progress, holder = :holder REMOVE response_status, response_body")
                        .condition_expression("lease_until = :seen AND fingerprint = :fp")
                        .expression_attribute_values(":mine", n(lease_until_ms))
                        .expression_attribute_values(":in_progress", s(KeyState::InProgress.as_str()))
                        .expression_attribute_values(":seen", n(seen_lease_until_ms))
                        .expression_attribute_values(":fp", s(fingerprint))
                        .expression_attribute_values(":holder", s(holder.clone()))
                        .return_values(ReturnValue::AllNew)
                        .send()
                        .await;
                    match taken {
                        Ok(out) => {
                            let resource = out
                                .attributes
                                .as_ref()
                                .and_then(|a| text(a, "resource"))
                                .map(str::to_owned);
                            warn!("took over an idempotency key whose first request stopped before answering");
                            return Ok(Claim::Granted(Lease {
                                pk,
                                lease_until_ms,
                                resource,
                            }));
                        }
                        Err(err) if refused(&err) => continue,
                        Err(err) => return Err(Error::aws("DynamoDB", err)),
                    }
                }
            }
        }
        Ok(Claim::InProgress {
            resource: reserve.map(str::to_owned),
        })
    }

    /// Keeps the response for repeats of the request. A holder that lost its lease (it ran
    /// past it and a repeat took over) leaves the key to the new holder.
    pub async fn complete_key(
        &self,
        lease: &Lease,
        response: &StoredResponse,
        resource: Option<&str>,
    ) -> Result<()> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(lease.pk.clone()))
            .key("sk", s("META"))
            .condition_expression("lease_until = :mine AND key_state = :in_progress")
            .expression_attribute_values(":mine", n(lease.lease_until_ms))
            .expression_attribute_values(":in_progress", s(KeyState::InProgress.as_str()))
            .expression_attribute_values(":completed", s(KeyState::Completed.as_str()))
            .expression_attribute_values(":status", n(i64::from(response.status)));
        let mut expression = "SET key_state = :completed, response_status = :status".to_owned();
        if let Some(body) = &response.body {
            expression.push_str(", response_body = :body");
            update = update.expression_attribute_values(":body", s(body.to_string()));
        }
        if let Some(resource) = resource {
            expression.push_str(", #resource = :resource");
            update = update
                .expression_attribute_names("#resource", "resource")
                .expression_attribute_values(":resource", s(resource));
        }
        match update.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            Err(err) if refused(&err) => {
                warn!(
                    "an idempotency key's lease was taken over before its first request answered"
                );
                Ok(())
            }
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }

    /// Frees the key after a request that failed: the corrected request may use it again.
    pub async fn release_key(&self, lease: &Lease) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(lease.pk.clone()))
            .key("sk", s("META"))
            .condition_expression("lease_until = :mine AND key_state = :in_progress")
            .expression_attribute_values(":mine", n(lease.lease_until_ms))
            .expression_attribute_values(":in_progress", s(KeyState::InProgress.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if refused(&err) => Ok(()),
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }
}
