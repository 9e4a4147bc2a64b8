//! create-network: the VPC an EKS cluster needs, in the customer's account, through the
//! customer role. Each run looks up what earlier runs made (by tags), makes what is missing,
//! records every id as soon as it exists, and returns without waiting: the state machine polls
//! until `nat_ready`.
//!
//! Input `{"install_id","tenant_id"}`; output the same ids plus `subnets_ready` (the cluster
//! can be created) and `nat_ready` (nodes can start).

pub mod build;
pub mod discover;
pub mod error;
pub mod record;
pub mod tagging;
pub mod unrepeatable;

use aws_config::SdkConfig;
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::store::InstallStore;
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::model::{Install, InstallStatus, Outcome, Step};
use byoc_domain::step_input::StepInput;
use byoc_lambda::fault::Fault;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::build::{state, Builder, Readiness};
pub use crate::error::CreateNetworkError;
use crate::record::{NetworkRecord, Recorder};

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config the function runs with; the customer config derives from it.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    pub fault: Fault,
}

/// What the state machine sees: ids and flags only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub subnets_ready: bool,
    pub nat_ready: bool,
}

#[tracing::instrument(name = "create-network", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id))]
pub async fn handle(deps: &Deps, input: StepInput) -> Result<NetworkStatus, CreateNetworkError> {
    let result = create(deps, &input).await;
    match &result {
        Ok(ready) => info!(
            subnets_ready = ready.subnets_ready,
            nat_ready = ready.nat_ready,
            "network step done"
        ),
        Err(err) => warn!(error = %err, "create-network failed"),
    }
    result.map(|ready| NetworkStatus {
        install_id: input.install_id.clone(),
        tenant_id: input.tenant_id.clone(),
        subnets_ready: ready.subnets_ready,
        nat_ready: ready.nat_ready,
    })
}

/// Errors that need the vendor or the customer: they go on the install's timeline.
fn is_final(err: &CreateNetworkError) -> bool {
    matches!(
        err,
        CreateNetworkError::Plan(_)
            | CreateNetworkError::NatFailed { .. }
            | CreateNetworkError::Rejected { .. }
    )
}

async fn create(deps: &Deps, input: &StepInput) -> Result<Readiness, CreateNetworkError> {
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, input).await?;
    let install = session.install;
    if matches!(
        install.status,
        InstallStatus::Removing | InstallStatus::Removed
    ) {
        return Err(CreateNetworkError::NotActive {
            install_id: install.install_id.to_string(),
            status: install.status.to_string(),
        });
    }
    let ec2 = aws_sdk_ec2::Client::new(&session.config);
    let mut recorder = Recorder::new(&deps.store, install.clone());
    let before = (recorder.network.subnets_ready, recorder.network.nat_ready);
    if before == (true, true) && nat_gateways_still_up(&ec2, &install, &recorder.network).await? {
        // A poll while the cluster comes up: what the record says is done stays done; only
        // the NAT gateways, which can be lost, are looked at.
        return Ok(Readiness {
            subnets_ready: true,
            nat_ready: true,
        });
    }
    // Started once: later calls poll while other steps (the cluster) are current.
    if !install.step_data.contains_key(record::STEP_DATA_KEY)
        && install.current_step != Some(Step::CreateNetwork)
    {
        recorder.started(format!(
            "creating the network in account {} ({})",
            install.account_id, install.region
        ));
    }

    let builder = Builder {
        ec2: &ec2,
        install: &install,
        fault: &deps.fault,
    };
    let ready = match builder.run(&mut recorder).await {
        Ok(ready) => ready,
        Err(err) => {
            // What this run made is recorded with the failure (or without one, for an error a
            // retry may clear), so the record names every id that exists.
            if is_final(&err) {
                warn!(error = %err, "network cannot be created");
                recorder.outcome(Outcome::Failed, err.to_string());
            }
            if let Err(write) = recorder.flush().await {
                warn!(error = %write, "what this run made could not be recorded; the next run adopts it by its tags");
            }
            return Err(err);
        }
    };

    // One event when readiness changes, none for a poll that found nothing new.
    if (ready.subnets_ready, ready.nat_ready) != before {
        let network = &mut recorder.network;
        network.subnets_ready = ready.subnets_ready;
        network.nat_ready = ready.nat_ready;
        let vpc = network.vpc_id.clone().unwrap_or_default();
        let nats = network
            .zones
            .iter()
            .filter(|z| z.nat_gateway_id.is_some())
            .count();
        let (outcome, message) = if ready.nat_ready {
            (
                Outcome::Succeeded,
                format!(
                    "network ready: VPC {vpc} over {} zones, {nats} NAT gateway(s) available",
                    network.zones.len()
                ),
            )
        } else if ready.subnets_ready {
            (Outcome::Waiting, format!("subnets of VPC {vpc} ready; waiting for {nats} NAT gateway(s) to become available"))
        } else {
            (
                Outcome::Waiting,
                format!("waiting for the subnets of VPC {vpc} to become available"),
            )
        };
        recorder.outcome(outcome, message);
    }
    recorder.flush().await?;
    Ok(ready)
}

/// Whether every NAT gateway the record names is still there and available (one call).
async fn nat_gateways_still_up(
    ec2: &aws_sdk_ec2::Client,
    install: &Install,
    network: &NetworkRecord,
) -> Result<bool, CreateNetworkError> {
    let recorded: Vec<&str> = network
        .zones
        .iter()
        .filter_map(|z| z.nat_gateway_id.as_deref())
        .collect();
    if recorded.is_empty() {
        return Ok(false);
    }
    let live = discover::nat_gateways(ec2, install).await?;
    Ok(recorded.iter().all(|id| {
        live.iter()
            .any(|n| n.nat_gateway_id() == Some(id) && state::nat_available(n))
    }))
}
