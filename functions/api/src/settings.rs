//! The api function's configuration, read once at start from its environment.

use byoc_core::customer_access::CustomerAccess;
use byoc_domain::ids::AccountId;

#[derive(Debug, Clone)]
pub struct Settings {
    pub topic_arn: String,
    pub install_state_machine_arn: String,
    pub uninstall_state_machine_arn: String,
    pub upgrade_state_machine_arn: String,
    /// The function that runs the provision checks (check-quotas), by name or ARN.
    pub preflight_function: String,
    /// Where the customer template is published; the quick-create link points here.
    pub customer_template_url: String,
    pub vendor_account: AccountId,
    pub access: CustomerAccess,
}

impl Settings {
    pub fn from_env() -> Result<Self, byoc_domain::Error> {
        let env = byoc_core::aws::env;
        let vendor = env("VENDOR_ACCOUNT_ID")?;
        Ok(Self {
            topic_arn: env("TOPIC_ARN")?,
            install_state_machine_arn: env("INSTALL_STATE_MACHINE_ARN")?,
            uninstall_state_machine_arn: env("UNINSTALL_STATE_MACHINE_ARN")?,
            upgrade_state_machine_arn: env("UPGRADE_STATE_MACHINE_ARN")?,
            preflight_function: env("PREFLIGHT_FUNCTION")?,
            customer_template_url: env("CUSTOMER_TEMPLATE_URL")?,
            vendor_account: AccountId::parse("VENDOR_ACCOUNT_ID", &vendor)
                .map_err(|e| byoc_domain::Error::Config(e.to_string()))?,
            access: CustomerAccess::from_env()?,
        })
    }
}
