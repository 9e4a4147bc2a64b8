"""The AWS Load Balancer Controller (LBC) of an EKS cluster on the local stack: what it makes for
Services and Ingresses, with the AWS credentials its pods would have, and what it unmakes.

k8s_controllers dispatches to it (and keeps the in-tree controller, which EKS runs in its
control plane with the cluster role: its Classic ELBs and in-tree NLBs are not evaluated).

- Which objects (LBC docs: service/annotations.md, ingress/annotations.md): Services
  `type: LoadBalancer` with `...aws-load-balancer-type` `external`/`nlb-ip` or loadBalancerClass
  `service.k8s.aws/nlb`: an NLB, scheme `internal` unless annotated, a managed security group,
  the cluster's shared backend group `k8s-traffic-<cluster>-<10 hex>` (pkg/networking/
  backend_sg_provider.go) and a target group per port. Ingresses of class `alb`: an ALB likewise,
  one target group per backend service port; the backend services must exist and be
  NodePort/LoadBalancer (target type instance). Subnets: deploy/subnet_discovery.md. Tags:
  pkg/deploy/tracking/provider.go (`elbv2.k8s.aws/cluster`, `<service|ingress>.k8s.aws/stack`,
  `.../resource`) plus the tags annotation.
- Credentials (EKS User Guide aws-load-balancer-controller.html, lbc-helm.html; pod-identities,
  pod-id-how-it-works): the LBC is no EKS add-on; the vendor installs it with Helm, and it runs
  as pods with service account kube-system/aws-load-balancer-controller (the chart's default).
  On AL2023 nodes (hop limit 1) its pods get credentials only through EKS Pod Identity or IRSA;
  IRSA is not modelled here. eks_pod_identity.controller_refusal decides: an association for
  that service account that no add-on owns, made by the time the controller's pod started, and
  the eks-pod-identity-agent add-on ready. The pod "starts" the first time the local LBC acts in
  the cluster (recorded on the cluster's Kubernetes state as `lbc_started`): an association made
  later never counts (AWS injects the credentials' settings when a pod starts; restarting the
  controller's pods is not modelled).
- Permissions (LBC docs deploy/installation.md "IAM permissions", docs/install/iam_policy.json):
  before making anything for an object, the calls it is about to make are authorized against
  the association's role as IAM would: ec2:CreateSecurityGroup with TagSpecifications (and so
  ec2:CreateTags with ec2:CreateAction) for the managed group and, if not there yet, the backend
  group; elasticloadbalancing:CreateTargetGroup and CreateLoadBalancer with Tags (and so
  elasticloadbalancing:AddTags with elasticloadbalancing:CreateAction, ELB User Guide
  tagging-resources-during-creation); elasticloadbalancing:CreateListener. Refused: nothing is
  made for the object, it gets no status hostname, and the controller's event text is logged
  once per reason ("Failed deploy model due to operation error Elastic Load Balancing v2:
  CreateLoadBalancer, https response error StatusCode: 403, api error AccessDenied: User: <session
  ARN> is not authorized to perform: ... on resource: ... because ..." or the SDK's credential
  chain error: controllers/service/service_controller.go deployModel); retried at every later
  reconcile, as a controller requeues.
- Deletion: the LBC's cleanup deploys an empty model, which first looks its resources up
  (elasticloadbalancing:DescribeLoadBalancers), then deletes the load balancer, target groups,
  the managed group and, with the last user, the backend group; each deletion is authorized
  just before it (elasticloadbalancing:DeleteLoadBalancer, DeleteTargetGroup,
  ec2:DeleteSecurityGroup, with the resources' tags). Refused: the finalizer stays, the object
  stays terminating, the error is logged; what was deleted before stays deleted.
- The request context of each call is iam_context's (iam_resolvers builds ELBv2
  CreateLoadBalancer/CreateTargetGroup, which name the new resource by `Name`). A listener on a
  load balancer not made yet is authorized on that load balancer's ARN with the tags it will
  have (`_contexts`).
- Not evaluated (kinder than AWS): elasticloadbalancing:CreateRule (the ALB's extra paths, which
  are made), and what the local LBC does not do at all: security group rules
  (ec2:AuthorizeSecurityGroupIngress), Modify*/Set* attributes, target registration, the model
  build's Describe calls, iam:CreateServiceLinkedRole for ELB's service-linked role.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any, Callable

from . import eks_pod_identity
from .iam_resolvers import _ELBV2_TYPES
from . import k8s_controllers as base  # a cycle: only its attributes at call time are used

LOG = logging.getLogger("byoc.k8s")
SERVICE_ACCOUNT = ("kube-system", "aws-load-balancer-controller")
KINDS = ("lbc-nlb", "alb")


class Refused(RuntimeError):
    """AWS refused (or the SDK could not sign) a call the controller made: its event text."""


# ---------------------------------------------------------------- subnets


def lbc_subnets(ctx: Any, internal: bool) -> list[str]:
    """LBC docs deploy/subnet_discovery.md: role-tagged subnets if any, else by reachability;
    not tagged for another cluster; one per zone, this cluster's tag first, then lowest id."""
    ec2, name = base._ec2(ctx), ctx.cluster.name
    role = "kubernetes.io/role/internal-elb" if internal else "kubernetes.io/role/elb"
    subnets = base._vpc_subnets(ctx)
    tagged = [s for s in subnets if base._tags(ec2, s.id).get(role) in ("1", "")]
    candidates = tagged or [s for s in subnets if base._is_public(ec2, s) != internal]
    chosen: dict[str, Any] = {}
    for subnet in candidates:
        ours, other = base._cluster_tagged(base._tags(ec2, subnet.id), name)
        if other:
            continue
        rank = (not ours, subnet.id)
        best = chosen.get(subnet.availability_zone)
        if best is None or rank < best[0]:
            chosen[subnet.availability_zone] = (rank, subnet)
    return [chosen[zone][1].id for zone in sorted(chosen)]


