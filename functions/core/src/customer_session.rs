//! The start of every step that acts in the customer's account: load the install, check it
//! belongs to the tenant the state machine named, assume the customer role, and read the
//! customer's switches on their access stack. A pause ends the step with `AccessPaused` (the
//! state machines wait and try again, for a bounded time) after the install's record says so.

use aws_config::SdkConfig;

use crate::customer_access::{
    assume_customer_role, session_identity, AssumeRoleError, CustomerAccess,
};
use crate::customer_stack::{self, StackSettings, VendorAccess};
use crate::store::InstallStore;
use crate::vendor_access;
use byoc_domain::error::{Error, Result};
use byoc_domain::model::Install;
use byoc_domain::step_input::StepInput;

pub struct CustomerSession {
    pub install: Install,
    /// Acts in the customer's account and the install's region.
    pub config: SdkConfig,
    /// The customer stack's version and switches; None when the stack cannot be found (the
    /// role was made some other way): then IAM alone says what is allowed.
    pub stack: Option<StackSettings>,
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
    let config = match assume_customer_role(
        base,
        &role_arn,
        &tenant.external_id,
        &session_identity(&install),
        &install.region,
    )
    .await
    {
        Ok(config) => config,
        Err(AssumeRoleError::Denied { role_arn }) => return Err(Error::AccessLost { role_arn }),
        Err(AssumeRoleError::Other(err)) => return Err(err),
    };
    let stack = customer_stack::describe(&config, access)
        .await?
        .map(|described| described.settings());
    let seen = stack
        .as_ref()
        .map_or(VendorAccess::Enabled, |s| s.vendor_access);
    let instruction = resume_instruction(access);
    let install = vendor_access::note(store, install, seen, &instruction).await?;
    if seen == VendorAccess::Paused {
        return Err(Error::AccessPaused {
            account: install.account_id.to_string(),
            instruction,
        });
    }
    Ok(CustomerSession {
        install,
        config,
        stack,
    })
}

/// What the customer does to resume the vendor's access.
pub fn resume_instruction(access: &CustomerAccess) -> String {
    customer_stack::update_instruction(access, "VendorAccess", "enabled")
}
