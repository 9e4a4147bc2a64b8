"""Resource control policies of the customer's organization decide the vendor's AssumeRole too
(Organizations User Guide, orgs_manage_policies_rcps.html): a data-perimeter RCP that denies
principals from outside the organization refuses the vendor, as AWS would, unless it names the
vendor's account as trusted."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest
from conftest import VENDOR_ACCOUNT

EXTERNAL_ID = "ext-" + uuid.uuid4().hex


def _member(stack, management: str, rcp_of=None) -> str:
    """A member account of a new organization with RCPs enabled (every level keeps
    RCPFullAWSAccess); `rcp_of(org_id)`, if given, is attached to the account as well."""
    org = stack.client("organizations", account=management)
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    account = org.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    if rcp_of is not None:
        _attach(org, account, rcp_of(org_id))
    return account


def _attach(org, account: str, rcp: dict) -> None:
    policy = org.create_policy(Name=f"perimeter-{uuid.uuid4().hex[:6]}", Description="test", Type="RESOURCE_CONTROL_POLICY", Content=json.dumps(rcp))
    org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=account)


def _role(stack, account: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"},
                                                     "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}
    return stack.client("iam", account=account).create_role(RoleName="byoc-installer", Path="/byoc/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _perimeter(org_id: str, trusted: list[str]) -> dict:
    condition = {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    if trusted:
        condition["StringNotEqualsIfExists"]["aws:PrincipalAccount"] = trusted
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "EnforceOrgIdentities", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*", "Condition": condition},
    ]}


def _assume(stack, role_arn: str):
    return stack.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="byoc.inst-01test.install", ExternalId=EXTERNAL_ID)


def test_a_data_perimeter_rcp_refuses_the_vendor_with_awss_words(stack):
    management = "310987654321"
    account = _member(stack, management)
    role_arn = _role(stack, account)
    assert _assume(stack, role_arn)["Credentials"], "RCPFullAWSAccess alone allows"
    org = stack.client("organizations", account=management)
    _attach(org, account, _perimeter(org.describe_organization()["Organization"]["Id"], []))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        _assume(stack, role_arn)
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDenied" and raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # The vendor is outside the customer's organization: AWS does not name the policy type.
    assert error["Message"].endswith(f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}"), error
    assert EXTERNAL_ID not in error["Message"]


def test_a_caller_in_the_same_organization_is_told_which_policy_type_refused(stack):
    management = "310987654323"
    deny_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}]}
    account = _member(stack, management, lambda _org_id: deny_all)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{management}:root"}, "Action": "sts:AssumeRole"}]}
    role_arn = stack.client("iam", account=account).create_role(RoleName="org-admin", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        stack.client("sts", account=management).assume_role(RoleArn=role_arn, RoleSessionName="admin")
    assert raised.value.response["Error"]["Message"].endswith(f"on resource: {role_arn} with an explicit deny in a resource control policy"), raised.value.response


def test_a_perimeter_that_trusts_the_vendors_account_lets_it_in(stack):
    account = _member(stack, "310987654322", lambda org_id: _perimeter(org_id, [VENDOR_ACCOUNT]))
    assert _assume(stack, _role(stack, account))["Credentials"]
