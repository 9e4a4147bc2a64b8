//! Finding what an install left in the customer's account: by its tag, by the tags Kubernetes
//! controllers put on what they make for its cluster, by membership of its VPC, and by the
//! cluster's name. Describe calls are the truth about what exists (the tagging API may still
//! list what was just deleted); the tagging API finds kinds this step does not know.
//!
//! One part a service (`ec2`, `load_balancers`, `eks`, `kubernetes`, `tagging`), each taking
//! its own client and the install's [`Scope`] and depending only on the domain's rules and on
//! `ownership`, never on this module or on each other; this module builds the scope, merges
//! what the parts found and applies the domain's safety rule.

pub mod ec2;
pub mod eks;
pub mod kubernetes;
pub mod load_balancers;
pub mod ownership;
pub mod tagging;

use std::collections::BTreeMap;

use byoc_domain::deletion_order::{verdict, Found, Kind, Scope, Verdict};
use byoc_domain::model::Install;
use byoc_domain::tags::cluster_name;
use byoc_domain::Error;

use crate::clients::Clients;
use crate::kubernetes::KubeApi;

#[derive(Debug, Default)]
pub struct Discovery {
    pub delete: Vec<Found>,
    /// Found but not the install's to delete, with why.
    pub kept: Vec<(Found, String)>,
    /// ARNs carrying the install's tag of kinds this step cannot delete.
    pub unhandled: Vec<String>,
    /// What could not be looked at, and why (the cluster's Kubernetes API refused, say).
    pub notes: Vec<String>,
}

pub async fn discover(clients: &Clients, install: &Install) -> Result<Discovery, Error> {
    let install_id = install.install_id.to_string();
    let vpcs = ec2::install_vpcs(&clients.ec2, &install_id).await?;
    let scope = Scope {
        install_id,
        tenant_id: install.tenant_id.to_string(),
        cluster_name: cluster_name(install),
        vpc_ids: vpcs.iter().map(|v| v.id.clone()).collect(),
    };
    // Keyed by kind and id: the same resource is often found more than one way.
    let mut all: BTreeMap<(Kind, String), Found> = BTreeMap::new();
    let found = [
        vpcs,
        ec2::in_scope(&clients.ec2, &scope).await?,
        load_balancers::in_scope(&clients.elb, &scope).await?,
        load_balancers::classic_in_scope(&clients.classic_elb, &scope).await?,
        eks::cluster(&clients.eks, &scope).await?,
        eks::log_group(&clients.logs, &scope).await?,
    ];
    for found in found.into_iter().flatten() {
        all.entry((found.kind, found.id.clone())).or_insert(found);
    }
    let mut discovery = Discovery {
        unhandled: tagging::unhandled(&clients.tagging, &scope).await?,
        ..Default::default()
    };
    // Connected once per pass: the deletions of this pass use the same API.
    let api = clients
        .kube
        .get_or_try_init(|| KubeApi::connect(&clients.eks, &clients.config, &scope.cluster_name))
        .await?;
    for listed in kubernetes::objects(api.as_ref(), &scope.cluster_name, &mut discovery.notes).await
    {
        match listed {
            Ok(found) => {
                all.insert((found.kind, found.id.clone()), found);
            }
            Err((found, why)) => discovery.kept.push((found, why)),
        }
    }
    for found in all.into_values() {
        match verdict(&found, &scope) {
            Verdict::Delete => discovery.delete.push(found),
            Verdict::Keep(why) => discovery.kept.push((found, why)),
        }
    }
    Ok(discovery)
}
