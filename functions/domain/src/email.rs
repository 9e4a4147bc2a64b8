//! The text of the emails a customer receives. Pure, so every wording is tested and no
//! secret can slip in: the inputs are the install record and its error, which hold none.

use crate::error_names;
use crate::leftover::{self, Leftover};
use crate::model::{Install, InstallError};
use crate::options::QuotaRequestMode;
use crate::preflight::{Check, CheckStatus, ProvisionChecks};
use crate::step_record::StepRecord;
use crate::sweep_record::SweepRecord;
use crate::trust_check::TrustStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

/// SNS subjects must be printable ASCII and under 100 characters.
pub(crate) fn subject_line(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() > 99 {
        format!("{}...", &ascii[..96])
    } else {
        ascii
    }
}

pub(crate) fn where_(install: &Install) -> String {
    format!("AWS account {} in {}", install.account_id, install.region)
}

/// One quota the install is waiting for, as the customer's email lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaLine {
    pub service: String,
    pub quota_code: String,
    pub quota_name: String,
    pub applied: f64,
    pub requested: f64,
    pub console_url: String,
}

/// How a person reaches the cluster, when the install made one.
fn cluster_section(install: &Install) -> Option<String> {
    let name = install.resources.get("cluster_name")?;
    let mut text = "\nYour EKS cluster:\n".to_owned();
    // Every label the same way: "Label:" padded, so the values line up.
    for (label, key) in [
        ("Name", "cluster_name"),
        ("Version", "kubernetes_version"),
        ("Support", "kubernetes_support"),
        ("Endpoint", "cluster_endpoint"),
        ("ARN", "cluster_arn"),
        ("Nodes", "nodegroup_name"),
    ] {
        if let Some(value) = install.resources.get(key) {
            text.push_str(&format!("  {:<10}{value}\n", format!("{label}:")));
        }
    }
    text.push_str(&format!(
        "\nTo reach it from a terminal with your own AWS credentials, give your role access once and\n\
         write your kubeconfig:\n  \
         aws eks create-access-entry --region {region} --cluster-name {name} --principal-arn <your-role-arn>\n  \
         aws eks associate-access-policy --region {region} --cluster-name {name} --principal-arn <your-role-arn> \\\n    \
         --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy --access-scope type=cluster\n  \
         aws eks update-kubeconfig --region {region} --name {name}\n",
        region = install.region
    ));
    Some(text)
}

pub fn ready(vendor: &str, install: &Install) -> Email {
    let mut body = format!(
        "Hello,\n\n\
         {vendor} is installed in your {where_}.\n\n\
         Install: {id}\n\
         Account: {account}\n\
         Region:  {region}\n",
        where_ = where_(install),
        id = install.install_id,
        account = install.account_id,
        region = install.region,
    );
    if let Some(cluster) = cluster_section(install) {
        body.push_str(&cluster);
    }
    if !install.resources.is_empty() {
        body.push_str("\nWhat was set up:\n");
        for (name, value) in &install.resources {
            body.push_str(&format!("  {name}: {value}\n"));
        }
    }
    body.push_str(&format!(
        "\nWhat to do next: nothing is needed from you. {vendor} will finish setting up its software; \
         keep the CloudFormation stack that grants {vendor} access in place for as long as you use it.\n"
    ));
    Email {
        subject: subject_line(&format!("{vendor} is ready in your {}", where_(install))),
        body,
    }
}