# ---------------------------------------------------------------- credentials and permissions


def started(ctx: Any) -> datetime:
    """When the controller's pod started: the first time the local LBC acts in this cluster."""
    return ctx.state.setdefault("lbc_started", eks_pod_identity._now())


def _contexts(planned: dict[str, dict]) -> Callable:
    """iam_context.authorization, and for a listener on a load balancer not made yet that load
    balancer's planned ARN with its tags; `planned`: that ARN -> the tags."""
    from . import iam_context
    from .iam_resolvers import _elb_rtype, _target

    def build(call: Any) -> Any:
        arn = call.params.get("LoadBalancerArn")
        if call.iam_action == "elasticloadbalancing:CreateListener" and arn in planned:
            return iam_context.Authorization([iam_context.Check(call.iam_action, [_target(call, _elb_rtype(arn), arn, planned[arn], False)])])
        return iam_context.authorization(call)

    return build


def authorize(ctx: Any, calls: list[tuple[str, str, dict]], planned: dict[str, dict] | None = None) -> None:
    """Raises Refused with the controller's event text unless its credentials allow `calls`."""
    refusal = eks_pod_identity.controller_refusal(ctx.account, ctx.region, ctx.cluster, *SERVICE_ACCOUNT, calls, started(ctx), _contexts(planned or {}))
    if refusal:
        raise Refused(f"Failed deploy model due to {refusal}")


# ---------------------------------------------------------------- what one object gets


def _group_call(name: str, description: str, tags: dict, vpc: str) -> tuple[str, str, dict]:
    return ("ec2", "CreateSecurityGroup", {"GroupName": name, "Description": description, "VpcId": vpc, "TagSpecifications": [{"ResourceType": "security-group", "Tags": base._elbv2_tags(tags)}]})


def _backend_plan(ctx: Any) -> tuple[str, str, dict] | None:
    """(name, description, tags) of the cluster's shared backend group when it must be made."""
    existing = ctx.state.get("backend_sg")
    if existing and base._ec2(ctx).get_security_group_from_id(existing) is not None:
        return None
    name = ctx.cluster.name
    sanitized = re.sub(r"[^A-Za-z0-9]", "", name)[:232]
    return (f"k8s-traffic-{sanitized}-{hashlib.sha256(name.encode()).hexdigest()[:10]}", "[k8s] Shared Backend SecurityGroup for LoadBalancer",
            {"elbv2.k8s.aws/cluster": name, "elbv2.k8s.aws/resource": "backend-sg"})


