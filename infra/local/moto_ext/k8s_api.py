"""Each EKS cluster's Kubernetes API, authenticated and authorized as EKS does, so that the
remover can ask Kubernetes to delete what made AWS resources (eksctl's order) and wait.

Endpoint: DescribeCluster's `endpoint` is `http://127.0.0.1:$MOTO_PORT/moto-api/byoc/k8s/
<account>/<region>/<cluster>`, shown (as on AWS) once the cluster is ACTIVE; clients append
Kubernetes paths. It serves while the cluster is ACTIVE or UPDATING, else 503 (on AWS the
name does not resolve). The objects live with the cluster: deleting the cluster drops them
without any controller cleaning up, so what they made leaks, as on AWS.

Authentication (aws-iam-authenticator pkg/token/token.go Verify; EKS User Guide
cluster-auth.html, `aws eks get-token`): `Authorization: Bearer k8s-aws-v1.<base64url, no
padding, of a presigned STS GetCallerIdentity URL>`, at most 4096 bytes; https, host
`sts.amazonaws.com` or `sts.<region>.amazonaws.com` (scope region must match), path `/`, only
Action/Version/X-Amz-* parameters each once, Action=GetCallerIdentity, Version=2011-06-15,
X-Amz-SignedHeaders with `x-k8s-aws-id`, X-Amz-Expires 0..900 (otherwise ignored: valid 15
minutes after X-Amz-Date), not dated more than 5 minutes ahead. Then what STS would check:
the key is an unexpired session moto's STS issued (with its X-Amz-Security-Token) or an active
IAM user key (with none), and the SigV4 signature, recomputed with the secret over the
parameters and the headers host and `x-k8s-aws-id: <this cluster>` with the empty body's
SHA-256 as STS does for non-S3 presigns (an UNSIGNED-PAYLOAD presign fails: rusoto#1441), is
the one given. Else 401. A principal without an access entry is 401 too: EKS's authenticator
refuses unmapped ARNs (aws-iam-authenticator server.go: "ARN is not mapped"), kubectl's "You
must be logged in to the server (Unauthorized)". Tokens and secrets are never logged.

Authorization (EKS User Guide access-policies.html, access-policy-permissions.html): the
entry's associated access policies only; Kubernetes groups grant nothing (no RBAC here).
ClusterAdmin: everything; Admin and Edit: get/list/watch/create/update/patch/delete/
deletecollection on services, ingresses, persistentvolumeclaims; View: get/list/watch; all
but ClusterAdmin: get/list/watch on namespaces. Scope `cluster`, or `namespace` with names
(wildcards allowed), which never covers cluster-scope requests. Denied: 403 with Kubernetes'
message, the user being the entry's username with {{SessionName}} filled in.

Paths: GET /version (anonymous too before 1.32; from 1.32 EKS allows anonymous requests to
/healthz, /livez, /readyz only: EKS User Guide kubernetes-versions-standard.html), /healthz,
/livez, /readyz (a failing token is 401 there too, never taken for anonymous); GET
/api/v1/namespaces[/<ns>] (implicit: default, kube-*, and any used);
for services, persistentvolumeclaims (/api/v1) and ingresses (/apis/networking.k8s.io/v1):
GET (list) across namespaces, GET/POST .../namespaces/<ns>/<plural>, GET/DELETE
.../<name>. Errors are Status objects: 400 BadRequest, 401 Unauthorized, 403 Forbidden,
404 NotFound, 405 MethodNotAllowed, 409 AlreadyExists, 422 Invalid, 503 ServiceUnavailable.
DELETE answers the object with deletionTimestamp while finalizers hold it, else a Status
Success. k8s_controllers makes and unmakes the AWS side; a terminating object stays for as
many GET/LIST reads of it as the test set (default 0), then goes once cleanup succeeds:

    POST /moto-api/config {"byoc": {"k8s": {"111122223333": {"finalize_polls": 2}}}}
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import random
import re
import threading
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from . import control, k8s_controllers
from .k8s_controllers import Ctx

LOG = logging.getLogger("byoc.k8s")
PREFIX = "/moto-api/byoc/k8s/"
_LOCK = threading.RLock()
KINDS = {("", "services"): ("v1", "Service"), ("networking.k8s.io", "ingresses"): ("networking.k8s.io/v1", "Ingress"), ("", "persistentvolumeclaims"): ("v1", "PersistentVolumeClaim")}
_IMPLICIT_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
_VIEW, _WRITE = {"get", "list", "watch"}, {"create", "update", "patch", "delete", "deletecollection"}
_PATH = re.compile(r"^(?:api/v1|apis/(?P<group>[a-z0-9.-]+)/v1)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?/?$")
_TOKEN_PREFIX = "k8s-aws-v1."
_STS_HOST = re.compile(r"^sts(?:\.([a-z]{2}(?:-gov)?-[a-z]+-\d+))?\.amazonaws\.com$")
_TOKEN_PARAMS = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}


def endpoint_url(account: str, region: str, cluster: str) -> str:
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}{PREFIX}{account}/{region}/{cluster}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- answers


def _json(code: int, body: Any) -> tuple[int, dict, str]:
    return code, {"Content-Type": "application/json"}, json.dumps(body)


def _status(code: int, reason: str, message: str, details: dict | None = None) -> tuple[int, dict, str]:
    body: dict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return _json(code, body)


def _details(group: str, plural: str, name: str | None) -> dict:
    return {"kind": plural, **({"name": name} if name else {}), **({"group": group} if group else {})}


def _qualified(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def _not_found(group: str, plural: str, name: str) -> tuple[int, dict, str]:
    return _status(404, "NotFound", f'{_qualified(group, plural)} "{name}" not found', _details(group, plural, name))


def _forbidden(user: str, verb: str, group: str, plural: str, ns: str | None, name: str | None) -> tuple[int, dict, str]:
    subject = f'{_qualified(group, plural)} "{name}"' if name else _qualified(group, plural)
    where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    message = f'{subject} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API group "{group}" {where}'
    return _status(403, "Forbidden", message, _details(group, plural, name))


def _unauthorized() -> tuple[int, dict, str]:
    return _status(401, "Unauthorized", "Unauthorized")


# ---------------------------------------------------------------- authentication


class Identity(NamedTuple):
    principal_arn: str
    session_name: str | None


def _signing_key(access_key: str) -> tuple[str, str | None, Identity] | None:
    """(secret, session token, identity) for a key STS issued (unexpired) or an active IAM
    user key; None for anything else (moto's default keys included)."""
    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for backend in list(sts_backends[account].values()):
            for session in list(backend.assumed_roles):
                if session.access_key_id == access_key:
                    if session.expiration <= utcnow():
                        return None
                    return session.secret_access_key, session.session_token, Identity(session.role_arn, session.session_name)
    for account in list(iam_backends.keys()):
        for backend in list(iam_backends[account].values()):
            for user in list(backend.users.values()):
                for key in list(getattr(user, "access_keys", []) or []):
                    if key.access_key_id == access_key and key.status == "Active":
                        return key.secret_access_key, None, Identity(user.arn, None)
    return None


def authenticate(header: str | None, cluster_name: str) -> tuple[Identity | None, str]:
    """(identity, "") or (None, why) for the log; never echoes the token."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None, "no bearer token"
    if len(token) > 4096 or not token.startswith(_TOKEN_PREFIX):
        return None, "not a k8s-aws-v1 token"
    payload = token[len(_TOKEN_PREFIX):]
    try:
        if "=" in payload:
            raise ValueError("padded")
        url = base64.b64decode(payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True).decode()
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None, "token is not base64url of a URL"
    host = _STS_HOST.match(parts.netloc or "")
    if parts.scheme != "https" or not host or parts.path != "/":
        return None, "not an STS URL"
    params = {k.lower(): v for k, v in pairs}
    if len(params) != len(pairs) or not set(params) <= _TOKEN_PARAMS:
        return None, "unexpected or repeated query parameter"
    if params.get("action") != "GetCallerIdentity" or params.get("version") != "2011-06-15":
        return None, "not GetCallerIdentity"
    if "x-k8s-aws-id" not in params.get("x-amz-signedheaders", "").lower().split(";"):
        return None, "x-k8s-aws-id is not signed"
    try:
        expires = int(params.get("x-amz-expires", ""))
        signed_at = datetime.strptime(params.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None, "bad X-Amz-Expires or X-Amz-Date"
    if not 0 <= expires <= 900:
        return None, "X-Amz-Expires out of range"
    if _now() > signed_at + timedelta(minutes=15) or signed_at > _now() + timedelta(minutes=5):
        return None, "expired (15 minutes after X-Amz-Date) or dated ahead"
    scope = params.get("x-amz-credential", "").split("/")
    region = host.group(1) or "us-east-1"
    if params.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or len(scope) != 5 or scope[1:] != [params["x-amz-date"][:8], region, "sts", "aws4_request"]:
        return None, "bad credential scope"
    known = _signing_key(scope[0])
    if known is None:
        return None, "access key unknown, inactive or expired"
    secret, session_token, identity = known
    if not hmac.compare_digest(params.get("x-amz-security-token") or "", session_token or ""):
        return None, "security token does not match the key"
    request = AWSRequest(method="GET", url=f"https://{parts.netloc}/", headers={"x-k8s-aws-id": cluster_name})
    request.params = [(k, v) for k, v in pairs if k.lower() != "x-amz-signature"]
    request.context["timestamp"] = params["x-amz-date"]
    signer = SigV4QueryAuth(Credentials(scope[0], secret, session_token), "sts", region, expires)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, params.get("x-amz-signature", "")):
        return None, "signature does not match (wrong cluster, tampered, or wrong secret)"
    return identity, ""


# ---------------------------------------------------------------- authorization


def _policy_allows(policy_arn: str, verb: str, group: str, plural: str) -> bool:
    name = policy_arn.rsplit("/", 1)[-1]
    if name == "AmazonEKSClusterAdminPolicy":
        return True
    if (group, plural) == ("", "namespaces"):
        return name in ("AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy") and verb in _VIEW
    if (group, plural) in KINDS:
        if name in ("AmazonEKSAdminPolicy", "AmazonEKSEditPolicy"):
            return verb in _VIEW | _WRITE
        return name == "AmazonEKSViewPolicy" and verb in _VIEW
    return False


def authorized(entry: dict, verb: str, group: str, plural: str, ns: str | None) -> bool:
    for association in list(entry.get("policies", {}).values()):
        scope = association.get("accessScope") or {}
        in_scope = scope.get("type") == "cluster" or (ns is not None and any(fnmatchcase(ns, p) for p in scope.get("namespaces") or []))
        if in_scope and _policy_allows(association["policyArn"], verb, group, plural):
            return True
    return False


def _entry_for(cluster: Any, identity: Identity) -> dict | None:
    """The principal's access entry, if it still names this principal: an entry made before
    the principal was (re)created does not (EKS User Guide creating-access-entries.html: a
    recreated principal with the same ARN has a new unique ID; the entry must be recreated)."""
    from moto.iam.models import iam_backends

    entry = getattr(cluster, "byoc_access_entries", {}).get(identity.principal_arn)
    if entry is None:
        return None
    backend = iam_backends[identity.principal_arn.split(":")[4]]["aws"]
    principals = list(backend.roles.values()) + list(backend.users.values())
    principal = next((p for p in principals if p.arn == identity.principal_arn), None)
    created = getattr(principal, "create_date", None)
    if created is None or (created if created.tzinfo else created.replace(tzinfo=timezone.utc)) > entry["createdAt"]:
        return None
    return entry


def _username(entry: dict, identity: Identity) -> str:
    name = entry.get("username") or identity.principal_arn
    account = identity.principal_arn.split(":")[4]
    return name.replace("{{SessionName}}", identity.session_name or "").replace("{{SessionNameRaw}}", identity.session_name or "").replace("{{AccountID}}", account)


# ---------------------------------------------------------------- the objects


def _state(cluster: Any) -> dict:
    with _LOCK:
        if getattr(cluster, "byoc_k8s", None) is None:
            cluster.byoc_k8s = {"objects": {}, "made": {}, "polls": {}, "rv": 0, "ports": set(), "ips": set()}
        return cluster.byoc_k8s


def _next_rv(state: dict) -> str:
    state["rv"] += 1
    return str(state["rv"])


def _allocate(state: dict, pool: str, low: int, high: int) -> int:
    while True:
        value = random.randint(low, high)
        if value not in state[pool]:
            state[pool].add(value)
            return value


def _invalid(kind: str, name: str, field: str, problem: str) -> tuple[int, dict, str]:
    return _status(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {problem}', {"name": name, "kind": kind, "causes": [{"reason": "FieldValueRequired", "message": problem, "field": field}]})


def _create(ctx: Ctx, group: str, plural: str, ns: str, body: bytes) -> tuple[int, dict, str]:
    api_version, kind = KINDS[(group, plural)]
    try:
        obj = json.loads(body or b"")
    except ValueError:
        return _status(400, "BadRequest", "the body of the request was in an unknown format - accepted media types include: application/json")
    if not isinstance(obj, dict) or obj.get("kind") != kind or obj.get("apiVersion") != api_version:
        return _status(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion') if isinstance(obj, dict) else ''}) does not match the expected API version ({api_version})")
    meta = obj.setdefault("metadata", {})
    name = meta.get("name") or ""
    if meta.get("namespace", ns) != ns:
        return _status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) or len(name) > 63:
        return _invalid(kind, name, "metadata.name", "Required value: name or generateName is required" if not name else "Invalid value: a lowercase RFC 1123 label")
    spec = obj.setdefault("spec", {})
    state = ctx.state
    key = (group, plural, ns, name)
    if key in state["objects"]:
        return _status(409, "AlreadyExists", f'{_qualified(group, plural)} "{name}" already exists', _details(group, plural, name))
    if plural == "services":
        spec.setdefault("type", "ClusterIP")
        if not spec.get("ports"):
            return _invalid(kind, name, "spec.ports", "Required value")
        for port in spec["ports"]:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                port["nodePort"] = _allocate(state, "ports", 30000, 32767)
        ip = _allocate(state, "ips", 1, 65533)
        spec.setdefault("clusterIP", f"10.100.{ip // 256}.{ip % 256}")
        obj["status"] = {"loadBalancer": {}}
    elif plural == "persistentvolumeclaims":
        if not spec.get("accessModes"):
            return _invalid(kind, name, "spec.accessModes", "Required value: at least 1 access mode is required")
        if k8s_controllers.size_gib(((spec.get("resources") or {}).get("requests") or {}).get("storage")) is None:
            return _invalid(kind, name, "spec.resources[storage]", "Required value")
        obj["status"] = {"phase": "Pending"}
    else:
        obj["status"] = {"loadBalancer": {}}
    meta.update({"namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": _next_rv(state), "creationTimestamp": _stamp(_now()), "generation": 1})
    meta["finalizers"] = list(meta.get("finalizers") or []) + [f for f in k8s_controllers.finalizers_for(plural, obj) if f not in (meta.get("finalizers") or [])]
    meta.setdefault("annotations", {})
    meta.setdefault("labels", {})
    obj["apiVersion"], obj["kind"] = api_version, kind
    state["objects"][key] = obj
    state["made"][meta["uid"]] = {}
    k8s_controllers.ensure(ctx, plural, obj, state["made"][meta["uid"]])
    return _json(201, obj)


def _reconcile(ctx: Ctx) -> None:
    """Controllers are level-based: anything not made yet (no subnets, no driver, a missing
    backend service) is tried again whenever the API is used."""
    for (group, plural, ns, name), obj in list(ctx.state["objects"].items()):
        made = ctx.state["made"].setdefault(obj["metadata"]["uid"], {})
        if not obj["metadata"].get("deletionTimestamp") and not made.get("done"):
            k8s_controllers.ensure(ctx, plural, obj, made)


def _finish(ctx: Ctx, key: tuple) -> bool:
    """One step of a terminating object's end; True when it is gone. A finalizer no
    controller here owns is never removed, so its object stays, as in Kubernetes."""
    obj = ctx.state["objects"][key]
    uid = obj["metadata"]["uid"]
    left = ctx.state["polls"].get(uid, 0)
    if left > 0:
        ctx.state["polls"][uid] = left - 1
        return False
    if not k8s_controllers.finalize(ctx, uid, ctx.state["made"].get(uid, {})):
        return False
    if set(obj["metadata"].get("finalizers") or []) - set(k8s_controllers.finalizers_for(key[1], obj)):
        return False
    del ctx.state["objects"][key]
    ctx.state["made"].pop(uid, None)
    ctx.state["polls"].pop(uid, None)
    return True


def _read(ctx: Ctx, keys: list[tuple]) -> list[dict]:
    """The objects a GET/LIST returns; each read is a sighting for terminating ones."""
    shown = []
    for key in keys:
        obj = ctx.state["objects"].get(key)
        if obj is None or (obj["metadata"].get("deletionTimestamp") and _finish(ctx, key)):
            continue
        shown.append(obj)
    return shown


def _delete(ctx: Ctx, key: tuple) -> tuple[int, dict, str]:
    group, plural, ns, name = key
    obj = ctx.state["objects"].get(key)
    if obj is None:
        return _not_found(group, plural, name)
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = _stamp(_now())
        meta["deletionGracePeriodSeconds"] = 0
        meta["resourceVersion"] = _next_rv(ctx.state)
        polls = control.setting("k8s", ctx.account, "finalize_polls", 0) if meta.get("finalizers") else 0
        ctx.state["polls"][meta["uid"]] = polls if isinstance(polls, int) and polls > 0 else 0
        if ctx.state["polls"][meta["uid"]] == 0 and _finish(ctx, key):
            return _json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": {**_details(group, plural, name), "uid": meta["uid"]}})
    return _json(200, obj)


def _namespaces(ctx: Ctx) -> list[str]:
    return sorted(set(_IMPLICIT_NAMESPACES) | {k[2] for k in ctx.state["objects"]})


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


# ---------------------------------------------------------------- serving


def _cluster(account: str, region: str, name: str) -> Any:
    from moto.eks.models import eks_backends

    if account not in eks_backends or region not in eks_backends[account]:
        return None
    return eks_backends[account][region].clusters.get(name)


def _version(cluster: Any) -> dict:
    """The API server's version: the cluster's current version (it moves with a version
    update), at the calendar's patch release (eks_catalogue)."""
    from .eks_catalogue import patch

    major, minor = str(cluster.version).split(".")[:2]
    git = f"v{patch(str(cluster.version))}-eks-{uuid.uuid5(uuid.NAMESPACE_URL, cluster.arn).hex[:7]}"
    return {"major": major, "minor": minor, "gitVersion": git, "gitTreeState": "clean", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}


def _serve(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    url = urlsplit(full_url)
    account, region, cluster_name, path = (unquote(url.path)[len(PREFIX):].split("/", 3) + ["", "", "", ""])[:4]
    cluster = _cluster(account, region, cluster_name)
    if cluster is None or cluster.status not in ("ACTIVE", "UPDATING"):
        state = "does not exist" if cluster is None else f"is {cluster.status}"
        return _status(503, "ServiceUnavailable", f"the API server of cluster {cluster_name} is not reachable: the cluster {state}")
    path = path.strip("/")
    auth_header = headers.get("Authorization") or headers.get("authorization")
    if auth_header is None and path in ("healthz", "livez", "readyz"):
        return 200, {"Content-Type": "text/plain"}, "ok"
    if auth_header is None and path == "version" and tuple(int(p) for p in str(cluster.version).split(".")[:2]) < (1, 32):
        return _json(200, _version(cluster))
    identity, why = authenticate(auth_header, cluster_name)
    entry = _entry_for(cluster, identity) if identity else None
    if identity is None or entry is None:  # a bad token is never taken for anonymous
        LOG.info("k8s API of %s/%s/%s: 401 (%s)", account, region, cluster_name, why or "no (current) access entry for the principal")
        return _unauthorized()
    if path in ("version", "healthz", "livez", "readyz"):
        return _json(200, _version(cluster)) if path == "version" else (200, {"Content-Type": "text/plain"}, "ok")
    user = _username(entry, identity)
    match = _PATH.match(path)
    if not match:
        return _status(404, "NotFound", "the server could not find the requested resource")
    group, ns, plural, name = match.group("group") or "", match.group("ns"), match.group("plural"), match.group("name")
    if (group, plural) not in KINDS and not (plural == "namespaces" and ns is None and not group):
        return _status(404, "NotFound", "the server could not find the requested resource")
    scope_ns = name if plural == "namespaces" else ns  # a namespace is authorized in itself
    query = dict(parse_qsl(url.query))
    if any(k in query for k in ("watch", "fieldSelector", "labelSelector", "dryRun")):
        return _status(400, "BadRequest", "the local stack's Kubernetes API does not serve watch, selectors or dryRun")
    method = request.method.upper()
    verb = {("GET", False): "list", ("GET", True): "get", ("POST", False): "create", ("DELETE", True): "delete"}.get((method, name is not None))
    if verb is None or (plural == "namespaces" and verb not in _VIEW):
        return _status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    if not authorized(entry, verb, group, plural, scope_ns):
        return _forbidden(user, verb, group, plural, scope_ns, name)
    with _LOCK:
        ctx = Ctx(account, region, cluster, _state(cluster))
        _reconcile(ctx)
        if plural == "namespaces":
            if name is None:
                return _json(200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": str(ctx.state["rv"])}, "items": [_namespace(n) for n in _namespaces(ctx)]})
            return _json(200, _namespace(name)) if name in _namespaces(ctx) else _not_found("", "namespaces", name)
        if verb == "create":
            return _create(ctx, group, plural, ns, request.get_data())
        if verb == "delete":
            return _delete(ctx, (group, plural, ns, name))
        if verb == "get":
            shown = _read(ctx, [(group, plural, ns, name)])
            return _json(200, shown[0]) if shown else _not_found(group, plural, name)
        keys = sorted(k for k in ctx.state["objects"] if k[:2] == (group, plural) and (ns is None or k[2] == ns))
        api_version, kind = KINDS[(group, plural)]
        return _json(200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": str(ctx.state["rv"])}, "items": _read(ctx, keys)})


def _handler(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    try:
        return _serve(request, full_url, headers)
    except Exception:  # noqa: BLE001 - answer as an API server would, keep the trace
        LOG.error("k8s API failed: %s", traceback.format_exc())
        return _status(500, "InternalError", "an error on the server has prevented the request from succeeding")


# ---------------------------------------------------------------- wiring


def _install_endpoint() -> None:
    """Sets each new cluster's endpoint; EKS shows none until the cluster is ACTIVE
    (DescribeCluster of a CREATING cluster has no endpoint)."""
    from moto.eks.models import Cluster, EKSBackend

    original_create = EKSBackend.create_cluster

    def create_cluster(self: Any, *args: Any, **kwargs: Any) -> Any:
        cluster = original_create(self, *args, **kwargs)
        cluster.byoc_endpoint = endpoint_url(self.account_id, self.region_name, cluster.name)
        return cluster

    def get_endpoint(self: Any) -> str | None:
        if self.status not in ("ACTIVE", "UPDATING", "DELETING"):
            return None
        return self.__dict__.get("byoc_endpoint") or self.__dict__.get("_moto_endpoint")

    def set_endpoint(self: Any, value: str) -> None:
        self.__dict__["_moto_endpoint"] = value

    Cluster.endpoint = property(get_endpoint, set_endpoint)  # type: ignore[assignment]
    EKSBackend.create_cluster = create_cluster  # type: ignore[method-assign]


def install() -> None:
    from moto.eks.models import EKSBackend
    from moto.moto_api._internal import urls

    if getattr(EKSBackend, "_byoc_k8s", False):
        return
    urls.url_paths.setdefault("{0}" + PREFIX + "(?P<rest>.*)$", _handler)
    _install_endpoint()
    EKSBackend._byoc_k8s = True  # type: ignore[attr-defined]
