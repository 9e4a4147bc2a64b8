use byoc_core::customer_access::CustomerAccess;
use byoc_core::schedule::deadline_from_epoch_ms;
use byoc_core::store::InstallStore;
use byoc_domain::ids::AccountId;
use lambda_runtime::Error;
use validate_trust::{handle, scheduled, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                vendor_account: AccountId::parse(
                    "VENDOR_ACCOUNT_ID",
                    &byoc_core::aws::env("VENDOR_ACCOUNT_ID")?,
                )?,
                sns: aws_sdk_sns::Client::new(&config),
                topic_arn: byoc_core::aws::env("TOPIC_ARN")?,
                vendor_name: byoc_core::aws::env("VENDOR_NAME")?,
                schedule: scheduled::settings_from_env()?,
                sqs: aws_sdk_sqs::Client::new(&config),
                fleet: byoc_core::fleet::FleetSettings::from_env("TRUST_CHECK")?,
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