def _deploy(ctx: Any, made: dict, sg: tuple[str, dict], lb: dict, groups: list[tuple[str, str, int, dict]], listeners: list[tuple[str, int, int]]) -> tuple[Any, list[str]]:
    """Authorizes, in the deployer's order (security groups, target groups, load balancer,
    listeners), the calls for what is not made yet; then makes it. `groups`: (name, protocol,
    port, tags); `listeners`: (protocol, port, index into groups)."""
    ec2, elbv2, vpc = base._ec2(ctx), base._elbv2(ctx), ctx.cluster.resources_vpc_config["vpcId"]
    backend = _backend_plan(ctx)
    calls = [_group_call(*backend, vpc)] if backend else []
    if not made.get("sgs"):
        calls.append(_group_call(sg[0], "[k8s] Managed SecurityGroup for LoadBalancer", sg[1], vpc))
    have = {elbv2.target_groups[a].name for a in made.get("tgs") or [] if a in elbv2.target_groups}
    calls += [("elasticloadbalancing", "CreateTargetGroup", {"Name": n, "Protocol": p, "Port": port, "VpcId": vpc, "TargetType": "instance", "Tags": base._elbv2_tags(t)})
              for n, p, port, t in groups if n not in have]
    balancer, planned = elbv2.load_balancers.get(made.get("lb") or ""), {}
    if balancer is None:
        known = [g for g in (made.get("sgs") or [])[:1] + [ctx.state.get("backend_sg")] if g and ec2.get_security_group_from_id(g) is not None]
        calls.append(("elasticloadbalancing", "CreateLoadBalancer", {"Name": lb["name"], "Type": lb["type"], "Scheme": "internal" if lb["internal"] else "internet-facing",
                                                                    "Subnets": lb["subnets"], "SecurityGroups": known, "Tags": base._elbv2_tags(lb["tags"])}))
        arn = f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account}:{_ELBV2_TYPES[lb['type']]}{lb['name']}/*"
        planned[arn] = lb["tags"]
    ports = {int(x.port) for x in balancer.listeners.values()} if balancer is not None else set()
    calls += [("elasticloadbalancing", "CreateListener", {"LoadBalancerArn": balancer.arn if balancer is not None else arn, "Protocol": protocol, "Port": port})
              for protocol, port, _ in listeners if int(port) not in ports]
    if calls:
        authorize(ctx, calls, planned)
    made["backend_sg"] = True
    if not made.get("sgs"):
        group = ec2.create_security_group(name=sg[0], description="[k8s] Managed SecurityGroup for LoadBalancer", vpc_id=vpc)
        made["sgs"] = [group.id]
        ec2.create_tags([group.id], sg[1])
    if backend:
        group = ec2.create_security_group(name=backend[0], description=backend[1], vpc_id=vpc)
        ec2.create_tags([group.id], backend[2])
        ctx.state["backend_sg"] = group.id
    arns = [base._target_group(ctx, made, n, p, port, t) for n, p, port, t in groups]
    balancer = base._ensure_elbv2(ctx, made, lb["name"], lb["type"], lb["internal"], lb["subnets"], [made["sgs"][0], ctx.state["backend_sg"]], lb["tags"])
    for protocol, port, index in listeners:
        base._listener(ctx, balancer, protocol, port, arns[index])
    return balancer, arns


def ensure_nlb(ctx: Any, obj: dict, made: dict) -> None:
    started(ctx)
    ns, name, notes, ports = base._service_parts(ctx, obj)
    made["object"] = f"{ns}/{name}"
    internal = notes.get(base.SCHEME_ANNOTATION, "internal") != "internet-facing"
    subnets = lbc_subnets(ctx, internal)
    if not subnets:
        raise RuntimeError("couldn't auto-discover subnets: unable to resolve at least one subnet")
    stack = {**base.extra_tags(notes.get(base.EXTRA_TAGS_ANNOTATION)), "elbv2.k8s.aws/cluster": ctx.cluster.name, "service.k8s.aws/stack": f"{ns}/{name}"}
    groups = [(base._k8s_name(ns, name, "tg", p["port"], p["nodePort"]), "TCP", p["nodePort"], {**stack, "service.k8s.aws/resource": f"{ns}/{name}:{p['port']}"}) for p in ports]
    lb = {"name": base._k8s_name(ns, name, "lb", ctx.cluster.name), "type": "network", "internal": internal, "subnets": subnets, "tags": {**stack, "service.k8s.aws/resource": "LoadBalancer"}}
    sg = (base._k8s_name(ns, name, "sg", ctx.cluster.name), {**stack, "service.k8s.aws/resource": "ManagedLBSecurityGroup"})
    balancer, _ = _deploy(ctx, made, sg, lb, groups, [("TCP", p["port"], i) for i, p in enumerate(ports)])
    base._hostname(obj, balancer.dns_name)
    made["done"] = True


def _ingress_backends(obj: dict) -> list[tuple[str, dict]]:
    """(path, service backend) for the default backend ("/*") and each rule's paths."""
    spec = obj.get("spec") or {}
    backends = [("/*", spec["defaultBackend"])] if spec.get("defaultBackend") else []
    for rule in spec.get("rules") or []:
        backends += [(p.get("path") or "/*", p.get("backend") or {}) for p in ((rule.get("http") or {}).get("paths") or [])]
    return [(path, b["service"]) for path, b in backends if b.get("service")]


def ensure_alb(ctx: Any, obj: dict, made: dict) -> None:
    started(ctx)
    meta = obj["metadata"]
    ns, name, notes = meta["namespace"], meta["name"], meta.get("annotations") or {}
    made["object"] = f"{ns}/{name}"
    targets = []
    for path, backend in _ingress_backends(obj):
        service = ctx.state["objects"].get(("", "services", ns, backend.get("name")))
        if service is None:
            raise RuntimeError(f'Service "{backend.get("name")}" not found')
        if (service.get("spec") or {}).get("type") not in ("NodePort", "LoadBalancer"):
            raise RuntimeError(f"{ns}/{backend['name']}: service type must be either 'NodePort' or 'LoadBalancer' with target-type instance")
        wanted = backend.get("port") or {}
        port = next((p for p in service["spec"]["ports"] if p.get("port") == wanted.get("number") or (wanted.get("name") and p.get("name") == wanted["name"])), None)
        if port is None:
            raise RuntimeError(f"{ns}/{backend['name']}: unable to find port {wanted}")
        targets.append((path, backend["name"], port))
    if not targets:
        raise RuntimeError("ingress has no backend service")
    internal = notes.get("alb.ingress.kubernetes.io/scheme", "internal") != "internet-facing"
    subnets = lbc_subnets(ctx, internal)
    if len(subnets) < 2:
        raise RuntimeError("couldn't auto-discover subnets: ALB requires at least two subnets in different Availability Zones")
    stack = {**base.extra_tags(notes.get("alb.ingress.kubernetes.io/tags")), "elbv2.k8s.aws/cluster": ctx.cluster.name, "ingress.k8s.aws/stack": f"{ns}/{name}"}
    groups = [(base._k8s_name(ns, service, "tg", name, port["port"]), "HTTP", port["nodePort"], {**stack, "ingress.k8s.aws/resource": f"{ns}/{name}-{service}:{port['port']}"})
              for _, service, port in targets]
    lb = {"name": base._k8s_name(ns, name, "lb", ctx.cluster.name), "type": "application", "internal": internal, "subnets": subnets, "tags": {**stack, "ingress.k8s.aws/resource": "LoadBalancer"}}
    sg = (base._k8s_name(ns, name, "sg", ctx.cluster.name), {**stack, "ingress.k8s.aws/resource": "ManagedLBSecurityGroup"})
    balancer, arns = _deploy(ctx, made, sg, lb, groups, [("HTTP", 80, 0)])
    listener = base._listener(ctx, balancer, "HTTP", 80, arns[0])
    if not made.get("rules"):
        for priority, ((path, _, _), arn) in enumerate(list(zip(targets, arns))[1:], start=1):
            base._elbv2(ctx).create_rule(listener_arn=listener.arn, conditions=[{"Field": "path-pattern", "Values": [path]}], priority=priority, actions=[{"Type": "forward", "TargetGroupArn": arn}])
        made["rules"] = True
    base._hostname(obj, balancer.dns_name)
    made["done"] = True


# ---------------------------------------------------------------- deletion


def deletion_check(ctx: Any) -> Callable[..., None]:
    """Authorizes the cleanup's lookup now; answers the check to run before each deletion."""
    started(ctx)
    authorize(ctx, [("elasticloadbalancing", "DescribeLoadBalancers", {})])
    return lambda service, action, params: authorize(ctx, [(service, action, params)])


def report(made: dict, refusal: Refused) -> None:
    """Logs a refused cleanup once per new reason, as a refused deploy is."""
    if made.get("error") != str(refusal):
        LOG.warning("%s controller could not clean up %s: %s", made.get("kind"), made.get("object"), refusal)
    made["error"] = str(refusal)
