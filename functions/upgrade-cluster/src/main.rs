use byoc_core::customer_access::CustomerAccess;
use byoc_core::fault::Fault;
use byoc_core::store::InstallStore;
use lambda_runtime::Error;
use upgrade_cluster::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    byoc_core::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_core::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                fault: Fault::from_env("upgrade-cluster"),
                base: config,
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
