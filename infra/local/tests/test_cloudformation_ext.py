"""The vendor stack's resource types behave in the emulator as CloudFormation documents them:
state machine definitions from S3 with substitutions (executable), alarms, request validators,
and the request log that least-privilege checks read."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import CUSTOMER_ACCOUNT, REGION, VENDOR_ACCOUNT

DEFINITION = {
    "StartAt": "Say",
    "States": {"Say": {"Type": "Pass", "Result": {"greeting": "${Greeting}", "n": "${Count}"}, "ResultPath": "$.out", "End": True}},
}


def wait_stack(cfn, name: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return stack
        time.sleep(0.2)
    pytest.fail(f"stack {name} still in progress")


@pytest.fixture(scope="module")
def deployed(stack):
    s3 = stack.client("s3")
    bucket = f"cfn-ext-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    # Numbers are substituted textually, as in our definitions' `"IntervalSeconds": ${X}`.
    s3.put_object(Bucket=bucket, Key="sm/demo.asl.json", Body=json.dumps(DEFINITION).replace('"${Count}"', "${Count}"))
    name = f"cfn-ext-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": name}},
            "Validator": {
                "Type": "AWS::ApiGateway::RequestValidator",
                "Properties": {"RestApiId": {"Ref": "Api"}, "Name": "params-and-body", "ValidateRequestBody": True, "ValidateRequestParameters": True},
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": name,
                    "RoleArn": f"arn:aws:iam::{VENDOR_ACCOUNT}:role/fixture-states",
                    "DefinitionS3Location": {"Bucket": bucket, "Key": "sm/demo.asl.json"},
                    "DefinitionSubstitutions": {"Greeting": "hello", "Count": 3},
                    "LoggingConfiguration": {"Level": "ERROR", "IncludeExecutionData": False, "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:x:*"}}]},
                    "TracingConfiguration": {"Enabled": True},
                },
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{name}-failed",
                    "Namespace": "AWS/States",
                    "MetricName": "ExecutionsFailed",
                    "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": "Machine"}}],
                    "Statistic": "Sum",
                    "Period": 300,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                },
            },
            "MathAlarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{name}-errors",
                    "Metrics": [
                        {"Id": "a", "ReturnData": False, "MetricStat": {"Stat": "Sum", "Period": 300, "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": "f"}]}}},
                        {"Id": "total", "ReturnData": True, "Expression": "SUM([a])"},
                    ],
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                },
            },
        },
        "Outputs": {"Machine": {"Value": {"Ref": "Machine"}}, "Validator": {"Value": {"Ref": "Validator"}}, "Api": {"Value": {"Ref": "Api"}}},
    }
    cfn = stack.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    result = wait_stack(cfn, name)
    assert result["StackStatus"] == "CREATE_COMPLETE", result
    return name, {o["OutputKey"]: o["OutputValue"] for o in result["Outputs"]}


def test_state_machine_from_s3_with_substitutions_executes(stack, deployed):
    _, outputs = deployed
    sfn = stack.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=outputs["Machine"])
    definition = json.loads(described["definition"])
    assert definition["States"]["Say"]["Result"] == {"greeting": "hello", "n": 3}
    assert described["loggingConfiguration"]["level"] == "ERROR"
    assert described["tracingConfiguration"] == {"enabled": True}
    execution = sfn.start_execution(stateMachineArn=outputs["Machine"], name="run-1", input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while (result := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["out"] == {"greeting": "hello", "n": 3}


def test_alarms_exist_with_their_metrics(stack, deployed):
    name, outputs = deployed
    alarms = {a["AlarmName"]: a for a in stack.client("cloudwatch").describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]}
    failed = alarms[f"{name}-failed"]
    assert failed["MetricName"] == "ExecutionsFailed" and failed["Dimensions"] == [{"Name": "StateMachineArn", "Value": outputs["Machine"]}]
    assert failed["TreatMissingData"] == "notBreaching"
    math = alarms[f"{name}-errors"]
    assert [m["Id"] for m in math["Metrics"]] == ["a", "total"]


def test_request_validator_is_made_on_the_api(stack, deployed):
    _, outputs = deployed
    validators = stack.client("apigateway").get_request_validators(restApiId=outputs["Api"])["items"]
    assert [(v["id"], v["validateRequestBody"], v["validateRequestParameters"]) for v in validators] == [(outputs["Validator"], True, True)]


def test_request_log_records_what_an_assumed_role_calls(stack):
    iam = stack.client("iam", account=CUSTOMER_ACCOUNT)
    role = f"logged-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=role, Path="/byoc/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # What IAM requires for the two calls (the local stack authorizes as IAM does).
    allowed = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeVpcs", "eks:ListClusters"], "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps(allowed))
    creds = stack.client("sts").assume_role(RoleArn=arn, RoleSessionName="logged")["Credentials"]
    session = dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    stack.client("ec2", **session).describe_vpcs()
    stack.client("eks", **session).list_clusters()
    log = stack.state_dir / "logs" / "role-actions.jsonl"
    recorded = {(e["role"], e["action"]) for e in map(json.loads, log.read_text().splitlines())}
    assert (arn, "ec2:DescribeVpcs") in recorded
    assert (arn, "eks:ListClusters") in recorded
    assert not any(r == arn and a.startswith("sts:") for r, a in recorded)


def test_an_event_bus_ref_is_its_name(stack):
    cfn = stack.client("cloudformation")
    name = f"bus-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": name}}}, "Outputs": {"Ref": {"Value": {"Ref": "Bus"}}, "Arn": {"Value": {"Fn::GetAtt": ["Bus", "Arn"]}}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in wait_stack(cfn, name)["Outputs"]}
    assert outputs == {"Ref": name, "Arn": f"arn:aws:events:{REGION}:{VENDOR_ACCOUNT}:event-bus/{name}"}


def test_a_table_gets_its_ttl_and_point_in_time_recovery(stack):
    cfn = stack.client("cloudformation")
    name = f"table-{uuid.uuid4().hex[:8]}"
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Table": table}}))
    assert wait_stack(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    ddb = stack.client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_function_environment_values_are_strings(stack):
    cfn = stack.client("cloudformation")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    template = {
        "Parameters": {"Seconds": {"Type": "Number", "Default": 900}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
                    }
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": name,
                    "Runtime": "provided.al2023",
                    "Handler": "bootstrap",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "unused"},
                    "Environment": {"Variables": {"POLL_SECONDS": {"Ref": "Seconds"}, "NAME": "x"}},
                },
            }
        },
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert wait_stack(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    variables = stack.client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    assert variables == {"POLL_SECONDS": "900", "NAME": "x"}
