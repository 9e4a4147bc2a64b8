//! upgrade-cluster: moves a ready install's EKS cluster to a newer Kubernetes version, one
//! minor version at a time, without a long-running call.
//!
//! `preflight` (once per upgrade attempt) decides the target and the hops and looks for every
//! reason the upgrade would fail, all at once; a blocking finding stops it before anything
//! changes. `advance` (each check of the upgrade's callback wait, by watch-install) reads the
//! cluster, its node groups and add-ons, and starts the next update EKS allows (`next.rs`),
//! answering `done` once everything is at the target and healthy. Every update carries a client
//! request token, and every decision is made from what the account shows, so a repeated or
//! crashed call neither starts an update twice nor loses its place.

mod act;
mod begin;
mod error;
mod next;
mod observe;
mod preflight;
pub mod scheduled;
mod surge;
mod switches;
mod version_due;
mod versions;

use byoc_domain::step_record::{resource, StepRecord};
use std::collections::BTreeMap;

use aws_config::SdkConfig;
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::schedule::ScheduledEvent;
use byoc_core::store::InstallStore;
use byoc_domain::cluster_plan::{ClusterVersionRecord, CLUSTER_KEY};
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallStatus, Outcome, Step};
use byoc_domain::step_input::StepInput;
use byoc_domain::tags::cluster_name;
use byoc_domain::upgrade::{
    self, Finding, MinorVersion, UpgradePhase, UpgradeRecord, UpgradeState,
};
use byoc_lambda::fault::Fault;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

pub use error::UpgradeError;

use next::{Next, Situation};

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config the function runs with; customer configs derive from it.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    /// Crash points for the crash-safety tests (none outside them).
    pub fault: Fault,
    /// The scheduled version check's clients and settings.
    pub schedule: scheduled::ScheduleDeps,
}

/// What invokes upgrade-cluster: the upgrade state machine with an install's ids and an
/// action, or an EventBridge schedule with a Scheduled Event (the version check). Told apart
/// by shape; anything else is refused with what was expected.
#[derive(Debug, Clone)]
pub enum UpgradeEvent {
    Step(UpgradeInput),
    Scheduled(ScheduledEvent),
    /// A batch of the version check's queue.
    Queue(aws_lambda_events::event::sqs::SqsEvent),
}

