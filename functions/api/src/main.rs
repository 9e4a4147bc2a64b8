use api::{handle, Deps, Settings};
use byoc_core::store::InstallStore;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let deps = Deps {
        store: InstallStore::from_env(&config)?,
        sns: aws_sdk_sns::Client::new(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
        settings: Settings::from_env()?,
    };
    lambda_http::run(service_fn(|request: Request| handle(&deps, request))).await
}
