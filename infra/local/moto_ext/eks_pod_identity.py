"""EKS Pod Identity on the local stack: the association API, associations owned by add-ons, and
whether the EBS CSI driver's controller gets AWS credentials (asked by k8s_controllers).

EKS User Guide pages (https://docs.aws.amazon.com/eks/latest/userguide/<page>): pod-identities,
pod-id-association, pod-id-role, pod-id-how-it-works, pod-id-abac, pod-id-agent-setup,
add-ons-iam, removing-an-add-on, ebs-csi, al2023; EKS API reference CreatePodIdentityAssociation,
CreateAddon, DeleteAddon, AddonPodIdentityAssociations.

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
- AWS managed policies are known to IAM by ARN (moto ships them but loads none by default), and
  CloudFormation's AWS::IAM::Role `ManagedPolicyArns` are attached (moto ignores them), detached
  when the stack deletes the role or drops them; an ARN IAM does not know fails the role.
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
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

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


# ---------------------------------------------------------------- the EBS CSI controller's credentials


def _ready(record: Any) -> bool:
    """ACTIVE, or CREATING with no poll left (it turns ACTIVE at its next sighting)."""
    if record is None:
        return False
    return record.status == "ACTIVE" or (record.status == "CREATING" and getattr(record, "byoc_polls_left", 0) == 0 and getattr(record, "byoc_final", ("",))[0] == "ACTIVE")


def _permission_refusal(account: str, region: str, role: Any, session: str, session_tags: dict, request: dict) -> str | None:
    """What EC2 answers the driver's CreateVolume (tags on create included), as iam_enforce
    decides an assumed-role request; None when allowed."""
    from . import iam_context, iam_eval
    from .iam_enforce import _why, principal_of

    tags = [{"Key": k, "Value": v} for k, v in request["tags"].items()]
    params = {"AvailabilityZone": request["zone"], "Size": request["size"], "VolumeType": request["type"], "TagSpecifications": [{"ResourceType": "volume", "Tags": tags}]}
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role.name}/{session}"
    try:
        auth = iam_context.authorization(iam_context.Call("ec2", "CreateVolume", params, account, region, "aws"))
        principal, role_tags = principal_of(account, "aws", role.arn, None)
    except iam_context.Unevaluable as problem:
        return f"the local stack cannot evaluate the driver's permissions: {problem}"
    keys = iam_context.global_keys(role.arn, session_arn, f"{role.id}:{session}", account, region, {**role_tags, **session_tags})
    for check in auth.checks:
        for target in check.targets:
            decision = iam_eval.evaluate(principal, check.action, target.arn, {**keys, **target.keys})
            if not decision.allowed:
                return ("https response error StatusCode: 403, api error UnauthorizedOperation: You are not authorized to perform this operation. "
                        f"User: {session_arn} is not authorized to perform: {check.action} on resource: {target.arn} {_why(decision, check.action)}")
    return None


def _pod_identity(account: str, region: str, cluster: Any, association: dict, agent: bool, request: dict) -> str | None:
    if not agent:  # the SDK's container provider finds no agent at 169.254.170.23
        return "get identity: get credentials: failed to refresh cached credentials, failed to load credentials, operation error ecs container credentials: GetCredentials, dial tcp 169.254.170.23:80: connect: connection refused"
    role = _role(association["roleArn"], account)
    uid = uuid.uuid5(uuid.NAMESPACE_URL, association["associationArn"])  # one controller pod
    pod = f"ebs-csi-controller-{uid.hex[:10]}"
    tags = {} if association.get("disableSessionTags") else dict(zip(SESSION_TAGS, (cluster.arn, cluster.name, association["namespace"], association["serviceAccount"], pod, str(uid))))
    context = {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": sorted(tags)}
    actions = ["sts:AssumeRole"] + (["sts:TagSession"] if tags else [])
    if role is None or not all(trust_allows(role, "Service", SERVICE, a, context) for a in actions):
        what = "the role does not exist" if role is None else f"{SERVICE} is not authorized to perform: {' and '.join(actions)} on resource: {role.arn}"
        return f"get identity: get credentials: failed to refresh cached credentials, operation error EKS Auth: AssumeRoleForPodIdentity, api error AccessDeniedException: {what}"
    return _permission_refusal(account, region, role, f"eks-{cluster.name}-{pod}", tags, request)


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
        problem = "get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, canceled, context deadline exceeded"
    if problem is None:
        return None
    return f'failed to provision volume with StorageClass "{request["class"]}": rpc error: code = Internal desc = Could not create volume "{request["pv"]}": could not create volume in EC2: operation error EC2: CreateVolume, {problem}'


# ---------------------------------------------------------------- AWS managed policies


@lru_cache(maxsize=1)
def _aws_policies() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def know_aws_managed_policy(backend: Any, arn: str) -> None:
    """Puts the AWS managed policy `arn` into the account's IAM (it is in every account)."""
    from moto.iam.models import AWSManagedPolicy

    match = re.fullmatch(r"arn:aws[a-z-]*:iam::aws:policy(/(?:[^/]+/)*)([^/]+)", arn or "")
    if not match or arn in backend.managed_policies:
        return
    data = _aws_policies().get(match.group(2))
    if data is None or (data.get("Path") or "/") != match.group(1):
        return
    policy = AWSManagedPolicy.from_data(match.group(2), backend.account_id, backend.region_name, data)
    if policy.arn == arn:
        with _LOCK:
            backend.managed_policies.setdefault(arn, policy)


