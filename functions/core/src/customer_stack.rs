//! The customer's access stack as the installer reads it: the template version it was made
//! from, and the customer's two switches over the vendor's access (cfn/customer-role.yaml):
//! `VendorAccess` (enabled or paused) and `AllowChanges` (yes, no, or until a UTC time). IAM
//! enforces both (the template's `vendor-access-paused` and `day-2-changes` policies); the
//! installer reads them so that a pause reads as "paused by the customer", not as broken
//! access, and so that an upgrade the customer does not allow is refused before any change,
//! with the stack update that allows it.

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer_access::CustomerAccess;
use byoc_domain::error::{Error, Result};

/// The first template version with the switches and source identities.
pub const SWITCHES_VERSION: u32 = 7;
/// The first template version whose role may upgrade an install's cluster.
pub const UPGRADES_VERSION: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VendorAccess {
    Enabled,
    Paused,
}

/// When the customer allows day-2 changes (Kubernetes upgrades) of their installs' clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowChanges {
    Yes,
    No,
    /// Until this time (IAM's `aws:CurrentTime` must be earlier).
    Until(DateTime<Utc>),
}

impl AllowChanges {
    /// The parameter's value as the template allows it; anything else reads as "no" (the
    /// stricter reading; CloudFormation refuses such a value anyway).
    pub fn parse(value: &str) -> Self {
        match value {
            "yes" => AllowChanges::Yes,
            "no" => AllowChanges::No,
            time => time
                .parse::<DateTime<Utc>>()
                .map_or(AllowChanges::No, AllowChanges::Until),
        }
    }

    pub fn allows_at(self, now: DateTime<Utc>) -> bool {
        match self {
            AllowChanges::Yes => true,
            AllowChanges::No => false,
            AllowChanges::Until(end) => now < end,
        }
    }
}

impl std::fmt::Display for AllowChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllowChanges::Yes => f.write_str("yes"),
            AllowChanges::No => f.write_str("no"),
            AllowChanges::Until(end) => write!(f, "{}", end.format("%Y-%m-%dT%H:%M:%SZ")),
        }
    }
}

/// What the installer reads of the customer stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSettings {
    /// The `TemplateVersion` output; None for a stack from before outputs carried it.
    pub template_version: Option<u32>,
    pub vendor_access: VendorAccess,
    pub allow_changes: AllowChanges,
}

impl StackSettings {
    /// From the stack's parameters and outputs (key, value). A stack from before version 7
    /// has neither switch: access is enabled and changes are IAM's to allow or not.
    pub fn from_stack(parameters: &[(String, String)], outputs: &[(String, String)]) -> Self {
        let find = |pairs: &[(String, String)], key: &str| {
            pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        Self {
            template_version: find(outputs, "TemplateVersion").and_then(|v| v.parse().ok()),
            vendor_access: match find(parameters, "VendorAccess").as_deref() {
                Some("paused") => VendorAccess::Paused,
                _ => VendorAccess::Enabled,
            },
            allow_changes: find(parameters, "AllowChanges")
                .map_or(AllowChanges::Yes, |v| AllowChanges::parse(&v)),
        }
    }

    pub fn paused(&self) -> bool {
        self.vendor_access == VendorAccess::Paused
    }
}

/// The stack as DescribeStacks shows it.
#[derive(Debug, Clone)]
pub struct Described {
    pub status: aws_sdk_cloudformation::types::StackStatus,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
}

impl Described {
    pub fn settings(&self) -> StackSettings {
        StackSettings::from_stack(&self.parameters, &self.outputs)
    }
}

/// Reads the customer stack through `customer` (a session in the customer's account; the
/// stack is read in the region the quick-create link made it in). None when it does not exist.
pub async fn describe(customer: &SdkConfig, access: &CustomerAccess) -> Result<Option<Described>> {
    let config = access.in_stack_region(customer);
    let out = aws_sdk_cloudformation::Client::new(&config)
        .describe_stacks()
        .stack_name(&access.stack_name)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        // CloudFormation answers a missing stack with a ValidationError.
        Err(err)
            if err
                .as_service_error()
                .and_then(aws_sdk_cloudformation::error::ProvideErrorMetadata::message)
                .is_some_and(|m| m.contains("does not exist")) =>
        {
            return Ok(None)
        }
        Err(err) => return Err(Error::aws("CloudFormation", err)),
    };
    Ok(out.stacks().first().map(|stack| Described {
        status: stack
            .stack_status()
            .cloned()
            .unwrap_or_else(|| "UNKNOWN".into()),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
    }))
}

