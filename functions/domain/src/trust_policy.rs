//! Reads the customer role's trust policy and says what is unsafe about it. AWS lets a
//! customer write a trust policy that any account can use, or one without the External ID
//! condition (the confused-deputy guard); the installer refuses to work through such a role.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustProblem {
    /// The document is not JSON we can read.
    Unreadable,
    /// A statement lets any AWS principal assume the role.
    WildcardPrincipal,
    /// A statement trusts an account other than the vendor's.
    ForeignPrincipal(String),
    /// A statement that trusts the vendor does not require `sts:ExternalId` to equal a value.
    MissingExternalIdCondition,
    /// No statement trusts the vendor account.
    VendorNotTrusted,
}

impl TrustProblem {
    /// What the customer should change, in a sentence.
    pub fn fix(&self, vendor_account: &str) -> String {
        match self {
            TrustProblem::Unreadable => "the role's trust policy could not be read; recreate the role from the byoc-installer template".into(),
            TrustProblem::WildcardPrincipal => "the role's trust policy allows any AWS account (Principal \"*\"); allow only the vendor account and keep the External ID condition".into(),
            TrustProblem::ForeignPrincipal(who) => format!("the role's trust policy also trusts {who}; trust only the vendor account {vendor_account}"),
            TrustProblem::MissingExternalIdCondition => "the role's trust policy has no StringEquals condition on sts:ExternalId; add it with the External ID from the install link (the template does this)".into(),
            TrustProblem::VendorNotTrusted => format!("the role's trust policy does not trust the vendor account {vendor_account}"),
        }
    }
}

/// IAM returns policy documents URL-encoded; accept either form.
fn decode(document: &str) -> String {
    let trimmed = document.trim();
    if trimmed.starts_with('{') {
        trimmed.to_owned()
    } else {
        urlencoding::decode(trimmed)
            .map(|s| s.into_owned())
            .unwrap_or_else(|_| trimmed.to_owned())
    }
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

fn allows_assume_role(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && as_list(statement.get("Action").unwrap_or(&Value::Null))
            .iter()
            .filter_map(|a| a.as_str())
            .any(|a| {
                matches!(
                    a.to_ascii_lowercase().as_str(),
                    "sts:assumerole" | "sts:*" | "*"
                )
            })
}

/// The account a principal entry names: `123456789012`, `arn:aws:iam::123456789012:root`,
/// or any IAM ARN in that account.
fn principal_account(principal: &str) -> Option<&str> {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Some(principal);
    }
    principal
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').nth(3))
        .filter(|a| !a.is_empty())
}

fn requires_external_id(statement: &Value) -> bool {
    statement
        .get("Condition")
        .and_then(|c| c.get("StringEquals"))
        .and_then(|c| c.as_object())
        .and_then(|c| {
            c.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("sts:ExternalId"))
        })
        .is_some_and(|(_, v)| {
            as_list(v).iter().all(|x| {
                x.as_str()
                    .is_some_and(|s| !s.is_empty() && !s.contains('*'))
            })
        })
}

