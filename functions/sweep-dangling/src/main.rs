use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sweep_dangling::schedule::deadline_from_epoch_ms;
use sweep_dangling::settings::ScheduleSettings;
use sweep_dangling::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let deps = Deps { store: InstallStore::from_env(&config)?, access: CustomerAccess::from_env()?, schedule: ScheduleSettings::from_env()?, base: config };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event.payload, deadline_from_epoch_ms(event.context.deadline)))).await
}
