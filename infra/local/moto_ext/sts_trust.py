r"""STS AssumeRole that checks the role and its trust policy, as AWS does.

moto's AssumeRole hands out credentials for any role ARN, existing or not, whatever its
trust policy says. The installer's first step (validate-trust) exists precisely to find
out whether a customer's role is there and trusts the vendor with the right External ID,
so the emulator has to answer that question the way AWS would.

Scope: the identity-based half of AWS's evaluation is not modelled (moto grants every
caller every permission); only the role's trust policy decides. Supported in trust
policies: Allow/Deny statements, Action (string or list, wildcards), Principal "*",
{"AWS": ...} with account ids, account root ARNs or exact principal ARNs, and Condition
operators StringEquals / StringLike on the keys sts:ExternalId, sts:SourceIdentity,
aws:PrincipalAccount and aws:PrincipalArn. Anything else makes a statement not apply to an
Allow (and apply to a Deny): when in doubt, refuse.

Resource control policies of the role's organization (rcp_refusal) apply after the trust
policy, as AWS evaluates them for STS.

Source identity (IAM User Guide, "Monitor and control actions taken with assumed roles";
STS API Reference, AssumeRole): a `SourceIdentity` must match `[\w+=,.@-]*`, be 2 to 64
characters and not start with "aws:", or STS answers ValidationError; setting one needs the
trust policy to allow `sts:SetSourceIdentity` as well as `sts:AssumeRole` ("Permissions
required to set source identity"), or AccessDenied. `sts:SourceIdentity` is in the context of
both, absent when none is set. The session keeps it (`source_identity`), iam_enforce puts it in
every request's context as `aws:SourceIdentity`, and every AssumeRole, allowed or not, is
appended to `$STATE/logs/assume-role.jsonl` with its role, session name and source identity
(never the External ID): the record that stands in for the customer's CloudTrail.

The External ID is a secret shared with the customer: it is compared here and never
written to any message or log line.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

LOG = logging.getLogger("byoc.sts_trust")

ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(.+)$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ROOT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")


@dataclass(frozen=True)
class Caller:
    """Who is calling: what AWS puts in aws:PrincipalAccount / aws:PrincipalArn."""

    account: str
    arn: str  # the identity ARN as shown in errors (session ARN for an assumed role)
    principal_arn: str  # the role ARN for an assumed-role session, else same as arn


@dataclass(frozen=True)
class Request:
    caller: Caller
    external_id: str | None
    source_identity: str | None = None


# ---------------------------------------------------------------- policy evaluation


def trust_allows(policy_document: str | dict | None, request: Request, action: str = "sts:AssumeRole") -> bool:
    """True when the trust policy lets request.caller call `action` (sts:AssumeRole, or
    sts:SetSourceIdentity when the request sets a source identity)."""
    statements = _statements(policy_document)
    allowed = False
    for statement in statements:
        effect = statement.get("Effect")
        if effect == "Deny" and _deny_applies(statement, request, action):
            return False  # an explicit Deny always wins
        if effect == "Allow" and _allow_applies(statement, request, action):
            allowed = True
    return allowed


def _statements(policy_document: str | dict | None) -> list[dict]:
    if not policy_document:
        return []
    if isinstance(policy_document, str):
        text = policy_document.strip()
        if not text.startswith("{"):
            text = unquote(text)  # IAM hands policies back URL-encoded
        try:
            policy_document = json.loads(text)
        except ValueError:
            return []
    statements = policy_document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]


def _allow_applies(statement: dict, request: Request, action: str) -> bool:
    if "NotAction" in statement or "NotPrincipal" in statement:
        return False  # not modelled: refuse
    return (
        _action_matches(statement.get("Action"), action)
        and _principal_matches(statement.get("Principal"), request.caller)
        and _condition_holds(statement.get("Condition"), request, unsupported=False)
    )


def _deny_applies(statement: dict, request: Request, action: str) -> bool:
    if "NotAction" in statement or "NotPrincipal" in statement:
        return True  # not modelled: a Deny we cannot read is taken as denying
    return (
        _action_matches(statement.get("Action"), action)
        and _principal_matches(statement.get("Principal"), request.caller)
        and _condition_holds(statement.get("Condition"), request, unsupported=True)
    )


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_matches(action: Any, wanted: str) -> bool:
    return any(
        isinstance(a, str) and fnmatch.fnmatchcase(wanted.lower(), a.lower())
        for a in _as_list(action)
    )


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    # Service and Federated principals never describe an IAM caller.
    for value in _as_list(principal.get("AWS")):
        if not isinstance(value, str):
            continue
        if value == "*":
            return True
        if ACCOUNT_ID.match(value) and value == caller.account:
            return True
        root = ROOT_ARN.match(value)
        if root and root.group(1) == caller.account:
            return True
        if value in (caller.arn, caller.principal_arn):
            return True
    return False


def _condition_holds(condition: Any, request: Request, unsupported: bool) -> bool:
    """All operators and keys must hold. `unsupported` is the answer for anything
    this module cannot evaluate (False for an Allow, True for a Deny)."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        return unsupported
    for operator, tests in condition.items():
        matcher = _OPERATORS.get(operator)
        if matcher is None or not isinstance(tests, dict):
            return unsupported
        for key, expected in tests.items():
            known, actual = _context_value(key, request)
            if not known:
                return unsupported
            if actual is None:
                return False  # a missing key never satisfies a String* operator
            if not any(matcher(actual, str(e)) for e in _as_list(expected)):
                return False
    return True


