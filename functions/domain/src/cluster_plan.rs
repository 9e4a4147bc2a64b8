//! Cluster planning: which Kubernetes version a cluster gets, which AMI type its nodes run,
//! and which version of each add-on it installs. Pure: the handler passes in what EKS offers
//! (DescribeClusterVersions, DescribeAddonVersions) and acts on the answer.

use std::cmp::Ordering;

use crate::options::SupportType;

/// The EKS add-ons every install gets: pod networking, DNS, service routing, the agent that
/// gives pods IAM credentials (EKS Pod Identity), and the EBS CSI driver for persistent
/// volumes (configured to tag them for the install: `controller_tags`).
pub const ADDONS: [&str; 5] = [
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "eks-pod-identity-agent",
    crate::controller_tags::EBS_CSI_ADDON,
];

/// The access policy that makes the vendor's deploy role a cluster admin.
pub const CLUSTER_ADMIN_POLICY_ARN: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
/// Read and write of namespaced objects (Services, Ingresses, volume claims), no RBAC or
/// cluster-scoped objects (EKS User Guide, "Access policy permissions").
pub const EDIT_POLICY_ARN: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy";

/// Where a Kubernetes version stands in EKS's support calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Standard,
    /// Still offered, at extra cost per cluster hour: never chosen by default.
    Extended,
    Other,
}

impl Support {
    /// Reads `versionStatus` (`STANDARD_SUPPORT`) or the older `status` (`standard-support`).
    pub fn parse(status: &str) -> Self {
        match status.to_ascii_uppercase().replace('-', "_").as_str() {
            "STANDARD_SUPPORT" => Support::Standard,
            "EXTENDED_SUPPORT" => Support::Extended,
            _ => Support::Other,
        }
    }
}

/// One Kubernetes version as DescribeClusterVersions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedVersion {
    /// `1.NN`
    pub version: String,
    pub support: Support,
    /// `YYYY-MM-DD` (UTC), when EKS says.
    pub end_of_standard_support: Option<String>,
    pub end_of_extended_support: Option<String>,
}

/// One add-on version with the cluster versions it runs on, from DescribeAddonVersions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonVersion {
    /// e.g. `v1.19.2-eksbuild.1`
    pub version: String,
    pub compatible: Vec<AddonCompatibility>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonCompatibility {
    pub cluster_version: String,
    /// EKS's recommended version of the add-on for this cluster version.
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "Kubernetes {requested} is not offered by EKS in this region (offered: {}); choose one of those in \
         options.kubernetes_version, or leave it out for the newest version in standard support",
        offered.join(", ")
    )]
    VersionNotOffered {
        requested: String,
        offered: Vec<String>,
    },
    #[error("EKS reports no Kubernetes version in standard support in this region (offered: {}); set options.kubernetes_version", offered.join(", "))]
    NoStandardVersion { offered: Vec<String> },
    #[error(
        "Kubernetes {requested} is in extended support, which options.support_type \"standard\" rules out: \
         choose a version in standard support ({}) in options.kubernetes_version, or set options.support_type \
         to \"extended\" (extended support costs $0.60 per cluster-hour instead of $0.10)",
        standard.join(", ")
    )]
    ExtendedVersionWithStandardPolicy {
        requested: String,
        standard: Vec<String>,
    },
    #[error("EKS offers no version of the {addon} add-on for Kubernetes {cluster_version}")]
    NoAddonVersion {
        addon: String,
        cluster_version: String,
    },
}

/// Numbers in a version string, in order: `v1.19.2-eksbuild.1` → [1, 19, 2, 1]. Comparing
/// these orders `1.9` before `1.10`, which comparing strings gets wrong.
fn numbers(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().unwrap_or(u64::MAX))
        .collect()
}

/// Orders version strings by their numbers (`v1.19.10` after `v1.19.9`).
pub fn newer(a: &str, b: &str) -> Ordering {
    numbers(a).cmp(&numbers(b)).then_with(|| a.cmp(b))
}

