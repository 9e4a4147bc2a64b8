//! What the customer's access stack allows an upgrade, found in the preflight before anything
//! changes: the template version (upgrades need version 6) and the `AllowChanges` switch (yes,
//! no, or until a UTC time). IAM enforces both on every call (cfn/customer-role.yaml's
//! `day-2-changes` policy); reading them here turns what would be an AccessDenied halfway
//! through into one finding up front that says which stack update allows the upgrade.

use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_stack::{
    template_update_command, update_instruction, AllowChanges, StackSettings, UPGRADES_VERSION,
};
use byoc_domain::model::Install;
use byoc_domain::upgrade::Finding;
use chrono::{DateTime, Duration, Utc};

/// An allowance ending sooner than this is worth a warning: a control plane update alone
/// takes tens of minutes, and node groups roll node by node after it.
pub const ENDING_SOON: Duration = Duration::hours(2);

pub fn findings(
    stack: Option<&StackSettings>,
    access: &CustomerAccess,
    install: &Install,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let Some(stack) = stack else {
        return vec![];
    };
    let retry = format!(
        "then retry the upgrade (POST /installs/{}/retry)",
        install.install_id
    );
    let mut found = Vec::new();
    if let Some(version) = stack.template_version.filter(|v| *v < UPGRADES_VERSION) {
        found.push(Finding {
            check: "template_version".into(),
            blocking: true,
            message: format!(
                "the customer's access stack \"{}\" is from template version {version}, whose role may not upgrade clusters (version {UPGRADES_VERSION} or later may)",
                access.stack_name
            ),
            advice: format!(
                "ask the customer to update the stack \"{}\" in {} to the current template (`{}`), {retry}",
                access.stack_name,
                access.stack_region,
                template_update_command(access)
            ),
        });
    }
    // An allowance that ends within the hour still gets an hour: a suggestion, not a rule.
    let suggested_end = (now + Duration::hours(24)).format("%Y-%m-%dT%H:%M:%SZ");
    let allow = |what: &str| {
        format!(
            "ask the customer to {}, {retry}",
            update_instruction(
                access,
                "AllowChanges",
                &format!(
                    "yes, or a UTC time after the upgrade is done such as {suggested_end}{what}"
                )
            )
        )
    };
    match stack.allow_changes {
        AllowChanges::Yes => {}
        AllowChanges::No => found.push(Finding {
            check: "changes_allowed".into(),
            blocking: true,
            message: "the customer does not allow changes to their installs' clusters (AllowChanges: no on their access stack); nothing was changed".into(),
            advice: allow(""),
        }),
        AllowChanges::Until(end) if now >= end => found.push(Finding {
            check: "changes_allowed".into(),
            blocking: true,
            message: format!(
                "the customer allowed changes to their installs' clusters until {} (AllowChanges on their access stack), which has passed; nothing was changed",
                AllowChanges::Until(end)
            ),
            advice: allow(""),
        }),
        AllowChanges::Until(end) if end - now < ENDING_SOON => found.push(Finding {
            check: "changes_allowed".into(),
            blocking: false,
            message: format!(
                "the customer allows changes only until {} (AllowChanges), less than {} hours from now: if the upgrade is still running then, IAM refuses its next call and it stops where it is",
                AllowChanges::Until(end),
                ENDING_SOON.num_hours()
            ),
            advice: allow(" if it might run longer"),
        }),
        AllowChanges::Until(_) => {}
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_core::customer_stack::VendorAccess;
    use byoc_domain::ids::{AccountId, InstallId, Region, TenantId};

    fn access() -> CustomerAccess {
        CustomerAccess {
            role_name: "byoc-installer".into(),
            stack_name: "acme-access".into(),
            stack_region: Region::parse("r", "eu-west-2").unwrap(),
            template_url: "https://example.com/customer-role.yaml".into(),
        }
    }

    fn install() -> Install {
        let mut install = Install::requested(
            TenantId::parse("t", "acme").unwrap(),
            AccountId::parse("a", "111122223333").unwrap(),
            Region::parse("r", "eu-west-2").unwrap(),
            Default::default(),
            Utc::now(),
        )
        .unwrap()
        .0;
        install.install_id = InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap();
        install
    }

    fn stack(version: u32, allow_changes: AllowChanges) -> StackSettings {
        StackSettings {
            template_version: Some(version),
            vendor_access: VendorAccess::Enabled,
            allow_changes,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn changes_not_allowed_block_with_the_stack_update_that_allows_them() {
        let [finding] = &findings(
            Some(&stack(7, AllowChanges::No)),
            &access(),
            &install(),
            now(),
        )[..] else {
            panic!("one finding")
        };
        assert!(finding.blocking && finding.check == "changes_allowed");
        assert!(
            finding.message.contains("AllowChanges: no"),
            "{}",
            finding.message
        );
        assert!(
            finding.advice.contains("update the CloudFormation stack \"acme-access\" in eu-west-2")
                && finding.advice.contains("AllowChanges set to yes, or a UTC time after the upgrade is done such as 2026-12-08T12:00:00Z")
                && finding.advice.contains("POST /installs/inst-01hzy0000000000000000000aa/retry"),
            "{}",
            finding.advice
        );
    }

    #[test]
    fn an_allowance_is_judged_by_its_end() {
        let at = |t: &str| AllowChanges::Until(t.parse().unwrap());
        let passed = findings(
            Some(&stack(7, at("2026-12-07T11:59:59Z"))),
            &access(),
            &install(),
            now(),
        );
        assert!(passed[0].blocking && passed[0].message.contains("until 2026-12-07T11:59:59Z"));
        let soon = findings(
            Some(&stack(7, at("2026-12-07T13:00:00Z"))),
            &access(),
            &install(),
            now(),
        );
        assert!(!soon[0].blocking, "ending soon is a warning");
        assert!(findings(
            Some(&stack(7, at("2026-12-08T12:00:00Z"))),
            &access(),
            &install(),
            now()
        )
        .is_empty());
        assert!(findings(
            Some(&stack(7, AllowChanges::Yes)),
            &access(),
            &install(),
            now()
        )
        .is_empty());
        assert!(
            findings(None, &access(), &install(), now()).is_empty(),
            "no stack: IAM decides"
        );
    }

    #[test]
    fn a_stack_from_before_upgrades_blocks() {
        let found = findings(
            Some(&stack(5, AllowChanges::Yes)),
            &access(),
            &install(),
            now(),
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].blocking && found[0].check == "template_version");
        assert!(found[0].message.contains("template version 5"));
        assert!(
            found[0].advice.contains("aws cloudformation update-stack --region eu-west-2 --stack-name acme-access --template-url https://example.com/customer-role.yaml"),
            "{}",
            found[0].advice
        );
    }
}
