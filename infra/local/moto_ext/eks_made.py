"""What EKS and Elastic Load Balancing make in the customer's account by themselves, and take
away again. moto makes none of it, so nothing held a subnet, a security group or a VPC that
AWS would refuse to delete; here, as on AWS:

- CreateCluster makes the cluster security group `eks-cluster-sg-<cluster>-<10 digits>` in
  the cluster's VPC: inbound all traffic from itself, outbound all to 0.0.0.0/0 and to itself,
  tagged `kubernetes.io/cluster/<cluster>=owned`, `aws:eks:cluster-name=<cluster>` and `Name`
  (EKS User Guide, "View Amazon EKS security group requirements for clusters",
  https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html); DescribeCluster
  reports it as `clusterSecurityGroupId`. And "2-4 elastic network interfaces in the subnets
  that you specify", described `Amazon EKS <cluster>`, requester-managed, with that group and
  the request's `securityGroupIds` (EKS User Guide, "View Amazon EKS networking requirements
  for VPC and subnets", https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html):
  one per subnet given, at most four. A `securityGroupIds` entry that does not exist or lies
  in another VPC is refused. When the cluster is finally removed (sweep_support's DELETING
  polls), its interfaces go, and its group too unless something else still uses it (then it
  stays behind, tagged, as a group EKS could not delete).
- A managed node group runs `scalingConfig.desiredSize` instances (2 without a scaling
  config) of `instanceTypes[0]` (t3.medium) over its subnets, On-Demand unless `capacityType`
  is SPOT, in the cluster security group, tagged `eks:cluster-name`, `eks:nodegroup-name`,
  `kubernetes.io/cluster/<cluster>=owned` and `aws:autoscaling:groupName` (the node group's
  Auto Scaling group `eks-<nodegroup>-<uuid>`), each with a primary interface deleted on
  termination ("Simplify node lifecycle with managed node groups",
  https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html). Without an
  `amiType` or launch template it is AL2023_x86_64_STANDARD, the default for Kubernetes 1.30
  and later (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions-extended.html);
  an AL2023 node group without a launch template gets IMDSv2 required and "the default hop
  count for managed node groups is set to 1", so pods get no node credentials
  (https://docs.aws.amazon.com/eks/latest/userguide/al2023.html). The AMI is one of moto's
  (EKS's own are not in moto). Removing the node group terminates its instances.
  No remote access is reported when none was asked for (moto invents one).
- Load balancers hold an interface in each of their subnets ("ELB creates ... a network
  interface for the selected subnet ... You can view these network interfaces, but they can't
  be modified", https://docs.aws.amazon.com/elasticloadbalancing/latest/network/availability-zones.html):
  Classic ones described `ELB <name>`, v2 ones `ELB app|net|gwy/<name>/<id>`, requested by
  `amazon-elb`, with the load balancer's groups, and a public address when internet-facing.
  They follow the load balancer's subnets and groups and go when it is deleted.

Requester-managed interfaces are the service's ("You can't detach a requester-managed network
interface", EC2 User Guide, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/requester-managed-eni.html):
DetachNetworkInterface answers OperationNotPermitted "You are not allowed to manage
'ela-attach' attachments." and DeleteNetworkInterface of one in use InvalidParameterValue
"Network interface '<id>' is currently in use." (what EC2 answers for a load balancer's or an
endpoint's interface). DescribeNetworkInterfaces filters on `requester-managed`,
`requester-id`, `status` and `interface-type`.
"""

from __future__ import annotations

import random
import threading
from typing import Any

_LOCK = threading.Lock()

SG_DESCRIPTION = "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads."
# The AWS-owned account EKS's cross-account interfaces belong to (never a customer's).
EKS_REQUESTER = "999999999999"
ELB_REQUESTER = "amazon-elb"
MAX_CLUSTER_INTERFACES = 4
DEFAULT_DESIRED = 2
DEFAULT_INSTANCE_TYPE = "t3.medium"
DEFAULT_AMI_TYPE = "AL2023_x86_64_STANDARD"

