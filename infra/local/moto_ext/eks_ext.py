"""EKS as the installer meets it on AWS: clusters and node groups take time, add-ons and
access entries exist, and the version catalogues can be read.

moto's EKS makes a cluster and a node group ACTIVE the moment they are created, and has no
add-on, access-entry, DescribeAddonVersions or DescribeClusterVersions API. Here:

- CreateCluster answers `CREATING`, as EKS does; the cluster stays `CREATING` for as many
  DescribeCluster calls as the test set, then turns `ACTIVE` (or `FAILED` with a health issue
  when the test asked for that). CreateNodegroup and CreateAddon likewise, with DescribeNodegroup
  and DescribeAddon. The state only moves when a poll sees it, so a caller has to poll:

      POST /moto-api/config {"byoc": {"eks": {"111122223333": {
          "cluster_creating_polls": 3, "nodegroup_creating_polls": 2, "addon_creating_polls": 1,
          "cluster_fail": "The IAM role ... could not be assumed", "cluster_fail_code": "IamRoleNotFound",
          "nodegroup_fail": "Instances failed to join the cluster",
          "nodegroup_fail_status": "DEGRADED", "nodegroup_fail_code": "NodeCreationFailure"}}}}

  Without a setting the first poll settles (0 polls). Settings apply to what is created after
  they are posted.
- CreateCluster validates and records what AWS would: the Kubernetes version against the
  versions EKS offers at the account's "now" (eks_catalogue: the release calendar against
  the real or a steered clock; default: the calendar's default version), subnets that exist
  and span two zones, `accessConfig` (default CONFIG_MAP, creator made admin), `vpcId` and
  endpoint access defaults in `resourcesVpcConfig`, `upgradePolicy` (default EXTENDED;
  STANDARD refused on a version in extended support), a `health` with no issues, the
  version's `platformVersion`. DescribeClusterVersions answers from the same calendar.
  A node group without a `releaseVersion` gets the version's EKS optimized AMI release.
- Add-ons (Create/Describe/List/DeleteAddon) at versions from eks_catalogue's add-on
  catalogue (DescribeAddonVersions), access entries (Create/Describe/List/
  DeleteAccessEntry) and access policies (Associate/ListAssociatedAccessPolicies), which
  need the cluster's authentication mode to include API, as on AWS. Version updates of
  clusters, node groups and add-ons are eks_upgrade's.
- An add-on's `configurationValues` (JSON or YAML, as EKS takes them) is kept verbatim and
  returned by DescribeAddon; what is not an object, or breaks the part of the add-on's schema
  known here (the EBS CSI driver's `controller.extraVolumeTags`: string values), is refused
  with EKS's InvalidParameterException.

- What EKS makes by itself: the control-plane log group `/aws/eks/<cluster>/cluster` when
  logging is on and the group is missing (untagged, no retention, kept after the cluster), and
  the node role's EC2_LINUX access entry when a node group joins a cluster in API mode. An
  access entry needs a principal that exists.

Response shapes and error names follow the EKS API reference; messages follow what EKS says
where known.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from . import control
from . import eks_catalogue as catalogue

_LOCK = threading.Lock()

# ---------------------------------------------------------------- catalogues

# The version calendar and the add-on catalogue are eks_catalogue's.
addon_versions = catalogue.addon_versions

ACCESS_POLICIES = {
    f"arn:aws:eks::aws:cluster-access-policy/{name}"
    for name in ("AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy")
}
AUTHENTICATION_MODES = ("API", "API_AND_CONFIG_MAP", "CONFIG_MAP")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------- errors


def _error(kind: str, message: str, **fields: Any) -> Exception:
    from moto.eks import exceptions

    cls = getattr(exceptions, kind)
    base = {"clusterName": None, "nodegroupName": None, "addonName": None}
    base.update(fields)
    return cls(message=message, **base)


def _cluster(backend: Any, name: str) -> Any:
    cluster = backend.clusters.get(name)
    if cluster is None:
        raise _error("ResourceNotFoundException", f"No cluster found for name: {name}.", clusterName=name)
    return cluster


# ---------------------------------------------------------------- steering and settling


def _polls(account_id: str, key: str) -> int:
    value = control.setting("eks", account_id, key, 0)
    return value if isinstance(value, int) and value > 0 else 0


def _failure(account_id: str, kind: str, default_code: str) -> dict | None:
    """The health issue a test asked `kind` (cluster/nodegroup) to end with, if any."""
    message = control.setting("eks", account_id, f"{kind}_fail")
    if not isinstance(message, str) or not message:
        return None
    code = control.setting("eks", account_id, f"{kind}_fail_code", default_code)
    return {"code": str(code), "message": message, "resourceIds": []}


def start_creating(obj: Any, polls: int, final: str, issue: dict | None) -> None:
    """Makes a just-created cluster, node group or add-on CREATING; `settle` moves it on."""
    obj.status = "CREATING"
    obj.health = {"issues": []}
    obj.byoc_polls_left = polls
    obj.byoc_final = (final, issue)


def settle(obj: Any) -> None:
    """One Describe sighting: count down, then take the final status (and its issue)."""
    with _LOCK:
        if obj.status != "CREATING" or not hasattr(obj, "byoc_final"):
            return
        if obj.byoc_polls_left > 0:
            obj.byoc_polls_left -= 1
            return
        status, issue = obj.byoc_final
        obj.status = status
        if issue:
            obj.health = {"issues": [issue]}
        if hasattr(obj, "modified_at"):
            obj.modified_at = _now()


# ---------------------------------------------------------------- clusters and node groups


def _subnets(account_id: str, region: str, subnet_ids: list[str]) -> list[Any]:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account_id][region]
    found = []
    for subnet_id in subnet_ids:
        matches = [s for zone in ec2.subnets.values() for s in zone.values() if s.id == subnet_id]
        if not matches:
            raise _error("InvalidParameterException", f"The subnet ID '{subnet_id}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound)")
        found.append(matches[0])
    return found


def _validate_cluster_request(backend: Any, name: str, version: str | None, vpc_config: dict) -> tuple[str, str | None]:
    """(version to use, VPC id of the subnets), or the error EKS gives. The version must be one
    EKS offers at the account's "now" (eks_catalogue); without one, the calendar's default."""
    when = catalogue.now(backend.account_id)
    if version is not None and not catalogue.is_offered(version, when):
        raise _error("InvalidParameterException", f"unsupported Kubernetes version {version}", clusterName=name)
    subnet_ids = list(vpc_config.get("subnetIds") or [])
    subnets = _subnets(backend.account_id, backend.region_name, subnet_ids)
    if len({s.availability_zone for s in subnets}) < 2:
        raise _error("InvalidParameterException", "Subnets specified must be in at least two different AZs", clusterName=name)
    vpcs = {s.vpc_id for s in subnets}
    if len(vpcs) > 1:
        raise _error("InvalidParameterException", "Subnets must all belong to the same VPC", clusterName=name)
    chosen = version or catalogue.default_version(when) or next(iter(catalogue.offered(when)), None)
    if chosen is None:
        raise _error("InvalidParameterException", "no Kubernetes version is offered at this time", clusterName=name)
    return chosen, next(iter(vpcs), None)


def _upgrade_policy(name: str, version: str, requested: dict | None, when: datetime) -> dict:
    """`upgradePolicy` as EKS records it: EXTENDED unless asked otherwise (API reference,
    UpgradePolicyRequest: "The default value is EXTENDED"). STANDARD on a version already in
    extended support is refused: EKS lets extended support be turned off only for a cluster on
    a version in standard support (User Guide, disable-extended-support.html; where AWS's exact
    answer is unknown the stricter one is modelled)."""
    support = (requested or {}).get("supportType") or "EXTENDED"
    if support not in ("STANDARD", "EXTENDED"):
        raise _error("InvalidParameterException", f"supportType must be one of STANDARD, EXTENDED; got {support}", clusterName=name)
    if support == "STANDARD" and catalogue.status(version, when) == catalogue.EXTENDED:
        raise _error("InvalidRequestException", f"Kubernetes version {version} is in extended support: supportType STANDARD is not allowed for it", clusterName=name)
    return {"supportType": support}


def _creator_arn(response: Any) -> str | None:
    """The IAM principal behind the request: EKS makes it cluster admin by default."""
    from .sts_trust import caller_for_access_key

    try:
        caller = caller_for_access_key(response.get_access_key(), response.current_account, response.partition)
    except Exception:  # an unsigned or odd request: no creator entry, as for an unknown principal
        return None
    return caller.principal_arn


def _install_clusters(EKSResponse: Any, EKSBackend: Any) -> None:
    original_create = EKSResponse.create_cluster
    original_describe = EKSBackend.describe_cluster
    original_create_nodegroup = EKSResponse.create_nodegroup
    original_describe_nodegroup = EKSBackend.describe_nodegroup

    def create_cluster(self: Any) -> Any:
        name = self._get_param("name")
        vpc_config = dict(self._get_param("resourcesVpcConfig") or {})
        access = dict(self._get_param("accessConfig") or {})
        mode = access.get("authenticationMode", "CONFIG_MAP")
        vpc_id = None
        if name not in self.eks_backend.clusters:  # else moto's own ResourceInUseException
            if mode not in AUTHENTICATION_MODES:
                raise _error("InvalidParameterException", f"Unsupported authentication mode {mode}", clusterName=name)
            version, vpc_id = _validate_cluster_request(self.eks_backend, name, self._get_param("version"), vpc_config)
            policy = _upgrade_policy(name, version, self._get_param("upgradePolicy"), catalogue.now(self.current_account))
            _set_body_param(self, "version", version)
        result = original_create(self)
        cluster = self.eks_backend.clusters[name]
        cluster.upgrade_policy = policy  # a name in use was refused by original_create
        cluster.platformVersion = catalogue.platform(cluster.version)
        bootstrap = access.get("bootstrapClusterCreatorAdminPermissions", True)
        cluster.access_config = {"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": bootstrap}
        cluster.resources_vpc_config = {
            "endpointPublicAccess": True,
            "endpointPrivateAccess": False,
            "publicAccessCidrs": ["0.0.0.0/0"],
            "securityGroupIds": [],
            **vpc_config,
            "vpcId": vpc_id,
            "clusterSecurityGroupId": "sg-" + uuid.uuid4().hex[:17],
        }
        cluster.bootstrap_self_managed_addons = self._get_param("bootstrapSelfManagedAddons", True)
        cluster.byoc_addons = {}
        cluster.byoc_access_entries = {}
        account = self.current_account
        start_creating(cluster, _polls(account, "cluster_creating_polls"), *_final(account, "cluster", "FAILED", "Other"))
        creator = _creator_arn(self) if bootstrap else None
        if creator is not None and (":role/" in creator or ":user/" in creator):
            entry = _new_access_entry(cluster, creator, None, None, {}, "STANDARD")
            entry["policies"][CLUSTER_ADMIN] = _association(CLUSTER_ADMIN, {"type": "cluster"})
        _control_plane_log_group(account, self.region, name, self._get_param("logging") or {})
        return result

    def describe_cluster(self: Any, name: str) -> Any:
        cluster = original_describe(self, name)
        settle(cluster)
        return cluster

    def create_nodegroup(self: Any) -> Any:
        cluster = self.eks_backend.clusters.get(self._get_param("name"))
        if cluster is not None and self._get_param("version") is None:
            # EKS gives nodes the cluster's version; moto would give them 1.19.
            _set_body_param(self, "version", cluster.version)
        if cluster is not None and self._get_param("releaseVersion") is None and self._get_param("launchTemplate") is None:
            # EKS gives nodes the version's latest EKS optimized AMI; moto, a 1.19 one.
            _set_body_param(self, "releaseVersion", catalogue.ami_release(self._get_param("version") or cluster.version))
        if cluster is not None:
            _subnets(self.current_account, self.region, list(self._get_param("subnets") or []))
        result = original_create_nodegroup(self)  # raises for a missing cluster
        nodegroup = cluster.nodegroups[self._get_param("nodegroupName")]
        account = self.current_account
        status = control.setting("eks", account, "nodegroup_fail_status", "CREATE_FAILED")
        final, issue = _final(account, "nodegroup", str(status), "NodeCreationFailure")
        if issue:
            issue["resourceIds"] = [g["name"] for g in nodegroup.resources["autoScalingGroups"]]
        start_creating(nodegroup, _polls(account, "nodegroup_creating_polls"), final, issue)
        _node_role_access_entry(cluster, self._get_param("nodeRole"))
        return result

    def describe_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        nodegroup = original_describe_nodegroup(self, cluster_name, nodegroup_name)
        settle(nodegroup)
        return nodegroup

    EKSResponse.create_cluster = create_cluster
    EKSBackend.describe_cluster = describe_cluster
    EKSResponse.create_nodegroup = create_nodegroup
    EKSBackend.describe_nodegroup = describe_nodegroup


def _control_plane_log_group(account: str, region: str, cluster: str, logging: dict) -> None:
    """EKS User Guide, "Send control plane logs to CloudWatch Logs": with any log type enabled,
    EKS sends the logs to `/aws/eks/<cluster>/cluster`, creating the group if it is not there,
    with no retention ("Never expire") and without the cluster's tags ("Tags don't propagate
    to other resources associated with the cluster", EKS User Guide, "Tag your Amazon EKS
    resources"). The group is not deleted with the cluster."""
    from moto.logs.models import logs_backends

    enabled = any(setup.get("enabled") and setup.get("types") for setup in (logging.get("clusterLogging") or []))
    if not enabled:
        return
    backend = logs_backends[account][region]
    name = f"/aws/eks/{cluster}/cluster"
    with _LOCK:
        if name not in backend.groups:
            backend.create_log_group(name, {})


