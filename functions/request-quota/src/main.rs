use byoc_core::customer_access::CustomerAccess;
use byoc_core::fault::Fault;
use byoc_core::store::InstallStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use request_quota::{handle, Deps, DEFAULT_MAX_WAIT_SECONDS, DEFAULT_POLL_SECONDS};

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_core::telemetry::init();
    let config = byoc_core::aws::load_config().await;
    let seconds = |name: &str, default: u64| -> Result<u64, String> {
        match std::env::var(name) {
            Ok(text) => text.parse().map_err(|_| format!("{name} must be a number of seconds, not {text:?}")),
            Err(_) => Ok(default),
        }
    };
    let poll_seconds = seconds("QUOTA_POLL_SECONDS", DEFAULT_POLL_SECONDS)?;
    let max_wait_seconds = seconds("QUOTA_MAX_WAIT_SECONDS", DEFAULT_MAX_WAIT_SECONDS)?;
    let deps = Deps {
        store: InstallStore::from_env(&config)?,
        access: CustomerAccess::from_env()?,
        base: config,
        poll_seconds,
        max_wait_seconds,
        fault: Fault::from_env("request-quota"),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event.payload))).await
}