_INTERFACE_CLASS: Any = None


def _ec2(account: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _eks_error(kind: str, message: str, cluster: str | None = None) -> Exception:
    from moto.eks import exceptions

    return getattr(exceptions, kind)(message=message, clusterName=cluster, nodegroupName=None, addonName=None)


# ---------------------------------------------------------------- requester-managed interfaces


class _Attachment:
    """The attachment of an interface to the service's own (invisible) host."""

    def __init__(self, eni: Any):
        self.attach_time = eni.attach_time
        self.attachment_id = eni.attachment_id
        self.delete_on_termination = False
        self.device_index = 1
        self.network_card_index = 0
        self.instance_id = None
        self.instance_owner_id = eni.byoc_owner
        self.status = "attached"


def _interface_class() -> Any:
    global _INTERFACE_CLASS
    if _INTERFACE_CLASS is None:
        from moto.ec2.models.elastic_network_interfaces import NetworkInterface

        class ManagedInterface(NetworkInterface):  # type: ignore[misc, valid-type]
            @property
            def attachment(self) -> Any:
                return _Attachment(self)

        _INTERFACE_CLASS = ManagedInterface
    return _INTERFACE_CLASS


def _interface(ec2: Any, subnet_id: str, groups: list[str], description: str, requester: str, kind: str = "interface", public: bool = False) -> Any:
    """A requester-managed interface, in use, in `subnet_id` with exactly `groups`."""
    from moto.core.utils import utcnow
    from moto.ec2.utils import random_public_ip

    subnet = ec2.get_subnet(subnet_id)
    eni = _interface_class()(ec2, subnet, None, description=description)
    eni._group_set = [g for g in (ec2.get_security_group_from_id(i) for i in groups) if g is not None]
    eni.requester_managed = True
    eni.requester_id = requester
    eni.byoc_owner = requester
    eni.interface_type = kind
    eni.status = "in-use"
    eni.attachment_id = "ela-attach-" + "".join(random.choices("0123456789abcdef", k=8))
    eni.attach_time = utcnow()
    eni.device_index = 1
    if public:
        eni.public_ip = random_public_ip()
    ec2.enis[eni.id] = eni
    return eni


def _sync(ec2: Any, holder: Any, subnet_ids: list[str], groups: list[str], description: str, kind: str, public: bool) -> None:
    """One interface of `holder` (a load balancer) per subnet, with its current groups."""
    with _LOCK:
        current: dict[str, str] = holder.__dict__.setdefault("byoc_interfaces", {})
        for subnet_id in list(current):
            if subnet_id not in subnet_ids:
                ec2.enis.pop(current.pop(subnet_id), None)
        for subnet_id in subnet_ids:
            eni = ec2.enis.get(current.get(subnet_id, ""))
            if eni is None:
                current[subnet_id] = _interface(ec2, subnet_id, groups, description, ELB_REQUESTER, kind, public).id
            else:
                eni._group_set = [g for g in (ec2.get_security_group_from_id(i) for i in groups) if g is not None]


def _drop(ec2: Any, holder: Any) -> None:
    with _LOCK:
        for eni_id in holder.__dict__.pop("byoc_interfaces", {}).values():
            ec2.enis.pop(eni_id, None)


def _install_interfaces() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    original_delete = EC2Backend.delete_network_interface
    original_detach = EC2Backend.detach_network_interface
    original_filter = NetworkInterface.get_filter_value

    def delete_network_interface(self: Any, eni_id: str) -> Any:
        eni = self.enis.get(eni_id)
        if eni is not None and getattr(eni, "requester_managed", False) and eni.status == "in-use":
            raise EC2ClientError("InvalidParameterValue", f"Network interface '{eni_id}' is currently in use.")
        return original_delete(self, eni_id)

    def detach_network_interface(self: Any, attachment_id: str) -> Any:
        if any(e.attachment_id == attachment_id and getattr(e, "requester_managed", False) for e in list(self.enis.values())):
            raise EC2ClientError("OperationNotPermitted", f"You are not allowed to manage '{attachment_id.rsplit('-', 1)[0]}' attachments.")
        return original_detach(self, attachment_id)

    def get_filter_value(self: Any, filter_name: str, method_name: str | None = None) -> Any:
        extra = {
            "requester-managed": lambda: bool(self.requester_managed),
            "requester-id": lambda: self.requester_id,
            "status": lambda: self.status,
            "interface-type": lambda: self.interface_type,
        }
        if filter_name in extra:
            return extra[filter_name]()
        return original_filter(self, filter_name, method_name)

    EC2Backend.delete_network_interface = delete_network_interface  # type: ignore[method-assign]
    EC2Backend.detach_network_interface = detach_network_interface  # type: ignore[method-assign]
    NetworkInterface.get_filter_value = get_filter_value  # type: ignore[method-assign]


# ---------------------------------------------------------------- EKS clusters


def _check_security_groups(account: str, region: str, name: str, vpc_config: dict) -> None:
    """EKS refuses a cluster security group that does not exist or is in another VPC."""
    ec2 = _ec2(account, region)
    subnets = [s for z in ec2.subnets.values() for s in z.values() if s.id in (vpc_config.get("subnetIds") or [])]
    vpc_id = subnets[0].vpc_id if subnets else None
    for group_id in vpc_config.get("securityGroupIds") or []:
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            raise _eks_error("InvalidParameterException", f"The security group '{group_id}' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidGroup.NotFound)", name)
        if vpc_id and group.vpc_id != vpc_id:
            raise _eks_error("InvalidParameterException", f"Security group {group_id} and subnets belong to different networks.", name)


def make_cluster_network(cluster: Any, account: str, region: str) -> None:
    """The cluster security group and the cluster's requester-managed interfaces."""
    ec2 = _ec2(account, region)
    vpc_config = cluster.resources_vpc_config
    name = f"eks-cluster-sg-{cluster.name}-{random.randint(10**9, 10**10 - 1)}"
    tags = {"Name": name, "aws:eks:cluster-name": cluster.name, f"kubernetes.io/cluster/{cluster.name}": "owned"}
    group = ec2.create_security_group(name, SG_DESCRIPTION, vpc_id=vpc_config.get("vpcId"), tags=tags)
    itself = [{"GroupId": group.id, "UserId": account}]
    ec2.authorize_security_group_ingress(group.id, "-1", None, None, [], source_groups=itself)
    ec2.authorize_security_group_egress(group.id, "-1", None, None, [], source_groups=itself)
    groups = [group.id] + list(vpc_config.get("securityGroupIds") or [])
    enis = [
        _interface(ec2, subnet_id, groups, f"Amazon EKS {cluster.name}", EKS_REQUESTER)
        for subnet_id in list(vpc_config.get("subnetIds") or [])[:MAX_CLUSTER_INTERFACES]
    ]
    vpc_config["clusterSecurityGroupId"] = group.id
    cluster.byoc_made = {"security_group": group.id, "interfaces": [e.id for e in enis]}


def _cluster_removed(eks_backend: Any, cluster: Any) -> None:
    from moto.ec2.exceptions import EC2ClientError

    made = getattr(cluster, "byoc_made", None)
    if not made:
        return
    ec2 = _ec2(eks_backend.account_id, eks_backend.region_name)
    for eni_id in made["interfaces"]:
        ec2.enis.pop(eni_id, None)
    try:
        ec2.delete_security_group(group_id=made["security_group"])
    except EC2ClientError:
        pass  # still used elsewhere (or already gone): EKS cannot delete it either


# ---------------------------------------------------------------- managed node groups


def _ami(ec2: Any, ami_type: str) -> str:
    arch = "arm64" if "ARM" in ami_type.upper() else "x86_64"
    prefix = "al2023-ami-" if ami_type.startswith("AL2023") else "amzn2-ami-"
    linux = [a for a in ec2.amis.values() if a.architecture == arch and not a.platform]
    named = [a for a in linux if (a.name or "").startswith(prefix)]
    return (named or linux or list(ec2.amis.values()))[0].id


def _template(ec2: Any, launch_template: dict | None) -> dict:
    if not launch_template:
        return {}
    spec = {"LaunchTemplateId": launch_template["id"]} if launch_template.get("id") else {"LaunchTemplateName": launch_template.get("name")}
    if launch_template.get("version"):
        spec["Version"] = launch_template["version"]
    try:
        return dict(ec2._get_template_from_args(spec).data or {})
    except Exception:  # a template moto cannot resolve: launch with EKS's defaults
        return {}


def launch_nodes(cluster: Any, group: Any, account: str, region: str, requested: dict) -> None:
    """Runs the node group's desired instances as its Auto Scaling group would."""
    ec2 = _ec2(account, region)
    template = _template(ec2, requested.get("launch_template"))
    scaling = group.scaling_config or {}
    desired = scaling.get("desiredSize", max(DEFAULT_DESIRED, scaling.get("minSize", 0)))
    instance_type = (requested.get("instance_types") or [template.get("InstanceType") or DEFAULT_INSTANCE_TYPE])[0]
    groups = template.get("SecurityGroupIds") or [cluster.resources_vpc_config.get("clusterSecurityGroupId")]
    asg = f"eks-{group.nodegroup_name}-{group.uuid}"
    group.resources["autoScalingGroups"] = [{"name": asg}]
    tags = {"eks:cluster-name": cluster.name, "eks:nodegroup-name": group.nodegroup_name, f"kubernetes.io/cluster/{cluster.name}": "owned", "aws:autoscaling:groupName": asg}
    metadata = dict(template.get("MetadataOptions") or {})
    if not requested.get("launch_template") and str(group.ami_type).startswith("AL2023"):
        metadata = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
    image = template.get("ImageId") or _ami(ec2, str(group.ami_type))
    subnets = list(group.subnets or [])
    ids = []
    for index in range(int(desired) if subnets else 0):
        reservation = ec2.run_instances(
            image, 1, None, [],
            instance_type=instance_type, is_instance_type_default=False, region_name=region,
            subnet_id=subnets[index % len(subnets)], security_group_ids=[g for g in groups if g],
            nics=[{"DeviceIndex": 0, "DeleteOnTermination": True}], tags={"instance": dict(tags)},
            metadata_options=metadata, lifecycle="spot" if group.capacity_type == "SPOT" else None,
        )
        ids += [i.id for i in reservation.instances]
    group.byoc_instances = ids


def _nodegroup_removed(eks_backend: Any, group: Any) -> None:
    ec2 = _ec2(eks_backend.account_id, eks_backend.region_name)
    ids = set(getattr(group, "byoc_instances", []))
    live = [i.id for i in ec2.all_instances() if i.id in ids and i.state != "terminated"]
    if live:
        ec2.terminate_instances(live)


def _install_eks() -> None:
    from moto.eks.models import DEFAULT_REMOTE_ACCESS, EKSBackend
    from moto.eks.responses import EKSResponse

    from . import sweep_support

    original_create_cluster = EKSResponse.create_cluster  # eks_ext's
    original_create_nodegroup = EKSBackend.create_nodegroup

    def create_cluster(self: Any) -> Any:
        name = self._get_param("name")
        if name not in self.eks_backend.clusters:
            _check_security_groups(self.current_account, self.region, name, self._get_param("resourcesVpcConfig") or {})
        result = original_create_cluster(self)
        cluster = self.eks_backend.clusters.get(name)
        if cluster is not None and not hasattr(cluster, "byoc_made"):
            make_cluster_network(cluster, self.current_account, self.region)
        return result

    def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = original_create_nodegroup(self, *args, **kwargs)
        group.scaling_config = dict(group.scaling_config)  # moto shares one default dict
        if kwargs.get("ami_type") is None and not kwargs.get("launch_template"):
            group.ami_type = DEFAULT_AMI_TYPE
        if kwargs.get("remote_access") is None and group.remote_access is DEFAULT_REMOTE_ACCESS:
            group.remote_access = None
            group.resources.pop("remoteAccessSecurityGroup", None)
        cluster = self.clusters[group.cluster_name]
        launch_nodes(cluster, group, self.account_id, self.region_name, kwargs)
        return group

    EKSResponse.create_cluster = create_cluster
    EKSBackend.create_nodegroup = create_nodegroup  # type: ignore[method-assign]
    sweep_support.on_removed("cluster", _cluster_removed)
    sweep_support.on_removed("nodegroup", _nodegroup_removed)


# ---------------------------------------------------------------- load balancers


def _install_classic() -> None:
    from moto.elb.models import ELBBackend

    original_create = ELBBackend.create_load_balancer
    original_delete = ELBBackend.delete_load_balancer

    def sync(self: Any, lb: Any) -> None:
        ec2 = _ec2(self.account_id, self.region_name)
        _sync(ec2, lb, list(lb.subnets), list(lb.security_groups), f"ELB {lb.name}", "interface", lb.scheme != "internal")

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        lb = original_create(self, *args, **kwargs)
        sync(self, lb)
        return lb

    def delete_load_balancer(self: Any, load_balancer_name: str) -> None:
        lb = self.load_balancers.get(load_balancer_name)
        original_delete(self, load_balancer_name)
        if lb is not None:
            _drop(_ec2(self.account_id, self.region_name), lb)

    def resyncing(name: str) -> None:
        original = getattr(ELBBackend, name)

        def wrapper(self: Any, load_balancer_name: str, *args: Any, **kwargs: Any) -> Any:
            result = original(self, load_balancer_name, *args, **kwargs)
            lb = self.load_balancers.get(load_balancer_name)
            if lb is not None:
                sync(self, lb)
            return result

        setattr(ELBBackend, name, wrapper)

    ELBBackend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]
    ELBBackend.delete_load_balancer = delete_load_balancer  # type: ignore[method-assign]
    for name in ("attach_load_balancer_to_subnets", "detach_load_balancer_from_subnets", "apply_security_groups_to_load_balancer"):
        resyncing(name)


