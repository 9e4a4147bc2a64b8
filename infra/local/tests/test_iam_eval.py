"""Unit tests of the IAM identity-policy evaluation engine (no server, no moto)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # infra/local, like conftest.py

from moto_ext.iam_eval import Decision, Policy, Principal, evaluate, explain  # noqa: E402

ACCOUNT = "111122223333"
SUBNET = f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/subnet-1"
VPC = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-1"
BUCKET_OBJ = "arn:aws:s3:::bucket/a/b/c.txt"


def doc(*statements, version="2012-10-17") -> dict:
    d = {"Statement": list(statements)}
    if version:
        d["Version"] = version
    return d


def stmt(effect="Allow", action="*", resource="*", condition=None, **extra) -> dict:
    s = {"Effect": effect, **extra}
    if action is not None:
        s["Action"] = action
    if resource is not None:
        s["Resource"] = resource
    if condition is not None:
        s["Condition"] = condition
    return s


def who(*statements, boundary=None, session=(), version="2012-10-17") -> Principal:
    return Principal(
        (Policy("inline:test", doc(*statements, version=version)),),
        boundary=Policy("boundary-policy", boundary) if boundary is not None else None,
        session_policies=tuple(Policy(f"session-{i}", d) for i, d in enumerate(session)),
    )


def decide(*statements, action="s3:GetObject", resource=BUCKET_OBJ, context=None, **kw) -> Decision:
    return evaluate(who(*statements, **kw), action, resource, context or {})


def allows(condition, context) -> bool:
    """Does an Allow statement with this condition apply?"""
    return decide(stmt(condition=condition), context=context).allowed


def denies(condition, context) -> bool:
    """Does a Deny statement with this condition apply (next to an Allow of everything)?"""
    d = decide(stmt(), stmt("Deny", condition=condition), context=context)
    return d.effect == "ExplicitDeny"


# ---------------------------------------------------------------- operators

B64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731

OPERATOR_CASES = [
    # operator, policy value, context value, expected
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True),
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", "abc", "abc", False),
    ("StringNotEquals", ["x", "abc"], "abc", False),
    ("StringNotEquals", ["x", "y"], "abc", True),
    ("StringEqualsIgnoreCase", "Abc", "aBC", True),
    ("StringEqualsIgnoreCase", "Abc", "abd", False),
    ("StringNotEqualsIgnoreCase", "Abc", "aBC", False),
    ("StringNotEqualsIgnoreCase", "Abc", "xyz", True),
    ("StringLike", "inst-*", "inst-42", True),
    ("StringLike", "inst-*", "INST-42", False),
    ("StringLike", "in?t-1", "inst-1", True),
    ("StringLike", "in?t-1", "innst-1", False),
    ("StringLike", "a.c", "abc", False),  # regex characters are literal
    ("StringLike", "*", "", True),
    ("StringNotLike", "inst-*", "other", True),
    ("StringNotLike", "inst-*", "inst-2", False),
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", 10, True),
    ("NumericEquals", 10, "10.0", True),
    ("NumericEquals", "10", "11", False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False),
    ("NumericLessThan", "10", "9.5", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "11", False),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10", "-3", False),
    ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
    ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", True),
    ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),
    ("DateEquals", "2020-01-01T00:00:00Z", 1577836800, True),
    ("DateEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),
    ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z", False),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", True),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
    ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
    ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", False),
    ("DateGreaterThan", 1577836800, "2020-06-01T00:00:00Z", True),
    ("DateGreaterThan", "2020-01-01T00:00:00Z", "2019-06-01T00:00:00Z", False),
    ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z", True),
    ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "2019-12-31T00:00:00Z", False),
    ("Bool", "true", True, True),
    ("Bool", "true", "true", True),
    ("Bool", True, "TRUE", True),
    ("Bool", "true", False, False),
    ("Bool", "false", "false", True),
    ("BinaryEquals", B64("hello"), B64("hello"), True),
    ("BinaryEquals", B64("hello"), B64("world"), False),
    ("IpAddress", "203.0.113.0/24", "203.0.113.9", True),
    ("IpAddress", "203.0.113.0/24", "198.51.100.1", False),
    ("IpAddress", "203.0.113.9", "203.0.113.9", True),
    ("IpAddress", "2001:DB8::/32", "2001:db8::1", True),
    ("IpAddress", "0.0.0.0/0", "2001:db8::1", False),
    ("IpAddress", ["10.0.0.0/8", "203.0.113.0/24"], "203.0.113.1", True),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
    ("ArnLike", "arn:aws:iam::*:role/byoc/*", f"arn:aws:iam::{ACCOUNT}:role/byoc/installer", True),
    ("ArnLike", "arn:aws:iam::*:role/byoc/*", f"arn:aws:iam::{ACCOUNT}:role/other", False),
    ("ArnLike", "arn:aws:iam::*:role/byoc/*", f"arn:aws:iam::{ACCOUNT}:role/BYOC/x", False),
    ("ArnEquals", "arn:aws:iam::*:role/byoc/*", f"arn:aws:iam::{ACCOUNT}:role/byoc/x", True),
    ("ArnEquals", f"arn:aws:iam::{ACCOUNT}:role/x", f"arn:aws:iam::{ACCOUNT}:role/x", True),
    ("ArnLike", "arn:aws:logs:*:*:log-group:/byoc/*", "arn:aws:logs:us-east-1:1:log-group:/byoc/x:log-stream:y", True),
    ("ArnLike", "arn:aws:ec2:us-?ast-1:*:vpc/*", VPC, True),
    ("ArnLike", "arn:aws:iam::*:role/*", "not-an-arn", False),
    ("ArnNotLike", "arn:aws:iam::*:role/byoc/*", f"arn:aws:iam::{ACCOUNT}:role/other", True),
    ("ArnNotLike", "arn:aws:iam::*:role/byoc/*", f"arn:aws:iam::{ACCOUNT}:role/byoc/x", False),
    ("ArnNotEquals", f"arn:aws:iam::{ACCOUNT}:role/x", f"arn:aws:iam::{ACCOUNT}:role/x", False),
]


@pytest.mark.parametrize("op,policy_value,value,expected", OPERATOR_CASES)
def test_operator(op, policy_value, value, expected):
    condition = {op: {"test:Key": policy_value}}
    assert allows(condition, {"test:Key": value}) is expected
    assert denies(condition, {"test:Key": value}) is expected


def test_arn_operators_match_segment_by_segment_unlike_string_like():
    # The documented example: the first * may not swallow "us-east-2:999999999999:store/abc:".
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert not allows({"ArnLike": {"k": pattern}}, {"k": value})
    assert allows({"StringLike": {"k": pattern}}, {"k": value})


def test_arn_pattern_with_fewer_than_six_parts_is_indeterminate():
    condition = {"ArnLike": {"k": "arn:aws:iam::*"}}
    value = f"arn:aws:iam::{ACCOUNT}:role/x"
    assert not allows(condition, {"k": value})
    assert denies(condition, {"k": value})


@pytest.mark.parametrize(
    "op,policy_value,value",
    [
        ("NumericEquals", "10", "ten"),  # unparsable context value
        ("NumericEquals", "ten", "10"),  # unparsable policy value
        ("DateLessThan", "yesterday", "2020-01-01T00:00:00Z"),
        ("Bool", "yes", "true"),
        ("BinaryEquals", "***", B64("x")),
        ("IpAddress", "300.0.0.0/8", "10.0.0.1"),
        ("IpAddress", "10.0.0.0/8", "localhost"),
    ],
)
def test_unparsable_values_never_allow_and_always_deny(op, policy_value, value):
    condition = {op: {"test:Key": policy_value}}
    assert not allows(condition, {"test:Key": value})
    assert denies(condition, {"test:Key": value})


# ---------------------------------------------------------------- absent keys, IfExists, Null

POSITIVE = ["StringEquals", "StringEqualsIgnoreCase", "StringLike", "NumericEquals", "NumericLessThan",
            "DateEquals", "DateGreaterThan", "Bool", "BinaryEquals", "IpAddress", "ArnEquals", "ArnLike"]
NEGATED = ["StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
           "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"]
VALUE_FOR = {"Numeric": "1", "Date": "2020-01-01T00:00:00Z", "Bool": "true", "Binary": B64("x"),
             "IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8", "Arn": "arn:aws:s3:::b"}


def sample_value(op: str) -> str:
    return next((v for prefix, v in VALUE_FOR.items() if op.startswith(prefix)), "x")


@pytest.mark.parametrize("op", POSITIVE)
def test_absent_key_makes_positive_operators_false(op):
    condition = {op: {"test:Absent": sample_value(op)}}
    assert not allows(condition, {"other": "x"})
    assert not denies(condition, {"other": "x"})


@pytest.mark.parametrize("op", NEGATED)
def test_absent_key_makes_negated_operators_true(op):
    condition = {op: {"test:Absent": sample_value(op)}}
    assert allows(condition, {})
    assert denies(condition, {})


@pytest.mark.parametrize("op", POSITIVE + NEGATED)
def test_if_exists_is_true_for_an_absent_key(op):
    assert allows({op + "IfExists": {"test:Absent": sample_value(op)}}, {})


def test_if_exists_still_checks_a_present_key():
    assert allows({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {"ec2:InstanceType": "t3.micro"})
    assert not allows({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {"ec2:InstanceType": "m5.large"})
    assert denies({"StringNotEqualsIfExists": {"k": "a"}}, {})


@pytest.mark.parametrize(
    "policy_value,context,expected",
    [
        ("true", {}, True),
        ("true", {"k": "v"}, False),
        ("false", {"k": "v"}, True),
        ("false", {}, False),
        (True, {}, True),
        ("true", {"k": []}, True),  # an empty set is no value
        (["true", "false"], {"k": "v"}, True),
    ],
)
def test_null(policy_value, context, expected):
    assert allows({"Null": {"k": policy_value}}, context) is expected


def test_null_if_exists_is_not_an_operator():
    assert not allows({"NullIfExists": {"k": "true"}}, {})


# ---------------------------------------------------------------- set operators and multivalued keys

@pytest.mark.parametrize(
    "op,policy_value,context,expected",
    [
        ("ForAllValues:StringEquals", ["a", "b"], {"aws:TagKeys": ["a"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"aws:TagKeys": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"aws:TagKeys": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {"aws:TagKeys": []}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {}, True),
        ("ForAllValues:StringLike", ["byoc:*"], {"aws:TagKeys": ["byoc:x", "byoc:y"]}, True),
        ("ForAllValues:StringNotLike", ["secret*"], {"aws:TagKeys": ["x", "y"]}, True),
        ("ForAllValues:StringNotLike", ["secret*"], {"aws:TagKeys": ["x", "secretz"]}, False),
        ("ForAnyValue:StringEquals", ["a"], {"aws:TagKeys": ["c", "a"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {"aws:TagKeys": ["c"]}, False),
        ("ForAnyValue:StringEquals", ["a"], {"aws:TagKeys": []}, False),
        ("ForAnyValue:StringEquals", ["a"], {}, False),
        ("ForAnyValue:StringNotEquals", ["a"], {"aws:TagKeys": ["a", "b"]}, True),
        ("ForAnyValue:StringNotEquals", ["a"], {"aws:TagKeys": ["a"]}, False),
        ("ForAnyValue:StringNotEquals", ["a"], {}, False),
        ("ForAnyValue:StringEquals", "a", {"aws:TagKeys": "a"}, True),  # a scalar is a set of one
        ("ForAnyValue:StringEqualsIfExists", "a", {}, True),
        ("ForAllValues:StringEqualsIfExists", "a", {}, True),
    ],
)
def test_set_operators(op, policy_value, context, expected):
    assert allows({op: {"aws:TagKeys": policy_value}}, context) is expected


def test_multivalued_key_without_set_operator_is_indeterminate():
    condition = {"StringEquals": {"aws:TagKeys": ["a", "b"]}}
    context = {"aws:TagKeys": ["a", "b"]}
    assert not allows(condition, context)
    assert denies(condition, context)
    reason = decide(stmt(condition=condition), context=context).reason
    assert "multivalued" in reason


def test_one_element_list_is_a_single_value():
    assert allows({"StringEquals": {"k": "a"}}, {"k": ["a"]})
    assert not allows({"StringEquals": {"k": "a"}}, {"k": []})  # empty: absent


# ---------------------------------------------------------------- condition structure and keys

def test_keys_and_operators_are_anded():
    condition = {"StringEquals": {"k1": "a", "k2": "b"}, "Bool": {"k3": "true"}}
    assert allows(condition, {"k1": "a", "k2": "b", "k3": True})
    assert not allows(condition, {"k1": "a", "k2": "b"})
    assert not allows(condition, {"k1": "a", "k3": True})


def test_condition_key_names_are_case_insensitive_including_tag_keys():
    assert allows({"StringEquals": {"AWS:ResourceTag/Owner": "alice"}}, {"aws:resourcetag/owner": "alice"})
    assert allows({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"AWS:SOURCEIP": "10.1.2.3"})


def test_context_key_spelled_twice_with_different_values_is_ambiguous():
    context = {"aws:ResourceTag/Owner": "alice", "aws:ResourceTag/owner": "bob"}
    assert not allows({"StringEquals": {"aws:ResourceTag/Owner": "alice"}}, context)
    assert denies({"StringEquals": {"aws:ResourceTag/Owner": "alice"}}, context)


def test_unknown_operator_never_allows_always_denies_and_is_named_in_the_reason():
    condition = {"StringEqualz": {"k": "a"}}
    assert not allows(condition, {"k": "a"})
    assert denies(condition, {"k": "a"})
    allow_reason = decide(stmt(condition=condition), context={"k": "a"}).reason
    deny_reason = decide(stmt(), stmt("Deny", condition=condition), context={"k": "a"}).reason
    assert "StringEqualz" in allow_reason and "StringEqualz" in deny_reason


def test_operator_names_are_case_sensitive():
    assert not allows({"stringequals": {"k": "a"}}, {"k": "a"})


@pytest.mark.parametrize("condition", ["StringEquals", {"StringEquals": "k"}, {"StringEquals": {}},
                                       {"StringEquals": {"k": []}}, {"StringEquals": {"k": {"a": 1}}}])
def test_malformed_condition_never_allows_and_always_denies(condition):
    assert not decide(stmt(condition=condition), context={"k": "a"}).allowed
    assert decide(stmt(), stmt("Deny", condition=condition), context={"k": "a"}).effect == "ExplicitDeny"


# ---------------------------------------------------------------- the decision logic

def test_explicit_deny_overrides_allow():
    d = decide(stmt(Sid="All"), stmt("Deny", action="s3:GetObject", Sid="NoGet"))
    assert d == Decision(False, "ExplicitDeny", "inline:test#NoGet", d.reason)
    assert "explicitly denies s3:GetObject" in d.reason


def test_deny_in_another_policy_overrides_allow():
    p = Principal((Policy("allow", doc(stmt())), Policy("arn:aws:iam::1:policy/deny", doc(stmt("Deny")))))
    assert evaluate(p, "s3:GetObject", BUCKET_OBJ, {}).decided_by == "arn:aws:iam::1:policy/deny#0"


def test_allow_names_the_first_matching_identity_statement():
    d = decide(stmt(action="ec2:*", Sid="Ec2"), stmt(action="s3:*", Sid="S3"), stmt(Sid="All"))
    assert d == Decision(True, "Allow", "inline:test#S3", "inline:test#S3 allows s3:GetObject on " + BUCKET_OBJ)


def test_statement_index_labels_statements_without_sid():
    assert decide(stmt(action="ec2:*"), stmt(action="s3:*")).decided_by == "inline:test#1"


def test_nothing_allows_is_a_plain_implicit_deny():
    d = evaluate(Principal(()), "ec2:CreateSubnet", SUBNET, {})
    assert d == Decision(False, "ImplicitDeny", None, f"no statement allows ec2:CreateSubnet on {SUBNET}")


def test_boundary_without_allow_denies_even_when_identity_allows():
    d = decide(stmt(), boundary=doc(stmt(action="ec2:*")))
    assert (d.allowed, d.effect, d.decided_by) == (False, "ImplicitDeny", "boundary:boundary-policy (no Allow)")


def test_boundary_and_identity_both_allowing_allows():
    d = decide(stmt(Sid="Id"), boundary=doc(stmt(action="s3:*")))
    assert (d.allowed, d.decided_by) == (True, "inline:test#Id")


def test_boundary_alone_grants_nothing():
    d = decide(stmt(action="ec2:*"), boundary=doc(stmt()))
    assert (d.effect, d.decided_by) == ("ImplicitDeny", None)


def test_deny_in_boundary_is_explicit():
    d = decide(stmt(), boundary=doc(stmt(), stmt("Deny", action="s3:Get*", Sid="B")))
    assert (d.effect, d.decided_by) == ("ExplicitDeny", "boundary-policy#B")


def test_session_policy_limits_permissions():
    kw = {"session": [doc(stmt(action="s3:GetObject"))]}
    assert decide(stmt(action="s3:*"), **kw).allowed
    d = decide(stmt(action="s3:*"), action="s3:PutObject", **kw)
    assert (d.effect, d.decided_by) == ("ImplicitDeny", "session:session-0 (no Allow)")


def test_any_session_policy_may_allow():
    assert decide(stmt(), session=[doc(stmt(action="ec2:*")), doc(stmt(action="s3:*"))]).allowed


def test_session_policy_alone_grants_nothing_and_its_deny_is_explicit():
    assert decide(stmt(action="ec2:*"), session=[doc(stmt())]).decided_by is None
    assert decide(stmt(), session=[doc(stmt("Deny"))]).effect == "ExplicitDeny"


def test_malformed_boundary_denies():
    p = Principal((Policy("id", doc(stmt())),), boundary=Policy("b", "{not json"))
    assert evaluate(p, "s3:GetObject", BUCKET_OBJ, {}).decided_by == "boundary:b (no Allow)"


# ---------------------------------------------------------------- actions and NotAction

@pytest.mark.parametrize(
    "pattern,action,expected",
    [
        ("ec2:CreateSubnet", "ec2:createsubnet", True),
        ("EC2:Describe*", "ec2:DescribeVpcs", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetOObject", False),
        ("ec2:*", "ec2messages:GetMessages", False),
        ("*", "anything:AtAll", True),
        (["iam:PassRole", "s3:*"], "S3:PUTOBJECT", True),
        ("s3:Get*", "s3:PutObject", False),
    ],
)
def test_action_matching(pattern, action, expected):
    assert decide(stmt(action=pattern), action=action).allowed is expected


def test_not_action():
    assert decide(stmt(action=None, NotAction="iam:*")).allowed
    assert not decide(stmt(action=None, NotAction="iam:*"), action="IAM:CreateUser").allowed
    deny_all_but_s3 = stmt("Deny", action=None, NotAction=["s3:*"])
    assert decide(stmt(), deny_all_but_s3).allowed
    assert decide(stmt(), deny_all_but_s3, action="iam:CreateUser").effect == "ExplicitDeny"


# ---------------------------------------------------------------- resources and NotResource

@pytest.mark.parametrize(
    "pattern,resource,expected",
    [
        ("arn:aws:s3:::bucket/*", BUCKET_OBJ, True),  # * spans '/' in the resource part
        ("arn:aws:s3:::bucket", BUCKET_OBJ, False),
        ("arn:aws:s3:::Bucket/*", BUCKET_OBJ, False),  # case-sensitive
        (f"arn:aws:iam::*:role/x", f"arn:aws:iam::{ACCOUNT}:role/x", True),
        ("arn:aws:ec2:us-*:*:vpc/*", VPC, True),
        ("arn:aws:ec2:us-east-?:*:vpc/*", VPC, True),
        ("arn:aws:ec2:*:*:subnet/*", VPC, False),
        ("arn:aws:logs:*:*:log-group:/byoc/*", "arn:aws:logs:us-east-1:1:log-group:/byoc/x:log-stream:y", True),
        (["arn:aws:s3:::other/*", "arn:aws:s3:::bucket/a/*"], BUCKET_OBJ, True),
        ("*", VPC, True),
        ("arn:aws:ec2:*:vpc/*", VPC, False),  # * may not span segments: not a valid pattern
        ("arn:aws:ec2:*", VPC, False),
        ("arn:aws:*:us-east-1:*:vpc/*", VPC, False),  # no wildcard in the service segment
    ],
)
def test_resource_matching(pattern, resource, expected):
    assert decide(stmt(resource=pattern), resource=resource).allowed is expected


def test_invalid_resource_pattern_still_applies_to_a_deny():
    d = decide(stmt(), stmt("Deny", resource="arn:aws:ec2:*"), action="ec2:DeleteVpc", resource=VPC)
    assert d.effect == "ExplicitDeny"
    assert "treated as matching" in d.reason


def test_not_resource():
    everything_but_secret = stmt(resource=None, NotResource="arn:aws:s3:::bucket/secret/*")
    assert decide(everything_but_secret).allowed
    assert not decide(everything_but_secret, resource="arn:aws:s3:::bucket/secret/k").allowed
    deny_outside = stmt("Deny", resource=None, NotResource=["arn:aws:s3:::bucket/*"])
    assert decide(stmt(), deny_outside).allowed
    assert decide(stmt(), deny_outside, resource="arn:aws:s3:::elsewhere/k").effect == "ExplicitDeny"


# ---------------------------------------------------------------- policy variables

def test_username_variable_in_resource():
    s = stmt(action="iam:*AccessKey*", resource=f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")
    ctx = {"aws:username": "alice"}
    assert decide(s, action="iam:CreateAccessKey", resource=f"arn:aws:iam::{ACCOUNT}:user/alice", context=ctx).allowed
    assert not decide(s, action="iam:CreateAccessKey", resource=f"arn:aws:iam::{ACCOUNT}:user/bob", context=ctx).allowed


def test_variable_names_are_case_insensitive():
    s = stmt(resource="arn:aws:s3:::home/${AWS:UserName}/*")
    assert decide(s, resource="arn:aws:s3:::home/alice/x", context={"aws:username": "alice"}).allowed


def test_absent_variable_makes_the_resource_match_nothing():
    s = stmt(resource="arn:aws:s3:::home/${aws:username}/*")
    assert not decide(s, resource="arn:aws:s3:::home//x").allowed
    assert not decide(s, resource="arn:aws:s3:::home/${aws:username}/x").allowed
    assert not decide(stmt(), stmt("Deny", resource="arn:aws:s3:::home/${aws:username}/*"),
                      resource="arn:aws:s3:::home/x/y").effect == "ExplicitDeny"


def test_absent_variable_in_not_resource_is_indeterminate():
    s = {"resource": None, "NotResource": "arn:aws:s3:::home/${aws:username}/*"}
    assert not decide(stmt(**s)).allowed
    assert decide(stmt(), stmt("Deny", **s)).effect == "ExplicitDeny"


def test_default_value_for_an_absent_variable():
    s = stmt(resource="arn:aws:s3:::bucket-${aws:PrincipalTag/team, 'company-wide'}/*")
    assert decide(s, resource="arn:aws:s3:::bucket-company-wide/k").allowed
    assert not decide(s, resource="arn:aws:s3:::bucket-yellow/k").allowed
    tagged = {"aws:PrincipalTag/team": "yellow"}
    assert decide(s, resource="arn:aws:s3:::bucket-yellow/k", context=tagged).allowed
    assert not decide(s, resource="arn:aws:s3:::bucket-company-wide/k", context=tagged).allowed


def test_multivalued_key_is_no_value_as_a_variable():
    s = stmt(resource="arn:aws:s3:::b/${aws:TagKeys, 'none'}")
    assert decide(s, resource="arn:aws:s3:::b/none", context={"aws:TagKeys": ["a", "b"]}).allowed


def test_variable_values_are_literal_not_wildcards():
    s = stmt(resource="arn:aws:s3:::home/${aws:username}/*")
    assert not decide(s, resource="arn:aws:s3:::home/alice/x", context={"aws:username": "*"}).allowed


@pytest.mark.parametrize("escape,literal", [("${*}", "*"), ("${?}", "?"), ("${$}", "$")])
def test_escape_variables(escape, literal):
    condition = {"StringLike": {"k": f"a{escape}b"}}
    assert allows(condition, {"k": f"a{literal}b"})
    assert not allows(condition, {"k": "axb"})


def test_variable_in_condition_values():
    condition = {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}
    assert allows(condition, {"aws:ResourceTag/owner": "alice", "aws:username": "alice"})
    assert not allows(condition, {"aws:ResourceTag/owner": "alice", "aws:username": "bob"})
    assert allows({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}},
                  {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/x", "aws:PrincipalAccount": ACCOUNT})
    assert allows({"Bool": {"k": "${test:flag}"}}, {"k": "true", "test:flag": True})
    assert allows({"StringLike": {"s3:prefix": "${aws:username}/*"}}, {"s3:prefix": "alice/x", "aws:username": "alice"})


def test_absent_variable_in_condition_values():
    # The documented example: StringNotEquals against an unset principal tag matches, so the
    # Deny applies; StringEquals does not match.
    team = {"s3:ExistingObjectTag/Team": "blue"}
    assert denies({"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}, team)
    assert not allows({"StringEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}, team)
    assert allows({"StringEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team, 'blue'}"}}, team)
    # Inverted operators "do match against a null value" -- also for an Allow.
    assert allows({"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}, team)
    assert allows({"StringNotLike": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}*"}}, team)
    assert allows({"ArnNotLike": {"k": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}}, {"k": VPC})


def test_variables_are_not_substituted_in_numeric_operators():
    assert not allows({"NumericEquals": {"k": "${test:n}"}}, {"k": "1", "test:n": "1"})


def test_variables_need_version_2012_10_17():
    s = stmt(resource="arn:aws:s3:::home/${aws:username}")
    ctx = {"aws:username": "alice"}
    assert decide(s, resource="arn:aws:s3:::home/alice", context=ctx).allowed
    for version in ("2008-10-17", None):
        assert not decide(s, resource="arn:aws:s3:::home/alice", context=ctx, version=version).allowed
        assert decide(s, resource="arn:aws:s3:::home/${aws:username}", context=ctx, version=version).allowed


# ---------------------------------------------------------------- the EC2 CreateSubnet example

TAG = "aws:RequestTag/byoc:install-id"


def test_one_statement_with_request_tag_condition_allows_the_subnet_but_not_the_vpc():
    s = stmt(action="ec2:CreateSubnet", condition={"StringLike": {TAG: "inst-*"}})
    assert decide(s, action="ec2:CreateSubnet", resource=SUBNET, context={TAG: "inst-1"}).allowed
    d = decide(s, action="ec2:CreateSubnet", resource=VPC, context={})
    assert (d.allowed, d.effect, d.decided_by) == (False, "ImplicitDeny", None)
    assert d.reason.startswith(f"no statement allows ec2:CreateSubnet on {VPC}")
    assert TAG in d.reason and "key absent" in d.reason


def test_two_statements_allow_both_subnet_and_vpc():
    statements = (
        stmt(action="ec2:CreateSubnet", resource=f"arn:aws:ec2:*:{ACCOUNT}:subnet/*",
             condition={"StringLike": {TAG: "inst-*"}}, Sid="Subnet"),
        stmt(action="ec2:CreateSubnet", resource=f"arn:aws:ec2:*:{ACCOUNT}:vpc/*",
             condition={"StringLike": {"aws:ResourceTag/byoc:install-id": "inst-*"}}, Sid="Vpc"),
    )
    subnet = decide(*statements, action="ec2:CreateSubnet", resource=SUBNET, context={TAG: "inst-1"})
    vpc = decide(*statements, action="ec2:CreateSubnet", resource=VPC,
                 context={"aws:ResourceTag/byoc:install-id": "inst-1"})
    assert (subnet.allowed, subnet.decided_by) == (True, "inline:test#Subnet")
    assert (vpc.allowed, vpc.decided_by) == (True, "inline:test#Vpc")
    assert not decide(*statements, action="ec2:CreateSubnet", resource=VPC, context={TAG: "inst-1"}).allowed


# ---------------------------------------------------------------- documents

def test_json_text_and_url_encoded_documents():
    text = json.dumps(doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::bucket/*")))
    for document in (text, quote(text), quote(text, safe="")):
        assert evaluate(Principal((Policy("p", document),)), "s3:GetObject", BUCKET_OBJ, {}).allowed


def test_url_encoded_document_with_percent_in_values_after_decoding():
    text = json.dumps(doc(stmt(condition={"StringEquals": {"k": "100%"}})))
    assert evaluate(Principal((Policy("p", quote(text)),)), "s3:GetObject", BUCKET_OBJ, {"k": "100%"}).allowed
    assert evaluate(Principal((Policy("p", text),)), "s3:GetObject", BUCKET_OBJ, {"k": "100%"}).allowed


def test_statement_as_object_and_action_as_string():
    d = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
    assert evaluate(Principal((Policy("p", d),)), "s3:GetObject", BUCKET_OBJ, {}).allowed


@pytest.mark.parametrize(
    "document",
    ["", "{", "[]", '"text"', "{}", json.dumps({"Version": "2012-10-17"}),
     json.dumps({"Version": "2012-10-17", "Statement": "Allow"}),
     json.dumps({"Version": "2012-10-17", "Statement": ["Allow"]}),
     json.dumps({"Version": "2020-01-01", "Statement": [stmt()]}),
     json.dumps({"Version": "2012-10-17", "Statement": [stmt(), "junk"]})],
)
def test_malformed_documents_grant_nothing(document):
    d = evaluate(Principal((Policy("p", document),)), "s3:GetObject", BUCKET_OBJ, {})
    assert (d.allowed, d.effect) == (False, "ImplicitDeny")


@pytest.mark.parametrize(
    "bad",
    [
        {"Principal": {"AWS": "*"}},
        {"NotPrincipal": {"AWS": ACCOUNT}},
        {"action": None},  # no Action
        {"resource": None},  # no Resource
        {"NotAction": "ec2:*"},  # both Action and NotAction
        {"action": 5},
        {"resource": []},
        {"Unknown": 1},
    ],
)
def test_invalid_statement_never_allows_but_still_denies(bad):
    assert not decide(stmt(**bad)).allowed
    assert decide(stmt(), stmt("Deny", **bad)).effect == "ExplicitDeny"


def test_effect_other_than_allow_is_a_deny():
    d = decide(stmt(), stmt("deny"))
    assert d.effect == "ExplicitDeny" and "Effect 'deny'" in d.reason
    assert not decide(stmt("Permit")).allowed


def test_dict_documents_are_evaluated_repeatably():
    p = who(stmt(action="s3:*"))
    assert [evaluate(p, "s3:GetObject", BUCKET_OBJ, {}).allowed for _ in range(3)] == [True] * 3


# ---------------------------------------------------------------- reasons and explain

SECRET = "xid-s3cr3t-value"


def test_reasons_never_contain_context_values():
    context = {"sts:ExternalId": SECRET, "aws:username": SECRET}
    cases = [
        decide(stmt(condition={"StringEquals": {"sts:ExternalId": "other"}}), context=context),
        decide(stmt(), stmt("Deny", condition={"StringEquals": {"sts:ExternalId": SECRET}}), context=context),
        decide(stmt(condition={"StringEquals": {"sts:ExternalId": SECRET}}), context=context),
        decide(stmt(resource="arn:aws:s3:::${aws:username}/*"), context=context),
    ]
    assert [c.effect for c in cases] == ["ImplicitDeny", "ExplicitDeny", "Allow", "ImplicitDeny"]
    for c in cases:
        assert SECRET not in c.reason
    assert SECRET not in json.dumps(explain(who(stmt("Deny", condition={"StringNotEquals": {"sts:ExternalId": "x"}})),
                                            "s3:GetObject", BUCKET_OBJ, context))


def test_explain_lists_every_statement():
    p = who(stmt(action="ec2:*", Sid="Ec2"), stmt(Sid="All"), stmt("Deny", action="s3:Put*", Sid="NoPut"),
            boundary=doc(stmt(Sid="B")))
    out = explain(p, "s3:GetObject", BUCKET_OBJ, {})
    assert (out["allowed"], out["decided_by"]) == (True, "inline:test#All")
    assert [(s["group"], s["statement"], s["result"]) for s in out["statements"]] == [
        ("identity", "Ec2", "no match"), ("identity", "All", "match"),
        ("identity", "NoPut", "no match"), ("boundary", "B", "match"),
    ]
    assert explain(p, "s3:PutObject", BUCKET_OBJ, {})["effect"] == "ExplicitDeny"


def test_scps_deny_explicitly_and_every_level_must_allow():
    """Organizations User Guide, orgs_manage_policies_scps_evaluation.html."""
    role = (Policy("inline:role", doc(stmt(action="ec2:*"))),)
    full = (Policy("scp:FullAWSAccess", doc(stmt())),)
    guard = (Policy("scp:guardrail", doc(stmt("Deny", action="ec2:CreateVpc"))),)
    reads = (Policy("scp:reads", doc(stmt(action="ec2:Describe*"))),)
    denied = evaluate(Principal(role, scp_levels=(full, full + guard)), "ec2:CreateVpc", VPC, {})
    assert (denied.allowed, denied.effect, denied.decided_by) == (False, "ExplicitDeny", "scp:guardrail#0")
    assert evaluate(Principal(role, scp_levels=(full, full + guard)), "ec2:CreateSubnet", SUBNET, {}).allowed
    narrow = evaluate(Principal(role, scp_levels=(full, reads)), "ec2:CreateVpc", VPC, {})
    assert (narrow.allowed, narrow.effect) == (False, "ImplicitDeny")
    assert narrow.decided_by == "scp:reads (no Allow)"
    assert evaluate(Principal(role, scp_levels=(full, reads)), "ec2:DescribeVpcs", VPC, {}).allowed
    # An SCP never grants: the role must allow too.
    assert not evaluate(Principal(role, scp_levels=(full,)), "iam:GetRole", "*", {}).allowed
