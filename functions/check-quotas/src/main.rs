use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;
use check_quotas::{handle, Deps};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    byoc_core::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_core::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                base: config,
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
