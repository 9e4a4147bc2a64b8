"""What EKS and Elastic Load Balancing make by themselves exists and holds the network as on
AWS: the cluster security group, the cluster's and load balancers' requester-managed
interfaces, a node group's instances; and it goes when its owner is finally removed."""

from __future__ import annotations

import re

import botocore.exceptions
import pytest
from conftest import fresh_account, steer, refused

ROLE = "arn:aws:iam::{account}:role/byoc/cluster"
SG_DESCRIPTION = "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads."


class Customer:
    """A fresh account: a VPC with an internet gateway, five subnets over five zones and a
    security group of the customer's own."""

    def __init__(self, stack):
        self.account = fresh_account()
        self.ec2 = stack.client("ec2", account=self.account)
        self.eks = stack.client("eks", account=self.account)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        self.igw = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=self.igw, VpcId=self.vpc)
        self.subnets = [
            self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
            for i, zone in enumerate("abcde")
        ]
        self.group = self.ec2.create_security_group(GroupName="extra", Description="extra", VpcId=self.vpc)["GroupId"]
        self.role = ROLE.format(account=self.account)

    def cluster(self, name: str = "c1", subnets: list[str] | None = None) -> dict:
        config = {"subnetIds": subnets or self.subnets[:2], "securityGroupIds": [self.group]}
        self.eks.create_cluster(name=name, roleArn=self.role, resourcesVpcConfig=config)
        return self.eks.describe_cluster(name=name)["cluster"]  # settles it ACTIVE

    def interfaces(self, description: str) -> list[dict]:
        return self.ec2.describe_network_interfaces(Filters=[{"Name": "description", "Values": [description]}])["NetworkInterfaces"]

    def instances(self, **tags) -> list[dict]:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        return [i for r in self.ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]

    def teardown_network(self) -> None:
        """Everything the customer made goes, in dependency order (AWS refuses otherwise)."""
        for subnet in self.subnets:
            self.ec2.delete_subnet(SubnetId=subnet)
        self.ec2.delete_security_group(GroupId=self.group)
        self.ec2.detach_internet_gateway(InternetGatewayId=self.igw, VpcId=self.vpc)
        self.ec2.delete_vpc(VpcId=self.vpc)


def test_create_cluster_makes_its_security_group_and_requester_managed_interfaces(stack):
    customer = Customer(stack)
    cluster = customer.cluster(subnets=customer.subnets)  # five subnets: four interfaces
    group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    group = customer.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert re.fullmatch(r"eks-cluster-sg-c1-\d{10}", group["GroupName"]), group["GroupName"]
    assert (group["Description"], group["VpcId"]) == (SG_DESCRIPTION, customer.vpc)
    assert {t["Key"]: t["Value"] for t in group["Tags"]} == {"Name": group["GroupName"], "aws:eks:cluster-name": "c1", "kubernetes.io/cluster/c1": "owned"}
    assert [(p["IpProtocol"], [g["GroupId"] for g in p["UserIdGroupPairs"]]) for p in group["IpPermissions"]] == [("-1", [group_id])]
    egress = group["IpPermissionsEgress"]
    assert {r["CidrIp"] for p in egress for r in p["IpRanges"]} == {"0.0.0.0/0"}
    assert {g["GroupId"] for p in egress for g in p["UserIdGroupPairs"]} == {group_id}

    interfaces = customer.interfaces("Amazon EKS c1")
    assert sorted(e["SubnetId"] for e in interfaces) == sorted(customer.subnets[:4])
    for eni in interfaces:
        assert eni["RequesterManaged"] is True and eni["RequesterId"] != customer.account, eni
        assert eni["Status"] == "in-use" and eni["Attachment"]["Status"] == "attached", eni
        assert {g["GroupId"] for g in eni["Groups"]} == {group_id, customer.group}
    managed = customer.ec2.describe_network_interfaces(Filters=[{"Name": "requester-managed", "Values": ["true"]}])["NetworkInterfaces"]
    assert sorted(e["NetworkInterfaceId"] for e in managed) == sorted(e["NetworkInterfaceId"] for e in interfaces)


