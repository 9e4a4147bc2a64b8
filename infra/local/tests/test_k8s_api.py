"""Each EKS cluster's Kubernetes API on the local stack: tokens as `aws eks get-token` makes
them, access entries and access policies as EKS applies them, and controllers that make (and,
when the object is deleted, unmake) load balancers, security groups, target groups and EBS
volumes with exactly the tags the real controllers put on them. The AWS Load Balancer
Controller acts only with its pod identity's role (Customer.load_balancer_controller; what it
is refused: test_k8s_lbc)."""

from __future__ import annotations

import base64
import json
import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3
import botocore.auth
import pytest
from conftest import REGION, VENDOR_ACCOUNT, steer

POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKS{}Policy"
ELB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
POD_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"


def lbc_policy(cluster: str | None = "byoc-inst-*", leave_out: tuple[str, ...] = ()) -> dict:
    """The upstream AWS Load Balancer Controller policy (kubernetes-sigs/aws-load-balancer-
    controller docs/install/iam_policy.json, v2.x), the statements for what the controller does
    here, as the customer stack narrows them: the `elbv2.k8s.aws/cluster` tag must be StringLike
    `cluster`; None keeps upstream's Null checks (any cluster). `leave_out`: actions dropped."""

    def tagged(kind: str) -> dict:
        key = f"aws:{kind}Tag/elbv2.k8s.aws/cluster"
        return {"Null": {key: "false"}} if cluster is None else {"StringLike": {key: cluster}}

    statements = [
        {"Action": ["iam:CreateServiceLinkedRole"], "Resource": "*", "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}},
        {"Action": ["ec2:Describe*", "elasticloadbalancing:Describe*"], "Resource": "*"},
        {"Action": ["ec2:CreateSecurityGroup"], "Resource": "*"},
        {"Action": ["ec2:CreateTags"], "Resource": "arn:aws:ec2:*:*:security-group/*", "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **tagged("Request")}},
        {"Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"], "Resource": "*", "Condition": tagged("Resource")},
        {"Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], "Resource": "*", "Condition": tagged("Request")},
        {"Action": ["elasticloadbalancing:AddTags"], "Resource": [f"arn:aws:elasticloadbalancing:*:*:{kind}/*/*" for kind in ("targetgroup", "loadbalancer/net", "loadbalancer/app")],
         "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]}, **tagged("Request")}},
        {"Action": ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"], "Resource": "*"},
        {"Action": ["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
                    "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup"],
         "Resource": "*", "Condition": tagged("Resource")},
    ]
    kept = [{"Effect": "Allow", **st, "Action": [a for a in st["Action"] if a not in leave_out]} for st in statements]
    return {"Version": "2012-10-17", "Statement": [st for st in kept if st["Action"]]}


def get_token(credentials: dict, cluster: str) -> str:
    """What `aws eks get-token` does (awscli customizations/eks/get_token.py): a presigned
    GetCallerIdentity URL with the signed `x-k8s-aws-id` header, base64url without padding."""
    sts = boto3.client(
        "sts", region_name=REGION, endpoint_url=f"https://sts.{REGION}.amazonaws.com",  # what the CLI resolves; never the local stack
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials.get("SessionToken"),
    )

    def retrieve(params, context, **_):
        if "x-k8s-aws-id" in params:
            context["x-k8s-aws-id"] = params.pop("x-k8s-aws-id")

    def inject(request, **_):
        if "x-k8s-aws-id" in request.context:
            request.headers["x-k8s-aws-id"] = request.context["x-k8s-aws-id"]

    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", retrieve)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    url = sts.generate_presigned_url("get_caller_identity", Params={"x-k8s-aws-id": cluster}, ExpiresIn=60, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class Customer:
    """A fresh account: a VPC with two public subnets (route to an internet gateway, tagged
    kubernetes.io/role/elb) and two private ones (internal-elb), an ACTIVE cluster `name` (`c1`)
    in API mode, and roles `admin` (path /byoc/, ClusterAdmin), `viewer` (View), `web-editor`
    (Edit in namespace web) and `stranger` (no access entry), assumable by the vendor."""

    def __init__(self, stack, version: str = "1.33", name: str = "c1", **eks_settings):
        self.stack = stack
        self.name = name
        self.account = str(random.randint(200_000_000_000, 899_999_999_999))
        if eks_settings:
            steer(stack, "eks", self.account, **eks_settings)
        self.ec2 = stack.client("ec2", account=self.account)
        self.elb = stack.client("elb", account=self.account)
        self.elbv2 = stack.client("elbv2", account=self.account)
        self.eks = stack.client("eks", account=self.account)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        igw = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=self.vpc)
        public_table = self.ec2.create_route_table(VpcId=self.vpc)["RouteTable"]["RouteTableId"]
        self.ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        self.public, self.private = [], []
        for i, zone in enumerate(["us-east-1a", "us-east-1b"]):
            public = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            self.ec2.associate_route_table(RouteTableId=public_table, SubnetId=public)
            private = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.30.{10 + i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            self.ec2.create_tags(Resources=[public], Tags=[{"Key": "kubernetes.io/role/elb", "Value": "1"}])
            self.ec2.create_tags(Resources=[private], Tags=[{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}])
            self.public.append(public)
            self.private.append(private)
        iam = stack.client("iam", account=self.account)
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
        self.roles = {name: iam.create_role(RoleName=name, Path="/byoc/" if name == "admin" else "/", AssumeRolePolicyDocument=trust)["Role"]["Arn"] for name in ("admin", "viewer", "web-editor", "stranger", "nodes")}
        self.eks.create_cluster(name=name, version=version, roleArn=self.roles["nodes"], resourcesVpcConfig={"subnetIds": self.private + self.public},
                                accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
        self.cluster = self.eks.describe_cluster(name=name)["cluster"]
        for role, policy, scope in (("admin", "ClusterAdmin", {"type": "cluster"}), ("viewer", "View", {"type": "cluster"}), ("web-editor", "Edit", {"type": "namespace", "namespaces": ["web*"]})):
            self.eks.create_access_entry(clusterName=name, principalArn=self.roles[role])
            self.eks.associate_access_policy(clusterName=name, principalArn=self.roles[role], policyArn=POLICY.format(policy), accessScope=scope)
        self._credentials: dict[str, dict] = {}

    def credentials(self, role: str) -> dict:
        if role not in self._credentials:
            self._credentials[role] = self.stack.client("sts").assume_role(RoleArn=self.roles[role], RoleSessionName=f"{role}-session")["Credentials"]
        return self._credentials[role]

    def token(self, role: str = "admin", cluster: str | None = None) -> str:
        return get_token(self.credentials(role), cluster or self.name)

    def call(self, method: str, path: str, body: dict | None = None, role: str | None = "admin", token: str | None = None, endpoint: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        token = token if token is not None else (self.token(role) if role else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request((endpoint or self.cluster["endpoint"]) + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def ebs_csi_driver(self, **addon) -> str:
        """The EBS CSI driver as create-cluster installs it: the pod identity agent, and the add-on
        with its controller's association to a role trusting pods.eks.amazonaws.com that has
        AmazonEBSCSIDriverPolicy (EKS User Guide ebs-csi.html; without it claims stay Pending)."""
        iam = self.stack.client("iam", account=self.account)
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
        role = iam.create_role(RoleName="ebs-csi-driver", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="ebs-csi-driver", PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
        self.pod_identity_agent()
        associations = [{"serviceAccount": "ebs-csi-controller-sa", "roleArn": role}]
        return self.eks.create_addon(clusterName=self.name, addonName="aws-ebs-csi-driver", podIdentityAssociations=associations, **addon)["addon"]["addonArn"]

    def pod_identity_agent(self) -> None:
        try:
            self.eks.create_addon(clusterName=self.name, addonName="eks-pod-identity-agent")
        except self.eks.exceptions.ResourceInUseException:
            pass

    def load_balancer_controller(self, policy: dict | None = None, agent: bool = True) -> str:
        """The AWS Load Balancer Controller as the vendor installs it (EKS User Guide lbc-helm.html
        with EKS Pod Identity): a role trusting pods.eks.amazonaws.com with `policy` inline
        (default: lbc_policy(), the customer stack's), the pod identity agent, and the role's
        association for kube-system/aws-load-balancer-controller. Made before the controller
        first acts in the cluster, or its pod never gets the credentials. The role's ARN."""
        iam = self.stack.client("iam", account=self.account)
        name = f"lbc-{random.randrange(16**8):08x}"
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(POD_TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="lbc", PolicyDocument=json.dumps(policy or lbc_policy()))
        if agent:
            self.pod_identity_agent()
        self.eks.create_pod_identity_association(clusterName=self.name, namespace="kube-system", serviceAccount=LBC_SERVICE_ACCOUNT, roleArn=role)
        return role

    def service(self, name: str, ns: str = "web", annotations: dict | None = None, kind: str = "LoadBalancer", ports=((80, "http"), (443, "https"))) -> dict:
        body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "annotations": annotations or {}},
                "spec": {"type": kind, "selector": {"app": name}, "ports": [{"name": n, "port": p, "targetPort": 8080, "protocol": "TCP"} for p, n in ports]}}
        status, created = self.call("POST", f"/api/v1/namespaces/{ns}/services", body)
        assert status == 201, created
        return created

    def tags_of_group(self, name: str) -> dict:
        [group] = self.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [self.vpc]}])["SecurityGroups"]
        return {t["Key"]: t["Value"] for t in group.get("Tags", [])}

    def groups_named(self, prefix: str) -> list[str]:
        groups = self.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [self.vpc]}])["SecurityGroups"]
        return sorted(g["GroupName"] for g in groups if g["GroupName"].startswith(prefix))

    def elbv2_tags(self, arn: str) -> dict:
        [described] = self.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"]
        return {t["Key"]: t["Value"] for t in described["Tags"]}


@pytest.fixture(scope="module")
def customer(stack) -> Customer:
    return Customer(stack)


def test_the_endpoint_appears_once_active_and_serves_while_active(stack):
    account = str(random.randint(200_000_000_000, 899_999_999_999))
    steer(stack, "eks", account, cluster_creating_polls=1)
    ec2 = stack.client("ec2", account=account)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"] for i, z in enumerate(["us-east-1a", "us-east-1b"])]
    eks = stack.client("eks", account=account)
    created = eks.create_cluster(name="c1", roleArn=f"arn:aws:iam::{account}:role/r", resourcesVpcConfig={"subnetIds": subnets})["cluster"]
    assert "endpoint" not in created and "endpoint" not in eks.describe_cluster(name="c1")["cluster"], "no endpoint while CREATING, as on AWS"
    endpoint = eks.describe_cluster(name="c1")["cluster"]["endpoint"]
    port = stack.endpoint.rsplit(":", 1)[1]
    assert endpoint == f"http://127.0.0.1:{port}/moto-api/byoc/k8s/{account}/{REGION}/c1"
    with urllib.request.urlopen(endpoint + "/healthz", timeout=10) as response:
        assert response.read() == b"ok"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(endpoint.replace("/c1", "/nope") + "/version", timeout=10)
    assert missing.value.code == 503


def test_version_needs_a_token_from_1_32_on(stack, customer):
    status, version = customer.call("GET", "/version")
    assert status == 200 and version["gitVersion"].startswith("v1.33.") and version["minor"] == "33"
    assert customer.call("GET", "/version", role=None)[0] == 401, "EKS 1.32+ allows anonymous requests to health checks only"
    assert customer.call("GET", "/healthz", role=None, token="k8s-aws-v1.bad")[0] == 401, "a failing token is not anonymous"
    steer(stack, "eks", customer.account, now="2026-06-01T00:00:00Z")  # when EKS still offered 1.31 (extended support)
    customer.eks.create_cluster(name="old", version="1.31", roleArn=customer.roles["nodes"], resourcesVpcConfig={"subnetIds": customer.private})
    old = customer.eks.describe_cluster(name="old")["cluster"]["endpoint"]
    assert customer.call("GET", "/version", role=None, endpoint=old)[1]["minor"] == "31"


def test_requests_without_a_valid_token_are_unauthorized(stack, customer, monkeypatch):
    good = customer.token("admin")
    fake_key = get_token({"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "c1")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    decoded = base64.urlsafe_b64decode(good[len("k8s-aws-v1."):] + "==").decode()
    unsigned_header = "k8s-aws-v1." + base64.urlsafe_b64encode(decoded.replace("host%3Bx-k8s-aws-id", "host").encode()).decode().rstrip("=")
    cases = {
        "no token": "",
        "not a token": "abc",
        "garbage": "k8s-aws-v1.!!!!",
        "padded": good + "==",
        "unknown key": fake_key,
        "another cluster's token": customer.token("admin", cluster="c2"),
        "tampered signature": tampered,
        "x-k8s-aws-id not signed": unsigned_header,
        "no access entry": customer.token("stranger"),
    }
    for case, token in cases.items():
        status, body = customer.call("GET", "/api/v1/namespaces", role=None, token=token or None)
        assert (status, body.get("kind"), body.get("reason"), body.get("message")) == (401, "Status", "Unauthorized", "Unauthorized"), case
    assert customer.call("GET", "/api/v1/namespaces", role=None, token=good)[0] == 200
    stale = datetime.now(timezone.utc) - timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: stale.replace(tzinfo=None))
    expired = get_token(customer.credentials("viewer"), "c1")
    assert customer.call("GET", "/api/v1/namespaces", role=None, token=expired)[0] == 401, "15 minutes after X-Amz-Date"
    log = stack.log()
    assert good[20:80] not in log and customer.credentials("admin")["SecretAccessKey"] not in log, "tokens and secrets never reach the log"


def test_an_iam_user_key_authenticates_too(stack, customer):
    iam = stack.client("iam", account=customer.account)
    user = iam.create_user(UserName="operator")["User"]["Arn"]
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    customer.eks.create_access_entry(clusterName="c1", principalArn=user)
    customer.eks.associate_access_policy(clusterName="c1", principalArn=user, policyArn=POLICY.format("View"), accessScope={"type": "cluster"})
    status, namespaces = customer.call("GET", "/api/v1/namespaces", token=get_token(key, "c1"))
    assert status == 200 and {"default", "kube-system"} <= {n["metadata"]["name"] for n in namespaces["items"]}


def test_an_entry_made_before_its_role_was_recreated_no_longer_matches(stack, customer):
    iam = stack.client("iam", account=customer.account)
    trust = iam.get_role(RoleName="viewer")["Role"]["AssumeRolePolicyDocument"]
    customer.roles["phoenix"] = iam.create_role(RoleName="phoenix", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    customer.eks.create_access_entry(clusterName="c1", principalArn=customer.roles["phoenix"])
    customer.eks.associate_access_policy(clusterName="c1", principalArn=customer.roles["phoenix"], policyArn=POLICY.format("View"), accessScope={"type": "cluster"})
    assert customer.call("GET", "/api/v1/namespaces", role="phoenix")[0] == 200
    iam.delete_role(RoleName="phoenix")
    iam.create_role(RoleName="phoenix", AssumeRolePolicyDocument=json.dumps(trust))
    customer._credentials.pop("phoenix")
    assert customer.call("GET", "/api/v1/namespaces", role="phoenix")[0] == 401, "same ARN, new principal: the entry must be recreated"


def test_access_policies_decide_what_a_principal_may_do(customer):
    customer.service("shop", ns="web-forbidden-check", kind="ClusterIP")
    viewer = f"arn:aws:sts::{customer.account}:assumed-role/viewer/viewer-session"
    status, listed = customer.call("GET", "/api/v1/namespaces/web-forbidden-check/services", role="viewer")
    assert status == 200 and [s["metadata"]["name"] for s in listed["items"]] == ["shop"] and listed["kind"] == "ServiceList"
    status, denied = customer.call("DELETE", "/api/v1/namespaces/web-forbidden-check/services/shop", role="viewer")
    assert (status, denied["reason"], denied["details"]) == (403, "Forbidden", {"name": "shop", "kind": "services"})
    assert denied["message"] == f'services "shop" is forbidden: User "{viewer}" cannot delete resource "services" in API group "" in the namespace "web-forbidden-check"'
    editor = f"arn:aws:sts::{customer.account}:assumed-role/web-editor/web-editor-session"
    status, denied = customer.call("GET", "/apis/networking.k8s.io/v1/ingresses", role="web-editor")
    assert status == 403 and denied["message"] == f'ingresses.networking.k8s.io is forbidden: User "{editor}" cannot list resource "ingresses" in API group "networking.k8s.io" at the cluster scope'
    assert customer.call("GET", "/api/v1/namespaces/web-forbidden-check/services", role="web-editor")[0] == 200, "web* covers it"
    assert customer.call("GET", "/api/v1/namespaces/default/services", role="web-editor")[0] == 403
    assert customer.call("DELETE", "/api/v1/namespaces/web-forbidden-check/services/shop", role="web-editor")[0] == 200
    assert customer.call("GET", "/api/v1/namespaces/web-forbidden-check/services/shop")[0] == 404


def test_objects_have_the_kubernetes_shape_and_errors_are_statuses(customer):
    created = customer.service("shape", ns="shape", kind="NodePort")
    meta = created["metadata"]
    assert (created["apiVersion"], created["kind"], meta["namespace"]) == ("v1", "Service", "shape")
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z") and meta["finalizers"] == []
    assert all(30000 <= p["nodePort"] <= 32767 for p in created["spec"]["ports"])
    status, conflict = customer.call("POST", "/api/v1/namespaces/shape/services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shape"}, "spec": {"ports": [{"port": 1}]}})
    assert (status, conflict["reason"], conflict["message"]) == (409, "AlreadyExists", 'services "shape" already exists')
    status, missing = customer.call("GET", "/apis/networking.k8s.io/v1/namespaces/shape/ingresses/nope")
    assert (status, missing["reason"], missing["message"], missing["details"]) == (404, "NotFound", 'ingresses.networking.k8s.io "nope" not found', {"name": "nope", "kind": "ingresses", "group": "networking.k8s.io"})
    assert customer.call("POST", "/api/v1/namespaces/shape/services", {"apiVersion": "v1", "kind": "Service", "metadata": {}, "spec": {"ports": [{"port": 1}]}})[0] == 422
    assert customer.call("GET", "/api/v1/nodes")[0] == 404
    status, gone = customer.call("DELETE", "/api/v1/namespaces/shape/services/shape")
    assert (status, gone["kind"], gone["status"], gone["details"]["name"]) == (200, "Status", "Success", "shape")


def test_a_plain_load_balancer_service_gets_a_classic_elb_that_its_deletion_removes(customer):
    created = customer.service("frontend")
    name = "a" + created["metadata"]["uid"].replace("-", "")[:31]
    assert created["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup"]
    [balancer] = customer.elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    assert (balancer["Scheme"], sorted(balancer["Subnets"])) == ("internet-facing", sorted(customer.public))
    assert sorted((l["Listener"]["LoadBalancerPort"], l["Listener"]["InstancePort"]) for l in balancer["ListenerDescriptions"]) == sorted((p["port"], p["nodePort"]) for p in created["spec"]["ports"])
    [tags] = customer.elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"]
    assert {t["Key"]: t["Value"] for t in tags["Tags"]} == {"kubernetes.io/cluster/c1": "owned", "kubernetes.io/service-name": "web/frontend"}
    assert customer.tags_of_group(f"k8s-elb-{name}") == {"kubernetes.io/cluster/c1": "owned"}
    status, seen = customer.call("GET", "/api/v1/namespaces/web/services/frontend")
    assert status == 200 and seen["status"]["loadBalancer"]["ingress"][0]["hostname"] == balancer["DNSName"]

    status, gone = customer.call("DELETE", "/api/v1/namespaces/web/services/frontend")
    assert (status, gone["status"]) == (200, "Success")
    assert name not in [b["LoadBalancerName"] for b in customer.elb.describe_load_balancers()["LoadBalancerDescriptions"]]
    assert customer.groups_named(f"k8s-elb-{name}") == []


def test_an_internal_classic_elb_uses_the_private_subnets(customer):
    created = customer.service("inside", annotations={"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}, ports=((80, "http"),))
    name = "a" + created["metadata"]["uid"].replace("-", "")[:31]
    [balancer] = customer.elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    assert (balancer["Scheme"], sorted(balancer["Subnets"])) == ("internal", sorted(customer.private))
    customer.call("DELETE", "/api/v1/namespaces/web/services/inside")


def test_the_nlb_annotation_gets_an_in_tree_nlb_with_a_target_group_per_port(customer):
    created = customer.service("tcp", annotations={ELB_TYPE: "nlb"})
    name = "a" + created["metadata"]["uid"].replace("-", "")[:31]
    [balancer] = customer.elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    assert balancer["Type"] == "network"
    owned = {"kubernetes.io/cluster/c1": "owned", "kubernetes.io/service-name": "web/tcp"}
    assert customer.elbv2_tags(balancer["LoadBalancerArn"]) == owned
    groups = customer.elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]
    assert sorted(g["Port"] for g in groups) == sorted(p["nodePort"] for p in created["spec"]["ports"])
    for group in groups:
        assert group["TargetGroupName"].startswith("k8s-web-tcp-") and len(group["TargetGroupName"]) == len("k8s-web-tcp-") + 10
        assert customer.elbv2_tags(group["TargetGroupArn"]) == owned
    customer.call("DELETE", "/api/v1/namespaces/web/services/tcp")
    assert name not in [b["LoadBalancerName"] for b in customer.elbv2.describe_load_balancers()["LoadBalancers"]]
    remaining = [g["TargetGroupArn"] for g in customer.elbv2.describe_target_groups()["TargetGroups"]]
    assert not set(g["TargetGroupArn"] for g in groups) & set(remaining)


def test_external_services_and_alb_ingresses_are_the_load_balancer_controllers(customer):
    customer.load_balancer_controller(lbc_policy(None))  # before the controller first acts here; upstream's policy: any cluster
    service = customer.service("edge", annotations={ELB_TYPE: "external"})
    assert service["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup", "service.k8s.aws/resources"]
    [nlb] = [b for b in customer.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"].startswith("k8s-web-edge-")]
    assert (nlb["Type"], nlb["Scheme"], sorted(nlb["AvailabilityZones"][i]["SubnetId"] for i in range(2))) == ("network", "internal", sorted(customer.private))
    stack = {"elbv2.k8s.aws/cluster": "c1", "service.k8s.aws/stack": "web/edge"}
    assert customer.elbv2_tags(nlb["LoadBalancerArn"]) == {**stack, "service.k8s.aws/resource": "LoadBalancer"}
    for group in customer.elbv2.describe_target_groups(LoadBalancerArn=nlb["LoadBalancerArn"])["TargetGroups"]:
        assert customer.elbv2_tags(group["TargetGroupArn"])["service.k8s.aws/resource"] in ("web/edge:80", "web/edge:443")
    [managed] = customer.groups_named("k8s-web-edge-")
    assert customer.tags_of_group(managed) == {**stack, "service.k8s.aws/resource": "ManagedLBSecurityGroup"}
    [backend] = customer.groups_named("k8s-traffic-c1-")
    assert customer.tags_of_group(backend) == {"elbv2.k8s.aws/cluster": "c1", "elbv2.k8s.aws/resource": "backend-sg"}

    customer.service("api", kind="NodePort", ports=((8080, "http"),))
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "site", "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
               "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}}]}}]}}
    status, created = customer.call("POST", "/apis/networking.k8s.io/v1/namespaces/web/ingresses", ingress)
    assert status == 201 and created["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
    [alb] = [b for b in customer.elbv2.describe_load_balancers()["LoadBalancers"] if b["Type"] == "application"]
    assert created["status"]["loadBalancer"]["ingress"][0]["hostname"] == alb["DNSName"] and alb["Scheme"] == "internet-facing"
    site = {"elbv2.k8s.aws/cluster": "c1", "ingress.k8s.aws/stack": "web/site"}
    assert customer.elbv2_tags(alb["LoadBalancerArn"]) == {**site, "ingress.k8s.aws/resource": "LoadBalancer"}
    [group] = customer.elbv2.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]
    assert customer.elbv2_tags(group["TargetGroupArn"]) == {**site, "ingress.k8s.aws/resource": "web/site-api:8080"}
    [alb_group] = customer.groups_named("k8s-web-site-")
    assert customer.tags_of_group(alb_group) == {**site, "ingress.k8s.aws/resource": "ManagedLBSecurityGroup"}
    assert customer.groups_named("k8s-traffic-c1-") == [backend], "one shared backend group"

    assert customer.call("DELETE", "/apis/networking.k8s.io/v1/namespaces/web/ingresses/site")[1]["status"] == "Success"
    assert customer.call("DELETE", "/api/v1/namespaces/web/services/edge")[1]["status"] == "Success"
    assert customer.elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert customer.elbv2.describe_target_groups()["TargetGroups"] == []
    assert customer.groups_named("k8s-") == [], "the backend group goes with the last load balancer"
    customer.call("DELETE", "/api/v1/namespaces/web/services/api")


def test_volume_claims_wait_for_the_ebs_csi_driver_and_take_its_tags(stack):
    customer = Customer(stack)
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"storageClassName": "gp2", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}}
    status, created = customer.call("POST", "/api/v1/namespaces/db/persistentvolumeclaims", claim)
    assert (status, created["status"]["phase"], created["metadata"]["finalizers"]) == (201, "Pending", ["kubernetes.io/pvc-protection"])
    assert customer.ec2.describe_volumes()["Volumes"] == [], "gp2 is served by the CSI driver since 1.23"
    config = '{"controller":{"extraVolumeTags":{"byoc:install-id":"inst-1"}}}'
    customer.ebs_csi_driver(configurationValues=config)
    status, bound = customer.call("GET", "/api/v1/namespaces/db/persistentvolumeclaims/data")
    pv = f"pvc-{created['metadata']['uid']}"
    assert (bound["status"]["phase"], bound["spec"]["volumeName"], bound["status"]["capacity"]) == ("Bound", pv, {"storage": "20Gi"})
    [volume] = customer.ec2.describe_volumes()["Volumes"]
    assert (volume["Size"], volume["VolumeType"], volume["AvailabilityZone"]) == (20, "gp2", "us-east-1a")
    assert {t["Key"]: t["Value"] for t in volume["Tags"]} == {
        "CSIVolumeName": pv, "ebs.csi.aws.com/cluster": "true", "byoc:install-id": "inst-1",
        "kubernetes.io/created-for/pvc/name": "data", "kubernetes.io/created-for/pvc/namespace": "db", "kubernetes.io/created-for/pv/name": pv}
    assert customer.call("DELETE", "/api/v1/namespaces/db/persistentvolumeclaims/data")[1]["status"] == "Success"
    assert customer.ec2.describe_volumes()["Volumes"] == [], "reclaim policy Delete"


def test_an_attached_volume_keeps_its_claim_terminating_until_detached(stack):
    customer = Customer(stack)
    customer.ebs_csi_driver()
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1536Mi"}}}}
    customer.call("POST", "/api/v1/namespaces/db/persistentvolumeclaims", claim)
    [volume] = customer.ec2.describe_volumes()["Volumes"]
    assert (volume["Size"], volume["VolumeType"]) == (2, "gp3")
    image = customer.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = customer.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=customer.private[0])["Instances"][0]["InstanceId"]
    customer.ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance, Device="/dev/xvdba")
    status, terminating = customer.call("DELETE", "/api/v1/namespaces/db/persistentvolumeclaims/data")
    assert status == 200 and terminating["metadata"]["deletionTimestamp"] and terminating["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert customer.call("GET", "/api/v1/namespaces/db/persistentvolumeclaims/data")[0] == 200
    customer.ec2.detach_volume(VolumeId=volume["VolumeId"], InstanceId=instance)  # moto needs the instance
    assert customer.call("GET", "/api/v1/persistentvolumeclaims")[1]["items"] == []
    assert volume["VolumeId"] not in [v["VolumeId"] for v in customer.ec2.describe_volumes()["Volumes"]], "deleted once detached"


def test_finalize_polls_keep_a_deleted_service_terminating_for_that_many_reads(stack):
    customer = Customer(stack)
    steer(stack, "k8s", customer.account, finalize_polls=2)
    created = customer.service("slow", ports=((80, "http"),))
    name = "a" + created["metadata"]["uid"].replace("-", "")[:31]
    status, terminating = customer.call("DELETE", "/api/v1/namespaces/web/services/slow")
    assert status == 200 and terminating["metadata"]["deletionTimestamp"]
    assert customer.call("GET", "/api/v1/namespaces/web/services/slow")[0] == 200
    assert [s["metadata"]["name"] for s in customer.call("GET", "/api/v1/services")[1]["items"]] == ["slow"]
    assert customer.elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"], "the controller is not done yet"
    assert customer.call("GET", "/api/v1/namespaces/web/services/slow")[0] == 404
    assert name not in [b["LoadBalancerName"] for b in customer.elb.describe_load_balancers()["LoadBalancerDescriptions"]]


def test_deleting_the_cluster_first_leaks_what_the_controllers_made(stack):
    customer = Customer(stack)
    created = customer.service("orphan", ports=((80, "http"),))
    name = "a" + created["metadata"]["uid"].replace("-", "")[:31]
    customer.eks.delete_cluster(name="c1")
    [balancer] = customer.elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    [tags] = customer.elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"]
    assert {t["Key"]: t["Value"] for t in tags["Tags"]}["kubernetes.io/cluster/c1"] == "owned", "only the tag key names the cluster"
    assert customer.groups_named(f"k8s-elb-{name}") == [f"k8s-elb-{name}"]
    assert customer.call("GET", "/api/v1/services")[0] == 503