def _install_managed_policies() -> None:
    from moto.iam.models import IAMBackend, Role, iam_backends
    from moto.utilities.utils import get_partition

    for method in ("attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy", "get_policy_version"):
        original = getattr(IAMBackend, method)

        def knowing(self: Any, policy_arn: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            know_aws_managed_policy(self, policy_arn)
            return _original(self, policy_arn, *args, **kwargs)

        setattr(IAMBackend, method, knowing)

    create, update, delete = (getattr(Role, m).__func__ for m in ("create_from_cloudformation_json", "update_from_cloudformation_json", "delete_from_cloudformation_json"))

    def sync(role: Any, backend: Any, wanted: set[str]) -> None:
        held = set(getattr(role, "byoc_cfn_policies", set()))
        for arn in sorted(held - wanted):
            if arn in role.managed_policies:
                backend.detach_role_policy(arn, role.name)
            held.discard(arn)
        role.byoc_cfn_policies = held & wanted
        for arn in sorted(wanted - held):
            backend.attach_role_policy(arn, role.name)  # NoSuchEntity for an ARN IAM does not know
            role.byoc_cfn_policies.add(arn)

    def arns(cloudformation_json: dict) -> set[str]:
        return {a for a in (cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or []) if isinstance(a, str)}

    @classmethod  # type: ignore[misc]
    def create_role(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        role = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        try:
            sync(role, backend, arns(cloudformation_json))
        except Exception:
            sync(role, backend, set())
            backend.delete_role(role.name)
            raise
        return role

    @classmethod  # type: ignore[misc]
    def update_role(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        role = update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        sync(role, iam_backends[account_id][get_partition(region_name)], arns(cloudformation_json))
        return role

    @classmethod  # type: ignore[misc]
    def delete_role(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        backend = iam_backends[account_id][get_partition(region_name)]
        role = next((r for r in backend.roles.values() if r.name == resource_name), None)
        if role is not None:
            sync(role, backend, set())
        return delete(cls, resource_name, cloudformation_json, account_id, region_name)

    Role.create_from_cloudformation_json, Role.update_from_cloudformation_json, Role.delete_from_cloudformation_json = create_role, update_role, delete_role


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
    _install_managed_policies()
    EKSResponse._byoc_pod_identity = True
