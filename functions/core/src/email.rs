//! The text of the emails a customer receives. Pure, so every wording is tested and no
//! secret can slip in: the inputs are the install record and its error, which hold none.

use crate::model::{Install, InstallError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

/// SNS subjects must be printable ASCII and under 100 characters.
fn subject_line(text: &str) -> String {
    let ascii: String = text.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect();
    if ascii.len() > 99 {
        format!("{}...", &ascii[..96])
    } else {
        ascii
    }
}

fn where_(install: &Install) -> String {
    format!("AWS account {} in {}", install.account_id, install.region)
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
    Email { subject: subject_line(&format!("{vendor} is ready in your {}", where_(install))), body }
}

/// What the customer can do about a failure, by the error's name.
fn remedy(vendor: &str, install: &Install, error: &InstallError) -> String {
    match error.code.as_str() {
        "TrustNotReady" | "AccessLost" => format!(
            "Create (or fix) the CloudFormation stack from the install link {vendor} gave you, in account {}: \
             it must be in CREATE_COMPLETE, and its ExternalId and VendorAccountId parameters must be exactly \
             as the link filled them in. Then ask {vendor} to retry install {}.",
            install.account_id, install.install_id
        ),
        "TrustInvalid" => format!(
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

pub fn failed(vendor: &str, install: &Install, error: &InstallError) -> Email {
    let body = format!(
        "Hello,\n\n\
         Installing {vendor} in your {where_} did not finish.\n\n\
         Install: {id}\n\
         Step:    {step} ({step_text})\n\
         Error:   {code}\n\n\
         What happened:\n  {message}\n\n\
         What to do:\n  {remedy}\n\n\
         Nothing that {vendor} created is left running in your account.\n",
        where_ = where_(install),
        id = install.install_id,
        step = error.step,
        step_text = error.step.describe(),
        code = error.code,
        message = error.message,
        remedy = remedy(vendor, install, error),
    );
    Email { subject: subject_line(&format!("Action needed: {vendor} install in {} failed", where_(install))), body }
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
            resources: [("role_arn".to_string(), "arn:aws:iam::111122223333:role/byoc/byoc-installer".to_string())].into(),
            step_data: Default::default(),
            notified: vec![],
        }
    }

    #[test]
    fn ready_email_names_the_place_and_what_was_set_up() {
        let email = ready("Acme Data", &install());
        assert_eq!(email.subject, "Acme Data is ready in your AWS account 111122223333 in eu-west-2");
        assert!(email.body.contains("inst-01hzy0000000000000000000aa"));
        assert!(email.body.contains("role_arn: arn:aws:iam::111122223333:role/byoc/byoc-installer"));
        assert!(email.body.contains("What to do next"));
    }

    #[test]
    fn trust_failures_tell_the_customer_to_fix_the_stack() {
        let error = InstallError { step: Step::ValidateTrust, code: "TrustNotReady".into(), message: "could not assume role".into() };
        let email = failed("Acme Data", &install(), &error);
        assert!(email.subject.starts_with("Action needed: Acme Data install"));
        assert!(email.body.contains("could not assume role"));
        assert!(email.body.contains("ExternalId"));
        assert!(email.body.contains("retry install inst-01hzy0000000000000000000aa"));
        assert!(email.body.contains("validate-trust (checking access to your AWS account)"));
    }

    #[test]
    fn other_failures_do_not_blame_the_customer() {
        let error = InstallError { step: Step::Notify, code: "Transient".into(), message: "throttled".into() };
        assert!(failed("V", &install(), &error).body.contains("Nothing in your account needs to change"));
    }

    #[test]
    fn subjects_are_short_printable_ascii() {
        let subject = subject_line(&format!("Ünïcode\n{}", "x".repeat(200)));
        assert!(subject.len() < 100 && subject.chars().all(|c| c.is_ascii() && !c.is_ascii_control()));
    }
}
