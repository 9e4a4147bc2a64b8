//! Reading the table's stream (DynamoDB Streams, new images): which changed items are new
//! entries of an install's timeline. The key scheme stays in this module's parent.

use super::{event_sk, install_pk};
use byoc_domain::ids::InstallId;

/// The install whose timeline an item with these keys belongs to, when it is a timeline event
/// (not the install itself, a tenant, or a slot).
pub fn timeline_install(pk: &str, sk: &str) -> Option<InstallId> {
    let (_, id) = pk.split_once('#')?;
    let (_, seq) = sk.split_once('#')?;
    let id = InstallId::parse("pk", id).ok()?;
    let seq: u64 = seq.parse().ok()?;
    // Rebuilding the keys is how this stays true to the parent's scheme.
    (install_pk(&id) == pk && event_sk(seq) == sk).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::event_sk;

    #[test]
    fn only_event_items_are_timeline_entries() {
        let id = InstallId::generate(1).unwrap();
        let pk = format!("INSTALL#{id}");
        assert_eq!(timeline_install(&pk, &event_sk(3)), Some(id));
        assert_eq!(timeline_install(&pk, "META"), None);
        assert_eq!(timeline_install("TENANT#acme", "META"), None);
        assert_eq!(
            timeline_install("SLOT#acme#111122223333#us-east-1", "META"),
            None
        );
        assert_eq!(timeline_install("INSTALL#not an id", &event_sk(1)), None);
    }
}
