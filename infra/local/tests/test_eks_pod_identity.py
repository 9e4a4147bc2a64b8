"""EKS Pod Identity on the local stack: associations with EKS's shapes and refusals, associations
owned by add-ons, the EBS CSI controller's credentials deciding whether a claim gets its volume,
the IAM a caller needs, and AWS managed policies attached by ARN and by CloudFormation."""

from __future__ import annotations

import json
import re
import uuid

import botocore.exceptions
import pytest
from conftest import REGION, VENDOR_ACCOUNT
from test_k8s_api import Customer

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
EBS_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
CSI_SA = "ebs-csi-controller-sa"
CLAIM = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}}}


def role(customer: Customer, trust: dict = TRUST, policy: str | None = EBS_POLICY) -> str:
    iam = customer.stack.client("iam", account=customer.account)
    name = f"pods-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return arn


def error_of(call, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    return {**raised.value.response["Error"], "status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def claim_phase(customer: Customer, name: str = "data") -> str:
    return customer.call("GET", f"/api/v1/namespaces/db/persistentvolumeclaims/{name}")[1]["status"]["phase"]


def logged(customer: Customer, claim: dict, fragment: str) -> bool:
    """Whether the controller logged `fragment` for this claim (its volume's name is unique)."""
    pv = f'Could not create volume "pvc-{claim["metadata"]["uid"]}"'
    return any(pv in line and fragment in line for line in customer.stack.log().splitlines())


def claimed_volumes(customer: Customer) -> list[dict]:
    return customer.ec2.describe_volumes(Filters=[{"Name": "tag-key", "Values": ["CSIVolumeName"]}])["Volumes"]


@pytest.fixture(scope="module")
def customer(stack) -> Customer:
    return Customer(stack)


def test_associations_have_eks_shapes_and_can_be_listed_described_deleted(customer):
    eks, arn = customer.eks, role(customer)
    made = eks.create_pod_identity_association(clusterName="c1", namespace="shop", serviceAccount="api", roleArn=arn, tags={"team": "a"}, clientRequestToken="t-1")["association"]
    aid = made["associationId"]
    assert re.fullmatch(r"a-[a-z0-9]{17}", aid), aid
    assert made["associationArn"] == f"arn:aws:eks:{REGION}:{customer.account}:podidentityassociation/c1/{aid}"
    assert (made["clusterName"], made["namespace"], made["serviceAccount"], made["roleArn"], made["tags"], made["disableSessionTags"]) == ("c1", "shop", "api", arn, {"team": "a"}, False)
    assert "ownerArn" not in made
    again = eks.create_pod_identity_association(clusterName="c1", namespace="shop", serviceAccount="api", roleArn=arn, clientRequestToken="t-1")["association"]
    assert again["associationId"] == aid, "the same clientRequestToken answers the same association"
    other = eks.create_pod_identity_association(clusterName="c1", namespace="jobs", serviceAccount="api", roleArn=arn)["association"]
    described = eks.describe_pod_identity_association(clusterName="c1", associationId=aid)["association"]
    assert {k: described[k] for k in made} == made
    listed = eks.list_pod_identity_associations(clusterName="c1")["associations"]
    assert {a["associationId"] for a in listed} >= {aid, other["associationId"]} and set(listed[0]) == {"clusterName", "namespace", "serviceAccount", "associationArn", "associationId"}
    assert [a["associationId"] for a in eks.list_pod_identity_associations(clusterName="c1", namespace="jobs", serviceAccount="api")["associations"]] == [other["associationId"]]
    first = eks.list_pod_identity_associations(clusterName="c1", maxResults=1)
    assert len(first["associations"]) == 1 and first["nextToken"]
    assert eks.delete_pod_identity_association(clusterName="c1", associationId=aid)["association"]["associationId"] == aid
    assert error_of(eks.describe_pod_identity_association, clusterName="c1", associationId=aid)["Code"] == "ResourceNotFoundException"
    assert error_of(eks.delete_pod_identity_association, clusterName="c1", associationId="a-short")["Message"] == "The parameter associationId should be 19 characters long."
    eks.delete_pod_identity_association(clusterName="c1", associationId=other["associationId"])


def test_creation_refuses_a_missing_cluster_or_role_an_untrusting_role_and_a_second_association(customer):
    eks, good = customer.eks, role(customer)
    assert error_of(eks.create_pod_identity_association, clusterName="nope", namespace="n", serviceAccount="s", roleArn=good)["Code"] == "ResourceNotFoundException"
    missing = error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=f"arn:aws:iam::{customer.account}:role/absent")
    assert (missing["Code"], missing["Message"]) == ("InvalidParameterException", "Role provided in the request does not exist")
    elsewhere = error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=f"arn:aws:iam::{VENDOR_ACCOUNT}:role/fixture-function")
    assert elsewhere["Code"] == "InvalidParameterException", "only roles of the cluster's account"
    assume_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    ec2_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    for trust in (assume_only, ec2_trust):
        refused = error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=role(customer, trust))
        assert (refused["Code"], refused["Message"]) == ("InvalidParameterException", "Trust policy of the role provided is invalid. Follow the official documentation to resolve the issue.")
    made = eks.create_pod_identity_association(clusterName="c1", namespace="n", serviceAccount="s", roleArn=good)["association"]
    twice = error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=role(customer))
    assert (twice["Code"], twice["status"], twice["Message"]) == ("ResourceInUseException", 409, f"Association already exists: {made['associationId']}")
    eks.delete_pod_identity_association(clusterName="c1", associationId=made["associationId"])


