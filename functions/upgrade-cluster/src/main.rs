use byoc_core::customer_access::CustomerAccess;
use byoc_core::schedule::deadline_from_epoch_ms;
use byoc_core::store::InstallStore;
use byoc_lambda::fault::Fault;
use lambda_runtime::Error;
use upgrade_cluster::scheduled::{self, ScheduleDeps};
use upgrade_cluster::{handle_event, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            let env = byoc_core::aws::env;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                fault: Fault::from_env("upgrade-cluster"),
                schedule: ScheduleDeps {
                    settings: scheduled::settings_from_env()?,
                    sqs: aws_sdk_sqs::Client::new(&config),
                    fleet: byoc_core::fleet::FleetSettings::from_env("VERSION_CHECK")?,
                    sns: aws_sdk_sns::Client::new(&config),
                    topic_arn: env("TOPIC_ARN")?,
                    vendor_name: env("VENDOR_NAME")?,
                    sfn: aws_sdk_sfn::Client::new(&config),
                    upgrade_state_machine_arn: env("UPGRADE_STATE_MACHINE_ARN")?,
                },
                base: config,
            })
        },
        |deps, event| {
            handle_event(
                deps,
                event.payload,
                deadline_from_epoch_ms(event.context.deadline),
            )
        },
    )
    .await
}
