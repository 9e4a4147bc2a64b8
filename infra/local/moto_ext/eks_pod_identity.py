"""EKS Pod Identity on the local stack: the association API, associations owned by add-ons, and
whether a controller's pods get AWS credentials allowing what they call: the EBS CSI driver's
(asked by k8s_controllers) and the AWS Load Balancer Controller's (asked by k8s_lbc).

EKS User Guide pages (https://docs.aws.amazon.com/eks/latest/userguide/<page>): pod-identities,
pod-id-association, pod-id-role, pod-id-how-it-works, pod-id-abac, pod-id-agent-setup,
add-ons-iam, removing-an-add-on, ebs-csi, al2023, aws-load-balancer-controller, lbc-helm; EKS API
reference CreatePodIdentityAssociation, CreateAddon, DeleteAddon, AddonPodIdentityAssociations.

- Create/Describe/List/DeletePodIdentityAssociation on /clusters/<name>/pod-identity-associations.
  Ids `a-` + 17 of [a-z0-9], ARN `arn:aws:eks:<region>:<account>:podidentityassociation/<cluster>/
  <id>`; `disableSessionTags` false unless asked; List filters namespace/serviceAccount, pages of
  maxResults (100). Refused: a missing cluster (ResourceNotFoundException); a role that is not
  in the cluster's account or does not exist ("Role provided in the request does not exist"),
  or whose trust policy has no Allow for `pods.eks.amazonaws.com` covering both sts:AssumeRole
  and sts:TagSession ("Trust policy of the role provided is invalid. ...": pod-id-role) - both
  InvalidParameterException, EKS's texts as callers report them; a second association for a
  namespace and service account ("Association already exists: <id>", ResourceInUseException,
  409: "one IAM role to each Kubernetes service account"). A repeated clientRequestToken with
  the same request answers the association it made. `targetRoleArn`/`policy` are not modelled:
  refused. Associations live with their cluster and go when it goes.
- CreateAddon `podIdentityAssociations` (add-ons-iam): checked as above, made in the add-on's
  namespace (kube-system) and owned by it (`ownerArn` = the add-on ARN; DescribeAddon lists their
  ARNs); only for service accounts in the add-on's pod identity configuration ("Service account
  X in pod identity configuration is not supported for addon Y"; none: "Pod Identity feature is
  not supported for addon version: V"); an existing association is never taken over ("Add-ons
  can't assume ownership of existing pod identity associations"). DeleteAddon deletes them
  unless `preserve` (removing-an-add-on). The agent add-on is not required to create either:
  AWS documents it as required for associations to work (pod-identities: "The EKS Pod Identity
  Agent is required"), not as a CreateAddon check.
- The EBS CSI controller (kube-system/ebs-csi-controller-sa) has credentials when (add-ons-iam)
  its add-on owns an association and the `eks-pod-identity-agent` add-on is there (then
  `serviceAccountRoleArn` is ignored); else with `serviceAccountRoleArn` (IRSA: the cluster's
  OIDC provider exists in IAM with audience sts.amazonaws.com, and the role's trust allows
  sts:AssumeRoleWithWebIdentity to it for system:serviceaccount:kube-system:ebs-csi-controller-
  sa); else with an association made directly before the add-on's pods started (EKS injects the
  credentials' settings when a pod starts: pod-id-how-it-works) and the agent. The role must
  still exist, its trust is evaluated with the session tags EKS sends (pod-id-abac), and its
  permissions (iam_eval, with its boundary) must allow the driver's CreateVolume and the tags on
  it as iam_context authorizes them (AmazonEBSCSIDriverPolicy does). The node role is never a
  source (AL2023 nodes give pods none: hop limit 1, al2023; stricter than AWS for nodes with hop
  limit 2, ebs-csi: "unless you block access to IMDS"). Otherwise the claim stays Pending
  and the controller logs what kubectl describe shows ("failed to provision volume with
  StorageClass ... could not create volume in EC2: ..."): ebs-csi documents no add-on health
  issue for that, so the add-on stays ACTIVE.
- Controllers installed with Helm, not as add-ons (`controller_refusal`; the AWS Load Balancer
  Controller: kube-system/aws-load-balancer-controller, the chart's default service account,
  lbc-helm): credentials only from an association of that service account owned by no add-on
  that exists and existed when the controller's pod started (pod-id-how-it-works: the
  credentials' settings are injected at pod start; the caller says when that was), with the
  agent ready; pod `<service account>-<10 hex>`, session and session tags as above, the role's
  trust evaluated with them. IRSA is not modelled for them (no ServiceAccount or its
  eks.amazonaws.com/role-arn annotation is served); else the chain ends at IMDS (as above).
  Each call the controller is about to make is authorized with iam_context/iam_eval as above
  (all checks and targets, tags on create included); one the stack cannot evaluate is refused
  naming what is missing, never allowed. The answer is the SDK's error for the first refused
  call ("operation error Elastic Load Balancing v2: CreateLoadBalancer, https response error
  StatusCode: 403, api error AccessDenied: User: <session> is not authorized to perform: ...").
- IAM (iam_resolvers): CreatePodIdentityAssociation and CreateAddon with associations need
  iam:PassRole (pods.eks.amazonaws.com, the cluster ARN); CreateAddon and DeleteAddon also
  authorize the associations the add-on makes or takes with it (the SAR lists them).
"""

