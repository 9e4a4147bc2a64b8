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
mod log_group;
mod network;
mod nodegroup;
mod pod_identity;
mod progress;
mod settings;

use aws_config::SdkConfig;
use byoc_domain::step_record::{resource, StepRecord};
use std::collections::BTreeMap;

use aws_sdk_eks::types::{
    AddonStatus, Cluster, ClusterStatus as EksClusterStatus, NodegroupStatus,
};
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::store::InstallStore;
use byoc_domain::cluster_plan::{self, OfferedVersion, ADDONS};
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Outcome, Step};
use byoc_domain::step_input::StepInput;
use byoc_domain::tags::{cluster_name, INSTALL_TAG};
use byoc_lambda::fault::Fault;
use progress::{AddonData, NodegroupData, SupportData};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

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

#[tracing::instrument(name = "create-cluster", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id))]
pub async fn handle(deps: &Deps, input: StepInput) -> Result<ClusterStatus, CreateClusterError> {
    let result = run(deps, &input).await;
    match &result {
        Ok(status) => {
            info!(cluster = %status.cluster_status, nodegroup = %status.nodegroup_status, ready = status.ready, "cluster progress")
        }
        Err(err) => warn!(error = %err, "create-cluster did not finish this call"),
    }
    result
}

/// One call: what it saw and did goes on the record in one write (the start of the step, the
/// progress, or the failure), from the install it read at the start.
async fn run(deps: &Deps, input: &StepInput) -> Result<ClusterStatus, CreateClusterError> {
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, input).await?;
    let install = session.install;
    let name = cluster_name(&install);
    let mut changes = Vec::new();
    if !install.resources.contains_key(resource::CLUSTER_NAME) {
        changes.push(
            Change::new(
                Step::CreateCluster,
                Outcome::Started,
                format!("creating EKS cluster {name}"),
            )
            .resource(resource::CLUSTER_NAME, &name),
        );
    }
    match advance(deps, &install, &session.config).await {
        Ok((status, change)) => {
            changes.extend(change);
            deps.store.record_all(&install, &changes).await?;
            Ok(status)
        }
        Err(err @ (CreateClusterError::ClusterFailed(_) | CreateClusterError::Invalid(_))) => {
            warn!(error = %err, "cluster failed");
            changes.push(Change::new(
                Step::CreateCluster,
                Outcome::Failed,
                err.to_string(),
            ));
            deps.store.record_all(&install, &changes).await?;
            Err(err)
        }
        Err(err) => Err(err),
    }
}

