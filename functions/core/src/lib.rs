//! byoc-core: the AWS adapters every byoc-installer function shares — client setup and error
//! description (`aws`), the install store (DynamoDB), cross-account access and the customer's
//! stack (STS, CloudFormation), the customer topic (SNS), webhook destinations, EKS tokens,
//! schedules and the fleet's work queues.
//!
//! The rules these adapters apply live in `byoc-domain` (no AWS there); this crate must not
//! depend on the Lambda runtime's serve loop (`byoc-lambda`).

pub mod aws;
pub mod customer_access;
pub mod customer_session;
pub mod customer_stack;
pub mod customer_topic;
pub mod destination;
pub mod eks_token;
pub mod fleet;
pub mod schedule;
pub mod store;
pub mod upgrade_start;
pub mod vendor_access;

pub use byoc_domain::{Error, Result};
