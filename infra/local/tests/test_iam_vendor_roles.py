"""The vendor's functions call AWS with their own execution roles, authorized as IAM does.

Lambda runs a function with its execution role's session credentials (moto_ext/lambda_role.py),
and what a vendor function calls with them is authorized against that role
(moto_ext/iam_resolvers_vendor.py): DynamoDB items, queries and transactions, SQS, Step
Functions callbacks, Lambda Invoke, and AssumeRole into a customer account, which needs both
the caller's identity policy and the role's trust policy (IAM User Guide, "Cross-account
policy evaluation logic").
"""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest
from conftest import CUSTOMER_ACCOUNT, REGION, VENDOR_ACCOUNT, create_function, invoke

VENDOR_ARN = f"arn:aws:iam::{VENDOR_ACCOUNT}"


def _vendor_role(stack, *statements, principal=None) -> tuple[str, dict]:
    """A role in the vendor account with these statements, and a session of it."""
    iam = stack.client("iam")
    name = f"vendor-fn-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal or {"AWS": f"{VENDOR_ARN}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, Path="/byoc-vendor/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="fn", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    if principal is not None:
        return arn, {}
    creds = stack.client("sts").assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
    return arn, {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"], "aws_session_token": creds["SessionToken"]}


def _allow(actions, resource) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def _refused(call, code: str) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert error["Code"] == code, error
    return error


def _decisions(stack) -> str:
    return (stack.state_dir / "logs" / "iam-decisions.jsonl").read_text()


def _table(stack, index: str | None = None) -> str:
    name = f"vendor-{uuid.uuid4().hex[:8]}"
    spec = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    }
    if index:
        spec["AttributeDefinitions"].append({"AttributeName": "tenant", "AttributeType": "S"})
        spec["GlobalSecondaryIndexes"] = [{"IndexName": index, "KeySchema": [{"AttributeName": "tenant", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}]
    return stack.client("dynamodb").create_table(**spec)["TableDescription"]["TableArn"]


def test_get_item_allowed_on_one_table_is_refused_on_another(stack):
    mine, other = _table(stack), _table(stack)
    _, creds = _vendor_role(stack, _allow("dynamodb:GetItem", mine))
    ddb = stack.client("dynamodb", **creds)
    key = {"pk": {"S": "INSTALL#1"}}
    assert "Item" not in ddb.get_item(TableName=mine.rsplit("/", 1)[1], Key=key)
    error = _refused(lambda: ddb.get_item(TableName=other.rsplit("/", 1)[1], Key=key), "AccessDeniedException")
    assert f"is not authorized to perform: dynamodb:GetItem on resource: {other}" in error["Message"]


def test_a_query_on_an_index_needs_the_index_arn(stack):
    table = _table(stack, index="by-tenant")
    name = table.rsplit("/", 1)[1]
    query = {"TableName": name, "IndexName": "by-tenant", "KeyConditionExpression": "tenant = :t", "ExpressionAttributeValues": {":t": {"S": "t1"}}}
    _, table_only = _vendor_role(stack, _allow("dynamodb:Query", table))
    error = _refused(lambda: stack.client("dynamodb", **table_only).query(**query), "AccessDeniedException")
    assert f"on resource: {table}/index/by-tenant" in error["Message"]
    _, with_index = _vendor_role(stack, _allow("dynamodb:Query", f"{table}/index/by-tenant"))
    assert stack.client("dynamodb", **with_index).query(**query)["Items"] == []


def test_a_transaction_is_authorized_item_by_item(stack):
    """DynamoDB Developer Guide, "Using IAM with DynamoDB transactions": a Put needs
    dynamodb:PutItem, a ConditionCheck dynamodb:ConditionCheckItem, on each item's table."""
    table = _table(stack)
    name = table.rsplit("/", 1)[1]
    items = [{"Put": {"TableName": name, "Item": {"pk": {"S": "A"}}}}, {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "B"}}, "ConditionExpression": "attribute_not_exists(pk)"}}]
    _, put_only = _vendor_role(stack, _allow("dynamodb:PutItem", table))
    error = _refused(lambda: stack.client("dynamodb", **put_only).transact_write_items(TransactItems=items), "AccessDeniedException")
    assert "dynamodb:ConditionCheckItem" in error["Message"]
    _, both = _vendor_role(stack, _allow(["dynamodb:PutItem", "dynamodb:ConditionCheckItem"], table))
    stack.client("dynamodb", **both).transact_write_items(TransactItems=items)


