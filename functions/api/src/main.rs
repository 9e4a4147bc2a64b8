use api::{handle, Deps, Settings};
use byoc_core::store::InstallStore;
use lambda_http::{service_fn, Error, Request};
use tokio::sync::OnceCell;

/// Set up by the first request, not at init (see byoc_lambda::lambda_main: the same for the
/// functions on lambda_runtime; this one serves API Gateway through lambda_http).
static DEPS: OnceCell<Deps> = OnceCell::const_new();

async fn setup() -> Result<Deps, byoc_domain::Error> {
    let config = byoc_core::aws::load_config().await;
    Ok(Deps {
        store: InstallStore::from_env(&config)?,
        sns: aws_sdk_sns::Client::new(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
        settings: Settings::from_env()?,
        fault: byoc_lambda::fault::Fault::from_env("api"),
        base: config,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    byoc_lambda::telemetry::init();
    lambda_http::run(service_fn(|request: Request| async move {
        let deps = DEPS.get_or_try_init(|| Box::pin(setup())).await?;
        Box::pin(handle(deps, request)).await
    }))
    .await
}
