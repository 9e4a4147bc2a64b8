use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;
use check_quotas::{handle, Deps};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            // The Price List Query API answers in a few regions only; us-east-1 is one.
            let pricing_region =
                std::env::var("PRICING_REGION").unwrap_or_else(|_| "us-east-1".into());
            let pricing = aws_sdk_pricing::Client::from_conf(
                aws_sdk_pricing::config::Builder::from(&config)
                    .region(aws_sdk_pricing::config::Region::new(pricing_region))
                    .build(),
            );
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                pricing,
                base: config,
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
