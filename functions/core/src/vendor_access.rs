//! The customer's pause switch as the install's record keeps it (`step_data["vendor_access"]`,
//! shown by `GET /installs/{id}`): the timeline, and so the vendor's events ("Access Paused",
//! "Access Resumed"), hears of a change only, whichever step or scheduled check saw it first.
//! A pause is the customer's own choice: it is never emailed to them as a failure.

use byoc_domain::step_record::StepRecord;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer_stack::VendorAccess;
use crate::store::InstallStore;
use byoc_domain::error::Result;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Outcome, Step};

pub use byoc_domain::step_record::VENDOR_ACCESS_KEY;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorAccessRecord {
    pub status: VendorAccess,
    /// When the installer first saw this status.
    pub since: DateTime<Utc>,
}

impl StepRecord for VendorAccessRecord {
    const KEY: &'static str = VENDOR_ACCESS_KEY;
}

/// The timeline entry for what was seen now, if it is news: a first pause, or a resume after
/// a recorded pause (an install never paused has nothing to resume).
pub fn change(
    install: &Install,
    seen: VendorAccess,
    now: DateTime<Utc>,
    instruction: &str,
) -> Option<Change> {
    let previous = VendorAccessRecord::of(install);
    let was = previous
        .as_ref()
        .map_or(VendorAccess::Enabled, |p| p.status);
    if was == seen {
        return None;
    }
    let record = VendorAccessRecord {
        status: seen,
        since: now,
    };
    let value = serde_json::to_value(&record).ok()?;
    let change = match seen {
        VendorAccess::Paused => Change::new(
            Step::VendorAccess,
            Outcome::Waiting,
            format!(
                "the customer paused the vendor's access to account {}: installs, upgrades and removals there wait, \
                 scheduled checks hold; to resume, {instruction}",
                install.account_id
            ),
        ),
        VendorAccess::Enabled => {
            let since = previous.map_or_else(String::new, |p| {
                format!(" (paused since {})", p.since.format("%Y-%m-%d %H:%M UTC"))
            });
            Change::new(
                Step::VendorAccess,
                Outcome::Succeeded,
                format!(
                    "the customer resumed the vendor's access to account {}{since}",
                    install.account_id
                ),
            )
        }
    };
    Some(change.data(VENDOR_ACCESS_KEY, value))
}

/// Records what was seen when it is news; the install as it is afterwards.
pub async fn note(
    store: &InstallStore,
    install: Install,
    seen: VendorAccess,
    instruction: &str,
) -> Result<Install> {
    match change(&install, seen, Utc::now(), instruction) {
        Some(change) => store.record(&install.install_id, change).await,
        None => Ok(install),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::ids::{AccountId, Region, TenantId};
    use byoc_domain::install_change::apply;
    use byoc_domain::install_event::DetailType;

    fn install() -> Install {
        Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "eu-west-2").unwrap(),
            Default::default(),
            Utc::now(),
        )
        .unwrap()
        .0
    }

    fn kind(install: &Install, change: &Change) -> DetailType {
        let (_, event) = apply(install, change, Utc::now()).unwrap();
        DetailType::of(&event)
    }

    #[test]
    fn a_pause_and_a_resume_are_news_once_each() {
        let mut install = install();
        let at: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        assert!(
            change(&install, VendorAccess::Enabled, at, "x").is_none(),
            "never paused"
        );
        let paused = change(
            &install,
            VendorAccess::Paused,
            at,
            "set VendorAccess to enabled",
        )
        .expect("a first pause is news");
        assert_eq!(
            (paused.step, paused.outcome),
            (Step::VendorAccess, Outcome::Waiting)
        );
        assert!(paused
            .message
            .contains("to resume, set VendorAccess to enabled"));
        assert_eq!(kind(&install, &paused), DetailType::AccessPaused);
        install = apply(&install, &paused, at).unwrap().0;
        assert!(
            change(&install, VendorAccess::Paused, at, "x").is_none(),
            "said once"
        );
        let resumed = change(&install, VendorAccess::Enabled, at, "x").expect("a resume is news");
        assert_eq!(resumed.outcome, Outcome::Succeeded);
        assert!(resumed
            .message
            .contains("paused since 2026-12-07 10:00 UTC"));
        assert_eq!(kind(&install, &resumed), DetailType::AccessResumed);
    }
}
