//! A Kubernetes version upgrade of a ready install: which version it goes to, the minor
//! versions it passes through (EKS moves a control plane one minor version at a time), and the
//! record it keeps under `step_data["upgrade"]`, which the API, the upgrade function, notify and
//! the emails all read. Pure, so the rules are tested without AWS.
//!
//! EKS User Guide, "Update existing cluster to new Kubernetes version"
//! (https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html): one minor version
//! at a time; managed node groups must be at the control plane's version before its next
//! update; add-ons are updated separately.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cluster_plan::{OfferedVersion, Support};
use crate::model::Install;

/// Where the upgrade keeps its record on the install.
pub const UPGRADE_KEY: &str = "upgrade";

/// A Kubernetes minor version, `1.NN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinorVersion {
    pub major: u32,
    pub minor: u32,
}

impl MinorVersion {
    /// `1.33` (also the `1.33` of `1.33.5` or `v1.33.5-eks-...`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v');
        let mut parts = text.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor_text = parts.next()?;
        if minor_text.is_empty() || !minor_text.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            major,
            minor: minor_text.parse().ok()?,
        })
    }

    pub fn next(self) -> Self {
        Self {
            major: self.major,
            minor: self.minor + 1,
        }
    }
}

impl fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for MinorVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MinorVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        MinorVersion::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a version 1.NN")))
    }
}

/// Why an upgrade cannot go to the version asked for. Each names the request field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("kubernetes_version {0:?} is not a Kubernetes version: write it as 1.NN (for example \"1.35\")")]
    Malformed(String),
    #[error(
        "kubernetes_version {requested} is not newer than the cluster's {current}: an upgrade goes to a newer \
         version (EKS cannot downgrade a cluster); leave kubernetes_version out for the newest version in standard support"
    )]
    NotNewer {
        requested: MinorVersion,
        current: MinorVersion,
    },
    #[error(
        "kubernetes_version {requested} is not offered by EKS in this region (offered: {}); choose one of those, \
         or leave it out for the newest version in standard support",
        offered.join(", ")
    )]
    NotOffered {
        requested: MinorVersion,
        offered: Vec<String>,
    },
    #[error(
        "the cluster is already at {current}, the newest version in standard support in this region; there is nothing to upgrade to"
    )]
    AlreadyNewest { current: MinorVersion },
}

/// The version an upgrade goes to: the one asked for, if EKS offers it and it is newer than
/// the cluster's; else the newest version in standard support.
pub fn target(
    requested: Option<&str>,
    current: MinorVersion,
    offered: &[OfferedVersion],
) -> Result<MinorVersion, TargetError> {
    let versions: Vec<(MinorVersion, Support)> = offered
        .iter()
        .filter_map(|o| MinorVersion::parse(&o.version).map(|v| (v, o.support)))
        .collect();
    match requested {
        Some(text) => {
            let requested =
                MinorVersion::parse(text).ok_or_else(|| TargetError::Malformed(text.to_owned()))?;
            if requested <= current {
                return Err(TargetError::NotNewer { requested, current });
            }
            if !versions.iter().any(|(v, _)| *v == requested) {
                let mut names: Vec<MinorVersion> = versions.iter().map(|(v, _)| *v).collect();
                names.sort();
                names.dedup();
                return Err(TargetError::NotOffered {
                    requested,
                    offered: names.iter().map(ToString::to_string).collect(),
                });
            }
            Ok(requested)
        }
        None => versions
            .iter()
            .filter(|(_, support)| *support == Support::Standard)
            .map(|(v, _)| *v)
            .max()
            .filter(|newest| *newest > current)
            .ok_or(TargetError::AlreadyNewest { current }),
    }
}

/// The minor versions the control plane passes through, one per hop: `1.33 → 1.35` is
/// `[1.34, 1.35]`.
pub fn hops(current: MinorVersion, target: MinorVersion) -> Vec<MinorVersion> {
    let mut hops = Vec::new();
    let mut at = current;
    while at < target && at.major == target.major {
        at = at.next();
        hops.push(at);
    }
    hops
}

