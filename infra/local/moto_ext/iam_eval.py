"""IAM identity-policy evaluation for the local AWS emulator (standard library only).

moto grants every caller every permission. This module decides one request -- an action
on one resource ARN with a request context -- the way IAM does for a principal in its own
account, from the principal's identity policies, its permissions boundary and its session
policies. It follows the IAM User Guide (https://docs.aws.amazon.com/IAM/latest/UserGuide/):

  [EVAL]   reference_policies_evaluation-logic.html                     Policy evaluation logic
  [ACCT]   reference_policies_evaluation-logic_policy-eval-denyallow.html
                                 Determining whether a request is allowed or denied within an account
  [OPS]    reference_policies_elements_condition_operators.html   Condition operators
  [COND]   reference_policies_elements_condition.html             Condition element
  [VARS]   reference_policies_variables.html                      Variables and tags
  [MULTI]  reference_policies_condition-single-vs-multi-valued-context-keys.html and
           reference_policies_multi-value-conditions.html         Single-/multivalued keys
  [ACTION] reference_policies_elements_action.html; [RES] reference_policies_elements_resource.html
  [PRINC]  reference_policies_elements_principal.html; [VER] reference_policies_elements_version.html

Organizations service control policies ([SCP]: AWS Organizations User Guide,
orgs_manage_policies_scps_evaluation.html) apply as [ACCT] step 3: an explicit Deny in any SCP
denies, and every level from the root down to the account must have an SCP that allows.
Out of scope: resource-based policies, RCPs, cross-account access and trust policies
(moto_ext.sts_trust decides AssumeRole). The caller evaluates each resource an action touches
separately and requires every one to be allowed.

Judgement calls (where the documentation is silent we choose what refuses more):
  * A statement part that cannot be decided -- an unknown condition operator, a malformed
    element, Principal/NotPrincipal in an identity policy, a multivalued key under a plain
    operator, an unparsable value -- is "indeterminate": it never lets an Allow apply and
    always lets a Deny apply.
  * Resource matching is per ARN segment [RES]: `*`/`?` stay inside one of the first five
    colon-separated segments and may span '/' and ':' only in the resource part. "*" alone
    matches everything; any other pattern with fewer than six segments, or a wildcard in the
    service segment, is indeterminate.
  * Operator names, set-operator prefixes and Effect values are matched exactly; an Effect
    other than "Allow" is treated as a (possibly invalid) Deny.
  * A malformed document (not JSON, no Statement, unknown Version...) contributes no
    statements: it grants nothing (so a malformed boundary or session policy denies).
  * Reasons never contain context values, so secrets passed as context keys cannot leak.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import operator
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote


@dataclass(frozen=True)
class Policy:
    name: str  # e.g. "inline:build-and-remove-installs" or a managed policy ARN
    document: dict | str  # JSON text (possibly URL-encoded, as IAM returns it) or parsed dict


@dataclass(frozen=True)
class Principal:
    identity_policies: tuple[Policy, ...]  # inline + attached managed
    boundary: Policy | None = None  # permissions boundary, if set
    session_policies: tuple[Policy, ...] = ()  # if present, they limit like a boundary
    # The SCPs that apply, one tuple per level from the organization's root down to the
    # account ([SCP]); empty outside an organization and for the management account.
    scp_levels: tuple[tuple[Policy, ...], ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    effect: str  # "Allow", "ExplicitDeny" or "ImplicitDeny"
    decided_by: str | None  # "<policy name>#<Sid or statement index>", or "boundary:<name> (no Allow)"
    reason: str  # one sentence; never contains context values


# Tri-state results: True, False, or None ("indeterminate", see the module docstring).
Tri = bool | None


def _and(a: Tri, b: Tri) -> Tri:
    return False if a is False or b is False else (None if a is None or b is None else True)


def _any(results) -> Tri:
    out: Tri = False
    for r in results:
        if r is True:
            return True
        if r is None:
            out = None
    return out


def _all(results) -> Tri:
    out: Tri = True
    for r in results:
        if r is False:
            return False
        if r is None:
            out = None
    return out


def _not(r: Tri) -> Tri:
    return None if r is None else not r


# ---------------------------------------------------------------- values and variables

_AMBIGUOUS = object()  # a key given twice with different case and different values
_INVALID = object()  # a policy value the operator cannot use
_ARN_PARTS = 6  # arn:partition:service:region:account:resource


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def _normalize(context: dict) -> dict:
    # [COND]: "Condition key names are not case-sensitive" -- including the tag-key part of
    # aws:ResourceTag/<key> ("matches ... either TagKey1 or tagkey1, but not both"); two
    # spellings with different values are therefore ambiguous.
    out: dict = {}
    for key, value in context.items():
        k = key.lower()
        out[k] = _AMBIGUOUS if k in out and out[k] != value else value
    return out


@dataclass(frozen=True)
class _Var:
    key: str  # lower-cased context key
    default: str | None


@dataclass(frozen=True)
class _Lit:
    text: str  # ${*}, ${?}, ${$}: the character itself, never a wildcard [VARS]


_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$")


@functools.lru_cache(maxsize=4096)
def _template(text: str, variables: bool) -> tuple:
    """Split a policy string into glob text, literal characters and variables [VARS].
    Without Version 2012-10-17 variables are literal text [VARS]/[VER]."""
    if not variables or "${" not in text:
        return (text,)
    parts: list = []
    pos = 0
    for m in _VAR.finditer(text):
        parts.append(text[pos : m.start()])
        body = m.group(1)
        if body in ("*", "?", "$"):
            parts.append(_Lit(body))
        else:
            bm = _VAR_BODY.match(body)  # "${key, 'default'}" [VARS: Specifying default values]
            parts.append(_Var(bm.group(1).lower(), bm.group(2)) if bm else _Var("\0", None))
        pos = m.end()
    parts.append(text[pos:])
    return tuple(p for p in parts if p != "")


def _resolve(parts: tuple, ctx: dict) -> list[tuple[str, bool]] | None:
    """(text, is_glob) pieces, or None when a variable has no value [VARS: Policy variables
    with no value]. Multivalued keys cannot be variables [MULTI], so a list is no value."""
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append((p, True))
        elif isinstance(p, _Lit):
            out.append((p.text, False))
        else:
            value = ctx.get(p.key)
            if value is None or value is _AMBIGUOUS or isinstance(value, (list, tuple)):
                if p.default is None:
                    return None
                value = p.default
            out.append((_scalar(value), False))  # substituted text is never a wildcard
    return out


def _glob_src(pieces: list[tuple[str, bool]], arn: bool) -> tuple[str, int, bool]:
    """Regex source; in ARN mode wildcards stay within one of the first five segments [OPS:
    ARN operators; RES]. Returns (source, colon count, wildcard in the service segment)."""
    out, colons, wild_service = [], 0, False
    for text, is_glob in pieces:
        for ch in text:
            if is_glob and ch in "*?":
                inner = arn and colons < _ARN_PARTS - 1
                wild_service |= arn and colons == 2
                out.append(("[^:]" if inner else ".") + ("*" if ch == "*" else ""))
            else:
                colons += ch == ":"
                out.append(re.escape(ch))
    return "".join(out), colons, wild_service


@functools.lru_cache(maxsize=4096)
def _rx(src: str, flags: int = re.S) -> re.Pattern:
    return re.compile(src, flags)


# ---------------------------------------------------------------- condition operators

_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$")


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text) else None


def _date(text: str) -> float | None:
    # [OPS: Date operators] ISO 8601 (aws:CurrentTime) or epoch seconds (aws:EpochTime).
    epoch = _number(text)
    if epoch is not None:
        return epoch
    try:
        d = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()


def _binary(text: str) -> bytes | None:
    try:  # [OPS: BinaryEquals] byte-for-byte against the base-64 policy value
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _network(text: str):
    try:  # [OPS: IP address] CIDR; a bare address means /32 (or /128)
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _bool(text: str) -> str | None:
    return text.lower() if text.lower() in ("true", "false") else None


@dataclass(frozen=True)
class _Kind:
    category: str  # string, ieq, like, arn, bool, numeric, date, binary, ip
    negated: bool
    cmp: Callable = operator.eq


_PARSERS = {"numeric": _number, "date": _date, "binary": _binary, "ip": _network}
_ORDER = {"Equals": operator.eq, "LessThan": operator.lt, "LessThanEquals": operator.le,
          "GreaterThan": operator.gt, "GreaterThanEquals": operator.ge}
_KINDS: dict[str, _Kind] = {
    "StringEquals": _Kind("string", False), "StringNotEquals": _Kind("string", True),
    "StringEqualsIgnoreCase": _Kind("ieq", False), "StringNotEqualsIgnoreCase": _Kind("ieq", True),
    "StringLike": _Kind("like", False), "StringNotLike": _Kind("like", True),
    "Bool": _Kind("bool", False), "BinaryEquals": _Kind("binary", False),
    "IpAddress": _Kind("ip", False), "NotIpAddress": _Kind("ip", True),
    # [OPS]: "ArnEquals and ArnLike ... behave identically" (both take wildcards).
    "ArnEquals": _Kind("arn", False), "ArnLike": _Kind("arn", False),
    "ArnNotEquals": _Kind("arn", True), "ArnNotLike": _Kind("arn", True),
    "NumericNotEquals": _Kind("numeric", True), "DateNotEquals": _Kind("date", True),
    **{f"Numeric{n}": _Kind("numeric", False, f) for n, f in _ORDER.items()},
    **{f"Date{n}": _Kind("date", False, f) for n, f in _ORDER.items()},
}
_TEMPLATED = ("string", "ieq", "like", "arn", "bool")  # [OPS]: variables allowed in these only


@dataclass(frozen=True)
class _Cond:
    op: str  # as written, for messages
    key: str  # lower-cased
    key_text: str
    kind: _Kind | None  # None: unknown operator; "Null" is handled by `null`
    null: bool
    set_op: str | None  # "any", "all" or None
    if_exists: bool
    values: tuple  # templates, parsed values or _INVALID


def _compare(kind: _Kind, value: str, policy_value: Any, ctx: dict) -> Tri:
    """Does one context value match one policy value (before negation)?"""
    if policy_value is _INVALID:
        return None
    if kind.category in _TEMPLATED:
        pieces = _resolve(policy_value, ctx)
        if pieces is None:  # no value: nothing equals or is like it [VARS]
            return False
        if kind.category == "like":
            return _rx(_glob_src(pieces, False)[0]).fullmatch(value) is not None
        if kind.category == "arn":
            src, colons, _ = _glob_src(pieces, True)
            if colons < _ARN_PARTS - 1:
                return None  # not an ARN pattern
            return value.count(":") >= _ARN_PARTS - 1 and _rx(src).fullmatch(value) is not None
        text = "".join(t for t, _ in pieces)
        if kind.category == "ieq":
            return value.casefold() == text.casefold()
        if kind.category == "bool":
            mine, theirs = _bool(value), _bool(text)
            return None if mine is None or theirs is None else mine == theirs
        return value == text
    if kind.category == "ip":
        address = _address(value)
        return None if address is None else address in policy_value  # False across IPv4/IPv6
    parsed = _PARSERS[kind.category](value)
    return None if parsed is None else kind.cmp(parsed, policy_value)


def _eval_condition(c: _Cond, ctx: dict) -> tuple[Tri, str | None]:
    what = f"{c.op} on {c.key_text}"
    if c.kind is None and not c.null:
        return None, f"unknown condition operator '{c.op}'"
    raw = ctx.get(c.key)
    if raw is _AMBIGUOUS:
        return None, f"{what}: key given twice with different case"
    values = None if raw is None else [_scalar(v) for v in (raw if isinstance(raw, (list, tuple)) else [raw])]
    if not values:
        values = None  # an empty set counts as absent [MULTI: ForAllValues ... null data set]
    if c.null:  # [OPS: Null] true = key absent, false = key present
        absent = values is None
        r = _any(None if v is _INVALID else (v == "true") == absent for v in c.values)
        return r, None if r else f"{what} " + ("not decidable" if r is None else "failed")
    if values is None:
        # [OPS] "If the key ... is not present ... the condition is false"; negated operators
        # are true; ...IfExists is true; [MULTI] ForAllValues true, ForAnyValue false.
        if c.if_exists or c.set_op == "all" or (c.set_op is None and c.kind.negated):
            return True, None
        return False, f"{what}: key absent"
    if c.set_op is None and len(values) > 1:
        # [MULTI] "Multivalued context keys require a condition set operator"; behaviour
        # without one is not documented, so it is indeterminate.
        return None, f"{what}: multivalued key without ForAnyValue/ForAllValues"

    def one(value: str) -> Tri:
        # Values listed for a key are OR'ed; for negated operators NOR'ed [MULTI].
        r = _any(_compare(c.kind, value, pv, ctx) for pv in c.values)
        return _not(r) if c.kind.negated else r

    r = _all(map(one, values)) if c.set_op == "all" else _any(map(one, values))
    return r, None if r else f"{what} " + ("not decidable" if r is None else "failed")


def _compile_value(kind: _Kind | None, raw: Any, variables: bool) -> Any:
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    if not isinstance(raw, (str, int, float)):
        return _INVALID
    text = str(raw)
    if kind is None:  # Null
        return _bool(text) or _INVALID
    if kind.category in _TEMPLATED:
        return _template(text, variables)
    parsed = _PARSERS[kind.category](text)
    return _INVALID if parsed is None else parsed


def _compile_conditions(block: Any, variables: bool) -> tuple[_Cond, ...] | None:
    if not isinstance(block, dict):
        return None
    out = []
    for op, keys in block.items():
        if not isinstance(keys, dict) or not keys:
            return None
        base, set_op = op, None
        for prefix, name in (("ForAnyValue:", "any"), ("ForAllValues:", "all")):
            if op.startswith(prefix):
                base, set_op = op[len(prefix) :], name
        if_exists = base.endswith("IfExists")
        base = base[: -len("IfExists")] if if_exists else base
        null = base == "Null" and not if_exists and set_op is None  # [OPS]: no NullIfExists
        kind = _KINDS.get(base)
        for key, raw in keys.items():
            raws = raw if isinstance(raw, list) else [raw]
            if not raws:
                return None
            values = tuple(_compile_value(kind, v, variables) for v in raws) if (kind or null) else ()
            out.append(_Cond(op, key.lower(), key, kind, null, set_op, if_exists, values))
    return tuple(out)


# ---------------------------------------------------------------- statements and policies

@dataclass(frozen=True)
class _Statement:
    label: str
    deny: bool
    problem: str | None  # why the statement is invalid (then it can only act as a Deny)
    action: tuple[re.Pattern, bool] | None  # (pattern, is NotAction); None: undecidable
    resource: tuple[tuple, bool, re.Pattern | None] | None  # (templates, is NotResource, static)
    conditions: tuple[_Cond, ...]


_KNOWN = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def _strings(value: Any) -> list[str] | None:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        return None
    return values


def _element(st: dict, name: str, problems: list[str]) -> tuple[list[str], bool] | None:
    present = [n for n in (name, "Not" + name) if n in st]
    if len(present) != 1:
        problems.append(f"needs exactly one of {name}/Not{name}")
        return None
    values = _strings(st[present[0]])
    if values is None:
        problems.append(f"malformed {present[0]}")
        return None
    return values, present[0].startswith("Not")


def _resource_src(pieces: list[tuple[str, bool]]) -> str | None:
    """Regex source for one Resource pattern, or None if it is not a valid ARN pattern [RES]:
    fewer than six segments (other than "*" alone) or a wildcard in the service segment."""
    if pieces == [("*", True)]:
        return ".*"
    src, colons, wild_service = _glob_src(pieces, True)
    return None if colons < _ARN_PARTS - 1 or wild_service else src


def _resource_regex(templates: tuple) -> re.Pattern | None:
    """One regex for valid variable-free patterns; None if they must be decided per request."""
    srcs = []
    for t in templates:
        src = _resource_src([(t[0], True)]) if len(t) == 1 and isinstance(t[0], str) else None
        if src is None:
            return None
        srcs.append(f"(?:{src})")
    return _rx("|".join(srcs))


def _compile_statement(st: dict, index: int, variables: bool) -> _Statement:
    sid = st.get("Sid")
    label = sid if isinstance(sid, str) and sid else str(index)
    problems: list[str] = []
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        problems.append(f"Effect {effect!r} is not Allow or Deny")  # treated as a Deny
    if "Principal" in st or "NotPrincipal" in st:
        problems.append("Principal is not allowed in an identity policy")  # [PRINC]
    if set(st) - _KNOWN - {"Principal", "NotPrincipal"}:
        problems.append("unknown statement element")
    action = resource = None
    found = _element(st, "Action", problems)
    if found:  # [ACTION] "The prefix and the action name are case insensitive"
        src = "|".join(_glob_src([(a, True)], False)[0] for a in found[0])
        action = (_rx(src, re.S | re.I), found[1])
    found = _element(st, "Resource", problems)
    if found:
        templates = tuple(_template(r, variables) for r in found[0])
        resource = (templates, found[1], _resource_regex(templates))
    conditions: tuple[_Cond, ...] = ()
    if "Condition" in st:
        compiled = _compile_conditions(st["Condition"], variables)
        if compiled is None:
            problems.append("malformed Condition")
        conditions = compiled or ()
    return _Statement(label, effect != "Allow", "; ".join(problems) or None, action, resource, conditions)


def _match_resource(spec: tuple, resource: str, ctx: dict) -> Tri:
    templates, negated, static = spec
    if static is not None:
        return (static.fullmatch(resource) is None) == negated
    results: list[Tri] = []
    for t in templates:
        pieces = _resolve(t, ctx)
        if pieces is None:
            # [VARS] "the resource that includes a policy variable with no value will not match
            # any resource"; what a NotResource then excludes is unclear: indeterminate.
            results.append(None if negated else False)
            continue
        src = _resource_src(pieces)
        results.append(None if src is None else _rx(src).fullmatch(resource) is not None)
    hit = _any(results)
    return _not(hit) if negated else hit


def _eval_statement(s: _Statement, action: str, resource: str, ctx: dict) -> tuple[Tri, str | None]:
    """(result, note); note is None when the action or resource simply does not match."""
    r: Tri = True if s.problem is None else None
    if s.action is not None:
        pattern, negated = s.action
        if (pattern.fullmatch(action) is None) != negated:
            return False, None
    if s.resource is not None:
        hit = _match_resource(s.resource, resource, ctx)
        if hit is False:
            return False, None
        r = _and(r, hit)
    note = s.problem and f"invalid statement ({s.problem})"
    for c in s.conditions:
        cr, cnote = _eval_condition(c, ctx)
        if cr is False:
            return False, cnote
        if cr is None:
            r, note = None, note or cnote
    if r is None and note is None:
        note = "resource pattern not decidable"
    return r, note


@dataclass(frozen=True)
class _Compiled:
    statements: tuple[_Statement, ...]
    problem: str | None


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))  # IAM returns documents URL-encoded


@functools.lru_cache(maxsize=1024)
def _compile_text(text: str) -> _Compiled:
    try:
        doc = _parse(text)
    except ValueError:
        return _Compiled((), "not valid JSON")
    if not isinstance(doc, dict):
        return _Compiled((), "not a JSON object")
    version = doc.get("Version")
    if version not in (None, "2012-10-17", "2008-10-17"):
        return _Compiled((), f"unknown Version {version!r}")
    statements = doc.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        return _Compiled((), "missing or malformed Statement")
    variables = version == "2012-10-17"  # [VARS]: older versions treat ${...} literally
    return _Compiled(tuple(_compile_statement(s, i, variables) for i, s in enumerate(statements)), None)


def _compiled(document: dict | str) -> _Compiled:
    if isinstance(document, str):
        return _compile_text(document)
    try:
        return _compile_text(json.dumps(document, sort_keys=True))
    except (TypeError, ValueError):
        return _Compiled((), "not serializable")


# ---------------------------------------------------------------- the decision

def _run(principal: Principal, action: str, resource: str, context: dict, trace: list | None) -> Decision:
    ctx = _normalize(context)
    groups: list[tuple[str, tuple[Policy, ...]]] = [("identity", principal.identity_policies)]
    if principal.boundary is not None:
        groups.append(("boundary", (principal.boundary,)))
    if principal.session_policies:
        groups.append(("session", principal.session_policies))
    for level, scps in enumerate(principal.scp_levels):
        groups.append((f"scp{level}", scps))
    allows: dict[str, str] = {}
    near: dict[str, str] = {}
    deny: Decision | None = None
    for group, policies in groups:
        for policy in policies:
            compiled = _compiled(policy.document)
            if compiled.problem and trace is not None:
                trace.append({"group": group, "policy": policy.name, "statement": None,
                              "result": "ignored", "note": compiled.problem})
            for s in compiled.statements:
                where = f"{policy.name}#{s.label}"
                if not s.deny and group in allows and trace is None:
                    continue  # this group already allows; only Denies can still matter
                r, note = _eval_statement(s, action, resource, ctx)
                if trace is not None:
                    trace.append({"group": group, "policy": policy.name, "statement": s.label,
                                  "effect": "Deny" if s.deny else "Allow", "note": note,
                                  "result": {True: "match", False: "no match", None: "indeterminate"}[r]})
                if s.deny and r is not False and deny is None:
                    # [ACCT] step 1: an explicit Deny in any policy ends evaluation.
                    extra = f" (treated as matching: {note})" if r is None else ""
                    deny = Decision(False, "ExplicitDeny", where,
                                    f"{where} explicitly denies {action} on {resource}{extra}")
                    if trace is None:
                        return deny
                elif not s.deny and r is True:
                    allows.setdefault(group, where)
                elif not s.deny and note and group not in near:
                    near[group] = f"{where}: {note}"
    if deny is not None:
        return deny

    def hint(group: str) -> str:
        return f" (closest: {near[group]})" if group in near else ""

    for level, scps in enumerate(principal.scp_levels):  # [ACCT] step 3, [SCP]: every level
        if f"scp{level}" not in allows:
            names = ",".join(p.name for p in scps) or "scp:(none)"
            return Decision(False, "ImplicitDeny", f"{names} (no Allow)",
                            f"no service control policy at level {level} of the organization ({names}) "
                            f"allows {action} on {resource}{hint(f'scp{level}')}")
    if "identity" not in allows:  # [ACCT] identity-based policies: no Allow -> implicit deny
        return Decision(False, "ImplicitDeny", None,
                        f"no statement allows {action} on {resource}{hint('identity')}")
    if principal.boundary is not None and "boundary" not in allows:  # [ACCT] boundaries
        name = principal.boundary.name
        return Decision(False, "ImplicitDeny", f"boundary:{name} (no Allow)",
                        f"permissions boundary {name} does not allow {action} on {resource}"
                        + hint("boundary"))
    if principal.session_policies and "session" not in allows:  # [ACCT] session policies
        names = ",".join(p.name for p in principal.session_policies)
        return Decision(False, "ImplicitDeny", f"session:{names} (no Allow)",
                        f"session policy {names} does not allow {action} on {resource}{hint('session')}")
    return Decision(True, "Allow", allows["identity"], f"{allows['identity']} allows {action} on {resource}")


def evaluate(principal: Principal, action: str, resource: str,
             context: dict[str, str | list[str] | bool | int]) -> Decision:
    """Decide `action` on one `resource` ARN for `principal`, per [EVAL]/[ACCT]."""
    return _run(principal, action, resource, context, None)


def explain(principal: Principal, action: str, resource: str, context: dict) -> dict:
    """The decision plus every statement's outcome, for logs (no context values included)."""
    trace: list = []
    d = _run(principal, action, resource, context, trace)
    return {"allowed": d.allowed, "effect": d.effect, "decided_by": d.decided_by,
            "reason": d.reason, "statements": trace}