/// Sent once when the install starts waiting for AWS to raise quotas: nothing is broken, and
/// nothing needs doing unless AWS asks the customer (support cases) or denies.
pub fn waiting_for_quota(vendor: &str, install: &Install, quotas: &[QuotaLine]) -> Email {
    let manual = install.options.quota_requests == QuotaRequestMode::Manual;
    let ask = if manual {
        "Please request these increases in the Service Quotas console (links below):"
    } else {
        "We asked AWS for these increases on your behalf:"
    };
    // An upgrade's node groups need room for their new nodes before the old ones go.
    let upgrading = install.status == crate::model::InstallStatus::Upgrading;
    let (what, goes_on) = if upgrading {
        (
            format!("Upgrading the Kubernetes version of {vendor}'s cluster"),
            "the upgrade",
        )
    } else {
        (format!("Installing {vendor}"), "the install")
    };
    let it = if upgrading {
        "The upgrade"
    } else {
        "The install"
    };
    let mut body = format!(
        "Hello,\n\n\
         {what} in your {where_} needs more of some AWS service quotas than your account has.\n\
         {ask}\n\n",
        where_ = where_(install)
    );
    for quota in quotas {
        body.push_str(&format!(
            "  - {name} ({service} {code}): from {applied} to {requested}\n    {url}\n",
            name = quota.quota_name,
            service = quota.service,
            code = quota.quota_code,
            applied = quota.applied,
            requested = quota.requested,
            url = quota.console_url,
        ));
    }
    if manual {
        body.push_str(&format!(
            "\nWhat to do: request each increase above (Service Quotas console, \"Request increase at account level\"). \
             {it} checks your quotas regularly and continues by itself once AWS has raised them; you will \
             get another email when it is done.\n\nInstall: {}\n",
            install.install_id
        ));
        return Email {
            subject: subject_line(&format!(
                "Action needed: quota increases for {vendor} in account {} ({})",
                install.account_id, install.region
            )),
            body,
        };
    }
    body.push_str(&format!(
        "\nWhat to do: usually nothing. AWS approves most requests within hours; {goes_on} continues by \
         itself as soon as they are approved, and you will get another email when it is done. If AWS opens a \
         support case, answer it in the AWS console (links above).\n\nInstall: {}\n",
        install.install_id
    ));
    Email {
        subject: subject_line(&format!(
            "{vendor} {} in {}: waiting for AWS quota increases",
            if upgrading { "upgrade" } else { "install" },
            where_(install)
        )),
        body,
    }
}

/// Sent when an uninstall has removed everything the install made.
pub fn removed(vendor: &str, install: &Install) -> Email {
    let leftovers = leftover::recorded(install);
    let what_happened = if leftovers.is_empty() {
        "Everything the install created (the EKS cluster and its nodes, load balancers, NAT gateways, Elastic IPs, \
         the VPC and its log group) has been deleted and no longer costs you anything."
            .to_owned()
    } else {
        leftovers_text(vendor, &leftovers)
    };
    let body = format!(
        "Hello,\n\n\
         {vendor} has been removed from your {where_}.\n\n\
         Install: {id}\n\n\
         {what_happened}\n\n\
         What to do next: if you no longer work with {vendor}, delete the CloudFormation stack that grants it \
         access (\"{stack}\") to revoke that access as well.\n",
        where_ = where_(install),
        id = install.install_id,
        stack = install.resources.get("customer_stack").map_or("the byoc-installer access stack", String::as_str),
    );
    let subject = if leftovers.is_empty() {
        format!("{vendor} was removed from your {}", where_(install))
    } else {
        format!(
            "Action needed: {vendor} was removed; {} of its resources remain in AWS account {}",
            leftovers.len(),
            install.account_id
        )
    };
    Email {
        subject: subject_line(&subject),
        body,
    }
}

/// Each resource the removal could not delete: what it is, why it is the install's, why it
/// stays, what it costs, and the command that deletes it.
fn leftovers_text(vendor: &str, leftovers: &[Leftover]) -> String {
    let mut text = format!(
        "{n} resources the install created are still in your account, and {vendor} could not delete them. \
         Together they cost about ${cost:.2} a month while they stay. Delete them with your own permissions \
         (the command is under each; what holds one goes first):\n",
        n = leftovers.len(),
        cost = leftover::total_monthly_usd(leftovers),
    );
    for l in leftovers {
        text.push_str(&format!("\n  {} {}\n    why it is the install's: {}\n    why it is still there: {}\n    costs: ${:.2} a month\n", l.kind, l.id, l.why_ours, l.why_remains, l.monthly_cost_usd));
        match &l.command {
            Some(command) => text.push_str(&format!("    delete it: {command}\n")),
            None => text.push_str("    delete it: in the AWS console (the installer does not delete this kind of resource)\n"),
        }
    }
    text.push_str(&format!(
        "\n{vendor} checks your account again regularly and records when they are gone."
    ));
    text
}

