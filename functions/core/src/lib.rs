//! byoc-core: what every byoc-installer function shares — identifiers, the install record and
//! its store, AWS client setup and cross-account access, and the pure rules (trust policy
//! checks, email text) that are tested without AWS.

pub mod aws;
pub mod cidr;
pub mod cluster_plan;
pub mod controller_tags;
pub mod cost_estimate;
pub mod customer_access;
pub mod customer_session;
pub mod customer_stack;
pub mod customer_topic;
pub mod deletion_order;
pub mod destination;
pub mod eks_token;
pub mod email;
pub mod error;
pub mod external_id;
pub mod fault;
pub mod fleet;
pub mod idempotency;
pub mod ids;
pub mod install_change;
pub mod install_event;
pub mod lambda_main;
pub mod leftover;
pub mod model;
pub mod network_plan;
pub mod options;
pub mod preflight;
pub mod quick_create;
pub mod quota_plan;
pub mod regions;
pub mod retry_plan;
pub mod schedule;
pub mod step_input;
pub mod store;
pub mod tags;
pub mod telemetry;
pub mod trust_check;
pub mod trust_policy;
pub mod upgrade;
pub mod upgrade_email;
pub mod upgrade_start;
pub mod vendor_access;
pub mod version_check;
pub mod version_email;
pub mod watch_schedule;
pub mod webhook;

pub use error::{Error, Result};
