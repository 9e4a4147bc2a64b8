//! The install store on DynamoDB: one table, keys chosen so that every read the installer
//! makes is a GetItem or a Query.
//!
//! | item      | pk                           | sk             |
//! |-----------|------------------------------|----------------|
//! | tenant    | `TENANT#<tenant>`            | `META`         |
//! | install   | `INSTALL#<install>`          | `META`         |
//! | event     | `INSTALL#<install>`          | `EVENT#<seq>`  |
//! | slot      | `SLOT#<tenant>#<acct>#<rgn>` | `META`         |
//! | schedule  | `SCHEDULE#<job>`             | `META`         |
//!
//! Install items also carry `tenant_id`/`install_id`, the keys of the `tenant-installs`
//! index (newest first, since install ids sort by time), and `install_status`, the key of
//! the sparse `installs-by-status` index (store/by_status.rs). Every change to an install is a
//! transaction conditioned on the version it read: no lost update, and the event it writes
//! takes the new version as its seq, so the timeline has no gap.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use byoc_domain::error::{Error, Result};
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Tenant, TimelineEvent};

mod batch;
pub mod by_status;
mod idempotency;
pub mod stream;
mod webhooks;

pub const TENANT_INSTALLS_INDEX: &str = "tenant-installs";
/// Optimistic writes retry on conflict with jittered backoff (10 ms doubling to 320 ms):
/// enough for dozens of concurrent writers on one install, bounded at a few seconds.
const MAX_ATTEMPTS: u32 = 16;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct InstallStore {
    client: Client,
    table: String,
}

/// An install with its whole timeline, oldest event first.
#[derive(Debug, Clone)]
pub struct InstallWithTimeline {
    pub install: Install,
    pub timeline: Vec<TimelineEvent>,
}

/// One page of a tenant's installs; `next` is the cursor for the following page.
#[derive(Debug, Clone)]
pub struct InstallPage {
    pub installs: Vec<Install>,
    pub next: Option<InstallId>,
}

impl InstallPage {
    /// A page of install items read through an index: more follow when DynamoDB says where
    /// it stopped.
    fn read(items: Option<Vec<Item>>, last_evaluated_key: Option<Item>) -> Result<Self> {
        let installs = items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Install>>>()?;
        let next = match last_evaluated_key {
            Some(key) if !key.is_empty() => installs.last().map(|i| i.install_id.clone()),
            _ => None,
        };
        Ok(Self { installs, next })
    }
}

/// The client request token of one transaction (its SDK retries reuse it, so a retry after a
/// lost answer is not applied twice). Made here rather than by the SDK: its token maker
/// (fastrand) seeds itself from the monotonic clock and the thread id through a fixed-key hash,
/// so processes that start within one tick of a coarse clock make the same tokens, and
/// DynamoDB refuses the later writer as a mismatched repeat (IdempotentParameterMismatch-
/// Exception; seen on the local stack with API processes started together).
pub(crate) fn transaction_token() -> Result<String> {
    Ok(byoc_domain::ids::random_hex::<16>()?)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

fn install_pk(install: &InstallId) -> String {
    format!("INSTALL#{install}")
}

fn event_sk(seq: u64) -> String {
    format!("EVENT#{seq:010}")
}

fn slot_pk(install: &Install) -> String {
    format!(
        "SLOT#{}#{}#{}",
        install.tenant_id, install.account_id, install.region
    )
}

fn keyed(mut item: Item, pk: String, sk: String) -> Item {
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    item
}

fn to_item<T: serde::Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value).map_err(|e| Error::Corrupt(e.to_string()))
}

fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(|e| Error::Corrupt(e.to_string()))
}

fn install_item(install: &Install) -> Result<Item> {
    Ok(by_status::indexed(
        keyed(
            to_item(install)?,
            install_pk(&install.install_id),
            "META".into(),
        ),
        install,
    ))
}

fn event_item(install_id: &InstallId, event: &TimelineEvent) -> Result<Item> {
    Ok(keyed(
        to_item(event)?,
        install_pk(install_id),
        event_sk(event.seq),
    ))
}

fn slot_item(install: &Install) -> Item {
    keyed(
        HashMap::from([("holder".to_string(), s(install.install_id.as_str()))]),
        slot_pk(install),
        "META".into(),
    )
}

fn conflict_backoff(attempt: u32) -> std::time::Duration {
    let ceiling_ms = 10u64 << attempt.min(5);
    let mut random = [0u8; 8];
    // Without randomness, fall back to the full ceiling: slower, still correct.
    let jitter = getrandom::fill(&mut random)
        .map_or(ceiling_ms, |()| u64::from_le_bytes(random) % ceiling_ms + 1);
    std::time::Duration::from_millis(jitter)
}

/// Which items of a cancelled transaction were refused for a failed condition, by position.
fn refused_conditions(err: &SdkError<TransactWriteItemsError>) -> Option<Vec<bool>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
        ),
        _ => None,
    }
}