_OPERATORS = {
    "StringEquals": lambda actual, expected: actual == expected,
    # StringLike: * matches any run of characters, ? exactly one; nothing else special.
    "StringLike": lambda actual, expected: re.fullmatch(
        "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in expected
        ),
        actual,
        re.DOTALL,
    )
    is not None,
}


def _context_value(key: str, request: Request) -> tuple[bool, str | None]:
    """(is the key supported, its value in this request)."""
    key = key.lower()  # condition keys are case-insensitive
    if key == "sts:externalid":
        return True, request.external_id
    if key == "sts:sourceidentity":
        return True, request.source_identity
    if key == "aws:principalaccount":
        return True, request.caller.account
    if key == "aws:principalarn":
        return True, request.caller.principal_arn
    return False, None


# ---------------------------------------------------------------- moto wiring


def caller_for_access_key(access_key: str, account: str, partition: str) -> Caller:
    """Resolve a request's access key the way moto's GetCallerIdentity does."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    assumed = sts_backends[account][partition].get_assumed_role_from_access_key(
        access_key
    )
    if assumed:
        return Caller(assumed.account_id, assumed.arn, assumed.role_arn)
    user = iam_backends[account][partition].get_user_from_access_key_id(access_key)
    if user:
        return Caller(account, user.arn, user.arn)
    # Unknown keys (e.g. "test") are moto's default user of the resolved account.
    arn = f"arn:{partition}:iam::{account}:user/moto"
    return Caller(account, arn, arn)


SOURCE_IDENTITY = re.compile(r"^[\w+=,.@-]{2,64}$")


def check_assume_role(
    caller: Caller, role_arn: str, external_id: str | None, partition: str, source_identity: str | None = None
) -> None:
    """Raise AccessDenied (or ValidationError) unless AWS would let caller assume role_arn."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError, STSValidationError

    match = ROLE_ARN.match(role_arn or "")
    if not match:
        raise STSValidationError(f"{role_arn} is invalid")
    if source_identity is not None and (not SOURCE_IDENTITY.match(source_identity) or source_identity.lower().startswith("aws:")):
        raise STSValidationError(
            f"1 validation error detected: Value '{source_identity}' at 'sourceIdentity' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*, have length between 2 and 64, "
            "and not begin with aws:"
        )
    denied = STSClientError(
        "AccessDenied",
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole "
        f"on resource: {role_arn}",
    )
    try:
        role = iam_backends[match.group(2)][partition].get_role_by_arn(role_arn)
    except NotFoundException:
        LOG.info("AssumeRole denied: %s does not exist", role_arn)
        raise denied
    request = Request(caller=caller, external_id=external_id, source_identity=source_identity)
    if not trust_allows(role.assume_role_policy_document, request):
        LOG.info("AssumeRole denied: trust policy of %s refuses %s", role_arn, caller.arn)
        raise denied
    if source_identity is not None and not trust_allows(role.assume_role_policy_document, request, "sts:SetSourceIdentity"):
        LOG.info("AssumeRole denied: trust policy of %s does not allow sts:SetSourceIdentity", role_arn)
        raise STSClientError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:SetSourceIdentity on resource: {role_arn}",
        )
    refusal = rcp_refusal(request, role_arn, match.group(2))
    if refusal is not None:
        LOG.info("AssumeRole denied: a resource control policy of account %s refuses %s", match.group(2), caller.arn)
        raise STSClientError("AccessDenied", refusal)