def test_associations_go_with_their_cluster(stack):
    customer = Customer(stack)
    customer.eks.create_pod_identity_association(clusterName="c1", namespace="n", serviceAccount="s", roleArn=role(customer))
    customer.eks.delete_cluster(name="c1")
    assert error_of(customer.eks.list_pod_identity_associations, clusterName="c1")["Code"] == "ResourceNotFoundException"
    customer.eks.create_cluster(name="c1", roleArn=customer.roles["nodes"], resourcesVpcConfig={"subnetIds": customer.private})
    assert customer.eks.list_pod_identity_associations(clusterName="c1")["associations"] == []


def test_an_addon_owns_the_associations_it_creates_and_takes_them_when_deleted(stack):
    customer = Customer(stack)
    eks = customer.eks
    addon = customer.ebs_csi_driver()
    [arn] = eks.describe_addon(clusterName="c1", addonName="aws-ebs-csi-driver")["addon"]["podIdentityAssociations"]
    [summary] = eks.list_pod_identity_associations(clusterName="c1")["associations"]
    assert (summary["associationArn"], summary["namespace"], summary["serviceAccount"], summary["ownerArn"]) == (arn, "kube-system", CSI_SA, addon)
    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    assert eks.list_pod_identity_associations(clusterName="c1")["associations"] == [], "removing-an-add-on: owned associations go"
    eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=[{"serviceAccount": CSI_SA, "roleArn": role(customer)}])
    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver", preserve=True)
    assert len(eks.list_pod_identity_associations(clusterName="c1")["associations"]) == 1, "--preserve keeps them"


