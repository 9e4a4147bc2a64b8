"""Every request signed with credentials the local stack issued for a role is authorized as
IAM authorizes it, before moto serves it.

moto grants every caller every permission (its optional IAM mode ignores Resource and
Condition). Here, for each request from an assumed-role session:

1. iam_context builds what AWS would authorize: the action against each resource it names
   (ARNs and tags from the account's state), request tags, dependent authorizations
   (ec2:CreateTags on create, iam:PassRole, iam:CreateServiceLinkedRole);
2. iam_eval decides each against the role's identity policies (inline and attached managed),
   its permissions boundary and the session policy, by AWS's evaluation logic (IAM User Guide,
   "Policy evaluation logic");
3. a denial is answered as the service answers it (below); an EC2 request with DryRun is
   answered DryRunOperation when allowed (EC2 API reference, "DryRun": "If you have the
   required permissions, the error response is DryRunOperation. Otherwise, it is
   UnauthorizedOperation.");
4. every decision is written to `$STATE/logs/iam-decisions.jsonl` (allows once per role,
   action, resource type and deciding statement; denials every time), with the context keys,
   for tests and infra/checks/least_privilege.py.

Denials, per protocol (AWS API references, "Common Errors"):
- EC2: HTTP 403 `UnauthorizedOperation`, "You are not authorized to perform this operation.
  User: <arn> is not authorized to perform: <action> on resource: <arn> because ... Encoded
  authorization failure message: <message>"; `sts:DecodeAuthorizationMessage` decodes the
  message into the decision (STS API reference, DecodeAuthorizationMessage).
- query APIs (IAM, CloudFormation, ELB): HTTP 403 `AccessDenied`.
- JSON APIs (EKS, Logs, Service Quotas, tagging): `AccessDeniedException`.

A request the stack cannot evaluate (an action or resource it has no data for) is answered
with `BYOCEmulatorCannotAuthorize` (HTTP 500, not retried by tests as a throttle) and logged:
never allowed silently.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from . import iam_context, iam_eval
from .iam_context import Authorization, Call, Unevaluable

LOG = logging.getLogger("byoc.iam")
_LOCK = threading.Lock()
_SEEN: set[tuple] = set()
_MESSAGES: dict[str, dict] = {}  # encoded authorization message -> decision (for DecodeAuthorizationMessage)
_LOG_PATH: Path | None = None
# What evaluation costs: seconds per evaluated request (the most recent ones), for infra/bench.
_TIMINGS: list[float] = []
_TIMINGS_KEPT = 20000
STATS_PATH = "/moto-api/byoc/iam-stats"
# Never logged: a shared secret, even if a future context carried it.
_SECRET_KEYS = {"sts:externalid"}


# ---------------------------------------------------------------- who is calling


def _session(response: Any) -> Any:
    from moto.sts.models import sts_backends

    try:
        access_key = response.get_access_key()
        return sts_backends[response.current_account][response.partition].get_assumed_role_from_access_key(access_key)
    except Exception:
        return None


def principal_of(account: str, partition: str, role_arn: str, session_policy: str | None) -> tuple[iam_eval.Principal, dict[str, str]]:
    """The role's policies as IAM holds them now (a stack update changes them at once).

    A session whose role was deleted since (the customer deleted the access stack) keeps
    credentials that have not expired, but nothing left to allow: "permissions assigned to
    temporary security credentials are evaluated each time they are used ... Once you remove all
    permissions from the credentials, AWS requests that use them fail" (IAM User Guide,
    id_credentials_temp_control-access_disable-perms.html). So such a session is denied like any
    other call nothing allows, rather than failing the emulator with a 500."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    backend = iam_backends[account][partition]
    try:
        role = backend.get_role_by_arn(role_arn)
    except NotFoundException:
        return iam_eval.Principal((), None, ()), {}
    identity = [iam_eval.Policy(f"inline:{name}", doc) for name, doc in role.policies.items()]
    for arn, policy in role.managed_policies.items():
        identity.append(iam_eval.Policy(arn, _default_document(policy)))
    boundary = None
    if role.permissions_boundary_arn:
        try:
            boundary = iam_eval.Policy(f"boundary:{role.permissions_boundary_arn}", _default_document(backend.get_policy(role.permissions_boundary_arn)))
        except Exception:
            # A boundary IAM cannot find allows nothing: the stricter reading.
            boundary = iam_eval.Policy(f"boundary:{role.permissions_boundary_arn}", {"Statement": []})
    sessions = (iam_eval.Policy("session", session_policy),) if session_policy else ()
    tags = {t["Key"]: t["Value"] for t in (role.tags or {}).values()}
    # Service-linked roles are not affected by SCPs (Organizations User Guide, orgs_manage_policies_scps.html).
    scps = () if "/aws-service-role/" in role_arn else scp_levels(account)
    return iam_eval.Principal(tuple(identity), boundary, sessions, scps), tags


