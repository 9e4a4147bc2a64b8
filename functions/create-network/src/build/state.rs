//! What EC2's state fields mean to this step: one predicate for each question a wave (or the
//! inventory) asks of a state. Each names the API reference page that lists the field's values.
//! The SDK turns a value it does not know (one EC2 added later) into `Unknown`; each predicate
//! says which side such a value falls on, and the tests walk every value the SDK knows, so an SDK
//! update that brings a new one fails them until someone decides what it means here.

use aws_sdk_ec2::types::{
    AttachmentStatus, InternetGateway, NatGateway, NatGatewayState, RouteTable,
    RouteTableAssociationStateCode, Subnet, SubnetState, VpcCidrBlockAssociation,
    VpcCidrBlockStateCode,
};

/// Whether the subnet can take the cluster and its nodes. Only `available` counts: `pending` is
/// still being made, and `unavailable`, `failed` and `failed-insufficient-capacity` will not
/// become usable by waiting for them.
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html> (`state`)
pub fn subnet_available(subnet: &Subnet) -> bool {
    subnet.state() == Some(&SubnetState::Available)
}

/// Whether the NAT gateway passes traffic, so a private default route may point at it (a route
/// to one still `pending` would be a blackhole until it is up).
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html> (`state`)
pub fn nat_available(gateway: &NatGateway) -> bool {
    gateway.state() == Some(&NatGatewayState::Available)
}

/// Whether EC2 gave up making the NAT gateway: nothing fixes it but removing the network, so the
/// step fails with EC2's `failureCode` and `failureMessage`.
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html> (`state`)
pub fn nat_failed(gateway: &NatGateway) -> bool {
    gateway.state() == Some(&NatGatewayState::Failed)
}

/// Whether the NAT gateway is on its way out (`deleting`) or out (`deleted`). Deleted gateways
/// stay in listings for about an hour; such a gateway is not the install's to adopt, and the run
/// that sees it gone makes a new one.
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html> (`state`)
pub fn nat_gone(gateway: &NatGateway) -> bool {
    matches!(
        gateway.state(),
        Some(NatGatewayState::Deleting | NatGatewayState::Deleted)
    )
}

/// Whether the internet gateway is attached to the VPC, or on its way. The reference lists
/// `attaching | attached | detaching | detached`, but says an internet gateway attached to a VPC
/// reports `available` (which the SDK reads as `Unknown`), or no state at all: so only the two
/// leaving states count against. Reading `attached` as the one good state was the bug that made
/// an attach's lost answer fail the step.
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InternetGatewayAttachment.html>
pub fn attached_to(gateway: &InternetGateway, vpc_id: &str) -> bool {
    gateway.attachments().iter().any(|a| {
        a.vpc_id() == Some(vpc_id)
            && !matches!(
                a.state(),
                Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)
            )
    })
}

/// Whether the route table is the subnet's, or becoming it (`associating`). One that is leaving
/// (`disassociating`), gone (`disassociated`) or never took (`failed`) must be associated again.
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RouteTableAssociationState.html>
pub fn associates(table: &RouteTable, subnet: &str) -> bool {
    table.associations().iter().any(|a| {
        a.subnet_id() == Some(subnet)
            && !matches!(
                a.association_state().and_then(|s| s.state()),
                Some(
                    RouteTableAssociationStateCode::Disassociated
                        | RouteTableAssociationStateCode::Disassociating
                        | RouteTableAssociationStateCode::Failed
                )
            )
    })
}

