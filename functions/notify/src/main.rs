use byoc_core::fault::Fault;
use byoc_core::store::InstallStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use notify::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let deps = Deps {
        store: InstallStore::from_env(&config)?,
        sns: aws_sdk_sns::Client::new(&config),
        topic_arn: byoc_core::aws::env("TOPIC_ARN")?,
        vendor_name: byoc_core::aws::env("VENDOR_NAME")?,
        fault: Fault::from_env("notify"),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event.payload))).await
}