def test_a_cluster_security_group_that_does_not_exist_is_refused(stack):
    customer = Customer(stack)
    config = {"subnetIds": customer.subnets[:2], "securityGroupIds": ["sg-0123456789abcdef0"]}
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        customer.eks.create_cluster(name="c1", roleArn=customer.role, resourcesVpcConfig=config)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert customer.eks.list_clusters()["clusters"] == []
    assert customer.interfaces("Amazon EKS c1") == []


def test_the_customer_cannot_take_away_what_the_cluster_holds(stack):
    customer = Customer(stack)
    cluster = customer.cluster()
    group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
    eni = customer.interfaces("Amazon EKS c1")[0]
    message = refused(lambda: customer.ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"]), "InvalidParameterValue")
    assert message == f"Network interface '{eni['NetworkInterfaceId']}' is currently in use."
    attachment = eni["Attachment"]["AttachmentId"]
    assert refused(lambda: customer.ec2.detach_network_interface(AttachmentId=attachment), "OperationNotPermitted") == "You are not allowed to manage 'ela-attach' attachments."
    refused(lambda: customer.ec2.delete_security_group(GroupId=group_id), "DependencyViolation")
    refused(lambda: customer.ec2.delete_security_group(GroupId=customer.group), "DependencyViolation")
    refused(lambda: customer.ec2.delete_subnet(SubnetId=eni["SubnetId"]), "DependencyViolation")
    assert len(customer.interfaces("Amazon EKS c1")) == 2


def test_the_cluster_removal_takes_its_interfaces_and_group_after_the_deleting_polls(stack):
    customer = Customer(stack)
    steer(stack, "sweep", customer.account, cluster_deleting_polls=2)
    group_id = customer.cluster()["resourcesVpcConfig"]["clusterSecurityGroupId"]
    customer.eks.delete_cluster(name="c1")
    for _ in range(2):
        assert customer.eks.describe_cluster(name="c1")["cluster"]["status"] == "DELETING"
        assert len(customer.interfaces("Amazon EKS c1")) == 2
        refused(lambda: customer.ec2.delete_subnet(SubnetId=customer.subnets[0]), "DependencyViolation")
    refused(lambda: customer.eks.describe_cluster(name="c1"), "ResourceNotFoundException")
    assert customer.interfaces("Amazon EKS c1") == []
    refused(lambda: customer.ec2.describe_security_groups(GroupIds=[group_id]), "InvalidGroup.NotFound")
    customer.teardown_network()


def test_a_cluster_security_group_still_referenced_is_left_behind(stack):
    customer = Customer(stack)
    group_id = customer.cluster()["resourcesVpcConfig"]["clusterSecurityGroupId"]
    rule = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": group_id}]}]
    customer.ec2.authorize_security_group_ingress(GroupId=customer.group, IpPermissions=rule)
    customer.eks.delete_cluster(name="c1")
    left = customer.ec2.describe_security_groups(Filters=[{"Name": "tag:kubernetes.io/cluster/c1", "Values": ["owned"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in left] == [group_id]
    customer.ec2.revoke_security_group_ingress(GroupId=customer.group, IpPermissions=rule)
    customer.ec2.delete_security_group(GroupId=group_id)
    customer.teardown_network()


def test_a_node_group_runs_its_desired_instances_in_the_cluster_group(stack):
    customer = Customer(stack)
    group_id = customer.cluster()["resourcesVpcConfig"]["clusterSecurityGroupId"]
    subnets = customer.subnets[2:4]
    created = customer.eks.create_nodegroup(
        clusterName="c1", nodegroupName="ng", nodeRole=customer.role, subnets=subnets, instanceTypes=["m6i.large"],
        amiType="AL2023_x86_64_STANDARD", scalingConfig={"minSize": 1, "desiredSize": 3, "maxSize": 4},
    )["nodegroup"]
    asg = created["resources"]["autoScalingGroups"][0]["name"]
    assert asg == f"eks-ng-{created['nodegroupArn'].rsplit('/', 1)[-1]}"
    assert "remoteAccess" not in created and "remoteAccessSecurityGroup" not in created["resources"]
    nodes = customer.instances(**{"eks:nodegroup-name": "ng"})
    assert len(nodes) == 3
    assert sorted(n["SubnetId"] for n in nodes) == sorted([subnets[0], subnets[1], subnets[0]])
    for node in nodes:
        assert (node["InstanceType"], node["State"]["Name"], node["VpcId"]) == ("m6i.large", "running", customer.vpc)
        assert "InstanceLifecycle" not in node, "On-Demand"
        assert [g["GroupId"] for g in node["SecurityGroups"]] == [group_id]
        tags = {t["Key"]: t["Value"] for t in node["Tags"]}
        assert tags == {"eks:cluster-name": "c1", "eks:nodegroup-name": "ng", "kubernetes.io/cluster/c1": "owned", "aws:autoscaling:groupName": asg}
        options = node["MetadataOptions"]
        assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 1)
        assert [i["SubnetId"] for i in node["NetworkInterfaces"]] == [node["SubnetId"]]
        assert node["NetworkInterfaces"][0]["Attachment"]["DeleteOnTermination"] is True
    refused(lambda: customer.ec2.delete_security_group(GroupId=group_id), "DependencyViolation")


def test_a_node_group_without_sizes_or_types_gets_the_eks_defaults(stack):
    customer = Customer(stack)
    customer.cluster()
    created = customer.eks.create_nodegroup(clusterName="c1", nodegroupName="ng", nodeRole=customer.role, subnets=customer.subnets[:2])["nodegroup"]
    assert created["amiType"] == "AL2023_x86_64_STANDARD"
    nodes = customer.instances(**{"eks:nodegroup-name": "ng"})
    assert [n["InstanceType"] for n in nodes] == ["t3.medium", "t3.medium"]
    spot = customer.eks.create_nodegroup(clusterName="c1", nodegroupName="spot", nodeRole=customer.role, subnets=customer.subnets[:1], capacityType="SPOT", amiType="AL2_x86_64")
    assert spot["nodegroup"]["capacityType"] == "SPOT"
    spot_nodes = customer.instances(**{"eks:nodegroup-name": "spot"})
    assert [n.get("InstanceLifecycle") for n in spot_nodes] == ["spot", "spot"]
    assert all(n["MetadataOptions"]["HttpTokens"] != "required" for n in spot_nodes), "IMDSv2-only is AL2023's default"


def test_removing_the_node_group_terminates_its_instances_and_frees_the_network(stack):
    customer = Customer(stack)
    steer(stack, "sweep", customer.account, nodegroup_deleting_polls=1)
    customer.cluster()
    customer.eks.create_nodegroup(clusterName="c1", nodegroupName="ng", nodeRole=customer.role, subnets=customer.subnets[2:4])
    nodes = customer.instances(**{"eks:nodegroup-name": "ng"})
    node_enis = [i["NetworkInterfaceId"] for n in nodes for i in n["NetworkInterfaces"]]
    refused(lambda: customer.ec2.delete_subnet(SubnetId=customer.subnets[2]), "DependencyViolation")
    customer.eks.delete_nodegroup(clusterName="c1", nodegroupName="ng")
    assert customer.eks.describe_nodegroup(clusterName="c1", nodegroupName="ng")["nodegroup"]["status"] == "DELETING"
    assert {n["State"]["Name"] for n in customer.instances(**{"eks:nodegroup-name": "ng"})} == {"running"}
    refused(lambda: customer.eks.describe_nodegroup(clusterName="c1", nodegroupName="ng"), "ResourceNotFoundException")
    assert {n["State"]["Name"] for n in customer.instances(**{"eks:nodegroup-name": "ng"})} == {"terminated"}
    remaining = customer.ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [customer.vpc]}])["NetworkInterfaces"]
    assert not set(node_enis) & {e["NetworkInterfaceId"] for e in remaining}
    customer.eks.delete_cluster(name="c1")
    customer.teardown_network()


