"""The customer's switches over the vendor's access, on the customer template as CloudFormation
makes and updates it: source identity on every session, VendorAccess paused, AllowChanges.

Each test creates the access stack from cfn/customer-role.yaml in an account of its own and
assumes its role as the vendor does (the vendor account is moto's default caller)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from conftest import VENDOR_ACCOUNT, fresh_account, refused
from test_eks_ext import Customer
from test_eks_upgrade import PINNED

TEMPLATE = (Path(__file__).resolve().parents[3] / "cfn" / "customer-role.yaml").read_text()
EXTERNAL_ID = "ext-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
ROLE_NAME = "byoc-installer"
STACK = "byoc-installer-access"


def parameters(**switches: str) -> list[dict]:
    values = {"VendorAccountId": VENDOR_ACCOUNT, "ExternalId": EXTERNAL_ID, "RoleName": ROLE_NAME, "PermissionsBoundaryArn": "", **switches}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def access_stack(stack, account: str | None = None, **switches: str) -> str:
    account = account or fresh_account()
    cloudformation = stack.client("cloudformation", account=account)
    cloudformation.create_stack(StackName=STACK, TemplateBody=TEMPLATE, Parameters=parameters(**switches), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    return account


def switch(stack, account: str, **switches: str) -> None:
    cloudformation = stack.client("cloudformation", account=account)
    cloudformation.update_stack(StackName=STACK, TemplateBody=TEMPLATE, Parameters=parameters(**switches), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/byoc/{ROLE_NAME}"


def session(stack, account: str, source_identity: str | None = "byoc.inst-01test.install"):
    kwargs = {"RoleArn": role_arn(account), "RoleSessionName": "byoc.inst-01test.install", "ExternalId": EXTERNAL_ID}
    if source_identity is not None:
        kwargs["SourceIdentity"] = source_identity
    credentials = stack.client("sts").assume_role(**kwargs)["Credentials"]
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    return lambda service: stack.client(service, **keys)


def assume_log(stack) -> list[dict]:
    path = stack.state_dir / "logs" / "assume-role.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_the_template_requires_a_source_identity_and_records_it(stack):
    account = access_stack(stack)
    refused(lambda: session(stack, account, source_identity=None), "AccessDenied")
    message = refused(lambda: session(stack, account, source_identity="someone-else"), "AccessDenied")
    assert "sts:AssumeRole" in message
    assert EXTERNAL_ID not in message
    message = refused(lambda: session(stack, account, source_identity="byoc/inst-01test/install"), "ValidationError")
    assert "sourceIdentity" in message
    client = session(stack, account)
    assert client("sts").get_caller_identity()["Account"] == account
    entries = [e for e in assume_log(stack) if e["role"] == role_arn(account)]
    assert [(e["source_identity"], e["allowed"]) for e in entries] == [
        (None, False),
        ("someone-else", False),
        ("byoc/inst-01test/install", False),
        ("byoc.inst-01test.install", True),
    ]
    assert EXTERNAL_ID not in json.dumps(entries)
    client("ec2").describe_vpcs()
    decisions = (stack.state_dir / "logs" / "iam-decisions.jsonl").read_text().splitlines()
    mine = [json.loads(line) for line in decisions if role_arn(account) in line]
    assert mine and all(d["source_identity"] == "byoc.inst-01test.install" for d in mine), mine


def test_set_source_identity_needs_its_own_permission_in_the_trust_policy(stack):
    account = fresh_account()
    iam = stack.client("iam", account=account)
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}
    iam.create_role(RoleName=ROLE_NAME, Path="/byoc/", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}))
    message = refused(lambda: session(stack, account), "AccessDenied")
    assert message.endswith(f"is not authorized to perform: sts:SetSourceIdentity on resource: {role_arn(account)}")
    assert session(stack, account, source_identity=None)("sts").get_caller_identity()["Account"] == account


def test_paused_access_refuses_everything_but_reading_the_role_and_the_stack(stack):
    account = access_stack(stack)
    session(stack, account)("ec2").describe_vpcs()
    switch(stack, account, VendorAccess="paused")
    client = session(stack, account)  # still assumable: paused is not gone
    refused(lambda: client("ec2").describe_vpcs(), "UnauthorizedOperation")
    refused(lambda: client("eks").list_clusters(), "AccessDeniedException")
    assert client("iam").get_role(RoleName=ROLE_NAME)["Role"]["RoleName"] == ROLE_NAME
    described = client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["VendorAccess"] == "paused"
    switch(stack, account)  # left out of the update: back to its default, enabled
    session(stack, account)("ec2").describe_vpcs()


def _upgrade_refusal(stack, account: str) -> str | None:
    """Updates an install's cluster from 1.33 to 1.34 through the customer role: IAM's
    refusal, or None when the update started."""
    eks = session(stack, account)("eks")
    try:
        update = eks.update_cluster_version(name="byoc-inst-01test", version="1.34")["update"]
    except eks.exceptions.ClientError as error:
        return error.response["Error"]["Code"]
    assert update["type"] == "VersionUpdate"
    return None


@pytest.mark.parametrize(
    "allow_changes, refused_with",
    [
        ("yes", None),
        ("no", "AccessDeniedException"),
        ((dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), "AccessDeniedException"),
        ((dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), None),
    ],
)
def test_allow_changes_bounds_upgrades(stack, allow_changes, refused_with):
    customer = Customer(stack, now=PINNED)
    customer.active_cluster("byoc-inst-01test", version="1.33", tags={"byoc:install-id": "inst-01test"})
    account = access_stack(stack, customer.account)
    switch(stack, account, AllowChanges=allow_changes)
    assert _upgrade_refusal(stack, account) == refused_with


def test_a_stack_update_changes_and_removes_inline_policies(stack):
    account = access_stack(stack, AllowChanges="no")
    iam = stack.client("iam", account=account)
    assert "day-2-changes" not in iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]
    switch(stack, account, AllowChanges="2030-01-01T00:00:00Z")
    names = iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]
    assert "day-2-changes" in names and "vendor-access-paused" not in names
    document = iam.get_role_policy(RoleName=ROLE_NAME, PolicyName="day-2-changes")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Condition"]["DateLessThan"] == {"aws:CurrentTime": "2030-01-01T00:00:00Z"}
    switch(stack, account, AllowChanges="yes", VendorAccess="paused")
    names = iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"]
    assert "vendor-access-paused" in names and "day-2-changes" in names