/// The requested version if EKS offers it (an extended-support version only with the
/// `extended` support type: EKS lets extended support be turned off only on a version in
/// standard support), else the newest in standard support.
pub fn kubernetes_version(
    requested: Option<&str>,
    support_type: SupportType,
    offered: &[OfferedVersion],
) -> Result<String, PlanError> {
    let mut names: Vec<String> = offered.iter().map(|o| o.version.clone()).collect();
    names.sort_by(|a, b| newer(a, b));
    names.dedup();
    match requested {
        Some(requested)
            if support_type == SupportType::Standard
                && offered
                    .iter()
                    .any(|o| o.version == requested && o.support != Support::Standard) =>
        {
            Err(PlanError::ExtendedVersionWithStandardPolicy {
                requested: requested.to_owned(),
                standard: names
                    .iter()
                    .filter(|n| {
                        offered
                            .iter()
                            .any(|o| &o.version == *n && o.support == Support::Standard)
                    })
                    .cloned()
                    .collect(),
            })
        }
        Some(requested) if offered.iter().any(|o| o.version == requested) => {
            Ok(requested.to_owned())
        }
        Some(requested) => Err(PlanError::VersionNotOffered {
            requested: requested.to_owned(),
            offered: names,
        }),
        None => offered
            .iter()
            .filter(|o| o.support == Support::Standard)
            .map(|o| o.version.as_str())
            .max_by(|a, b| newer(a, b))
            .map(str::to_owned)
            .ok_or(PlanError::NoStandardVersion { offered: names }),
    }
}

/// The add-on version to install on a cluster of `cluster_version`: the one EKS marks as its
/// default there, else the newest that is compatible.
pub fn addon_version(
    addon: &str,
    cluster_version: &str,
    versions: &[AddonVersion],
) -> Result<String, PlanError> {
    let compatible = |v: &&AddonVersion| {
        v.compatible
            .iter()
            .any(|c| c.cluster_version == cluster_version)
    };
    let is_default = |v: &&AddonVersion| {
        v.compatible
            .iter()
            .any(|c| c.cluster_version == cluster_version && c.default)
    };
    let newest = |candidates: Vec<&AddonVersion>| {
        candidates
            .into_iter()
            .max_by(|a, b| newer(&a.version, &b.version))
            .map(|v| v.version.clone())
    };
    newest(versions.iter().filter(is_default).collect())
        .or_else(|| newest(versions.iter().filter(compatible).collect()))
        .ok_or_else(|| PlanError::NoAddonVersion {
            addon: addon.to_owned(),
            cluster_version: cluster_version.to_owned(),
        })
}

/// Where create-cluster keeps the cluster as last seen on the install (`step_data.cluster`).
pub const CLUSTER_KEY: &str = "cluster";

/// The part of create-cluster's record that other steps read and move: the Kubernetes version
/// and its support (upgrade-cluster moves both; the version check reads them). Every other
/// field is carried as it is, so this stays the one place these two are named.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterVersionRecord {
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub support: Option<SupportData>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl crate::step_record::StepRecord for ClusterVersionRecord {
    const KEY: &'static str = CLUSTER_KEY;
}

/// Where the cluster's Kubernetes version stands: what EKS does at the end of standard support
/// (the cluster's `upgradePolicy`), and when that and extended support end
/// (DescribeClusterVersions).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SupportData {
    /// `STANDARD` (AWS upgrades it when standard support ends) or `EXTENDED`.
    pub policy: String,
    /// `YYYY-MM-DD`, UTC.
    pub end_of_standard_support: Option<String>,
    pub end_of_extended_support: Option<String>,
}

impl SupportData {
    /// One line for the record and the ready email: "standard support until 2027-03-27, then
    /// upgraded by AWS".
    pub fn summary(&self) -> String {
        let until = self
            .end_of_standard_support
            .as_deref()
            .map_or(String::new(), |d| format!(" until {d}"));
        match self.policy.as_str() {
            "STANDARD" => format!("standard support{until}, then upgraded by AWS"),
            _ => format!(
                "standard support{until}, then extended support (at extra cost){}",
                self.end_of_extended_support
                    .as_deref()
                    .map_or(String::new(), |d| format!(" until {d}"))
            ),
        }
    }
}