/// Where an upgrade stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradeState {
    /// Accepted; the preflight has not finished.
    Requested,
    /// Past the preflight, changing the cluster hop by hop.
    Running,
    Succeeded,
    /// Stopped: blocked by the preflight, or failed on the way (the record's findings and the
    /// install's `last_error` say why and what to do).
    Failed,
}

/// The part of a hop the upgrade is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradePhase {
    ControlPlane,
    NodeGroups,
    Addons,
    Verify,
}

impl UpgradePhase {
    pub fn describe(self) -> &'static str {
        match self {
            UpgradePhase::ControlPlane => "control plane",
            UpgradePhase::NodeGroups => "node groups",
            UpgradePhase::Addons => "add-ons",
            UpgradePhase::Verify => "health check",
        }
    }
}

/// One finding of the preflight (or of a hop that stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What was checked: `insight`, `addon_versions`, `free_ips`, `nodegroup_health`,
    /// `addon_health`, `cluster_health`, `nodegroup_update`, `addon_update`, `cluster_update`.
    pub check: String,
    /// Stops the upgrade (unless `force` is set and the check allows it).
    pub blocking: bool,
    pub message: String,
    /// What to do about it.
    pub advice: String,
}

/// One EKS update (UpdateClusterVersion, UpdateNodegroupVersion, UpdateAddon) by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addon: Option<String>,
    /// Set once EKS reported the update `Successful`, which it stays: later checks need not
    /// describe it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub successful: bool,
}

/// A part of the cluster an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    ControlPlane,
    NodeGroup(String),
    Addon(String),
}

impl Part {
    /// The key of its update for the hop to `hop` in `UpgradeRecord::updates`.
    pub fn update_key(&self, hop: MinorVersion) -> String {
        match self {
            Part::ControlPlane => format!("control-plane@{hop}"),
            Part::NodeGroup(name) => format!("node-group/{name}@{hop}"),
            Part::Addon(name) => format!("addon/{name}@{hop}"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Part::ControlPlane => "the control plane".to_owned(),
            Part::NodeGroup(name) => format!("node group {name}"),
            Part::Addon(name) => format!("add-on {name}"),
        }
    }
}

/// `step_data["upgrade"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeRecord {
    pub state: UpgradeState,
    pub requested_at: DateTime<Utc>,
    /// The version the request named; `None`: the newest in standard support, decided by the
    /// preflight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<MinorVersion>,
    /// Proceed past ERROR upgrade insights and force node group updates past pod eviction
    /// failures (pod disruption budgets), as EKS's own `force` flags do.
    #[serde(default)]
    pub force: bool,
    /// The cluster's version when the preflight ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<MinorVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<MinorVersion>,
    #[serde(default)]
    pub hops: Vec<MinorVersion>,
    /// The hop (its target version) and phase last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<MinorVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<UpgradePhase>,
    /// The preflight's findings (all of them, blocking or not), or what stopped a hop.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The updates this attempt started, by part and hop (`update_key`), so a later call can
    /// ask EKS how each ended.
    #[serde(default)]
    pub updates: BTreeMap<String, UpdateRef>,
    /// The execution that runs this upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_name: Option<String>,
    /// Times this upgrade was started (1, then +1 per retry): part of the client request
    /// tokens, so a retry may start an update EKS failed the first time.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
}

impl crate::step_record::StepRecord for UpgradeRecord {
    const KEY: &'static str = UPGRADE_KEY;
}

fn first_attempt() -> u32 {
    1
}

impl UpgradeRecord {
    pub fn requested(
        requested: Option<MinorVersion>,
        force: bool,
        now: DateTime<Utc>,
        attempt: u32,
    ) -> Self {
        Self {
            state: UpgradeState::Requested,
            requested_at: now,
            requested,
            force,
            from: None,
            target: None,
            hops: Vec::new(),
            hop: None,
            phase: None,
            findings: Vec::new(),
            updates: BTreeMap::new(),
            execution_name: None,
            attempt,
        }
    }