def _without_any_principal(policy: Any) -> Any:
    """An RCP's statements name `"Principal": "*"`, as RCPs must (the only value they allow);
    iam_eval reads identity-style statements, so that element is dropped. Any other Principal
    is left, and iam_eval treats its statement as undecidable (the stricter reading)."""
    from . import iam_eval

    document = policy.document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return policy
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    cleaned = [{k: v for k, v in st.items() if not (k == "Principal" and v == "*")} if isinstance(st, dict) else st for st in statements]
    return iam_eval.Policy(policy.name, {**document, "Statement": cleaned})


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def rcp_refusal(request: Request, role_arn: str, account: str) -> str | None:
    """AWS's message when the resource control policies of the role's account refuse the
    request, else None. RCPs apply to STS roles in member accounts, not to service-linked
    roles (Organizations User Guide, orgs_manage_policies_rcps.html; "List of AWS services that
    support RCPs": AWS STS); every level must allow and an explicit Deny wins, evaluated here
    with the SCP machinery of iam_eval over an allow-all identity (the trust policy allowed)."""
    import datetime as _dt

    from . import iam_enforce, iam_eval

    if "/aws-service-role/" in role_arn:
        return None
    levels = iam_enforce.rcp_levels(account)
    if not levels:
        return None
    now = _dt.datetime.now(_dt.timezone.utc)
    caller = request.caller
    context: dict[str, Any] = {
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalArn": caller.principal_arn,
        "aws:PrincipalType": "AssumedRole" if ":assumed-role/" in caller.arn else "User",
        "aws:PrincipalIsAWSService": "false",
        "aws:ResourceAccount": account,
        "aws:SecureTransport": "true",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
    }
    for key, value in (
        ("aws:PrincipalOrgID", iam_enforce.organization_id(caller.account)),
        ("aws:ResourceOrgID", iam_enforce.organization_id(account)),
        ("sts:ExternalId", request.external_id),
        ("sts:SourceIdentity", request.source_identity),
    ):
        if value is not None:
            context[key] = value
    levels = tuple(tuple(_without_any_principal(p) for p in level) for level in levels)
    principal = iam_eval.Principal((iam_eval.Policy("trust", ALLOW_ALL),), scp_levels=levels)
    actions = ["sts:AssumeRole"] + (["sts:SetSourceIdentity"] if request.source_identity is not None else [])
    for action in actions:
        decision = iam_eval.evaluate(principal, action, role_arn, context)
        if decision.allowed:
            continue
        refused = f"User: {caller.arn} is not authorized to perform: {action} on resource: {role_arn}"
        # AWS names the policy type in a denial only for a caller in the same account or the
        # same organization (Amazon S3 User Guide, troubleshoot-403-errors.html, "Access denied
        # message examples"); a vendor outside the customer's organization gets the bare message.
        caller_org = context.get("aws:PrincipalOrgID")
        if caller.account != account and (caller_org is None or caller_org != context.get("aws:ResourceOrgID")):
            return refused
        why = "with an explicit deny in a resource control policy" if decision.effect == "ExplicitDeny" else f"because no resource control policy allows the {action} action"
        return f"{refused} {why}"
    return None