def scp_levels(account: str) -> tuple[tuple[iam_eval.Policy, ...], ...]:
    """The service control policies that apply to `account`, one tuple per level from the
    organization's root down to the account: none outside an organization, for its management
    account, or while SCPs are not enabled in the root (AWS Organizations User Guide,
    orgs_manage_policies_scps.html and orgs_manage_policies_scps_evaluation.html). AWS (and moto)
    attach FullAWSAccess to every new root, OU and account, and AWS refuses to detach the last
    SCP of one (organizations_ext refuses it here too); a level found without any would allow
    nothing, as the evaluation reads a level where no SCP allows."""
    return organization_levels(account, "SERVICE_CONTROL_POLICY", "scp")


def rcp_levels(account: str) -> tuple[tuple[iam_eval.Policy, ...], ...]:
    """The resource control policies that apply to resources of `account`, as `scp_levels`
    (Organizations User Guide, orgs_manage_policies_rcps.html and
    orgs_manage_policies_rcps_evaluation.html: RCPFullAWSAccess on every root, OU and account,
    none for the management account, every level must allow, an explicit Deny wins)."""
    return organization_levels(account, "RESOURCE_CONTROL_POLICY", "rcp")


def organization_id(account: str) -> str | None:
    """The id of the organization `account` belongs to (as aws:PrincipalOrgID and
    aws:ResourceOrgID carry it), if any."""
    from moto.organizations.models import organizations_backends

    for by_partition in list(organizations_backends.values()):
        for backend in list(by_partition.values()):
            org = getattr(backend, "org", None)
            if org is not None and (account == org.master_account_id or any(a.id == account for a in backend.accounts)):
                return org.id
    return None


def organization_levels(account: str, policy_type: str, label: str) -> tuple[tuple[iam_eval.Policy, ...], ...]:
    """The policies of `policy_type` that apply to `account`, one tuple per level from the
    organization's root down to the account, while that type is enabled in the root."""
    from moto.organizations.models import organizations_backends

    for by_partition in list(organizations_backends.values()):
        for backend in list(by_partition.values()):
            org = getattr(backend, "org", None)
            if org is None or account == org.master_account_id:
                continue
            member = next((a for a in backend.accounts if a.id == account), None)
            if member is None:
                continue
            root = next((ou for ou in backend.ou if ou.id == org.root_id), None)
            enabled = root is not None and any(t.get("Type") == policy_type for t in root.policy_types)
            if not enabled:
                return ()
            chain: list[Any] = [member]
            parent = member.parent_id
            while parent and parent != org.root_id:
                ou = next((o for o in backend.ou if o.id == parent), None)
                if ou is None:
                    break
                chain.append(ou)
                parent = ou.parent_id
            chain.append(root)
            levels = []
            for target in reversed(chain):
                attached = [p for p in target.attached_policies if p.type == policy_type]
                levels.append(tuple(iam_eval.Policy(f"{label}:{p.name}", p.content) for p in attached))
            return tuple(levels)
    return ()


def _default_document(policy: Any) -> str:
    for version in policy.versions:
        if version.is_default:
            return version.document
    return "{}"


# ---------------------------------------------------------------- the request


def _params(response: Any, action: str) -> dict[str, Any]:
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    request = response.normalized_request
    model = get_service_model(response.boto3_service_name)
    operation = model.operation_model(action)
    protocol = determine_request_protocol(model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation, map_type=dict)
    parsed = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": request.data,
            "url_path": request.path,
            "url_params": getattr(response, "uri_match", {}) or {},
        }
    )
    return dict(parsed or {})


def _protocol(response: Any) -> str:
    from moto.core.utils import get_service_model

    try:
        return str(get_service_model(response.boto3_service_name).protocol)
    except Exception:
        return "json"