def test_addon_associations_are_refused_as_eks_refuses_them_and_nothing_is_half_made(stack):
    customer = Customer(stack)
    eks, good = customer.eks, role(customer)
    cases = [
        ("aws-ebs-csi-driver", "someone-else", good, "InvalidParameterException", "Service account someone-else in pod identity configuration is not supported for addon aws-ebs-csi-driver"),
        ("coredns", "coredns", good, "InvalidParameterException", "Pod Identity feature is not supported for addon version: v1.12.1-eksbuild.2"),
        ("aws-ebs-csi-driver", CSI_SA, role(customer, {"Version": "2012-10-17", "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}]}), "InvalidParameterException", "Trust policy of the role provided is invalid. Follow the official documentation to resolve the issue."),
    ]
    for addon, account, arn, code, message in cases:
        refused = error_of(eks.create_addon, clusterName="c1", addonName=addon, podIdentityAssociations=[{"serviceAccount": account, "roleArn": arn}])
        assert (refused["Code"], refused["Message"]) == (code, message)
        assert error_of(eks.describe_addon, clusterName="c1", addonName=addon)["Code"] == "ResourceNotFoundException"
    existing = eks.create_pod_identity_association(clusterName="c1", namespace="kube-system", serviceAccount=CSI_SA, roleArn=good)["association"]
    taken = error_of(eks.create_addon, clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=[{"serviceAccount": CSI_SA, "roleArn": good}])
    assert (taken["Code"], taken["Message"]) == ("ResourceInUseException", f"Association already exists: {existing['associationId']}"), "add-ons can't take over an association"


def test_a_claim_waits_for_the_pod_identity_agent(stack):
    customer = Customer(stack)
    customer.eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=[{"serviceAccount": CSI_SA, "roleArn": role(customer)}])
    status, created = customer.call("POST", "/api/v1/namespaces/db/persistentvolumeclaims", CLAIM)
    assert (status, created["status"]["phase"]) == (201, "Pending")
    assert claim_phase(customer) == "Pending" and claimed_volumes(customer) == []
    assert logged(customer, created, "169.254.170.23:80: connect: connection refused")
    customer.eks.create_addon(clusterName="c1", addonName="eks-pod-identity-agent")
    assert claim_phase(customer) == "Bound"
    [volume] = claimed_volumes(customer)
    assert (volume["Size"], volume["VolumeType"]) == (8, "gp3")


def test_a_claim_stays_pending_without_credentials_or_permissions(stack):
    customer = Customer(stack)
    eks = customer.eks
    eks.create_addon(clusterName="c1", addonName="eks-pod-identity-agent")
    eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    created = customer.call("POST", "/api/v1/namespaces/db/persistentvolumeclaims", CLAIM)[1]
    assert claim_phase(customer) == "Pending"
    assert logged(customer, created, 'failed to provision volume with StorageClass "gp3": rpc error: code = Internal desc = Could not create volume')
    assert logged(customer, created, "could not create volume in EC2: operation error EC2: CreateVolume, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found")
    # Made after the controller's pods started: EKS sets up credentials when a pod starts.
    late = eks.create_pod_identity_association(clusterName="c1", namespace="kube-system", serviceAccount=CSI_SA, roleArn=role(customer))["association"]
    assert claim_phase(customer) == "Pending"
    eks.delete_pod_identity_association(clusterName="c1", associationId=late["associationId"])
    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=[{"serviceAccount": CSI_SA, "roleArn": role(customer, policy=None)}])
    assert claim_phase(customer) == "Pending" and claimed_volumes(customer) == []
    assert logged(customer, created, "api error UnauthorizedOperation: You are not authorized to perform this operation.")
    assert logged(customer, created, f"is not authorized to perform: ec2:CreateVolume on resource: arn:aws:ec2:{REGION}:{customer.account}:volume/*")
    # A role whose trust allows the tags only for another namespace is not assumed here.
    scoped = {"Version": "2012-10-17", "Statement": [{**TRUST["Statement"][0], "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "other"}}}]}
    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=[{"serviceAccount": CSI_SA, "roleArn": role(customer, scoped)}])
    assert claim_phase(customer) == "Pending"
    assert logged(customer, created, "pods.eks.amazonaws.com is not authorized to perform: sts:AssumeRole and sts:TagSession")
    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    eks.create_pod_identity_association(clusterName="c1", namespace="kube-system", serviceAccount=CSI_SA, roleArn=role(customer))
    eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver")
    assert claim_phase(customer) == "Bound", "an association made before the add-on reaches its pods"


def test_irsa_gives_the_controller_credentials_through_the_clusters_oidc_provider(stack):
    customer = Customer(stack)
    iam = customer.stack.client("iam", account=customer.account)
    issuer = customer.eks.describe_cluster(name="c1")["cluster"]["identity"]["oidc"]["issuer"]
    host = issuer.split("://", 1)[1]
    provider = f"arn:aws:iam::{customer.account}:oidc-provider/{host}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                                                     "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com", f"{host}:sub": f"system:serviceaccount:kube-system:{CSI_SA}"}}}]}
    customer.eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", serviceAccountRoleArn=role(customer, trust))
    created = customer.call("POST", "/api/v1/namespaces/db/persistentvolumeclaims", CLAIM)[1]
    assert claim_phase(customer) == "Pending"
    assert logged(customer, created, f"No OpenIDConnect provider found in your account for {issuer}")
    iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    assert claim_phase(customer) == "Bound"


def _assumed(customer: Customer, *statements) -> dict:
    iam = customer.stack.client("iam", account=customer.account)
    name = f"caller-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    creds = customer.stack.client("sts").assume_role(RoleArn=arn, RoleSessionName="caller")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"], "aws_session_token": creds["SessionToken"]}


def test_iam_create_pod_identity_association_needs_pass_role_to_pods(stack):
    customer = Customer(stack)
    cluster, target = f"arn:aws:eks:{REGION}:{customer.account}:cluster/c1", role(customer)
    create = {"Effect": "Allow", "Action": ["eks:CreatePodIdentityAssociation"], "Resource": cluster, "Condition": {"StringEquals": {"aws:RequestTag/team": "a"}}}
    eks = customer.stack.client("eks", **_assumed(customer, create))
    refused = error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=target, tags={"team": "a"})
    assert refused["Code"] == "AccessDeniedException" and f"is not authorized to perform: iam:PassRole on resource: {target}" in refused["Message"]
    pass_to_ec2 = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": target, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}
    eks = customer.stack.client("eks", **_assumed(customer, create, pass_to_ec2))
    assert error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=target, tags={"team": "a"})["Code"] == "AccessDeniedException"
    pass_to_pods = {**pass_to_ec2, "Condition": {"StringEquals": {"iam:PassedToService": "pods.eks.amazonaws.com", "iam:AssociatedResourceArn": cluster}}}
    eks = customer.stack.client("eks", **_assumed(customer, create, pass_to_pods, {"Effect": "Allow", "Action": ["eks:DescribePodIdentityAssociation", "eks:DeletePodIdentityAssociation"], "Resource": f"arn:aws:eks:{REGION}:{customer.account}:podidentityassociation/c1/*"}))
    assert error_of(eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="s", roleArn=target)["Code"] == "AccessDeniedException", "aws:RequestTag"
    made = eks.create_pod_identity_association(clusterName="c1", namespace="n", serviceAccount="s", roleArn=target, tags={"team": "a"})["association"]
    assert eks.describe_pod_identity_association(clusterName="c1", associationId=made["associationId"])["association"]["roleArn"] == target
    eks.delete_pod_identity_association(clusterName="c1", associationId=made["associationId"])


