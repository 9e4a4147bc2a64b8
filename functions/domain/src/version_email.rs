//! The email of the scheduled version check: the install's Kubernetes version nears (or has
//! reached) the end of standard support, what EKS does then under the cluster's support
//! policy, and what the vendor does about it. Pure, like `email`.

use chrono::NaiveDate;

use crate::email::{subject_line, where_, Email};
use crate::model::Install;
use crate::version_check::{AutoUpgrade, Decision};

/// The cluster's support policy and the end of extended support for its version.
pub struct Support<'a> {
    /// `STANDARD` or `EXTENDED` (the cluster's `upgradePolicy.supportType`).
    pub policy: &'a str,
    pub end_of_extended_support: Option<NaiveDate>,
}

pub fn support_ending(
    vendor: &str,
    install: &Install,
    decision: &Decision,
    support: &Support,
) -> Email {
    let check = &decision.record;
    let (version, end, days) = (
        check.version,
        check.end_of_standard_support,
        check.days_left,
    );
    let when = match days {
        d if d <= 0 => format!("ended on {end}"),
        1 => format!("ends on {end}, tomorrow"),
        d => format!("ends on {end}, in {d} days"),
    };
    let then = if support.policy == "STANDARD" {
        "When it ends, AWS upgrades the cluster's control plane to the next Kubernetes version on its own, at a time \
         AWS chooses (the cluster's support policy is STANDARD, so it never pays for extended support)."
            .to_owned()
    } else {
        format!(
            "When it ends, the cluster moves to extended support, which costs $0.60 per cluster-hour instead of $0.10 \
             (about $365 a month more){}, after which AWS upgrades it.",
            support
                .end_of_extended_support
                .map_or(String::new(), |d| format!(" until {d}"))
        )
    };
    let plan = match &decision.auto_upgrade {
        AutoUpgrade::Start { to } => format!(
            "{vendor} is upgrading it to Kubernetes {to} now, inside the maintenance window you agreed; you will get \
             an email when it starts and when it has finished."
        ),
        AutoUpgrade::Waiting { opens } => format!(
            "{vendor} will upgrade it in the next maintenance window, which opens {}.",
            opens.format("%A %Y-%m-%d %H:%M UTC")
        ),
        AutoUpgrade::AfterFailure => format!(
            "{vendor}'s last upgrade of this cluster stopped (you were emailed why); it needs {vendor}'s attention \
             before it can go ahead."
        ),
        AutoUpgrade::NotAllowed { to } => format!(
            "{vendor} would upgrade it to Kubernetes {to} in the maintenance window you agreed, but your byoc-installer \
             access stack does not allow changes now (its AllowChanges parameter). To let the upgrade run, update that \
             stack with AllowChanges set to yes, or to a UTC time after the window (for example 2027-01-31T18:00:00Z)."
        ),
        AutoUpgrade::NothingNewer => {
            "No newer Kubernetes version is in standard support yet.".to_owned()
        }
        AutoUpgrade::Off | AutoUpgrade::NotYet => format!(
            "{vendor} upgrades it on request, one minor version at a time and without downtime; ask {vendor} for a \
             date if you have not agreed one."
        ),
    };
    let body = format!(
        "Hello,\n\n\
         {vendor}'s EKS cluster in your {where_} runs Kubernetes {version}, whose standard support {when}.\n\n\
         {then}\n\n\
         {plan}\n\n\
         Install: {id}\n\
         Version: {version} (standard support until {end})\n",
        where_ = where_(install),
        id = install.install_id,
    );
    // What matters first: SNS cuts subjects at 100 characters.
    let subject = if days <= 0 {
        format!(
            "Kubernetes {version} standard support has ended: {vendor}'s cluster in AWS account {}",
            install.account_id
        )
    } else {
        format!(
            "Kubernetes {version} standard support ends in {days} days: {vendor}'s cluster in AWS account {}",
            install.account_id
        )
    };
    Email {
        subject: subject_line(&subject),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, Region, TenantId};
    use crate::upgrade::MinorVersion;
    use crate::version_check::VersionCheck;
    use chrono::Utc;

    fn install() -> Install {
        Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "us-east-1").unwrap(),
            Default::default(),
            Utc::now(),
        )
        .unwrap()
        .0
    }

    fn decision(days_left: i64, auto_upgrade: AutoUpgrade) -> Decision {
        Decision {
            record: VersionCheck {
                version: MinorVersion::parse("1.33").unwrap(),
                end_of_standard_support: "2026-07-29".parse().unwrap(),
                checked_at: Utc::now(),
                days_left,
                notified: vec![60, 30],
            },
            notice: Some(30),
            auto_upgrade,
        }
    }

    #[test]
    fn the_email_says_when_what_then_and_what_the_vendor_does() {
        let extended = Support {
            policy: "EXTENDED",
            end_of_extended_support: "2027-07-29".parse().ok(),
        };
        let email = support_ending(
            "Acme",
            &install(),
            &decision(30, AutoUpgrade::Off),
            &extended,
        );
        assert!(
            email.subject.contains("standard support ends in 30 days"),
            "{}",
            email.subject
        );
        assert!(
            email.body.contains("ends on 2026-07-29, in 30 days"),
            "{}",
            email.body
        );
        assert!(
            email.body.contains("$0.60 per cluster-hour")
                && email.body.contains("until 2027-07-29")
        );
        let standard = Support {
            policy: "STANDARD",
            end_of_extended_support: None,
        };
        let to = MinorVersion::parse("1.35").unwrap();
        let email = support_ending(
            "Acme",
            &install(),
            &decision(0, AutoUpgrade::Start { to }),
            &standard,
        );
        assert!(email.subject.contains("has ended"), "{}", email.subject);
        assert!(
            email
                .body
                .contains("AWS upgrades the cluster's control plane"),
            "{}",
            email.body
        );
        assert!(
            email.body.contains("upgrading it to Kubernetes 1.35 now"),
            "{}",
            email.body
        );
    }
}
