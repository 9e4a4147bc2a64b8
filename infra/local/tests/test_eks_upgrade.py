"""Kubernetes version upgrades on the emulator's EKS as EKS does them (moto_ext/eks_upgrade.py,
eks_node_update.py, eks_insights.py, eks_catalogue.py): a version calendar that follows a
steerable clock, one minor version at a time, node groups matched before the control plane
moves, updates that take polls and are idempotent on their token, surge nodes that need vCPU
quota, pod eviction failures, add-on compatibility, upgrade insights that block, and the
customer role allowing exactly the updates of an install's own resources."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from conftest import REGION, VENDOR_ACCOUNT, steer
from test_eks_ext import Customer, error_of
from test_k8s_api import Customer as KubernetesCustomer

PINNED = "2026-06-01T00:00:00Z"  # 1.33, 1.34 and 1.35 in standard support; 1.31 and 1.32 extended
VCPUS = "L-1216C47A"
TEMPLATE = Path(__file__).resolve().parents[3] / "cfn" / "customer-role.yaml"
INSTALL = {"byoc:install-id": "inst-upgrade"}


def upgradable(stack, version: str = "1.33", vcpus: float | None = 64, nodegroup: bool = True, **settings) -> Customer:
    """An account at the pinned date with an ACTIVE cluster c1 at `version` and node group n."""
    customer = Customer(stack, now=PINNED, **settings)
    if vcpus is not None:
        steer_quota(stack, customer.account, vcpus)
    customer.active_cluster(version=version)
    if nodegroup:
        customer.eks.create_nodegroup(clusterName="c1", nodegroupName="n", nodeRole=customer.role, subnets=customer.subnets)
        assert customer.eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]["status"] == "ACTIVE"
    return customer


def steer_quota(stack, account: str, vcpus: float) -> None:
    """The account's applied Running On-Demand Standard instances quota (vCPUs)."""
    steer(stack, "service_quotas", account, applied={VCPUS: vcpus})


