use byoc_core::customer_access::CustomerAccess;
use byoc_core::store::InstallStore;
use byoc_lambda::fault::Fault;
use lambda_runtime::Error;
use request_quota::{handle, Deps, DEFAULT_MAX_WAIT_SECONDS, DEFAULT_POLL_SECONDS};

fn seconds(name: &str, default: u64) -> Result<u64, byoc_domain::Error> {
    match std::env::var(name) {
        Ok(text) => text.parse().map_err(|_| {
            byoc_domain::Error::Config(format!("{name} must be a number of seconds, not {text:?}"))
        }),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    byoc_lambda::lambda_main::serve(
        || async {
            let config = byoc_core::aws::load_config().await;
            Ok::<_, byoc_domain::Error>(Deps {
                store: InstallStore::from_env(&config)?,
                access: CustomerAccess::from_env()?,
                base: config,
                poll_seconds: seconds("QUOTA_POLL_SECONDS", DEFAULT_POLL_SECONDS)?,
                max_wait_seconds: seconds("QUOTA_MAX_WAIT_SECONDS", DEFAULT_MAX_WAIT_SECONDS)?,
                fault: Fault::from_env("request-quota"),
            })
        },
        |deps, event| handle(deps, event.payload),
    )
    .await
}
