"""What the Kubernetes controllers of an EKS cluster make in the customer's account, and unmake.

k8s_api stores Services, Ingresses and PersistentVolumeClaims; the controllers here act on
moto's backends of the cluster's account and region, through the backends' own methods so that
other extensions wrapping them (eks_made: load balancers' network interfaces; sweep_support:
DependencyViolation) apply. On AWS the in-tree service controller runs in EKS's control plane
with the cluster IAM role (not evaluated here: EKS's own permissions), the AWS Load Balancer
Controller and the EBS CSI driver as pods with their own credentials: the EBS CSI driver's
CreateVolume is evaluated here, the LBC's calls in k8s_lbc (eks_pod_identity decides both).

- Service `type: LoadBalancer`, no type annotation: in-tree Classic ELB `a`+31 hex of the uid
  and its security group `k8s-elb-<lb>` (kubernetes/cloud-provider-aws, aws.go
  EnsureLoadBalancer, findELBSubnets, buildELBSecurityGroupList). ELB tags:
  `kubernetes.io/service-name`, `kubernetes.io/cluster/<cluster>=owned` and the
  `...aws-load-balancer-additional-resource-tags`; the group gets the cluster tag and the
  additional tags only. Internet-facing ELBs go in public subnets only (route to an igw-),
  one per zone; none found: no ELB, retried later, as on AWS.
- annotation `...aws-load-balancer-type: nlb`: in-tree NLB plus a target group per port
  `k8s-<ns:8>-<name:8>-<10 hex>` (aws_loadbalancer.go ensureLoadBalancerv2,
  buildTargetGroupName), same tags on both.
- `external`/`nlb-ip` or loadBalancerClass `service.k8s.aws/nlb`, and Ingresses of class
  `alb`: the AWS Load Balancer Controller's NLB/ALB, made and deleted by k8s_lbc only as far as
  the controller's pod identity allows (EKS User Guide aws-load-balancer-controller.html).
- PersistentVolumeClaim: since Kubernetes 1.23 EKS hands `kubernetes.io/aws-ebs` (the `gp2`
  class) to the EBS CSI driver (EKS User Guide, ebs-csi-migration-faq.html: existing classes
  "continue to work, as long as the corresponding CSI driver is installed"), so every class
  needs the `aws-ebs-csi-driver` add-on; without it the claim stays Pending, and so it does
  while the driver's controller has no credentials allowing CreateVolume (ebs-csi.html: "The
  EBS CSI driver needs AWS IAM Permissions"; eks_pod_identity decides). Volumes carry
  the driver's tags (aws-ebs-csi-driver docs/tagging.md; the add-on runs the provisioner
  with --extra-create-metadata): CSIVolumeName, ebs.csi.aws.com/cluster=true,
  kubernetes.io/created-for/{pvc/name,pvc/namespace,pv/name}, `controller.extraVolumeTags`,
  and with `controller.k8sTagClusterId` X: kubernetes.io/cluster/X=owned and
  ebs.csi.aws.com/cluster-name=X. Reclaim policy Delete; an attached volume keeps the claim
  terminating (a pod still uses it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from . import eks_pod_identity, k8s_lbc

LOG = logging.getLogger("byoc.k8s")

TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type"
INTERNAL_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-internal"
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
EXTRA_TAGS_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"
IN_TREE_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
LBC_SERVICE_FINALIZER = "service.k8s.aws/resources"
LBC_INGRESS_FINALIZER = "ingress.k8s.aws/resources"
PVC_FINALIZER = "kubernetes.io/pvc-protection"
# StorageClass -> (provisioner, EBS type). gp2 is EKS's own class; gp3 and ebs-sc are the
# CSI classes an install brings with it (no StorageClass API is served here).
STORAGE_CLASSES = {"gp2": ("kubernetes.io/aws-ebs", "gp2"), "gp3": ("ebs.csi.aws.com", "gp3"), "ebs-sc": ("ebs.csi.aws.com", "gp3")}


@dataclass
class Ctx:
    account: str
    region: str
    cluster: Any
    state: dict


def _ec2(ctx: Ctx) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[ctx.account][ctx.region]


def _elb(ctx: Ctx) -> Any:
    from moto.elb.models import elb_backends

    return elb_backends[ctx.account][ctx.region]


def _elbv2(ctx: Ctx) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[ctx.account][ctx.region]


# ---------------------------------------------------------------- which controller


def controller_of(plural: str, obj: dict) -> str | None:
    spec = obj.get("spec") or {}
    notes = obj["metadata"].get("annotations") or {}
    if plural == "services":
        if spec.get("type") != "LoadBalancer":
            return None
        lb_type = notes.get(TYPE_ANNOTATION)
        if spec.get("loadBalancerClass") == "service.k8s.aws/nlb" or lb_type in ("external", "nlb-ip"):
            return "lbc-nlb"
        if spec.get("loadBalancerClass"):
            return None  # a class no controller here serves
        return "nlb" if lb_type == "nlb" else "clb"
    if plural == "ingresses":
        cls = spec.get("ingressClassName") or notes.get("kubernetes.io/ingress.class")
        return "alb" if cls == "alb" else None
    if plural == "persistentvolumeclaims":
        return "ebs"
    return None


def finalizers_for(plural: str, obj: dict) -> list[str]:
    """What admission and the controllers put on a new object. The in-tree service controller
    adds its finalizer before handing an `external` Service to the LBC (kubernetes
    pkg/controller/service, syncLoadBalancerIfNeeded); a loadBalancerClass keeps it out."""
    kind = controller_of(plural, obj)
    if kind in ("clb", "nlb"):
        return [IN_TREE_FINALIZER]
    if kind == "lbc-nlb":
        in_tree = [] if (obj.get("spec") or {}).get("loadBalancerClass") else [IN_TREE_FINALIZER]
        return in_tree + [LBC_SERVICE_FINALIZER]
    if kind == "alb":
        return [LBC_INGRESS_FINALIZER]
    if kind == "ebs":
        return [PVC_FINALIZER]
    return []


# ---------------------------------------------------------------- subnets


def _tags(ec2: Any, resource_id: str) -> dict:
    return dict(ec2.tags.get(resource_id, {}))


def _vpc_subnets(ctx: Ctx) -> list[Any]:
    vpc = (getattr(ctx.cluster, "resources_vpc_config", None) or {}).get("vpcId")
    ec2 = _ec2(ctx)
    return sorted((s for zone in ec2.subnets.values() for s in zone.values() if s.vpc_id == vpc), key=lambda s: s.id)


def _is_public(ec2: Any, subnet: Any) -> bool:
    tables = [t for t in ec2.route_tables.values() if t.vpc_id == subnet.vpc_id]
    table = next((t for t in tables if subnet.id in t._associations.values()), None)
    table = table or next((t for t in tables if t.main_association_id is not None), None)
    return table is not None and any(getattr(r.gateway, "id", "").startswith("igw") for r in table.routes)


def _cluster_tagged(tags: dict, cluster: str) -> tuple[bool, bool]:
    """(tagged for this cluster, tagged for another cluster only)."""
    ours = f"kubernetes.io/cluster/{cluster}" in tags
    other = any(k.startswith("kubernetes.io/cluster/") for k in tags) and not ours
    return ours, other


def in_tree_subnets(ctx: Ctx, internal: bool) -> list[str]:
    """cloud-provider-aws findSubnets/findELBSubnets: subnets of the VPC tagged for this
    cluster or for none; public ones only for an internet-facing ELB; one per zone, preferring
    the role tag, then the cluster tag, then the lowest id."""
    ec2, name = _ec2(ctx), ctx.cluster.name
    role = "kubernetes.io/role/internal-elb" if internal else "kubernetes.io/role/elb"
    chosen: dict[str, Any] = {}
    for subnet in _vpc_subnets(ctx):
        tags = _tags(ec2, subnet.id)
        if _cluster_tagged(tags, name)[1] or (not internal and not _is_public(ec2, subnet)):
            continue
        rank = (role not in tags, not _cluster_tagged(tags, name)[0], subnet.id)
        best = chosen.get(subnet.availability_zone)
        if best is None or rank < best[0]:
            chosen[subnet.availability_zone] = (rank, subnet)
    return [chosen[zone][1].id for zone in sorted(chosen)]


# ---------------------------------------------------------------- names and tags


def _hash(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:10]


def _short(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", value)[:8]


def _k8s_name(ns: str, name: str, *salt: Any) -> str:
    return f"k8s-{_short(ns)}-{_short(name)}-{_hash(ns, name, *salt)}"


def extra_tags(text: str | None) -> dict[str, str]:
    """`k1=v1,k2=v2` (cloud-provider-aws getKeyValuePropertiesFromAnnotation)."""
    out = {}
    for item in (text or "").split(","):
        key, _, value = item.strip().partition("=")
        if key.strip():
            out[key.strip()] = value.strip()
    return out


def _elbv2_tags(tags: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _hostname(obj: dict, hostname: str) -> None:
    obj["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}]}}


# ---------------------------------------------------------------- ensuring


def ensure(ctx: Ctx, plural: str, obj: dict, made: dict) -> None:
    """Makes what the object's controller would make and is not made yet; a failure is
    logged and retried at the next request, as a controller requeues."""
    kind = controller_of(plural, obj)
    if kind is None or made.get("done"):
        return
    made["kind"] = kind
    try:
        {"clb": _ensure_clb, "nlb": _ensure_nlb, "lbc-nlb": k8s_lbc.ensure_nlb, "alb": k8s_lbc.ensure_alb, "ebs": _ensure_volume}[kind](ctx, obj, made)
    except Exception as problem:  # noqa: BLE001 - a controller logs and requeues
        if made.get("error") != str(problem):  # once per new reason, not at every request
            LOG.warning("%s controller could not reconcile %s/%s: %s", kind, obj["metadata"].get("namespace"), obj["metadata"]["name"], problem)
        made["error"] = str(problem)


def _service_parts(ctx: Ctx, obj: dict) -> tuple[str, str, dict, list[dict]]:
    meta = obj["metadata"]
    return meta["namespace"], meta["name"], meta.get("annotations") or {}, list((obj.get("spec") or {}).get("ports") or [])


def _ensure_clb(ctx: Ctx, obj: dict, made: dict) -> None:
    ns, name, notes, ports = _service_parts(ctx, obj)
    internal = notes.get(INTERNAL_ANNOTATION, "false") not in ("false", "")
    subnets = in_tree_subnets(ctx, internal)
    if not subnets:
        raise RuntimeError("could not find any suitable subnets for creating the ELB")
    ec2, lb_name = _ec2(ctx), "a" + obj["metadata"]["uid"].replace("-", "")[:31]
    owned = {f"kubernetes.io/cluster/{ctx.cluster.name}": "owned"}
    extra = extra_tags(notes.get(EXTRA_TAGS_ANNOTATION))
    if not made.get("sgs"):
        group = ec2.create_security_group(name=f"k8s-elb-{lb_name}", description=f"Security group for Kubernetes ELB {lb_name} ({ns}/{name})", vpc_id=ctx.cluster.resources_vpc_config["vpcId"])
        made["sgs"] = [group.id]
        ec2.create_tags([group.id], {**extra, **owned})
    zones = sorted({s.availability_zone for s in (ec2.get_subnet(i) for i in subnets)})
    listeners = [{"Protocol": "TCP", "LoadBalancerPort": p["port"], "InstancePort": p["nodePort"]} for p in ports]
    balancer = _elb(ctx).create_load_balancer(name=lb_name, zones=zones, ports=listeners, scheme="internal" if internal else "internet-facing", subnets=subnets, security_groups=made["sgs"])
    made["clb"] = lb_name
    for key, value in {**extra, "kubernetes.io/service-name": f"{ns}/{name}", **owned}.items():
        balancer.add_tag(key, value)
    _hostname(obj, balancer.dns_name)
    made["done"] = True


def _ensure_elbv2(ctx: Ctx, made: dict, name: str, lb_type: str, internal: bool, subnets: list[str], groups: list[str], tags: dict) -> Any:
    elbv2 = _elbv2(ctx)
    if made.get("lb") and made["lb"] in elbv2.load_balancers:
        return elbv2.load_balancers[made["lb"]]
    balancer = elbv2.create_load_balancer(name=name, security_groups=groups, subnet_ids=subnets, scheme="internal" if internal else "internet-facing", loadbalancer_type=lb_type, tags=_elbv2_tags(tags))
    made["lb"] = balancer.arn
    return balancer


def _target_group(ctx: Ctx, made: dict, name: str, protocol: str, port: int, tags: dict) -> str:
    elbv2 = _elbv2(ctx)
    existing = next((a for a in made.setdefault("tgs", []) if elbv2.target_groups.get(a) is not None and elbv2.target_groups[a].name == name), None)
    if existing:
        return existing
    group = elbv2.create_target_group(name, vpc_id=ctx.cluster.resources_vpc_config["vpcId"], protocol=protocol, port=port, target_type="instance", healthcheck_protocol="TCP" if protocol == "TCP" else "HTTP", tags=_elbv2_tags(tags))
    made["tgs"].append(group.arn)
    return group.arn


def _ensure_nlb(ctx: Ctx, obj: dict, made: dict) -> None:
    ns, name, notes, ports = _service_parts(ctx, obj)
    internal = notes.get(INTERNAL_ANNOTATION, "false") not in ("false", "")
    subnets = in_tree_subnets(ctx, internal)
    if not subnets:
        raise RuntimeError("could not find any suitable subnets for creating the ELB")
    tags = {**extra_tags(notes.get(EXTRA_TAGS_ANNOTATION)), "kubernetes.io/service-name": f"{ns}/{name}", f"kubernetes.io/cluster/{ctx.cluster.name}": "owned"}
    balancer = _ensure_elbv2(ctx, made, "a" + obj["metadata"]["uid"].replace("-", "")[:31], "network", internal, subnets, [], tags)
    for port in ports:
        group = _target_group(ctx, made, _k8s_name(ns, name, ctx.cluster.name, port["port"], port["nodePort"], "TCP", "instance"), "TCP", port["nodePort"], tags)
        _listener(ctx, balancer, "TCP", port["port"], group)
    _hostname(obj, balancer.dns_name)
    made["done"] = True


def _listener(ctx: Ctx, balancer: Any, protocol: str, port: int, group: str) -> Any:
    for listener in balancer.listeners.values():
        if int(listener.port) == int(port):
            return listener
    return _elbv2(ctx).create_listener(load_balancer_arn=balancer.arn, protocol=protocol, port=port, ssl_policy=None, certificate=None, actions=[{"Type": "forward", "TargetGroupArn": group}])


# ---------------------------------------------------------------- volumes


_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def size_gib(quantity: Any) -> int | None:
    """A Kubernetes quantity as whole GiB, rounded up as the EBS CSI driver rounds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?", str(quantity or "").strip())
    if not match:
        return None
    size = float(match.group(1)) * _UNITS[match.group(2) or ""]
    return max(1, -(-int(size) // 2**30))


def _addon_config(cluster: Any) -> dict | None:
    """The EBS CSI add-on's configuration values when the add-on is there (ACTIVE, or
    CREATING with no poll left: it turns ACTIVE at its next sighting); else None."""
    record = getattr(cluster, "byoc_addons", {}).get("aws-ebs-csi-driver")
    if record is None:
        return None
    ready = record.status == "ACTIVE" or (record.status == "CREATING" and getattr(record, "byoc_polls_left", 0) == 0 and getattr(record, "byoc_final", ("",))[0] == "ACTIVE")
    if not ready:
        return None
    text = record.fields.get("configurationValues") or "{}"
    try:
        values = json.loads(text)
    except ValueError:
        import yaml

        values = yaml.safe_load(text)
    return values if isinstance(values, dict) else {}


def storage_class(ctx: Ctx, obj: dict) -> str | None:
    """The claim's class; with none named, the default class: gp2 before Kubernetes 1.30,
    none since (EKS no longer marks gp2 default on new 1.30 clusters)."""
    name = (obj.get("spec") or {}).get("storageClassName")
    if name is None and tuple(int(p) for p in str(ctx.cluster.version).split(".")[:2]) < (1, 30):
        return "gp2"
    return name


def _ensure_volume(ctx: Ctx, obj: dict, made: dict) -> None:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    cls = storage_class(ctx, obj)
    config = _addon_config(ctx.cluster)
    if cls not in STORAGE_CLASSES or config is None:
        obj["status"] = {"phase": "Pending"}
        return  # waiting for the class or for the driver, as on AWS
    provisioner, volume_type = STORAGE_CLASSES[cls]
    gib = size_gib(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    ec2 = _ec2(ctx)
    zone = min(ec2.get_subnet(i).availability_zone for i in ctx.cluster.resources_vpc_config["subnetIds"])
    pv = f"pvc-{meta['uid']}"
    controller = config.get("controller") or {}
    tags = {**{k: str(v) for k, v in (controller.get("extraVolumeTags") or {}).items()}, "CSIVolumeName": pv, "ebs.csi.aws.com/cluster": "true",
            "kubernetes.io/created-for/pvc/name": meta["name"], "kubernetes.io/created-for/pvc/namespace": meta["namespace"], "kubernetes.io/created-for/pv/name": pv}
    if controller.get("k8sTagClusterId"):
        tags.update({f"kubernetes.io/cluster/{controller['k8sTagClusterId']}": "owned", "ebs.csi.aws.com/cluster-name": str(controller["k8sTagClusterId"])})
    refusal = eks_pod_identity.ebs_csi_refusal(ctx.account, ctx.region, ctx.cluster, {"zone": zone, "size": gib, "type": volume_type, "tags": tags, "class": cls, "pv": pv})
    if refusal:
        obj["status"] = {"phase": "Pending"}
        raise RuntimeError(refusal)  # logged once per reason and retried, as the provisioner does
    volume = ec2.create_volume(size=gib, zone_name=zone, volume_type=volume_type)
    made["volume"] = volume.id
    ec2.create_tags([volume.id], tags)
    spec["volumeName"] = pv
    meta.setdefault("annotations", {}).update({"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com" if provisioner == "kubernetes.io/aws-ebs" else provisioner})
    obj["status"] = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or []), "capacity": {"storage": f"{gib}Gi"}}
    made["done"] = True


# ---------------------------------------------------------------- finalizing


def finalize(ctx: Ctx, uid: str, made: dict) -> bool:
    """Removes what was made for the object; True when nothing is left. A refusal (a volume
    still attached, a group still in use, the LBC's credentials) leaves the rest for the next
    attempt. Only the LBC's deletions are authorized (k8s_lbc); the in-tree controller's are not."""
    ec2 = _ec2(ctx)
    try:
        if made.get("volume"):
            volume = ec2.volumes.get(made["volume"])
            if volume is not None and volume.attachment is not None:
                return False
            if volume is not None:
                ec2.delete_volume(made["volume"])
            made.pop("volume")
        if made.get("clb"):
            _elb(ctx).delete_load_balancer(made.pop("clb"))
        _unmake(ctx, uid, made, k8s_lbc.deletion_check(ctx) if made.get("kind") in k8s_lbc.KINDS else lambda *call: None)
    except k8s_lbc.Refused as refusal:
        k8s_lbc.report(made, refusal)
        return False
    except Exception as problem:  # noqa: BLE001 - retried at the next read
        LOG.info("cleanup of %s not finished yet: %s", uid, problem)
        return False
    return True


def _unmake(ctx: Ctx, uid: str, made: dict, check: Any) -> None:
    """Deletes the load balancer, target groups and groups in made; `check(service, action,
    params)` runs before each deletion (raises when the caller may not)."""
    ec2, elbv2 = _ec2(ctx), _elbv2(ctx)
    if made.get("lb"):
        if made["lb"] in elbv2.load_balancers:
            check("elasticloadbalancing", "DeleteLoadBalancer", {"LoadBalancerArn": made["lb"]})
        elbv2.delete_load_balancer(made.pop("lb"))
    for arn in list(made.get("tgs") or []):
        if arn in elbv2.target_groups:
            check("elasticloadbalancing", "DeleteTargetGroup", {"TargetGroupArn": arn})
            elbv2.delete_target_group(arn)
        made["tgs"].remove(arn)
    for group in list(made.get("sgs") or []):
        if ec2.get_security_group_from_id(group) is not None:
            check("ec2", "DeleteSecurityGroup", {"GroupId": group})
            ec2.delete_security_group(group_id=group)
        made["sgs"].remove(group)
    if made.get("backend_sg"):
        users = [m for u, m in ctx.state["made"].items() if u != uid and m.get("backend_sg")]
        group = ctx.state.get("backend_sg")
        if not users and group and ec2.get_security_group_from_id(group) is not None:
            check("ec2", "DeleteSecurityGroup", {"GroupId": group})
            ec2.delete_security_group(group_id=group)
            ctx.state.pop("backend_sg", None)
        made.pop("backend_sg")
