//! Where the installer finds the customer's side: the role it assumes and the stack that made
//! it. Both names are the vendor's choice (set in its deployment) and go into the quick-create
//! link, so vendor and customer agree on them.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;

use byoc_domain::error::{Error, Result};
use byoc_domain::external_id::ExternalId;
use byoc_domain::ids::{AccountId, InstallId, Region};
use byoc_domain::model::{Install, InstallStatus};

/// The path the customer template puts the role under, so the vendor's own IAM policy can
/// allow `sts:AssumeRole` on `arn:aws:iam::*:role/byoc/*` and nothing else.
pub const ROLE_PATH: &str = "/byoc/";

#[derive(Debug, Clone)]
pub struct CustomerAccess {
    pub role_name: String,
    pub stack_name: String,
    /// The region the quick-create link creates the customer stack in.
    pub stack_region: Region,
    /// Where the vendor publishes the customer template (its newest version).
    pub template_url: String,
}

impl CustomerAccess {
    /// Reads `CUSTOMER_ROLE_NAME`, `CUSTOMER_STACK_NAME`, `CUSTOMER_STACK_REGION` and
    /// `CUSTOMER_TEMPLATE_URL`.
    pub fn from_env() -> Result<Self> {
        let region = crate::aws::env("CUSTOMER_STACK_REGION")?;
        Ok(Self {
            role_name: crate::aws::env("CUSTOMER_ROLE_NAME")?,
            stack_name: crate::aws::env("CUSTOMER_STACK_NAME")?,
            stack_region: Region::parse("CUSTOMER_STACK_REGION", &region)
                .map_err(|e| Error::Config(e.to_string()))?,
            template_url: crate::aws::env("CUSTOMER_TEMPLATE_URL")?,
        })
    }

    /// `customer` (a session in the customer's account) pointed at the stack's region: the
    /// account has it enabled (the customer made the stack there), whatever the install's
    /// region, so what must work before the install's region is known to be usable (whose
    /// account the role is in, the stack, the region's opt-in status) is read there.
    pub fn in_stack_region(&self, customer: &SdkConfig) -> SdkConfig {
        customer
            .to_builder()
            .region(aws_config::Region::new(
                self.stack_region.as_str().to_owned(),
            ))
            .build()
    }

    pub fn role_arn(&self, account: &AccountId) -> String {
        format!("arn:aws:iam::{account}:role{ROLE_PATH}{}", self.role_name)
    }
}

/// Why an AssumeRole into the customer's account did not give us credentials.
#[derive(Debug, thiserror::Error)]
pub enum AssumeRoleError {
    /// AWS said no: the role is missing, or its trust policy does not match us or our
    /// External ID. AWS does not say which, on purpose.
    #[error("access denied assuming {role_arn}")]
    Denied { role_arn: String },
    #[error(transparent)]
    Other(#[from] Error),
}

/// What the vendor is doing in the customer's account, named on every session it opens there
/// (its source identity and session name), so the customer's CloudTrail says which install
/// each call was for and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Building an install (validate-trust to create-cluster, and their waits).
    Install,
    /// Removing what a failed install made.
    Rollback,
    /// Removing an install the vendor uninstalls.
    Uninstall,
    /// Sweeping a removed install again for leftovers.
    Sweep,
    /// Upgrading an install's Kubernetes version.
    Upgrade,
    /// A scheduled check of a ready install (its trust, its Kubernetes version).
    Check,
    /// The provision checks before an install (`POST /installs/preflight`), under the id the
    /// install would have; nothing is built.
    Preflight,
}

impl Operation {
    /// The operation an install's status means: every step knows it from the record alone.
    pub fn of(status: InstallStatus) -> Self {
        match status {
            InstallStatus::Pending | InstallStatus::Running => Operation::Install,
            InstallStatus::Ready => Operation::Check,
            InstallStatus::Failed => Operation::Rollback,
            InstallStatus::Removing => Operation::Uninstall,
            InstallStatus::Removed => Operation::Sweep,
            InstallStatus::Upgrading => Operation::Upgrade,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::Rollback => "rollback",
            Operation::Uninstall => "uninstall",
            Operation::Sweep => "sweep",
            Operation::Upgrade => "upgrade",
            Operation::Check => "check",
            Operation::Preflight => "preflight",
        }
    }
}

