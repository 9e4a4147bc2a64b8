//! Logging for the functions: JSON lines (what CloudWatch Logs Insights queries), level from
//! `RUST_LOG` (default `info`), with the current span's fields on every line so each line
//! carries its install and tenant ids.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
