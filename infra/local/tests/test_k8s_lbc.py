"""The AWS Load Balancer Controller's credentials on the local stack (moto_ext/k8s_lbc.py): its
pods (kube-system/aws-load-balancer-controller) get AWS credentials only from an EKS Pod
Identity association that existed when the controller started, with the agent running; each
call it makes is authorized against that role as IAM would. Refused: nothing is made, the
object gets no hostname, the controller's error is logged; a refused cleanup keeps the object
terminating."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from conftest import REGION
from test_k8s_api import ELB_TYPE, Customer, lbc_policy

IMDS = "get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, canceled, context deadline exceeded"
AGENT_DOWN = "dial tcp 169.254.170.23:80: connect: connection refused"


def customer_with(stack, cluster: str | None = None) -> Customer:
    """A fresh account whose cluster is named as the customer stack names it (byoc-inst-...)."""
    return Customer(stack, name=cluster or f"byoc-inst-{uuid.uuid4().hex[:8]}")


def ingress(customer: Customer, name: str, ns: str = "web", backends: tuple[str, ...] = ("api",)) -> dict:
    """A NodePort service per backend and an internet-facing ALB Ingress routing "/" to the
    first and "/<backend>" to each other one; the created Ingress."""
    paths = []
    for i, backend in enumerate(backends):
        customer.service(f"{name}-{backend}", ns=ns, kind="NodePort", ports=((8080, "http"),))
        paths.append({"path": "/" if i == 0 else f"/{backend}", "pathType": "Prefix", "backend": {"service": {"name": f"{name}-{backend}", "port": {"number": 8080}}}})
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
            "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": paths}}]}}
    status, created = customer.call("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", body)
    assert status == 201, created
    return created


def read(customer: Customer, name: str, ns: str = "web") -> tuple[int, dict]:
    return customer.call("GET", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}")


def made(customer: Customer) -> dict:
    """What the controller made in the account: load balancers, target groups, k8s- groups."""
    return {"lbs": [b["LoadBalancerName"] for b in customer.elbv2.describe_load_balancers()["LoadBalancers"]],
            "tgs": [g["TargetGroupName"] for g in customer.elbv2.describe_target_groups()["TargetGroups"]],
            "sgs": customer.groups_named("k8s-")}


NOTHING = {"lbs": [], "tgs": [], "sgs": []}


def logged(customer: Customer, what: str, fragment: str) -> str | None:
    """The log line where the controller said `what` (e.g. "alb controller could not reconcile
    web/x:") with `fragment`; object names are unique per test."""
    return next((line for line in customer.stack.log().splitlines() if what in line and fragment in line), None)


def test_without_an_association_nothing_is_made_and_the_error_is_logged(stack):
    customer = customer_with(stack)
    customer.pod_identity_agent()
    name = f"noid-{uuid.uuid4().hex[:6]}"
    created = ingress(customer, name)
    edge = customer.service(f"{name}-nlb", annotations={ELB_TYPE: "external"}, ports=((80, "http"),))
    assert created["status"]["loadBalancer"] == {} and edge["status"]["loadBalancer"] == {}
    assert read(customer, name)[1]["status"]["loadBalancer"] == {}, "retried, still refused"
    assert made(customer) == NOTHING, "no load balancer, target group or security group"
    line = logged(customer, f"alb controller could not reconcile web/{name}:", "Failed deploy model due to operation error EC2: CreateSecurityGroup, " + IMDS)
    assert line, "the SDK's chain ends at IMDS, which AL2023 nodes give pods none of"
    assert logged(customer, f"lbc-nlb controller could not reconcile web/{name}-nlb:", "Failed deploy model due to operation error EC2: CreateSecurityGroup, " + IMDS)
    # Its cleanup must look the stack's resources up first: without credentials the object stays.
    status, terminating = customer.call("DELETE", f"/apis/networking.k8s.io/v1/namespaces/web/ingresses/{name}")
    assert status == 200 and terminating["metadata"]["deletionTimestamp"] and terminating["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
    assert read(customer, name)[0] == 200, "stays terminating"
    assert logged(customer, f"alb controller could not clean up web/{name}:", "Failed deploy model due to operation error Elastic Load Balancing v2: DescribeLoadBalancers, " + IMDS)


def test_an_association_made_after_the_controller_started_does_not_help(stack):
    customer = customer_with(stack)
    name = f"late-{uuid.uuid4().hex[:6]}"
    ingress(customer, name)  # the controller acts here first: its pod has started
    customer.load_balancer_controller()
    assert read(customer, name)[1]["status"]["loadBalancer"] == {}
    assert made(customer) == NOTHING
    assert logged(customer, f"alb controller could not reconcile web/{name}:", IMDS), "EKS injects credentials when a pod starts"
    other = f"late2-{uuid.uuid4().hex[:6]}"
    ingress(customer, other)
    assert made(customer) == NOTHING, "nor for objects made later: the same pod"


def test_the_agent_must_run_when_the_controller_calls_aws(stack):
    customer = customer_with(stack)
    customer.load_balancer_controller(agent=False)
    name = f"agent-{uuid.uuid4().hex[:6]}"
    ingress(customer, name)
    assert made(customer) == NOTHING
    assert logged(customer, f"alb controller could not reconcile web/{name}:", "operation error EC2: CreateSecurityGroup, get identity: get credentials: failed to refresh cached credentials, failed to load credentials, operation error ecs container credentials: GetCredentials, " + AGENT_DOWN)
    customer.pod_identity_agent()
    assert read(customer, name)[1]["status"]["loadBalancer"]["ingress"][0]["hostname"], "the association was there when the pod started"


def test_a_role_without_create_load_balancer_gets_nothing_made(stack):
    customer = customer_with(stack)
    role = customer.load_balancer_controller(lbc_policy(leave_out=("elasticloadbalancing:CreateLoadBalancer",)))
    name = f"nolb-{uuid.uuid4().hex[:6]}"
    ingress(customer, name)
    assert read(customer, name)[1]["status"]["loadBalancer"] == {}
    assert made(customer) == NOTHING, "the security groups and target group it may make are not made either"
    line = logged(customer, f"alb controller could not reconcile web/{name}:", "Failed deploy model due to operation error Elastic Load Balancing v2: CreateLoadBalancer, https response error StatusCode: 403, api error AccessDenied: User: ")
    assert line, "the ELB API's AccessDenied"
    session = rf"arn:aws:sts::{customer.account}:assumed-role/{role.rsplit('/', 1)[1]}/eks-{customer.name}-aws-load-balancer-controller-[0-9a-f]{{10}}"
    balancer = rf"arn:aws:elasticloadbalancing:{REGION}:{customer.account}:loadbalancer/app/k8s-web-{name.replace('-', '')[:8]}-[0-9a-f]{{10}}/\*"
    assert re.search(f"User: {session} is not authorized to perform: elasticloadbalancing:CreateLoadBalancer on resource: {balancer} because no identity-based policy allows the elasticloadbalancing:CreateLoadBalancer action", line), line
    # Permissions are evaluated at each call: fixing the role's policy is enough.
    iam = stack.client("iam", account=customer.account)
    iam.put_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyName="lbc", PolicyDocument=json.dumps(lbc_policy()))
    assert read(customer, name)[1]["status"]["loadBalancer"]["ingress"][0]["hostname"]
    assert len(made(customer)["lbs"]) == 1


def _ec2_any_elb_narrow() -> dict:
    ec2 = [st for st in lbc_policy(None)["Statement"] if all(a.startswith("ec2:") for a in st["Action"])]
    elb = [st for st in lbc_policy()["Statement"] if not all(a.startswith("ec2:") for a in st["Action"])]
    return {"Version": "2012-10-17", "Statement": ec2 + elb}


@pytest.mark.parametrize("cluster, policy, call, refused", [
    # the customer stack's policy wants byoc-inst-* in the tags the controller puts on what it makes
    ("shop-", lbc_policy, "EC2: CreateSecurityGroup, https response error StatusCode: 403, api error UnauthorizedOperation: You are not authorized to perform this operation. ",
     "ec2:CreateTags on resource: arn:aws:ec2:{region}:{account}:security-group/* because no identity-based policy allows the ec2:CreateTags action"),
    # EC2 statements for any cluster: the first ELB call (target groups before the load balancer)
    ("shop-", _ec2_any_elb_narrow, "Elastic Load Balancing v2: CreateTargetGroup, https response error StatusCode: 403, api error AccessDenied: ",
     "elasticloadbalancing:CreateTargetGroup on resource: arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/k8s-web-"),
    # tags on create are elasticloadbalancing:AddTags with elasticloadbalancing:CreateAction
    ("byoc-inst-", lambda: lbc_policy(leave_out=("elasticloadbalancing:AddTags",)), "Elastic Load Balancing v2: CreateTargetGroup, https response error StatusCode: 403, api error AccessDenied: ",
     "elasticloadbalancing:AddTags on resource: arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/k8s-web-"),
], ids=["other-cluster", "elb-tag-condition", "no-add-tags"])
def test_tag_conditions_and_tags_on_create_are_evaluated(stack, cluster, policy, call, refused):
    customer = customer_with(stack, cluster=f"{cluster}{uuid.uuid4().hex[:8]}")
    role = customer.load_balancer_controller(policy())
    name = f"tags-{uuid.uuid4().hex[:6]}"
    ingress(customer, name)
    assert made(customer) == NOTHING, "nothing, not even what the role may make"
    line = logged(customer, f"alb controller could not reconcile web/{name}:", f"Failed deploy model due to operation error {call}")
    assert line and refused.format(region=REGION, account=customer.account) in line, line
    assert f"User: arn:aws:sts::{customer.account}:assumed-role/{role.rsplit('/', 1)[1]}/eks-{customer.name}-aws-load-balancer-controller-" in line


def test_with_its_role_the_controller_makes_and_deletes_as_before(stack):
    customer = customer_with(stack)
    customer.load_balancer_controller()
    name = f"site-{uuid.uuid4().hex[:6]}"
    created = ingress(customer, name, backends=("api", "admin"))
    [alb] = customer.elbv2.describe_load_balancers()["LoadBalancers"]
    assert created["status"]["loadBalancer"]["ingress"][0]["hostname"] == alb["DNSName"] and (alb["Type"], alb["Scheme"]) == ("application", "internet-facing")
    site = {"elbv2.k8s.aws/cluster": customer.name, "ingress.k8s.aws/stack": f"web/{name}"}
    assert customer.elbv2_tags(alb["LoadBalancerArn"]) == {**site, "ingress.k8s.aws/resource": "LoadBalancer"}
    groups = {g["TargetGroupArn"]: customer.elbv2_tags(g["TargetGroupArn"])["ingress.k8s.aws/resource"] for g in customer.elbv2.describe_target_groups()["TargetGroups"]}
    assert sorted(groups.values()) == [f"web/{name}-{name}-admin:8080", f"web/{name}-{name}-api:8080"]
    [listener] = customer.elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("HTTP", 80)
    assert groups[listener["DefaultActions"][0]["TargetGroupArn"]].endswith("-api:8080")
    [rule] = [r for r in customer.elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert rule["Conditions"][0]["Values"] == ["/admin"] and groups[rule["Actions"][0]["TargetGroupArn"]].endswith("-admin:8080")
    groups = customer.groups_named("k8s-")
    assert len(groups) == 2 and any(g.startswith(f"k8s-traffic-{customer.name.replace('-', '')}-") for g in groups)
    edge = customer.service(f"{name}-nlb", annotations={ELB_TYPE: "external"}, ports=((80, "http"),))
    assert edge["status"]["loadBalancer"]["ingress"][0]["hostname"]
    assert len(made(customer)["lbs"]) == 2 and len(customer.groups_named("k8s-")) == 3, "one shared backend group"

    assert customer.call("DELETE", f"/apis/networking.k8s.io/v1/namespaces/web/ingresses/{name}")[1]["status"] == "Success"
    assert customer.call("DELETE", f"/api/v1/namespaces/web/services/{name}-nlb")[1]["status"] == "Success"
    assert made(customer) == NOTHING, "the backend group goes with the last load balancer"


def test_a_refused_deletion_keeps_the_object_terminating(stack):
    customer = customer_with(stack)
    role = customer.load_balancer_controller()
    name = f"keep-{uuid.uuid4().hex[:6]}"
    ingress(customer, name)
    assert len(made(customer)["lbs"]) == 1
    iam = stack.client("iam", account=customer.account)
    role_name = role.rsplit("/", 1)[1]
    iam.put_role_policy(RoleName=role_name, PolicyName="lbc", PolicyDocument=json.dumps(lbc_policy(leave_out=("ec2:DeleteSecurityGroup",))))
    status, terminating = customer.call("DELETE", f"/apis/networking.k8s.io/v1/namespaces/web/ingresses/{name}")
    assert status == 200 and terminating["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]
    assert read(customer, name)[0] == 200
    assert made(customer)["lbs"] == [] and made(customer)["tgs"] == [], "what it may delete goes first"
    assert len(made(customer)["sgs"]) == 2
    line = logged(customer, f"alb controller could not clean up web/{name}:", "Failed deploy model due to operation error EC2: DeleteSecurityGroup, https response error StatusCode: 403, api error UnauthorizedOperation: ")
    assert line and "is not authorized to perform: ec2:DeleteSecurityGroup on resource: arn:aws:ec2:" in line, line
    iam.put_role_policy(RoleName=role_name, PolicyName="lbc", PolicyDocument=json.dumps(lbc_policy()))
    assert read(customer, name)[0] == 404
    assert made(customer) == NOTHING


def test_a_role_whose_trust_does_not_match_the_session_tags_is_not_assumed(stack):
    customer = customer_with(stack)
    iam = stack.client("iam", account=customer.account)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                     "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "other"}}}]}
    role = iam.create_role(RoleName=f"lbc-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyName="lbc", PolicyDocument=json.dumps(lbc_policy()))
    customer.pod_identity_agent()
    customer.eks.create_pod_identity_association(clusterName=customer.name, namespace="kube-system", serviceAccount="aws-load-balancer-controller", roleArn=role)
    name = f"trust-{uuid.uuid4().hex[:6]}"
    ingress(customer, name)
    assert made(customer) == NOTHING
    assert logged(customer, f"alb controller could not reconcile web/{name}:", f"operation error EKS Auth: AssumeRoleForPodIdentity, api error AccessDeniedException: pods.eks.amazonaws.com is not authorized to perform: sts:AssumeRole and sts:TagSession on resource: {role}")


def test_a_call_the_stack_cannot_evaluate_is_refused_naming_it():
    """In process (moto's backends, no server): controller_refusal never allows what
    iam_context cannot build; the LBC's ELBv2 creates, which name the new resource by `Name`, are
    evaluated (an untagged one is refused by the customer stack's policy)."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from conftest import fresh_account
    from moto.iam.models import iam_backends
    from moto_ext import eks_pod_identity, k8s_lbc

    account = fresh_account()
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    iam = iam_backends[account]["aws"]
    role = iam.create_role("lbc", json.dumps(trust), "/", None, "", [], None)
    iam.put_role_policy("lbc", "lbc", json.dumps(lbc_policy()))
    cluster = SimpleNamespace(name="byoc-inst-unit", arn=f"arn:aws:eks:{REGION}:{account}:cluster/byoc-inst-unit",
                              byoc_addons={"eks-pod-identity-agent": SimpleNamespace(status="ACTIVE")})
    started = datetime.now(timezone.utc)
    eks_pod_identity.associations(cluster)["a-unit"] = {"namespace": "kube-system", "serviceAccount": "aws-load-balancer-controller", "roleArn": role.arn,
                                                         "associationArn": f"arn:aws:eks:{REGION}:{account}:podidentityassociation/byoc-inst-unit/a-unit",
                                                         "createdAt": started - timedelta(seconds=1)}
    tags = [{"Key": "elbv2.k8s.aws/cluster", "Value": "byoc-inst-unit"}]
    create = ("elasticloadbalancing", "CreateTargetGroup", {"Name": "k8s-web-x-0123456789", "Protocol": "HTTP", "Port": 30080, "Tags": tags})

    def ask(calls: list, contexts=k8s_lbc._contexts({}), since: datetime = started) -> str | None:
        return eks_pod_identity.controller_refusal(account, REGION, cluster, "kube-system", "aws-load-balancer-controller", calls, since, contexts)

    assert ask([create]) is None, "built by k8s_lbc: allowed by the customer stack's policy"
    assert ask([]) is None, "no calls: only the credentials are decided"
    assert ask([create], contexts=None) is None, "iam_resolvers names the new target group by its Name"
    untagged = ask([("elasticloadbalancing", "CreateTargetGroup", {"Name": "k8s-web-x-0123456789", "Protocol": "HTTP", "Port": 30080})])
    assert untagged is not None and "is not authorized to perform: elasticloadbalancing:CreateTargetGroup" in untagged, untagged
    unknown = ask([create, ("elasticloadbalancing", "CreateTeleporter", {})])
    assert unknown == ("operation error Elastic Load Balancing v2: CreateTeleporter, the local stack cannot evaluate the controller's permissions: "
                       "elasticloadbalancing:CreateTeleporter: no such action in the Service Authorization Reference data"), unknown
    late = ask([create], since=started - timedelta(seconds=2))
    assert late == "operation error Elastic Load Balancing v2: CreateTargetGroup, " + IMDS, "an association made after the pod started does not count"