/// Everything unsafe about `document` for a role the vendor account assumes; empty when the
/// policy is as the template makes it.
pub fn assess(document: &str, vendor_account: &str) -> Vec<TrustProblem> {
    let Ok(policy) = serde_json::from_str::<Value>(&decode(document)) else {
        return vec![TrustProblem::Unreadable];
    };
    let mut problems = Vec::new();
    let mut vendor_trusted = false;
    for statement in as_list(policy.get("Statement").unwrap_or(&Value::Null)) {
        if !allows_assume_role(statement) {
            continue;
        }
        let principal = statement.get("Principal").unwrap_or(&Value::Null);
        let aws_principals: Vec<&Value> = match principal {
            Value::String(s) if s == "*" => vec![principal],
            other => as_list(other.get("AWS").unwrap_or(&Value::Null)),
        };
        for entry in aws_principals {
            let Some(entry) = entry.as_str() else {
                continue;
            };
            let problem = match principal_account(entry) {
                _ if entry.contains('*') => Some(TrustProblem::WildcardPrincipal),
                Some(account) if account == vendor_account => {
                    vendor_trusted = true;
                    (!requires_external_id(statement))
                        .then_some(TrustProblem::MissingExternalIdCondition)
                }
                _ => Some(TrustProblem::ForeignPrincipal(entry.to_owned())),
            };
            if let Some(problem) = problem {
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
            }
        }
    }
    if !vendor_trusted && !problems.contains(&TrustProblem::WildcardPrincipal) {
        problems.push(TrustProblem::VendorNotTrusted);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENDOR: &str = "123456789012";

    fn policy(principal: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"{condition}}}]}}"#
        )
    }

    const WITH_EXTERNAL_ID: &str = r#","Condition":{"StringEquals":{"sts:ExternalId":"abc123"}}"#;

    #[test]
    fn the_template_policy_is_clean() {
        for principal in [
            r#"{"AWS":"arn:aws:iam::123456789012:root"}"#,
            r#"{"AWS":"123456789012"}"#,
            r#"{"AWS":["arn:aws:iam::123456789012:role/byoc/installer"]}"#,
        ] {
            assert_eq!(
                assess(&policy(principal, WITH_EXTERNAL_ID), VENDOR),
                vec![],
                "{principal}"
            );
        }
    }

    #[test]
    fn url_encoded_documents_are_read() {
        let encoded = urlencoding::encode(&policy(r#"{"AWS":"123456789012"}"#, WITH_EXTERNAL_ID))
            .into_owned();
        assert_eq!(assess(&encoded, VENDOR), vec![]);
    }

    #[test]
    fn wildcards_are_refused() {
        assert_eq!(
            assess(&policy(r#""*""#, WITH_EXTERNAL_ID), VENDOR),
            vec![TrustProblem::WildcardPrincipal]
        );
        assert_eq!(
            assess(&policy(r#"{"AWS":"*"}"#, WITH_EXTERNAL_ID), VENDOR),
            vec![TrustProblem::WildcardPrincipal]
        );
        assert!(assess(
            &policy(
                r#"{"AWS":["123456789012","arn:aws:iam::*:root"]}"#,
                WITH_EXTERNAL_ID
            ),
            VENDOR
        )
        .contains(&TrustProblem::WildcardPrincipal));
    }

    #[test]
    fn external_id_condition_is_required_and_exact() {
        let vendor = r#"{"AWS":"123456789012"}"#;
        assert_eq!(
            assess(&policy(vendor, ""), VENDOR),
            vec![TrustProblem::MissingExternalIdCondition]
        );
        let like = r#","Condition":{"StringLike":{"sts:ExternalId":"*"}}"#;
        assert_eq!(
            assess(&policy(vendor, like), VENDOR),
            vec![TrustProblem::MissingExternalIdCondition]
        );
        let empty = r#","Condition":{"StringEquals":{"sts:ExternalId":""}}"#;
        assert_eq!(
            assess(&policy(vendor, empty), VENDOR),
            vec![TrustProblem::MissingExternalIdCondition]
        );
    }

    #[test]
    fn other_accounts_and_garbage_are_reported() {
        let two = r#"{"AWS":["123456789012","arn:aws:iam::999999999999:root"]}"#;
        assert_eq!(
            assess(&policy(two, WITH_EXTERNAL_ID), VENDOR),
            vec![TrustProblem::ForeignPrincipal(
                "arn:aws:iam::999999999999:root".into()
            )]
        );
        assert_eq!(
            assess(
                &policy(r#"{"AWS":"999999999999"}"#, WITH_EXTERNAL_ID),
                VENDOR
            )
            .last(),
            Some(&TrustProblem::VendorNotTrusted)
        );
        assert_eq!(assess("not json", VENDOR), vec![TrustProblem::Unreadable]);
        assert!(TrustProblem::MissingExternalIdCondition
            .fix(VENDOR)
            .contains("sts:ExternalId"));
    }

    #[test]
    fn deny_statements_do_not_count_as_trust() {
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(assess(deny, VENDOR), vec![TrustProblem::VendorNotTrusted]);
    }
}