/// Sent once when the scheduled trust check finds a ready install's access role gone or
/// weakened: what happened, and how to put it right from the install link.
pub fn access_at_risk(vendor: &str, install: &Install, status: TrustStatus, reason: &str) -> Email {
    let stack = install
        .resources
        .get("customer_stack")
        .map_or("the byoc-installer access stack", String::as_str);
    let (opening, what_to_do, subject) = match status {
        TrustStatus::Weakened => (
            format!("{vendor} is installed in your {}, and the role that gives it access is no longer as the template made it: it is less safe than what you agreed to.", where_(install)),
            format!(
                "Update the CloudFormation stack \"{stack}\" from the install link {vendor} gave you (or delete it and create it \
                 again from the link), so the role trusts only {vendor}'s account and only with your External ID, as the \
                 template makes it. {vendor} checks the role regularly and records when it is fixed."
            ),
            format!("Action needed: the access role of {vendor} in your AWS account {} is no longer safe", install.account_id),
        ),
        TrustStatus::Lost | TrustStatus::Ok => (
            format!("{vendor} can no longer reach your {}, where it is installed.", where_(install)),
            format!(
                "If this was not on purpose, create the CloudFormation stack \"{stack}\" again from the install link {vendor} \
                 gave you, in account {account}: the link fills in {vendor}'s account id and your External ID. {vendor} checks \
                 access regularly and records when it works again.\n  \
                 If you no longer use {vendor}, ask {vendor} to remove install {id}. To delete what it made in your account \
                 (the EKS cluster, NAT gateways and VPC, which cost money while they stay), it needs that access back until \
                 the removal is done; afterwards delete the stack.",
                account = install.account_id,
                id = install.install_id,
            ),
            format!("Action needed: {vendor} lost access to your {}", where_(install)),
        ),
    };
    let body = format!(
        "Hello,\n\n\
         {opening}\n\n\
         Install: {id}\n\
         Account: {account}\n\
         Region:  {region}\n\n\
         What happened:\n  {reason}\n\n\
         What to do:\n  {what_to_do}\n\n\
         Until then {vendor} cannot safely maintain, repair or remove what it installed in your account.\n",
        id = install.install_id,
        account = install.account_id,
        region = install.region,
    );
    Email {
        subject: subject_line(&subject),
        body,
    }
}

/// What the customer can do about a failure, by the error's name.
fn remedy(vendor: &str, install: &Install, error: &InstallError) -> String {
    match error.code.as_str() {
        error_names::TRUST_NOT_READY | error_names::ACCESS_LOST => format!(
            "Create (or fix) the CloudFormation stack from the install link {vendor} gave you, in account {}: \
             it must be in CREATE_COMPLETE, and its ExternalId and VendorAccountId parameters must be exactly \
             as the link filled them in. If the stack exists but was made with other values (for example \
             another vendor's account id), delete it and create it again from the install link. Then ask \
             {vendor} to retry install {}.",
            install.account_id, install.install_id
        ),
        error_names::ACCESS_PAUSED => format!(
            "You paused {vendor}'s access to account {} (VendorAccess: paused on the byoc-installer access stack), \
             and it stayed paused longer than the install waits. When you are ready, update that stack with \
             VendorAccess set to enabled, then ask {vendor} to retry install {}.",
            install.account_id, install.install_id
        ),
        error_names::QUOTA_DENIED | error_names::QUOTA_WAIT_EXPIRED => format!(
            "Raise the quotas named above in the Service Quotas console (or open a support case), then ask \
             {vendor} to retry install {}. {vendor} can also retry with a smaller install (fewer zones, \
             a single NAT gateway, a smaller node group).",
            install.install_id
        ),
        "SweepIncomplete" => format!(
            "Some resources could not be deleted yet (AWS kept refusing or they were still in use). {vendor} \
             can run the removal again for install {}; nothing needs to change in your account unless you \
             attached your own resources to the install's VPC.",
            install.install_id
        ),
        error_names::PROVISION_CHECKS_FAILED => format!(
            "Each finding above says what to change; nothing was built in your account. When they are \
             fixed, ask {vendor} to retry install {}.",
            install.install_id
        ),
        error_names::TRUST_INVALID => format!(
            "Update the stack from the install link so the role is as the template makes it (see above), \
             then ask {vendor} to retry install {}.",
            install.install_id
        ),
        _ => format!(
            "Nothing in your account needs to change for this. {vendor} has been told and can retry install {}; \
             if it keeps failing, reply to {vendor}'s support with the install id.",
            install.install_id
        ),
    }
}

