use byoc_core::customer_access::CustomerAccess;
use byoc_core::schedule::deadline_from_epoch_ms;
use byoc_core::store::InstallStore;
use lambda_runtime::Error;
use sweep_dangling::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                schedule: sweep_dangling::settings::from_env()?,
                sqs: aws_sdk_sqs::Client::new(&config),
                fleet: byoc_core::fleet::FleetSettings::from_env("SWEEP")?,
                retire_after: sweep_dangling::settings::retire_after_from_env()?,
                base: config,
            })
        },
        |deps, event| {
            handle(
                deps,
                event.payload,
                deadline_from_epoch_ms(event.context.deadline),
            )
        },
    )
    .await
}