def node_ids(stack, customer) -> list[str]:
    ec2 = stack.client("ec2", account=customer.account)
    filters = [{"Name": "tag:eks:nodegroup-name", "Values": ["n"]}, {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    return sorted(i["InstanceId"] for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"])


def upgrade_cluster(eks, version: str, name: str = "c1") -> dict:
    update = eks.update_cluster_version(name=name, version=version)["update"]
    return eks.describe_update(name=name, updateId=update["id"])["update"]


# ---------------------------------------------------------------- the calendar


def test_the_version_calendar_follows_each_accounts_clock(stack):
    summer = Customer(stack, now=PINNED).eks
    rows = {v["clusterVersion"]: v for v in summer.describe_cluster_versions()["clusterVersions"]}
    assert {v for v, r in rows.items() if r["versionStatus"] == "STANDARD_SUPPORT"} == {"1.33", "1.34", "1.35"}
    assert {v for v, r in rows.items() if r["versionStatus"] == "EXTENDED_SUPPORT"} == {"1.31", "1.32"}
    assert [v for v, r in rows.items() if r["defaultVersion"]] == ["1.34"], "the default lags the newest"
    new = rows["1.35"]
    assert [str(new[k])[:10] for k in ("releaseDate", "endOfStandardSupportDate", "endOfExtendedSupportDate")] == ["2026-01-27", "2027-03-27", "2028-03-27"]
    assert (new["status"], new["kubernetesPatchVersion"]) == ("standard-support", "1.35.0")

    winter = Customer(stack, now="2026-12-07T00:00:00Z")
    rows = {v["clusterVersion"]: v["versionStatus"] for v in winter.eks.describe_cluster_versions()["clusterVersions"]}
    assert rows == {"1.35": "STANDARD_SUPPORT", "1.34": "EXTENDED_SUPPORT", "1.33": "EXTENDED_SUPPORT", "1.32": "EXTENDED_SUPPORT"}
    every = {v["clusterVersion"]: v["versionStatus"] for v in winter.eks.describe_cluster_versions(includeAll=True)["clusterVersions"]}
    assert every["1.31"] == "UNSUPPORTED"
    assert [v["clusterVersion"] for v in winter.eks.describe_cluster_versions(versionStatus="STANDARD_SUPPORT")["clusterVersions"]] == ["1.35"]
    error = error_of(winter.create_cluster, "old", version="1.31")
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", "unsupported Kubernetes version 1.31")
    assert winter.create_cluster("dflt")["version"] == "1.35"

    autumn = Customer(stack, now="2025-12-01T00:00:00Z")
    assert [v["clusterVersion"] for v in autumn.eks.describe_cluster_versions()["clusterVersions"]] == ["1.34", "1.33", "1.32", "1.31"]
    assert error_of(autumn.create_cluster, "early", version="1.35")["Message"] == "unsupported Kubernetes version 1.35", "not released yet"

    for addon in ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver"):
        [listed] = summer.describe_addon_versions(addonName=addon, kubernetesVersion="1.35")["addons"]
        defaults = [v["addonVersion"] for v in listed["addonVersions"] if v["compatibilities"][0]["defaultVersion"]]
        assert len(defaults) == 1, (addon, defaults)


# ---------------------------------------------------------------- the control plane


def test_a_cluster_moves_one_minor_version_at_a_time(stack):
    customer = upgradable(stack, nodegroup=False)
    for target in ("1.35", "1.33", "1.32"):
        error = error_of(customer.eks.update_cluster_version, name="c1", version=target)
        assert (error["Code"], error["Message"]) == ("InvalidParameterException", f"Unsupported Kubernetes minor version update from 1.33 to {target}")
    assert error_of(customer.eks.update_cluster_version, name="missing", version="1.34")["Code"] == "ResourceNotFoundException"
    assert upgrade_cluster(customer.eks, "1.34")["status"] == "Successful"
    assert upgrade_cluster(customer.eks, "1.35")["status"] == "Successful"
    error = error_of(customer.eks.update_cluster_version, name="c1", version="1.36")
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", "unsupported Kubernetes version 1.36"), "EKS does not offer it"


def test_updates_take_polls_refuse_a_second_one_and_replay_their_token(stack):
    customer = upgradable(stack, version="1.34", nodegroup=False, cluster_update_polls=2)
    eks = customer.eks
    started = eks.update_cluster_version(name="c1", version="1.35", clientRequestToken="upgrade-1")["update"]
    assert (started["status"], started["type"], started["errors"]) == ("InProgress", "VersionUpdate", [])
    assert started["params"] == [{"type": "Version", "value": "1.35"}, {"type": "PlatformVersion", "value": "eks.3"}]
    again = eks.update_cluster_version(name="c1", version="1.35", clientRequestToken="upgrade-1")["update"]
    assert again["id"] == started["id"], "the same token is the same update"
    error = error_of(eks.update_cluster_version, name="c1", version="1.35", clientRequestToken="upgrade-2")
    assert (error["Code"], error["Message"]) == ("ResourceInUseException", f"Cannot VersionUpdate because cluster c1 currently has update {started['id']} in progress")
    assert eks.list_updates(name="c1")["updateIds"] == [started["id"]]

    assert eks.describe_update(name="c1", updateId=started["id"])["update"]["status"] == "InProgress"
    cluster = eks.describe_cluster(name="c1")["cluster"]
    assert (cluster["status"], cluster["version"]) == ("UPDATING", "1.34")
    assert eks.describe_update(name="c1", updateId=started["id"])["update"]["status"] == "Successful"
    cluster = eks.describe_cluster(name="c1")["cluster"]
    assert (cluster["status"], cluster["version"], cluster["platformVersion"]) == ("ACTIVE", "1.35", "eks.3")
    assert error_of(eks.describe_update, name="c1", updateId=str(uuid.uuid4()))["Code"] == "ResourceNotFoundException"


def test_the_kubernetes_api_follows_the_control_plane_and_add_ons_stay(stack):
    customer = KubernetesCustomer(stack, version="1.34", now=PINNED)
    customer.eks.create_addon(clusterName="c1", addonName="kube-proxy")
    assert customer.call("GET", "/version")[1]["gitVersion"].startswith("v1.34.1-eks-")
    assert upgrade_cluster(customer.eks, "1.35")["status"] == "Successful"
    version = customer.call("GET", "/version")[1]
    assert (version["minor"], version["gitVersion"][:12]) == ("35", "v1.35.0-eks-")
    addon = customer.eks.describe_addon(clusterName="c1", addonName="kube-proxy")["addon"]
    assert addon["addonVersion"] == "v1.34.0-eksbuild.2", "EKS does not update add-ons with the control plane"


def test_too_few_free_addresses_in_a_cluster_subnet_refuse_the_update(stack):
    customer = Customer(stack, now=PINNED)
    ec2 = stack.client("ec2", account=customer.account)
    small = [ec2.create_subnet(VpcId=customer.vpc, CidrBlock=f"10.20.{9 + i}.0/28", AvailabilityZone=zone)["Subnet"]["SubnetId"] for i, zone in enumerate(["us-east-1a", "us-east-1b"])]
    customer.active_cluster(version="1.34", resourcesVpcConfig={"subnetIds": small})
    free = lambda: {s["SubnetId"]: s["AvailableIpAddressCount"] for s in ec2.describe_subnets(SubnetIds=small)["Subnets"]}  # noqa: E731
    while free()[small[0]] >= 5:
        ec2.create_network_interface(SubnetId=small[0])
    counts = free()
    error = error_of(customer.eks.update_cluster_version, name="c1", version="1.35")
    expected = f"Provided subnets {small[0]} Free IPs: {counts[small[0]]} {small[1]} Free IPs: {counts[small[1]]} , need at least 5 IPs in each subnet to be free for this operation"
    assert (error["Code"], error["Message"]) == ("InvalidRequestException", expected)
    assert counts[small[1]] >= 5, "one short subnet is enough to refuse"


# ---------------------------------------------------------------- node groups


def test_node_groups_must_match_before_the_control_plane_moves_again(stack):
    customer = upgradable(stack, nodegroup_update_polls=1)
    eks = customer.eks
    before = node_ids(stack, customer)
    assert len(before) == 2
    assert upgrade_cluster(eks, "1.34")["status"] == "Successful"
    assert eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]["version"] == "1.33", "node groups stay"
    error = error_of(eks.update_cluster_version, name="c1", version="1.35")
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", "Nodegroups n must be updated to match cluster version 1.34 before updating cluster version.")
    error = error_of(eks.update_nodegroup_version, clusterName="c1", nodegroupName="n", version="1.35")
    assert error["Code"] == "InvalidParameterException" and "cannot be newer than cluster c1 version 1.34" in error["Message"]

    update = eks.update_nodegroup_version(clusterName="c1", nodegroupName="n")["update"]
    assert [p["type"] for p in update["params"]] == ["Version", "ReleaseVersion"] and update["params"][0]["value"] == "1.34"
    assert error_of(eks.update_nodegroup_version, clusterName="c1", nodegroupName="n")["Code"] == "ResourceInUseException"
    assert error_of(eks.describe_update, name="c1", updateId=update["id"])["Code"] == "ResourceNotFoundException", "a node group's update needs nodegroupName"
    assert eks.list_updates(name="c1", nodegroupName="n")["updateIds"] == [update["id"]]
    group = eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]
    assert (group["status"], group["version"]) == ("UPDATING", "1.33")
    assert eks.describe_update(name="c1", updateId=update["id"], nodegroupName="n")["update"]["status"] == "Successful"
    group = eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]
    assert (group["status"], group["version"], group["releaseVersion"]) == ("ACTIVE", "1.34", "1.34.1-20251002")
    after = node_ids(stack, customer)
    assert len(after) == 2 and not set(after) & set(before), "every node replaced"
    assert upgrade_cluster(eks, "1.35")["status"] == "Successful"

    # moto's UpdateNodegroupConfig update is kept, so it can be described
    config = eks.update_nodegroup_config(clusterName="c1", nodegroupName="n", scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2})["update"]
    assert eks.describe_update(name="c1", updateId=config["id"], nodegroupName="n")["update"]["status"] == "Successful"