/// The EKS-optimized Amazon Linux 2023 image for an instance type, as the `amiType` string
/// of CreateNodegroup.
///
/// An instance type reads `<class><generation><attributes>.<size>` (`m7gd.large`: class `m`,
/// generation 7, attributes `gd`). Graviton (arm64) types carry `g` as the first attribute
/// (`m6g`, `c6gn`, `im4gn`, `is4gen`), plus the first-generation `a1`. NVIDIA GPUs are the
/// `p`, `g` and `gr` classes; AWS Inferentia/Trainium (`inf`, `trn`) need the Neuron image.
pub fn ami_type(instance_type: &str) -> &'static str {
    let family = instance_type
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let class_end = family
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(family.len());
    let (class, rest) = family.split_at(class_end);
    let attributes = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let has_generation = attributes.len() < rest.len();
    let arm = (has_generation && attributes.starts_with('g')) || family == "a1";
    // g4ad carries AMD GPUs, which the NVIDIA image does not drive.
    let nvidia = matches!(class, "p" | "g" | "gr") && has_generation && family != "g4ad";
    match (arm, nvidia, matches!(class, "inf" | "trn")) {
        (true, true, _) => "AL2023_ARM_64_NVIDIA",
        (true, false, _) => "AL2023_ARM_64_STANDARD",
        (false, true, _) => "AL2023_x86_64_NVIDIA",
        (false, false, true) => "AL2023_x86_64_NEURON",
        (false, false, false) => "AL2023_x86_64_STANDARD",
    }
}

