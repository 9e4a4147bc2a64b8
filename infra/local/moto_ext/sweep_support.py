"""What sweep-dangling needs of the emulator beyond moto: AWS's refusals, slow deletions, and
a tagging API that sees every kind the sweeper deletes.

Refusals. moto deletes a subnet, a security group or a VPC with dependents still in it, and
releases an address a NAT gateway still holds; AWS refuses, and the sweeper's order exists
because it does. Here, as on AWS:
  DeleteSubnet          DependencyViolation while a network interface or a live NAT gateway
                        is in it
  DeleteSecurityGroup   DependencyViolation while a network interface or a load balancer
                        (Classic or v2) uses it, or another group's rule references it
  DeleteVpc             DependencyViolation while an internet gateway is attached, or a
                        non-default security group, network interface, live NAT gateway,
                        VPC endpoint or load balancer (Classic or v2) is in it (moto checks
                        subnets and route tables itself)
  DetachInternetGateway DependencyViolation while a public address is mapped in the VPC: an
                        Elastic IP's, or an interface's own public IPv4 address (an instance's,
                        an internet-facing load balancer's). EC2 API reference,
                        DetachInternetGateway: "The VPC must not contain any running instances
                        with Elastic IP addresses or public IPv4 addresses."
  ReleaseAddress        InvalidIPAddress.InUse while a live NAT gateway holds the address
  DeleteNetworkInterface InvalidNetworkInterface.InUse for a live NAT gateway's interface
                        (which DescribeNetworkInterfaces shows `in-use`, as on AWS)

Slow deletions. A deleted NAT gateway stays `deleting` for as many DescribeNatGateways polls
as the test set, then is `deleted` and lets go of its interface and address; an EKS node
group or cluster stays `DELETING` for as many DescribeNodegroup/DescribeCluster polls, then is
gone (a cluster is refused while it has node groups, deleting or not). What EKS deletes with
it (instances, interfaces, the cluster security group) goes at that removal, through the
hooks registered with `on_removed` (eks_made):

    POST /moto-api/config {"byoc": {"sweep": {"111122223333": {
        "nat_deleting_polls": 2, "nodegroup_deleting_polls": 1, "cluster_deleting_polls": 2}}}}

Without a setting deletion is immediate (moto's behaviour), with the NAT gateway's interface
and address let go likewise.

Tagging API. GetResources also lists Elastic IPs, VPC endpoints, EKS clusters and node
groups (moto leaves them out), and no longer lists NAT gateways
once `deleted` or VPC endpoints once `deleted`.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, NamedTuple

from . import control

_LOCK = threading.Lock()
# kind ("cluster" | "nodegroup") -> hooks run as hook(eks_backend, removed object)
_REMOVED: dict[str, list[Callable[[Any, Any], None]]] = {"cluster": [], "nodegroup": []}


def on_removed(kind: str, hook: Callable[[Any, Any], None]) -> None:
    """Runs `hook(eks_backend, obj)` when EKS actually removes a cluster or node group (after
    its DELETING polls), so what EKS deletes along with it goes at the same moment."""
    if hook not in _REMOVED[kind]:
        _REMOVED[kind].append(hook)


def _removed(kind: str, backend: Any, obj: Any) -> None:
    for hook in list(_REMOVED[kind]):
        hook(backend, obj)


def _polls(account_id: str, key: str) -> int:
    value = control.setting("sweep", account_id, key, 0)
    return value if isinstance(value, int) and value > 0 else 0


def _dependency(message: str) -> Exception:
    from moto.ec2.exceptions import DependencyViolationError

    return DependencyViolationError(message)


def _ec2_error(code: str, message: str) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError(code, message)


# ---------------------------------------------------------------- who depends on what


def _live_nat_gateways(backend: Any) -> list[Any]:
    return [g for g in backend.nat_gateways.values() if g.state not in ("deleted", "failed")]


def _nat_eni_ids(backend: Any) -> set[str]:
    return {g._eni.id for g in _live_nat_gateways(backend) if getattr(g, "_eni", None) is not None}


def _enis_in(backend: Any, *, vpc_id: str | None = None, subnet_id: str | None = None) -> list[Any]:
    out = []
    for eni in list(backend.enis.values()):
        subnet = getattr(eni, "subnet", None)
        if subnet is None:
            continue
        if subnet_id is not None and subnet.id != subnet_id:
            continue
        if vpc_id is not None and subnet.vpc_id != vpc_id:
            continue
        out.append(eni)
    return out


class _Balancer(NamedTuple):
    ident: str
    security_groups: list[str]
    vpc_id: str | None


def _load_balancers(account_id: str, region: str) -> list[_Balancer]:
    """Every load balancer of the account and region, v2 (by ARN) and Classic (by name)."""
    from moto.elb.models import elb_backends
    from moto.elbv2.models import elbv2_backends

    out = []
    if account_id in elbv2_backends and region in elbv2_backends[account_id]:
        out += [_Balancer(lb.arn, list(lb.security_groups or []), lb.vpc_id) for lb in list(elbv2_backends[account_id][region].load_balancers.values())]
    if account_id in elb_backends and region in elb_backends[account_id]:
        out += [_Balancer(lb.name, list(lb.security_groups or []), lb.vpc_id) for lb in list(elb_backends[account_id][region].load_balancers.values())]
    return out


def _group_references(group: Any, group_id: str) -> bool:
    for rule in list(group.ingress_rules) + list(group.egress_rules):
        source = getattr(rule, "source_group", None) or {}
        if source.get("GroupId") == group_id:
            return True
    return False


def subnet_dependents(backend: Any, subnet_id: str) -> list[str]:
    ids = [eni.id for eni in _enis_in(backend, subnet_id=subnet_id)]
    ids += [g.id for g in _live_nat_gateways(backend) if g.subnet_id == subnet_id]
    return ids


def security_group_dependents(backend: Any, group_id: str) -> list[str]:
    ids = [eni.id for eni in list(backend.enis.values()) if any(g.id == group_id for g in eni._group_set)]
    ids += [lb.ident for lb in _load_balancers(backend.account_id, backend.region_name) if group_id in lb.security_groups]
    for groups in backend.groups.values():
        ids += [g.id for g in list(groups.values()) if g.id != group_id and _group_references(g, group_id)]
    return ids


def vpc_dependents(backend: Any, vpc_id: str) -> list[str]:
    ids = [igw.id for igw in backend.internet_gateways.values() if igw.vpc is not None and igw.vpc.id == vpc_id]
    ids += [g.id for g in backend.groups.get(vpc_id, {}).values() if g.name != "default"]
    ids += [eni.id for eni in _enis_in(backend, vpc_id=vpc_id)]
    ids += [g.id for g in _live_nat_gateways(backend) if g.vpc_id == vpc_id]
    ids += [e.id for e in backend.vpc_end_points.values() if e.vpc_id == vpc_id and e.state != "deleted"]
    ids += [lb.ident for lb in _load_balancers(backend.account_id, backend.region_name) if lb.vpc_id == vpc_id]
    return ids


def mapped_addresses(backend: Any, vpc_id: str) -> list[str]:
    """Elastic IPs mapped to an interface in the VPC, and interfaces' own public addresses."""
    ips = [
        a.public_ip
        for a in backend.addresses
        if a.eni is not None and getattr(a.eni, "subnet", None) is not None and a.eni.subnet.vpc_id == vpc_id
    ]
    ips += [eni.public_ip for eni in _enis_in(backend, vpc_id=vpc_id) if getattr(eni, "public_ip", None)]
    return list(dict.fromkeys(ips))