def _node_role_access_entry(cluster: Any, node_role: str | None) -> None:
    """EKS User Guide, "Grant IAM users access to Kubernetes with EKS access entries": for a
    managed node group on a cluster whose authentication mode includes API, EKS creates an
    access entry of type EC2_LINUX for the node role itself (untagged, not the caller's)."""
    mode = getattr(cluster, "access_config", {}).get("authenticationMode", "CONFIG_MAP")
    if not node_role or mode not in ("API", "API_AND_CONFIG_MAP"):
        return
    if node_role not in cluster.byoc_access_entries:
        entry = _new_access_entry(cluster, node_role, ["system:nodes"], "system:node:{{EC2PrivateDNSName}}", {}, "EC2_LINUX")
        entry["kubernetesGroups"] = []


def _final(account: str, kind: str, failed_status: str, default_code: str) -> tuple[str, dict | None]:
    issue = _failure(account, kind, default_code)
    return (failed_status, issue) if issue else ("ACTIVE", None)


def _set_body_param(response: Any, key: str, value: Any) -> None:
    """Hands a default to moto's own handler, which reads its params from the JSON body."""
    import json

    try:
        body = json.loads(response.body or "{}")
    except ValueError:
        return
    body[key] = value
    response.body = json.dumps(body)


# ---------------------------------------------------------------- add-ons