/// The findings of the provision checks that stopped the install, each with what to do, and
/// its warnings after them; `None` when the failure is not theirs.
fn provision_findings(install: &Install, error: &InstallError) -> Option<String> {
    if error.code != error_names::PROVISION_CHECKS_FAILED {
        return None;
    }
    let checks = ProvisionChecks::of(install).filter(|c| !c.ok)?;
    let failed: Vec<&Check> = checks.failed().collect();
    let mut text = format!(
        "{} check(s) of your account found what would stop the install, before anything was built:\n",
        failed.len()
    );
    let warnings: Vec<&Check> = checks
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Warning)
        .collect();
    for (n, check) in failed.iter().enumerate() {
        text.push_str(&finding(n + 1, check));
    }
    if !warnings.is_empty() {
        text.push_str("\n  Also found (these do not stop the install):\n");
        for (n, check) in warnings.iter().enumerate() {
            text.push_str(&finding(n + 1, check));
        }
    }
    Some(text)
}

fn finding(n: usize, check: &Check) -> String {
    let advice = check
        .advice
        .as_deref()
        .map(|a| format!("\n     What to do: {a}"))
        .unwrap_or_default();
    format!(
        "\n  {n}. {}: {}{advice}\n",
        check.check.as_str(),
        check.message
    )
}

pub fn failed(vendor: &str, install: &Install, error: &InstallError) -> Email {
    let message = provision_findings(install, error).unwrap_or_else(|| error.message.clone());
    let body = format!(
        "Hello,\n\n\
         Installing {vendor} in your {where_} did not finish.\n\n\
         Install: {id}\n\
         Step:    {step} ({step_text})\n\
         Error:   {code}\n\n\
         What happened:\n  {message}\n\n\
         What to do:\n  {remedy}\n\n\
         {leftovers}\n",
        where_ = where_(install),
        id = install.install_id,
        step = error.step,
        step_text = error.step.describe(),
        code = error.code,
        remedy = remedy(vendor, install, error),
        leftovers = failed_leftovers(vendor, install),
    );
    Email {
        subject: subject_line(&format!(
            "Action needed: {vendor} install in {} failed",
            where_(install)
        )),
        body,
    }
}

