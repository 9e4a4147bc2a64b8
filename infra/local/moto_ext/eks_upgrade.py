"""Kubernetes version updates on the local stack's EKS, as EKS does them: the control plane one
minor version at a time, managed node groups up to it, add-ons separately, each tracked as an
update that takes time. moto 5.2.5 has none of UpdateClusterVersion, UpdateNodegroupVersion,
UpdateAddon, DescribeUpdate, ListUpdates, ListInsights or DescribeInsight (its
UpdateNodegroupConfig answers an update it does not keep: kept here, Successful, so
DescribeUpdate finds it).

EKS API reference (https://docs.aws.amazon.com/eks/latest/APIReference/API_<Operation>.html)
for the shapes; EKS User Guide "Update existing cluster to new Kubernetes version"
(update-cluster.html) and "Update a managed node group for your cluster"
(update-managed-node-group.html) for the rules; error texts as EKS gives them where callers
have reported them.

- UpdateClusterVersion (POST /clusters/{name}/updates {version, clientRequestToken, force}):
  refused, in this order, with
  ResourceInUseException "Cannot VersionUpdate because cluster <name> currently has update
    <id> in progress" while any update of the cluster, its node groups or add-ons is
    InProgress; "Cluster '<name>' is not in ACTIVE status" when it is not ACTIVE;
  InvalidParameterException "Unsupported Kubernetes minor version update from 1.33 to 1.35"
    unless the version is the next minor one ("you can update only one minor version at a
    time"; the same version or a lower one too: rollback is not modelled);
    "unsupported Kubernetes version 1.36" when EKS does not offer the next one (eks_catalogue,
    at the account's "now");
    "Nodegroups <a>, <b> must be updated to match cluster version 1.33 before updating
    cluster version." while a managed node group is older than the control plane;
  InvalidRequestException "Provided subnets <id> Free IPs: <n> <id> Free IPs: <n> , need at
    least 5 IPs in each subnet to be free for this operation" when a cluster subnet has
    fewer than 5 free addresses ("Amazon EKS requires up to five available IP addresses from
    the subnets that you specified"; moto counts a subnet's free addresses, less its
    interfaces' ones);
  InvalidStateException (eks_insights.BLOCKED) when an upgrade insight for the version is in
    ERROR, unless `force`.
  A repeated clientRequestToken answers the update it started (nothing new). Otherwise the
  answer is {"update": {id, status: InProgress, type: VersionUpdate, params: [{type: Version},
  {type: PlatformVersion}], createdAt, errors: []}} and the cluster is UPDATING until the
  update settles: Successful, with the cluster's version and platformVersion moved and its
  status ACTIVE. Node groups and add-ons keep their versions (EKS does not update them).
- UpdateNodegroupVersion (POST /clusters/{name}/node-groups/{ng}/update-version {version,
  releaseVersion, launchTemplate, force, clientRequestToken}): version defaults to the
  cluster's (API reference: "If no version is specified, then the node group will be updated
  to match the cluster's current Kubernetes version"); refused (InvalidParameterException)
  newer than the cluster's or older than the node group's ("You cannot roll back a node
  group"), a releaseVersion of another Kubernetes version, a launch template other than the
  node group's; ResourceInUseException while the node group or the cluster has an update in
  progress or the node group is not ACTIVE. Type VersionUpdate, params Version and
  ReleaseVersion (and LaunchTemplateName/Version when given); the node group is UPDATING; how
  it ends is eks_node_update's (surge against the vCPU quota, PodEvictionFailure, instance
  replacement).
- UpdateAddon (POST /clusters/{name}/addons/{addon}/update {addonVersion, resolveConflicts,
  serviceAccountRoleArn, configurationValues, clientRequestToken}): the version must be
  compatible with the cluster's current version (eks_catalogue; else InvalidParameterException
  as CreateAddon), resolveConflicts one of NONE, OVERWRITE, PRESERVE, configurationValues as
  CreateAddon checks them; ResourceInUseException while the add-on or the cluster has an
  update in progress or the add-on is not ACTIVE or DEGRADED. Type AddonUpdate, params
  AddonVersion, ResolveConflicts, ServiceAccountRoleArn, ConfigurationValues (those given);
  the add-on is UPDATING, then ACTIVE with the new values. `podIdentityAssociations` on an
  update is not modelled: refused (InvalidParameterException), never ignored.
- DescribeUpdate (GET /clusters/{name}/updates/{id}?nodegroupName=&addonName=) and ListUpdates
  (GET /clusters/{name}/updates?nodegroupName=&addonName=&maxResults=&nextToken=): a node
  group's or add-on's update is found only with its nodegroupName / addonName (the API
  reference: "required if the update is a node group update"); else ResourceNotFoundException
  "No update found for ID: <id>".

Time: an update stays InProgress for as many sightings as the test set for the account -
DescribeUpdate of it, or DescribeCluster / DescribeNodegroup / DescribeAddon of what it
updates - then settles on the next one (default 0: the first sighting settles), like
eks_ext's *_creating_polls; settings apply to updates started after they are posted:

    POST /moto-api/config {"byoc": {"eks": {"111122223333": {
        "cluster_update_polls": 3, "nodegroup_update_polls": 2, "addon_update_polls": 1}}}}

IAM (iam_resolvers' EKS builder, from the Service Authorization Reference data):
UpdateClusterVersion authorizes the `cluster`, UpdateNodegroupVersion the `nodegroup`,
UpdateAddon the `addon` (with its tags), DescribeUpdate and ListUpdates the `cluster` and the
`nodegroup` or `addon` they name, ListInsights and DescribeInsight the `cluster`.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote

from . import eks_catalogue as catalogue
from . import eks_insights, eks_node_update
from .eks_ext import _cluster, _error, _polls, check_configuration

_LOCK = threading.RLock()
MIN_FREE_IPS = 5
RESOLVE_CONFLICTS = ("NONE", "OVERWRITE", "PRESERVE")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Update:
    """One EKS update: InProgress until a sighting settles it with `finish` (its errors)."""

    def __init__(self, kind: str, target: str | None, type_: str, params: list[dict], token: str | None, polls: int, finish: Callable[[], list[dict]] | None, status: str = "InProgress"):
        self.id = str(uuid.uuid4())
        self.kind, self.target, self.type, self.params, self.token = kind, target, type_, params, token
        self.polls_left, self.finish, self.status = polls, finish, status
        self.errors: list[dict] = []
        self.created_at = _now()

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "type": self.type, "params": [dict(p) for p in self.params], "createdAt": self.created_at, "errors": [dict(e) for e in self.errors]}


def updates(cluster: Any) -> dict[str, Update]:
    return cluster.__dict__.setdefault("byoc_updates", {})


def sight(update: Update) -> None:
    """One look at the update: count down, then settle it."""
    with _LOCK:
        if update.status != "InProgress":
            return
        if update.polls_left > 0:
            update.polls_left -= 1
            return
        errors = update.finish() if update.finish else []
        update.errors = list(errors)
        update.status = "Failed" if errors else "Successful"


def _pending(cluster: Any, kind: str | None = None, target: str | None = None) -> Update | None:
    for update in updates(cluster).values():
        if update.status == "InProgress" and (kind is None or (update.kind, update.target) == (kind, target)):
            return update
    return None


def _replay(cluster: Any, kind: str, target: str | None, token: str | None) -> Update | None:
    if not token:
        return None
    return next((u for u in updates(cluster).values() if (u.kind, u.target, u.token) == (kind, target, token)), None)


def _start(cluster: Any, update: Update) -> Any:
    from moto.core.responses import ActionResult

    updates(cluster)[update.id] = update
    return ActionResult({"update": update.view()})


def _busy(what: str, cluster: Any, update: Update) -> Exception:
    owner = "cluster" if update.kind == "cluster" else update.kind
    name = cluster.name if update.kind == "cluster" else update.target
    return _error("ResourceInUseException", f"Cannot {what} because {owner} {name} currently has update {update.id} in progress", clusterName=cluster.name)


def _invalid_state(message: str, cluster: str) -> Exception:
    from moto.eks.exceptions import EKSError

    class InvalidStateException(EKSError):
        TYPE = "InvalidStateException"
        STATUS = 400

    return InvalidStateException(message=message, clusterName=cluster, nodegroupName=None, addonName=None)


# ---------------------------------------------------------------- the control plane


def _free_ip_refusal(cluster: Any, account: str, region: str) -> Exception | None:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    wanted = list(cluster.resources_vpc_config.get("subnetIds") or [])
    free = {s.id: s.available_ip_address_count for zone in ec2.subnets.values() for s in zone.values() if s.id in wanted}
    counts = [(sid, free.get(sid, 0)) for sid in wanted]
    if all(n >= MIN_FREE_IPS for _, n in counts):
        return None
    listed = " ".join(f"{sid} Free IPs: {n}" for sid, n in counts)
    return _error("InvalidRequestException", f"Provided subnets {listed} , need at least {MIN_FREE_IPS} IPs in each subnet to be free for this operation", clusterName=cluster.name)


def _check_version_update(cluster: Any, target: str, force: bool, account: str, region: str) -> None:
    current = catalogue.minor(cluster.version)
    wanted = catalogue.minor(target)
    if wanted is None or current is None:
        raise _error("InvalidParameterException", f"unsupported Kubernetes version {target}", clusterName=cluster.name)
    if wanted != current + 1:
        raise _error("InvalidParameterException", f"Unsupported Kubernetes minor version update from {cluster.version} to {target}", clusterName=cluster.name)
    if not catalogue.is_offered(target, catalogue.now(account)):
        raise _error("InvalidParameterException", f"unsupported Kubernetes version {target}", clusterName=cluster.name)
    behind = sorted(name for name, group in cluster.nodegroups.items() if (catalogue.minor(group.version) or 0) < current)
    if behind:
        raise _error("InvalidParameterException", f"Nodegroups {', '.join(behind)} must be updated to match cluster version {cluster.version} before updating cluster version.", clusterName=cluster.name)
    refusal = _free_ip_refusal(cluster, account, region)
    if refusal is not None:
        raise refusal
    if not force and eks_insights.blocking(cluster, account, target):
        raise _invalid_state(eks_insights.BLOCKED, cluster.name)


def _update_cluster_version(self: Any) -> Any:
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    token = self._get_param("clientRequestToken")
    with _LOCK:
        same = _replay(cluster, "cluster", None, token)
        if same is not None:
            return _start(cluster, same)
        busy = _pending(cluster)
        if busy is not None:
            raise _busy("VersionUpdate", cluster, busy)
        if cluster.status != "ACTIVE":
            raise _error("ResourceInUseException", f"Cluster '{cluster.name}' is not in ACTIVE status", clusterName=cluster.name)
        target = str(self._get_param("version") or "")
        _check_version_update(cluster, target, bool(self._get_param("force")), self.current_account, self.region)
        platform = catalogue.platform(target)

        def finish() -> list[dict]:
            cluster.version, cluster.platformVersion, cluster.status = target, platform, "ACTIVE"
            return []

        params = [{"type": "Version", "value": target}, {"type": "PlatformVersion", "value": platform}]
        cluster.status = "UPDATING"
        return _start(cluster, Update("cluster", None, "VersionUpdate", params, token, _polls(self.current_account, "cluster_update_polls"), finish))


# ---------------------------------------------------------------- node groups


def _nodegroup(cluster: Any, name: str) -> Any:
    group = cluster.nodegroups.get(name)
    if group is None:
        raise _error("ResourceNotFoundException", f"No node group found for name: {name}.", clusterName=cluster.name, nodegroupName=name)
    return group


def _check_nodegroup_update(cluster: Any, group: Any, target: str, release: str | None, template: dict | None) -> None:
    name = group.nodegroup_name
    wanted, ceiling, floor = catalogue.minor(target), catalogue.minor(cluster.version), catalogue.minor(group.version)
    if wanted is None or catalogue.calendar_entry(target) is None:
        raise _error("InvalidParameterException", f"unsupported Kubernetes version {target}", clusterName=cluster.name, nodegroupName=name)
    if ceiling is not None and wanted > ceiling:
        raise _error("InvalidParameterException", f"Nodegroup Kubernetes version {target} cannot be newer than cluster {cluster.name} version {cluster.version}", clusterName=cluster.name, nodegroupName=name)
    if floor is not None and wanted < floor:
        raise _error("InvalidParameterException", f"You cannot roll back node group {name} from Kubernetes version {group.version} to {target}", clusterName=cluster.name, nodegroupName=name)
    if release and not release.startswith(catalogue.patch(target).rsplit(".", 1)[0] + "."):
        raise _error("InvalidParameterException", f"Requested release version {release} is not valid for kubernetes version {target}.", clusterName=cluster.name, nodegroupName=name)
    if template:
        own = group.launch_template or {}
        if not own:
            raise _error("InvalidParameterException", f"Nodegroup {name} was not created with a launch template: an update cannot add one", clusterName=cluster.name, nodegroupName=name)
        if (template.get("id") and template["id"] != own.get("id")) or (template.get("name") and template["name"] != own.get("name")):
            raise _error("InvalidParameterException", f"The launch template of an update must be the one node group {name} was created with", clusterName=cluster.name, nodegroupName=name)


def _update_nodegroup_version(self: Any) -> Any:
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    name = unquote(self._get_param("nodegroupName") or "")
    group = _nodegroup(cluster, name)
    token = self._get_param("clientRequestToken")
    with _LOCK:
        same = _replay(cluster, "nodegroup", name, token)
        if same is not None:
            return _start(cluster, same)
        busy = _pending(cluster, "nodegroup", name) or _pending(cluster, "cluster", None)
        if busy is not None:
            raise _busy("VersionUpdate", cluster, busy)
        if group.status != "ACTIVE":
            raise _error("ResourceInUseException", f"Nodegroup {name} is not in ACTIVE status", clusterName=cluster.name, nodegroupName=name)
        target = str(self._get_param("version") or cluster.version)
        release = self._get_param("releaseVersion")
        template = self._get_param("launchTemplate") or None
        _check_nodegroup_update(cluster, group, target, release, template)
        release = release or catalogue.ami_release(target)
        params = [{"type": "Version", "value": target}, {"type": "ReleaseVersion", "value": release}]
        if template and template.get("name"):
            params.append({"type": "LaunchTemplateName", "value": template["name"]})
        if template and template.get("version"):
            params.append({"type": "LaunchTemplateVersion", "value": str(template["version"])})
        finish = eks_node_update.finisher(cluster, group, self.current_account, self.region, target, release, bool(self._get_param("force")), template)
        group.status = "UPDATING"
        return _start(cluster, Update("nodegroup", name, "VersionUpdate", params, token, _polls(self.current_account, "nodegroup_update_polls"), finish))


# ---------------------------------------------------------------- add-ons


def _update_addon(self: Any) -> Any:
    cluster = _cluster(self.eks_backend, self._get_param("name"))
    name = unquote(self._get_param("addonName") or "")
    record = getattr(cluster, "byoc_addons", {}).get(name)
    if record is None:
        raise _error("ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=name)
    token = self._get_param("clientRequestToken")
    with _LOCK:
        same = _replay(cluster, "addon", name, token)
        if same is not None:
            return _start(cluster, same)
        busy = _pending(cluster, "addon", name) or _pending(cluster, "cluster", None)
        if busy is not None:
            raise _busy("AddonUpdate", cluster, busy)
        if record.status not in ("ACTIVE", "DEGRADED"):
            raise _error("ResourceInUseException", f"Addon {name} is in {record.status} status", clusterName=cluster.name, addonName=name)
        version = self._get_param("addonVersion")
        if version and not catalogue.addon_compatible(name, version, cluster.version):
            raise _error("InvalidParameterException", f"Addon version specified is not supported for {name} in {cluster.version} kubernetes version", clusterName=cluster.name, addonName=name)
        conflicts = self._get_param("resolveConflicts")
        if conflicts is not None and conflicts not in RESOLVE_CONFLICTS:
            raise _error("InvalidParameterException", f"resolveConflicts must be one of {', '.join(RESOLVE_CONFLICTS)}", clusterName=cluster.name, addonName=name)
        config = self._get_param("configurationValues")
        if config:
            check_configuration(name, config)
        if self._get_param("podIdentityAssociations") is not None:
            raise _error("InvalidParameterException", "podIdentityAssociations on UpdateAddon are not modelled by the local stack", clusterName=cluster.name, addonName=name)
        role = self._get_param("serviceAccountRoleArn")
        given = [("AddonVersion", version), ("ResolveConflicts", conflicts), ("ServiceAccountRoleArn", role), ("ConfigurationValues", config)]
        params = [{"type": kind, "value": value} for kind, value in given if value is not None]

        def finish() -> list[dict]:
            changes = {"addonVersion": version, "serviceAccountRoleArn": role, "configurationValues": config}
            record.fields.update({k: v for k, v in changes.items() if v is not None})
            record.fields["modifiedAt"] = _now()
            record.status = "ACTIVE"
            return []

        record.status = "UPDATING"
        return _start(cluster, Update("addon", name, "AddonUpdate", params, token, _polls(self.current_account, "addon_update_polls"), finish))


# ---------------------------------------------------------------- reading updates


def _scope(self: Any, cluster: Any) -> tuple[str, str | None]:
    group, addon = self._get_param("nodegroupName"), self._get_param("addonName")
    if group:
        _nodegroup(cluster, unquote(group))
        return "nodegroup", unquote(group)
    if addon:
        if unquote(addon) not in getattr(cluster, "byoc_addons", {}):
            raise _error("ResourceNotFoundException", f"No addon: {unquote(addon)} found in cluster: {cluster.name}", clusterName=cluster.name, addonName=unquote(addon))
        return "addon", unquote(addon)
    return "cluster", None


def _describe_update(self: Any) -> Any:
    from moto.core.responses import ActionResult

    cluster = _cluster(self.eks_backend, self._get_param("name"))
    wanted = self._get_param("updateId")
    scope = _scope(self, cluster)
    update = updates(cluster).get(wanted)
    if update is None or (update.kind, update.target) != scope:
        raise _error("ResourceNotFoundException", f"No update found for ID: {wanted}", clusterName=cluster.name)
    sight(update)
    return ActionResult({"update": update.view()})


def _list_updates(self: Any) -> Any:
    from moto.core.responses import ActionResult

    cluster = _cluster(self.eks_backend, self._get_param("name"))
    scope = _scope(self, cluster)
    ids = [u.id for u in updates(cluster).values() if (u.kind, u.target) == scope]
    size = int(self._get_param("maxResults") or 100)
    start = int(self._get_param("nextToken") or 0) if str(self._get_param("nextToken") or "0").isdigit() else 0
    body: dict[str, Any] = {"updateIds": ids[start:start + size]}
    if start + size < len(ids):
        body["nextToken"] = str(start + size)
    return ActionResult(body)


# ---------------------------------------------------------------- wiring

_ROUTES = (
    "{0}/clusters/(?P<name>[^/]+)/updates$",
    "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$",
    "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$",
    "{0}/clusters/(?P<name>[^/]+)/insights$",
    "{0}/clusters/(?P<name>[^/]+)/insights/(?P<id>[^/]+)$",
)


def _install_sightings(EKSResponse: Any, EKSBackend: Any) -> None:
    """DescribeCluster / DescribeNodegroup / DescribeAddon see the updates of what they show."""
    original_cluster = EKSBackend.describe_cluster
    original_nodegroup = EKSBackend.describe_nodegroup
    original_addon = EKSResponse.describe_addon
    original_config = EKSBackend.update_nodegroup_config
    original_create_nodegroup = EKSBackend.create_nodegroup

    def each(cluster: Any, kind: str, target: str | None) -> None:
        for update in [u for u in updates(cluster).values() if (u.kind, u.target) == (kind, target)]:
            sight(update)

    def describe_cluster(self: Any, name: str) -> Any:
        cluster = original_cluster(self, name)
        each(cluster, "cluster", None)
        return cluster

    def describe_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        group = original_nodegroup(self, cluster_name, nodegroup_name)
        cluster = self.clusters.get(cluster_name)
        if cluster is not None:
            each(cluster, "nodegroup", nodegroup_name)
        return group

    def describe_addon(self: Any) -> Any:
        cluster = self.eks_backend.clusters.get(self._get_param("name"))
        if cluster is not None:
            each(cluster, "addon", unquote(self._get_param("addonName") or ""))
        return original_addon(self)

    def update_nodegroup_config(self: Any, cluster_name: str, nodegroup_name: str, **kwargs: Any) -> Any:
        answer = original_config(self, cluster_name, nodegroup_name, **kwargs)
        kept = Update("nodegroup", nodegroup_name, answer["type"], answer["params"], kwargs.get("client_request_token"), 0, None, status=answer["status"])
        kept.id = answer["id"]
        updates(self.clusters[cluster_name])[kept.id] = kept
        return answer

    def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = original_create_nodegroup(self, *args, **kwargs)
        group.byoc_requested = {"instance_types": kwargs.get("instance_types"), "launch_template": kwargs.get("launch_template")}
        return group

    EKSBackend.describe_cluster = describe_cluster
    EKSBackend.describe_nodegroup = describe_nodegroup
    EKSResponse.describe_addon = describe_addon
    EKSBackend.update_nodegroup_config = update_nodegroup_config
    EKSBackend.create_nodegroup = create_nodegroup


def install() -> None:
    """After eks_ext, eks_made, sweep_support and eks_pod_identity: wraps what they patched."""
    import moto.eks.urls as urls
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse

    if getattr(EKSResponse, "_byoc_upgrades", False):
        return
    for route in _ROUTES:
        urls.url_paths.setdefault(route, urls.response.dispatch)
    EKSResponse.update_cluster_version = _update_cluster_version
    EKSResponse.update_nodegroup_version = _update_nodegroup_version
    EKSResponse.update_addon = _update_addon
    EKSResponse.describe_update = _describe_update
    EKSResponse.list_updates = _list_updates
    eks_insights.install(EKSResponse)
    _install_sightings(EKSResponse, EKSBackend)
    EKSResponse._byoc_upgrades = True