def _addon_arn(cluster: Any, addon: str) -> str:
    prefix = cluster.arn.split(":cluster/")[0]
    return f"{prefix}:addon/{cluster.name}/{addon}/{uuid.uuid4()}"


def _resolve_addon_version(cluster: Any, addon: str, requested: str | None) -> str:
    if not catalogue.is_addon(addon):
        raise _error("InvalidParameterException", f"Addon {addon} specified is not supported", clusterName=cluster.name, addonName=addon)
    if requested is None:
        default = catalogue.default_addon_version(addon, cluster.version)
        if default is None:
            raise _error("InvalidParameterException", f"Addon {addon} specified is not supported in {cluster.version} kubernetes version", clusterName=cluster.name, addonName=addon)
        return default
    if not catalogue.addon_compatible(addon, requested, cluster.version):
        raise _error("InvalidParameterException", f"Addon version specified is not supported for {addon} in {cluster.version} kubernetes version", clusterName=cluster.name, addonName=addon)
    return requested


def _configuration_error(addon: str, problem: str) -> Exception:
    return _error("InvalidParameterException", f"ConfigurationValue provided in request is not supported: {problem}", addonName=addon)


def check_configuration(addon: str, text: str) -> None:
    """Raises EKS's InvalidParameterException for configuration values it would refuse."""
    import json

    import yaml

    try:
        values = json.loads(text)
    except ValueError:
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise _configuration_error(addon, f"Json schema validation failed with error: [$: not valid JSON or YAML ({err.__class__.__name__})]") from None
    if not isinstance(values, dict):
        raise _configuration_error(addon, "Json schema validation failed with error: [$: is not an object]")
    if addon == "aws-ebs-csi-driver":
        controller = values.get("controller", {})
        if not isinstance(controller, dict):
            raise _configuration_error(addon, "Json schema validation failed with error: [$.controller: object expected]")
        tags = controller.get("extraVolumeTags", {})
        if not isinstance(tags, dict):
            raise _configuration_error(addon, "Json schema validation failed with error: [$.controller.extraVolumeTags: object expected]")
        for key, value in tags.items():
            if not isinstance(value, str):
                raise _configuration_error(addon, f"Json schema validation failed with error: [$.controller.extraVolumeTags.{key}: string expected]")


