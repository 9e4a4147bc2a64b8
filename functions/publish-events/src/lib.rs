//! publish-events: turns each new entry of an install's timeline into one `byoc.install`
//! event on the vendor's EventBridge bus and, when the tenant registered one, a signed POST
//! to its webhook. It reads the table's DynamoDB stream, so an entry written by a function
//! that crashed right after is still published. Records are handled in stream order; the
//! first one that cannot be published is reported as a batch item failure, and the stream
//! retries from it (ReportBatchItemFailures): nothing is lost, a retry may repeat an event
//! (consumers deduplicate on install_id + seq).

pub mod bus;
pub mod checked_dns;
pub mod error;
pub mod records;
pub mod webhook_sender;

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use byoc_core::store::InstallStore;
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_event::InstallEvent;
use byoc_domain::model::Install;
use byoc_domain::webhook::{DeliveryOutcome, Webhook};
use tracing::{error, info, warn};

pub use crate::error::PublishError;
pub use crate::webhook_sender::WebhookSender;

pub struct Deps {
    pub store: InstallStore,
    pub events: aws_sdk_eventbridge::Client,
    pub event_bus_name: String,
    pub webhooks: WebhookSender,
}

/// One timeline entry to publish, with the stream record it came from.
struct Pending {
    record: usize,
    event: InstallEvent,
    webhook: Option<Webhook>,
}

/// What is read from the table to publish a batch, each thing once.
#[derive(Default)]
struct Lookups {
    installs: HashMap<InstallId, Install>,
    webhooks: HashMap<TenantId, Option<Webhook>>,
}

impl Lookups {
    /// The install and its tenant's webhook; `Ok(None)` when the install is gone for good.
    async fn for_install(
        &mut self,
        store: &InstallStore,
        install_id: &InstallId,
    ) -> Result<Option<(Install, Option<Webhook>)>, byoc_domain::Error> {
        if !self.installs.contains_key(install_id) {
            match store.get_install(install_id).await {
                Ok(install) => {
                    self.installs.insert(install_id.clone(), install);
                }
                Err(byoc_domain::Error::InstallNotFound(_)) => return Ok(None),
                Err(err) => return Err(err),
            }
        }
        let Some(install) = self.installs.get(install_id) else {
            return Ok(None);
        };
        if !self.webhooks.contains_key(&install.tenant_id) {
            let webhook = match store.get_webhook(&install.tenant_id).await {
                Ok(webhook) => webhook,
                Err(byoc_domain::Error::TenantNotFound(_)) => None,
                Err(err) => return Err(err),
            };
            self.webhooks.insert(install.tenant_id.clone(), webhook);
        }
        let webhook = self.webhooks.get(&install.tenant_id).cloned().flatten();
        Ok(Some((install.clone(), webhook)))
    }
}

#[tracing::instrument(name = "publish-events", skip_all, fields(records = event.records.len()))]
pub async fn handle(deps: &Deps, event: Event) -> Result<DynamoDbEventResponse, PublishError> {
    // Read everything first: a failed read stops the batch before anything is sent.
    let mut lookups = Lookups::default();
    let mut pending = Vec::new();
    let mut stop = None;
    for (index, record) in event.records.iter().enumerate() {
        let (install_id, entry) = match records::timeline_entry(record) {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(err) => {
                error!(error = %err, "timeline entry cannot be read; skipped");
                continue;
            }
        };
        match lookups.for_install(&deps.store, &install_id).await {
            Ok(Some((install, webhook))) => pending.push(Pending {
                record: index,
                event: InstallEvent::new(&install, &entry),
                webhook,
            }),
            Ok(None) => {
                error!(%install_id, seq = entry.seq, "timeline entry of an install that does not exist; skipped")
            }
            Err(err) => {
                warn!(%install_id, error = %err, "could not read the install; the stream retries from here");
                stop = Some(index);
                break;
            }
        }
    }

    let events: Vec<InstallEvent> = pending.iter().map(|p| p.event.clone()).collect();
    let published = bus::publish(&deps.events, &deps.event_bus_name, &events).await;
    if let Some(first_unpublished) = pending.get(published) {
        stop = Some(first_unpublished.record);
    }

    let delivered = deliver_webhooks(deps, &pending[..published]).await;
    info!(published, webhooks = delivered, failed_record = ?stop, "batch handled");

    let mut response = DynamoDbEventResponse::default();
    if let Some(index) = stop {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = event.records[index].change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// Delivers each published event to its tenant's webhook, in order, and writes the outcome on
/// the timeline entry. A delivery that fails is recorded, not retried by the stream: the
/// event is on the bus already. Returns how many were delivered.
async fn deliver_webhooks(deps: &Deps, published: &[Pending]) -> usize {
    let mut delivered = 0;
    // A receiver that failed every attempt gets one try per further event in this batch.
    let mut failing: HashSet<&str> = HashSet::new();
    for item in published {
        let Some(webhook) = &item.webhook else {
            continue;
        };
        let attempts = if failing.contains(webhook.url.as_str()) {
            1
        } else {
            webhook_sender::MAX_ATTEMPTS
        };
        let outcome = deps.webhooks.deliver(webhook, &item.event, attempts).await;
        match outcome.outcome {
            DeliveryOutcome::Delivered => {
                delivered += 1;
                failing.remove(webhook.url.as_str());
            }
            DeliveryOutcome::Failed => {
                failing.insert(webhook.url.as_str());
            }
        }
        let detail = &item.event.detail;
        if let Err(err) = deps
            .store
            .record_delivery(&detail.install_id, detail.seq, &outcome)
            .await
        {
            warn!(install_id = %detail.install_id, seq = detail.seq, error = %err, "webhook outcome could not be recorded");
        }
    }
    delivered
}
