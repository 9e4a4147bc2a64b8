"""Opt-in Regions per account (moto_ext/region_opt_in.py): what EC2 DescribeRegions and Account
Management report for each account, and the refusal of calls an account makes in an opt-in
Region it has not enabled."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from conftest import VENDOR_ACCOUNT, fresh_account, refused, steer

OPT_IN = {
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1",
    "me-central-1", "me-south-1", "mx-central-1",
}
DEFAULT = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "sa-east-1",
}


def client(stack, service: str, region: str, account: str | None = None, **credentials):
    made = boto3.client(
        service,
        endpoint_url=stack.endpoint,
        region_name=region,
        aws_access_key_id=credentials.get("aws_access_key_id", "test"),
        aws_secret_access_key=credentials.get("aws_secret_access_key", "test"),
        aws_session_token=credentials.get("aws_session_token"),
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )
    if account:
        made.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return made


def regions(stack, account: str, **kwargs) -> dict[str, str]:
    answer = client(stack, "ec2", "us-east-1", account).describe_regions(**kwargs)["Regions"]
    return {r["RegionName"]: r["OptInStatus"] for r in answer}


def test_region_opt_in_describe_regions_answers_each_accounts_own_status(stack):
    plain, opted = fresh_account(), fresh_account()
    steer(stack, "regions", opted, opted_in=["af-south-1", "eu-south-2"])

    everything = regions(stack, plain, AllRegions=True)
    assert set(everything) == OPT_IN | DEFAULT  # the aws partition only: no GovCloud or China Regions
    assert {r for r, s in everything.items() if s == "not-opted-in"} == OPT_IN
    assert {r for r, s in everything.items() if s == "opt-in-not-required"} == DEFAULT
    assert set(regions(stack, plain)) == DEFAULT  # without AllRegions: the enabled Regions only

    mine = regions(stack, opted)
    assert set(mine) == DEFAULT | {"af-south-1", "eu-south-2"}
    assert mine["af-south-1"] == mine["eu-south-2"] == "opted-in"
    assert regions(stack, opted, AllRegions=True)["me-south-1"] == "not-opted-in"


def test_region_opt_in_region_names_and_filters(stack):
    account = fresh_account()
    steer(stack, "regions", account, opted_in=["il-central-1"])
    # RegionNames: "any Regions, whether they are enabled and disabled for your account"
    assert regions(stack, account, RegionNames=["af-south-1", "il-central-1", "us-east-1"]) == {
        "af-south-1": "not-opted-in",
        "il-central-1": "opted-in",
        "us-east-1": "opt-in-not-required",
    }
    assert regions(stack, account, AllRegions=True, Filters=[{"Name": "opt-in-status", "Values": ["opted-in"]}]) == {"il-central-1": "opted-in"}
    assert set(regions(stack, account, AllRegions=True, Filters=[{"Name": "opt-in-status", "Values": ["not-opted-in"]}])) == OPT_IN - {"il-central-1"}
    assert set(regions(stack, account, Filters=[{"Name": "region-name", "Values": ["eu-*"]}])) == {"eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1"}
    ec2 = client(stack, "ec2", "us-east-1", account)
    refused(lambda: ec2.describe_regions(RegionNames=["xx-nowhere-1"]), "InvalidParameterValue")
    refused(lambda: ec2.describe_regions(Filters=[{"Name": "colour", "Values": ["blue"]}]), "InvalidParameterValue")


def test_region_opt_in_account_get_region_opt_status_and_list_regions(stack):
    account = fresh_account()
    steer(stack, "regions", account, opted_in=["ap-southeast-3"], enabling=["me-central-1"], disabling=["eu-south-1"])
    management = client(stack, "account", "us-east-1", account)
    status = lambda name: management.get_region_opt_status(RegionName=name)  # noqa: E731
    answer = status("ap-southeast-3")
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == {"RegionName": "ap-southeast-3", "RegionOptStatus": "ENABLED"}
    assert status("us-west-2")["RegionOptStatus"] == "ENABLED_BY_DEFAULT"
    assert status("af-south-1")["RegionOptStatus"] == "DISABLED"
    assert status("me-central-1")["RegionOptStatus"] == "ENABLING"
    assert status("eu-south-1")["RegionOptStatus"] == "DISABLING"
    refused(lambda: status("xx-nowhere-1"), "ValidationException")

    listed = [r for page in management.get_paginator("list_regions").paginate(PaginationConfig={"PageSize": 7}) for r in page["Regions"]]
    assert {r["RegionName"]: r["RegionOptStatus"] for r in listed} == {
        **{r: "ENABLED_BY_DEFAULT" for r in DEFAULT},
        **{r: "DISABLED" for r in OPT_IN},
        "ap-southeast-3": "ENABLED", "me-central-1": "ENABLING", "eu-south-1": "DISABLING",
    }
    enabled = management.list_regions(RegionOptStatusContains=["ENABLED", "ENABLING"])["Regions"]
    assert {r["RegionName"] for r in enabled} == {"ap-southeast-3", "me-central-1"}
    # an enabling (or disabling) Region cannot be used yet: EC2 does not count it as opted in
    assert regions(stack, account, RegionNames=["me-central-1", "eu-south-1"]) == {"me-central-1": "not-opted-in", "eu-south-1": "not-opted-in"}


def test_region_opt_in_calls_in_a_disabled_region_are_refused_per_protocol(stack):
    account = fresh_account()
    ec2 = client(stack, "ec2", "af-south-1", account)
    message = refused(lambda: ec2.describe_vpcs(), "AuthFailure")
    assert message == "AWS was not able to validate the provided access credentials"
    refused(lambda: client(stack, "lambda", "af-south-1", account).list_functions(), "UnrecognizedClientException")  # REST-JSON
    refused(lambda: client(stack, "logs", "af-south-1", account).describe_log_groups(), "UnrecognizedClientException")  # JSON 1.1
    refused(lambda: client(stack, "cloudformation", "af-south-1", account).list_stacks(), "InvalidClientTokenId")  # query
    message = refused(lambda: client(stack, "sts", "af-south-1", account).get_caller_identity(), "RegionDisabledException")
    assert message == f"STS is not activated in this region for account:{account}. Your account administrator can activate STS in this region using the IAM Console."
    # a global service is reached at its one endpoint whatever the client's Region
    client(stack, "iam", "af-south-1", account).list_roles()
    # the Regions every existing test uses are untouched
    for region in ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1"):
        client(stack, "ec2", region, account).describe_vpcs()
        client(stack, "sts", region, account).get_caller_identity()


def test_region_opt_in_enabled_region_works_and_refusal_is_steerable(stack):
    opted, lenient = fresh_account(), fresh_account()
    steer(stack, "regions", opted, opted_in=["eu-south-1"])
    vpc = client(stack, "ec2", "eu-south-1", opted).create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    assert client(stack, "ec2", "eu-south-1", opted).describe_vpcs(VpcIds=[vpc])["Vpcs"]
    assert client(stack, "sts", "eu-south-1", opted).get_caller_identity()["Account"] == opted
    refused(lambda: client(stack, "ec2", "me-south-1", opted).describe_vpcs(), "AuthFailure")  # only the Region it enabled
    steer(stack, "regions", lenient, refuse_calls=False)
    assert "Vpcs" in client(stack, "ec2", "me-south-1", lenient).describe_vpcs()
    assert regions(stack, lenient, RegionNames=["me-south-1"]) == {"me-south-1": "not-opted-in"}  # still reported as disabled


def _customer_role(stack, account: str, *statements) -> str:
    iam = client(stack, "iam", "us-east-1", account)
    name = f"optin-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


def _credentials(answer: dict) -> dict:
    c = answer["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"], "aws_session_token": c["SessionToken"]}


def test_region_opt_in_assume_role_there_needs_both_accounts_to_have_enabled_it(stack):
    """RegionDisabledException: "STS is not activated in the requested region for the account that
    is being asked to generate credentials" (AssumeRole API reference)."""
    customer = fresh_account()
    role = _customer_role(stack, customer, {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"})
    vendor_sts = client(stack, "sts", "mx-central-1")  # the vendor account, which has not enabled it either
    message = refused(lambda: vendor_sts.assume_role(RoleArn=role, RoleSessionName="optin"), "RegionDisabledException")
    assert f"account:{VENDOR_ACCOUNT}." in message
    steer(stack, "regions", VENDOR_ACCOUNT, opted_in=["mx-central-1"])
    try:
        message = refused(lambda: vendor_sts.assume_role(RoleArn=role, RoleSessionName="optin"), "RegionDisabledException")
        assert f"account:{customer}." in message  # the account asked to generate the credentials
        steer(stack, "regions", customer, opted_in=["mx-central-1"])
        creds = _credentials(vendor_sts.assume_role(RoleArn=role, RoleSessionName="optin"))
        assert client(stack, "sts", "mx-central-1", **creds).get_caller_identity()["Account"] == customer
    finally:
        steer(stack, "regions", VENDOR_ACCOUNT, opted_in=[])


def test_region_opt_in_account_calls_are_authorized_as_iam_does(stack):
    customer = fresh_account()
    steer(stack, "regions", customer, opted_in=["ca-west-1"])
    vendor_sts = client(stack, "sts", "us-east-1")
    only_ca_west = _customer_role(stack, customer, {
        "Effect": "Allow", "Action": ["account:GetRegionOptStatus", "account:ListRegions"], "Resource": f"arn:aws:account::{customer}:account",
        "Condition": {"StringEqualsIfExists": {"account:TargetRegion": "ca-west-1"}},
    })
    creds = _credentials(vendor_sts.assume_role(RoleArn=only_ca_west, RoleSessionName="optin"))
    management = client(stack, "account", "us-east-1", **creds)
    assert management.get_region_opt_status(RegionName="ca-west-1")["RegionOptStatus"] == "ENABLED"
    message = refused(lambda: management.get_region_opt_status(RegionName="af-south-1"), "AccessDeniedException")
    assert f"is not authorized to perform: account:GetRegionOptStatus on resource: arn:aws:account::{customer}:account" in message
    assert management.list_regions(RegionOptStatusContains=["ENABLED"])["Regions"] == [{"RegionName": "ca-west-1", "RegionOptStatus": "ENABLED"}]
    nothing = _customer_role(stack, customer, {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"})
    creds = _credentials(vendor_sts.assume_role(RoleArn=nothing, RoleSessionName="optin"))
    refused(lambda: client(stack, "account", "us-east-1", **creds).list_regions(), "AccessDeniedException")
    # DescribeRegions with the role's credentials answers for the role's account
    ec2 = client(stack, "ec2", "us-east-1", **creds)
    assert {r["RegionName"] for r in ec2.describe_regions()["Regions"]} == DEFAULT | {"ca-west-1"}


def test_region_opt_in_management_account_reads_a_members_status_with_trusted_access(stack):
    management = fresh_account()
    org = client(stack, "organizations", "us-east-1", management)
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    steer(stack, "regions", member, opted_in=["ap-south-2"])
    accounts = client(stack, "account", "us-east-1", management)
    refused(lambda: accounts.get_region_opt_status(AccountId=member, RegionName="ap-south-2"), "AccessDeniedException")  # no trusted access yet
    org.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    assert accounts.get_region_opt_status(AccountId=member, RegionName="ap-south-2")["RegionOptStatus"] == "ENABLED"
    assert accounts.get_region_opt_status(RegionName="ap-south-2")["RegionOptStatus"] == "DISABLED"  # its own
    refused(lambda: accounts.get_region_opt_status(AccountId=management, RegionName="ap-south-2"), "ValidationException")
    outsider = client(stack, "account", "us-east-1", fresh_account())
    refused(lambda: outsider.get_region_opt_status(AccountId=member, RegionName="ap-south-2"), "AccessDeniedException")
