//! Webhooks in the install store: a tenant's webhook is an attribute of its tenant item, and
//! each delivery's outcome an attribute of the timeline event it delivered. Updating an event
//! item changes neither the install's version nor its timeline's seq, so recording outcomes
//! never races the steps' writes (and publish-events skips these modifications).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{event_sk, install_pk, s, tenant_pk, InstallStore, Item};
use byoc_domain::error::{Error, Result};
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::webhook::{Webhook, WebhookDelivery};

const WEBHOOK_ATTRIBUTE: &str = "webhook";

fn to_value<T: serde::Serialize>(value: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(|e| Error::Corrupt(e.to_string()))
}

fn refused(err: &SdkError<UpdateItemError>) -> bool {
    err.as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
}

impl InstallStore {
    /// Sets or (with no value) removes the `webhook` attribute of an item that exists, never
    /// making a half item. `None` when the item does not exist, else the item's old attributes.
    async fn update_webhook_attribute(
        &self,
        pk: String,
        sk: String,
        value: Option<AttributeValue>,
    ) -> Result<Option<Item>> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#w", WEBHOOK_ATTRIBUTE)
            .return_values(ReturnValue::UpdatedOld);
        let update = match value {
            Some(value) => update
                .update_expression("SET #w = :w")
                .expression_attribute_values(":w", value),
            None => update.update_expression("REMOVE #w"),
        };
        match update.send().await {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(err) if refused(&err) => Ok(None),
            Err(err) => Err(Error::aws("DynamoDB", err)),
        }
    }

    /// Registers (or replaces) the tenant's webhook.
    pub async fn put_webhook(&self, tenant_id: &TenantId, webhook: &Webhook) -> Result<()> {
        self.update_webhook_attribute(
            tenant_pk(tenant_id),
            "META".into(),
            Some(to_value(webhook)?),
        )
        .await?
        .map(drop)
        .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))
    }

    /// Removes the tenant's webhook; whether there was one.
    pub async fn delete_webhook(&self, tenant_id: &TenantId) -> Result<bool> {
        let old = self
            .update_webhook_attribute(tenant_pk(tenant_id), "META".into(), None)
            .await?;
        old.map(|old| old.contains_key(WEBHOOK_ATTRIBUTE))
            .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))
    }

    /// The tenant's webhook, if it registered one.
    pub async fn get_webhook(&self, tenant_id: &TenantId) -> Result<Option<Webhook>> {
        let mut item = self
            .get_item(tenant_pk(tenant_id))
            .await?
            .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))?;
        item.remove(WEBHOOK_ATTRIBUTE)
            .map(|value| {
                serde_dynamo::from_attribute_value(value).map_err(|e| {
                    Error::Corrupt(format!("{WEBHOOK_ATTRIBUTE} of tenant {tenant_id}: {e}"))
                })
            })
            .transpose()
    }

    /// Writes what became of delivering timeline event `seq` to the webhook on that event.
    pub async fn record_delivery(
        &self,
        install_id: &InstallId,
        seq: u64,
        delivery: &WebhookDelivery,
    ) -> Result<()> {
        self.update_webhook_attribute(
            install_pk(install_id),
            event_sk(seq),
            Some(to_value(delivery)?),
        )
        .await?
        .map(drop)
        .ok_or_else(|| Error::Corrupt(format!("install {install_id} has no timeline event {seq}")))
    }
}
