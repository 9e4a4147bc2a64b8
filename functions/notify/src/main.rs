use byoc_core::store::InstallStore;
use byoc_lambda::fault::Fault;
use lambda_runtime::Error;
use notify::{handle, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                sns: aws_sdk_sns::Client::new(&config),
                topic_arn: byoc_core::aws::env("TOPIC_ARN")?,
                vendor_name: byoc_core::aws::env("VENDOR_NAME")?,
                fault: Fault::from_env("notify"),
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
