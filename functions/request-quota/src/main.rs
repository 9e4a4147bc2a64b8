use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use request_quota::{handle, Deps, DEFAULT_POLL_SECONDS};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let poll_seconds = match std::env::var("QUOTA_POLL_SECONDS") {
        Ok(text) => text.parse().map_err(|_| format!("QUOTA_POLL_SECONDS must be a number of seconds, not {text:?}"))?,
        Err(_) => DEFAULT_POLL_SECONDS,
    };
    let deps = Deps {
        store: InstallStore::new(aws_sdk_dynamodb::Client::new(&config), byoc_core::aws::env("TABLE_NAME")?),
        access: CustomerAccess::from_env()?,
        base: config,
        poll_seconds,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event.payload))).await
}