def test_a_classic_load_balancer_holds_an_interface_per_subnet_until_deleted(stack):
    customer = Customer(stack)
    elb = stack.client("elb", account=customer.account)
    subnets = customer.subnets[:2]
    elb.create_load_balancer(
        LoadBalancerName="a0123456789abcdef", Subnets=subnets, SecurityGroups=[customer.group],
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": 30080}],
    )
    interfaces = customer.interfaces("ELB a0123456789abcdef")
    assert sorted(e["SubnetId"] for e in interfaces) == sorted(subnets)
    for eni in interfaces:
        assert (eni["RequesterManaged"], eni["RequesterId"], eni["Status"]) == (True, "amazon-elb", "in-use")
        assert [g["GroupId"] for g in eni["Groups"]] == [customer.group]
        assert eni["Association"]["PublicIp"], "internet-facing"
    refused(lambda: customer.ec2.delete_network_interface(NetworkInterfaceId=interfaces[0]["NetworkInterfaceId"]), "InvalidParameterValue")
    refused(lambda: customer.ec2.delete_subnet(SubnetId=subnets[0]), "DependencyViolation")
    refused(lambda: customer.ec2.delete_security_group(GroupId=customer.group), "DependencyViolation")
    message = refused(lambda: customer.ec2.detach_internet_gateway(InternetGatewayId=customer.igw, VpcId=customer.vpc), "DependencyViolation")
    assert "mapped public address" in message
    elb.delete_load_balancer(LoadBalancerName="a0123456789abcdef")
    assert customer.interfaces("ELB a0123456789abcdef") == []
    customer.teardown_network()


