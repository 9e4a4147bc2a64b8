"""Deleting out of order is refused as on AWS, NAT gateways and EKS deletions take polls, and
the tagging API sees every kind the sweeper deletes."""

from __future__ import annotations


import pytest
from conftest import fresh_account, refused
from conftest import steer as steer_section

INSTALL_TAG = "byoc:install-id"


def steer(stack, account: str, **settings) -> None:
    steer_section(stack, "sweep", account, **settings)


def tag(key: str, value: str, kind: str) -> list[dict]:
    return [{"ResourceType": kind, "Tags": [{"Key": key, "Value": value}]}]


class Network:
    """A VPC with an attached internet gateway, two subnets, a NAT gateway with its address,
    and two security groups, one referencing the other: the shape of an install."""

    def __init__(self, stack):
        self.account = fresh_account()
        self.ec2 = stack.client("ec2", account=self.account)
        ec2 = self.ec2
        self.vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tag(INSTALL_TAG, "inst-x", "vpc"))["Vpc"]["VpcId"]
        self.igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=self.igw, VpcId=self.vpc)
        self.public = ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        self.private = ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        self.eip = ec2.allocate_address(Domain="vpc", TagSpecifications=tag(INSTALL_TAG, "inst-x", "elastic-ip"))["AllocationId"]
        self.nat = ec2.create_nat_gateway(SubnetId=self.public, AllocationId=self.eip)["NatGateway"]["NatGatewayId"]
        self.lb_group = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=self.vpc)["GroupId"]
        self.node_group = ec2.create_security_group(GroupName="nodes", Description="nodes", VpcId=self.vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=self.node_group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": self.lb_group}]}],
        )
        self.eni = ec2.create_network_interface(SubnetId=self.private, Groups=[self.node_group])["NetworkInterface"]["NetworkInterfaceId"]

    def nat_state(self) -> str:
        return self.ec2.describe_nat_gateways(NatGatewayIds=[self.nat])["NatGateways"][0]["State"]


def test_everything_is_refused_while_its_dependents_remain_then_goes_in_order(stack):
    net = Network(stack)
    ec2 = net.ec2
    assert "dependencies" in refused(lambda: ec2.delete_vpc(VpcId=net.vpc), "DependencyViolation")
    refused(lambda: ec2.delete_subnet(SubnetId=net.private), "DependencyViolation")  # the ENI
    refused(lambda: ec2.delete_subnet(SubnetId=net.public), "DependencyViolation")  # the NAT gateway
    refused(lambda: ec2.delete_security_group(GroupId=net.node_group), "DependencyViolation")  # the ENI
    refused(lambda: ec2.delete_security_group(GroupId=net.lb_group), "DependencyViolation")  # the rule
    assert "mapped public address" in refused(lambda: ec2.detach_internet_gateway(InternetGatewayId=net.igw, VpcId=net.vpc), "DependencyViolation")
    refused(lambda: ec2.release_address(AllocationId=net.eip), "InvalidIPAddress.InUse")
    nat_eni = [e for e in ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [net.public]}])["NetworkInterfaces"]]
    assert [e["Status"] for e in nat_eni] == ["in-use"], nat_eni
    refused(lambda: ec2.delete_network_interface(NetworkInterfaceId=nat_eni[0]["NetworkInterfaceId"]), "InvalidNetworkInterface.InUse")

    # In dependency order, everything goes.
    ec2.delete_nat_gateway(NatGatewayId=net.nat)
    assert net.nat_state() == "deleted"
    ec2.release_address(AllocationId=net.eip)
    ec2.delete_network_interface(NetworkInterfaceId=net.eni)
    ec2.revoke_security_group_ingress(
        GroupId=net.node_group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": net.lb_group}]}],
    )
    ec2.delete_security_group(GroupId=net.lb_group)
    ec2.delete_security_group(GroupId=net.node_group)
    ec2.delete_subnet(SubnetId=net.public)
    ec2.delete_subnet(SubnetId=net.private)
    refused(lambda: ec2.delete_vpc(VpcId=net.vpc), "DependencyViolation")  # the gateway
    ec2.detach_internet_gateway(InternetGatewayId=net.igw, VpcId=net.vpc)
    ec2.delete_internet_gateway(InternetGatewayId=net.igw)
    ec2.delete_vpc(VpcId=net.vpc)
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [net.vpc]}])["Vpcs"] == []


def test_a_load_balancer_holds_its_group_and_its_vpc(stack):
    net = Network(stack)
    elb = stack.client("elbv2", account=net.account)
    lb = elb.create_load_balancer(Name="k8s-nlb", Subnets=[net.public], SecurityGroups=[net.lb_group], Type="network")
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    net.ec2.revoke_security_group_ingress(
        GroupId=net.node_group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": net.lb_group}]}],
    )
    refused(lambda: net.ec2.delete_security_group(GroupId=net.lb_group), "DependencyViolation")
    elb.delete_load_balancer(LoadBalancerArn=arn)
    net.ec2.delete_security_group(GroupId=net.lb_group)