def test_pod_eviction_failure_ends_the_update_unless_forced(stack):
    customer = upgradable(stack, nodegroup_update_fail="PodEvictionFailure")
    eks = customer.eks
    before = node_ids(stack, customer)
    assert upgrade_cluster(eks, "1.34")["status"] == "Successful"
    update = eks.update_nodegroup_version(clusterName="c1", nodegroupName="n")["update"]
    failed = eks.describe_update(name="c1", updateId=update["id"], nodegroupName="n")["update"]
    assert failed["status"] == "Failed"
    [error] = failed["errors"]
    assert (error["errorCode"], error["errorMessage"]) == ("PodEvictionFailure", "Reached max retries while trying to evict pods from nodes in node group n")
    assert error["resourceIds"][0].startswith("ip-")
    group = eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]
    assert (group["status"], group["version"], node_ids(stack, customer)) == ("ACTIVE", "1.33", before)

    forced = eks.update_nodegroup_version(clusterName="c1", nodegroupName="n", force=True)["update"]
    assert eks.describe_update(name="c1", updateId=forced["id"], nodegroupName="n")["update"]["status"] == "Successful"
    assert eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]["version"] == "1.34"


def test_surge_nodes_beyond_the_vcpu_quota_fail_the_update_with_node_creation_failure(stack):
    """Two t3.medium nodes (4 vCPUs) in two zones: the scale up phase adds 2 x 2 zones = 4 more
    (8 vCPUs), so the update needs 12 On-Demand Standard vCPUs."""
    customer = upgradable(stack, vcpus=11)
    eks = customer.eks
    assert upgrade_cluster(eks, "1.34")["status"] == "Successful"
    update = eks.update_nodegroup_version(clusterName="c1", nodegroupName="n", force=True)["update"]
    failed = eks.describe_update(name="c1", updateId=update["id"], nodegroupName="n")["update"]
    [error] = failed["errors"]
    assert (failed["status"], error["errorCode"]) == ("Failed", "NodeCreationFailure")
    assert "VcpuLimitExceeded" in error["errorMessage"] and "current vCPU limit of 11 allows" in error["errorMessage"]
    group = eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]
    assert error["resourceIds"] == [group["resources"]["autoScalingGroups"][0]["name"]]
    assert (group["status"], group["version"], group["health"]["issues"]) == ("ACTIVE", "1.33", []), "nothing moved, nothing left failing"

    steer_quota(stack, customer.account, 12)
    retried = eks.update_nodegroup_version(clusterName="c1", nodegroupName="n")["update"]
    assert eks.describe_update(name="c1", updateId=retried["id"], nodegroupName="n")["update"]["status"] == "Successful"
    group = eks.describe_nodegroup(clusterName="c1", nodegroupName="n")["nodegroup"]
    assert (group["version"], group["health"]["issues"]) == ("1.34", [])