def test_v2_load_balancers_hold_interfaces_named_by_type_until_deleted(stack):
    customer = Customer(stack)
    elbv2 = stack.client("elbv2", account=customer.account)
    nlb = elbv2.create_load_balancer(Name="k8s-nlb", Subnets=customer.subnets[:2], Type="network", Scheme="internal")["LoadBalancers"][0]
    alb = elbv2.create_load_balancer(Name="k8s-alb", Subnets=customer.subnets[2:4], SecurityGroups=[customer.group], Type="application")["LoadBalancers"][0]
    nlb_enis = customer.interfaces(f"ELB net/k8s-nlb/{nlb['LoadBalancerArn'].rsplit('/', 1)[-1]}")
    alb_enis = customer.interfaces(f"ELB app/k8s-alb/{alb['LoadBalancerArn'].rsplit('/', 1)[-1]}")
    assert sorted(e["SubnetId"] for e in nlb_enis) == sorted(customer.subnets[:2])
    assert {(e["InterfaceType"], len(e["Groups"]), "Association" in e) for e in nlb_enis} == {("network_load_balancer", 0, False)}
    assert {(e["InterfaceType"], e["Groups"][0]["GroupId"]) for e in alb_enis} == {("interface", customer.group)}
    refused(lambda: customer.ec2.delete_subnet(SubnetId=customer.subnets[0]), "DependencyViolation")
    elbv2.delete_load_balancer(LoadBalancerArn=nlb["LoadBalancerArn"])
    elbv2.delete_load_balancer(LoadBalancerArn=alb["LoadBalancerArn"])
    assert customer.ec2.describe_network_interfaces(Filters=[{"Name": "requester-id", "Values": ["amazon-elb"]}])["NetworkInterfaces"] == []
    customer.teardown_network()
