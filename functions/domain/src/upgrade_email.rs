//! The emails of a Kubernetes version upgrade: started, finished, and stopped with what to do.
//! Pure, like `email`: the inputs are the install record and its upgrade record.

use crate::email::{subject_line, where_, Email};
use crate::model::Install;
use crate::step_record::StepRecord;
use crate::upgrade::UpgradeRecord;

fn versions(install: &Install) -> (String, String) {
    let record = UpgradeRecord::of(install);
    let from = record
        .as_ref()
        .and_then(|r| r.from)
        .map_or_else(|| "its current version".to_owned(), |v| v.to_string());
    let target = record
        .as_ref()
        .and_then(|r| r.target.or(r.requested))
        .map_or_else(|| "a newer version".to_owned(), |v| v.to_string());
    (from, target)
}

pub fn started(vendor: &str, install: &Install) -> Email {
    let (from, target) = versions(install);
    let body = format!(
        "Hello,\n\n\
         {vendor} is upgrading the Kubernetes version of its EKS cluster in your {where_}, from {from} to {target}, \
         one minor version at a time: the control plane, then the nodes (new nodes first, then the old ones drained), \
         then the cluster add-ons. The cluster keeps serving throughout.\n\n\
         Install: {id}\n\n\
         Nothing needs doing on your side; you will get an email when it has finished.\n",
        where_ = where_(install),
        id = install.install_id,
    );
    Email {
        subject: subject_line(&format!(
            "{vendor} is upgrading its cluster in your AWS account {} to Kubernetes {target}",
            install.account_id
        )),
        body,
    }
}

pub fn upgraded(vendor: &str, install: &Install) -> Email {
    let (from, _) = versions(install);
    let now = install
        .resources
        .get(crate::step_record::resource::KUBERNETES_VERSION)
        .cloned()
        .unwrap_or_else(|| "the target version".into());
    let support = install
        .resources
        .get("kubernetes_support")
        .map_or(String::new(), |s| format!("\nSupport:  {s}\n"));
    let body = format!(
        "Hello,\n\n\
         {vendor}'s EKS cluster in your {where_} is now on Kubernetes {now} (it was on {from}): control plane, nodes \
         and add-ons.\n\n\
         Install: {id}\n\
         Version: {now}\n{support}",
        where_ = where_(install),
        id = install.install_id,
    );
    Email {
        subject: subject_line(&format!(
            "{vendor}'s cluster in your AWS account {} is on Kubernetes {now}",
            install.account_id
        )),
        body,
    }
}

pub fn upgrade_failed(vendor: &str, install: &Install) -> Email {
    let (from, target) = versions(install);
    let record = UpgradeRecord::of(install);
    let mut findings = String::new();
    for finding in record.iter().flat_map(|r| r.blocking()) {
        findings.push_str(&format!(
            "  - {}\n    What to do: {}\n",
            finding.message, finding.advice
        ));
    }
    if findings.is_empty() {
        let message = install
            .last_error
            .as_ref()
            .map_or("the upgrade stopped without a description", |e| {
                e.message.as_str()
            });
        findings = format!("  - {message}\n");
    }
    let now = install
        .resources
        .get(crate::step_record::resource::KUBERNETES_VERSION)
        .cloned()
        .unwrap_or_else(|| from.clone());
    let body = format!(
        "Hello,\n\n\
         Upgrading {vendor}'s EKS cluster in your {where_} from {from} to {target} stopped. The cluster keeps serving on \
         Kubernetes {now}.\n\n\
         Install: {id}\n\n\
         What stopped it:\n{findings}\n\
         Once it is fixed, {vendor} can resume the upgrade where it stopped.\n",
        where_ = where_(install),
        id = install.install_id,
    );
    Email {
        subject: subject_line(&format!(
            "Action needed: upgrading {vendor}'s cluster in your AWS account {} stopped",
            install.account_id
        )),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, Region, TenantId};
    use crate::upgrade::{Finding, MinorVersion, UpgradeState, UPGRADE_KEY};
    use chrono::Utc;

    fn install_with(record: &UpgradeRecord) -> Install {
        let (mut install, _) = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            Default::default(),
            Utc::now(),
        )
        .unwrap();
        install
            .step_data
            .insert(UPGRADE_KEY.into(), record.to_value());
        install
            .resources
            .insert("kubernetes_version".into(), "1.34".into());
        install
    }

    #[test]
    fn a_stopped_upgrade_lists_every_blocking_finding_with_what_to_do() {
        let mut record =
            UpgradeRecord::requested(MinorVersion::parse("1.35"), false, Utc::now(), 1);
        record.from = MinorVersion::parse("1.33");
        record.target = MinorVersion::parse("1.35");
        record.state = UpgradeState::Failed;
        record.findings = vec![
            Finding {
                check: "insight".into(),
                blocking: true,
                message: "insight X is ERROR".into(),
                advice: "move off v1beta3".into(),
            },
            Finding {
                check: "insight".into(),
                blocking: false,
                message: "insight Y is WARNING".into(),
                advice: "later".into(),
            },
        ];
        let email = upgrade_failed("Acme", &install_with(&record));
        assert!(
            email.subject.starts_with("Action needed"),
            "{}",
            email.subject
        );
        assert!(
            email.body.contains("from 1.33 to 1.35 stopped"),
            "{}",
            email.body
        );
        assert!(
            email
                .body
                .contains("insight X is ERROR\n    What to do: move off v1beta3"),
            "{}",
            email.body
        );
        assert!(!email.body.contains("insight Y"), "only what blocks");
        assert!(email.body.contains("keeps serving on Kubernetes 1.34"));
    }

    #[test]
    fn started_and_finished_name_the_versions() {
        let mut record = UpgradeRecord::requested(None, false, Utc::now(), 1);
        record.from = MinorVersion::parse("1.33");
        record.target = MinorVersion::parse("1.35");
        let install = install_with(&record);
        assert!(started("Acme", &install).body.contains("from 1.33 to 1.35"));
        assert!(upgraded("Acme", &install)
            .body
            .contains("now on Kubernetes 1.34 (it was on 1.33)"));
    }
}