    /// The blocking findings, one line each.
    pub fn blocking(&self) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.blocking).collect()
    }
}

/// The execution name of an upgrade: one per request (the record's version at the request).
pub fn execution_name(install: &Install, record_version: u64) -> String {
    format!("{}-upgrade-{record_version}", install.install_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step_record::StepRecord;

    fn v(text: &str) -> MinorVersion {
        MinorVersion::parse(text).unwrap()
    }

    fn offered(list: &[(&str, Support)]) -> Vec<OfferedVersion> {
        list.iter()
            .map(|(version, support)| OfferedVersion {
                version: (*version).into(),
                support: *support,
                end_of_standard_support: None,
                end_of_extended_support: None,
            })
            .collect()
    }

    #[test]
    fn versions_parse_and_order_numerically() {
        assert!(v("1.9") < v("1.10"));
        assert_eq!(v("v1.33.5").to_string(), "1.33");
        assert_eq!(v("1.33.5-eks-abc").to_string(), "1.33");
        for bad in ["", "1", "one.two", "1.x", "1.3x"] {
            assert!(MinorVersion::parse(bad).is_none(), "{bad}");
        }
        let json = serde_json::to_value(v("1.35")).unwrap();
        assert_eq!(json, "1.35");
        assert_eq!(
            serde_json::from_value::<MinorVersion>(json).unwrap(),
            v("1.35")
        );
    }

    #[test]
    fn hops_are_one_minor_version_each() {
        assert_eq!(hops(v("1.33"), v("1.35")), vec![v("1.34"), v("1.35")]);
        assert_eq!(hops(v("1.34"), v("1.35")), vec![v("1.35")]);
        assert!(hops(v("1.35"), v("1.35")).is_empty());
        assert!(hops(v("1.35"), v("1.33")).is_empty());
    }

    #[test]
    fn the_default_target_is_the_newest_in_standard_support() {
        let catalogue = offered(&[
            ("1.32", Support::Extended),
            ("1.33", Support::Standard),
            ("1.34", Support::Standard),
            ("1.35", Support::Standard),
        ]);
        assert_eq!(target(None, v("1.33"), &catalogue), Ok(v("1.35")));
        assert_eq!(
            target(None, v("1.35"), &catalogue),
            Err(TargetError::AlreadyNewest { current: v("1.35") })
        );
        assert_eq!(target(Some("1.34"), v("1.33"), &catalogue), Ok(v("1.34")));
    }

    #[test]
    fn a_target_that_is_older_unknown_or_malformed_names_the_field() {
        let catalogue = offered(&[("1.33", Support::Standard), ("1.34", Support::Standard)]);
        for (requested, wanted) in [
            (
                "1.99",
                "not offered by EKS in this region (offered: 1.33, 1.34)",
            ),
            ("1.32", "is not newer than the cluster's 1.33"),
            ("1.33", "is not newer than the cluster's 1.33"),
            ("latest", "is not a Kubernetes version"),
        ] {
            let err = target(Some(requested), v("1.33"), &catalogue).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("kubernetes_version") && text.contains(wanted),
                "{requested}: {text}"
            );
        }
    }

    #[test]
    fn the_record_round_trips_and_keeps_unknown_fields_out() {
        let mut record = UpgradeRecord::requested(Some(v("1.35")), true, Utc::now(), 1);
        record.hops = vec![v("1.34"), v("1.35")];
        record.phase = Some(UpgradePhase::NodeGroups);
        let value = record.to_value();
        assert_eq!(value["hops"], serde_json::json!(["1.34", "1.35"]));
        assert_eq!(value["phase"], "node_groups");
        assert_eq!(
            serde_json::from_value::<UpgradeRecord>(value).unwrap(),
            record
        );
    }
}