/// Whether a VPC's IPv4 block holds its addresses, so a new VPC must not overlap it: held while
/// `associating` or `associated`; freed once `disassociating`, `disassociated`, `failing` or
/// `failed`. An unknown state counts as held (an overlap refused is safer than one made).
///
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcCidrBlockState.html>
pub fn cidr_block_held(association: &VpcCidrBlockAssociation) -> bool {
    !matches!(
        association.cidr_block_state().and_then(|s| s.state()),
        Some(
            VpcCidrBlockStateCode::Disassociated
                | VpcCidrBlockStateCode::Disassociating
                | VpcCidrBlockStateCode::Failed
                | VpcCidrBlockStateCode::Failing
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{
        InternetGatewayAttachment, RouteTableAssociation, RouteTableAssociationState,
        VpcCidrBlockState,
    };
    use std::collections::BTreeSet;
    use std::fmt::Debug;

    /// Checks `answer` against `expected` for each state, after making sure `expected` names
    /// every state the SDK knows for the field (`known`): it may name more, such as the
    /// `available` EC2 reports for internet gateways though the reference does not list it.
    fn check<S, A>(known: &[&str], expected: &[(&'static str, A)], answer: impl Fn(S) -> A)
    where
        S: From<&'static str>,
        A: PartialEq + Debug,
    {
        let named: BTreeSet<&str> = expected.iter().map(|(state, _)| *state).collect();
        let missing: Vec<&&str> = known.iter().filter(|s| !named.contains(**s)).collect();
        assert!(
            missing.is_empty(),
            "states with no expected answer: {missing:?}"
        );
        for (state, want) in expected {
            assert_eq!(&answer(S::from(*state)), want, "state {state}");
        }
    }

    #[test]
    fn only_an_available_subnet_is_ready() {
        check(
            SubnetState::values(),
            &[
                ("pending", false),
                ("available", true),
                ("unavailable", false),
                ("failed", false),
                ("failed-insufficient-capacity", false),
                ("a-state-ec2-adds-later", false),
            ],
            |state: SubnetState| subnet_available(&Subnet::builder().state(state).build()),
        );
        assert!(!subnet_available(&Subnet::builder().build()), "no state");
    }

    #[test]
    fn nat_gateway_states_are_available_failed_or_gone_at_most_one_at_a_time() {
        // (available, failed, gone)
        check(
            NatGatewayState::values(),
            &[
                ("pending", (false, false, false)),
                ("failed", (false, true, false)),
                ("available", (true, false, false)),
                ("deleting", (false, false, true)),
                ("deleted", (false, false, true)),
                ("a-state-ec2-adds-later", (false, false, false)),
            ],
            |state: NatGatewayState| {
                let gateway = NatGateway::builder().state(state).build();
                (
                    nat_available(&gateway),
                    nat_failed(&gateway),
                    nat_gone(&gateway),
                )
            },
        );
        let unstated = NatGateway::builder().build();
        assert!(!nat_available(&unstated) && !nat_failed(&unstated) && !nat_gone(&unstated));
    }

    fn gateway(vpc: &str, state: Option<AttachmentStatus>) -> InternetGateway {
        let attachment = InternetGatewayAttachment::builder()
            .vpc_id(vpc)
            .set_state(state)
            .build();
        InternetGateway::builder().attachments(attachment).build()
    }

    #[test]
    fn an_internet_gateway_counts_as_attached_unless_it_is_leaving_the_vpc() {
        check(
            AttachmentStatus::values(),
            &[
                ("attaching", true),
                ("attached", true),
                ("detaching", false),
                ("detached", false),
                // What EC2 reports for an attached internet gateway.
                ("available", true),
            ],
            |state: AttachmentStatus| attached_to(&gateway("vpc-1", Some(state)), "vpc-1"),
        );
        assert!(attached_to(&gateway("vpc-1", None), "vpc-1"), "no state");
        assert!(
            !attached_to(&gateway("vpc-2", None), "vpc-1"),
            "another VPC"
        );
        let attached_elsewhere = gateway("vpc-2", Some(AttachmentStatus::Attached));
        assert!(!attached_to(&attached_elsewhere, "vpc-1"));
        assert!(!attached_to(&InternetGateway::builder().build(), "vpc-1"));
    }

    fn table(subnet: Option<&str>, state: Option<RouteTableAssociationStateCode>) -> RouteTable {
        let association = RouteTableAssociation::builder()
            .set_subnet_id(subnet.map(str::to_owned))
            .set_association_state(
                state.map(|s| RouteTableAssociationState::builder().state(s).build()),
            )
            .build();
        RouteTable::builder().associations(association).build()
    }

    #[test]
    fn a_route_table_serves_a_subnet_while_associating_or_associated() {
        check(
            RouteTableAssociationStateCode::values(),
            &[
                ("associating", true),
                ("associated", true),
                ("disassociating", false),
                ("disassociated", false),
                ("failed", false),
            ],
            |state: RouteTableAssociationStateCode| {
                associates(&table(Some("subnet-1"), Some(state)), "subnet-1")
            },
        );
        assert!(
            associates(&table(Some("subnet-1"), None), "subnet-1"),
            "no state"
        );
        let other = table(
            Some("subnet-2"),
            Some(RouteTableAssociationStateCode::Associated),
        );
        assert!(!associates(&other, "subnet-1"), "another subnet");
        // A gateway (edge) association names no subnet.
        let edge = table(None, Some(RouteTableAssociationStateCode::Associated));
        assert!(!associates(&edge, "subnet-1"));
    }

    #[test]
    fn a_vpc_cidr_block_holds_its_addresses_until_it_leaves_or_fails() {
        check(
            VpcCidrBlockStateCode::values(),
            &[
                ("associating", true),
                ("associated", true),
                ("disassociating", false),
                ("disassociated", false),
                ("failing", false),
                ("failed", false),
                ("a-state-ec2-adds-later", true),
            ],
            |state: VpcCidrBlockStateCode| {
                let held = VpcCidrBlockState::builder().state(state).build();
                cidr_block_held(
                    &VpcCidrBlockAssociation::builder()
                        .cidr_block_state(held)
                        .build(),
                )
            },
        );
        assert!(cidr_block_held(&VpcCidrBlockAssociation::builder().build()));
    }
}