impl InstallStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The store every function uses: the table named by `TABLE_NAME`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self> {
        Ok(Self::new(
            Client::new(config),
            crate::aws::env("TABLE_NAME")?,
        ))
    }

    fn put(
        &self,
        item: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (name, value) in values {
            put = put.expression_attribute_values(*name, value.clone());
        }
        let put = put.build().map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub async fn create_tenant(&self, tenant: &Tenant) -> Result<()> {
        let item = keyed(
            to_item(tenant)?,
            tenant_pk(&tenant.tenant_id),
            "META".into(),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Ours all the same when the SDK repeated a put that took effect (its answer
                // lost): the External ID, made by this request, tells.
                match self.get_tenant(&tenant.tenant_id).await {
                    Ok(found) if found.external_id == tenant.external_id => Ok(()),
                    _ => Err(Error::TenantExists(tenant.tenant_id.clone())),
                }
            }
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }

    /// Undoes `create_tenant` when the rest of tenant creation failed.
    pub async fn delete_tenant(&self, tenant_id: &TenantId) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(tenant_pk(tenant_id)))
            .key("sk", s("META"))
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", e))?;
        Ok(())
    }

    pub async fn get_tenant(&self, tenant_id: &TenantId) -> Result<Tenant> {
        let item = self.get_item(tenant_pk(tenant_id)).await?;
        from_item(item.ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))?)
    }

    async fn get_item(&self, pk: String) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s("META"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", e))?;
        Ok(out.item)
    }

    /// Writes a new install, its first timeline event, and claims its tenant/account/region
    /// slot, all or nothing. A taken slot names the install that holds it.
    pub async fn create_install(
        &self,
        install: &Install,
        first_event: &TimelineEvent,
    ) -> Result<()> {
        let items = vec![
            self.put(slot_item(install), "attribute_not_exists(pk)", &[])?,
            self.put(install_item(install)?, "attribute_not_exists(pk)", &[])?,
            self.put(
                event_item(&install.install_id, first_event)?,
                "attribute_not_exists(pk)",
                &[],
            )?,
        ];
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(crate::store::transaction_token()?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match refused_conditions(&err) {
                Some(refused) if refused.first() == Some(&true) => {
                    Err(self.slot_taken(install).await?)
                }
                _ => Err(Error::aws("DynamoDB", err)),
            },
        }
    }

    /// The error for a refused slot claim, naming the install that holds the slot.
    async fn slot_taken(&self, install: &Install) -> Result<Error> {
        let holder =
            self.get_item(slot_pk(install))
                .await?
                .and_then(|item| match item.get("holder") {
                    Some(AttributeValue::S(id)) => InstallId::parse("holder", id).ok(),
                    _ => None,
                });
        // The holder finished between our write and this read: the caller may simply retry.
        Ok(holder.map_or_else(
            || Error::Contended(install.install_id.clone()),
            |existing| Error::SlotTaken { existing },
        ))
    }

    pub async fn get_install(&self, install_id: &InstallId) -> Result<Install> {
        let item = self.get_item(install_pk(install_id)).await?;
        from_item(item.ok_or_else(|| Error::InstallNotFound(install_id.clone()))?)
    }

    pub async fn get_install_with_timeline(
        &self,
        install_id: &InstallId,
    ) -> Result<InstallWithTimeline> {
        let mut install = None;
        let mut timeline = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(install_pk(install_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| Error::aws("DynamoDB", e))?;
            for item in out.items.unwrap_or_default() {
                let is_meta = matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == "META");
                if is_meta {
                    install = Some(from_item::<Install>(item)?);
                } else {
                    timeline.push(from_item::<TimelineEvent>(item)?);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        let install = install.ok_or_else(|| Error::InstallNotFound(install_id.clone()))?;
        // A reader may see events newer than the install item it read; keep what matches it.
        timeline.retain(|e| e.seq <= install.version);
        timeline.sort_by_key(|e| e.seq);
        Ok(InstallWithTimeline { install, timeline })
    }

    /// A tenant's installs, newest first.
    pub async fn list_installs(
        &self,
        tenant_id: &TenantId,
        limit: i32,
        after: Option<&InstallId>,
    ) -> Result<InstallPage> {
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_string(), s(install_pk(id))),
                ("sk".to_string(), s("META")),
                ("tenant_id".to_string(), s(tenant_id.as_str())),
                ("install_id".to_string(), s(id.as_str())),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(TENANT_INSTALLS_INDEX)
            .key_condition_expression("tenant_id = :t")
            .expression_attribute_values(":t", s(tenant_id.as_str()))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", e))?;
        InstallPage::read(out.items, out.last_evaluated_key)
    }

    /// Records one change to an install: its timeline event, and any status, error or
    /// resource it sets. Retries on concurrent writers; refuses a status move that is not
    /// allowed. Frees the install's slot when it fails or is removed (and takes it back on a
    /// retry).
    pub async fn record(&self, install_id: &InstallId, change: Change) -> Result<Install> {
        self.write_changes(install_id, None, std::slice::from_ref(&change))
            .await
    }
}
