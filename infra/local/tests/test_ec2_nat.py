"""NAT gateways stay pending for the polls a test sets, then settle; tag filters and client
tokens behave as on EC2."""

from __future__ import annotations

import json
import random
import urllib.request
import uuid

import botocore.exceptions
import pytest


def fresh_account() -> str:
    return str(random.randint(200_000_000_000, 899_999_999_999))


def steer(stack, account: str, **settings) -> None:
    body = json.dumps({"byoc": {"nat": {account: settings}}}).encode()
    request = urllib.request.Request(
        f"{stack.endpoint}/moto-api/config", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


class Customer:
    """A VPC with one public subnet in a fresh account, ready for NAT gateways."""

    def __init__(self, stack, account: str | None = None):
        self.account = account or fresh_account()
        self.ec2 = stack.client("ec2", account=self.account)
        vpc = self.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        self.vpc = vpc
        self.subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]

    def create(self, tags: dict[str, str] | None = None, **kwargs) -> dict:
        allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        if tags:
            kwargs["TagSpecifications"] = [
                {"ResourceType": "natgateway", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        return self.ec2.create_nat_gateway(SubnetId=self.subnet, AllocationId=allocation, **kwargs)["NatGateway"]

    def state(self, gateway_id: str) -> dict:
        return self.ec2.describe_nat_gateways(NatGatewayIds=[gateway_id])["NatGateways"][0]


def test_without_a_setting_a_gateway_is_available_at_once(stack):
    customer = Customer(stack)
    gateway = customer.create()
    assert customer.state(gateway["NatGatewayId"])["State"] == "available"


def test_a_gateway_stays_pending_for_the_polls_set_then_becomes_available(stack):
    customer = Customer(stack)
    steer(stack, customer.account, pending_polls=3)
    gateway = customer.create()
    assert gateway["State"] == "pending"
    other = customer.create()

    seen = [customer.state(gateway["NatGatewayId"])["State"] for _ in range(4)]
    assert seen == ["pending", "pending", "pending", "available"]
    # Polls of one gateway do not move another: the wait is per gateway, through its polls.
    assert customer.state(other["NatGatewayId"])["State"] == "pending"
    # Once settled it stays so.
    assert customer.state(gateway["NatGatewayId"])["State"] == "available"


def test_a_state_filter_sees_the_change_on_the_poll_that_makes_it(stack):
    customer = Customer(stack)
    steer(stack, customer.account, pending_polls=1)
    gateway = customer.create()
    available = [{"Name": "state", "Values": ["available"]}]
    assert customer.ec2.describe_nat_gateways(Filter=available)["NatGateways"] == []
    ids = [g["NatGatewayId"] for g in customer.ec2.describe_nat_gateways(Filter=available)["NatGateways"]]
    assert ids == [gateway["NatGatewayId"]]


def test_settings_are_per_account(stack):
    slow, fast = Customer(stack), Customer(stack)
    steer(stack, slow.account, pending_polls=5)
    assert fast.state(fast.create()["NatGatewayId"])["State"] == "available"
    assert slow.state(slow.create()["NatGatewayId"])["State"] == "pending"


def test_a_failing_gateway_reports_why(stack):
    customer = Customer(stack)
    steer(stack, customer.account, pending_polls=1, fail="Subnet has insufficient free addresses")
    gateway = customer.create()
    assert customer.state(gateway["NatGatewayId"])["State"] == "pending"
    failed = customer.state(gateway["NatGatewayId"])
    assert failed["State"] == "failed"
    assert failed["FailureCode"] == "InternalError"
    assert failed["FailureMessage"] == "Subnet has insufficient free addresses"


def test_tag_filters_select_only_matching_gateways(stack):
    customer = Customer(stack)
    install = f"inst-{uuid.uuid4().hex[:8]}"
    mine = customer.create({"byoc:install-id": install, "Name": "nat-a"})
    customer.create({"byoc:install-id": "inst-other", "Name": "nat-a"})
    customer.create()
    found = customer.ec2.describe_nat_gateways(
        Filter=[{"Name": "tag:byoc:install-id", "Values": [install]}, {"Name": "vpc-id", "Values": [customer.vpc]}]
    )["NatGateways"]
    assert [g["NatGatewayId"] for g in found] == [mine["NatGatewayId"]]
    assert {"Key": "Name", "Value": "nat-a"} in found[0]["Tags"]
    keyed = customer.ec2.describe_nat_gateways(Filter=[{"Name": "tag-key", "Values": ["byoc:install-id"]}])["NatGateways"]
    assert len(keyed) == 2


def test_a_repeated_client_token_returns_the_same_gateway(stack):
    customer = Customer(stack)
    token = uuid.uuid4().hex
    first = customer.create(ClientToken=token)
    again = customer.create(ClientToken=token)
    assert again["NatGatewayId"] == first["NatGatewayId"]
    assert len(customer.ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [customer.vpc]}])["NatGateways"]) == 1

    other_subnet = customer.ec2.create_subnet(VpcId=customer.vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    allocation = customer.ec2.allocate_address(Domain="vpc")["AllocationId"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        customer.ec2.create_nat_gateway(SubnetId=other_subnet, AllocationId=allocation, ClientToken=token)
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