/// The source identity (and session name) of a session for `install`: `byoc.<install id>.<operation>`.
/// STS allows only `[\w+=,.@-]`, 2 to 64 characters, in both (AssumeRole API reference), so
/// dots separate the parts; the longest, `byoc.inst-<26>.uninstall`, is 46 characters. The
/// customer template's trust policy requires it to start with `byoc.inst-`.
pub fn session_identity(install: &Install) -> String {
    format!(
        "byoc.{}.{}",
        install.install_id,
        Operation::of(install.status).as_str()
    )
}

/// The source identity of a preflight's session: `byoc.<the id the install would have>.preflight`.
pub fn preflight_identity(install_id: &InstallId) -> String {
    format!("byoc.{install_id}.{}", Operation::Preflight.as_str())
}

/// Assumes the customer role and returns an SDK config acting in the customer's account and
/// `region`. The session's source identity and name are `identity` (see `session_identity`),
/// so the customer's CloudTrail shows which install made each call and for what. A role whose
/// trust policy refuses the source identity (a stack older than template version 7) is
/// assumed again without one: older stacks keep working, unattributed.
pub async fn assume_customer_role(
    base: &SdkConfig,
    role_arn: &str,
    external_id: &ExternalId,
    identity: &str,
    region: &Region,
) -> std::result::Result<SdkConfig, AssumeRoleError> {
    match assume(
        base,
        role_arn,
        external_id,
        identity,
        Some(identity),
        region,
    )
    .await
    {
        Err(AssumeRoleError::Denied { .. }) => {
            assume(base, role_arn, external_id, identity, None, region).await
        }
        result => result,
    }
}

async fn assume(
    base: &SdkConfig,
    role_arn: &str,
    external_id: &ExternalId,
    session_name: &str,
    source_identity: Option<&str>,
    region: &Region,
) -> std::result::Result<SdkConfig, AssumeRoleError> {
    let sts = aws_sdk_sts::Client::new(base);
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .set_source_identity(source_identity.map(str::to_owned))
        .external_id(external_id.reveal())
        .duration_seconds(900)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(err) => {
            let denied = err
                .as_service_error()
                .and_then(|e| aws_sdk_sts::error::ProvideErrorMetadata::code(e))
                == Some("AccessDenied");
            return Err(if denied {
                AssumeRoleError::Denied {
                    role_arn: role_arn.to_owned(),
                }
            } else {
                AssumeRoleError::Other(Error::aws("STS", err))
            });
        }
    };
    let creds = out.credentials.ok_or_else(|| Error::Aws {
        service: "STS",
        message: "AssumeRole returned no credentials".into(),
    })?;
    let credentials = Credentials::new(
        creds.access_key_id,
        creds.secret_access_key,
        Some(creds.session_token),
        None,
        "byoc-customer-role",
    );
    Ok(base
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .region(aws_config::Region::new(region.as_str().to_owned()))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_names_an_operation_within_stss_limits() {
        let longest = "inst-".to_owned() + &"z".repeat(26);
        for status in [
            InstallStatus::Pending,
            InstallStatus::Running,
            InstallStatus::Ready,
            InstallStatus::Failed,
            InstallStatus::Removing,
            InstallStatus::Removed,
            InstallStatus::Upgrading,
        ] {
            let identity = format!("byoc.{longest}.{}", Operation::of(status).as_str());
            assert!((2..=64).contains(&identity.len()), "{identity}");
            assert!(identity
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)));
            assert!(
                identity.starts_with("byoc.inst-"),
                "the template's trust condition"
            );
        }
        assert_eq!(Operation::of(InstallStatus::Removing).as_str(), "uninstall");
        assert_eq!(Operation::of(InstallStatus::Upgrading).as_str(), "upgrade");
    }
}