# ---------------------------------------------------------------- NAT gateways


def _let_go(backend: Any, gateway: Any) -> None:
    """What AWS does when a NAT gateway is finally deleted: its interface goes, and with it
    the address mapping."""
    eni = getattr(gateway, "_eni", None)
    if eni is None:
        return
    for address in backend.addresses:
        if address.eni is eni:
            address.eni = None
            address.association_id = None
    backend.enis.pop(eni.id, None)
    gateway._eni = None


def nat_poll(backend: Any, gateway: Any) -> None:
    with _LOCK:
        if gateway.state != "deleting":
            return
        left = getattr(gateway, "byoc_delete_polls", 0)
        if left > 0:
            gateway.byoc_delete_polls = left - 1
            return
        gateway.state = "deleted"
        _let_go(backend, gateway)


def _primary_interfaces_go_with_their_instance() -> None:
    """An interface RunInstances creates (no NetworkInterfaceId given) is deleted when its
    instance terminates unless the request said DeleteOnTermination false (EC2 User Guide,
    "Network interface attributes": *Delete on termination* is true by default for the
    network interfaces created at launch). moto keeps it unless the request said true, which
    would hold the subnet of every terminated instance forever."""
    from moto.ec2.models import EC2Backend

    original = EC2Backend.run_instances

    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, *args, **kwargs)
        specs = {int(n.get("DeviceIndex", 0)): n for n in (kwargs.get("nics") or [])}
        for instance in reservation.instances:
            for index, eni in instance.nics.items():
                spec = specs.get(int(index), {})
                said = str(spec.get("DeleteOnTermination", "")).lower()
                if not spec.get("NetworkInterfaceId") and said != "false":
                    eni.delete_on_termination = True
        return reservation

    EC2Backend.run_instances = run_instances