impl<'de> Deserialize<'de> for UpgradeEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = serde_json::Value::deserialize(deserializer)?;
        if let Some(batch) = byoc_core::fleet::recognise_queue_event(&value) {
            return Ok(UpgradeEvent::Queue(batch));
        }
        match ScheduledEvent::recognise(
            &value,
            "upgrade-cluster runs for an install ({install_id, tenant_id, action})",
        )
        .map_err(D::Error::custom)?
        {
            Some(event) => Ok(UpgradeEvent::Scheduled(event)),
            None => serde_json::from_value(value)
                .map(UpgradeEvent::Step)
                .map_err(D::Error::custom),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum UpgradeResponse {
    Step(UpgradeStatus),
    Scheduled(scheduled::ScheduledReport),
    Queue(aws_lambda_events::event::sqs::SqsBatchResponse),
}

pub async fn handle_event(
    deps: &Deps,
    event: UpgradeEvent,
    deadline: std::time::Instant,
) -> Result<UpgradeResponse, UpgradeError> {
    match event {
        UpgradeEvent::Step(input) => handle(deps, input).await.map(UpgradeResponse::Step),
        UpgradeEvent::Scheduled(event) => scheduled::run(deps, &event, deadline)
            .await
            .map(UpgradeResponse::Scheduled),
        UpgradeEvent::Queue(batch) => Ok(UpgradeResponse::Queue(
            scheduled::work(deps, batch, deadline).await,
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Preflight,
    Advance,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeInput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    pub action: Action,
}

/// What the state machine sees: ids, versions and a flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeStatus {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    /// The control plane's version now.
    pub version: MinorVersion,
    pub target: MinorVersion,
    /// Control plane, node groups and add-ons at the target and healthy.
    pub done: bool,
    /// False when the preflight found the node groups' surge short of vCPU quota: the state
    /// machine asks AWS for the increase (request-quota) and runs the preflight again.
    pub quota_ok: bool,
}

#[tracing::instrument(name = "upgrade-cluster", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id, action = ?input.action))]
pub async fn handle(deps: &Deps, input: UpgradeInput) -> Result<UpgradeStatus, UpgradeError> {
    let step = StepInput {
        install_id: input.install_id.clone(),
        tenant_id: input.tenant_id.clone(),
    };
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, &step).await?;
    let result = match input.action {
        Action::Preflight => begin::begin(deps, &session).await,
        Action::Advance => advance(deps, &session.install, &session.config).await,
    };
    match &result {
        Ok(status) => {
            info!(version = %status.version, target = %status.target, done = status.done, "upgrade progress")
        }
        Err(err) => warn!(error = %err, "upgrade-cluster did not finish this call"),
    }
    result
}

/// The install's upgrade record, if the install is upgrading.
pub(crate) fn upgrading(install: &Install) -> Result<UpgradeRecord, UpgradeError> {
    if install.status != InstallStatus::Upgrading {
        return Err(UpgradeError::NotUpgrading(format!(
            "install \"{}\" is {}, not upgrading",
            install.install_id, install.status
        )));
    }
    UpgradeRecord::of(install).ok_or_else(|| {
        UpgradeError::NotUpgrading(format!(
            "install \"{}\" has no readable upgrade record",
            install.install_id
        ))
    })
}

pub(crate) fn status(
    install: &Install,
    version: MinorVersion,
    target: MinorVersion,
    done: bool,
) -> UpgradeStatus {
    UpgradeStatus {
        install_id: install.install_id.clone(),
        tenant_id: install.tenant_id.clone(),
        version,
        target,
        done,
        quota_ok: true,
    }
}

async fn advance(
    deps: &Deps,
    install: &Install,
    config: &SdkConfig,
) -> Result<UpgradeStatus, UpgradeError> {
    let mut record = upgrading(install)?;
    let eks = aws_sdk_eks::Client::new(config);
    let name = cluster_name(install);
    let seen = observe::cluster(&eks, &name).await?;
    let target = match (record.state, record.target) {
        (UpgradeState::Succeeded, Some(target)) => {
            return Ok(status(install, seen.version, target, true))
        }
        (UpgradeState::Running, Some(target)) => target,
        (state, _) => {
            return Err(UpgradeError::NotUpgrading(format!(
                "the upgrade of install \"{}\" is {state:?}, not running",
                install.install_id
            )))
        }
    };
    let updates = observe::updates(&eks, &name, &record.updates).await?;
    // Kept with the record's next write, so later checks skip them.
    for (key, seen) in &updates {
        if let (Some(update), "Successful") = (record.updates.get_mut(key), seen.status.as_str()) {
            update.successful = true;
        }
    }
    let updates: BTreeMap<_, _> = updates
        .into_iter()
        .filter_map(|(key, seen)| Some((key.clone(), (record.updates.get(&key)?.clone(), seen))))
        .collect();
    let mut addon_targets = None;
    let decided = loop {
        let decided = next::next(&Situation {
            seen: &seen,
            target,
            updates: &updates,
            addon_targets: addon_targets.as_ref(),
            install_id: install.install_id.as_str(),
        });
        match decided {
            Next::NeedAddonVersions(version) if addon_targets.is_none() => {
                addon_targets = Some(versions::addon_targets(&eks, &seen.addons, version).await?);
            }
            other => break other,
        }
    };
    match decided {
        Next::Wait {
            phase,
            part,
            hop,
            what,
        } => {
            // An update a crashed call started and did not record is adopted, so a failure of
            // it is seen and named.
            let key = part.update_key(hop);
            let adopted = match record.updates.contains_key(&key) {
                true => None,
                false => observe::in_progress(&eks, &name, &part).await?,
            };
            if record.phase != Some(phase) || adopted.is_some() {
                record.phase = Some(phase);
                let message = match &adopted {
                    Some(update) => format!(
                        "waiting for {what}: EKS update {} (found in progress, started by a call that stopped before recording it)",
                        update.id
                    ),
                    None => format!("waiting for {what}"),
                };
                if let Some(update) = adopted {
                    record.updates.insert(key, update);
                }
                let change =
                    Change::new(Step::UpgradeCluster, Outcome::Progress, message).record(&record);
                let change = reached(change, install, seen.version);
                deps.store.record_all(install, &[change]).await?;
            }
            Ok(status(install, seen.version, target, false))
        }
        Next::Start { part, hop, version } => {
            match act::start(&eks, install, &name, &record, &part, hop, &version).await? {
                act::Started::Update(update) => {
                    deps.fault.point("update-started");
                    let phase = match &part {
                        upgrade::Part::ControlPlane => UpgradePhase::ControlPlane,
                        upgrade::Part::NodeGroup(_) => UpgradePhase::NodeGroups,
                        upgrade::Part::Addon(_) => UpgradePhase::Addons,
                    };
                    let done_before = record
                        .hop
                        .filter(|previous| *previous < hop)
                        .map_or(String::new(), |previous| format!("Kubernetes {previous} done (control plane, node groups, add-ons); "));
                    let message = format!(
                        "{done_before}Kubernetes {hop}: {} update to {version} started (EKS update {})",
                        part.describe(),
                        update.id
                    );
                    record.updates.insert(part.update_key(hop), update);
                    record.hop = Some(hop);
                    record.phase = Some(phase);
                    let change = Change::new(Step::UpgradeCluster, Outcome::Started, message)
                        .record(&record);
                    let change = reached(change, install, seen.version);
                    deps.store.record_all(install, &[change]).await?;
                    Ok(status(install, seen.version, target, false))
                }
                // Someone else's update is running (EKS: ResourceInUseException): wait for it.
                act::Started::Busy => Ok(status(install, seen.version, target, false)),
                act::Started::Refused(finding) => {
                    Err(stop(deps, install, record, vec![finding], Some(seen.version)).await?)
                }
            }
        }
        Next::NeedAddonVersions(_) => Err(UpgradeError::Failed(
            "the add-on versions could not be decided".into(),
        )),
        Next::Stopped(finding) => {
            Err(stop(deps, install, record, vec![finding], Some(seen.version)).await?)
        }
        Next::Done => {
            record.state = UpgradeState::Succeeded;
            record.phase = Some(UpgradePhase::Verify);
            let support = versions::support(&eks, &seen, seen.version).await?;
            let mut change = Change::new(
                Step::UpgradeCluster,
                Outcome::Succeeded,
                format!(
                    "Kubernetes {}: control plane, node groups and add-ons upgraded and healthy",
                    seen.version
                ),
            )
            .record(&record)
            .resource(resource::KUBERNETES_VERSION, seen.version.to_string())
            .resource("kubernetes_support", support.summary());
            if let Some(mut cluster) = ClusterVersionRecord::of(install) {
                cluster.kubernetes_version = Some(seen.version.to_string());
                cluster.support = Some(support);
                change = change.data(CLUSTER_KEY, cluster.to_value());
            }
            deps.store.record_all(install, &[change]).await?;
            Ok(status(install, seen.version, target, true))
        }
    }
}

pub(crate) fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} ({})", f.message, f.advice))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `change`, also recording the control plane's version when it moved: the API checks the next
/// upgrade's target against it, and the emails name it.
fn reached(change: Change, install: &Install, version: MinorVersion) -> Change {
    let text = version.to_string();
    if install.resources.get(resource::KUBERNETES_VERSION) == Some(&text) {
        change
    } else {
        change.resource(resource::KUBERNETES_VERSION, text)
    }
}

/// Records why the upgrade stopped (all of `findings`, the blocking ones in the message) and
/// answers the error the state machine routes on: in the preflight (`reached_version` None)
/// nothing was changed; on the way, the control plane is at `reached_version`.
pub(crate) async fn stop(
    deps: &Deps,
    install: &Install,
    mut record: UpgradeRecord,
    findings: Vec<Finding>,
    reached_version: Option<MinorVersion>,
) -> Result<UpgradeError, UpgradeError> {
    let in_preflight = reached_version.is_none();
    let blocking: Vec<Finding> = findings.iter().filter(|f| f.blocking).cloned().collect();
    let text = lines(&blocking);
    record.state = UpgradeState::Failed;
    record.findings.extend(findings);
    let message = if in_preflight {
        format!("upgrade blocked by its preflight, nothing was changed: {text}")
    } else {
        format!("upgrade stopped: {text}")
    };
    let mut change =
        Change::new(Step::UpgradeCluster, Outcome::Failed, message.clone()).record(&record);
    if let Some(version) = reached_version {
        change = reached(change, install, version);
    }
    deps.store.record_all(install, &[change]).await?;
    Ok(if in_preflight {
        UpgradeError::Blocked(message)
    } else {
        UpgradeError::Failed(message)
    })
}
