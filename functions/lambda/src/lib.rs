//! byoc-lambda: how every byoc-installer function runs on Lambda — the serve loop that sets up
//! its dependencies on the first invocation (`lambda_main`), the one mapping of an error to the
//! runtime's answer (`diagnostic`), JSON logging with the span's
//! install and tenant ids (`telemetry`), and crash injection for the crash-safety tests
//! (`fault`, compiled in only with the `crash-injection` feature).
//!
//! It must not depend on an AWS SDK crate or on `byoc-core`: the plumbing knows the domain's
//! error names, nothing of AWS.

pub mod diagnostic;
pub use diagnostic::diagnostic;
pub mod fault;
pub mod lambda_main;
pub mod telemetry;