from __future__ import annotations

import json
import random
import re
import string
import threading
import uuid
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any, Callable
from urllib.parse import unquote

from . import aws_managed_policies
from .eks_ext import _cluster, _error

_LOCK = threading.RLock()
SERVICE = "pods.eks.amazonaws.com"
AGENT = "eks-pod-identity-agent"
EBS_CSI = "aws-ebs-csi-driver"
EBS_CSI_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
# add-on -> the service accounts its pod identity configuration names (DescribeAddonConfiguration
# podIdentityConfiguration; ebs-csi: ebs-csi-controller-sa; cni-iam-role: aws-node)
ADDON_SERVICE_ACCOUNTS = {EBS_CSI: ("ebs-csi-controller-sa",), "vpc-cni": ("aws-node",)}
SESSION_TAGS = ("eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def associations(cluster: Any) -> dict[str, dict]:
    """The cluster's associations by id (they live, and go, with the cluster object)."""
    with _LOCK:
        if getattr(cluster, "byoc_pod_identity", None) is None:
            cluster.byoc_pod_identity = {}
        return cluster.byoc_pod_identity


def _view(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("byoc")}


def _summary(record: dict) -> dict:
    keys = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
    return {k: record[k] for k in keys if k in record}


# ---------------------------------------------------------------- roles and their trust


def _role(arn: str, account: str) -> Any:
    from moto.iam.models import iam_backends

    match = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):role/.+", arn or "")
    if not match or match.group(2) != account:
        return None  # pod-identities: "You can only associate roles that are in the same AWS account"
    try:
        return iam_backends[account][match.group(1)].get_role_by_arn(arn)
    except Exception:
        return None


def _statements(role: Any) -> tuple[str, list[dict]]:
    document = role.assume_role_policy_document
    try:
        parsed = json.loads(unquote(document)) if isinstance(document, str) else dict(document or {})
    except ValueError:
        return "2012-10-17", []
    found = parsed.get("Statement") or []
    return str(parsed.get("Version") or "2008-10-17"), [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, dict)]


def _names(principal: Any, kind: str) -> list[str]:
    if principal == "*":
        return ["*"]
    value = principal.get(kind, []) if isinstance(principal, dict) else []
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def _covers(actions: Any, action: str) -> bool:
    listed = [actions] if isinstance(actions, str) else actions if isinstance(actions, list) else []
    return any(isinstance(a, str) and fnmatchcase(action.lower(), a.lower()) for a in listed)


