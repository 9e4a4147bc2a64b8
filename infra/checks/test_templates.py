"""Guards on every IAM policy in cfn/*.yaml: what a security review would refuse."""

from __future__ import annotations

import pytest

from iam_policies import TEMPLATES, Statement, load, statements

ALL = [st for path in TEMPLATES for st in statements(path)]


def ids(st: Statement) -> str:
    return st.where


def test_the_templates_have_policies_to_check():
    assert {p.name for p in TEMPLATES} >= {"customer-role.yaml", "vendor.yaml"}
    assert len(ALL) > 20


@pytest.mark.parametrize("st", ALL, ids=ids)
def test_no_wildcard_principal(st: Statement):
    principal = st.body.get("Principal")
    assert principal != "*", f"{st.where}: Principal *"
    if isinstance(principal, dict):
        for kind, value in principal.items():
            values = value if isinstance(value, list) else [value]
            assert "*" not in values, f"{st.where}: Principal {kind}: *"


@pytest.mark.parametrize("st", ALL, ids=ids)
def test_no_service_wide_or_global_actions(st: Statement):
    if st.body.get("Effect") == "Deny":
        return  # a Deny only takes away (the customer's pause denies all but two actions)
    for action in st.actions():
        assert action != "*" and action != "*:*", f"{st.where}: Action {action}"
        service, _, name = action.partition(":")
        assert name != "*", f"{st.where}: Action {action} grants the whole service"
        assert not (service == "iam" and "*" in name), f"{st.where}: Action {action} is an IAM wildcard"
    assert "NotAction" not in st.body, f"{st.where}: NotAction allows everything else"


@pytest.mark.parametrize("st", ALL, ids=ids)
def test_allow_statements_name_resources_and_denies_are_the_customers_pause(st: Statement):
    if st.body.get("Effect") == "Deny":
        assert (st.template, st.body.get("Sid")) == ("customer-role.yaml", "PausedByTheCustomer"), st.where
        assert st.body["Resource"] == "*" and set(st.body["NotAction"]) == {"iam:GetRole", "cloudformation:DescribeStacks"}, st.where
        return
    assert st.body.get("Effect") == "Allow"
    if st.kind == "permissions":
        assert "Resource" in st.body, f"{st.where}: no Resource"


def test_customer_role_trust_always_requires_the_external_id():
    template = load(next(p for p in TEMPLATES if p.name == "customer-role.yaml"))
    trust = template["Resources"]["InstallerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust, "the installer role trusts nobody"
    for st in trust:
        condition = st.get("Condition", {}).get("StringEquals", {})
        assert condition.get("sts:ExternalId") == {"Ref": "ExternalId"}, f"trust statement {st.get('Sid')} lacks the sts:ExternalId condition"
        principal = st["Principal"]
        assert set(principal) == {"AWS"}, f"trust statement {st.get('Sid')} trusts {principal}"
    params = template["Parameters"]["ExternalId"]
    assert params.get("NoEcho") is True and int(params["MinLength"]) >= 32


def test_vendor_functions_may_assume_only_the_customer_role():
    template = load(next(p for p in TEMPLATES if p.name == "vendor.yaml"))
    for st in statements(next(p for p in TEMPLATES if p.name == "vendor.yaml")):
        if "sts:AssumeRole" in st.actions() and st.kind == "permissions":
            assert st.body["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/byoc/${CustomerRoleName}"}, st.where
    assert template["Parameters"]["CustomerRoleName"]["AllowedPattern"]
