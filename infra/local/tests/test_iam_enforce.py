"""Requests from assumed-role sessions are authorized as IAM does, and refused as AWS refuses.

Each test makes a role in the customer account with the policies it needs, assumes it from
the vendor account, and calls the local stack as the installer would.
"""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest
from conftest import CUSTOMER_ACCOUNT, REGION, VENDOR_ACCOUNT

INSTALL_TAGS = [{"Key": "byoc:install-id", "Value": "inst-test"}]


def _role(stack, *statements, boundary: list[dict] | None = None, account: str = CUSTOMER_ACCOUNT) -> dict:
    iam = stack.client("iam", account=account)
    name = f"iam-test-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    kwargs = {}
    if boundary is not None:
        policy = iam.create_policy(PolicyName=f"{name}-boundary", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": boundary}))
        kwargs["PermissionsBoundary"] = policy["Policy"]["Arn"]
    role = iam.create_role(RoleName=name, Path="/byoc/", AssumeRolePolicyDocument=json.dumps(trust), **kwargs)["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="test", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    creds = stack.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="iam-test")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"], "aws_session_token": creds["SessionToken"]}


def _allow(actions, resource="*", condition=None, effect="Allow") -> dict:
    statement = {"Effect": effect, "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


TAGGED_REQUEST = {"StringLike": {"aws:RequestTag/byoc:install-id": "inst-*"}}
TAGGED_RESOURCE = {"StringLike": {"aws:ResourceTag/byoc:install-id": "inst-*"}}
TAG_ON_CREATE = _allow("ec2:CreateTags", condition={**TAGGED_REQUEST, "StringEquals": {"ec2:CreateAction": ["CreateVpc", "CreateSubnet", "CreateNatGateway"]}})


def _vpc(ec2) -> str:
    return ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": INSTALL_TAGS}])["Vpc"]["VpcId"]


def _refused(call, code="UnauthorizedOperation") -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert error["Code"] == code, error
    return error


def test_a_condition_on_request_tags_refuses_the_existing_vpc_a_create_subnet_names(stack):
    """EC2 User Guide: a condition on one of several resources needs its own statement."""
    creds = _role(stack, _allow(["ec2:CreateVpc", "ec2:CreateSubnet"], condition=TAGGED_REQUEST), TAG_ON_CREATE)
    ec2 = stack.client("ec2", **creds)
    vpc = _vpc(ec2)
    error = _refused(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", TagSpecifications=[{"ResourceType": "subnet", "Tags": INSTALL_TAGS}]))
    assert f"is not authorized to perform: ec2:CreateSubnet on resource: arn:aws:ec2:{REGION}:{CUSTOMER_ACCOUNT}:vpc/{vpc}" in error["Message"]
    assert "Encoded authorization failure message: " in error["Message"]


def test_one_statement_per_resource_type_allows_create_subnet(stack):
    creds = _role(
        stack,
        _allow(["ec2:CreateVpc", "ec2:CreateSubnet"], resource=["arn:aws:ec2:*:*:vpc/*", "arn:aws:ec2:*:*:subnet/*"], condition=TAGGED_REQUEST),
        _allow("ec2:CreateSubnet", resource="arn:aws:ec2:*:*:vpc/*", condition=TAGGED_RESOURCE),
        TAG_ON_CREATE,
    )
    ec2 = stack.client("ec2", **creds)
    vpc = _vpc(ec2)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", TagSpecifications=[{"ResourceType": "subnet", "Tags": INSTALL_TAGS}])["Subnet"]
    assert subnet["VpcId"] == vpc


def test_tags_on_a_create_need_ec2_create_tags(stack):
    creds = _role(stack, _allow("ec2:CreateVpc"))
    ec2 = stack.client("ec2", **creds)
    error = _refused(lambda: _vpc(ec2))
    assert "ec2:CreateTags" in error["Message"]
    # the same create without tags needs no CreateTags
    assert ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"].startswith("vpc-")


def test_an_explicit_deny_wins_over_an_allow(stack):
    creds = _role(stack, _allow("ec2:*"), _allow("ec2:DeleteVpc", effect="Deny"))
    ec2 = stack.client("ec2", **creds)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    error = _refused(lambda: ec2.delete_vpc(VpcId=vpc))
    assert "with an explicit deny in an identity-based policy" in error["Message"]
    assert stack.client("ec2", account=CUSTOMER_ACCOUNT).describe_vpcs(VpcIds=[vpc])["Vpcs"]


def test_a_permissions_boundary_without_the_action_refuses_it(stack):
    creds = _role(stack, _allow("ec2:*"), boundary=[_allow(["ec2:Describe*", "ec2:CreateVpc", "ec2:CreateTags"])])
    ec2 = stack.client("ec2", **creds)
    ec2.create_vpc(CidrBlock="10.6.0.0/16")
    error = _refused(lambda: ec2.allocate_address(Domain="vpc"))
    assert "because no permissions boundary allows the ec2:AllocateAddress action" in error["Message"]


def test_dry_run_answers_with_the_same_evaluation_and_decodes(stack):
    creds = _role(stack, _allow(["ec2:CreateVpc", "ec2:CreateTags", "sts:DecodeAuthorizationMessage"]))
    ec2 = stack.client("ec2", **creds)
    _refused(lambda: ec2.create_vpc(CidrBlock="10.5.0.0/16", DryRun=True), code="DryRunOperation")
    assert not stack.client("ec2", account=CUSTOMER_ACCOUNT).describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.5.0.0/16"]}])["Vpcs"]
    error = _refused(lambda: ec2.allocate_address(Domain="vpc", DryRun=True))
    encoded = error["Message"].rsplit("Encoded authorization failure message: ", 1)[1]
    decoded = json.loads(stack.client("sts", **creds).decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["allowed"] is False
    assert decoded["context"]["action"] == "ec2:AllocateAddress"
    assert decoded["context"]["resource"] == f"arn:aws:ec2:{REGION}:{CUSTOMER_ACCOUNT}:elastic-ip/*"


def test_eks_create_cluster_needs_pass_role_for_the_cluster_role(stack):
    creds = _role(stack, _allow(["eks:CreateCluster", "iam:CreateServiceLinkedRole"]))
    eks = stack.client("eks", **creds)
    ec2 = stack.client("ec2", account=CUSTOMER_ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.4.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    role = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/byoc/cluster-role"
    error = _refused(lambda: eks.create_cluster(name=f"c-{uuid.uuid4().hex[:6]}", roleArn=role, resourcesVpcConfig={"subnetIds": subnets}), code="AccessDeniedException")
    assert f"is not authorized to perform: iam:PassRole on resource: {role}" in error["Message"]


def test_a_request_the_stack_cannot_evaluate_is_refused_loudly(stack):
    creds = _role(stack, _allow("*"))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        stack.client("kms", **creds).list_keys()  # no request-context builder for KMS
    assert raised.value.response["Error"]["Code"] == "BYOCEmulatorCannotAuthorize"
    log = (stack.state_dir / "logs" / "iam-decisions.jsonl").read_text()
    assert '"decision": "unevaluable"' in log and "kms:ListKeys" in log


def test_decisions_are_logged_with_the_deciding_statement(stack):
    creds = _role(stack, {"Sid": "DescribeAll", **_allow("ec2:Describe*")})
    stack.client("ec2", **creds).describe_vpcs()
    entries = [json.loads(line) for line in (stack.state_dir / "logs" / "iam-decisions.jsonl").read_text().splitlines()]
    mine = [e for e in entries if e["action"] == "ec2:DescribeVpcs" and e["decision"] == "allow" and e["decided_by"] == "inline:test#DescribeAll"]
    assert mine and mine[0]["resource"] == "*"


def test_classic_load_balancers_are_authorized_by_name_and_their_tags(stack):
    """A Classic load balancer is arn:...:loadbalancer/<name>, with its tags as
    aws:ResourceTag/* (Service Authorization Reference, Elastic Load Balancing 2012-06-01)."""
    creds = _role(
        stack,
        _allow(["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags"]),
        _allow("elasticloadbalancing:DeleteLoadBalancer", condition=TAGGED_RESOURCE),
    )
    admin = stack.client("elb", account=CUSTOMER_ACCOUNT)
    ec2 = stack.client("ec2", account=CUSTOMER_ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.3.1.0/24")["Subnet"]["SubnetId"]
    listeners = [{"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": 30080}]
    tagged, untagged = f"tagged-{uuid.uuid4().hex[:8]}", f"untagged-{uuid.uuid4().hex[:8]}"
    admin.create_load_balancer(LoadBalancerName=tagged, Subnets=[subnet], Listeners=listeners, Tags=INSTALL_TAGS)
    admin.create_load_balancer(LoadBalancerName=untagged, Subnets=[subnet], Listeners=listeners)
    elb = stack.client("elb", **creds)
    names = [d["LoadBalancerName"] for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]]
    assert {tagged, untagged} <= set(names)
    described = elb.describe_tags(LoadBalancerNames=[tagged])["TagDescriptions"]
    assert described[0]["Tags"] == INSTALL_TAGS
    error = _refused(lambda: elb.delete_load_balancer(LoadBalancerName=untagged), code="AccessDenied")
    assert f"elasticloadbalancing:DeleteLoadBalancer on resource: arn:aws:elasticloadbalancing:{REGION}:{CUSTOMER_ACCOUNT}:loadbalancer/{untagged}" in error["Message"]
    elb.delete_load_balancer(LoadBalancerName=tagged)
    assert [d["LoadBalancerName"] for d in admin.describe_load_balancers(LoadBalancerNames=[untagged])["LoadBalancerDescriptions"]] == [untagged]
    admin.delete_load_balancer(LoadBalancerName=untagged)


def test_terminate_instances_is_authorized_on_the_instance_and_its_tags(stack):
    """ec2:TerminateInstances authorizes the instance ARN with aws:ResourceTag/* and
    ec2:ResourceTag/*; DescribeInstances is resource-free."""
    ec2 = stack.client("ec2", account=CUSTOMER_ACCOUNT)
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24")["Subnet"]["SubnetId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    karpenter = [{"ResourceType": "instance", "Tags": [{"Key": "eks:eks-cluster-name", "Value": "byoc-inst-1"}]}]

    def launch(**kwargs) -> str:
        return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.medium", SubnetId=subnet, **kwargs)["Instances"][0]["InstanceId"]

    for key in ("aws:ResourceTag/eks:eks-cluster-name", "ec2:ResourceTag/eks:eks-cluster-name"):
        creds = _role(stack, _allow("ec2:DescribeInstances"), _allow("ec2:TerminateInstances", condition={"StringLike": {key: "byoc-inst-*"}}))
        role_ec2 = stack.client("ec2", **creds)
        tagged, untagged = launch(TagSpecifications=karpenter), launch()
        assert {tagged, untagged} <= {i["InstanceId"] for r in role_ec2.describe_instances()["Reservations"] for i in r["Instances"]}
        error = _refused(lambda: role_ec2.terminate_instances(InstanceIds=[untagged]))
        assert f"ec2:TerminateInstances on resource: arn:aws:ec2:{REGION}:{CUSTOMER_ACCOUNT}:instance/{untagged}" in error["Message"]
        role_ec2.terminate_instances(InstanceIds=[tagged])
        states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=[tagged, untagged])["Reservations"] for i in r["Instances"]}
        assert states == {tagged: "terminated", untagged: "running"}
        ec2.terminate_instances(InstanceIds=[untagged])


def test_a_session_whose_role_was_deleted_is_refused_not_failed(stack):
    """IAM User Guide, id_credentials_temp_control-access_disable-perms.html: a session's
    permissions are evaluated at each use, so once its role is gone (the customer deleted the
    access stack) the unexpired credentials allow nothing."""
    creds = _role(stack, _allow("ec2:DescribeVpcs"), _allow("tag:GetResources"))
    ec2 = stack.client("ec2", **creds)
    assert "Vpcs" in ec2.describe_vpcs()
    iam = stack.client("iam", account=CUSTOMER_ACCOUNT)
    name = next(r["RoleName"] for r in iam.list_roles(PathPrefix="/byoc/")["Roles"] if r["RoleName"].startswith("iam-test-") and iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"] == ["test"] and "tag:GetResources" in json.dumps(iam.get_role_policy(RoleName=r["RoleName"], PolicyName="test")["PolicyDocument"]))
    iam.delete_role_policy(RoleName=name, PolicyName="test")
    iam.delete_role(RoleName=name)
    _refused(ec2.describe_vpcs)
    _refused(lambda: stack.client("resourcegroupstaggingapi", **creds).get_resources(), code="AccessDeniedException")


def _member_account(stack, management: str, *scp_statements, only: bool = False) -> str:
    """A new account in an organization (managed from `management`) with SCPs enabled, and an
    SCP of `scp_statements` attached to it; `only`: instead of the FullAWSAccess every new
    account gets (it stays on the root)."""
    org = stack.client("organizations", account=management)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    account = org.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    policy = org.create_policy(Name="guardrail", Description="test", Type="SERVICE_CONTROL_POLICY", Content=json.dumps({"Version": "2012-10-17", "Statement": list(scp_statements)}))
    org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=account)
    if only:
        full = next(p["Id"] for p in org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"] if p["Name"] == "FullAWSAccess")
        org.detach_policy(PolicyId=full, TargetId=account)
    return account


def test_an_organizations_scp_denies_what_the_role_allows(stack):
    """Organizations User Guide, orgs_manage_policies_scps_evaluation.html: an explicit Deny in
    an SCP wins over the role's Allow, and AWS's message names the service control policy."""
    account = _member_account(stack, "210987654321", _allow("*"), _allow("ec2:CreateVpc", effect="Deny"))
    creds = _role(stack, _allow("ec2:*"), account=account)
    ec2 = stack.client("ec2", **creds)
    error = _refused(lambda: ec2.create_vpc(CidrBlock="10.6.0.0/16"))
    assert "with an explicit deny in a service control policy" in error["Message"], error
    assert "Vpcs" in ec2.describe_vpcs()


def test_every_level_of_the_organization_must_allow(stack):
    """An SCP that allows only EC2 reads, attached to the account, leaves writes with no Allow at
    that level: implicitly denied although the root's FullAWSAccess and the role allow them."""
    account = _member_account(stack, "210987654322", _allow("ec2:Describe*"), only=True)
    creds = _role(stack, _allow("ec2:*"), account=account)
    ec2 = stack.client("ec2", **creds)
    error = _refused(lambda: ec2.create_vpc(CidrBlock="10.5.0.0/16"))
    assert "because no service control policy allows the ec2:CreateVpc action" in error["Message"], error
    assert "Vpcs" in ec2.describe_vpcs()


def test_the_last_scp_of_a_level_cannot_be_detached(stack):
    """Organizations API Reference, DetachPolicy: "Every root, OU, and account must have at least
    one SCP attached"; a policy that is not attached is PolicyNotAttachedException."""
    account = _member_account(stack, "210987654323", _allow("*"), only=True)
    org = stack.client("organizations", account="210987654323")
    [only] = org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        org.detach_policy(PolicyId=only["Id"], TargetId=account)
    error = raised.value.response["Error"]
    assert error["Code"] == "ConstraintViolationException", error
    assert raised.value.response.get("Reason") == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED", raised.value.response
    assert [p["Id"] for p in org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]] == [only["Id"]]
    full = next(p["Id"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"] if p["Name"] == "FullAWSAccess")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        org.detach_policy(PolicyId=full, TargetId=account)
    assert raised.value.response["Error"]["Code"] == "PolicyNotAttachedException"


def test_sqs_batch_operations_are_authorized_as_their_single_actions(stack):
    """SendMessageBatch needs sqs:SendMessage on the queue (Amazon SQS Developer Guide, "Amazon
    SQS API permissions: Actions and resource reference"): there is no sqs:SendMessageBatch."""
    owner = stack.client("sqs", account=CUSTOMER_ACCOUNT)
    url = owner.create_queue(QueueName=f"batch-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = owner.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    entry = {"Id": "1", "MessageBody": "{}", "MessageGroupId": "g", "MessageDeduplicationId": uuid.uuid4().hex}
    allowed = stack.client("sqs", **_role(stack, _allow(["sqs:SendMessage"], arn)))
    sent = allowed.send_message_batch(QueueUrl=url, Entries=[entry])
    assert [s["Id"] for s in sent["Successful"]] == ["1"], sent
    refused = stack.client("sqs", **_role(stack, _allow(["sqs:ReceiveMessage"], arn)))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        refused.send_message_batch(QueueUrl=url, Entries=[{**entry, "MessageDeduplicationId": uuid.uuid4().hex}])
    assert "sqs:SendMessage" in raised.value.response["Error"]["Message"], raised.value.response