def trusts_pods(role: Any) -> bool:
    """pod-id-role: Allow for Service pods.eks.amazonaws.com, actions sts:AssumeRole and
    sts:TagSession (conditions are for the runtime check)."""
    needed = {"sts:AssumeRole", "sts:TagSession"}
    for st in _statements(role)[1]:
        if st.get("Effect") == "Allow" and {SERVICE, "*"} & set(_names(st.get("Principal"), "Service")):
            needed = {a for a in needed if not _covers(st.get("Action"), a)}
    return not needed


def trust_allows(role: Any, kind: str, principal: str, action: str, context: dict) -> bool:
    """The role's trust policy decided by iam_eval for `principal` (its Principal matched here,
    Resource the role): Allow and Deny statements naming it, conditions on `context`."""
    from .iam_eval import Policy, Principal, evaluate

    version, statements = _statements(role)
    kept = []
    for st in statements:
        if "NotPrincipal" in st:
            if st.get("Effect") == "Allow":
                continue  # when in doubt, refuse: never an Allow, always a Deny
        elif not {principal, "*"} & set(_names(st.get("Principal"), kind)):
            continue
        kept.append({**{k: v for k, v in st.items() if k not in ("Principal", "NotPrincipal")}, "Resource": "*"})
    return evaluate(Principal((Policy("trust", {"Version": version, "Statement": kept}),)), action, role.arn, context).allowed


def _check_role(cluster: Any, role_arn: str) -> None:
    role = _role(role_arn, cluster.arn.split(":")[4])
    if role is None:
        raise _error("InvalidParameterException", "Role provided in the request does not exist", clusterName=cluster.name)
    if not trusts_pods(role):
        raise _error("InvalidParameterException", "Trust policy of the role provided is invalid. Follow the official documentation to resolve the issue.", clusterName=cluster.name)


# ---------------------------------------------------------------- associations


def _create(cluster: Any, namespace: str, account: str, role_arn: str, tags: dict, owner: str | None = None, disable: bool = False, token: str | None = None) -> dict:
    _check_role(cluster, role_arn)
    with _LOCK:
        existing = next((a for a in associations(cluster).values() if (a["namespace"], a["serviceAccount"]) == (namespace, account)), None)
        if existing is not None:
            raise _error("ResourceInUseException", f"Association already exists: {existing['associationId']}", clusterName=cluster.name)
        aid = "a-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=17))
        record = {
            "clusterName": cluster.name, "namespace": namespace, "serviceAccount": account, "roleArn": role_arn,
            "associationArn": f"{cluster.arn.split(':cluster/')[0]}:podidentityassociation/{cluster.name}/{aid}",
            "associationId": aid, "tags": dict(tags or {}), "createdAt": _now(), "modifiedAt": _now(), "disableSessionTags": disable,
            "byoc_token": token,
        }
        if owner:
            record["ownerArn"] = owner
        associations(cluster)[aid] = record
        return record


def _association(cluster: Any, aid: str) -> dict:
    aid = unquote(aid or "")
    if len(aid) != 19:  # what DeletePodIdentityAssociation answers a malformed id
        raise _error("InvalidParameterException", "The parameter associationId should be 19 characters long.", clusterName=cluster.name)
    record = associations(cluster).get(aid)
    if record is None:
        raise _error("ResourceNotFoundException", f"No association found for id: {aid}.", clusterName=cluster.name)
    return record


