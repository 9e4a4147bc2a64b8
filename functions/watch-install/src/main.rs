use lambda_runtime::Error;
use watch_install::{handle, Claims, Deps, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, watch_install::WatchError>(Deps {
                lambda: aws_sdk_lambda::Client::new(&config),
                sfn: aws_sdk_sfn::Client::new(&config),
                sqs: aws_sdk_sqs::Client::new(&config),
                claims: Claims {
                    client: aws_sdk_dynamodb::Client::new(&config),
                    table: byoc_core::aws::env("TABLE_NAME")
                        .map_err(watch_install::WatchError::from)?,
                },
                settings: Settings::from_env()?,
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
