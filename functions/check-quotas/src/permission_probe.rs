//! Permission preflight: before anything is built, each EC2 create the install will make is
//! tried with `DryRun`, carrying the tags it will carry. AWS answers `DryRunOperation` when the
//! caller has the permissions and `UnauthorizedOperation` when not (EC2 API reference, common
//! parameters: DryRun), so a customer role that a permissions boundary, an organisation policy
//! or an out-of-date stack cuts short fails here, with nothing made, instead of half-way
//! through the network.
//!
//! Creates inside a network that does not exist yet (a subnet, a route table, a NAT gateway)
//! name placeholder parents. AWS also authorises those parents, and a placeholder has none of
//! an install's tags, so a refusal *of the placeholder* says nothing; only a refusal of the
//! resource being created (or its tags) counts. Which resource was refused comes from the
//! decoded authorization message (`sts:DecodeAuthorizationMessage`), or from the message text.

use aws_sdk_ec2::types::{DomainType, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use byoc_domain::model::Install;
use byoc_domain::tags::{INSTALL_TAG, TENANT_TAG};
use serde_json::Value;

use crate::{aws_error, CheckQuotasError};

const PLACEHOLDER_VPC: &str = "vpc-0000000000000000f";
const PLACEHOLDER_SUBNET: &str = "subnet-0000000000000000f";
const PLACEHOLDER_ALLOCATION: &str = "eipalloc-0000000000000000f";
const PLACEHOLDERS: [&str; 3] = [PLACEHOLDER_VPC, PLACEHOLDER_SUBNET, PLACEHOLDER_ALLOCATION];

/// One create the role may not make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub action: String,
    pub resource: String,
    pub cause: Cause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Boundary,
    OrganizationPolicy,
    ExplicitDeny,
    RolePolicy,
}

impl Cause {
    /// What AWS's message says decided, in the words of its access-denied messages (IAM User
    /// Guide, "Troubleshoot access denied error messages").
    pub fn of(message: &str) -> Cause {
        if message.contains("permissions boundary") {
            Cause::Boundary
        } else if message.contains("service control policy")
            || message.contains("resource control policy")
        {
            Cause::OrganizationPolicy
        } else if message.contains("explicit deny") {
            Cause::ExplicitDeny
        } else {
            Cause::RolePolicy
        }
    }

    pub fn advice(self) -> &'static str {
        match self {
            Cause::Boundary => "a permissions boundary on the role does not allow it (the stack's PermissionsBoundaryArn parameter, or a boundary added since): allow it in the boundary, or remove the boundary",
            Cause::OrganizationPolicy => "an AWS Organizations policy denies it: ask the organisation's administrators to exempt the role",
            Cause::ExplicitDeny => "a policy attached to the role denies it: remove that statement",
            Cause::RolePolicy => "the role's policy does not allow it: the customer stack is out of date; update it from the install link",
        }
    }
}

/// Reads a refused call's answer: who was refused what. `None` when the refusal was of a
/// placeholder parent (inconclusive) or is not a permission refusal at all.
pub fn refusal(
    action: &str,
    code: Option<&str>,
    message: &str,
    decoded: Option<&Value>,
) -> Option<Refusal> {
    if code != Some("UnauthorizedOperation") {
        return None;
    }
    let from_text = || -> Option<(String, String)> {
        let rest = message.split("is not authorized to perform: ").nth(1)?;
        let (refused_action, rest) = rest.split_once(" on resource: ")?;
        let resource = rest.split_whitespace().next()?.trim_end_matches(['.', ',']);
        Some((refused_action.to_owned(), resource.to_owned()))
    };
    let (refused_action, resource) = match decoded.and_then(|d| d.get("context")) {
        Some(context) => (
            context["action"].as_str().unwrap_or(action).to_owned(),
            context["resource"]
                .as_str()
                .unwrap_or("(not named)")
                .to_owned(),
        ),
        None => from_text().unwrap_or_else(|| (action.to_owned(), "(not named)".to_owned())),
    };
    if PLACEHOLDERS.iter().any(|p| resource.ends_with(p)) {
        return None;
    }
    let explicit = decoded
        .and_then(|d| d["explicitDeny"].as_bool())
        .unwrap_or(false);
    let cause = match Cause::of(message) {
        Cause::RolePolicy if explicit => Cause::ExplicitDeny,
        cause => cause,
    };
    Some(Refusal {
        action: refused_action,
        resource,
        cause,
    })
}

fn tags(install: &Install, kind: ResourceType) -> TagSpecification {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    TagSpecification::builder()
        .resource_type(kind)
        .tags(tag(INSTALL_TAG, install.install_id.as_str()))
        .tags(tag(TENANT_TAG, install.tenant_id.as_str()))
        .build()
}