def test_iam_create_and_delete_addon_with_associations_need_the_associations_and_pass_role(stack):
    """The SAR lists podidentityassociation for CreateAddon and DeleteAddon: the associations an
    add-on makes (ids unknown: podidentityassociation/<cluster>/*, with the request's tags) and
    those it deletes with it. The statements mirror the customer role's tag conditions."""
    customer = Customer(stack)
    cluster, target = f"arn:aws:eks:{REGION}:{customer.account}:cluster/c1", role(customer)
    customer.eks.tag_resource(resourceArn=cluster, tags={"byoc:install-id": "inst-1"})
    associations, tags = [{"serviceAccount": CSI_SA, "roleArn": target}], {"byoc:install-id": "inst-1"}
    tagged = {"StringLike": {"aws:RequestTag/byoc:install-id": "inst-*", "aws:ResourceTag/byoc:install-id": "inst-*"}}
    on_cluster = {"Effect": "Allow", "Action": "eks:CreateAddon", "Resource": f"arn:aws:eks:*:{customer.account}:cluster/*", "Condition": tagged}
    pass_to_pods = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": target, "Condition": {"StringEquals": {"iam:PassedToService": "pods.eks.amazonaws.com"}}}
    eks = customer.stack.client("eks", **_assumed(customer, on_cluster, pass_to_pods))
    refused = error_of(eks.create_addon, clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=associations, tags=tags)
    assert f"eks:CreateAddon on resource: arn:aws:eks:{REGION}:{customer.account}:podidentityassociation/c1/*" in refused["Message"], refused
    on_associations = {"Effect": "Allow", "Action": "eks:CreateAddon", "Resource": f"arn:aws:eks:*:{customer.account}:podidentityassociation/*",
                       "Condition": {"StringLike": {"aws:RequestTag/byoc:install-id": "inst-*"}}}
    eks = customer.stack.client("eks", **_assumed(customer, on_cluster, on_associations))
    refused = error_of(eks.create_addon, clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=associations, tags=tags)
    assert f"iam:PassRole on resource: {target}" in refused["Message"]
    eks = customer.stack.client("eks", **_assumed(customer, on_cluster, on_associations, pass_to_pods))
    [arn] = eks.create_addon(clusterName="c1", addonName="aws-ebs-csi-driver", podIdentityAssociations=associations, tags=tags)["addon"]["podIdentityAssociations"]
    delete = {"Effect": "Allow", "Action": "eks:DeleteAddon", "Resource": f"arn:aws:eks:*:{customer.account}:addon/*", "Condition": {"StringLike": {"aws:ResourceTag/byoc:install-id": "inst-*"}}}
    eks = customer.stack.client("eks", **_assumed(customer, delete))
    refused = error_of(eks.delete_addon, clusterName="c1", addonName="aws-ebs-csi-driver")
    assert f"eks:DeleteAddon on resource: {arn}" in refused["Message"], refused
    eks.delete_addon(clusterName="c1", addonName="aws-ebs-csi-driver", preserve=True)