def _addon_response(addon: dict) -> dict:
    return {k: v for k, v in addon.items() if not k.startswith("byoc")}


def _install_addons(EKSResponse: Any) -> None:
    from moto.core.responses import ActionResult

    def create_addon(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        name = self._get_param("addonName")
        with _LOCK:
            existing = cluster.byoc_addons.get(name)
        if existing is not None:
            raise _error("ResourceInUseException", "Addon already exists.", clusterName=cluster.name, addonName=name)
        if cluster.status != "ACTIVE":
            raise _error("InvalidRequestException", f"Cluster '{cluster.name}' is not in ACTIVE status")
        version = _resolve_addon_version(cluster, name, self._get_param("addonVersion"))
        if self._get_param("configurationValues"):
            check_configuration(name, self._get_param("configurationValues"))
        account = self.current_account
        addon = {
            "addonName": name,
            "clusterName": cluster.name,
            "addonVersion": version,
            "addonArn": _addon_arn(cluster, name),
            "createdAt": _now(),
            "modifiedAt": _now(),
            "tags": self._get_param("tags") or {},
            "publisher": "eks",
            "owner": "aws",
            "podIdentityAssociations": [],
            "byoc_resolve_conflicts": self._get_param("resolveConflicts"),
        }
        if self._get_param("serviceAccountRoleArn"):
            addon["serviceAccountRoleArn"] = self._get_param("serviceAccountRoleArn")
        if self._get_param("configurationValues"):
            addon["configurationValues"] = self._get_param("configurationValues")
        record = _AddonRecord(addon)
        start_creating(record, _polls(account, "addon_creating_polls"), "ACTIVE", None)
        with _LOCK:
            cluster.byoc_addons[name] = record
        return ActionResult({"addon": record.view()})

    def describe_addon(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        name = unquote(self._get_param("addonName"))
        record = cluster.byoc_addons.get(name) if hasattr(cluster, "byoc_addons") else None
        if record is None:
            raise _error("ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name)
        settle(record)
        return ActionResult({"addon": record.view()})

    def list_addons(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        return ActionResult({"addons": sorted(getattr(cluster, "byoc_addons", {}))})

    def delete_addon(self: Any) -> Any:
        cluster = _cluster(self.eks_backend, self._get_param("name"))
        name = unquote(self._get_param("addonName"))
        with _LOCK:
            record = getattr(cluster, "byoc_addons", {}).pop(name, None)
        if record is None:
            raise _error("ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name)
        record.status = "DELETING"
        return ActionResult({"addon": record.view()})

    def describe_addon_versions(self: Any) -> Any:
        addons = addon_versions(self._get_param("addonName"), self._get_param("kubernetesVersion"))
        return ActionResult({"addons": addons})

    def describe_cluster_versions(self: Any) -> Any:
        versions = catalogue.cluster_versions(
            catalogue.now(self.current_account),
            self.querystring.get("clusterVersions") or None,
            self._get_param("versionStatus") or self._get_param("status"),
            str(self._get_param("defaultOnly", "false")).lower() == "true",
            str(self._get_param("includeAll", "false")).lower() == "true",
            self._get_param("clusterType"),
        )
        return ActionResult({"clusterVersions": versions})

    for handler in (create_addon, describe_addon, list_addons, delete_addon, describe_addon_versions, describe_cluster_versions):
        setattr(EKSResponse, handler.__name__, handler)


class _AddonRecord:
    """An add-on with the status fields `start_creating`/`settle` drive."""

    def __init__(self, fields: dict):
        self.fields = fields
        self.status = "CREATING"
        self.health: dict = {"issues": []}

    def view(self) -> dict:
        return {**_addon_response(self.fields), "status": self.status, "health": self.health}


# ---------------------------------------------------------------- access entries

CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _default_username(principal_arn: str) -> str:
    # What EKS shows for a role: the assumed-role session of that role.
    if ":role/" in principal_arn:
        account = principal_arn.split(":")[4]
        role_name = principal_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{{{{SessionName}}}}"
    return principal_arn


def _new_access_entry(cluster: Any, principal: str, groups: list | None, username: str | None, tags: dict, kind: str) -> dict:
    prefix = cluster.arn.split(":cluster/")[0]
    resource = principal.split(":", 5)[5] if principal.count(":") >= 5 else principal
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    entry = {
        "clusterName": cluster.name,
        "principalArn": principal,
        "kubernetesGroups": list(groups or []),
        "accessEntryArn": f"{prefix}:access-entry/{cluster.name}/{resource.split('/')[0]}/{account}/{resource.rsplit('/', 1)[-1]}/{uuid.uuid4()}",
        "createdAt": _now(),
        "modifiedAt": _now(),
        "tags": tags,
        "username": username or _default_username(principal),
        "type": kind,
        "policies": {},
    }
    with _LOCK:
        cluster.byoc_access_entries[principal] = entry
    return entry


def _association(policy_arn: str, scope: dict) -> dict:
    return {"policyArn": policy_arn, "accessScope": scope, "associatedAt": _now(), "modifiedAt": _now()}


def _entry_view(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "policies"}


def _principal(response: Any) -> str:
    return unquote(response._get_param("principalArn") or "")


def _api_mode_cluster(response: Any) -> Any:
    cluster = _cluster(response.eks_backend, response._get_param("name"))
    mode = getattr(cluster, "access_config", {}).get("authenticationMode", "CONFIG_MAP")
    if mode not in ("API", "API_AND_CONFIG_MAP"):
        raise _error(
            "InvalidRequestException",
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
        )
    return cluster


def _entry(cluster: Any, principal: str) -> dict:
    entry = cluster.byoc_access_entries.get(principal)
    if entry is None:
        raise _error("ResourceNotFoundException", f"The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.", clusterName=cluster.name)
    return entry


def _principal_exists(principal: str) -> bool:
    from moto.iam.models import iam_backends

    parts = principal.split(":", 5)
    if len(parts) != 6:
        return False
    partition, account, resource = parts[1], parts[4], parts[5]
    backend = iam_backends[account][partition]
    kind, _, path_and_name = resource.partition("/")
    name = path_and_name.rsplit("/", 1)[-1]
    if kind == "role":
        return any(r.name == name for r in backend.roles.values())
    if kind == "user":
        return name in backend.users
    return False


def _install_access_entries(EKSResponse: Any) -> None:
    from moto.core.responses import ActionResult, EmptyResult

    def create_access_entry(self: Any) -> Any:
        cluster = _api_mode_cluster(self)
        principal = self._get_param("principalArn") or ""
        if not (principal.startswith("arn:") and (":role/" in principal or ":user/" in principal)):
            raise _error("InvalidParameterException", f"The principalArn parameter format is not valid: {principal}", clusterName=cluster.name)
        kind = self._get_param("type") or "STANDARD"
        if kind != "STANDARD" and principal.split(":")[4] != self.current_account:
            # Only STANDARD entries may name a principal of another account.
            raise _error("InvalidParameterException", f"The principalArn must be in the cluster's account for an access entry of type {kind}.", clusterName=cluster.name)
        if principal in cluster.byoc_access_entries:
            raise _error("ResourceInUseException", "The specified access entry resource is already in use on this cluster.", clusterName=cluster.name)
        if not _principal_exists(principal):
            # EKS API reference, CreateAccessEntry: the principal must be an existing IAM role
            # or user; EKS resolves it when the entry is made.
            raise _error("InvalidParameterException", f"The specified principalArn is invalid: the IAM principal {principal} does not exist.", clusterName=cluster.name)
        entry = _new_access_entry(
            cluster,
            principal,
            self._get_param("kubernetesGroups"),
            self._get_param("username"),
            self._get_param("tags") or {},
            kind,
        )
        return ActionResult({"accessEntry": _entry_view(entry)})

    def describe_access_entry(self: Any) -> Any:
        cluster = _api_mode_cluster(self)
        return ActionResult({"accessEntry": _entry_view(_entry(cluster, _principal(self)))})

    def list_access_entries(self: Any) -> Any:
        cluster = _api_mode_cluster(self)
        policy = self._get_param("associatedPolicyArn")
        entries = [p for p, e in cluster.byoc_access_entries.items() if policy is None or policy in e["policies"]]
        return ActionResult({"accessEntries": sorted(entries)})

    def delete_access_entry(self: Any) -> Any:
        cluster = _api_mode_cluster(self)
        principal = _principal(self)
        _entry(cluster, principal)
        with _LOCK:
            cluster.byoc_access_entries.pop(principal, None)
        return EmptyResult()

    def associate_access_policy(self: Any) -> Any:
        cluster = _api_mode_cluster(self)
        principal = _principal(self)
        entry = _entry(cluster, principal)
        policy = self._get_param("policyArn")
        if policy not in ACCESS_POLICIES:
            raise _error("InvalidParameterException", f"The policyArn {policy} is not a valid access policy.", clusterName=cluster.name)
        scope = self._get_param("accessScope") or {}
        if scope.get("type") not in ("cluster", "namespace") or (scope.get("type") == "namespace" and not scope.get("namespaces")):
            raise _error("InvalidParameterException", "accessScope must be of type cluster, or of type namespace with namespaces.", clusterName=cluster.name)
        with _LOCK:
            # Associating again replaces the scope: the call is idempotent on AWS.
            previous = entry["policies"].get(policy)
            association = _association(policy, scope)
            if previous:
                association["associatedAt"] = previous["associatedAt"]
            entry["policies"][policy] = association
        return ActionResult({"clusterName": cluster.name, "principalArn": principal, "associatedAccessPolicy": association})

    def list_associated_access_policies(self: Any) -> Any:
        cluster = _api_mode_cluster(self)
        principal = _principal(self)
        entry = _entry(cluster, principal)
        return ActionResult({"clusterName": cluster.name, "principalArn": principal, "associatedAccessPolicies": list(entry["policies"].values())})

    for handler in (create_access_entry, describe_access_entry, list_access_entries, delete_access_entry, associate_access_policy, list_associated_access_policies):
        setattr(EKSResponse, handler.__name__, handler)


# ---------------------------------------------------------------- wiring

_ROUTES = {
    "{0}/clusters/(?P<name>[^/]+)/addons$",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$",
    "{0}/addons/supported-versions$",
    "{0}/cluster-versions$",
    "{0}/clusters/(?P<name>[^/]+)/access-entries$",
    # A principal ARN holds slashes once decoded; the operation itself is chosen from the
    # raw path by moto's botocore-based router, so one greedy route serves all three.
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$",
}


def install() -> None:
    import moto.eks.urls as urls
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse

    if getattr(EKSResponse, "_byoc_extended", False):
        return
    for route in _ROUTES:
        urls.url_paths.setdefault(route, urls.response.dispatch)
    _install_clusters(EKSResponse, EKSBackend)
    _install_addons(EKSResponse)
    _install_access_entries(EKSResponse)
    EKSResponse._byoc_extended = True