def test_a_nat_gateway_is_deleting_for_the_polls_set_and_then_lets_go(stack):
    net = Network(stack)
    steer(stack, net.account, nat_deleting_polls=2)
    net.ec2.delete_nat_gateway(NatGatewayId=net.nat)
    assert [net.nat_state(), net.nat_state()] == ["deleting", "deleting"]
    refused(lambda: net.ec2.release_address(AllocationId=net.eip), "InvalidIPAddress.InUse")
    assert net.nat_state() == "deleted"
    net.ec2.release_address(AllocationId=net.eip)
    net.ec2.delete_network_interface(NetworkInterfaceId=net.eni)
    net.ec2.delete_subnet(SubnetId=net.public)


def test_eks_deletions_take_polls_and_a_cluster_waits_for_its_node_groups(stack):
    net = Network(stack)
    steer(stack, net.account, nodegroup_deleting_polls=1, cluster_deleting_polls=2)
    eks = stack.client("eks", account=net.account)
    zone_b = net.ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    zone_a = net.ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.3.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    role = f"arn:aws:iam::{net.account}:role/cluster"
    eks.create_cluster(name="byoc-x", roleArn=role, resourcesVpcConfig={"subnetIds": [zone_a, zone_b]}, tags={INSTALL_TAG: "inst-x"})
    eks.describe_cluster(name="byoc-x")  # settles it ACTIVE
    eks.create_nodegroup(clusterName="byoc-x", nodegroupName="ng", nodeRole=role, subnets=[zone_a], tags={INSTALL_TAG: "inst-x"})
    eks.describe_nodegroup(clusterName="byoc-x", nodegroupName="ng")

    eks.delete_nodegroup(clusterName="byoc-x", nodegroupName="ng")
    assert eks.describe_nodegroup(clusterName="byoc-x", nodegroupName="ng")["nodegroup"]["status"] == "DELETING"
    refused(lambda: eks.delete_cluster(name="byoc-x"), "ResourceInUseException")
    refused(lambda: eks.describe_nodegroup(clusterName="byoc-x", nodegroupName="ng"), "ResourceNotFoundException")
    eks.delete_cluster(name="byoc-x")
    assert [eks.describe_cluster(name="byoc-x")["cluster"]["status"] for _ in range(2)] == ["DELETING", "DELETING"]
    refused(lambda: eks.describe_cluster(name="byoc-x"), "ResourceNotFoundException")


def test_the_tagging_api_lists_addresses_clusters_node_groups_and_log_groups(stack):
    net = Network(stack)
    eks = stack.client("eks", account=net.account)
    logs = stack.client("logs", account=net.account)
    tagging = stack.client("resourcegroupstaggingapi", account=net.account)
    zone_b = net.ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    zone_a = net.ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.3.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    role = f"arn:aws:iam::{net.account}:role/cluster"
    eks.create_cluster(name="byoc-x", roleArn=role, resourcesVpcConfig={"subnetIds": [zone_a, zone_b]}, tags={INSTALL_TAG: "inst-x"})
    eks.describe_cluster(name="byoc-x")  # settles it ACTIVE
    eks.create_nodegroup(clusterName="byoc-x", nodegroupName="ng", nodeRole=role, subnets=[zone_a], tags={INSTALL_TAG: "inst-x"})
    logs.create_log_group(logGroupName="/aws/eks/byoc-x/cluster", tags={INSTALL_TAG: "inst-x"})
    net.ec2.create_tags(Resources=[net.nat], Tags=[{"Key": INSTALL_TAG, "Value": "inst-x"}])

    def listed() -> list[str]:
        found = tagging.get_resources(TagFilters=[{"Key": INSTALL_TAG, "Values": ["inst-x"]}])["ResourceTagMappingList"]
        return sorted(r["ResourceARN"].split(":", 5)[5].split("/")[0].split(":")[0] for r in found)

    assert listed() == ["cluster", "elastic-ip", "log-group", "natgateway", "nodegroup", "vpc"]
    net.ec2.delete_nat_gateway(NatGatewayId=net.nat)
    net.nat_state()
    assert "natgateway" not in listed(), "a deleted NAT gateway is no longer listed"


def test_a_deleted_subnet_takes_its_route_table_association_with_it(stack):
    ec2 = stack.client("ec2", account=fresh_account())
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    ec2.delete_subnet(SubnetId=subnet)
    listed = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Associations"]
    assert [a for a in listed if a.get("RouteTableAssociationId") == association] == []
    ec2.delete_route_table(RouteTableId=table)
