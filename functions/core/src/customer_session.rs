//! The start of every step that acts in the customer's account: load the install, check it
//! belongs to the tenant the state machine named, and assume the customer role.

use aws_config::SdkConfig;

use crate::customer_access::{assume_customer_role, AssumeRoleError, CustomerAccess};
use crate::error::{Error, Result};
use crate::model::Install;
use crate::step_input::StepInput;
use crate::store::InstallStore;

pub struct CustomerSession {
    pub install: Install,
    /// Acts in the customer's account and the install's region.
    pub config: SdkConfig,
}

pub async fn open(
    store: &InstallStore,
    base: &SdkConfig,
    access: &CustomerAccess,
    input: &StepInput,
) -> Result<CustomerSession> {
    // Both reads at once (one round trip less a step); the tenant is the one the state machine
    // named, used only once the install is known to belong to it.
    let (install, tenant) = tokio::join!(
        store.get_install(&input.install_id),
        store.get_tenant(&input.tenant_id)
    );
    let install = install?;
    if install.tenant_id != input.tenant_id {
        return Err(Error::InstallNotFound(input.install_id.clone()));
    }
    let tenant = tenant?;
    let role_arn = access.role_arn(&install.account_id);
    let session_name = format!("byoc-{}", install.install_id);
    match assume_customer_role(
        base,
        &role_arn,
        &tenant.external_id,
        &session_name,
        &install.region,
    )
    .await
    {
        Ok(config) => Ok(CustomerSession { install, config }),
        Err(AssumeRoleError::Denied { role_arn }) => Err(Error::AccessLost { role_arn }),
        Err(AssumeRoleError::Other(err)) => Err(err),
    }
}
