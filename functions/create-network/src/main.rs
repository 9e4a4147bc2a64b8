use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;
use byoc_lambda::fault::Fault;
use create_network::{handle, Deps};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                fault: Fault::from_env("create-network"),
                base: config,
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
