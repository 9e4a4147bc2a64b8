"""Service Quotas as the installer needs it.

moto's Service Quotas knows only the `vpc` quotas, always at their default value, and has no
increase requests. The installer reads the quotas an install draws on (vpc, ec2, eks,
elasticloadbalancing), files increases, and waits for AWS to decide, so this module adds:

- the quotas below, with AWS's default values for a new account, to GetServiceQuota and
  GetAWSDefaultServiceQuota (other vpc quotas still come from moto's own table);
- an applied value per account: the default, unless a test sets it
      {"byoc": {"service_quotas": {"<account>": {"applied": {"L-1216C47A": 2}}}}}
  (a value of null means "no applied value": GetServiceQuota then answers
  NoSuchResourceException, as AWS does for some quotas, and clients fall back to the default);
- RequestServiceQuotaIncrease, GetRequestedServiceQuotaChange and
  ListRequestedServiceQuotaChangeHistoryByQuota, with AWS's response shapes, one open
  request per quota (a second one is ResourceAlreadyExistsException), and AWS's decision
  steered per account and quota:
      {"byoc": {"service_quotas": {"<account>": {"outcomes":
          {"L-1216C47A": {"decision": "approve", "after_polls": 2}}}}}}
  decision is approve | deny | pending. Every GetRequestedServiceQuotaChange of a request,
  and every ListRequestedServiceQuotaChangeHistoryByQuota listing it, is a poll; the
  decision shows from poll number `after_polls` on (0: at the first look). Optional keys:
  "pending_status" (default PENDING; CASE_OPENED to model a support case) and
  "denied_status" (default DENIED; NOT_APPROVED, CASE_CLOSED or INVALID_REQUEST).
  Approval raises the account's applied value to the desired value.
  Without a setting a request is approved at its first poll, as AWS approves small
  increases automatically.

On-Demand vCPU defaults: AWS gives new accounts 5 Standard vCPUs and 0 for the accelerated
and memory families (G and VT, P, X, F, Inf, DL, Trn, HPC, High Memory); those need a
request before the first instance, which is what the installer must cope with.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from . import control

_SECTION = "service_quotas"
_LOCK = threading.RLock()

SERVICE_NAMES = {
    "vpc": "Amazon Virtual Private Cloud (Amazon VPC)",
    "ec2": "Amazon Elastic Compute Cloud (Amazon EC2)",
    "eks": "Amazon Elastic Kubernetes Service (Amazon EKS)",
    "elasticloadbalancing": "Elastic Load Balancing (ELB)",
}


@dataclass(frozen=True)
class Quota:
    service: str
    code: str
    name: str
    default: float


QUOTAS = {
    q.code: q
    for q in [
        Quota("vpc", "L-F678F1CE", "VPCs per Region", 5.0),
        Quota("vpc", "L-A4707A72", "Internet gateways per Region", 5.0),
        Quota("vpc", "L-FE5A380F", "NAT gateways per Availability Zone", 5.0),
        Quota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs", 5.0),
        Quota("ec2", "L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 5.0),
        Quota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances", 0.0),
        Quota("ec2", "L-417A185B", "Running On-Demand P instances", 0.0),
        Quota("ec2", "L-7295265B", "Running On-Demand X instances", 0.0),
        Quota("ec2", "L-74FC7D96", "Running On-Demand F instances", 0.0),
        Quota("ec2", "L-1945791B", "Running On-Demand Inf instances", 0.0),
        Quota("ec2", "L-6E869C2A", "Running On-Demand DL instances", 0.0),
        Quota("ec2", "L-2C3B7624", "Running On-Demand Trn instances", 0.0),
        Quota("ec2", "L-F7808C92", "Running On-Demand HPC instances", 0.0),
        Quota("ec2", "L-43DA4232", "Running On-Demand High Memory instances", 0.0),
        Quota("eks", "L-1194D53C", "Clusters", 100.0),
        Quota("eks", "L-6D54EA21", "Managed node groups per cluster", 30.0),
        Quota("elasticloadbalancing", "L-69A177A2", "Network Load Balancers per Region", 50.0),
    ]
}

OPEN = ("PENDING", "CASE_OPENED")
DEFAULT_OUTCOME = {"decision": "approve", "after_polls": 1}
_NOT_SET = object()


def _error(code: str, message: str):
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _no_such_quota():
    return _error("NoSuchResourceException", "The request failed because the specified service quota does not exist.")


def _known(service_code: str, quota_code: str) -> Quota | None:
    quota = QUOTAS.get(quota_code)
    return quota if quota is not None and quota.service == service_code else None


def _quota_json(quota: Quota, value: float, region: str, account: str) -> dict[str, Any]:
    """A ServiceQuota as AWS returns it; the ARN carries the account for applied values and
    none for defaults."""
    return {
        "ServiceCode": quota.service,
        "ServiceName": SERVICE_NAMES[quota.service],
        "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:{quota.service}/{quota.code}",
        "QuotaCode": quota.code,
        "QuotaName": quota.name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


# ---------------------------------------------------------------- backend state


def _state(backend) -> dict[str, Any]:
    """Per account and region: requests by id, and values raised by approvals."""
    with _LOCK:
        if not hasattr(backend, "_byoc"):
            backend._byoc = {"requests": {}, "raised": {}, "polls": {}}
        return backend._byoc


def applied_value(backend, quota: Quota) -> float | None:
    configured = control.setting(_SECTION, backend.account_id, "applied", {}) or {}
    value = configured.get(quota.code, _NOT_SET) if isinstance(configured, dict) else _NOT_SET
    base = quota.default if value is _NOT_SET else (None if value is None else float(value))
    raised = _state(backend)["raised"].get(quota.code)
    if raised is None:
        return base
    return raised if base is None else max(base, raised)


def _outcome(backend, quota_code: str) -> dict[str, Any]:
    outcomes = control.setting(_SECTION, backend.account_id, "outcomes", {}) or {}
    outcome = outcomes.get(quota_code) if isinstance(outcomes, dict) else None
    return outcome if isinstance(outcome, dict) else DEFAULT_OUTCOME


def _poll(backend, request: dict[str, Any]) -> None:
    """Someone looked at an open request: move it on as the test steered it."""
    if request["Status"] not in OPEN:
        return
    state = _state(backend)
    polls = state["polls"][request["Id"]] = state["polls"].get(request["Id"], 0) + 1
    outcome = _outcome(backend, request["QuotaCode"])
    decision = outcome.get("decision", "approve")
    now = time.time()
    if decision in ("approve", "deny") and polls >= int(outcome.get("after_polls", 0)):
        if decision == "approve":
            request["Status"] = "APPROVED"
            raised = state["raised"]
            raised[request["QuotaCode"]] = max(raised.get(request["QuotaCode"], 0.0), request["DesiredValue"])
        else:
            request["Status"] = outcome.get("denied_status", "DENIED")
        request["LastUpdated"] = now
    else:
        pending_status = outcome.get("pending_status", "PENDING")
        if pending_status != request["Status"]:
            request["Status"] = pending_status
            request["LastUpdated"] = now
        if pending_status == "CASE_OPENED" and not request["CaseId"]:
            request["CaseId"] = f"case-{backend.account_id}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- backend methods


def get_service_quota(self, service_code: str, quota_code: str, _original=None) -> dict[str, Any]:
    quota = _known(service_code, quota_code)
    if quota is None:
        return _original(self, service_code=service_code, quota_code=quota_code)
    value = applied_value(self, quota)
    if value is None:
        raise _no_such_quota()
    return _quota_json(quota, value, self.region_name, self.account_id)


def get_aws_default_service_quota(self, service_code: str, quota_code: str) -> dict[str, Any]:
    quota = _known(service_code, quota_code)
    if quota is not None:
        return _quota_json(quota, quota.default, self.region_name, "")
    from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS

    for default in VPC_DEFAULT_QUOTAS if service_code == "vpc" else []:
        if default["QuotaCode"] == quota_code:
            return dict(default, QuotaArn=f"arn:aws:servicequotas:{self.region_name}::vpc/{quota_code}")
    raise _no_such_quota()


def request_service_quota_increase(self, service_code: str, quota_code: str, desired_value: float) -> dict[str, Any]:
    quota = _known(service_code, quota_code)
    if quota is None:
        raise _no_such_quota()
    with _LOCK:
        requests = _state(self)["requests"]
        if any(r["QuotaCode"] == quota_code and r["Status"] in OPEN for r in requests.values()):
            raise _error(
                "ResourceAlreadyExistsException",
                "Only one open service quota increase request is allowed per quota.",
            )
        applied = applied_value(self, quota)
        if applied is not None and desired_value <= applied:
            raise _error(
                "IllegalArgumentException",
                f"The requested value {desired_value} must be greater than the current value {applied}.",
            )
        now = time.time()
        request = {
            "Id": uuid.uuid4().hex,
            "CaseId": "",
            "ServiceCode": quota.service,
            "ServiceName": SERVICE_NAMES[quota.service],
            "QuotaCode": quota.code,
            "QuotaName": quota.name,
            "DesiredValue": float(desired_value),
            "Status": "PENDING",
            "Created": now,
            "LastUpdated": now,
            "Requester": json.dumps({"accountId": self.account_id, "callerArn": f"arn:aws:iam::{self.account_id}:root"}),
            "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{quota.service}/{quota.code}",
            "GlobalQuota": False,
            "Unit": "None",
            "QuotaRequestedAtLevel": "ACCOUNT",
        }
        requests[request["Id"]] = request
        return dict(request)


def get_requested_service_quota_change(self, request_id: str) -> dict[str, Any]:
    with _LOCK:
        request = _state(self)["requests"].get(request_id)
        if request is None:
            raise _error("NoSuchResourceException", f"The request {request_id} does not exist.")
        _poll(self, request)
        return dict(request)


def list_requested_service_quota_change_history_by_quota(
    self, service_code: str, quota_code: str, status: str | None = None
) -> list[dict[str, Any]]:
    if _known(service_code, quota_code) is None:
        raise _no_such_quota()
    with _LOCK:
        matching = [r for r in _state(self)["requests"].values() if r["QuotaCode"] == quota_code]
        for request in matching:
            _poll(self, request)
        matching = [dict(r) for r in matching if status is None or r["Status"] == status]
    return sorted(matching, key=lambda r: r["Created"], reverse=True)


# ---------------------------------------------------------------- responses


def _params(response) -> dict[str, Any]:
    return json.loads(response.body or "{}")


def _respond_get_aws_default_service_quota(self) -> str:
    params = _params(self)
    quota = self.backend.get_aws_default_service_quota(str(params.get("ServiceCode")), str(params.get("QuotaCode")))
    return json.dumps({"Quota": quota})


def _respond_request_service_quota_increase(self) -> str:
    params = _params(self)
    try:
        desired = float(params.get("DesiredValue"))
    except (TypeError, ValueError):
        raise _error("IllegalArgumentException", "DesiredValue must be a number.") from None
    request = self.backend.request_service_quota_increase(str(params.get("ServiceCode")), str(params.get("QuotaCode")), desired)
    return json.dumps({"RequestedQuota": request})


def _respond_get_requested_service_quota_change(self) -> str:
    request = self.backend.get_requested_service_quota_change(str(_params(self).get("RequestId")))
    return json.dumps({"RequestedQuota": request})


def _respond_list_requested_service_quota_change_history_by_quota(self) -> str:
    params = _params(self)
    requests = self.backend.list_requested_service_quota_change_history_by_quota(
        str(params.get("ServiceCode")), str(params.get("QuotaCode")), params.get("Status")
    )
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 100)
    body: dict[str, Any] = {"RequestedQuotas": requests[start : start + size]}
    if start + size < len(requests):
        body["NextToken"] = str(start + size)
    return json.dumps(body)


def install() -> None:
    from moto.servicequotas.models import ServiceQuotasBackend
    from moto.servicequotas.responses import ServiceQuotasResponse

    if getattr(ServiceQuotasBackend, "_byoc_extended", False):
        return
    original_get = ServiceQuotasBackend.get_service_quota

    def get(self, service_code: str, quota_code: str) -> dict[str, Any]:
        return get_service_quota(self, service_code, quota_code, _original=original_get)

    ServiceQuotasBackend.get_service_quota = get  # type: ignore[method-assign]
    ServiceQuotasBackend.get_aws_default_service_quota = get_aws_default_service_quota  # type: ignore[attr-defined]
    ServiceQuotasBackend.request_service_quota_increase = request_service_quota_increase  # type: ignore[attr-defined]
    ServiceQuotasBackend.get_requested_service_quota_change = get_requested_service_quota_change  # type: ignore[attr-defined]
    ServiceQuotasBackend.list_requested_service_quota_change_history_by_quota = (  # type: ignore[attr-defined]
        list_requested_service_quota_change_history_by_quota
    )
    ServiceQuotasResponse.get_aws_default_service_quota = _respond_get_aws_default_service_quota  # type: ignore[attr-defined]
    ServiceQuotasResponse.request_service_quota_increase = _respond_request_service_quota_increase  # type: ignore[attr-defined]
    ServiceQuotasResponse.get_requested_service_quota_change = _respond_get_requested_service_quota_change  # type: ignore[attr-defined]
    ServiceQuotasResponse.list_requested_service_quota_change_history_by_quota = (  # type: ignore[attr-defined]
        _respond_list_requested_service_quota_change_history_by_quota
    )
    ServiceQuotasBackend._byoc_extended = True  # type: ignore[attr-defined]
