"""EKS on the emulator behaves as the installer meets it on AWS: clusters and node groups stay
CREATING for the polls a test sets (or fail with a health issue), add-ons, access entries and
the version catalogues exist, and CreateCluster records what it was asked for."""

from __future__ import annotations

import json
import random
import urllib.request
import uuid

import botocore.exceptions
import pytest
from conftest import VENDOR_ACCOUNT

ROLE = "arn:aws:iam::{account}:role/byoc/cluster"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
DEPLOYER = f"arn:aws:iam::{VENDOR_ACCOUNT}:role/vendor-deploy"
# The calendar follows the clock (eks_catalogue): on this day 1.32-1.34 are in standard
# support, 1.31 in extended support, 1.33 is the default and 1.35 is not out yet.
AUTUMN_2025 = "2025-12-01T00:00:00Z"


def fresh_account() -> str:
    return str(random.randint(200_000_000_000, 899_999_999_999))


def steer(stack, account: str, **settings) -> None:
    body = json.dumps({"byoc": {"eks": {account: settings}}}).encode()
    request = urllib.request.Request(
        f"{stack.endpoint}/moto-api/config", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]


class Customer:
    """A fresh account with a VPC and subnets in two zones."""

    def __init__(self, stack, **settings):
        self.account = fresh_account()
        if settings:
            steer(stack, self.account, **settings)
        self.eks = stack.client("eks", account=self.account)
        ec2 = stack.client("ec2", account=self.account)
        self.vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            for i, zone in enumerate(["us-east-1a", "us-east-1b"])
        ]
        self.role = ROLE.format(account=self.account)

    def create_cluster(self, name: str = "c1", **kwargs) -> dict:
        spec = dict(name=name, roleArn=self.role, resourcesVpcConfig={"subnetIds": self.subnets})
        spec.update(kwargs)
        return self.eks.create_cluster(**spec)["cluster"]

    def active_cluster(self, name: str = "c1", **kwargs) -> dict:
        self.create_cluster(name, **kwargs)
        return self.eks.describe_cluster(name=name)["cluster"]


def test_a_cluster_stays_creating_for_the_polls_set_then_becomes_active(stack):
    customer = Customer(stack, cluster_creating_polls=2)
    created = customer.create_cluster(version="1.33")
    assert created["status"] == "CREATING"
    seen = [customer.eks.describe_cluster(name="c1")["cluster"]["status"] for _ in range(3)]
    assert seen == ["CREATING", "CREATING", "ACTIVE"]
    # A node group cannot start on a cluster that is not ACTIVE yet; here it can.
    customer.eks.create_nodegroup(clusterName="c1", nodegroupName="n", nodeRole=customer.role, subnets=customer.subnets)


def test_without_a_setting_the_first_poll_sees_the_cluster_active(stack):
    customer = Customer(stack)
    assert customer.create_cluster()["status"] == "CREATING"
    assert customer.eks.describe_cluster(name="c1")["cluster"]["status"] == "ACTIVE"


def test_a_node_group_waits_for_an_active_cluster(stack):
    customer = Customer(stack, cluster_creating_polls=1)
    customer.create_cluster()
    error = error_of(customer.eks.create_nodegroup, clusterName="c1", nodegroupName="n", nodeRole=customer.role, subnets=customer.subnets)
    assert (error["Code"], error["Message"]) == ("InvalidRequestException", "Cluster 'c1' is not in ACTIVE status")


def test_a_failed_cluster_carries_its_health_issue(stack):
    message = "The cluster role could not be assumed by EKS."
    customer = Customer(stack, cluster_fail=message, cluster_fail_code="IamRoleNotFound")
    customer.create_cluster()
    cluster = customer.eks.describe_cluster(name="c1")["cluster"]
    assert cluster["status"] == "FAILED"
    assert cluster["health"]["issues"] == [{"code": "IamRoleNotFound", "message": message, "resourceIds": []}]