def test_a_steered_node_creation_failure_always_fails(stack):
    customer = upgradable(stack, nodegroup_update_fail="NodeCreationFailure", nodegroup_update_fail_message="Instances failed to join the kubernetes cluster")
    assert upgrade_cluster(customer.eks, "1.34")["status"] == "Successful"
    update = customer.eks.update_nodegroup_version(clusterName="c1", nodegroupName="n", force=True)["update"]
    failed = customer.eks.describe_update(name="c1", updateId=update["id"], nodegroupName="n")["update"]
    assert [(e["errorCode"], e["errorMessage"]) for e in failed["errors"]] == [("NodeCreationFailure", "Instances failed to join the kubernetes cluster")]


# ---------------------------------------------------------------- add-ons


def test_an_addon_update_needs_a_version_compatible_with_the_cluster(stack):
    customer = upgradable(stack, version="1.34", nodegroup=False, addon_update_polls=1)
    eks = customer.eks
    eks.create_addon(clusterName="c1", addonName="kube-proxy", tags=INSTALL)
    assert eks.describe_addon(clusterName="c1", addonName="kube-proxy")["addon"]["status"] == "ACTIVE"
    error = error_of(eks.update_addon, clusterName="c1", addonName="kube-proxy", addonVersion="v1.35.0-eksbuild.2")
    assert (error["Code"], error["Message"]) == ("InvalidParameterException", "Addon version specified is not supported for kube-proxy in 1.34 kubernetes version")
    assert upgrade_cluster(eks, "1.35")["status"] == "Successful"
    error = error_of(eks.update_addon, clusterName="c1", addonName="kube-proxy", addonVersion="v1.34.0-eksbuild.2")
    assert error["Message"] == "Addon version specified is not supported for kube-proxy in 1.35 kubernetes version"
    assert error_of(eks.update_addon, clusterName="c1", addonName="kube-proxy", resolveConflicts="MERGE")["Code"] == "InvalidParameterException"
    assert error_of(eks.update_addon, clusterName="c1", addonName="coredns", addonVersion="v1.13.2-eksbuild.1")["Code"] == "ResourceNotFoundException"

    update = eks.update_addon(clusterName="c1", addonName="kube-proxy", addonVersion="v1.35.0-eksbuild.2", resolveConflicts="OVERWRITE")["update"]
    assert (update["type"], update["params"]) == ("AddonUpdate", [{"type": "AddonVersion", "value": "v1.35.0-eksbuild.2"}, {"type": "ResolveConflicts", "value": "OVERWRITE"}])
    assert eks.describe_addon(clusterName="c1", addonName="kube-proxy")["addon"]["status"] == "UPDATING"
    assert error_of(eks.describe_update, name="c1", updateId=update["id"])["Code"] == "ResourceNotFoundException", "an add-on's update needs addonName"
    assert eks.describe_update(name="c1", updateId=update["id"], addonName="kube-proxy")["update"]["status"] == "Successful"
    addon = eks.describe_addon(clusterName="c1", addonName="kube-proxy")["addon"]
    assert (addon["status"], addon["addonVersion"]) == ("ACTIVE", "v1.35.0-eksbuild.2")
    assert eks.list_updates(name="c1", addonName="kube-proxy")["updateIds"] == [update["id"]]


