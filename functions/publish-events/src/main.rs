use byoc_core::store::InstallStore;
use lambda_runtime::Error;
use publish_events::{handle, Deps, WebhookSender};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                events: aws_sdk_eventbridge::Client::new(&config),
                event_bus_name: byoc_core::aws::env("EVENT_BUS_NAME")?,
                webhooks: WebhookSender::from_env(),
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
