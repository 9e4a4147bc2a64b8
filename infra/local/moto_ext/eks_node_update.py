"""How a managed node group's version update ends on the local stack (eks_upgrade starts it and
calls `finish` when a poll settles it), following EKS User Guide "Understand each phase of node
updates" (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html):

- Scale up phase: EKS "increments the Auto Scaling Group's maximum size and desired size by
  the larger of either: Up to twice the number of Availability Zones that the Auto Scaling
  group is deployed in. The maximum unavailable of upgrade." The local stack launches the
  most it may: max(2 x the zones of the node group's subnets, maxUnavailable) surge instances
  (maxUnavailable from the node group's updateConfig, default 1;
  maxUnavailablePercentage of the desired size, rounded up). With updateConfig.updateStrategy
  MINIMAL old nodes go before new ones start: no surge. A known cause of NodeCreationFailure
  there is "EC2 instance limits in your account": the surge's vCPUs, added to the vCPUs of the
  account's running On-Demand instances of the same quota (the instance family's "Running
  On-Demand ... instances" quota, e.g. L-1216C47A for A, C, D, H, I, M, R, T, Z; applied value
  from service_quotas, steered per account), must fit that quota's applied value, else the
  update fails with NodeCreationFailure and EC2 Auto Scaling's words as EKS reports them
  ("Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU
  capacity than your current vCPU limit of 5 allows for the instance bucket that the
  specified instance type belongs to. ..."), the Auto Scaling group as resource. (While the
  update runs, AWS shows that as the node group's AsgInstanceLaunchFailures health issue; an
  update settles in one step here, and the failed update's scale down phase returns the Auto
  Scaling group to its size, so no issue stays behind.) So a caller checks the vCPU headroom
  before it updates a node group. (Spot capacity draws on another quota,
  not modelled: no check for SPOT node groups.)
- Upgrade phase: "If the Pods don't leave the node within 15 minutes and there's no force
  flag, the upgrade phase fails with a PodEvictionFailure error" - steered (below); `force`
  lets the update go on.
- Success: every node of the old launch template version is replaced: the node group's
  instances are terminated and as many new ones run (new instance ids; eks_made.launch_nodes),
  and the node group takes the new `version` and `releaseVersion`. On failure nothing moves.

Steering per account (control.setting), read when the update starts:

    POST /moto-api/config {"byoc": {"eks": {"111122223333": {
        "nodegroup_update_fail": "PodEvictionFailure"}}}}   # Failed unless force=true
    {"nodegroup_update_fail": "NodeCreationFailure",
     "nodegroup_update_fail_message": "Instances failed to join the kubernetes cluster"}  # always Failed

PodEvictionFailure's message is EKS's ("Reached max retries while trying to evict pods from
nodes in node group <name>", with the node's name as resource, as `aws eks describe-update`
shows it).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from . import control

VCPU_MESSAGE = (
    "Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU capacity than your current "
    "vCPU limit of {limit} allows for the instance bucket that the specified instance type belongs to. Please visit "
    "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed."
)
DEFAULT_NODE_CREATION_MESSAGE = "Instances failed to join the kubernetes cluster"

# Instance family letters -> the Running On-Demand quota that counts its vCPUs (EC2 User Guide,
# "On-Demand Instance quotas"); service_quotas holds their values.
_FAMILY_QUOTAS = [
    (("a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"), "L-1216C47A"),
    (("g", "gr", "vt"), "L-DB2E81BA"),
    (("p",), "L-417A185B"),
    (("x",), "L-7295265B"),
    (("f",), "L-74FC7D96"),
    (("inf",), "L-1945791B"),
    (("dl",), "L-6E869C2A"),
    (("trn",), "L-2C3B7624"),
    (("hpc",), "L-F7808C92"),
    (("u",), "L-43DA4232"),
]


def quota_code(instance_type: str) -> str | None:
    family = ""
    for ch in instance_type.split(".")[0]:
        if not ch.isalpha():
            break
        family += ch
    return next((code for letters, code in _FAMILY_QUOTAS if family in letters), None)


def vcpus(instance_type: str) -> int:
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    info = INSTANCE_TYPES.get(instance_type) or {}
    return int((info.get("VCpuInfo") or {}).get("DefaultVCpus") or 2)


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _limit(account: str, region: str, code: str) -> float:
    from moto.servicequotas.models import servicequotas_backends

    from .service_quotas import QUOTAS, applied_value

    quota = QUOTAS[code]
    value = applied_value(servicequotas_backends[account][region], quota)
    return quota.default if value is None else value


def _instances(group: Any, ec2: Any) -> list[Any]:
    ids = set(getattr(group, "byoc_instances", []))
    return [i for i in ec2.all_instances() if i.id in ids and i.state not in ("terminated", "shutting-down")]


def _instance_type(group: Any, ec2: Any) -> str:
    live = _instances(group, ec2)
    if live:
        return str(live[0].instance_type)
    return str((group.instance_types or ["t3.medium"])[0])


def surge(group: Any, ec2: Any) -> int:
    """How many instances the scale up phase launches (the most the documented rule allows)."""
    config = dict(group.update_config or {})
    if str(config.get("updateStrategy", "")).upper() == "MINIMAL":
        return 0
    desired = int((group.scaling_config or {}).get("desiredSize", 2))
    if config.get("maxUnavailablePercentage"):
        unavailable = max(1, math.ceil(desired * float(config["maxUnavailablePercentage"]) / 100))
    else:
        unavailable = int(config.get("maxUnavailable") or 1)
    zones = {s.availability_zone for zone in ec2.subnets.values() for s in zone.values() if s.id in set(group.subnets or [])}
    return max(2 * len(zones), unavailable)


def _vcpu_error(group: Any, account: str, region: str) -> dict | None:
    if str(group.capacity_type).upper() == "SPOT":
        return None
    ec2 = _ec2(account, region)
    instance_type = _instance_type(group, ec2)
    code = quota_code(instance_type)
    extra = surge(group, ec2) * vcpus(instance_type)
    if code is None or extra == 0:
        return None
    used = sum(
        vcpus(str(i.instance_type))
        for i in ec2.all_instances()
        if i.state in ("pending", "running") and getattr(i, "lifecycle", None) != "spot" and quota_code(str(i.instance_type)) == code
    )
    limit = _limit(account, region, code)
    if used + extra <= limit:
        return None
    shown = int(limit) if float(limit).is_integer() else limit
    asg = group.resources["autoScalingGroups"][0]["name"]
    return {"errorCode": "NodeCreationFailure", "errorMessage": VCPU_MESSAGE.format(limit=shown), "resourceIds": [asg]}


def steered_failure(account: str) -> tuple[str | None, str]:
    """(failure to end with, its message) as the test set them when the update started."""
    kind = control.setting("eks", account, "nodegroup_update_fail")
    message = control.setting("eks", account, "nodegroup_update_fail_message", DEFAULT_NODE_CREATION_MESSAGE)
    return (str(kind) if kind in ("PodEvictionFailure", "NodeCreationFailure") else None), str(message)


def replace_instances(cluster: Any, group: Any, account: str, region: str) -> None:
    """The rolling update's outcome: as many instances as before, all new."""
    from .eks_made import launch_nodes

    ec2 = _ec2(account, region)
    old = [i.id for i in _instances(group, ec2)]
    requested = dict(getattr(group, "byoc_requested", None) or {"instance_types": group.instance_types, "launch_template": group.launch_template})
    requested["launch_template"] = group.launch_template or None
    launch_nodes(cluster, group, account, region, requested)
    if old:
        ec2.terminate_instances(old)