# ---------------------------------------------------------------- insights

DEPRECATION = {
    "usage": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
    "replacedWith": "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
    "stopServingVersion": "1.32",
    "startServingReplacementVersion": "1.29",
}


def test_an_error_insight_blocks_the_update_unless_forced(stack):
    blocking = {"name": "Deprecated APIs removed in Kubernetes v1.35", "kubernetes_version": "1.35", "status": "ERROR", "reason": "Deprecated API usage detected within last 30 days.", "deprecations": [DEPRECATION]}
    customer = upgradable(stack, version="1.34", nodegroup=False, insights=[blocking])
    eks = customer.eks
    listed = eks.list_insights(clusterName="c1")["insights"]
    assert {(i["name"], i["kubernetesVersion"], i["insightStatus"]["status"]) for i in listed} == {
        ("Deprecated APIs removed in Kubernetes v1.35", "1.35", "ERROR"), ("Kubelet version skew", "1.35", "PASSING")}
    error_insight = next(i for i in listed if i["insightStatus"]["status"] == "ERROR")
    described = eks.describe_insight(clusterName="c1", id=error_insight["id"])["insight"]
    assert described["category"] == "UPGRADE_READINESS"
    assert described["insightStatus"] == {"status": "ERROR", "reason": "Deprecated API usage detected within last 30 days."}
    assert described["categorySpecificSummary"]["deprecationDetails"] == [{**DEPRECATION, "clientStats": []}]
    error = error_of(eks.update_cluster_version, name="c1", version="1.35")
    assert error["Code"] == "InvalidStateException"
    assert error["Message"].startswith("Upgrade readiness issues detected. Call the EKS ListInsights API")
    update = eks.update_cluster_version(name="c1", version="1.35", force=True)["update"]
    assert eks.describe_update(name="c1", updateId=update["id"])["update"]["status"] == "Successful"
    assert eks.list_insights(clusterName="c1")["insights"] == [], "no newer version to be ready for"