def _install_ec2() -> None:
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    _primary_interfaces_go_with_their_instance()

    original_delete_subnet = EC2Backend.delete_subnet
    original_delete_group = EC2Backend.delete_security_group
    original_delete_vpc = EC2Backend.delete_vpc
    original_detach = EC2Backend.detach_internet_gateway
    original_release = EC2Backend.release_address
    original_delete_eni = EC2Backend.delete_network_interface
    original_delete_nat = EC2Backend.delete_nat_gateway
    original_describe_nat = EC2Backend.describe_nat_gateways

    def delete_subnet(self: Any, subnet_id: str) -> Any:
        if subnet_dependents(self, subnet_id):
            raise _dependency(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
        deleted = original_delete_subnet(self, subnet_id)
        # A subnet's route table association goes with it (VPC User Guide, "Subnet route
        # tables": a subnet is associated with one route table at a time; deleted, it is
        # associated with none); moto keeps it, listing an association to nothing.
        for table in self.route_tables.values():
            for association_id, target in list(table._associations.items()):
                if target == subnet_id:
                    del table._associations[association_id]
        return deleted

    def delete_security_group(self: Any, name: str | None = None, group_id: str | None = None) -> Any:
        if group_id and security_group_dependents(self, group_id):
            raise _dependency(f"resource {group_id} has a dependent object")
        return original_delete_group(self, name=name, group_id=group_id)

    def delete_vpc(self: Any, vpc_id: str) -> Any:
        if vpc_dependents(self, vpc_id):
            raise _dependency(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
        return original_delete_vpc(self, vpc_id)

    def detach_internet_gateway(self: Any, internet_gateway_id: str, vpc_id: str) -> Any:
        if mapped_addresses(self, vpc_id):
            raise _dependency(
                f"Network {vpc_id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
            )
        return original_detach(self, internet_gateway_id, vpc_id)

    def release_address(self: Any, address: str | None = None, allocation_id: str | None = None) -> Any:
        held = _nat_eni_ids(self)
        for eip in self.addresses:
            if (allocation_id and eip.allocation_id == allocation_id or address and eip.public_ip == address) and eip.eni is not None and eip.eni.id in held:
                raise _ec2_error("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
        return original_release(self, address=address, allocation_id=allocation_id)

    def delete_network_interface(self: Any, eni_id: str) -> Any:
        if eni_id in _nat_eni_ids(self):
            raise _ec2_error("InvalidNetworkInterface.InUse", f"Network interface '{eni_id}' is currently in use.")
        return original_delete_eni(self, eni_id)

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        gateway = self.nat_gateways.get(nat_gateway_id)
        if gateway is None or gateway.state in ("deleting", "deleted"):
            return original_delete_nat(self, nat_gateway_id) if gateway is None else gateway
        polls = _polls(self.account_id, "nat_deleting_polls")
        with _LOCK:
            gateway.state = "deleting"
            gateway.byoc_delete_polls = polls
        if polls == 0:
            nat_poll(self, gateway)
        return gateway

    def describe_nat_gateways(self: Any, filters: Any, nat_gateway_ids: list[str] | None) -> list[Any]:
        filters = dict(filters or {})
        # Applied after the poll, so a caller filtering on state sees the state change.
        states = filters.pop("state", None)
        gateways = original_describe_nat(self, filters, nat_gateway_ids)
        for gateway in gateways:
            nat_poll(self, gateway)
        return [g for g in gateways if states is None or g.state in states]

    status_of = NetworkInterface.__dict__.get("status")

    def eni_status(self: Any) -> str:
        backend = self.ec2_backend
        if self.id in _nat_eni_ids(backend):
            return "in-use"
        return self.__dict__.get("_byoc_status", "available")

    def set_eni_status(self: Any, value: str) -> None:
        self.__dict__["_byoc_status"] = value

    # moto stores `status` as a plain attribute; a property lets a NAT gateway's interface
    # read `in-use` while the gateway lives, as on AWS.
    if status_of is None:
        NetworkInterface.status = property(eni_status, set_eni_status)  # type: ignore[assignment]

    EC2Backend.delete_subnet = delete_subnet  # type: ignore[method-assign]
    EC2Backend.delete_security_group = delete_security_group  # type: ignore[method-assign]
    EC2Backend.delete_vpc = delete_vpc  # type: ignore[method-assign]
    EC2Backend.detach_internet_gateway = detach_internet_gateway  # type: ignore[method-assign]
    EC2Backend.release_address = release_address  # type: ignore[method-assign]
    EC2Backend.delete_network_interface = delete_network_interface  # type: ignore[method-assign]
    EC2Backend.delete_nat_gateway = delete_nat_gateway  # type: ignore[method-assign]
    EC2Backend.describe_nat_gateways = describe_nat_gateways  # type: ignore[method-assign]


# ---------------------------------------------------------------- EKS


def _not_found(message: str, **fields: Any) -> Exception:
    from moto.eks.exceptions import ResourceNotFoundException

    return ResourceNotFoundException(message=message, **fields)


def _install_eks() -> None:
    from moto.eks.models import EKSBackend, validate_safe_to_delete

    original_delete_nodegroup = EKSBackend.delete_nodegroup
    original_describe_nodegroup = EKSBackend.describe_nodegroup
    original_delete_cluster = EKSBackend.delete_cluster
    original_describe_cluster = EKSBackend.describe_cluster

    def remove_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        group = original_delete_nodegroup(self, cluster_name, nodegroup_name)
        _removed("nodegroup", self, group)
        return group

    def remove_cluster(self: Any, name: str) -> Any:
        cluster = original_delete_cluster(self, name)
        _removed("cluster", self, cluster)
        return cluster

    def finish_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> None:
        cluster = self.clusters.get(cluster_name)
        group = cluster.nodegroups.get(nodegroup_name) if cluster is not None else None
        if group is None or group.status != "DELETING":
            return
        with _LOCK:
            left = getattr(group, "byoc_delete_polls", 0)
            if left > 0:
                group.byoc_delete_polls = left - 1
                return
        remove_nodegroup(self, cluster_name, nodegroup_name)
        raise _not_found(f"No node group found for name: {nodegroup_name}.", clusterName=cluster_name, nodegroupName=nodegroup_name)

    def delete_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        polls = _polls(self.account_id, "nodegroup_deleting_polls")
        cluster = self.clusters.get(cluster_name)
        group = cluster.nodegroups.get(nodegroup_name) if cluster is not None else None
        if polls == 0 or group is None:
            return remove_nodegroup(self, cluster_name, nodegroup_name)
        with _LOCK:
            if group.status != "DELETING":
                group.status = "DELETING"
                group.byoc_delete_polls = polls
        return group

    def describe_nodegroup(self: Any, cluster_name: str, nodegroup_name: str) -> Any:
        finish_nodegroup(self, cluster_name, nodegroup_name)
        return original_describe_nodegroup(self, cluster_name, nodegroup_name)

    def delete_cluster(self: Any, name: str) -> Any:
        polls = _polls(self.account_id, "cluster_deleting_polls")
        cluster = self.clusters.get(name)
        if polls == 0 or cluster is None:
            return remove_cluster(self, name)
        validate_safe_to_delete(cluster)
        with _LOCK:
            if cluster.status != "DELETING":
                cluster.status = "DELETING"
                cluster.byoc_delete_polls = polls
        return cluster

    def describe_cluster(self: Any, name: str) -> Any:
        cluster = self.clusters.get(name)
        if cluster is not None and cluster.status == "DELETING":
            with _LOCK:
                left = getattr(cluster, "byoc_delete_polls", 0)
                if left > 0:
                    cluster.byoc_delete_polls = left - 1
                    return cluster
            remove_cluster(self, name)
        return original_describe_cluster(self, name)

    EKSBackend.delete_nodegroup = delete_nodegroup  # type: ignore[method-assign]
    EKSBackend.describe_nodegroup = describe_nodegroup  # type: ignore[method-assign]
    EKSBackend.delete_cluster = delete_cluster  # type: ignore[method-assign]
    EKSBackend.describe_cluster = describe_cluster  # type: ignore[method-assign]


# ---------------------------------------------------------------- tagging API


def extra_tagged(account_id: str, region: str) -> Iterator[Any]:
    """What moto's GetResources leaves out, as TaggedResources."""
    from moto.core.resource_tagging import TaggedResource
    from moto.ec2.models import ec2_backends
    from moto.eks.models import eks_backends

    prefix = f"arn:aws:ec2:{region}:{account_id}"
    if account_id in ec2_backends and region in ec2_backends[account_id]:
        ec2 = ec2_backends[account_id][region]
        for address in list(ec2.addresses):
            if address.allocation_id:
                tags = dict(ec2.tags.get(address.allocation_id, {}))
                yield TaggedResource(arn=f"{prefix}:elastic-ip/{address.allocation_id}", tags=tags, resource_type="ec2:elastic-ip")
        for endpoint in list(ec2.vpc_end_points.values()):
            if endpoint.state != "deleted":
                tags = dict(ec2.tags.get(endpoint.id, {}))
                yield TaggedResource(arn=f"{prefix}:vpc-endpoint/{endpoint.id}", tags=tags, resource_type="ec2:vpc-endpoint")
    if account_id in eks_backends and region in eks_backends[account_id]:
        for cluster in list(eks_backends[account_id][region].clusters.values()):
            yield TaggedResource(arn=cluster.arn, tags=dict(cluster.tags or {}), resource_type="eks:cluster")
            for group in list(cluster.nodegroups.values()):
                yield TaggedResource(arn=group.arn, tags=dict(group.tags or {}), resource_type="eks:nodegroup")


def _gone(arn: str, account_id: str, region: str) -> bool:
    """A NAT gateway or VPC endpoint that is `deleted` but still in moto's books."""
    from moto.ec2.models import ec2_backends

    if ":natgateway/" not in arn or account_id not in ec2_backends or region not in ec2_backends[account_id]:
        return False
    gateway = ec2_backends[account_id][region].nat_gateways.get(arn.rsplit("/", 1)[-1])
    return gateway is not None and gateway.state == "deleted"


def _install_tagging() -> None:
    from moto.core.resource_tagging import make_tag_matcher, match_resource_type
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend

    original = ResourceGroupsTaggingAPIBackend._get_resources_generator

    def _get_resources_generator(
        self: Any,
        tag_filters: list[dict[str, Any]] | None = None,
        resource_type_filters: list[str] | None = None,
        resource_arn_list: list[str] | None = None,
    ) -> Iterator[Any]:
        for resource in original(self, tag_filters=tag_filters, resource_type_filters=resource_type_filters, resource_arn_list=resource_arn_list):
            if not _gone(resource.arn, self.account_id, self.region_name):
                yield resource
        matcher = make_tag_matcher(tag_filters)
        for resource in extra_tagged(self.account_id, self.region_name):
            if not resource.tags or not match_resource_type(resource.resource_type, resource_type_filters):
                continue
            if matcher(resource.tags) and (not resource_arn_list or resource.arn in resource_arn_list):
                yield resource

    ResourceGroupsTaggingAPIBackend._get_resources_generator = _get_resources_generator  # type: ignore[method-assign]


def install() -> None:
    from moto.ec2.models import EC2Backend

    if getattr(EC2Backend, "_byoc_sweep_support", False):
        return
    _install_ec2()
    _install_eks()
    _install_tagging()
    EC2Backend._byoc_sweep_support = True  # type: ignore[attr-defined]