def test_create_cluster_records_what_it_was_asked_for(stack):
    customer = Customer(stack)
    key = f"arn:aws:kms:us-east-1:{customer.account}:key/{uuid.uuid4()}"
    customer.create_cluster(
        version="1.32",
        resourcesVpcConfig={"subnetIds": customer.subnets, "endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
        logging={"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": True}]},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key}}],
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        tags={"byoc:install-id": "inst-1"},
    )
    cluster = customer.eks.describe_cluster(name="c1")["cluster"]
    assert cluster["version"] == "1.32"
    vpc = cluster["resourcesVpcConfig"]
    assert (vpc["vpcId"], vpc["subnetIds"], vpc["publicAccessCidrs"]) == (customer.vpc, customer.subnets, ["203.0.113.0/24"])
    assert vpc["endpointPrivateAccess"] and vpc["endpointPublicAccess"] and vpc["clusterSecurityGroupId"].startswith("sg-")
    assert cluster["logging"]["clusterLogging"] == [{"types": ["api", "audit", "authenticator"], "enabled": True}]
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": key}}]
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert cluster["tags"] == {"byoc:install-id": "inst-1"}
    assert customer.eks.list_access_entries(clusterName="c1")["accessEntries"] == []


def test_create_cluster_defaults_and_refusals_are_those_of_eks(stack):
    customer = Customer(stack, now=AUTUMN_2025)
    cluster = customer.create_cluster()
    assert cluster["version"] == "1.33", "the catalogue's default version"
    assert cluster["accessConfig"] == {"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True}
    assert cluster["resourcesVpcConfig"]["publicAccessCidrs"] == ["0.0.0.0/0"]
    error = error_of(customer.create_cluster, "old", version="1.24")
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", "unsupported Kubernetes version 1.24")
    error = error_of(customer.create_cluster, "one-zone", resourcesVpcConfig={"subnetIds": customer.subnets[:1]})
    assert error["Message"] == "Subnets specified must be in at least two different AZs"
    error = error_of(customer.create_cluster, "ghost", resourcesVpcConfig={"subnetIds": ["subnet-00000000000000000", customer.subnets[0]]})
    assert "subnet-00000000000000000" in error["Message"]
    assert error_of(customer.create_cluster)["Code"] == "ResourceInUseException"


def test_a_node_group_stays_creating_then_becomes_active_with_the_cluster_version(stack):
    customer = Customer(stack, nodegroup_creating_polls=1)
    customer.active_cluster(version="1.34")
    created = customer.eks.create_nodegroup(
        clusterName="c1", nodegroupName="n", nodeRole=customer.role, subnets=customer.subnets, amiType="AL2023_ARM_64_STANDARD", instanceTypes=["m7g.large"]
    )["nodegroup"]
    assert (created["status"], created["version"]) == ("CREATING", "1.34")
    seen = [customer.eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"] for _ in range(2)]
    assert [n["status"] for n in seen] == ["CREATING", "ACTIVE"]
    assert (seen[1]["amiType"], seen[1]["instanceTypes"], seen[1]["health"]) == ("AL2023_ARM_64_STANDARD", ["m7g.large"], {"issues": []})


@pytest.mark.parametrize("status", ["CREATE_FAILED", "DEGRADED"])
def test_a_node_group_can_be_made_to_fail_with_a_health_issue(stack, status):
    message = "Instances failed to join the kubernetes cluster"
    customer = Customer(stack, nodegroup_fail=message, nodegroup_fail_status=status)
    customer.active_cluster()
    customer.eks.create_nodegroup(clusterName="c1", nodegroupName="n", nodeRole=customer.role, subnets=customer.subnets)
    nodegroup = customer.eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]
    assert nodegroup["status"] == status
    [issue] = nodegroup["health"]["issues"]
    assert (issue["code"], issue["message"]) == ("NodeCreationFailure", message)
    assert issue["resourceIds"][0].startswith("eks-")


def test_cluster_versions_catalogue(stack):
    eks = Customer(stack, now=AUTUMN_2025).eks
    versions = eks.describe_cluster_versions()["clusterVersions"]
    by_version = {v["clusterVersion"]: v for v in versions}
    assert sorted(by_version) == ["1.31", "1.32", "1.33", "1.34"]
    assert by_version["1.34"]["versionStatus"] == "STANDARD_SUPPORT"
    assert by_version["1.31"]["versionStatus"] == "EXTENDED_SUPPORT"
    assert [v["clusterVersion"] for v in versions if v["defaultVersion"]] == ["1.33"]
    assert by_version["1.33"]["endOfStandardSupportDate"] < by_version["1.33"]["endOfExtendedSupportDate"]
    assert [v["clusterVersion"] for v in eks.describe_cluster_versions(defaultOnly=True)["clusterVersions"]] == ["1.33"]
    assert [v["clusterVersion"] for v in eks.describe_cluster_versions(clusterVersions=["1.32", "1.34"])["clusterVersions"]] == ["1.34", "1.32"]
    standard = eks.describe_cluster_versions(versionStatus="STANDARD_SUPPORT")["clusterVersions"]
    assert sorted(v["clusterVersion"] for v in standard) == ["1.32", "1.33", "1.34"]


def test_addon_versions_are_filtered_by_kubernetes_version(stack):
    eks = Customer(stack).eks
    [coredns] = eks.describe_addon_versions(addonName="coredns", kubernetesVersion="1.33")["addons"]
    assert coredns["addonName"] == "coredns" and coredns["owner"] == "aws"
    assert [(v["addonVersion"], v["compatibilities"][0]["defaultVersion"]) for v in coredns["addonVersions"]] == [("v1.12.1-eksbuild.2", True)]
    everything = eks.describe_addon_versions(kubernetesVersion="1.34")["addons"]
    assert {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"} <= {a["addonName"] for a in everything}
    [kube_proxy] = eks.describe_addon_versions(addonName="kube-proxy")["addons"]
    assert len(kube_proxy["addonVersions"]) == 6, "without a version, every version"


def test_addons_are_created_at_the_default_or_requested_version_and_settle(stack):
    customer = Customer(stack, addon_creating_polls=1)
    customer.active_cluster(version="1.33")
    eks = customer.eks
    created = eks.create_addon(clusterName="c1", addonName="vpc-cni", resolveConflicts="OVERWRITE", tags={"k": "v"}, clientRequestToken="t1")["addon"]
    assert (created["status"], created["addonVersion"]) == ("CREATING", "v1.20.4-eksbuild.2")
    assert created["addonArn"].startswith(f"arn:aws:eks:us-east-1:{customer.account}:addon/c1/vpc-cni/")
    eks.create_addon(clusterName="c1", addonName="coredns", addonVersion="v1.12.1-eksbuild.2")
    assert [eks.describe_addon(clusterName="c1", addonName="vpc-cni")["addon"]["status"] for _ in range(2)] == ["CREATING", "ACTIVE"]
    assert eks.list_addons(clusterName="c1")["addons"] == ["coredns", "vpc-cni"]
    assert error_of(eks.create_addon, clusterName="c1", addonName="vpc-cni")["Code"] == "ResourceInUseException"
    assert error_of(eks.create_addon, clusterName="c1", addonName="kube-proxy", addonVersion="v1.34.0-eksbuild.2")["Code"] == "InvalidParameterException"
    assert error_of(eks.create_addon, clusterName="c1", addonName="no-such-addon")["Code"] == "InvalidParameterException"
    assert eks.delete_addon(clusterName="c1", addonName="coredns")["addon"]["status"] == "DELETING"
    assert error_of(eks.describe_addon, clusterName="c1", addonName="coredns")["Code"] == "ResourceNotFoundException"
    assert error_of(eks.create_addon, clusterName="missing", addonName="vpc-cni")["Code"] == "ResourceNotFoundException"


def test_addons_wait_for_an_active_cluster(stack):
    customer = Customer(stack, cluster_creating_polls=5)
    customer.create_cluster()
    assert error_of(customer.eks.create_addon, clusterName="c1", addonName="vpc-cni")["Code"] == "InvalidRequestException"


def _ensure_deployer(stack) -> None:
    iam = stack.client("iam", account=VENDOR_ACCOUNT)
    try:
        iam.create_role(RoleName="vendor-deploy", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass


def test_an_access_entry_needs_a_principal_that_exists(stack):
    customer = Customer(stack)
    customer.active_cluster(accessConfig={"authenticationMode": "API"})
    missing = f"arn:aws:iam::{VENDOR_ACCOUNT}:role/never-created"
    error = error_of(customer.eks.create_access_entry, clusterName="c1", principalArn=missing)
    assert error["Code"] == "InvalidParameterException" and "does not exist" in error["Message"]


def test_eks_makes_the_node_roles_entry_and_the_log_group_itself(stack):
    customer = Customer(stack)
    logging = {"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]}
    customer.active_cluster(accessConfig={"authenticationMode": "API"}, logging=logging)
    groups = stack.client("logs", account=customer.account).describe_log_groups(logGroupNamePrefix="/aws/eks/c1/")["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [("/aws/eks/c1/cluster", None)]
    node_role = f"arn:aws:iam::{customer.account}:role/nodes"
    stack.client("iam", account=customer.account).create_role(RoleName="nodes", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    customer.eks.create_nodegroup(clusterName="c1", nodegroupName="ng", nodeRole=node_role, subnets=customer.subnets)
    entry = customer.eks.describe_access_entry(clusterName="c1", principalArn=node_role)["accessEntry"]
    assert (entry["type"], entry["tags"]) == ("EC2_LINUX", {})
    customer.eks.delete_nodegroup(clusterName="c1", nodegroupName="ng")
    customer.eks.delete_cluster(name="c1")
    groups = stack.client("logs", account=customer.account).describe_log_groups(logGroupNamePrefix="/aws/eks/c1/")["logGroups"]
    assert len(groups) == 1, "the log group outlives the cluster, as on AWS"


def test_access_entries_and_policies(stack):
    _ensure_deployer(stack)
    customer = Customer(stack)
    customer.active_cluster(accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    eks = customer.eks
    entry = eks.create_access_entry(clusterName="c1", principalArn=DEPLOYER, tags={"k": "v"})["accessEntry"]
    assert (entry["principalArn"], entry["type"], entry["tags"]) == (DEPLOYER, "STANDARD", {"k": "v"})
    assert entry["username"] == f"arn:aws:sts::{VENDOR_ACCOUNT}:assumed-role/vendor-deploy/{{{{SessionName}}}}"
    assert entry["accessEntryArn"].startswith(f"arn:aws:eks:us-east-1:{customer.account}:access-entry/c1/role/{VENDOR_ACCOUNT}/vendor-deploy/")
    assert error_of(eks.create_access_entry, clusterName="c1", principalArn=DEPLOYER)["Code"] == "ResourceInUseException"
    assert eks.describe_access_entry(clusterName="c1", principalArn=DEPLOYER)["accessEntry"]["accessEntryArn"] == entry["accessEntryArn"]
    assert eks.list_access_entries(clusterName="c1")["accessEntries"] == [DEPLOYER]

    for _ in range(2):  # associating twice is not an error on AWS
        associated = eks.associate_access_policy(clusterName="c1", principalArn=DEPLOYER, policyArn=ADMIN, accessScope={"type": "cluster"})
    assert associated["associatedAccessPolicy"]["policyArn"] == ADMIN
    policies = eks.list_associated_access_policies(clusterName="c1", principalArn=DEPLOYER)["associatedAccessPolicies"]
    assert [(p["policyArn"], p["accessScope"]) for p in policies] == [(ADMIN, {"type": "cluster"})]
    assert eks.list_access_entries(clusterName="c1", associatedPolicyArn=ADMIN)["accessEntries"] == [DEPLOYER]
    bad_policy = "arn:aws:eks::aws:cluster-access-policy/Nope"
    assert error_of(eks.associate_access_policy, clusterName="c1", principalArn=DEPLOYER, policyArn=bad_policy, accessScope={"type": "cluster"})["Code"] == "InvalidParameterException"

    # Another account's principal is fine for STANDARD entries only, as on AWS.
    node_entry = error_of(eks.create_access_entry, clusterName="c1", principalArn=f"arn:aws:iam::{VENDOR_ACCOUNT}:role/nodes", type="EC2_LINUX")
    assert node_entry["Code"] == "InvalidParameterException"

    eks.delete_access_entry(clusterName="c1", principalArn=DEPLOYER)
    assert error_of(eks.describe_access_entry, clusterName="c1", principalArn=DEPLOYER)["Code"] == "ResourceNotFoundException"


def test_access_entries_need_api_authentication_mode(stack):
    customer = Customer(stack)
    customer.active_cluster()  # CONFIG_MAP, the API's default
    error = error_of(customer.eks.create_access_entry, clusterName="c1", principalArn=DEPLOYER)
    assert error["Code"] == "InvalidRequestException"
    assert "authentication mode must be set to one of [API, API_AND_CONFIG_MAP]" in error["Message"]


def test_the_cluster_creator_is_made_admin_by_default(stack):
    customer = Customer(stack)
    customer.active_cluster(accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    [creator] = customer.eks.list_access_entries(clusterName="c1")["accessEntries"]
    policies = customer.eks.list_associated_access_policies(clusterName="c1", principalArn=creator)["associatedAccessPolicies"]
    assert [p["policyArn"] for p in policies] == [ADMIN]


def test_addon_configuration_values_are_kept_and_checked_as_eks_does(stack):
    customer = Customer(stack)
    customer.active_cluster(version="1.33")
    eks = customer.eks
    config = '{"controller":{"extraVolumeTags":{"byoc:install-id":"inst-1","byoc:tenant-id":"acme"}}}'
    created = eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", configurationValues=config)["addon"]
    assert created["configurationValues"] == config
    assert eks.describe_addon(clusterName="c1", addonName="aws-ebs-csi-driver")["addon"]["configurationValues"] == config, "verbatim"
    yaml_config = "replicaCount: 1\n"
    assert eks.create_addon(clusterName="c1", addonName="coredns", configurationValues=yaml_config)["addon"]["configurationValues"] == yaml_config
    assert "configurationValues" not in eks.create_addon(clusterName="c1", addonName="vpc-cni")["addon"], "none given, none shown"

    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    for bad in ['{"controller": ', '["not", "an", "object"]', '{"controller":{"extraVolumeTags":{"count": 3}}}', '{"controller":{"extraVolumeTags":"a=b"}}']:
        error = error_of(eks.create_addon, clusterName="c1", addonName="aws-ebs-csi-driver", configurationValues=bad)
        assert error["Code"] == "InvalidParameterException", bad
        assert error["Message"].startswith("ConfigurationValue provided in request is not supported"), error
    assert error_of(eks.describe_addon, clusterName="c1", addonName="aws-ebs-csi-driver")["Code"] == "ResourceNotFoundException", "nothing half-made"


def test_a_cluster_enters_extended_support_unless_its_upgrade_policy_says_standard(stack):
    """API reference UpgradePolicyRequest: the default is EXTENDED; STANDARD is refused for a
    version already in extended support (disable-extended-support.html, stricter model)."""
    customer = Customer(stack, now=AUTUMN_2025)
    assert customer.active_cluster("dflt", version="1.33")["upgradePolicy"] == {"supportType": "EXTENDED"}
    chosen = customer.active_cluster("std", version="1.33", upgradePolicy={"supportType": "STANDARD"})
    assert chosen["upgradePolicy"] == {"supportType": "STANDARD"}
    error = error_of(customer.create_cluster, "old", version="1.31", upgradePolicy={"supportType": "STANDARD"})
    assert error["Code"] == "InvalidRequestException" and "extended support" in error["Message"], error
    assert "old" not in customer.eks.list_clusters()["clusters"], "nothing made"
    error = error_of(customer.create_cluster, "odd", upgradePolicy={"supportType": "FOREVER"})
    assert error["Code"] == "InvalidParameterException", error