def test_list_insights_filters_and_pages(stack):
    customer = upgradable(stack, nodegroup=False)
    eks = customer.eks
    every = eks.list_insights(clusterName="c1")["insights"]
    assert sorted((i["kubernetesVersion"], i["name"]) for i in every) == [
        ("1.34", "Deprecated APIs removed in Kubernetes v1.34"), ("1.34", "Kubelet version skew"),
        ("1.35", "Deprecated APIs removed in Kubernetes v1.35"), ("1.35", "Kubelet version skew")]
    assert {i["insightStatus"]["status"] for i in every} == {"PASSING"}
    assert len(eks.list_insights(clusterName="c1", filter={"kubernetesVersions": ["1.35"]})["insights"]) == 2
    assert eks.list_insights(clusterName="c1", filter={"statuses": ["ERROR", "WARNING"]})["insights"] == []
    assert eks.list_insights(clusterName="c1", filter={"categories": ["MISCONFIGURATION"]})["insights"] == []
    first = eks.list_insights(clusterName="c1", maxResults=3)
    rest = eks.list_insights(clusterName="c1", maxResults=3, nextToken=first["nextToken"])
    assert [i["id"] for i in first["insights"] + rest["insights"]] == [i["id"] for i in every] and "nextToken" not in rest
    assert error_of(eks.describe_insight, clusterName="c1", id=str(uuid.uuid4()))["Code"] == "ResourceNotFoundException"


# ---------------------------------------------------------------- the customer role


def _customer_role(stack, account: str) -> dict:
    """The installer role as cfn/customer-role.yaml makes it, assumed by the vendor."""
    external_id = uuid.uuid4().hex + uuid.uuid4().hex
    cfn = stack.client("cloudformation", account=account)
    parameters = {"VendorAccountId": VENDOR_ACCOUNT, "ExternalId": external_id, "RoleName": "byoc-installer", "PermissionsBoundaryArn": ""}
    cfn.create_stack(StackName="byoc-access", TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    for _ in range(100):
        described = cfn.describe_stacks(StackName="byoc-access")["Stacks"][0]
        if described["StackStatus"] != "CREATE_IN_PROGRESS":
            break
        time.sleep(0.1)
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    role = next(o["OutputValue"] for o in described["Outputs"] if o["OutputKey"] == "RoleArn")
    creds = stack.client("sts").assume_role(RoleArn=role, RoleSessionName="byoc.inst-upgrade.upgrade", SourceIdentity="byoc.inst-upgrade.upgrade", ExternalId=external_id)["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"], "aws_session_token": creds["SessionToken"]}