/// Advances as far as EKS lets it: the status for the state machine, and the change to record
/// when anything changed.
async fn advance(
    deps: &Deps,
    install: &Install,
    config: &SdkConfig,
) -> Result<(ClusterStatus, Option<Change>), CreateClusterError> {
    let eks = aws_sdk_eks::Client::new(config);
    let ec2 = aws_sdk_ec2::Client::new(config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    let name = cluster_name(install);
    let recorded = ClusterData::of(install);
    let mut notes: Vec<String> = Vec::new();

    let (cluster, offered) = ensure_cluster(deps, install, &eks, &ec2, &logs, &mut notes).await?;
    let mut data = ClusterData::from_cluster(install, &cluster);
    data.support = support(&eks, &cluster, recorded.as_ref(), offered.as_deref()).await?;
    match cluster.status() {
        Some(EksClusterStatus::Active) => {}
        Some(EksClusterStatus::Failed) => {
            return Err(CreateClusterError::ClusterFailed(format!(
                "EKS could not create cluster {name}: {}",
                cluster::health_text(&cluster)
            )));
        }
        Some(EksClusterStatus::Deleting) => {
            return Err(CreateClusterError::ClusterFailed(format!(
                "EKS cluster {name} is being deleted; retry the install once it is gone"
            )));
        }
        // CREATING (or UPDATING, PENDING): the state machine waits and calls again.
        _ => return finish(install, recorded, data, notes),
    }
    if recorded.as_ref().map(|r| r.status.as_str()) != Some(EksClusterStatus::Active.as_str()) {
        notes.push(format!(
            "cluster {name} is ACTIVE at {}",
            data.endpoint
                .as_deref()
                .unwrap_or("an endpoint EKS did not report")
        ));
    }

    // Add-ons and the node group an earlier call saw ACTIVE in this very cluster stay done (a
    // retry of the install forgets the record): only what is pending is looked at in EKS. The
    // vendor's access is checked every time: it lives in the cluster, where anyone may remove it.
    let done = recorded
        .as_ref()
        .filter(|r| r.arn.is_some() && r.arn == data.arn);
    let vendor = &deps.settings.vendor_deploy_role_arn;
    let controller_identity = async {
        match done.and_then(|r| r.load_balancer_controller.clone()) {
            Some(known) => Ok(Some((known, false))),
            None => pod_identity::ensure_load_balancer_controller(&eks, install, &name).await,
        }
    };
    let (access_changed, installer_access, controller_identity, addons, nodegroup) = tokio::try_join!(
        access::ensure_vendor_admin(&eks, install, &name, vendor, &deps.fault),
        access::ensure_installer_edit(&eks, install, &name, &deps.fault),
        controller_identity,
        ensure_addons(install, &eks, &data, done, &deps.fault),
        ensure_nodegroup(install, &eks, &ec2, done, &deps.fault),
    )?;
    if let Some((identity, true)) = &controller_identity {
        notes.push(format!(
            "Pod Identity association gives {} to {}, for the Load Balancer Controller",
            identity.role_arn, identity.service_account
        ));
    }
    data.load_balancer_controller = controller_identity.map(|(identity, _)| identity);
    if access_changed {
        notes.push(format!("cluster-admin access entry for {vendor}"));
    }
    if let Some(role) = installer_access {
        notes.push(format!("edit access entry for the installer role {role}, so a removal can delete what Kubernetes made"));
    }
    data.vendor_access = Some(vendor.clone());
    let (addons, requested) = addons;
    data.addons = addons;
    notes.extend(requested);
    let (nodegroup, requested) = nodegroup;
    data.nodegroup = nodegroup;
    notes.extend(requested);

    let addons_active = ADDONS.iter().all(|a| {
        data.addons
            .get(*a)
            .is_some_and(|s| s.status == AddonStatus::Active.as_str())
    });
    data.ready = data.nodegroup_status() == NodegroupStatus::Active.as_str() && addons_active;
    finish(install, recorded, data, notes)
}

/// The cluster's support policy and its version's dates: the dates come from
/// DescribeClusterVersions once per version (carried over from the record after that, and
/// taken from `offered` when the call that created the cluster has just read it).
async fn support(
    eks: &aws_sdk_eks::Client,
    cluster: &Cluster,
    recorded: Option<&ClusterData>,
    offered: Option<&[OfferedVersion]>,
) -> Result<Option<SupportData>, CreateClusterError> {
    let policy = cluster
        .upgrade_policy()
        .and_then(|p| p.support_type())
        .map_or("EXTENDED", |t| t.as_str())
        .to_owned();
    let Some(version) = cluster.version() else {
        return Ok(None);
    };
    let known = recorded
        .filter(|r| r.kubernetes_version.as_deref() == Some(version))
        .and_then(|r| r.support.clone());
    let (end_of_standard_support, end_of_extended_support) = match known {
        Some(known) => (known.end_of_standard_support, known.end_of_extended_support),
        None => {
            let read;
            let offered = match offered {
                Some(offered) => offered,
                None => {
                    read = cluster::offered_versions(eks).await?;
                    &read
                }
            };
            offered
                .iter()
                .find(|o| o.version == version)
                .map_or((None, None), |o| {
                    (
                        o.end_of_standard_support.clone(),
                        o.end_of_extended_support.clone(),
                    )
                })
        }
    };
    Ok(Some(SupportData {
        policy,
        end_of_standard_support,
        end_of_extended_support,
    }))
}

/// The install's cluster as EKS reports it, requested first when there is none; with the
/// versions EKS offers when this call read them to create it.
async fn ensure_cluster(
    deps: &Deps,
    install: &Install,
    eks: &aws_sdk_eks::Client,
    ec2: &aws_sdk_ec2::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    notes: &mut Vec<String>,
) -> Result<(Cluster, Option<Vec<OfferedVersion>>), CreateClusterError> {
    let name = cluster_name(install);
    if let Some(found) = cluster::describe(eks, &name).await? {
        // The name holds the install id, so a stranger here means someone copied it.
        let ours = found
            .tags()
            .and_then(|t| t.get(INSTALL_TAG))
            .is_some_and(|id| id == install.install_id.as_str());
        if !ours {
            return Err(CreateClusterError::Invalid(format!("an EKS cluster named {name} exists in the account but was not made by this install (no {INSTALL_TAG} tag for it)")));
        }
        return Ok((found, None));
    }
    let (network, offered) = tokio::try_join!(
        network::find(ec2, &install.install_id),
        cluster::offered_versions(eks)
    )?;
    let version = cluster::plan_version(install, &offered)?;
    let log_group = log_group::ensure(logs, install, &name).await?;
    let created = cluster::create(eks, install, &network, &version, &deps.settings).await?;
    deps.fault.point("cluster");
    notes.push(format!(
        "EKS cluster {name} requested: Kubernetes {version}, {} private and {} public subnets of {}, control-plane logs in {log_group} (kept {} days)",
        network.private.len(),
        network.public.len(),
        network.vpc_id,
        log_group::RETENTION_DAYS
    ));
    Ok((created, Some(offered)))
}

/// Every add-on, requested where missing: each as it stands, and a note of what was requested.
/// Add-ons an earlier call saw ACTIVE are not read again.
async fn ensure_addons(
    install: &Install,
    eks: &aws_sdk_eks::Client,
    data: &ClusterData,
    done: Option<&ClusterData>,
    fault: &Fault,
) -> Result<(BTreeMap<String, AddonData>, Vec<String>), CreateClusterError> {
    let active = |addon: &str| {
        done.and_then(|r| r.addons.get(addon))
            .filter(|a| a.status == AddonStatus::Active.as_str())
            .cloned()
    };
    let mut states: BTreeMap<String, AddonData> = ADDONS
        .iter()
        .filter_map(|a| Some((a.to_string(), active(a)?)))
        .collect();
    let pending: Vec<&str> = ADDONS
        .iter()
        .copied()
        .filter(|a| !states.contains_key(*a))
        .collect();
    let version = data.kubernetes_version.clone().unwrap_or_default();
    let mut requested = Vec::new();
    for (addon, state, created) in
        addons::ensure_all(eks, install, &data.name, &version, &pending, || {
            fault.point("addon")
        })
        .await?
    {
        if created {
            requested.push(format!("{addon} {}", state.addon_version().unwrap_or("?")));
        }
        states.insert(addon, AddonData::of(&state));
    }
    let notes = if requested.is_empty() {
        Vec::new()
    } else {
        vec![format!("add-ons requested: {}", requested.join(", "))]
    };
    Ok((states, notes))
}

/// The node group, requested once the NAT gateways are available (`None` until then); one
/// EKS gave up on, or that lost its health, fails the step. One an earlier call saw ACTIVE is
/// not read again.
async fn ensure_nodegroup(
    install: &Install,
    eks: &aws_sdk_eks::Client,
    ec2: &aws_sdk_ec2::Client,
    done: Option<&ClusterData>,
    fault: &Fault,
) -> Result<(Option<NodegroupData>, Vec<String>), CreateClusterError> {
    if let Some(active) = done
        .and_then(|r| r.nodegroup.as_ref())
        .filter(|n| n.status == NodegroupStatus::Active.as_str())
    {
        return Ok((Some(active.clone()), Vec::new()));
    }
    let cluster = cluster_name(install);
    let name = cluster_plan::nodegroup_name(&cluster);
    let mut notes = Vec::new();
    let nodegroup = match nodegroup::describe(eks, &cluster, &name).await? {
        Some(found) => found,
        None => {
            let (nat_ready, network) = tokio::try_join!(
                network::nat_ready(ec2, &install.install_id),
                network::find(ec2, &install.install_id)
            )?;
            if !nat_ready {
                return Ok((None, notes));
            }
            let created =
                nodegroup::create(eks, install, &cluster, network.private_subnet_ids()).await?;
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
    };
    match nodegroup.status() {
        Some(
            status @ (NodegroupStatus::CreateFailed
            | NodegroupStatus::Degraded
            | NodegroupStatus::DeleteFailed
            | NodegroupStatus::Deleting),
        ) => Err(CreateClusterError::ClusterFailed(format!(
            "EKS node group {name} is {}: {}",
            status.as_str(),
            nodegroup::health_text(&nodegroup)
        ))),
        _ => Ok((Some(NodegroupData::of(&nodegroup)), notes)),
    }
}

/// What this call did or saw change (if anything), to record, and the answer for the state
/// machine.
fn finish(
    install: &Install,
    recorded: Option<ClusterData>,
    data: ClusterData,
    notes: Vec<String>,
) -> Result<(ClusterStatus, Option<Change>), CreateClusterError> {
    let mut change = None;
    if recorded.as_ref() != Some(&data) || !notes.is_empty() {
        let newly_ready = data.ready && !recorded.as_ref().is_some_and(|r| r.ready);
        let outcome = if data.ready {
            Outcome::Succeeded
        } else {
            Outcome::Waiting
        };
        let message = match (newly_ready, notes.is_empty()) {
            (true, _) => format!("EKS cluster {} is ready: {}", data.name, data.summary()),
            (false, true) => data.summary(),
            (false, false) => notes.join("; "),
        };
        let mut next = Change::new(Step::CreateCluster, outcome, message);
        let resources = [
            (resource::CLUSTER_ARN, data.arn.clone()),
            (resource::CLUSTER_ENDPOINT, data.endpoint.clone()),
            (
                resource::KUBERNETES_VERSION,
                data.kubernetes_version.clone(),
            ),
            (
                "kubernetes_support",
                data.support.as_ref().map(SupportData::summary),
            ),
            (
                resource::NODEGROUP_NAME,
                data.nodegroup.as_ref().map(|n| n.name.clone()),
            ),
        ];
        for (key, value) in resources {
            if let Some(value) = value {
                next = next.resource(key, value);
            }
        }
        if let Some(values) = controller_values::load_balancer_controller(
            install,
            data.load_balancer_controller.as_ref(),
        ) {
            next = next.data(
                byoc_domain::controller_tags::LOAD_BALANCER_CONTROLLER_KEY,
                values,
            );
        }
        change = Some(next.record(&data));
    }
    let status = ClusterStatus {
        install_id: install.install_id.clone(),
        tenant_id: install.tenant_id.clone(),
        cluster_status: data.status.clone(),
        nodegroup_status: data.nodegroup_status().to_owned(),
        ready: data.ready,
    };
    Ok((status, change))
}
