use byoc_core::store::InstallStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use publish_events::{handle, Deps, WebhookSender};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let deps = Deps {
        store: InstallStore::from_env(&config)?,
        events: aws_sdk_eventbridge::Client::new(&config),
        event_bus_name: byoc_core::aws::env("EVENT_BUS_NAME")?,
        webhooks: WebhookSender::from_env(),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        handle(&deps, event.payload)
    }))
    .await
}
