//! What the steps keep on an install (`Install.step_data`, shown by `GET /installs/{id}`), and
//! the names of its `resources`: each key defined once, here or beside its record's type, and
//! read and written through [`StepRecord`], so renaming a key is one change the compiler follows
//! into every step, the retry plan and the scheduled sweep, not a string copied across crates.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::model::Install;

/// create-network's record of the network it built (its type lives in create-network).
pub const NETWORK_KEY: &str = "network";
/// request-quota's record of the quota increases it filed and their statuses.
pub const QUOTA_REQUESTS_KEY: &str = "quota_requests";
/// The customer's pause switch as the steps last saw it.
pub const VENDOR_ACCESS_KEY: &str = "vendor_access";

/// Names in `Install.resources` that more than one crate reads.
pub mod resource {
    /// create-network's VPC.
    pub const VPC_ID: &str = "vpc_id";
    /// create-cluster's cluster and node group.
    pub const CLUSTER_NAME: &str = "cluster_name";
    pub const CLUSTER_ARN: &str = "cluster_arn";
    pub const CLUSTER_ENDPOINT: &str = "cluster_endpoint";
    pub const KUBERNETES_VERSION: &str = "kubernetes_version";
    pub const NODEGROUP_NAME: &str = "nodegroup_name";
}

/// A typed record kept under one `step_data` key.
pub trait StepRecord: Serialize + DeserializeOwned {
    /// Its key in `Install.step_data`.
    const KEY: &'static str;

    /// The record in `step_data`, when there is a readable one (an unreadable one, written by
    /// an older version, counts as none: every step can rebuild what it records).
    fn recorded(step_data: &BTreeMap<String, Value>) -> Option<Self> {
        step_data
            .get(Self::KEY)
            .and_then(|value| Self::deserialize(value).ok())
    }

    /// The install's record, when there is a readable one.
    fn of(install: &Install) -> Option<Self> {
        Self::recorded(&install.step_data)
    }

    /// The record as stored. Every record is plain data (strings, numbers, dates, maps with
    /// string keys), which always serializes.
    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Probe {
        n: u32,
    }

    impl StepRecord for Probe {
        const KEY: &'static str = "probe";
    }

    #[test]
    fn a_record_is_read_back_from_its_key_and_an_unreadable_one_is_none() {
        let mut data = BTreeMap::new();
        assert_eq!(Probe::recorded(&data), None);
        data.insert(Probe::KEY.to_owned(), Probe { n: 3 }.to_value());
        assert_eq!(Probe::recorded(&data), Some(Probe { n: 3 }));
        data.insert(Probe::KEY.to_owned(), serde_json::json!({"n": "three"}));
        assert_eq!(Probe::recorded(&data), None);
    }
}
