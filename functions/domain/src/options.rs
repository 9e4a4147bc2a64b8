//! What a vendor can choose for an install, with the defaults a production EKS install wants.
//! Every field is optional in the request; a bad value names its field (`options.<name>`).

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;
use crate::ids::InvalidInput;
use crate::version_check::MaintenanceWindow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// One NAT gateway for the whole VPC: cheaper, one AZ's outage cuts egress.
    Single,
    /// One NAT gateway per AZ: what production wants.
    PerAz,
}

/// Who asks AWS for quota increases the install needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaRequestMode {
    /// The installer files the requests in the customer's account and follows them.
    #[default]
    Auto,
    /// The installer files nothing: it emails the customer the list with links, and carries on
    /// once the applied values have risen.
    Manual,
}

/// What EKS does with the cluster when its Kubernetes version leaves standard support (EKS
/// API `upgradePolicy.supportType`, whose own default is EXTENDED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportType {
    /// AWS upgrades the control plane at the end of standard support; the cluster never pays
    /// for extended support.
    #[default]
    Standard,
    /// The cluster stays on its version for up to 12 more months, at $0.60 instead of $0.10 per
    /// cluster-hour (EKS pricing).
    Extended,
}

impl SupportType {
    /// The EKS API's name for it.
    pub fn eks_name(self) -> &'static str {
        match self {
            SupportType::Standard => "STANDARD",
            SupportType::Extended => "EXTENDED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstallOptions {
    /// Availability zones to spread subnets and nodes over (2 to 6).
    pub az_count: u8,
    pub nat_mode: NatMode,
    /// A fixed VPC CIDR; without it the installer picks a free private block.
    pub vpc_cidr: Option<Ipv4Cidr>,
    /// Size of the block the installer picks when `vpc_cidr` is not given (16 to 24).
    pub vpc_prefix_length: u8,
    pub node_instance_type: String,
    pub node_min_size: u32,
    pub node_desired_size: u32,
    pub node_max_size: u32,
    pub node_disk_size_gib: u32,
    /// Whether the vendor's software needs a network load balancer.
    pub load_balancer: bool,
    /// `1.NN`; without it, the newest version EKS offers in standard support.
    pub kubernetes_version: Option<String>,
    /// `standard` (the default here, not EKS's) or `extended`.
    pub support_type: SupportType,
    pub quota_requests: QuotaRequestMode,
    /// Keep what a failed install made, for inspection, instead of rolling it back. It keeps
    /// costing the customer until the install is removed.
    pub keep_failed_resources: bool,
    /// Let the installer upgrade the cluster on its own, inside `maintenance_window`, once its
    /// Kubernetes version nears the end of standard support (the scheduled version check).
    pub auto_upgrade: bool,
    /// When the installer may upgrade on its own; required with `auto_upgrade`.
    pub maintenance_window: Option<MaintenanceWindow>,
}

impl Default for InstallOptions {
    fn default() -> Self {
        Self {
            az_count: 3,
            nat_mode: NatMode::PerAz,
            vpc_cidr: None,
            vpc_prefix_length: 16,
            node_instance_type: "m6i.large".into(),
            node_min_size: 2,
            node_desired_size: 2,
            node_max_size: 4,
            node_disk_size_gib: 50,
            load_balancer: true,
            kubernetes_version: None,
            support_type: SupportType::Standard,
            quota_requests: QuotaRequestMode::Auto,
            keep_failed_resources: false,
            auto_upgrade: false,
            maintenance_window: None,
        }
    }
}

/// Reads options from a stored install, ignoring fields this version does not know: a record
/// written by a newer function (during a deploy, some run old code) must stay readable. The
/// API, where a vendor's typo must be caught, reads `InstallOptions` strictly.
pub fn lenient<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<InstallOptions, D::Error> {
    let mut value = serde_json::Value::deserialize(deserializer)?;
    let known =
        serde_json::to_value(InstallOptions::default()).map_err(serde::de::Error::custom)?;
    if let (Some(fields), Some(known)) = (value.as_object_mut(), known.as_object()) {
        fields.retain(|name, _| known.contains_key(name));
    }
    serde_json::from_value(value).map_err(serde::de::Error::custom)
}

fn field(name: &str) -> String {
    format!("options.{name}")
}

impl InstallOptions {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if !(2..=6).contains(&self.az_count) {
            return Err(InvalidInput::new(
                field("az_count"),
                "\"az_count\" must be 2 to 6 (EKS needs subnets in at least two zones)",
            ));
        }
        if let Some(cidr) = &self.vpc_cidr {
            if !cidr.is_private() || !(16..=24).contains(&cidr.prefix()) {
                return Err(InvalidInput::new(field("vpc_cidr"), format!("{cidr} must be a /16 to /24 block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")));
            }
        }
        if !(16..=24).contains(&self.vpc_prefix_length) {
            return Err(InvalidInput::new(
                field("vpc_prefix_length"),
                "\"vpc_prefix_length\" must be 16 to 24",
            ));
        }
        let t = &self.node_instance_type;
        let well_formed = t.len() <= 32
            && t.split_once('.').is_some_and(|(family, size)| {
                family.starts_with(|c: char| c.is_ascii_lowercase())
                    && family
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !size.is_empty()
                    && size
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !well_formed {
            return Err(InvalidInput::new(
                field("node_instance_type"),
                "\"node_instance_type\" must be an EC2 instance type such as \"m6i.large\"",
            ));
        }
        if self.node_max_size == 0 || self.node_max_size > 450 {
            return Err(InvalidInput::new(
                field("node_max_size"),
                "\"node_max_size\" must be 1 to 450",
            ));
        }
        if self.node_min_size > self.node_desired_size
            || self.node_desired_size > self.node_max_size
        {
            return Err(InvalidInput::new(
                field("node_desired_size"),
                "node sizes must satisfy node_min_size <= node_desired_size <= node_max_size",
            ));
        }
        if !(20..=16384).contains(&self.node_disk_size_gib) {
            return Err(InvalidInput::new(
                field("node_disk_size_gib"),
                "\"node_disk_size_gib\" must be 20 to 16384",
            ));
        }
        if let Some(version) = &self.kubernetes_version {
            let ok = version.strip_prefix("1.").is_some_and(|minor| {
                (1..=3).contains(&minor.len()) && minor.bytes().all(|b| b.is_ascii_digit())
            });
            if !ok {
                return Err(InvalidInput::new(
                    field("kubernetes_version"),
                    "\"kubernetes_version\" must look like \"1.33\"",
                ));
            }
        }
        if let Some(window) = &self.maintenance_window {
            window.validate(&field("maintenance_window"))?;
        }
        if self.auto_upgrade && self.maintenance_window.is_none() {
            return Err(InvalidInput::new(
                field("maintenance_window"),
                "\"auto_upgrade\" needs a \"maintenance_window\" in which the installer may upgrade, e.g. \
                 {\"weekday\": \"sunday\", \"start_hour_utc\": 2, \"duration_hours\": 4}",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(json: &str) -> Result<InstallOptions, String> {
        let options: InstallOptions = serde_json::from_str(json).map_err(|e| e.to_string())?;
        options.validate().map_err(|e| e.field)?;
        Ok(options)
    }

    #[test]
    fn defaults_are_valid_and_partial_input_fills_in() {
        assert!(InstallOptions::default().validate().is_ok());
        let o = with(r#"{"az_count":2,"nat_mode":"single","vpc_cidr":"10.20.0.0/16"}"#).unwrap();
        assert_eq!(
            (o.az_count, o.nat_mode, o.node_max_size),
            (2, NatMode::Single, 4)
        );
        assert_eq!(o.quota_requests, QuotaRequestMode::Auto);
        assert_eq!(
            with(r#"{"quota_requests":"manual"}"#)
                .unwrap()
                .quota_requests,
            QuotaRequestMode::Manual
        );
    }

    #[test]
    fn stored_options_from_a_newer_version_stay_readable() {
        #[derive(Deserialize)]
        struct Stored {
            #[serde(deserialize_with = "lenient")]
            options: InstallOptions,
        }
        let stored: Stored =
            serde_json::from_str(r#"{"options":{"az_count":2,"added_later":true}}"#).unwrap();
        assert_eq!(stored.options.az_count, 2);
        assert!(
            serde_json::from_str::<InstallOptions>(r#"{"added_later":true}"#).is_err(),
            "the API stays strict"
        );
    }

    #[test]
    fn auto_upgrade_needs_a_window_and_the_window_names_its_bad_field() {
        let err = with(r#"{"auto_upgrade":true}"#).unwrap_err();
        assert!(err.contains("options.maintenance_window"), "{err}");
        let err = with(r#"{"auto_upgrade":true,"maintenance_window":{"weekday":"sunday","start_hour_utc":2,"duration_hours":30}}"#).unwrap_err();
        assert!(
            err.contains("options.maintenance_window.duration_hours"),
            "{err}"
        );
        let ok = with(r#"{"auto_upgrade":true,"maintenance_window":{"weekday":"sunday","start_hour_utc":2,"duration_hours":4}}"#).unwrap();
        assert_eq!(
            ok.maintenance_window.unwrap().to_string(),
            "Sundays 02:00 UTC for 4 hours"
        );
    }

    #[test]
    fn each_bad_value_names_its_field() {
        for (json, field) in [
            (r#"{"az_count":1}"#, "options.az_count"),
            (r#"{"vpc_cidr":"8.8.0.0/16"}"#, "options.vpc_cidr"),
            (r#"{"vpc_cidr":"10.0.0.0/8"}"#, "options.vpc_cidr"),
            (r#"{"vpc_prefix_length":28}"#, "options.vpc_prefix_length"),
            (
                r#"{"node_instance_type":"large"}"#,
                "options.node_instance_type",
            ),
            (r#"{"node_min_size":5}"#, "options.node_desired_size"),
            (r#"{"node_disk_size_gib":5}"#, "options.node_disk_size_gib"),
            (
                r#"{"kubernetes_version":"latest"}"#,
                "options.kubernetes_version",
            ),
        ] {
            assert_eq!(with(json).unwrap_err(), field, "{json}");
        }
        assert!(with(r#"{"nat_mode":"none"}"#)
            .unwrap_err()
            .contains("unknown variant"));
        assert!(with(r#"{"support_type":"forever"}"#)
            .unwrap_err()
            .contains("unknown variant `forever`, expected `standard` or `extended`"));
        assert_eq!(
            with(r#"{"support_type":"extended"}"#).unwrap().support_type,
            SupportType::Extended
        );
        assert_eq!(
            InstallOptions::default().support_type.eks_name(),
            "STANDARD"
        );
        assert!(with(r#"{"colour":"red"}"#)
            .unwrap_err()
            .contains("unknown field"));
    }
}
