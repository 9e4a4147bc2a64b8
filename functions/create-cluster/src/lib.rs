//! create-cluster: the install's EKS cluster, node group, add-ons and the vendor's access.
//!
//! Each call advances as far as EKS lets it and returns where things stand; it never waits.
//! The state machine calls it again (after a Wait) until `ready`. The control plane starts as
//! soon as the install's subnets exist; the node group waits for the cluster to be ACTIVE and
//! the NAT gateways to be available. Everything is found by name or tag before it is made, so
//! a repeated call makes nothing twice.

mod access;
mod addons;
mod cluster;
mod controller_values;
mod error;
mod network;
mod nodegroup;
mod progress;
mod settings;

use aws_config::SdkConfig;
use aws_sdk_eks::types::{AddonStatus, Cluster, ClusterStatus as EksClusterStatus, Nodegroup, NodegroupStatus};
use byoc_core::cluster_plan::{self, ADDONS};
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::fault::Fault;
use byoc_core::ids::{InstallId, TenantId};
use byoc_core::install_change::Change;
use byoc_core::model::{Install, Outcome, Step};
use byoc_core::step_input::StepInput;
use byoc_core::store::InstallStore;
use byoc_core::tags::{cluster_name, INSTALL_TAG};
use serde::{Deserialize, Serialize};
use tracing::{info, info_span, warn, Instrument};

pub use error::CreateClusterError;
pub use progress::{ClusterData, DATA_KEY};
pub use settings::Settings;

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config the function runs with; customer configs derive from it.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    pub settings: Settings,
    /// Crash points for the crash-safety tests (none outside them).
    pub fault: Fault,
}

/// What the state machine sees: ids and flags only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    /// EKS's cluster status: `CREATING` until `ACTIVE`.
    pub cluster_status: String,
    /// `NONE` until the node group is requested, then EKS's status (`CREATING`, `ACTIVE`).
    pub nodegroup_status: String,
    /// Cluster, node group and every add-on ACTIVE: the install can be declared ready.
    pub ready: bool,
}

pub async fn handle(deps: &Deps, input: StepInput) -> Result<ClusterStatus, CreateClusterError> {
    let span = info_span!("create-cluster", install_id = %input.install_id, tenant_id = %input.tenant_id);
    async {
        let result = advance(deps, &input).await;
        match &result {
            Ok(status) => info!(cluster = %status.cluster_status, nodegroup = %status.nodegroup_status, ready = status.ready, "cluster progress"),
            Err(err @ (CreateClusterError::ClusterFailed(message) | CreateClusterError::Invalid(message))) => {
                warn!(error = %err, "cluster failed");
                let change = Change::new(Step::CreateCluster, Outcome::Failed, message.clone());
                deps.store.record(&input.install_id, change).await?;
            }
            Err(err) => warn!(error = %err, "create-cluster did not finish this call"),
        }
        result
    }
    .instrument(span)
    .await
}

async fn advance(deps: &Deps, input: &StepInput) -> Result<ClusterStatus, CreateClusterError> {
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, input).await?;
    let install = session.install;
    let eks = aws_sdk_eks::Client::new(&session.config);
    let ec2 = aws_sdk_ec2::Client::new(&session.config);
    let name = cluster_name(&install);
    let recorded = ClusterData::recorded(&install);
    let mut notes: Vec<String> = Vec::new();

    if !install.resources.contains_key("cluster_name") {
        let change = Change::new(Step::CreateCluster, Outcome::Started, format!("creating EKS cluster {name}")).resource("cluster_name", &name);
        deps.store.record(&install.install_id, change).await?;
    }

    let cluster = ensure_cluster(deps, &install, &eks, &ec2, &mut notes).await?;
    let mut data = ClusterData::of(&install, &cluster);
    match cluster.status() {
        Some(EksClusterStatus::Active) => {}
        Some(EksClusterStatus::Failed) => {
            return Err(CreateClusterError::ClusterFailed(format!("EKS could not create cluster {name}: {}", cluster::health_text(&cluster))));
        }
        Some(EksClusterStatus::Deleting) => {
            return Err(CreateClusterError::ClusterFailed(format!("EKS cluster {name} is being deleted; retry the install once it is gone")));
        }
        // CREATING (or UPDATING, PENDING): the state machine waits and calls again.
        _ => return finish(deps, &install, recorded, data, notes).await,
    }
    if recorded.as_ref().map(|r| r.status.as_str()) != Some(EksClusterStatus::Active.as_str()) {
        notes.push(format!("cluster {name} is ACTIVE at {}", data.endpoint.as_deref().unwrap_or("an endpoint EKS did not report")));
    }

    let vendor = &deps.settings.vendor_deploy_role_arn;
    if access::ensure_vendor_admin(&eks, &install, &name, vendor, &deps.fault).await? {
        notes.push(format!("cluster-admin access entry for {vendor}"));
    }
    data.vendor_access = Some(vendor.clone());
    ensure_addons(&install, &eks, &mut data, &mut notes, &deps.fault).await?;
    if let Some(nodegroup) = ensure_nodegroup(&install, &eks, &ec2, &mut notes, &deps.fault).await? {
        data.set_nodegroup(&nodegroup);
    }

    let addons_active = ADDONS.iter().all(|a| data.addons.get(*a).is_some_and(|s| s.status == AddonStatus::Active.as_str()));
    data.ready = data.nodegroup_status() == NodegroupStatus::Active.as_str() && addons_active;
    finish(deps, &install, recorded, data, notes).await
}

