use byoc_core::customer_access::CustomerAccess;
use byoc_core::ids::AccountId;
use byoc_core::store::InstallStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use validate_trust::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let deps = Deps {
        store: InstallStore::from_env(&config)?,
        access: CustomerAccess::from_env()?,
        vendor_account: AccountId::parse("VENDOR_ACCOUNT_ID", &byoc_core::aws::env("VENDOR_ACCOUNT_ID")?)?,
        base: config,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event.payload))).await
}
