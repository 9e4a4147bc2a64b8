"""Unit tests of the trust-policy evaluation (no server)."""

from __future__ import annotations

import json

from moto_ext.sts_trust import Caller, Request, trust_allows

VENDOR = Caller("123456789012", "arn:aws:iam::123456789012:user/moto", "arn:aws:iam::123456789012:user/moto")
VENDOR_ROLE = Caller(
    "123456789012",
    "arn:aws:sts::123456789012:assumed-role/installer/session",
    "arn:aws:iam::123456789012:role/byoc/installer",
)


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal, condition=None, action="sts:AssumeRole") -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def allows(document, caller=VENDOR, external_id="xid") -> bool:
    return trust_allows(document, Request(caller, external_id))


def test_principal_forms():
    assert allows(policy(allow({"AWS": "123456789012"})))
    assert allows(policy(allow({"AWS": "arn:aws:iam::123456789012:root"})))
    assert allows(policy(allow({"AWS": ["arn:aws:iam::999999999999:root", "123456789012"]})))
    assert allows(policy(allow({"AWS": "arn:aws:iam::123456789012:role/byoc/installer"})), VENDOR_ROLE)
    assert allows(policy(allow({"AWS": VENDOR_ROLE.arn})), VENDOR_ROLE)
    assert not allows(policy(allow({"AWS": "arn:aws:iam::123456789012:role/other"})), VENDOR_ROLE)
    assert not allows(policy(allow({"AWS": "999999999999"})))
    assert not allows(policy(allow({"Federated": "cognito-identity.amazonaws.com"})))
    assert allows(policy(allow("*")))


def test_actions():
    assert allows(policy(allow("*", action="sts:*")))
    assert allows(policy(allow("*", action="*")))
    assert allows(policy(allow("*", action=["sts:TagSession", "STS:AssumeRole"])))
    assert not allows(policy(allow("*", action="sts:AssumeRoleWithWebIdentity")))


def test_conditions():
    ext = {"StringEquals": {"sts:ExternalId": "xid"}}
    assert allows(policy(allow("*", ext)))
    assert not allows(policy(allow("*", ext)), external_id="other")
    assert not allows(policy(allow("*", ext)), external_id=None)
    assert allows(policy(allow("*", {"StringEquals": {"sts:externalid": ["a", "xid"]}})))
    assert allows(policy(allow("*", {"StringLike": {"sts:ExternalId": "x?d"}})))
    assert not allows(policy(allow("*", {"StringLike": {"sts:ExternalId": "x.d"}})))
    assert allows(policy(allow("*", {"StringEquals": {"aws:PrincipalAccount": "123456789012"}})))
    assert allows(
        policy(allow("*", {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/byoc/*"}})),
        VENDOR_ROLE,
    )
    # unsupported operator or key: conservative
    assert not allows(policy(allow("*", {"StringNotEquals": {"sts:ExternalId": "nope"}})))
    assert not allows(policy(allow("*", {"StringEquals": {"aws:SourceIp": "1.2.3.4"}})))


def test_deny_wins_and_unreadable_deny_denies():
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    assert not allows(policy(allow("*"), deny))
    odd_deny = dict(deny, Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}})
    assert not allows(policy(allow("*"), odd_deny))
    unrelated_deny = dict(deny, Condition={"StringEquals": {"sts:ExternalId": "other"}})
    assert allows(policy(allow("*"), unrelated_deny))


def test_document_forms():
    assert allows({"Statement": allow("*")})
    assert allows("%7B%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20"
                  "%22Principal%22%3A%20%22%2A%22%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%7D")
    assert not allows("")
    assert not allows("not json")
    assert not allows(policy())