def _install_v2() -> None:
    from moto.elbv2.models import ELBv2Backend

    original_create = ELBv2Backend.create_load_balancer
    original_delete = ELBv2Backend.delete_load_balancer

    def sync(self: Any, lb: Any) -> None:
        kind = {"network": "net", "gateway": "gwy"}.get(lb.type, "app")
        interface_type = {"network": "network_load_balancer", "gateway": "gateway_load_balancer"}.get(lb.type, "interface")
        description = f"ELB {kind}/{lb.name}/{lb.arn.rsplit('/', 1)[-1]}"
        public = lb.type != "gateway" and lb.scheme in (None, "internet-facing")
        _sync(_ec2(self.account_id, self.region_name), lb, [s.id for s in lb.subnets], list(lb.security_groups or []), description, interface_type, public)

    def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
        lb = original_create(self, *args, **kwargs)
        sync(self, lb)
        return lb

    def delete_load_balancer(self: Any, arn: str) -> None:
        lb = self.load_balancers.get(arn)
        original_delete(self, arn)
        if lb is not None:
            _drop(_ec2(self.account_id, self.region_name), lb)

    def resyncing(name: str) -> None:
        original = getattr(ELBv2Backend, name)

        def wrapper(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
            result = original(self, arn, *args, **kwargs)
            lb = self.load_balancers.get(arn)
            if lb is not None:
                sync(self, lb)
            return result

        setattr(ELBv2Backend, name, wrapper)

    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]
    ELBv2Backend.delete_load_balancer = delete_load_balancer  # type: ignore[method-assign]
    for name in ("set_subnets", "set_security_groups"):
        resyncing(name)


def install() -> None:
    """After eks_ext (wraps its CreateCluster) and sweep_support (its removal hooks)."""
    from moto.ec2.models import EC2Backend

    if getattr(EC2Backend, "_byoc_eks_made", False):
        return
    _install_interfaces()
    _install_eks()
    _install_classic()
    _install_v2()
    EC2Backend._byoc_eks_made = True  # type: ignore[attr-defined]
