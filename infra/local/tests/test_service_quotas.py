"""Service Quotas on the local stack: the quotas an install draws on with AWS's defaults, an
applied value per account that tests can set, and increase requests whose outcome a test
steers per account and quota."""

from __future__ import annotations

import json
import random
import urllib.request

import botocore.exceptions
import pytest

STANDARD_VCPUS = ("ec2", "L-1216C47A")
ELASTIC_IPS = ("ec2", "L-0263D0A3")


def new_account() -> str:
    return str(random.randint(200_000_000_000, 899_999_999_999))


def steer(stack, account: str, settings: dict) -> None:
    body = json.dumps({"byoc": {"service_quotas": {account: settings}}}).encode()
    request = urllib.request.Request(
        f"{stack.endpoint}/moto-api/config", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


def quotas(stack, account: str):
    return stack.client("service-quotas", account=account)


def applied(client, quota) -> float:
    return client.get_service_quota(ServiceCode=quota[0], QuotaCode=quota[1])["Quota"]["Value"]


def error_code(raised) -> str:
    return raised.value.response["Error"]["Code"]


def test_every_quota_an_install_needs_has_the_aws_default(stack):
    account = new_account()
    client = quotas(stack, account)
    expected = {
        ("vpc", "L-F678F1CE"): 5.0,
        ("vpc", "L-A4707A72"): 5.0,
        ("vpc", "L-FE5A380F"): 5.0,
        ELASTIC_IPS: 5.0,
        STANDARD_VCPUS: 5.0,
        ("ec2", "L-DB2E81BA"): 0.0,
        ("ec2", "L-1945791B"): 0.0,
        ("eks", "L-1194D53C"): 100.0,
        ("eks", "L-6D54EA21"): 30.0,
        ("elasticloadbalancing", "L-69A177A2"): 50.0,
    }
    for (service, code), value in expected.items():
        quota = client.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]
        assert (quota["QuotaCode"], quota["ServiceCode"], quota["Value"]) == (code, service, value)
        assert quota["QuotaArn"] == f"arn:aws:servicequotas:us-east-1:{account}:{service}/{code}"
        default = client.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]
        assert default["Value"] == value and default["QuotaArn"] == f"arn:aws:servicequotas:us-east-1::{service}/{code}"
    # moto's own vpc table still answers for the quotas we did not add.
    peering = client.get_aws_default_service_quota(ServiceCode="vpc", QuotaCode="L-7E9ECCDB")["Quota"]
    assert peering["QuotaName"] == "Active VPC peering connections per VPC"
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_service_quota(ServiceCode="ec2", QuotaCode="L-F678F1CE")  # a vpc code under ec2
    assert error_code(raised) == "NoSuchResourceException"


def test_applied_values_are_per_account_and_may_be_missing(stack):
    low, other = new_account(), new_account()
    steer(stack, low, {"applied": {"L-1216C47A": 2, "L-0263D0A3": None}})
    assert applied(quotas(stack, low), STANDARD_VCPUS) == 2.0
    assert applied(quotas(stack, other), STANDARD_VCPUS) == 5.0
    # No applied value: GetServiceQuota refuses, the default is still there to fall back on.
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        applied(quotas(stack, low), ELASTIC_IPS)
    assert error_code(raised) == "NoSuchResourceException"
    default = quotas(stack, low).get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")
    assert default["Quota"]["Value"] == 5.0


def test_one_open_request_per_quota_with_the_aws_shape(stack):
    account = new_account()
    client = quotas(stack, account)
    steer(stack, account, {"outcomes": {"L-1216C47A": {"decision": "pending"}}})
    filed = client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-1216C47A", DesiredValue=16)["RequestedQuota"]
    assert filed["Status"] == "PENDING" and filed["DesiredValue"] == 16.0
    assert filed["QuotaArn"] == f"arn:aws:servicequotas:us-east-1:{account}:ec2/L-1216C47A"
    assert filed["QuotaName"].startswith("Running On-Demand Standard") and len(filed["Id"]) >= 32
    assert json.loads(filed["Requester"])["accountId"] == account

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-1216C47A", DesiredValue=32)
    assert error_code(raised) == "ResourceAlreadyExistsException"
    # Another quota, and the same quota in another account, are independent.
    client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-0263D0A3", DesiredValue=8)
    quotas(stack, new_account()).request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-1216C47A", DesiredValue=16)

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.request_service_quota_increase(ServiceCode="vpc", QuotaCode="L-F678F1CE", DesiredValue=5)
    assert error_code(raised) == "IllegalArgumentException", "not above the applied value"

    history = client.list_requested_service_quota_change_history_by_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")
    assert [r["Id"] for r in history["RequestedQuotas"]] == [filed["Id"]]
    assert applied(client, STANDARD_VCPUS) == 5.0, "a pending request changes nothing"