/// Every create the install will make, tried with DryRun: the refusals, all at once.
pub async fn refusals(
    ec2: &Client,
    sts: &aws_sdk_sts::Client,
    install: &Install,
) -> Result<Vec<Refusal>, CheckQuotasError> {
    // The six probes are independent: asked at once, they cost one round trip, not six.
    macro_rules! answer {
        ($request:expr) => {
            async {
                $request
                    .dry_run(true)
                    .send()
                    .await
                    .err()
                    .map(|e| e.into_service_error().meta().clone())
            }
        };
    }
    let (vpc, gateway, address, subnet, table, nat) = tokio::join!(
        answer!(ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .tag_specifications(tags(install, ResourceType::Vpc))),
        answer!(ec2
            .create_internet_gateway()
            .tag_specifications(tags(install, ResourceType::InternetGateway))),
        answer!(ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tags(install, ResourceType::ElasticIp))),
        answer!(ec2
            .create_subnet()
            .vpc_id(PLACEHOLDER_VPC)
            .cidr_block("10.0.0.0/24")
            .tag_specifications(tags(install, ResourceType::Subnet))),
        answer!(ec2
            .create_route_table()
            .vpc_id(PLACEHOLDER_VPC)
            .tag_specifications(tags(install, ResourceType::RouteTable))),
        answer!(ec2
            .create_nat_gateway()
            .subnet_id(PLACEHOLDER_SUBNET)
            .allocation_id(PLACEHOLDER_ALLOCATION)
            .tag_specifications(tags(install, ResourceType::Natgateway))),
    );
    let answers = [
        ("ec2:CreateVpc", vpc),
        ("ec2:CreateInternetGateway", gateway),
        ("ec2:AllocateAddress", address),
        ("ec2:CreateSubnet", subnet),
        ("ec2:CreateRouteTable", table),
        ("ec2:CreateNatGateway", nat),
    ];
    let mut found = vec![];
    for (action, error) in answers {
        let Some(error) = error else { continue };
        match error.code() {
            Some("DryRunOperation") => continue,
            Some("UnauthorizedOperation") => {}
            // No answer, throttling, AWS busy: not an answer to the question; the step is
            // retried (Transient). Anything else (a parameter a placeholder makes invalid) is
            // not a permission problem.
            None => {
                return Err(aws_error(
                    "EC2",
                    std::io::Error::other(format!("{action} DryRun: no answer from EC2")),
                ))
            }
            Some(code) if is_busy(code) => {
                return Err(aws_error(
                    "EC2",
                    std::io::Error::other(format!("{action} DryRun: {code}")),
                ))
            }
            Some(_) => continue,
        }
        let message = error.message().unwrap_or_default();
        let decoded = decode(sts, message).await;
        if let Some(refused) = refusal(action, error.code(), message, decoded.as_ref()) {
            found.push(refused);
        }
    }
    Ok(found)
}

fn is_busy(code: &str) -> bool {
    byoc_core::aws::retryable::is_retryable(code)
}

/// The decoded authorization message, when the role may decode it (sts:DecodeAuthorizationMessage).
async fn decode(sts: &aws_sdk_sts::Client, message: &str) -> Option<Value> {
    let encoded = message
        .split("Encoded authorization failure message: ")
        .nth(1)?
        .trim();
    let out = sts
        .decode_authorization_message()
        .encoded_message(encoded)
        .send()
        .await
        .ok()?;
    serde_json::from_str(out.decoded_message()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "User: arn:aws:sts::111122223333:assumed-role/byoc-installer/s";

    #[test]
    fn a_refused_placeholder_parent_is_inconclusive() {
        let message = format!("You are not authorized to perform this operation. {USER} is not authorized to perform: ec2:CreateSubnet on resource: arn:aws:ec2:us-east-1:111122223333:vpc/{PLACEHOLDER_VPC} because no identity-based policy allows the ec2:CreateSubnet action. Encoded authorization failure message: abc");
        assert_eq!(
            refusal(
                "ec2:CreateSubnet",
                Some("UnauthorizedOperation"),
                &message,
                None
            ),
            None
        );
    }

    #[test]
    fn a_boundary_refusing_the_created_resource_is_named_with_its_cause() {
        let message = format!("You are not authorized to perform this operation. {USER} is not authorized to perform: ec2:CreateNatGateway on resource: arn:aws:ec2:us-east-1:111122223333:natgateway/* because no permissions boundary allows the ec2:CreateNatGateway action. Encoded authorization failure message: abc");
        let found = refusal(
            "ec2:CreateNatGateway",
            Some("UnauthorizedOperation"),
            &message,
            None,
        )
        .unwrap();
        assert_eq!(
            (found.action.as_str(), found.resource.as_str(), found.cause),
            (
                "ec2:CreateNatGateway",
                "arn:aws:ec2:us-east-1:111122223333:natgateway/*",
                Cause::Boundary
            )
        );
        assert!(found.cause.advice().contains("permissions boundary"));
    }

    #[test]
    fn the_decoded_message_wins_over_the_text_and_tells_an_explicit_deny() {
        let decoded = json!({"allowed": false, "explicitDeny": true, "context": {"action": "ec2:CreateTags", "resource": "arn:aws:ec2:us-east-1:1:vpc/*"}});
        let found = refusal("ec2:CreateVpc", Some("UnauthorizedOperation"), "You are not authorized to perform this operation. Encoded authorization failure message: x", Some(&decoded)).unwrap();
        assert_eq!(
            (found.action.as_str(), found.cause),
            ("ec2:CreateTags", Cause::ExplicitDeny)
        );
    }

    #[test]
    fn other_answers_are_not_refusals() {
        assert_eq!(
            refusal(
                "ec2:CreateVpc",
                Some("DryRunOperation"),
                "Request would have succeeded",
                None
            ),
            None
        );
        assert_eq!(
            refusal(
                "ec2:CreateSubnet",
                Some("InvalidVpcID.NotFound"),
                "no such vpc",
                None
            ),
            None
        );
        let org = format!("{USER} is not authorized to perform: ec2:CreateVpc on resource: arn:aws:ec2:us-east-1:1:vpc/* with an explicit deny in a service control policy");
        assert_eq!(
            refusal("ec2:CreateVpc", Some("UnauthorizedOperation"), &org, None)
                .unwrap()
                .cause,
            Cause::OrganizationPolicy
        );
    }
}
