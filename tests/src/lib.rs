//! The harness the end-to-end tests and the demo share. It acts as the two parties of an
//! install against the local AWS stack: the vendor (signed calls to the HTTP API, reading the
//! install table and executions) and the customer (creating the access stack from
//! `cfn/customer-role.yaml` in their own account, reading the emails SNS delivers).
//!
//! It needs a deployed local stack: `infra/local/up` and `infra/deploy.py` (`infra/test` and
//! `infra/demo` do both).

pub mod account_header;
pub mod api;
pub mod bench;
pub mod crashing;
pub mod customer_ec2;
pub mod customer_eks;
pub mod customer_quotas;
pub mod customer_sweep;
pub mod event_queue;
pub mod function_package;
pub mod inbox;
pub mod installed;
pub mod invoke;
pub mod kubernetes_api;
pub mod kubernetes_made;
pub mod scheduled;
pub mod stack;
pub mod stepwise;
pub mod webhook_receiver;

pub use api::{Api, ApiResponse};
pub use inbox::{Inbox, ReceivedEmail};
pub use stack::{Customer, LocalStack};

/// A fresh 12-digit account id for a test's customer, so tests never share an account.
pub fn random_account_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!(
        "{:012}",
        200_000_000_000 + u64::from_le_bytes(bytes) % 700_000_000_000
    )
}

/// A fresh tenant id with a readable prefix.
pub fn random_tenant_id(prefix: &str) -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("OS randomness");
    format!("{prefix}-{:08x}", u32::from_le_bytes(bytes))
}
