//! How every function's `main` serves Lambda: the runtime loop starts at once and the
//! function's dependencies (SDK config, clients, settings from the environment) are set up by
//! the first invocation, then kept for the life of the process.
//!
//! Init time is what a cold start waits for before Lambda can hand over the first event; the
//! SDK's config loading was most of ours (BENCHMARKS.md, cold start). Set up lazily, it runs
//! while the first event is already in hand, once per process. A setup that fails (a missing
//! environment variable) fails that invocation with the reason and is tried again by the next.

use std::fmt::Debug;
use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

/// Serves `handle` with the dependencies `setup` makes on the first invocation.
pub async fn serve<
    Deps,
    Event,
    Output,
    SetupError,
    HandleError,
    Setup,
    SetupFuture,
    Handle,
    HandleFuture,
>(
    setup: Setup,
    handle: Handle,
) -> Result<(), lambda_runtime::Error>
where
    Deps: Send + Sync + 'static,
    Event: DeserializeOwned + Send + 'static,
    Output: Serialize + Send + 'static,
    HandleError: Into<Diagnostic> + Debug,
    Setup: Fn() -> SetupFuture,
    SetupError: std::fmt::Display,
    SetupFuture: Future<Output = Result<Deps, SetupError>>,
    Handle: Fn(&'static Deps, LambdaEvent<Event>) -> HandleFuture,
    HandleFuture: Future<Output = Result<Output, HandleError>>,
{
    // Leaked once per process: the handler futures borrow the dependencies for 'static.
    let deps: &'static OnceCell<Deps> = Box::leak(Box::new(OnceCell::new()));
    let setup = &setup;
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        // Boxed: the SDK's futures nest deeply enough to exceed the compiler's layout depth.
        let deps = deps
            .get_or_try_init(|| Box::pin(setup()))
            .await
            .map_err(setup_failed)?;
        Box::pin(handle(deps, event)).await.map_err(Into::into)
    }))
    .await
}

/// A setup failure is the deployment's to fix (a missing or malformed setting), so it carries
/// the name the state machines do not retry.
fn setup_failed(err: impl std::fmt::Display) -> Diagnostic {
    let message = format!("the function could not start: {err}");
    tracing::error!(error = %message, "setup failed");
    Diagnostic {
        error_type: byoc_domain::Error::Config(String::new())
            .error_name()
            .into(),
        error_message: message,
    }
}