def _install_api(EKSResponse: Any) -> None:
    from moto.core.responses import ActionResult

    def create_pod_identity_association(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        for unmodelled in ("targetRoleArn", "policy"):
            if self._get_param(unmodelled):
                raise _error("InvalidParameterException", f"{unmodelled} is not modelled by the local stack", clusterName=cluster.name)
        namespace, account, role = self._get_param("namespace"), self._get_param("serviceAccount"), self._get_param("roleArn")
        token = self._get_param("clientRequestToken")
        with _LOCK:
            same = next((a for a in associations(cluster).values() if token and a.get("byoc_token") == token and (a["namespace"], a["serviceAccount"], a["roleArn"]) == (namespace, account, role)), None)
            record = same or _create(cluster, namespace, account, role, self._get_param("tags") or {}, disable=bool(self._get_param("disableSessionTags")), token=token)
        return ActionResult({"association": _view(record)})

    def describe_pod_identity_association(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        return ActionResult({"association": _view(_association(cluster, self._get_param("associationId")))})

    def list_pod_identity_associations(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        namespace, account = self._get_param("namespace"), self._get_param("serviceAccount")
        size = int(self._get_param("maxResults") or 100)
        if not 1 <= size <= 100:
            raise _error("InvalidParameterException", "maxResults must be between 1 and 100", clusterName=cluster.name)
        with _LOCK:
            found = sorted((a for a in associations(cluster).values() if namespace in (None, a["namespace"]) and account in (None, a["serviceAccount"])), key=lambda a: a["createdAt"])
        start = int(self._get_param("nextToken") or 0)
        page = found[start:start + size]
        out: dict = {"associations": [_summary(a) for a in page]}
        if start + size < len(found):
            out["nextToken"] = str(start + size)
        return ActionResult(out)

    def delete_pod_identity_association(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        with _LOCK:
            record = _association(cluster, self._get_param("associationId"))
            associations(cluster).pop(record["associationId"], None)
            for addon in getattr(cluster, "byoc_addons", {}).values():  # add-ons-iam: deleting one directly is allowed
                owned = addon.fields.get("podIdentityAssociations") or []
                if record["associationArn"] in owned:
                    addon.fields["podIdentityAssociations"] = [a for a in owned if a != record["associationArn"]]
        return ActionResult({"association": _view(record)})

    for handler in (create_pod_identity_association, describe_pod_identity_association, list_pod_identity_associations, delete_pod_identity_association):
        setattr(EKSResponse, handler.__name__, handler)


def _install_addons(EKSResponse: Any) -> None:
    from moto.core.responses import ActionResult

    from . import eks_ext

    original_create, original_delete = EKSResponse.create_addon, EKSResponse.delete_addon

    def owned_associations(cluster: Any, record: Any, wanted: list[dict], namespace: str) -> None:
        name, version = record.fields["addonName"], record.fields["addonVersion"]
        accounts = ADDON_SERVICE_ACCOUNTS.get(name)
        if accounts is None:
            raise _error("InvalidParameterException", f"Pod Identity feature is not supported for addon version: {version}", clusterName=cluster.name, addonName=name)
        for association in wanted:
            if association.get("serviceAccount") not in accounts:
                raise _error("InvalidParameterException", f"Service account {association.get('serviceAccount')} in pod identity configuration is not supported for addon {name}", clusterName=cluster.name, addonName=name)
            _check_role(cluster, association.get("roleArn") or "")
        with _LOCK:
            for association in wanted:
                existing = next((a for a in associations(cluster).values() if (a["namespace"], a["serviceAccount"]) == (namespace, association["serviceAccount"])), None)
                if existing is not None:
                    raise _error("ResourceInUseException", f"Association already exists: {existing['associationId']}", clusterName=cluster.name, addonName=name)
            made = [_create(cluster, namespace, a["serviceAccount"], a["roleArn"], {}, owner=record.fields["addonArn"]) for a in wanted]
            record.fields["podIdentityAssociations"] = [a["associationArn"] for a in made]

    def create_addon(self: Any) -> Any:
        wanted = [dict(a) for a in self._get_param("podIdentityAssociations") or []]
        result = original_create(self)  # the add-on's own checks first
        if not wanted:
            return result
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        record = cluster.byoc_addons[self._get_param("addonName")]
        try:
            owned_associations(cluster, record, wanted, (self._get_param("namespaceConfig") or {}).get("namespace") or "kube-system")
        except Exception:
            with eks_ext._LOCK:  # nothing half-made
                cluster.byoc_addons.pop(record.fields["addonName"], None)
            raise
        return ActionResult({"addon": record.view()})

    def delete_addon(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        record = getattr(cluster, "byoc_addons", {}).get(unquote(self._get_param("addonName") or ""))
        result = original_delete(self)
        if record is not None and str(self._get_param("preserve", "false")).lower() != "true":
            with _LOCK:
                for aid in [i for i, a in associations(cluster).items() if a.get("ownerArn") == record.fields["addonArn"]]:
                    associations(cluster).pop(aid, None)
        return result

    EKSResponse.create_addon, EKSResponse.delete_addon = create_addon, delete_addon


# ---------------------------------------------------------------- controllers' credentials

# Where the Go SDK's credential chain (aws-sdk-go-v2, both controllers') ends when nothing gave
# the pod credentials: at IMDS, which AL2023 nodes give pods none of (hop limit 1, al2023), or at
# the pod identity agent's address (169.254.170.23) when the agent is not running.
IMDS_REFUSAL = "get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, canceled, context deadline exceeded"
AGENT_REFUSAL = "get identity: get credentials: failed to refresh cached credentials, failed to load credentials, operation error ecs container credentials: GetCredentials, dial tcp 169.254.170.23:80: connect: connection refused"
# the SDK's service ids, as its errors name them: "operation error <service>: <operation>, ..."
SDK_SERVICES = {"ec2": "EC2", "elasticloadbalancing": "Elastic Load Balancing v2"}
AwsCall = tuple[str, str, dict]  # (IAM service prefix, API action, request parameters)


def _ready(record: Any) -> bool:
    """ACTIVE, or CREATING with no poll left (it turns ACTIVE at its next sighting)."""
    if record is None:
        return False
    return record.status == "ACTIVE" or (record.status == "CREATING" and getattr(record, "byoc_polls_left", 0) == 0 and getattr(record, "byoc_final", ("",))[0] == "ACTIVE")


def _denied(service: str, session_arn: str, action: str, arn: str, why: str) -> str:
    """A service's 403 as the SDK reports it: EC2's UnauthorizedOperation, the query APIs'
    (Elastic Load Balancing's) AccessDenied (iam_enforce)."""
    said = "UnauthorizedOperation: You are not authorized to perform this operation. " if service == "ec2" else "AccessDenied: "
    return f"https response error StatusCode: 403, api error {said}User: {session_arn} is not authorized to perform: {action} on resource: {arn} {why}"


def _calls_refusal(account: str, region: str, role: Any, session: str, session_tags: dict, calls: list[AwsCall], who: str, contexts: Callable | None = None) -> tuple[int, str] | None:
    """The first of `calls` AWS refuses the role's session, and what it answers, as iam_enforce
    decides an assumed-role request: every check (tags on create included) and target of each
    call's authorization must be allowed. None when all are. A call the stack cannot evaluate
    (iam_context.Unevaluable) is refused, naming what is missing."""
    from . import iam_context, iam_eval
    from .iam_enforce import _why, principal_of

    build = contexts or iam_context.authorization
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role.name}/{session}"
    cannot = f"the local stack cannot evaluate the {who}'s permissions: "
    try:
        principal, role_tags = principal_of(account, "aws", role.arn, None)
    except iam_context.Unevaluable as problem:
        return 0, cannot + str(problem)
    keys = iam_context.global_keys(role.arn, session_arn, f"{role.id}:{session}", account, region, {**role_tags, **session_tags})
    for index, (service, action, params) in enumerate(calls):
        try:
            auth = build(iam_context.Call(service, action, params, account, region, "aws"))
        except iam_context.Unevaluable as problem:
            return index, cannot + str(problem)
        for check in auth.checks:
            for target in check.targets:
                decision = iam_eval.evaluate(principal, check.action, target.arn, {**keys, **target.keys})
                if not decision.allowed:
                    return index, _denied(service, session_arn, check.action, target.arn, _why(decision, check.action))
    return None


def _permission_refusal(account: str, region: str, role: Any, session: str, session_tags: dict, request: dict) -> str | None:
    """What EC2 answers the EBS CSI driver's CreateVolume (tags on create included); None when allowed."""
    tags = [{"Key": k, "Value": v} for k, v in request["tags"].items()]
    params = {"AvailabilityZone": request["zone"], "Size": request["size"], "VolumeType": request["type"], "TagSpecifications": [{"ResourceType": "volume", "Tags": tags}]}
    refused = _calls_refusal(account, region, role, session, session_tags, [("ec2", "CreateVolume", params)], "driver")
    return refused[1] if refused else None


def _pod_session(account: str, cluster: Any, association: dict, agent: bool, pod_prefix: str) -> tuple[Any, str, dict] | str:
    """(role, session name, session tags) of the credentials EKS Auth gives the association's pod
    (pod-id-how-it-works, pod-id-abac: session `eks-<cluster>-<pod>`, the six session tags unless
    disabled, the role's trust evaluated with them); else the SDK's error."""
    if not agent:  # the SDK's container provider finds no agent at 169.254.170.23
        return AGENT_REFUSAL
    role = _role(association["roleArn"], account)
    uid = uuid.uuid5(uuid.NAMESPACE_URL, association["associationArn"])  # one controller pod
    pod = f"{pod_prefix}-{uid.hex[:10]}"
    tags = {} if association.get("disableSessionTags") else dict(zip(SESSION_TAGS, (cluster.arn, cluster.name, association["namespace"], association["serviceAccount"], pod, str(uid))))
    context = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": sorted(tags)}
    actions = ["sts:AssumeRole"] + (["sts:TagSession"] if tags else [])
    if role is None or not all(trust_allows(role, "Service", SERVICE, a, context) for a in actions):
        what = "the role does not exist" if role is None else f"{SERVICE} is not authorized to perform: {' and '.join(actions)} on resource: {role.arn}"
        return f"get identity: get credentials: failed to refresh cached credentials, operation error EKS Auth: AssumeRoleForPodIdentity, api error AccessDeniedException: {what}"
    return role, f"eks-{cluster.name}-{pod}", tags


def _pod_identity(account: str, region: str, cluster: Any, association: dict, agent: bool, request: dict) -> str | None:
    session = _pod_session(account, cluster, association, agent, "ebs-csi-controller")
    if isinstance(session, str):
        return session
    return _permission_refusal(account, region, *session, request)


def _irsa(account: str, region: str, cluster: Any, role_arn: str, request: dict) -> str | None:
    from moto.iam.models import iam_backends

    issuer = str((getattr(cluster, "identity", None) or {}).get("oidc", {}).get("issuer") or "")
    host = issuer.split("://", 1)[-1]
    provider = iam_backends[account]["aws"].open_id_providers.get(f"arn:aws:iam::{account}:oidc-provider/{host}")
    failed = "get identity: get credentials: failed to refresh cached credentials, failed to retrieve credentials, operation error STS: AssumeRoleWithWebIdentity, "
    if provider is None:
        return failed + f"api error InvalidIdentityToken: No OpenIDConnect provider found in your account for {issuer}"
    if "sts.amazonaws.com" not in provider.client_id_list:
        return failed + "api error InvalidIdentityToken: Incorrect token audience"
    role = _role(role_arn, account)
    subject = f"system:serviceaccount:{EBS_CSI_ACCOUNT[0]}:{EBS_CSI_ACCOUNT[1]}"
    context = {f"{host}:sub": subject, f"{host}:aud": "sts.amazonaws.com"}
    if role is None or not trust_allows(role, "Federated", provider.arn, "sts:AssumeRoleWithWebIdentity", context):
        return failed + "api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
    return _permission_refusal(account, region, role, "ebs-csi-controller", {}, request)


def ebs_csi_refusal(account: str, region: str, cluster: Any, request: dict) -> str | None:
    """None when the EBS CSI controller can make the volume `request` describes (zone, size,
    type, tags, class, pv); else the error it logs for the claim."""
    addons = getattr(cluster, "byoc_addons", {})
    record = addons.get(EBS_CSI)
    if record is None:
        return "the aws-ebs-csi-driver add-on is not installed"
    namespace, account_name = EBS_CSI_ACCOUNT
    with _LOCK:
        found = [a for a in associations(cluster).values() if (a["namespace"], a["serviceAccount"]) == (namespace, account_name)]
    owned = [a for a in found if a.get("ownerArn") == record.fields["addonArn"]]
    direct = [a for a in found if not a.get("ownerArn") and a["createdAt"] <= record.fields["createdAt"]]
    agent = _ready(addons.get(AGENT))
    irsa = record.fields.get("serviceAccountRoleArn")
    if owned and (agent or not irsa):
        problem = _pod_identity(account, region, cluster, owned[0], agent, request)
    elif irsa:
        problem = _irsa(account, region, cluster, irsa, request)
    elif direct:
        problem = _pod_identity(account, region, cluster, direct[0], agent, request)
    else:  # the SDK's chain ends at IMDS, which the nodes do not give to pods (hop limit 1)
        problem = IMDS_REFUSAL
    if problem is None:
        return None
    return f'failed to provision volume with StorageClass "{request["class"]}": rpc error: code = Internal desc = Could not create volume "{request["pv"]}": could not create volume in EC2: operation error EC2: CreateVolume, {problem}'


def controller_refusal(account: str, region: str, cluster: Any, namespace: str, service_account: str, calls: list[AwsCall], started_at: datetime, contexts: Callable | None = None) -> str | None:
    """None when a controller that is no add-on (installed with Helm) and runs as `namespace`/
    `service_account`, its pod started at `started_at`, may make each of `calls` in that order;
    else the SDK's error for the first it cannot: `operation error <service>: <action>, <why>`
    (with no calls, only the credentials are decided and the bare `<why>` is answered).
    Credentials: only an association of that service account owned by no add-on, existing now
    and made by `started_at` (EKS injects the credentials' settings when a pod starts:
    pod-id-how-it-works), with the pod identity agent ready (pod-identities); the pod is
    `<service_account>-<10 hex>`. IRSA is not modelled here (no ServiceAccount objects or
    annotations are served); the node role is never a source (AL2023: hop limit 1). Without an
    association the chain ends at IMDS. `contexts` builds a call's authorization (default
    iam_context.authorization)."""
    with _LOCK:
        found = next((a for a in associations(cluster).values() if (a["namespace"], a["serviceAccount"]) == (namespace, service_account)
                      and not a.get("ownerArn") and a["createdAt"] <= started_at), None)
    index, problem = 0, IMDS_REFUSAL
    if found is not None:
        session = _pod_session(account, cluster, found, _ready(getattr(cluster, "byoc_addons", {}).get(AGENT)), service_account)
        refused = (0, session) if isinstance(session, str) else _calls_refusal(account, region, *session, calls, "controller", contexts)
        if refused is None:
            return None
        index, problem = refused
    if not calls:
        return problem
    service, action, _ = calls[index]
    return f"operation error {SDK_SERVICES.get(service, service)}: {action}, {problem}"


# ---------------------------------------------------------------- wiring

_ROUTES = (
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$",
)


def install() -> None:
    import moto.eks.urls as urls
    from moto.eks.responses import EKSResponse

    if getattr(EKSResponse, "_byoc_pod_identity", False):
        return
    for route in _ROUTES:
        urls.url_paths.setdefault(route, urls.response.dispatch)
    _install_api(EKSResponse)
    _install_addons(EKSResponse)
    aws_managed_policies.install()
    EKSResponse._byoc_pod_identity = True