/// The sentence that tells the customer how to change a switch: which stack, where, and the
/// parameter value to set.
pub fn update_instruction(access: &CustomerAccess, parameter: &str, value: &str) -> String {
    format!(
        "update the CloudFormation stack \"{}\" in {} (Update, \"Use existing template\") with {parameter} set to {value}",
        access.stack_name, access.stack_region
    )
}

/// The AWS CLI command that updates the customer's stack to the template the vendor publishes
/// now, keeping every parameter as it is (`UsePreviousValue`: the External ID is not in it).
/// CloudFormation has no quick-update link, only quick-create; the console route is Update →
/// "Replace existing template" → this URL.
pub fn template_update_command(access: &CustomerAccess) -> String {
    let keep = [
        "VendorAccountId",
        "ExternalId",
        "RoleName",
        "PermissionsBoundaryArn",
    ]
    .map(|key| format!("ParameterKey={key},UsePreviousValue=true"))
    .join(" ");
    format!(
        "aws cloudformation update-stack --region {} --stack-name {} --template-url {} --capabilities CAPABILITY_NAMED_IAM --parameters {keep}",
        access.stack_region, access.stack_name, access.template_url
    )
}

/// What a stack from before the switches misses, and the command that updates it; None for a
/// stack of version 7 or later.
pub fn older_template_note(version: Option<u32>, access: &CustomerAccess) -> Option<String> {
    if version.is_some_and(|v| v >= SWITCHES_VERSION) {
        return None;
    }
    let version = version.map_or_else(|| "an early version".to_owned(), |v| format!("version {v}"));
    Some(format!(
        "the customer stack \"{}\" is from template {version}: pausing the vendor's access, allowing changes only when \
         the customer chooses, and sessions that name the install in CloudTrail need version {SWITCHES_VERSION}; \
         to update it: {}",
        access.stack_name,
        template_update_command(access)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_switches_read_as_the_template_sets_them() {
        let settings = StackSettings::from_stack(
            &pairs(&[
                ("VendorAccess", "paused"),
                ("AllowChanges", "2027-01-31T18:00:00Z"),
            ]),
            &pairs(&[("TemplateVersion", "7")]),
        );
        assert_eq!(settings.template_version, Some(7));
        assert!(settings.paused());
        let end: DateTime<Utc> = "2027-01-31T18:00:00Z".parse().unwrap();
        assert_eq!(settings.allow_changes, AllowChanges::Until(end));
        assert!(settings
            .allow_changes
            .allows_at(end - chrono::Duration::seconds(1)));
        assert!(
            !settings.allow_changes.allows_at(end),
            "DateLessThan: the end itself is out"
        );
        assert_eq!(settings.allow_changes.to_string(), "2027-01-31T18:00:00Z");
    }

    #[test]
    fn an_older_stack_is_enabled_and_leaves_changes_to_iam() {
        let settings = StackSettings::from_stack(&[], &pairs(&[("TemplateVersion", "6")]));
        assert_eq!(
            settings,
            StackSettings {
                template_version: Some(6),
                vendor_access: VendorAccess::Enabled,
                allow_changes: AllowChanges::Yes,
            }
        );
        assert_eq!(StackSettings::from_stack(&[], &[]).template_version, None);
    }

    #[test]
    fn the_update_command_keeps_every_parameter_and_names_no_secret() {
        let access = CustomerAccess {
            role_name: "byoc-installer".into(),
            stack_name: "acme-access".into(),
            stack_region: byoc_domain::ids::Region::parse("r", "eu-west-2").unwrap(),
            template_url: "https://bucket.s3.amazonaws.com/cfn/customer-role.yaml".into(),
        };
        let command = template_update_command(&access);
        assert!(command.starts_with("aws cloudformation update-stack --region eu-west-2 --stack-name acme-access --template-url https://bucket.s3.amazonaws.com/cfn/customer-role.yaml"), "{command}");
        assert!(command.contains("ParameterKey=ExternalId,UsePreviousValue=true"));
        assert!(!command.contains("ParameterValue"), "{command}");
    }

    #[test]
    fn an_unreadable_allow_changes_allows_nothing() {
        assert_eq!(AllowChanges::parse("sometimes"), AllowChanges::No);
        assert!(!AllowChanges::parse("no").allows_at(Utc::now()));
        assert!(AllowChanges::parse("yes").allows_at(Utc::now()));
    }
}