/// What a failed install left: kept for inspection, what its rollback could not delete, or
/// nothing — said only when the rollback's last pass found nothing left, or nothing was built.
fn failed_leftovers(vendor: &str, install: &Install) -> String {
    if install.options.keep_failed_resources {
        return format!("What the install created is kept for inspection, as {vendor} asked: it costs money until {vendor} removes install {}.", install.install_id);
    }
    let leftovers = leftover::recorded(install);
    if !leftovers.is_empty() {
        return leftovers_text(vendor, &leftovers);
    }
    let rollback_unfinished = SweepRecord::of(install).is_some_and(|r| !r.done);
    if rollback_unfinished {
        format!("Removing what the install created has not finished yet; {vendor} keeps at it and records when nothing is left.")
    } else {
        format!("Nothing that {vendor} created is left running in your account.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, InstallId, Region, TenantId};
    use crate::model::{InstallStatus, Step};
    use chrono::Utc;

    fn install() -> Install {
        Install {
            install_id: InstallId::parse("i", "inst-01hzy0000000000000000000aa").unwrap(),
            tenant_id: TenantId::parse("t", "acme").unwrap(),
            account_id: AccountId::parse("a", "111122223333").unwrap(),
            region: Region::parse("r", "eu-west-2").unwrap(),
            options: Default::default(),
            status: InstallStatus::Ready,
            current_step: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 4,
            execution_arn: None,
            last_error: None,
            failed_step: None,
            resources: [(
                "role_arn".to_string(),
                "arn:aws:iam::111122223333:role/byoc/byoc-installer".to_string(),
            )]
            .into(),
            step_data: Default::default(),
            notified: vec![],
        }
    }

    #[test]
    fn ready_email_names_the_place_and_what_was_set_up() {
        let email = ready("Acme Data", &install());
        assert_eq!(
            email.subject,
            "Acme Data is ready in your AWS account 111122223333 in eu-west-2"
        );
        assert!(email.body.contains("inst-01hzy0000000000000000000aa"));
        assert!(email
            .body
            .contains("role_arn: arn:aws:iam::111122223333:role/byoc/byoc-installer"));
        assert!(email.body.contains("What to do next"));
    }

    #[test]
    fn trust_failures_tell_the_customer_to_fix_the_stack() {
        let error = InstallError {
            step: Step::ValidateTrust,
            code: "TrustNotReady".into(),
            message: "could not assume role".into(),
        };
        let email = failed("Acme Data", &install(), &error);
        assert!(email
            .subject
            .starts_with("Action needed: Acme Data install"));
        assert!(email.body.contains("could not assume role"));
        assert!(email.body.contains("ExternalId"));
        assert!(email
            .body
            .contains("retry install inst-01hzy0000000000000000000aa"));
        assert!(email
            .body
            .contains("validate-trust (checking access to your AWS account)"));
    }

    #[test]
    fn ready_email_shows_the_cluster_and_how_to_reach_it() {
        let mut install = install();
        for (k, v) in [
            ("cluster_name", "byoc-inst-x"),
            ("kubernetes_version", "1.33"),
            (
                "cluster_endpoint",
                "https://ABC.gr7.eu-west-2.eks.amazonaws.com",
            ),
        ] {
            install.resources.insert(k.into(), v.into());
        }
        let body = ready("V", &install).body;
        assert!(body.contains("Name:     byoc-inst-x"), "{body}");
        assert!(body.contains("Version:  1.33"), "{body}");
        assert!(body.contains("Endpoint: https://ABC"), "{body}");
        // Each line of the cluster block is "  <Label>:" then the value in one column.
        let block: Vec<&str> = body
            .lines()
            .skip_while(|l| *l != "Your EKS cluster:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(block.len(), 3, "{body}");
        for line in block {
            let (label, value) = line.split_at(12);
            assert!(
                label.trim_start().trim_end().ends_with(':') && !value.starts_with(' '),
                "{line:?}"
            );
        }
        assert!(body.contains("aws eks update-kubeconfig --region eu-west-2 --name byoc-inst-x"));
        assert!(
            !ready("V", &self::install())
                .body
                .contains("update-kubeconfig"),
            "no cluster, no command"
        );
    }

    #[test]
    fn quota_wait_email_lists_each_request_with_its_link() {
        let quotas = vec![
            QuotaLine { service: "ec2".into(), quota_code: "L-1216C47A".into(), quota_name: "Running On-Demand Standard instances".into(), applied: 5.0, requested: 16.0, console_url: "https://eu-west-2.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-1216C47A".into() },
            QuotaLine { service: "ec2".into(), quota_code: "L-0263D0A3".into(), quota_name: "EC2-VPC Elastic IPs".into(), applied: 5.0, requested: 8.0, console_url: "https://x/L-0263D0A3".into() },
        ];
        let email = waiting_for_quota("Acme Data", &install(), &quotas);
        assert_eq!(email.subject, "Acme Data install in AWS account 111122223333 in eu-west-2: waiting for AWS quota increases");
        assert!(
            email
                .body
                .contains("Running On-Demand Standard instances (ec2 L-1216C47A): from 5 to 16"),
            "{}",
            email.body
        );
        assert!(email
            .body
            .contains("EC2-VPC Elastic IPs (ec2 L-0263D0A3): from 5 to 8"));
        assert!(email.body.contains("continues by itself"));
    }

    #[test]
    fn manual_mode_asks_the_customer_to_file_the_requests() {
        let mut install = install();
        install.options.quota_requests = QuotaRequestMode::Manual;
        let quotas = vec![QuotaLine {
            service: "ec2".into(),
            quota_code: "L-1216C47A".into(),
            quota_name: "Standard vCPUs".into(),
            applied: 5.0,
            requested: 16.0,
            console_url: "https://x".into(),
        }];
        let email = waiting_for_quota("V", &install, &quotas);
        assert_eq!(
            email.subject,
            "Action needed: quota increases for V in account 111122223333 (eu-west-2)"
        );
        assert!(
            email.body.contains("Please request these increases")
                && email.body.contains("from 5 to 16"),
            "{}",
            email.body
        );
        assert!(!email.body.contains("on your behalf"));
    }

    #[test]
    fn denied_quotas_say_how_to_get_unstuck() {
        let error = InstallError {
            step: Step::RequestQuota,
            code: "QuotaDenied".into(),
            message: "AWS denied L-1216C47A".into(),
        };
        let body = failed("V", &install(), &error).body;
        assert!(
            body.contains("Service Quotas console") && body.contains("smaller install"),
            "{body}"
        );
    }

    #[test]
    fn removal_email_says_nothing_is_left_and_how_to_revoke_access() {
        let mut install = install();
        install
            .resources
            .insert("customer_stack".into(), "byoc-installer-access".into());
        let email = removed("Acme Data", &install);
        assert_eq!(
            email.subject,
            "Acme Data was removed from your AWS account 111122223333 in eu-west-2"
        );
        assert!(email.body.contains("no longer costs you anything"));
        assert!(
            email.body.contains("(\"byoc-installer-access\")"),
            "{}",
            email.body
        );
    }

    #[test]
    fn removal_with_leftovers_lists_each_with_its_command_and_never_says_nothing_is_left() {
        let mut install = install();
        let volume = Leftover {
            kind: "volume".into(),
            id: "vol-0abc".into(),
            why_ours: "tagged kubernetes.io/cluster/byoc-inst-x by Kubernetes".into(),
            why_remains: "refused: UnauthorizedOperation".into(),
            monthly_cost_usd: 2.0,
            command: Some("aws ec2 delete-volume --region eu-west-2 --volume-id vol-0abc".into()),
        };
        let odd = Leftover {
            kind: "ec2:launch-template".into(),
            id: "arn:aws:ec2:eu-west-2:111122223333:launch-template/lt-1".into(),
            command: None,
            monthly_cost_usd: 0.0,
            ..volume.clone()
        };
        install.step_data.insert(
            leftover::SWEEP_RECORD_KEY.into(),
            serde_json::json!({"done": true, "leftovers": [volume, odd]}),
        );
        let email = removed("Acme Data", &install);
        assert_eq!(email.subject, "Action needed: Acme Data was removed; 2 of its resources remain in AWS account 111122223333");
        assert!(
            !email.body.contains("no longer costs you anything"),
            "{}",
            email.body
        );
        assert!(
            email
                .body
                .contains("2 resources the install created are still in your account"),
            "{}",
            email.body
        );
        assert!(email.body.contains("about $2.00 a month"), "{}", email.body);
        assert!(email.body.contains("volume vol-0abc\n    why it is the install's: tagged kubernetes.io/cluster/byoc-inst-x by Kubernetes\n    why it is still there: refused: UnauthorizedOperation"), "{}", email.body);
        assert!(
            email.body.contains(
                "delete it: aws ec2 delete-volume --region eu-west-2 --volume-id vol-0abc"
            ),
            "{}",
            email.body
        );
        assert!(
            email.body.contains("delete it: in the AWS console"),
            "{}",
            email.body
        );
        let error = InstallError {
            step: Step::CreateCluster,
            code: "ClusterFailed".into(),
            message: "x".into(),
        };
        assert!(
            failed("Acme Data", &install, &error)
                .body
                .contains("delete it: aws ec2 delete-volume"),
            "a rollback's leftovers too"
        );
    }

    #[test]
    fn a_failed_install_claims_nothing_left_only_when_its_rollback_finished() {
        let mut install = install();
        let error = InstallError {
            step: Step::CreateCluster,
            code: "ClusterFailed".into(),
            message: "x".into(),
        };
        assert!(failed("V", &install, &error)
            .body
            .contains("Nothing that V created is left"));
        install.step_data.insert(
            leftover::SWEEP_RECORD_KEY.into(),
            serde_json::json!({"done": false, "leftovers": []}),
        );
        let body = failed("V", &install, &error).body;
        assert!(
            !body.contains("Nothing that V created is left")
                && body.contains("has not finished yet"),
            "{body}"
        );
    }

    #[test]
    fn a_lost_role_says_to_recreate_the_stack_or_ask_for_removal() {
        let mut install = install();
        install
            .resources
            .insert("customer_stack".into(), "byoc-installer-access".into());
        let email = access_at_risk(
            "Acme Data",
            &install,
            TrustStatus::Lost,
            "could not assume role arn:aws:iam::111122223333:role/byoc/byoc-installer",
        );
        assert_eq!(
            email.subject,
            "Action needed: Acme Data lost access to your AWS account 111122223333 in eu-west-2"
        );
        assert!(
            email.body.contains(
                "could not assume role arn:aws:iam::111122223333:role/byoc/byoc-installer"
            ),
            "{}",
            email.body
        );
        assert!(email.body.contains("create the CloudFormation stack \"byoc-installer-access\" again from the install link Acme Data"), "{}", email.body);
        assert!(
            email
                .body
                .contains("ask Acme Data to remove install inst-01hzy0000000000000000000aa"),
            "{}",
            email.body
        );
        assert!(email.body.contains("Install: inst-01hzy0000000000000000000aa\nAccount: 111122223333\nRegion:  eu-west-2"), "{}", email.body);
    }

    #[test]
    fn a_weakened_role_says_to_update_the_stack_from_the_link() {
        let email = access_at_risk(
            "Acme Data",
            &install(),
            TrustStatus::Weakened,
            "the role's trust policy has no StringEquals condition on sts:ExternalId",
        );
        assert_eq!(email.subject, "Action needed: the access role of Acme Data in your AWS account 111122223333 is no longer safe");
        assert!(
            email
                .body
                .contains("no StringEquals condition on sts:ExternalId"),
            "{}",
            email.body
        );
        assert!(email.body.contains("Update the CloudFormation stack \"the byoc-installer access stack\" from the install link"), "{}", email.body);
        assert!(!email.body.contains("remove install"), "{}", email.body);
    }

    #[test]
    fn a_stack_made_for_another_vendor_is_to_be_made_again() {
        let error = InstallError {
            step: Step::ValidateTrust,
            code: "TrustNotReady".into(),
            message: "could not assume role".into(),
        };
        let body = failed("V", &install(), &error).body;
        assert!(
            body.contains("delete it and create it again from the install link"),
            "{body}"
        );
    }

    #[test]
    fn failed_provision_checks_list_every_finding_with_what_to_do() {
        use crate::preflight::{CheckName, PROVISION_CHECKS_KEY};
        let mut install = install();
        let checks = ProvisionChecks::new(
            vec![
                Check::failed(
                    CheckName::Permissions,
                    "ec2:CreateNatGateway on arn:aws:ec2:us-east-1:111122223333:natgateway/* is refused",
                    "a permissions boundary on the role leaves it out",
                ),
                Check::warning(CheckName::Quotas, "Elastic IPs: 5 allowed, 4 used", "the install requests 7"),
                Check::failed(CheckName::VpcCidr, "10.0.0.0/16 overlaps vpc-1 (10.0.0.0/16)", "choose another options.vpc_cidr, such as 10.1.0.0/16"),
            ],
            Utc::now(),
        );
        install.step_data.insert(
            PROVISION_CHECKS_KEY.into(),
            serde_json::to_value(&checks).unwrap(),
        );
        let error = InstallError {
            step: Step::CheckQuotas,
            code: error_names::PROVISION_CHECKS_FAILED.into(),
            message: checks.summary(),
        };
        let body = failed("Acme", &install, &error).body;
        for expected in [
            "2 check(s) of your account found what would stop the install, before anything was built",
            "1. permissions: ec2:CreateNatGateway on arn:aws:ec2:us-east-1:111122223333:natgateway/* is refused\n     What to do: a permissions boundary on the role leaves it out",
            "2. vpc_cidr: 10.0.0.0/16 overlaps vpc-1 (10.0.0.0/16)\n     What to do: choose another options.vpc_cidr, such as 10.1.0.0/16",
            "Also found (these do not stop the install):\n\n  1. quotas: Elastic IPs: 5 allowed, 4 used",
            "Each finding above says what to change; nothing was built in your account",
        ] {
            assert!(body.contains(expected), "{expected:?} not in:\n{body}");
        }
    }

    #[test]
    fn other_failures_do_not_blame_the_customer() {
        let error = InstallError {
            step: Step::Notify,
            code: "Transient".into(),
            message: "throttled".into(),
        };
        assert!(failed("V", &install(), &error)
            .body
            .contains("Nothing in your account needs to change"));
    }

    #[test]
    fn subjects_are_short_printable_ascii() {
        let subject = subject_line(&format!("Ünïcode\n{}", "x".repeat(200)));
        assert!(
            subject.len() < 100
                && subject
                    .chars()
                    .all(|c| c.is_ascii() && !c.is_ascii_control())
        );
    }
}