/// The install's cluster as EKS reports it, requested first when there is none.
async fn ensure_cluster(deps: &Deps, install: &Install, eks: &aws_sdk_eks::Client, ec2: &aws_sdk_ec2::Client, notes: &mut Vec<String>) -> Result<Cluster, CreateClusterError> {
    let name = cluster_name(install);
    if let Some(found) = cluster::describe(eks, &name).await? {
        // The name holds the install id, so a stranger here means someone copied it.
        let ours = found.tags().and_then(|t| t.get(INSTALL_TAG)).is_some_and(|id| id == install.install_id.as_str());
        if !ours {
            return Err(CreateClusterError::Invalid(format!("an EKS cluster named {name} exists in the account but was not made by this install (no {INSTALL_TAG} tag for it)")));
        }
        return Ok(found);
    }
    let network = network::find(ec2, &install.install_id).await?;
    let version = cluster::plan_version(install, &cluster::offered_versions(eks).await?)?;
    let created = cluster::create(eks, install, &network, &version, &deps.settings).await?;
    deps.fault.point("cluster");
    notes.push(format!(
        "EKS cluster {name} requested: Kubernetes {version}, {} private and {} public subnets of {}",
        network.private.len(),
        network.public.len(),
        network.vpc_id
    ));
    Ok(created)
}

/// Every add-on, requested where missing; an add-on EKS gave up on fails the step.
async fn ensure_addons(install: &Install, eks: &aws_sdk_eks::Client, data: &mut ClusterData, notes: &mut Vec<String>, fault: &Fault) -> Result<(), CreateClusterError> {
    let version = data.kubernetes_version.clone().unwrap_or_default();
    let mut requested = Vec::new();
    for addon in ADDONS {
        let (state, created) = addons::ensure(eks, install, &data.name, &version, addon).await?;
        if let Some(failure) = addons::failure(&state) {
            return Err(CreateClusterError::ClusterFailed(failure));
        }
        if created {
            fault.point("addon");
            requested.push(format!("{addon} {}", state.addon_version().unwrap_or("?")));
        }
        data.set_addon(addon, &state);
    }
    if !requested.is_empty() {
        notes.push(format!("add-ons requested: {}", requested.join(", ")));
    }
    Ok(())
}

/// The node group, requested once the NAT gateways are available (`None` until then); one
/// EKS gave up on, or that lost its health, fails the step.
async fn ensure_nodegroup(install: &Install, eks: &aws_sdk_eks::Client, ec2: &aws_sdk_ec2::Client, notes: &mut Vec<String>, fault: &Fault) -> Result<Option<Nodegroup>, CreateClusterError> {
    let cluster = cluster_name(install);
    let name = cluster_plan::nodegroup_name(&cluster);
    let nodegroup = match nodegroup::describe(eks, &cluster, &name).await? {
        Some(found) => found,
        None if network::nat_ready(ec2, &install.install_id).await? => {
            let network = network::find(ec2, &install.install_id).await?;
            let created = nodegroup::create(eks, install, &cluster, network.private_subnet_ids()).await?;
            fault.point("nodegroup");
            let options = &install.options;
            notes.push(format!(
                "node group {name} requested: {} x {} ({}), {}-{} nodes",
                options.node_desired_size,
                options.node_instance_type,
                created.ami_type().map(|a| a.as_str()).unwrap_or("?"),
                options.node_min_size,
                options.node_max_size
            ));
            created
        }
        None => return Ok(None),
    };
    match nodegroup.status() {
        Some(status @ (NodegroupStatus::CreateFailed | NodegroupStatus::Degraded | NodegroupStatus::DeleteFailed | NodegroupStatus::Deleting)) => Err(
            CreateClusterError::ClusterFailed(format!("EKS node group {name} is {}: {}", status.as_str(), nodegroup::health_text(&nodegroup))),
        ),
        _ => Ok(Some(nodegroup)),
    }
}

/// Records what this call did or saw change (if anything) and answers the state machine.
async fn finish(deps: &Deps, install: &Install, recorded: Option<ClusterData>, data: ClusterData, notes: Vec<String>) -> Result<ClusterStatus, CreateClusterError> {
    if recorded.as_ref() != Some(&data) || !notes.is_empty() {
        let newly_ready = data.ready && !recorded.as_ref().is_some_and(|r| r.ready);
        let outcome = if data.ready { Outcome::Succeeded } else { Outcome::Waiting };
        let message = match (newly_ready, notes.is_empty()) {
            (true, _) => format!("EKS cluster {} is ready: {}", data.name, data.summary()),
            (false, true) => data.summary(),
            (false, false) => notes.join("; "),
        };
        let mut change = Change::new(Step::CreateCluster, outcome, message);
        let resources = [
            ("cluster_arn", data.arn.clone()),
            ("cluster_endpoint", data.endpoint.clone()),
            ("kubernetes_version", data.kubernetes_version.clone()),
            ("nodegroup_name", data.nodegroup.as_ref().map(|n| n.name.clone())),
        ];
        for (key, value) in resources {
            if let Some(value) = value {
                change = change.resource(key, value);
            }
        }
        if let Some(values) = controller_values::load_balancer_controller(install) {
            change = change.data(byoc_core::controller_tags::LOAD_BALANCER_CONTROLLER_KEY, values);
        }
        let value = serde_json::to_value(&data).map_err(|e| byoc_core::Error::Corrupt(e.to_string()))?;
        deps.store.record(&install.install_id, change.data(DATA_KEY, value)).await?;
    }
    Ok(ClusterStatus {
        install_id: install.install_id.clone(),
        tenant_id: install.tenant_id.clone(),
        cluster_status: data.status.clone(),
        nodegroup_status: data.nodegroup_status().to_owned(),
        ready: data.ready,
    })
}
