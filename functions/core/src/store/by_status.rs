//! Installs by status, for scheduled work over many installs (the sweep of removed and
//! failed installs; a trust check over ready ones): the sparse `installs-by-status` index,
//! keyed by an attribute only install items carry (`install_status`, their status) and
//! ranged by install id, so each status pages oldest first. A scheduled job keeps its
//! per-install results as step data written without a timeline event; a job's enumeration,
//! and each install's check, hold a lease item (`SCHEDULE#<job>[#<install>]`).

use byoc_domain::step_record::StepRecord;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{install_pk, s, InstallPage, InstallStore, Item};
use byoc_domain::error::{Error, Result};
use byoc_domain::ids::InstallId;
use byoc_domain::model::{Install, InstallStatus};

pub const INSTALLS_BY_STATUS_INDEX: &str = "installs-by-status";
/// The index's hash key: on install items only, so tenants, events and slots stay out of it.
pub const STATUS_KEY: &str = "install_status";

/// A removed install the scheduled sweep found nothing of several times in a row: it is no
/// longer swept. Kept on the install (`step_data.sweep_retired`), and its index key becomes
/// `removed-retired`, so enumerating the removed installs reads only those still owed a sweep
/// and the sweep's cost follows the live fleet, not the vendor's whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRetired {
    pub retired_at: DateTime<Utc>,
    /// The clean sweeps in a row that retired it.
    pub clean_sweeps: u32,
}

impl StepRecord for SweepRetired {
    const KEY: &'static str = "sweep_retired";
}

impl SweepRetired {
    /// The index key of a retired install: no status a job enumerates.
    pub const INDEX_VALUE: &'static str = "removed-retired";
}

/// Adds the index key to an install item as it is written.
pub(super) fn indexed(mut item: Item, install: &Install) -> Item {
    let key = if install.status == InstallStatus::Removed
        && install.step_data.contains_key(SweepRetired::KEY)
    {
        SweepRetired::INDEX_VALUE
    } else {
        install.status.as_str()
    };
    item.insert(STATUS_KEY.into(), s(key));
    item
}

/// The sort key of a job's run lease, next to its cursor (`META`).
const LEASE_SK: &str = "LEASE";

fn schedule_pk(job: &str) -> String {
    format!("SCHEDULE#{job}")
}

impl InstallStore {
    /// Up to `limit` installs with `status`, oldest first, after `after`. `next` is set when
    /// more may follow. The index is eventually consistent: read the install itself before
    /// acting on its status.
    pub async fn installs_with_status(
        &self,
        status: InstallStatus,
        limit: i32,
        after: Option<&InstallId>,
    ) -> Result<InstallPage> {
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_string(), s(install_pk(id))),
                ("sk".to_string(), s("META")),
                (STATUS_KEY.to_string(), s(status.as_str())),
                ("install_id".to_string(), s(id.as_str())),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INSTALLS_BY_STATUS_INDEX)
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", STATUS_KEY)
            .expression_attribute_values(":s", s(status.as_str()))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", e))?;
        InstallPage::read(out.items, out.last_evaluated_key)
    }

    /// Sets `step_data[key]` on the install without a timeline event and without a new
    /// version: for results re-recorded on every scheduled run, which would otherwise flood
    /// the timeline. A step recording at the same moment may write back the value it read,
    /// so the next run's value wins; use `record` for anything that must not be lost.
    pub async fn set_step_data_quietly(
        &self,
        install_id: &InstallId,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        let value =
            serde_dynamo::to_attribute_value(value).map_err(|e| Error::Corrupt(e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(install_pk(install_id)))
            .key("sk", s("META"))
            .update_expression("SET step_data.#k = :v")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#k", key)
            .expression_attribute_values(":v", value)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(Error::InstallNotFound(install_id.clone()))
            }
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }
}

impl InstallStore {
    /// Takes the lease of scheduled `job` for `holder` until `until`, unless another run holds
    /// one that has not expired: whether it was taken. A run that crashed lets go when its
    /// lease expires.
    pub async fn claim_schedule(
        &self,
        job: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(schedule_pk(job)))
            .item("sk", s(LEASE_SK))
            .item("holder", s(holder))
            .item("until", AttributeValue::N(until.timestamp().to_string()))
            .condition_expression("attribute_not_exists(pk) OR #u < :now")
            .expression_attribute_names("#u", "until")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Ours all the same when the SDK repeated a put that took effect (its answer lost).
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(self.schedule_holder(job).await?.as_deref() == Some(holder))
            }
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }

    async fn schedule_holder(&self, job: &str) -> Result<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(schedule_pk(job)))
            .key("sk", s(LEASE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", e))?;
        Ok(out.item.and_then(|item| match item.get("holder") {
            Some(AttributeValue::S(holder)) => Some(holder.clone()),
            _ => None,
        }))
    }

    /// Gives back `holder`'s lease of `job` (nothing when it expired and another run took it).
    pub async fn release_schedule(&self, job: &str, holder: &str) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(schedule_pk(job)))
            .key("sk", s(LEASE_SK))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn install_items_carry_their_status_as_the_index_key() {
        let item = indexed(Item::new(), &sample(InstallStatus::Removed));
        assert_eq!(
            item.get(STATUS_KEY),
            Some(&AttributeValue::S("removed".into()))
        );
    }

    #[test]
    fn a_retired_removed_install_leaves_the_removed_installs_listing() {
        let mut install = sample(InstallStatus::Removed);
        install.step_data.insert(
            SweepRetired::KEY.into(),
            serde_json::json!({"retired_at": "2026-12-07T12:00:00Z", "clean_sweeps": 3}),
        );
        assert_eq!(
            indexed(Item::new(), &install).get(STATUS_KEY),
            Some(&AttributeValue::S("removed-retired".into()))
        );
        assert_eq!(SweepRetired::of(&install).unwrap().clean_sweeps, 3);
        // Only a removed install retires: the same record on another status changes nothing.
        install.status = InstallStatus::Failed;
        assert_eq!(
            indexed(Item::new(), &install).get(STATUS_KEY),
            Some(&AttributeValue::S("failed".into()))
        );
    }

    fn sample(status: InstallStatus) -> Install {
        serde_json::from_value(serde_json::json!({
            "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "account_id": "111122223333",
            "region": "us-east-1", "status": status, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "version": 3,
        }))
        .unwrap()
    }
}
