//! The upgrade's one decision: given the cluster as EKS shows it now, what to start next, what
//! to wait for, or whether the upgrade is done or stopped. Pure, so every path is tested
//! without AWS; the order is EKS's (EKS User Guide, "Update existing cluster to new Kubernetes
//! version", https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html):
//!
//! 1. the control plane one minor version up, and wait;
//! 2. every managed node group to the control plane's version (a node group may not trail by
//!    more than EKS allows, and must match before the control plane's next update), and wait;
//! 3. every add-on to its version for that Kubernetes version (DescribeAddonVersions), and wait;
//! 4. everything ACTIVE and healthy, then the next hop.
//!
//! Everything is read from the account on every call, so a call after a crash picks up where
//! the last one stopped, and a retry of a failed upgrade resumes at the hop and phase that
//! failed.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use byoc_domain::cluster_plan::newer;
use byoc_domain::upgrade::{Finding, MinorVersion, Part, UpdateRef, UpgradePhase};

use crate::observe::{ClusterSeen, PartSeen, UpdateSeen};

/// What EKS offers an add-on on one Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonTarget {
    /// EKS's default version of the add-on for that Kubernetes version.
    pub wanted: String,
    /// Every version compatible with it.
    pub compatible: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// EKS is working on `part` (an update this upgrade started, or someone else's) for the
    /// hop to `hop`: look again.
    Wait {
        phase: UpgradePhase,
        part: Part,
        hop: MinorVersion,
        what: String,
    },
    /// Start an update of `part` to `version` (a Kubernetes version for the control plane and
    /// node groups, an add-on version for an add-on), as part of the hop to `hop`.
    Start {
        part: Part,
        hop: MinorVersion,
        version: String,
    },
    /// The add-ons' versions for this Kubernetes version are needed to decide: read them
    /// (DescribeAddonVersions) and decide again.
    NeedAddonVersions(MinorVersion),
    /// Control plane, node groups and add-ons are at the target and healthy.
    Done,
    Stopped(Finding),
}

pub struct Situation<'a> {
    pub seen: &'a ClusterSeen,
    pub target: MinorVersion,
    /// The updates this attempt started, as EKS reports them now.
    pub updates: &'a BTreeMap<String, (UpdateRef, UpdateSeen)>,
    /// Read for the cluster's current version once everything else has caught up.
    pub addon_targets: Option<&'a BTreeMap<String, AddonTarget>>,
    pub install_id: &'a str,
}

pub fn next(s: &Situation) -> Next {
    let cv = s.seen.version;
    if let Some(stopped) = failed_update(s) {
        return Next::Stopped(stopped);
    }
    match s.seen.status.as_str() {
        "ACTIVE" => {}
        "UPDATING" => {
            return Next::Wait {
                phase: UpgradePhase::ControlPlane,
                part: Part::ControlPlane,
                // The cluster reports its old version until the update is done.
                hop: cv.next(),
                what: format!("the control plane's update (now at {cv})"),
            }
        }
        other => {
            return Next::Stopped(Finding {
                check: "cluster_health".into(),
                blocking: true,
                message: format!("the cluster is {other}, not ACTIVE"),
                advice: "look at the cluster in the EKS console; retry the upgrade (POST /installs/{id}/retry) once it is ACTIVE".replace("{id}", s.install_id),
            })
        }
    }
    if let Some(busy) = s.seen.node_groups.iter().find(|n| n.status == "UPDATING") {
        return Next::Wait {
            phase: UpgradePhase::NodeGroups,
            part: Part::NodeGroup(busy.name.clone()),
            hop: cv,
            what: format!("node group {}'s update", busy.name),
        };
    }
    if let Some(behind) = s
        .seen
        .node_groups
        .iter()
        .find(|n| MinorVersion::parse(&n.version).is_some_and(|v| v < cv))
    {
        return Next::Start {
            part: Part::NodeGroup(behind.name.clone()),
            hop: cv,
            version: cv.to_string(),
        };
    }
    if let Some(sick) = s.seen.node_groups.iter().find(|n| unhealthy(n)) {
        return Next::Stopped(health_finding(
            "nodegroup_health",
            &format!("node group {}", sick.name),
            sick,
            s.install_id,
        ));
    }
    if let Some(busy) = s
        .seen
        .addons
        .iter()
        .find(|a| matches!(a.status.as_str(), "UPDATING" | "CREATING"))
    {
        return Next::Wait {
            phase: UpgradePhase::Addons,
            part: Part::Addon(busy.name.clone()),
            hop: cv,
            what: format!("add-on {}'s update", busy.name),
        };
    }
    let Some(targets) = s.addon_targets else {
        return Next::NeedAddonVersions(cv);
    };
    for addon in &s.seen.addons {
        let Some(target) = targets.get(&addon.name) else {
            continue;
        };
        if needs_update(&addon.version, target) {
            return Next::Start {
                part: Part::Addon(addon.name.clone()),
                hop: cv,
                version: target.wanted.clone(),
            };
        }
    }
    if let Some(sick) = s.seen.addons.iter().find(|a| unhealthy(a)) {
        return Next::Stopped(health_finding(
            "addon_health",
            &format!("add-on {}", sick.name),
            sick,
            s.install_id,
        ));
    }
    if cv < s.target {
        let hop = cv.next();
        return Next::Start {
            part: Part::ControlPlane,
            hop,
            version: hop.to_string(),
        };
    }
    Next::Done
}