def test_approval_after_the_steered_number_of_polls_raises_the_applied_value(stack):
    account = new_account()
    client = quotas(stack, account)
    steer(stack, account, {"applied": {"L-1216C47A": 2}, "outcomes": {"L-1216C47A": {"decision": "approve", "after_polls": 3}}})
    request_id = client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-1216C47A", DesiredValue=12)["RequestedQuota"]["Id"]

    seen = [client.get_requested_service_quota_change(RequestId=request_id)["RequestedQuota"]["Status"]]
    # A listing is a poll too.
    listed = client.list_requested_service_quota_change_history_by_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")
    seen.append(listed["RequestedQuotas"][0]["Status"])
    seen.append(client.get_requested_service_quota_change(RequestId=request_id)["RequestedQuota"]["Status"])
    seen.append(client.get_requested_service_quota_change(RequestId=request_id)["RequestedQuota"]["Status"])
    assert seen == ["PENDING", "PENDING", "APPROVED", "APPROVED"]
    assert applied(client, STANDARD_VCPUS) == 12.0
    # Closed, so a new request may be filed.
    client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-1216C47A", DesiredValue=20)


def test_denial_and_support_cases_use_the_steered_statuses(stack):
    account = new_account()
    client = quotas(stack, account)
    steer(
        stack,
        account,
        {
            "outcomes": {
                "L-0263D0A3": {"decision": "deny", "after_polls": 1, "denied_status": "NOT_APPROVED"},
                "L-1216C47A": {"decision": "pending", "pending_status": "CASE_OPENED"},
            }
        },
    )
    eip = client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-0263D0A3", DesiredValue=10)["RequestedQuota"]["Id"]
    vcpu = client.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-1216C47A", DesiredValue=10)["RequestedQuota"]["Id"]
    assert client.get_requested_service_quota_change(RequestId=eip)["RequestedQuota"]["Status"] == "NOT_APPROVED"
    assert applied(client, ELASTIC_IPS) == 5.0, "a denial changes nothing"
    case = client.get_requested_service_quota_change(RequestId=vcpu)["RequestedQuota"]
    assert case["Status"] == "CASE_OPENED" and case["CaseId"]
    only_open = client.list_requested_service_quota_change_history_by_quota(
        ServiceCode="ec2", QuotaCode="L-1216C47A", Status="CASE_OPENED"
    )
    assert [r["Id"] for r in only_open["RequestedQuotas"]] == [vcpu]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_requested_service_quota_change(RequestId="0" * 32)
    assert error_code(raised) == "NoSuchResourceException"


def test_history_pages(stack):
    account = new_account()
    client = quotas(stack, account)
    steer(stack, account, {"outcomes": {"L-69A177A2": {"decision": "deny", "after_polls": 0}}})
    for value in (60, 70, 80):
        request_id = client.request_service_quota_increase(
            ServiceCode="elasticloadbalancing", QuotaCode="L-69A177A2", DesiredValue=value
        )["RequestedQuota"]["Id"]
        client.get_requested_service_quota_change(RequestId=request_id)  # denied, so the next may be filed
    pages = client.get_paginator("list_requested_service_quota_change_history_by_quota").paginate(
        ServiceCode="elasticloadbalancing", QuotaCode="L-69A177A2", PaginationConfig={"PageSize": 2}
    )
    values = [r["DesiredValue"] for page in pages for r in page["RequestedQuotas"]]
    assert values == [80.0, 70.0, 60.0], "newest first, across pages"