def test_aws_managed_policies_are_known_and_cloudformation_attaches_managed_policy_arns(stack):
    customer = Customer(stack)
    iam, cfn = customer.stack.client("iam", account=customer.account), customer.stack.client("cloudformation", account=customer.account)
    assert iam.get_policy(PolicyArn=EBS_POLICY)["Policy"]["Path"] == "/service-role/"
    template = {"Resources": {"Driver": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "cfn-driver", "AssumeRolePolicyDocument": TRUST, "ManagedPolicyArns": [EBS_POLICY]}}}}
    cfn.create_stack(StackName="driver", TemplateBody=json.dumps(template))
    attached = iam.list_attached_role_policies(RoleName="cfn-driver")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [EBS_POLICY]
    cfn.delete_stack(StackName="driver")
    assert "cfn-driver" not in [r["RoleName"] for r in iam.list_roles()["Roles"]], "detached, then deleted with its stack"
    template["Resources"]["Driver"]["Properties"].update({"RoleName": "cfn-bad", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/NoSuchPolicy"]})
    try:
        cfn.create_stack(StackName="bad", TemplateBody=json.dumps(template))
    except botocore.exceptions.ClientError:
        pass
    assert "cfn-bad" not in [r["RoleName"] for r in iam.list_roles()["Roles"]], "an ARN IAM does not know fails the role"


def test_the_catalogue_offers_the_agent_and_says_the_driver_needs_iam(stack):
    eks = stack.client("eks")
    addons = {a["addonName"]: a for a in eks.describe_addon_versions(kubernetesVersion="1.33")["addons"]}
    assert addons["eks-pod-identity-agent"]["addonVersions"]
    assert all(v["requiresIamPermissions"] for v in addons["aws-ebs-csi-driver"]["addonVersions"])