/// An add-on moves when its version is not compatible with the cluster's Kubernetes version,
/// or is older than EKS's default there; a newer compatible one (the vendor's choice) stays.
fn needs_update(current: &str, target: &AddonTarget) -> bool {
    !target.compatible.iter().any(|v| v == current)
        || newer(current, &target.wanted) == Ordering::Less
}

fn unhealthy(part: &PartSeen) -> bool {
    part.status != "ACTIVE" || !part.issues.is_empty()
}

fn health_finding(check: &str, what: &str, part: &PartSeen, install_id: &str) -> Finding {
    let issues = if part.issues.is_empty() {
        String::new()
    } else {
        format!(": {}", part.issues.join("; "))
    };
    Finding {
        check: check.into(),
        blocking: true,
        message: format!("{what} is {}{issues}", part.status),
        advice: format!(
            "fix {what} (the EKS console shows its health issues), then retry the upgrade with POST /installs/{install_id}/retry"
        ),
    }
}

/// A failed (or cancelled) update of this attempt stops the upgrade with EKS's own words.
fn failed_update(s: &Situation) -> Option<Finding> {
    let (key, (update, seen)) = s
        .updates
        .iter()
        .find(|(_, (_, seen))| matches!(seen.status.as_str(), "Failed" | "Cancelled"))?;
    let hop = key.rsplit('@').next().unwrap_or_default();
    let (check, what) = match (&update.node_group, &update.addon) {
        (Some(ng), _) => ("nodegroup_update", format!("node group {ng}")),
        (_, Some(addon)) => ("addon_update", format!("add-on {addon}")),
        _ => ("cluster_update", "the control plane".to_owned()),
    };
    let errors = if seen.errors.is_empty() {
        "EKS gave no reason".to_owned()
    } else {
        seen.errors.join("; ")
    };
    let id = s.install_id;
    let advice = if seen.error_codes.iter().any(|c| c == "PodEvictionFailure") {
        format!(
            "pods on {what} could not be evicted within EKS's 15 minutes per node (usually a pod disruption budget \
             that allows no disruption): relax the budget and retry (POST /installs/{id}/retry), or upgrade with \
             force (POST /installs/{id}/upgrade {{\"force\": true}}), which evicts them regardless"
        )
    } else {
        format!(
            "fix what EKS reports for {what}, then retry the upgrade (POST /installs/{id}/retry)"
        )
    };
    Some(Finding {
        check: check.into(),
        blocking: true,
        message: format!("EKS could not update {what} to Kubernetes {hop}: {errors}"),
        advice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> MinorVersion {
        MinorVersion::parse(text).unwrap()
    }

    fn part(name: &str, version: &str, status: &str) -> PartSeen {
        PartSeen {
            name: name.into(),
            version: version.into(),
            status: status.into(),
            issues: vec![],
        }
    }

    fn cluster(version: &str, status: &str, ng: PartSeen, addon: PartSeen) -> ClusterSeen {
        ClusterSeen {
            status: status.into(),
            version: v(version),
            support_type: "STANDARD".into(),
            subnet_ids: vec![],
            node_groups: vec![ng],
            node_group_shapes: vec![],
            addons: vec![addon],
        }
    }

    fn targets(wanted: &str, compatible: &[&str]) -> BTreeMap<String, AddonTarget> {
        BTreeMap::from([(
            "coredns".to_owned(),
            AddonTarget {
                wanted: wanted.into(),
                compatible: compatible.iter().map(|c| (*c).to_owned()).collect(),
            },
        )])
    }

    fn decide(
        seen: &ClusterSeen,
        target: &str,
        addon_targets: Option<&BTreeMap<String, AddonTarget>>,
        updates: &BTreeMap<String, (UpdateRef, UpdateSeen)>,
    ) -> Next {
        next(&Situation {
            seen,
            target: v(target),
            updates,
            addon_targets,
            install_id: "inst-1",
        })
    }

    #[test]
    fn a_hop_goes_control_plane_then_node_groups_then_add_ons() {
        let none = BTreeMap::new();
        let t34 = targets(
            "v1.12.3-eksbuild.1",
            &["v1.12.3-eksbuild.1", "v1.12.1-eksbuild.2"],
        );
        let t33 = targets("v1.12.1-eksbuild.2", &["v1.12.1-eksbuild.2"]);
        // At the start everything matches 1.33: the control plane goes first.
        let start = cluster(
            "1.33",
            "ACTIVE",
            part("ng", "1.33", "ACTIVE"),
            part("coredns", "v1.12.1-eksbuild.2", "ACTIVE"),
        );
        assert_eq!(
            decide(&start, "1.35", None, &none),
            Next::NeedAddonVersions(v("1.33"))
        );
        assert_eq!(
            decide(&start, "1.35", Some(&t33), &none),
            Next::Start {
                part: Part::ControlPlane,
                hop: v("1.34"),
                version: "1.34".into()
            }
        );
        let updating = cluster(
            "1.33",
            "UPDATING",
            part("ng", "1.33", "ACTIVE"),
            part("coredns", "v1.12.1-eksbuild.2", "ACTIVE"),
        );
        assert!(matches!(
            decide(&updating, "1.35", None, &none),
            Next::Wait {
                phase: UpgradePhase::ControlPlane,
                ..
            }
        ));
        // The control plane is at 1.34: the node group follows, then the add-on.
        let cp_done = cluster(
            "1.34",
            "ACTIVE",
            part("ng", "1.33", "ACTIVE"),
            part("coredns", "v1.12.1-eksbuild.2", "ACTIVE"),
        );
        assert_eq!(
            decide(&cp_done, "1.35", None, &none),
            Next::Start {
                part: Part::NodeGroup("ng".into()),
                hop: v("1.34"),
                version: "1.34".into()
            }
        );
        let ng_busy = cluster(
            "1.34",
            "ACTIVE",
            part("ng", "1.33", "UPDATING"),
            part("coredns", "v1.12.1-eksbuild.2", "ACTIVE"),
        );
        assert!(matches!(
            decide(&ng_busy, "1.35", None, &none),
            Next::Wait {
                phase: UpgradePhase::NodeGroups,
                ..
            }
        ));
        let ng_done = cluster(
            "1.34",
            "ACTIVE",
            part("ng", "1.34", "ACTIVE"),
            part("coredns", "v1.12.1-eksbuild.2", "ACTIVE"),
        );
        assert_eq!(
            decide(&ng_done, "1.35", Some(&t34), &none),
            Next::Start {
                part: Part::Addon("coredns".into()),
                hop: v("1.34"),
                version: "v1.12.3-eksbuild.1".into()
            },
            "compatible but older than EKS's default for 1.34"
        );
        let hop_done = cluster(
            "1.34",
            "ACTIVE",
            part("ng", "1.34", "ACTIVE"),
            part("coredns", "v1.12.3-eksbuild.1", "ACTIVE"),
        );
        assert_eq!(
            decide(&hop_done, "1.35", Some(&t34), &none),
            Next::Start {
                part: Part::ControlPlane,
                hop: v("1.35"),
                version: "1.35".into()
            }
        );
        assert_eq!(decide(&hop_done, "1.34", Some(&t34), &none), Next::Done);
    }

    #[test]
    fn a_newer_compatible_add_on_is_left_alone() {
        let target = AddonTarget {
            wanted: "v1.12.3-eksbuild.1".into(),
            compatible: vec!["v1.12.3-eksbuild.1".into(), "v1.12.4-eksbuild.1".into()],
        };
        assert!(!needs_update("v1.12.4-eksbuild.1", &target));
        assert!(needs_update("v1.12.1-eksbuild.2", &target));
        assert!(
            needs_update("v1.13.0-eksbuild.1", &target),
            "not compatible"
        );
    }

    #[test]
    fn a_failed_update_stops_with_eks_words_and_the_way_out() {
        let seen = cluster(
            "1.34",
            "ACTIVE",
            part("ng", "1.33", "ACTIVE"),
            part("coredns", "v1", "ACTIVE"),
        );
        let updates = BTreeMap::from([(
            "node-group/ng@1.34".to_owned(),
            (
                UpdateRef { id: "u1".into(), node_group: Some("ng".into()), addon: None, successful: false },
                UpdateSeen {
                    status: "Failed".into(),
                    errors: vec!["PodEvictionFailure: Reached max retries while trying to evict pods from nodes in node group ng".into()],
                    error_codes: vec!["PodEvictionFailure".into()],
                },
            ),
        )]);
        let Next::Stopped(finding) = decide(&seen, "1.35", None, &updates) else {
            panic!()
        };
        assert_eq!(finding.check, "nodegroup_update");
        assert!(
            finding
                .message
                .contains("node group ng to Kubernetes 1.34: PodEvictionFailure"),
            "{}",
            finding.message
        );
        assert!(
            finding.advice.contains("\"force\": true")
                && finding.advice.contains("/installs/inst-1/upgrade"),
            "{}",
            finding.advice
        );
    }

    #[test]
    fn an_unhealthy_node_group_stops_the_upgrade_before_the_next_hop() {
        let mut sick = part("ng", "1.34", "DEGRADED");
        sick.issues = vec!["NodeCreationFailure: instances failed to join".into()];
        let seen = cluster("1.34", "ACTIVE", sick, part("coredns", "v1", "ACTIVE"));
        let Next::Stopped(finding) = decide(&seen, "1.35", None, &BTreeMap::new()) else {
            panic!()
        };
        assert_eq!(finding.check, "nodegroup_health");
        assert!(
            finding.message.contains("DEGRADED: NodeCreationFailure"),
            "{}",
            finding.message
        );
    }
}