def _decisions(stack, action: str, role_account: str) -> list[dict]:
    lines = (stack.state_dir / "logs" / "iam-decisions.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["action"] == action and f":{role_account}:" in e["role"]]


def test_the_customer_role_may_upgrade_an_installs_cluster_and_nothing_else(stack):
    customer = Customer(stack, now=PINNED)
    steer_quota(stack, customer.account, 64)
    for name, tags in (("byoc-inst-upgrade", INSTALL), ("theirs", INSTALL), ("byoc-inst-untagged", {})):
        customer.active_cluster(name, version="1.33", tags=tags)
        customer.eks.create_nodegroup(clusterName=name, nodegroupName=f"{name}-nodes", nodeRole=customer.role, subnets=customer.subnets, tags=tags)
        customer.eks.create_addon(clusterName=name, addonName="kube-proxy", tags=tags)
        customer.eks.describe_nodegroup(clusterName=name, nodegroupName=f"{name}-nodes")  # ACTIVE now
        customer.eks.describe_addon(clusterName=name, addonName="kube-proxy")
    role = stack.client("eks", **_customer_role(stack, customer.account))

    ours = "byoc-inst-upgrade"
    update = role.update_nodegroup_version(clusterName=ours, nodegroupName=f"{ours}-nodes")["update"]
    assert role.describe_update(name=ours, updateId=update["id"], nodegroupName=f"{ours}-nodes")["update"]["status"] == "Successful"
    update = role.update_addon(clusterName=ours, addonName="kube-proxy", resolveConflicts="OVERWRITE")["update"]
    assert role.describe_update(name=ours, updateId=update["id"], addonName="kube-proxy")["update"]["status"] == "Successful"
    assert role.list_insights(clusterName=ours)["insights"]
    update = role.update_cluster_version(name=ours, version="1.34")["update"]
    assert role.list_updates(name=ours)["updateIds"] == [update["id"]]
    assert role.describe_update(name=ours, updateId=update["id"])["update"]["status"] == "Successful"

    for other in ("theirs", "byoc-inst-untagged"):
        for action, call, kwargs in (
            ("eks:UpdateClusterVersion", role.update_cluster_version, {"name": other, "version": "1.34"}),
            ("eks:UpdateNodegroupVersion", role.update_nodegroup_version, {"clusterName": other, "nodegroupName": f"{other}-nodes"}),
            ("eks:UpdateAddon", role.update_addon, {"clusterName": other, "addonName": "kube-proxy"}),
        ):
            error = error_of(call, **kwargs)
            assert error["Code"] == "AccessDeniedException", (other, action, error)
            assert f"is not authorized to perform: {action} on resource: arn:aws:eks:{REGION}:{customer.account}:" in error["Message"], error
    assert customer.eks.describe_cluster(name="theirs")["cluster"]["version"] == "1.33"

    # What each action was authorized against (Service Authorization Reference resource types).
    expected = {"eks:UpdateClusterVersion": {"cluster"}, "eks:UpdateNodegroupVersion": {"nodegroup"}, "eks:UpdateAddon": {"addon"},
                "eks:DescribeUpdate": {"cluster", "nodegroup", "addon"}, "eks:ListUpdates": {"cluster"}, "eks:ListInsights": {"cluster"}}
    for action, types in expected.items():
        allowed = [e for e in _decisions(stack, action, customer.account) if e["decision"] == "allow"]
        assert {e["resource_type"] for e in allowed} == types, (action, allowed)
    [cluster_allow] = [e for e in _decisions(stack, "eks:UpdateClusterVersion", customer.account) if e["decision"] == "allow"]
    assert cluster_allow["resource"] == f"arn:aws:eks:{REGION}:{customer.account}:cluster/{ours}"
    assert cluster_allow["context"]["aws:ResourceTag/byoc:install-id"] == "inst-upgrade"
    assert cluster_allow["decided_by"].endswith("#UpgradeAnInstallsCluster")


def test_node_group_and_addon_updates_replay_their_token(stack):
    field = "clientRequestToken"
    customer = upgradable(stack, version="1.34", nodegroup_update_polls=5, addon_update_polls=5)
    eks = customer.eks
    eks.create_addon(clusterName="c1", addonName="coredns")
    eks.describe_addon(clusterName="c1", addonName="coredns")
    first = eks.update_nodegroup_version(clusterName="c1", nodegroupName="n", **{field: "ng-1"})["update"]
    assert eks.update_nodegroup_version(clusterName="c1", nodegroupName="n", **{field: "ng-1"})["update"]["id"] == first["id"]
    added = eks.update_addon(clusterName="c1", addonName="coredns", addonVersion="v1.12.4-eksbuild.1", **{field: "addon-1"})["update"]
    assert eks.update_addon(clusterName="c1", addonName="coredns", addonVersion="v1.12.4-eksbuild.1", **{field: "addon-1"})["update"]["id"] == added["id"]
    error = error_of(eks.update_cluster_version, name="c1", version="1.35")
    assert error["Code"] == "ResourceInUseException" and "currently has update" in error["Message"], "node group and add-on updates hold the cluster"
