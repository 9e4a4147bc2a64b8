//! What the install's record alone says of its Kubernetes version, for the scheduled version
//! check: whether anything may be due (a notice, an automatic upgrade) without an AWS call, and
//! the facts the decision takes. Most installs have nothing due and are never queued.

use byoc_domain::cluster_plan::ClusterVersionRecord;
use byoc_domain::model::Install;
use byoc_domain::step_record::StepRecord;
use byoc_domain::upgrade::{MinorVersion, UpgradeRecord, UpgradeState};
use byoc_domain::version_check::{self, Facts, VersionCheck};
use chrono::{DateTime, NaiveDate, Utc};

/// What the record says of the install's version: the version and its end of standard
/// support (from the last check of this version, else from create-cluster's or the upgrade's
/// record of the cluster).
fn recorded_version(install: &Install) -> Option<(MinorVersion, Option<NaiveDate>)> {
    let version = MinorVersion::parse(
        install
            .resources
            .get(byoc_domain::step_record::resource::KUBERNETES_VERSION)?,
    )?;
    let checked = VersionCheck::recorded(&install.step_data)
        .filter(|c| c.version == version)
        .map(|c| c.end_of_standard_support);
    let from_cluster = || {
        ClusterVersionRecord::of(install)?
            .support?
            .end_of_standard_support?
            .parse()
            .ok()
    };
    Some((version, checked.or_else(from_cluster)))
}

fn failed_target(install: &Install) -> Option<MinorVersion> {
    UpgradeRecord::of(install)
        .filter(|r| r.state == UpgradeState::Failed)
        .and_then(|r| r.target.or(r.requested))
}

pub(crate) fn facts<'a>(
    install: &Install,
    previous: Option<&'a VersionCheck>,
    version: MinorVersion,
    end: NaiveDate,
    now: DateTime<Utc>,
    newest_standard: Option<MinorVersion>,
    changes_allowed: bool,
) -> Facts<'a> {
    let options = &install.options;
    Facts {
        version,
        end_of_standard_support: end,
        now,
        previous,
        window: options.maintenance_window.filter(|_| options.auto_upgrade),
        newest_standard,
        failed_target: failed_target(install),
        changes_allowed,
    }
}

/// Whether the record alone says something may be due: a notice, or (assuming a newer
/// version is offered) an automatic upgrade. A record without dates is looked at.
pub(crate) fn may_be_due(install: &Install, now: DateTime<Utc>) -> bool {
    let Some((version, end)) = recorded_version(install) else {
        return false;
    };
    let Some(end) = end else {
        return true;
    };
    let previous = VersionCheck::recorded(&install.step_data);
    let newer = Some(version.next());
    // The customer's switch is read from the stack only once something may be due.
    version_check::decide(&facts(
        install,
        previous.as_ref(),
        version,
        end,
        now,
        newer,
        true,
    ))
    .acts()
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::cluster_plan::CLUSTER_KEY;
    use byoc_domain::ids::{AccountId, Region, TenantId};
    use byoc_domain::model::InstallStatus;
    use byoc_domain::version_check::VERSION_CHECK_KEY;

    fn install(version: &str, end: &str, options: serde_json::Value) -> Install {
        let (mut install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            serde_json::from_value(options).unwrap(),
            Utc::now(),
        )
        .unwrap();
        install.status = InstallStatus::Ready;
        install
            .resources
            .insert("kubernetes_version".into(), version.into());
        install.step_data.insert(
            CLUSTER_KEY.into(),
            serde_json::json!({"support": {"policy": "STANDARD", "end_of_standard_support": end}}),
        );
        install
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_record_alone_tells_which_installs_to_look_at() {
        let quiet = install("1.35", "2027-03-27", serde_json::json!({}));
        assert!(!may_be_due(&quiet, at("2026-12-07T10:00:00Z")));
        assert!(
            may_be_due(&quiet, at("2027-01-26T10:00:00Z")),
            "60 days before"
        );
        let mut told = quiet.clone();
        told.step_data.insert(
            VERSION_CHECK_KEY.into(),
            serde_json::json!({"version": "1.35", "end_of_standard_support": "2027-03-27",
                "checked_at": "2027-01-26T10:00:00Z", "days_left": 60, "notified": [60]}),
        );
        assert!(
            !may_be_due(&told, at("2027-01-27T10:00:00Z")),
            "told already"
        );
        assert!(
            may_be_due(&told, at("2027-02-25T10:00:00Z")),
            "30 days before"
        );
        // Auto-upgrade: due inside the window (2027-01-31 is a Sunday), not outside it.
        let auto = install(
            "1.35",
            "2027-03-27",
            serde_json::json!({"auto_upgrade": true, "maintenance_window": {"weekday": "sunday", "start_hour_utc": 2, "duration_hours": 4}}),
        );
        let mut auto = auto;
        auto.step_data = told.step_data.clone();
        assert!(may_be_due(&auto, at("2027-01-31T03:00:00Z")));
        assert!(!may_be_due(&auto, at("2027-01-31T07:00:00Z")));
        // A record without dates is looked at; one without a version is not.
        let mut undated = quiet.clone();
        undated.step_data.clear();
        assert!(may_be_due(&undated, at("2026-12-07T10:00:00Z")));
        undated.resources.clear();
        assert!(!may_be_due(&undated, at("2026-12-07T10:00:00Z")));
    }
}
