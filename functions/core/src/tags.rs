//! The tags on everything an install creates. sweep-dangling finds an install's resources by
//! them, and deletes nothing without them.

use crate::model::Install;

pub const INSTALL_TAG: &str = "byoc:install-id";
pub const TENANT_TAG: &str = "byoc:tenant-id";

/// The EKS cluster of an install: one per install, named after it.
pub fn cluster_name(install: &Install) -> String {
    format!("byoc-{}", install.install_id)
}

/// `byoc:install-id`, `byoc:tenant-id` and `Name` for a resource of `install`.
pub fn install_tags(install: &Install, name: &str) -> Vec<(String, String)> {
    vec![
        (INSTALL_TAG.to_owned(), install.install_id.to_string()),
        (TENANT_TAG.to_owned(), install.tenant_id.to_string()),
        ("Name".to_owned(), name.to_owned()),
    ]
}
