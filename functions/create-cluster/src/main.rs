use byoc_core::customer_access::CustomerAccess;
use byoc_core::fault::Fault;
use byoc_core::store::InstallStore;
use create_cluster::{handle, Deps, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let deps = Deps {
        store: InstallStore::from_env(&config)?,
        access: CustomerAccess::from_env()?,
        settings: Settings::from_env()?,
        fault: Fault::from_env("create-cluster"),
        base: config,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event.payload))).await
}