/// The install's one managed node group, named after its cluster.
pub fn nodegroup_name(cluster_name: &str) -> String {
    format!("{cluster_name}-nodes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step_record::StepRecord;

    #[test]
    fn the_version_record_moves_version_and_support_and_keeps_the_rest() {
        let recorded = serde_json::json!({"name": "byoc-x", "ready": true, "kubernetes_version": "1.33",
            "support": {"policy": "STANDARD", "end_of_standard_support": "2026-07-29", "end_of_extended_support": "2027-07-29"}});
        let mut record: ClusterVersionRecord = serde_json::from_value(recorded.clone()).unwrap();
        assert_eq!(record.to_value(), recorded);
        record.kubernetes_version = Some("1.34".into());
        record.support = None;
        let moved = record.to_value();
        assert_eq!(
            (
                &moved["name"],
                &moved["ready"],
                &moved["kubernetes_version"]
            ),
            (
                &recorded["name"],
                &recorded["ready"],
                &serde_json::json!("1.34")
            )
        );
    }

    fn offered(list: &[(&str, &str)]) -> Vec<OfferedVersion> {
        list.iter()
            .map(|(v, s)| OfferedVersion {
                version: (*v).into(),
                support: Support::parse(s),
                end_of_standard_support: None,
                end_of_extended_support: None,
            })
            .collect()
    }

    const CATALOGUE: [(&str, &str); 5] = [
        ("1.30", "EXTENDED_SUPPORT"),
        ("1.31", "STANDARD_SUPPORT"),
        ("1.33", "STANDARD_SUPPORT"),
        ("1.9", "STANDARD_SUPPORT"),
        ("1.34", "EXTENDED_SUPPORT"),
    ];

    #[test]
    fn default_version_is_the_newest_in_standard_support() {
        // 1.34 is newer but (here) only in extended support; 1.9 sorts after 1.33 as a string.
        assert_eq!(
            kubernetes_version(None, SupportType::Standard, &offered(&CATALOGUE)).unwrap(),
            "1.33"
        );
        let older_status = offered(&[("1.32", "standard-support"), ("1.31", "standard-support")]);
        assert_eq!(
            kubernetes_version(None, SupportType::Standard, &older_status).unwrap(),
            "1.32"
        );
    }

    #[test]
    fn a_requested_version_is_kept_when_offered_in_extended_support_only_with_that_policy() {
        assert_eq!(
            kubernetes_version(Some("1.31"), SupportType::Standard, &offered(&CATALOGUE)).unwrap(),
            "1.31"
        );
        assert_eq!(
            kubernetes_version(Some("1.30"), SupportType::Extended, &offered(&CATALOGUE)).unwrap(),
            "1.30"
        );
        let refused = kubernetes_version(Some("1.30"), SupportType::Standard, &offered(&CATALOGUE))
            .unwrap_err();
        assert_eq!(
            refused,
            PlanError::ExtendedVersionWithStandardPolicy {
                requested: "1.30".into(),
                standard: vec!["1.9".into(), "1.31".into(), "1.33".into()],
            }
        );
        let message = refused.to_string();
        assert!(
            message.contains("options.kubernetes_version")
                && message.contains("options.support_type"),
            "{message}"
        );
    }

    #[test]
    fn a_version_not_offered_names_what_is() {
        let err = kubernetes_version(Some("1.28"), SupportType::Standard, &offered(&CATALOGUE))
            .unwrap_err();
        assert_eq!(
            err.to_string().split(" (offered").next().unwrap(),
            "Kubernetes 1.28 is not offered by EKS in this region"
        );
        assert!(
            err.to_string()
                .contains("offered: 1.9, 1.30, 1.31, 1.33, 1.34"),
            "{err}"
        );
        let none = kubernetes_version(
            None,
            SupportType::Standard,
            &offered(&[("1.29", "EXTENDED_SUPPORT")]),
        )
        .unwrap_err();
        assert_eq!(
            none,
            PlanError::NoStandardVersion {
                offered: vec!["1.29".into()]
            }
        );
        assert!(matches!(
            kubernetes_version(None, SupportType::Standard, &[]),
            Err(PlanError::NoStandardVersion { .. })
        ));
    }

    fn addon(version: &str, compat: &[(&str, bool)]) -> AddonVersion {
        AddonVersion {
            version: version.into(),
            compatible: compat
                .iter()
                .map(|(c, d)| AddonCompatibility {
                    cluster_version: (*c).into(),
                    default: *d,
                })
                .collect(),
        }
    }

    #[test]
    fn addon_default_for_the_cluster_version_wins_over_newer() {
        let versions = [
            addon("v1.20.4-eksbuild.1", &[("1.33", false), ("1.34", true)]),
            addon("v1.19.10-eksbuild.2", &[("1.32", false), ("1.33", true)]),
            addon("v1.19.9-eksbuild.1", &[("1.33", false)]),
        ];
        assert_eq!(
            addon_version("vpc-cni", "1.33", &versions).unwrap(),
            "v1.19.10-eksbuild.2"
        );
        assert_eq!(
            addon_version("vpc-cni", "1.34", &versions).unwrap(),
            "v1.20.4-eksbuild.1"
        );
    }

    #[test]
    fn addon_without_a_default_takes_the_newest_compatible() {
        let versions = [
            addon("v1.11.4-eksbuild.2", &[("1.31", false)]),
            addon("v1.11.4-eksbuild.10", &[("1.31", false)]),
            addon("v1.12.1-eksbuild.1", &[("1.32", false)]),
        ];
        // eksbuild.10 is newer than eksbuild.2, though it sorts first as a string.
        assert_eq!(
            addon_version("coredns", "1.31", &versions).unwrap(),
            "v1.11.4-eksbuild.10"
        );
        assert_eq!(
            addon_version("coredns", "1.30", &versions)
                .unwrap_err()
                .to_string(),
            "EKS offers no version of the coredns add-on for Kubernetes 1.30"
        );
    }

    #[test]
    fn graviton_types_get_the_arm_image() {
        for t in [
            "m6g.large",
            "m7gd.xlarge",
            "c6gn.2xlarge",
            "t4g.medium",
            "r8g.large",
            "x2gd.xlarge",
            "im4gn.large",
            "is4gen.large",
            "a1.large",
            "hpc7g.4xlarge",
        ] {
            assert_eq!(ami_type(t), "AL2023_ARM_64_STANDARD", "{t}");
        }
    }

    #[test]
    fn intel_and_amd_types_get_the_x86_image() {
        for t in [
            "m6i.large",
            "m5.xlarge",
            "c7i-flex.large",
            "r7iz.large",
            "m7a.large",
            "t3.medium",
            "m5dn.large",
            "i4i.large",
            "u-6tb1.56xlarge",
            "",
            "large",
        ] {
            assert_eq!(ami_type(t), "AL2023_x86_64_STANDARD", "{t}");
        }
    }

    #[test]
    fn accelerated_types_get_their_driver_image() {
        for t in [
            "g4dn.xlarge",
            "g5.xlarge",
            "g6e.xlarge",
            "gr6.4xlarge",
            "p4d.24xlarge",
            "p5.48xlarge",
        ] {
            assert_eq!(ami_type(t), "AL2023_x86_64_NVIDIA", "{t}");
        }
        assert_eq!(ami_type("g5g.xlarge"), "AL2023_ARM_64_NVIDIA");
        assert_eq!(ami_type("inf2.xlarge"), "AL2023_x86_64_NEURON");
        assert_eq!(ami_type("trn1.2xlarge"), "AL2023_x86_64_NEURON");
        assert_eq!(ami_type("g4ad.xlarge"), "AL2023_x86_64_STANDARD");
    }

    #[test]
    fn nodegroup_is_named_after_the_cluster() {
        assert_eq!(nodegroup_name("byoc-inst-1"), "byoc-inst-1-nodes");
    }
}