# ---------------------------------------------------------------- answers


def _denial(response: Any, protocol: str, code: str, message: str, status: int = 403) -> tuple[int, dict, str]:
    request_id = secrets.token_hex(16)
    headers = dict(response.response_headers)
    if protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        headers["Content-Type"] = "text/xml"
        return status, headers, body
    if protocol == "query":
        body = (
            '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers["Content-Type"] = "text/xml"
        return status, headers, body
    exception = code if code.endswith("Exception") or code.startswith("BYOC") else f"{code}Exception"
    headers["Content-Type"] = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
    headers["x-amzn-ErrorType"] = exception
    headers["x-amzn-RequestId"] = request_id
    body = json.dumps({"__type": exception, "message": message, "Message": message})
    return (400 if protocol == "json" and status == 403 else status), headers, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _why(decision: iam_eval.Decision, action: str) -> str:
    """AWS's words for what decided (IAM User Guide, troubleshoot_access-denied.html)."""
    by = decision.decided_by or ""
    if decision.effect == "ExplicitDeny":
        where = "a permissions boundary" if by.startswith("boundary:") else (
            "a session policy" if by.startswith("session") else (
                "a service control policy" if by.startswith("scp:") else "an identity-based policy"))
        return f"with an explicit deny in {where}"
    if by.startswith("scp:"):
        return f"because no service control policy allows the {action} action"
    if (decision.decided_by or "").startswith("boundary:"):
        return f"because no permissions boundary allows the {action} action"
    if (decision.decided_by or "").startswith("session"):
        return f"because no session policy allows the {action} action"
    return f"because no identity-based policy allows the {action} action"


def _encode(record: dict) -> str:
    token = base64.b64encode(secrets.token_bytes(48)).decode().rstrip("=")
    with _LOCK:
        _MESSAGES[token] = record
    return token


def decoded_message(token: str) -> dict | None:
    with _LOCK:
        return _MESSAGES.get(token)


# ---------------------------------------------------------------- the log


def _public_context(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if k.lower() not in _SECRET_KEYS}


def _log(entry: dict, dedupe: tuple | None) -> None:
    if _LOG_PATH is None:
        return
    with _LOCK:
        if dedupe is not None:
            if dedupe in _SEEN:
                return
            _SEEN.add(dedupe)
        with _LOG_PATH.open("a") as out:
            out.write(json.dumps(entry, default=str) + "\n")


# ---------------------------------------------------------------- deciding


def authorize(response: Any) -> tuple[int, dict, str] | None:
    """None when the request may go on to moto; otherwise the answer AWS would give."""
    session = _session(response)
    if session is None:
        return None
    action_name = response._get_action()
    if not action_name:
        return None
    service = iam_context.IAM_PREFIX.get(response.service_name, response.service_name)
    iam_action = f"{service}:{action_name}"
    if iam_action.lower() in iam_context.ALWAYS_ALLOWED:
        return None
    response._byoc_evaluated = True
    protocol = _protocol(response)
    account = response.current_account
    region = response.region
    session_arn = f"arn:{response.partition}:sts::{account}:assumed-role/{session.role_arn.rsplit('/', 1)[-1]}/{session.session_name}"
    source_identity = getattr(session, "source_identity", None)
    base = {"role": session.role_arn, "session": session_arn, "source_identity": source_identity, "action": iam_action}
    try:
        params = _params(response, action_name)
        call = Call(service, action_name, params, account, region, response.partition)
        auth: Authorization = iam_context.authorization(call)
        principal, principal_tags = principal_of(account, response.partition, session.role_arn, getattr(session, "policy", None))
    except Unevaluable as problem:
        _log({**base, "decision": "unevaluable", "why": str(problem)}, None)
        LOG.error("cannot authorize %s: %s", iam_action, problem)
        return _denial(response, protocol, "BYOCEmulatorCannotAuthorize", f"The local AWS stack cannot evaluate IAM for this request, so it refuses it: {problem}", 500)
    user_id = f"{getattr(session, 'user_id', '')}"
    global_keys = iam_context.global_keys(session.role_arn, session_arn, user_id, account, region, principal_tags, source_identity)

    for check in auth.checks:
        for target in sorted(check.targets, key=lambda t: not t.created):  # the resource made first, as its refusal is the telling one
            context = {**global_keys, **target.keys}
            decision = iam_eval.evaluate(principal, check.action, target.arn, context)
            entry = {
                **base,
                "checked_action": check.action,
                "resource": target.arn,
                "resource_type": target.rtype,
                "decision": "allow" if decision.allowed else decision.effect,
                "decided_by": decision.decided_by,
                "context": _public_context(target.keys),
            }
            if decision.allowed:
                _log(entry, (session.role_arn, iam_action, check.action, target.rtype, decision.decided_by))
                continue
            _log({**entry, "reason": decision.reason}, None)
            message = f"User: {session_arn} is not authorized to perform: {check.action} on resource: {target.arn} {_why(decision, check.action)}"
            if protocol == "ec2":
                encoded = _encode(
                    {
                        "allowed": False,
                        "explicitDeny": decision.effect == "ExplicitDeny",
                        "matchedStatements": {"items": [{"statementId": decision.decided_by}] if decision.decided_by else []},
                        "failures": {"items": []},
                        "context": {
                            "principal": {"id": user_id, "arn": session_arn},
                            "action": check.action,
                            "resource": target.arn,
                            "conditions": {"items": [{"key": k, "values": {"items": [{"value": str(v)} for v in (v if isinstance(v, list) else [v])]}} for k, v in _public_context(context).items()]},
                        },
                    }
                )
                return _denial(response, protocol, "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}. Encoded authorization failure message: {encoded}")
            return _denial(response, protocol, "AccessDenied", message)

    if protocol == "ec2" and str(params.get("DryRun")).lower() == "true":
        return _denial(response, protocol, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
    response._byoc_after_authorized = auth.after
    return None


def _decode_authorization_message(self: Any) -> Any:
    from moto.core.responses import ActionResult

    token = self._get_param("EncodedMessage") or ""
    record = decoded_message(token)
    if record is None:
        from moto.sts.exceptions import STSClientError

        raise STSClientError("InvalidAuthorizationMessageException", "The encoded authorization message is invalid or was not issued by this account.")
    return ActionResult({"DecodedMessage": json.dumps(record)})


def _stats_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict, bytes]:
    """GET /moto-api/byoc/iam-stats[?reset=1]: how long evaluating a request took (µs), over
    the requests since the last reset; `reset=1` starts afresh after answering."""
    with _LOCK:
        samples = sorted(_TIMINGS)
        if "reset=1" in full_url:
            _TIMINGS.clear()
    pick = lambda q: round(samples[min(len(samples) - 1, int(q * len(samples)))] * 1e6, 1) if samples else None  # noqa: E731
    body = {"requests": len(samples), "p50_us": pick(0.5), "p99_us": pick(0.99), "mean_us": round(sum(samples) / len(samples) * 1e6, 1) if samples else None}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _preload() -> None:
    try:
        iam_context._definition()
    except Unevaluable as problem:  # the first request will say so, loudly
        LOG.error("IAM data not loaded: %s", problem)


def install(state_dir: Path) -> None:
    global _LOG_PATH
    from moto.core.responses import BaseResponse
    from moto.sts.responses import TokenResponse

    if getattr(BaseResponse, "_byoc_iam", False):
        return
    _LOG_PATH = state_dir / "logs" / "iam-decisions.jsonl"
    _LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    _LOG_PATH.write_text("")  # a new stack: an earlier one's decisions are no evidence
    # Reading AWS's authorization data takes a few tenths of a second: do it while the stack
    # starts, not in the first request that needs it.
    threading.Thread(target=_preload, name="iam-data", daemon=True).start()
    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        started = time.perf_counter()
        answer = authorize(self)
        if getattr(self, "_byoc_evaluated", False):
            with _LOCK:
                _TIMINGS.append(time.perf_counter() - started)
                del _TIMINGS[:-_TIMINGS_KEPT]
        if answer is not None:
            return answer
        result = original(self)
        after = getattr(self, "_byoc_after_authorized", None)
        if after and isinstance(result, tuple) and int(result[0]) < 300:
            for step in after:
                step()
        return result

    from moto.moto_api._internal import urls

    urls.url_paths.setdefault("{0}" + STATS_PATH + "$", _stats_response)
    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    BaseResponse._byoc_iam = True  # type: ignore[attr-defined]
    TokenResponse.decode_authorization_message = _decode_authorization_message  # type: ignore[attr-defined]
