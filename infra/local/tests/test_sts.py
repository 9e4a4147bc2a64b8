"""AssumeRole into a customer account checks the role and its trust policy, as AWS does."""

from __future__ import annotations

import json
import urllib.request
import uuid
from urllib.parse import quote, urlencode

import botocore.exceptions
import pytest
from conftest import CUSTOMER_ACCOUNT, VENDOR_ACCOUNT

EXTERNAL_ID = "ext-" + uuid.uuid4().hex  # unique, so the log check below means something


def trust(principal, condition=None, effect="Allow", action="sts:AssumeRole") -> dict:
    statement = {"Effect": effect, "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def create_customer_role(stack, *statements, path="/byoc/", encode=False) -> str:
    name = f"byoc-installer-{uuid.uuid4().hex[:8]}"
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    iam = stack.client("iam", account=CUSTOMER_ACCOUNT)
    role = iam.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=quote(document) if encode else document,
    )["Role"]
    return role["Arn"]


VENDOR_WITH_EXTERNAL_ID = trust(
    {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"},
    {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
)


def assume(stack, role_arn, external_id=EXTERNAL_ID, **credentials):
    kwargs = {"RoleArn": role_arn, "RoleSessionName": "byoc-install"}
    if external_id is not None:
        kwargs["ExternalId"] = external_id
    return stack.client("sts", **credentials).assume_role(**kwargs)


def assert_denied(stack, role_arn, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        assume(stack, role_arn, **kwargs)
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Message"].endswith(
        f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )
    assert EXTERNAL_ID not in error["Message"]
    return error


def test_missing_role_is_access_denied(stack):
    error = assert_denied(stack, f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/byoc/missing")
    assert error["Message"].startswith(f"User: arn:aws:iam::{VENDOR_ACCOUNT}:")


def test_right_external_id_gives_customer_credentials(stack):
    role_arn = create_customer_role(stack, VENDOR_WITH_EXTERNAL_ID)
    assert ":role/byoc/" in role_arn
    credentials = assume(stack, role_arn)["Credentials"]
    identity = stack.client(
        "sts",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).get_caller_identity()
    assert identity["Account"] == CUSTOMER_ACCOUNT
    assert identity["Arn"].startswith(f"arn:aws:sts::{CUSTOMER_ACCOUNT}:assumed-role/")


def test_wrong_or_missing_external_id(stack):
    role_arn = create_customer_role(stack, VENDOR_WITH_EXTERNAL_ID)
    assert_denied(stack, role_arn, external_id="not-the-" + EXTERNAL_ID[:8])
    assert_denied(stack, role_arn, external_id=None)


def test_untrusted_caller_account(stack):
    role_arn = create_customer_role(
        stack,
        trust({"AWS": "444455556666"}, {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}),
    )
    assert_denied(stack, role_arn)


def test_service_principal_does_not_trust_accounts(stack):
    role_arn = create_customer_role(stack, trust({"Service": "lambda.amazonaws.com"}))
    assert_denied(stack, role_arn)


def test_wildcard_principal_is_allowed_by_sts(stack):
    role_arn = create_customer_role(stack, trust("*"))
    assert assume(stack, role_arn, external_id=None)["Credentials"]["AccessKeyId"]
    role_arn = create_customer_role(stack, trust({"AWS": "*"}))
    assert assume(stack, role_arn, external_id=None)["Credentials"]["AccessKeyId"]


def test_explicit_deny_wins(stack):
    role_arn = create_customer_role(
        stack,
        VENDOR_WITH_EXTERNAL_ID,
        trust({"AWS": VENDOR_ACCOUNT}, effect="Deny", action="sts:*"),
    )
    assert_denied(stack, role_arn)


def test_url_encoded_policy_and_string_like(stack):
    role_arn = create_customer_role(
        stack,
        trust(
            {"AWS": [f"arn:aws:iam::{VENDOR_ACCOUNT}:root"]},
            {"StringLike": {"sts:ExternalId": EXTERNAL_ID[:6] + "*"}},
            action=["sts:TagSession", "sts:AssumeRole"],
        ),
        encode=True,
    )
    assert assume(stack, role_arn)["Credentials"]["AccessKeyId"]


def test_assumed_role_caller_is_matched_by_role_arn(stack):
    """A vendor role (not the vendor's root) trusted by exact ARN, called with the
    session credentials of that role."""
    iam = stack.client("iam")
    vendor_role = iam.create_role(
        RoleName=f"vendor-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [trust({"AWS": VENDOR_ACCOUNT})]}
        ),
    )["Role"]["Arn"]
    # Cross-account: the caller's identity policy must allow it too (IAM User Guide,
    # "Cross-account policy evaluation logic"; moto_ext/iam_resolvers_vendor.py).
    iam.put_role_policy(
        RoleName=vendor_role.rsplit("/", 1)[1],
        PolicyName="assume-customer-role",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/byoc/*"}]}),
    )
    session = assume(stack, vendor_role, external_id=None)["Credentials"]
    credentials = {
        "aws_access_key_id": session["AccessKeyId"],
        "aws_secret_access_key": session["SecretAccessKey"],
        "aws_session_token": session["SessionToken"],
    }
    role_arn = create_customer_role(
        stack,
        trust(
            {"AWS": vendor_role},
            {"StringEquals": {"sts:ExternalId": EXTERNAL_ID, "aws:PrincipalAccount": VENDOR_ACCOUNT}},
        ),
    )
    assert assume(stack, role_arn, **credentials)["Credentials"]["AccessKeyId"]
    # the default vendor identity is not that role
    assert_denied(stack, role_arn)


def test_external_id_never_reaches_the_server_log(stack):
    role_arn = create_customer_role(stack, VENDOR_WITH_EXTERNAL_ID)
    assume(stack, role_arn)
    assert_denied(stack, role_arn, external_id=EXTERNAL_ID + "-wrong")
    # boto3 POSTs; a GET puts the parameters in the request line that the server logs
    query = urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": role_arn,
            "RoleSessionName": "by-hand",
            "ExternalId": EXTERNAL_ID,
        }
    )
    request = urllib.request.Request(
        f"{stack.endpoint}/?{query}",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sts/aws4_request, "
            "SignedHeaders=host, Signature=0"
        },
    )
    urllib.request.urlopen(request).read()
    log = stack.log()
    assert "ExternalId=REDACTED" in log
    assert EXTERNAL_ID not in log
    for name in stack.state_dir.joinpath("logs", "functions").glob("*.log"):
        assert EXTERNAL_ID not in name.read_text(errors="replace")
