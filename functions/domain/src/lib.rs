//! byoc-domain: the rules of byoc-installer that need no AWS — identifiers, the install record
//! and its changes, the vendor's options, the planners (network, cluster, quotas, upgrades,
//! deletion order), ownership tags and leftovers, the trust-policy rules, email text, and the
//! contracts between steps (step records, error names, the preflight report).
//!
//! It must not depend on an AWS SDK crate, the Lambda runtime or tokio: everything here is
//! tested as plain functions and types. AWS adapters live in `byoc-core`, the Lambda plumbing
//! in `byoc-lambda`.

pub mod cidr;
pub mod cluster_plan;
pub mod controller_tags;
pub mod cost_estimate;
pub mod deletion_order;
pub mod email;
pub mod error;
pub mod error_names;
pub mod external_id;
pub mod idempotency;
pub mod ids;
pub mod install_change;
pub mod install_event;
pub mod leftover;
pub mod model;
pub mod network_plan;
pub mod options;
pub mod preflight;
pub mod quick_create;
pub mod quota_plan;
pub mod regions;
pub mod removal;
pub mod retry_plan;
pub mod step_input;
pub mod step_record;
pub mod sweep_record;
pub mod tags;
pub mod trust_check;
pub mod trust_policy;
pub mod upgrade;
pub mod upgrade_email;
pub mod version_check;
pub mod version_email;
pub mod watch_schedule;
pub mod webhook;

pub use error::{Error, Result};