def test_leading_keys_limit_a_role_to_its_own_items(stack):
    table = _table(stack)
    name = table.rsplit("/", 1)[1]
    statement = _allow("dynamodb:UpdateItem", table)
    statement["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WATCH#*"]}}
    _, creds = _vendor_role(stack, statement)
    ddb = stack.client("dynamodb", **creds)
    update = {"TableName": name, "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}
    ddb.update_item(Key={"pk": {"S": "WATCH#1"}}, **update)
    _refused(lambda: ddb.update_item(Key={"pk": {"S": "INSTALL#1"}}, **update), "AccessDeniedException")


def test_send_message_is_refused_on_a_queue_not_allowed(stack):
    sqs = stack.client("sqs")
    mine = sqs.create_queue(QueueName=f"vendor-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    other = sqs.create_queue(QueueName=f"vendor-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    _, creds = _vendor_role(stack, _allow("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{VENDOR_ACCOUNT}:{mine.rsplit('/', 1)[1]}"))
    as_role = stack.client("sqs", **creds)
    assert as_role.send_message(QueueUrl=mine, MessageBody="{}")["MessageId"]
    error = _refused(lambda: as_role.send_message(QueueUrl=other, MessageBody="{}"), "AccessDeniedException")
    assert f"sqs:SendMessage on resource: arn:aws:sqs:{REGION}:{VENDOR_ACCOUNT}:{other.rsplit('/', 1)[1]}" in error["Message"]


def test_task_callbacks_are_authorized_on_star_only(stack):
    """The Service Authorization Reference lists no resource type for states:SendTaskSuccess,
    so a statement naming a state machine does not allow it."""
    machine = f"arn:aws:states:{REGION}:{VENDOR_ACCOUNT}:stateMachine:install"
    _, named = _vendor_role(stack, _allow("states:SendTaskSuccess", machine))
    _refused(lambda: stack.client("stepfunctions", **named).send_task_success(taskToken="no-such-token", output="{}"), "AccessDeniedException")
    _, star = _vendor_role(stack, _allow("states:SendTaskSuccess", "*"))
    with pytest.raises(botocore.exceptions.ClientError) as raised:  # allowed: the service answers
        stack.client("stepfunctions", **star).send_task_success(taskToken="no-such-token", output="{}")
    assert raised.value.response["Error"]["Code"] != "AccessDeniedException"


def test_assume_role_needs_the_identity_policy_as_well_as_the_trust_policy(stack):
    external_id = "ext-" + uuid.uuid4().hex
    iam = stack.client("iam", account=CUSTOMER_ACCOUNT)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"{VENDOR_ARN}:root"}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]}
    target = iam.create_role(RoleName=f"installer-{uuid.uuid4().hex[:8]}", Path="/byoc/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    _, elsewhere = _vendor_role(stack, _allow("sts:AssumeRole", f"arn:aws:iam::*:role/byoc/someone-else"))
    _, named = _vendor_role(stack, _allow("sts:AssumeRole", "arn:aws:iam::*:role/byoc/*"))

    def assume(creds, eid=external_id):
        return stack.client("sts", **creds).assume_role(RoleArn=target, RoleSessionName="byoc-inst-1", ExternalId=eid)

    # the trust policy trusts the caller's account and External ID, the identity policy does not name the role
    error = _refused(lambda: assume(elsewhere), "AccessDenied")
    assert f"is not authorized to perform: sts:AssumeRole on resource: {target}" in error["Message"]
    assert "no identity-based policy allows" in error["Message"]
    # the identity policy allows it, the trust policy refuses the wrong External ID
    error = _refused(lambda: assume(named, "ext-wrong"), "AccessDenied")
    assert "ext-wrong" not in error["Message"]
    # both allow: customer credentials
    assert assume(named)["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{CUSTOMER_ACCOUNT}:assumed-role/")
    log = _decisions(stack)
    assert f'"resource": "{target}"' in log and '"sts:RoleSessionName": "byoc-inst-1"' in log
    assert external_id not in log and "ext-wrong" not in log
    assert external_id not in stack.log()


def test_session_tags_also_need_tag_session(stack):
    iam = stack.client("iam", account=CUSTOMER_ACCOUNT)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"{VENDOR_ARN}:root"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    target = iam.create_role(RoleName=f"installer-{uuid.uuid4().hex[:8]}", Path="/byoc/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    _, creds = _vendor_role(stack, _allow("sts:AssumeRole", target))
    sts = stack.client("sts", **creds)
    error = _refused(lambda: sts.assume_role(RoleArn=target, RoleSessionName="sess", Tags=[{"Key": "install", "Value": "i-1"}]), "AccessDenied")
    assert "sts:TagSession" in error["Message"]
    assert sts.assume_role(RoleArn=target, RoleSessionName="sess")["Credentials"]


def test_invoke_is_authorized_as_invoke_function_on_the_function(stack):
    allowed, other = create_function(stack), create_function(stack)
    _, creds = _vendor_role(stack, _allow("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{allowed}"))
    lam = stack.client("lambda", **creds)
    assert lam.invoke(FunctionName=allowed, Payload=b'{"action": "echo"}')["StatusCode"] == 200
    error = _refused(lambda: lam.invoke(FunctionName=other, Payload=b"{}"), "AccessDeniedException")
    assert f"lambda:InvokeFunction on resource: arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{other}" in error["Message"]


def test_a_function_runs_with_its_execution_role_session(stack):
    table = _table(stack)
    role, _ = _vendor_role(stack, _allow("dynamodb:GetItem", table), principal={"Service": "lambda.amazonaws.com"})
    name = create_function(stack, Role=role)
    _, payload = invoke(stack, name, {"action": "echo"})
    env = payload["env"]
    creds = {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"], "aws_session_token": env["AWS_SESSION_TOKEN"]}
    identity = stack.client("sts", **creds).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{VENDOR_ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/{name}"
    # what the function calls with them is evaluated against its role
    ddb = stack.client("dynamodb", **creds)
    ddb.get_item(TableName=table.rsplit("/", 1)[1], Key={"pk": {"S": "x"}})
    _refused(lambda: ddb.put_item(TableName=table.rsplit("/", 1)[1], Item={"pk": {"S": "x"}}), "AccessDeniedException")
    # warm processes share the session
    _, again = invoke(stack, name, {"action": "echo"})
    assert again["env"]["AWS_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY_ID"]


def test_a_function_whose_role_is_gone_keeps_the_dummy_key(stack):
    iam = stack.client("iam")
    role_name = f"gone-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    name = create_function(stack, Role=role)
    iam.delete_role(RoleName=role_name)
    response, payload = invoke(stack, name, {"action": "echo"})
    assert "FunctionError" not in response
    assert payload["env"]["AWS_ACCESS_KEY_ID"] == "test" and "AWS_SESSION_TOKEN" not in payload["env"]
    assert stack.log().count(f"execution role {role!r} of function {name} does not exist") == 1