_LOG_PATH: Path | None = None
_LOG_LOCK = threading.Lock()


def _log_assume_role(entry: dict) -> None:
    if _LOG_PATH is None:
        return
    with _LOG_LOCK, _LOG_PATH.open("a") as out:
        out.write(json.dumps(entry) + "\n")


_THROTTLED: dict[str, int] = {}
_THROTTLED_LOCK = threading.Lock()


def _steered(role_arn: str) -> tuple[str, dict] | None:
    """What a test set for the role's account under `sts` (control.py), for the fleet tests:
    `latency_s` delays the answer (a customer account whose calls hang), and
    `throttle: {"id": ..., "count": N}` answers the first N AssumeRole calls for roles in that
    account, per id, with STS's throttling error (STS API Reference, "Common Errors":
    `Throttling`, HTTP 400, "Rate exceeded"), as AWS does past the account's request quota.
    Not AWS behaviour to model but faults to inject; nothing is set outside those tests."""
    from . import control

    match = ROLE_ARN.match(role_arn or "")
    if not match:
        return None
    account = match.group(2)
    latency = control.setting("sts", account, "latency_s", 0)
    if latency:
        time.sleep(float(latency))
    throttle = control.setting("sts", account, "throttle")
    if not isinstance(throttle, dict):
        return None
    key = f"{account}/{throttle.get('id')}"
    with _THROTTLED_LOCK:
        done = _THROTTLED.get(key, 0)
        if done >= int(throttle.get("count", 0)):
            return None
        _THROTTLED[key] = done + 1
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return body, {"status": 400, "Content-Type": "text/xml"}


def install(state_dir: Path | None = None) -> None:
    """Wrap moto's AssumeRole handler with the trust check.

    The check sits in the response layer because only there is the caller known (the
    backend method receives the target role but not who asks); on success moto's own
    handler runs unchanged and returns keys that moto maps to the role's account, and the
    session it made keeps the source identity.
    """
    global _LOG_PATH
    from moto.core.responses import ActionResult
    from moto.sts.exceptions import STSClientError
    from moto.sts.responses import TokenResponse

    if state_dir is not None:
        _LOG_PATH = state_dir / "logs" / "assume-role.jsonl"
        _LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
        _LOG_PATH.write_text("")  # a new stack: what an earlier one saw is no evidence
    original = TokenResponse.assume_role
    if getattr(original, "_byoc_trust_checked", False):
        return

    def assume_role(self: TokenResponse) -> Any:
        caller = caller_for_access_key(
            self.get_access_key(), self.current_account, self.partition
        )
        role_arn = self._get_param("RoleArn")
        source_identity = self._get_param("SourceIdentity")
        entry = {
            "caller": caller.arn,
            "role": role_arn,
            "session_name": self._get_param("RoleSessionName"),
            "source_identity": source_identity,
            "started": time.time(),
        }
        steered = _steered(role_arn)
        if steered is not None:
            _log_assume_role({**entry, "allowed": False, "error": "Throttling", "ended": time.time()})
            return steered
        try:
            check_assume_role(
                caller,
                role_arn,
                self._get_param("ExternalId"),
                self.partition,
                source_identity,
            )
        except STSClientError as error:
            _log_assume_role({**entry, "allowed": False, "error": error.code, "ended": time.time()})
            if error.code != "AccessDenied":
                raise
            # moto would send this as 400 (AccessDenied is not in STS's error model);
            # AWS sends 403.
            _, headers, body = self.serialized(ActionResult(error))
            headers["status"] = 403
            return body, headers
        result = original(self)
        session = getattr(result, "result", {}).get("Credentials") if isinstance(getattr(result, "result", None), dict) else None
        if session is not None:
            session.source_identity = source_identity
        _log_assume_role({**entry, "allowed": True, "ended": time.time()})
        return result

    assume_role._byoc_trust_checked = True  # type: ignore[attr-defined]
    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]
