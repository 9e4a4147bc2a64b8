//! Where the installer finds the customer's side: the role it assumes and the stack that made
//! it. Both names are the vendor's choice (set in its deployment) and go into the quick-create
//! link, so vendor and customer agree on them.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;

use crate::error::{Error, Result};
use crate::external_id::ExternalId;
use crate::ids::{AccountId, Region};

/// The path the customer template puts the role under, so the vendor's own IAM policy can
/// allow `sts:AssumeRole` on `arn:aws:iam::*:role/byoc/*` and nothing else.
pub const ROLE_PATH: &str = "/byoc/";

#[derive(Debug, Clone)]
pub struct CustomerAccess {
    pub role_name: String,
    pub stack_name: String,
    /// The region the quick-create link creates the customer stack in.
    pub stack_region: Region,
}

impl CustomerAccess {
    /// Reads `CUSTOMER_ROLE_NAME`, `CUSTOMER_STACK_NAME` and `CUSTOMER_STACK_REGION`.
    pub fn from_env() -> Result<Self> {
        let region = crate::aws::env("CUSTOMER_STACK_REGION")?;
        Ok(Self {
            role_name: crate::aws::env("CUSTOMER_ROLE_NAME")?,
            stack_name: crate::aws::env("CUSTOMER_STACK_NAME")?,
            stack_region: Region::parse("CUSTOMER_STACK_REGION", &region)
                .map_err(|e| Error::Config(e.to_string()))?,
        })
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

/// Assumes the customer role and returns an SDK config acting in the customer's account and
/// `region`. The session is named after the install, so the customer's CloudTrail shows which
/// install made each call.
pub async fn assume_customer_role(
    base: &SdkConfig,
    role_arn: &str,
    external_id: &ExternalId,
    session_name: &str,
    region: &Region,
) -> std::result::Result<SdkConfig, AssumeRoleError> {
    let sts = aws_sdk_sts::Client::new(base);
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
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