def finisher(cluster: Any, group: Any, account: str, region: str, version: str, release: str, force: bool, launch_template: dict | None) -> Callable[[], list[dict]]:
    """What settles the update: [] (Successful, everything moved) or its errors (Failed)."""
    failure, message = steered_failure(account)

    def finish() -> list[dict]:
        asg = group.resources["autoScalingGroups"][0]["name"]
        errors: list[dict] = []
        if failure == "NodeCreationFailure":
            errors = [{"errorCode": "NodeCreationFailure", "errorMessage": message, "resourceIds": [asg]}]
        else:
            vcpu = _vcpu_error(group, account, region)
            if vcpu is not None:
                errors = [vcpu]
            elif failure == "PodEvictionFailure" and not force:
                nodes = [i.private_dns_name for i in _instances(group, _ec2(account, region))][:1]
                errors = [{"errorCode": "PodEvictionFailure", "errorMessage": f"Reached max retries while trying to evict pods from nodes in node group {group.nodegroup_name}", "resourceIds": nodes}]
        group.status = "ACTIVE"
        if errors:
            return errors
        if launch_template:
            group.launch_template = {**(group.launch_template or {}), **launch_template}
        replace_instances(cluster, group, account, region)
        group.version = version
        group.release_version = release
        return []

    return finish
