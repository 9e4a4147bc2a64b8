//! Several changes to one install in one transaction, and writes from the install a caller
//! already holds: a step that notes ten ids in one run pays one round trip, not twenty (a read
//! and a write per note). The rules are `record`'s: each change is applied in order with
//! `install_change::apply`, the install item is written conditioned on the version the changes
//! were applied to, each event takes the next seq, and the slot follows the status.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use chrono::Utc;

use super::{
    conflict_backoff, event_item, install_item, refused_conditions, s, slot_item, slot_pk,
    InstallStore, MAX_ATTEMPTS,
};
use byoc_domain::error::{Error, Result};
use byoc_domain::ids::InstallId;
use byoc_domain::install_change::{apply, Change};
use byoc_domain::model::Install;

/// DynamoDB takes at most 100 items in a transaction: the install, the slot, and the events.
const MAX_EVENTS_PER_WRITE: usize = 90;

impl InstallStore {
    /// Records `changes` on top of `known`, the install as the caller last read or wrote it,
    /// without reading it again; when someone else wrote since, reads it and applies the
    /// changes to what is there (as `record` does). The events take consecutive seqs. Returns
    /// the install as written, for the caller's next write. No change, no write.
    pub async fn record_all(&self, known: &Install, changes: &[Change]) -> Result<Install> {
        let mut current = known.clone();
        for chunk in changes.chunks(MAX_EVENTS_PER_WRITE) {
            current = self
                .write_changes(&current.install_id.clone(), Some(current), chunk)
                .await?;
        }
        Ok(current)
    }

    /// Applies `changes` to `known` (or, without one or after a conflict, to the install as
    /// read) and writes the result with its events in one transaction.
    pub(super) async fn write_changes(
        &self,
        install_id: &InstallId,
        mut known: Option<Install>,
        changes: &[Change],
    ) -> Result<Install> {
        let mut read_last_time = false;
        for attempt in 0..MAX_ATTEMPTS {
            // A held copy that turned out stale is read again at once; a fresh read that lost
            // the race backs off.
            if read_last_time {
                tokio::time::sleep(conflict_backoff(attempt)).await;
            }
            let current = match known.take() {
                Some(held) => {
                    read_last_time = false;
                    held
                }
                None => {
                    read_last_time = true;
                    self.get_install(install_id).await?
                }
            };
            if changes.is_empty() {
                return Ok(current);
            }
            let now = Utc::now();
            let mut next = current.clone();
            let mut events = Vec::with_capacity(changes.len());
            for change in changes {
                let (applied, event) = apply(&next, change, now)?;
                next = applied;
                events.push(event);
            }
            let mut items = vec![self.put(
                install_item(&next)?,
                "version = :v",
                &[(":v", AttributeValue::N(current.version.to_string()))],
            )?];
            for event in &events {
                items.push(self.put(
                    event_item(install_id, event)?,
                    "attribute_not_exists(pk)",
                    &[],
                )?);
            }
            let slot_index = items.len();
            match (current.status.holds_slot(), next.status.holds_slot()) {
                (true, false) => {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .key("pk", s(slot_pk(&next)))
                        .key("sk", s("META"))
                        .condition_expression("attribute_not_exists(pk) OR holder = :me")
                        .expression_attribute_values(":me", s(install_id.as_str()))
                        .build()
                        .map_err(|e| Error::Corrupt(e.to_string()))?;
                    items.push(TransactWriteItem::builder().delete(delete).build());
                }
                (false, true) => {
                    items.push(self.put(slot_item(&next), "attribute_not_exists(pk)", &[])?)
                }
                _ => {}
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .client_request_token(crate::store::transaction_token()?)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(next),
                Err(err) => match refused_conditions(&err) {
                    // Someone else wrote first: read again and re-apply.
                    Some(refused) if refused.iter().take(slot_index).any(|r| *r) => continue,
                    Some(refused) if refused.get(slot_index) == Some(&true) => {
                        match self.slot_taken(&next).await? {
                            // The holder let go meanwhile: the place is free, try again.
                            Error::Contended(_) => continue,
                            taken => return Err(taken),
                        }
                    }
                    _ => return Err(Error::aws("DynamoDB", err)),
                },
            }
        }
        Err(Error::Contended(install_id.clone()))
    }
}
