"""Step Functions executes for real and routes Lambda errors by their errorType."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import REGION, VENDOR_ACCOUNT, create_function

SFN_ROLE = f"arn:aws:iam::{VENDOR_ACCOUNT}:role/fixture-states"


def run_execution(stack, definition: dict, execution_input: dict) -> dict:
    sfn = stack.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"fixture-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=SFN_ROLE,
    )["stateMachineArn"]
    # moto's executing backend needs an explicit name (else every execution is "None").
    execution = sfn.start_execution(
        stateMachineArn=machine,
        name=f"exec-{uuid.uuid4().hex[:8]}",
        input=json.dumps(execution_input),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    pytest.fail(f"execution {execution} still running after 60 s")


@pytest.fixture(scope="module")
def function_arn(stack) -> str:
    name = create_function(stack)
    return f"arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{name}"


def catching_machine(resource: str, parameters: dict | None = None) -> dict:
    task = {
        "Type": "Task",
        "Resource": resource,
        "Catch": [
            {"ErrorEquals": ["TrustNotReady"], "ResultPath": "$.error", "Next": "Caught"}
        ],
        "End": True,
    }
    if parameters:
        task["Parameters"] = parameters
    return {
        "StartAt": "Validate",
        "States": {
            "Validate": task,
            "Caught": {"Type": "Pass", "Result": "caught", "ResultPath": "$.outcome", "End": True},
        },
    }


def test_catch_matches_the_lambda_error_type(stack, function_arn):
    failing = {"action": "fail", "errorType": "TrustNotReady", "errorMessage": "not yet"}
    result = run_execution(stack, catching_machine(function_arn), failing)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["outcome"] == "caught"
    assert output["error"]["Error"] == "TrustNotReady"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "not yet"


def test_catch_with_the_lambda_invoke_integration(stack, function_arn):
    machine = catching_machine(
        "arn:aws:states:::lambda:invoke",
        {"FunctionName": function_arn, "Payload.$": "$"},
    )
    failing = {"action": "fail", "errorType": "TrustNotReady", "errorMessage": "not yet"}
    result = run_execution(stack, machine, failing)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["error"]["Error"] == "TrustNotReady"


def test_success_output_is_the_payload(stack, function_arn):
    result = run_execution(stack, catching_machine(function_arn), {"action": "echo", "id": "i-1"})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["event"] == {"action": "echo", "id": "i-1"}


def test_uncaught_error_fails_the_execution_with_its_type(stack, function_arn):
    failing = {"action": "fail", "errorType": "QuotaDenied", "errorMessage": "no"}
    result = run_execution(stack, catching_machine(function_arn), failing)
    assert result["status"] == "FAILED"
    assert result["error"] == "QuotaDenied"


def test_retry_on_error_type(stack):
    name = create_function(stack)
    arn = f"arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{name}"
    machine = catching_machine(arn)
    machine["States"]["Validate"]["Retry"] = [
        {"ErrorEquals": ["TrustNotReady"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}
    ]
    failing = {"action": "fail", "errorType": "TrustNotReady", "errorMessage": "not yet"}
    result = run_execution(stack, machine, failing)
    assert result["status"] == "SUCCEEDED", result
    assert stack.function_log(name).count("START RequestId") == 3  # 1 try + 2 retries


def test_timeout_is_states_catchable(stack):
    name = create_function(stack, Timeout=1)
    arn = f"arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{name}"
    machine = catching_machine(arn)
    machine["States"]["Validate"]["Catch"][0]["ErrorEquals"] = ["Sandbox.Timedout"]
    result = run_execution(stack, machine, {"action": "sleep", "seconds": 3})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["error"]["Error"] == "Sandbox.Timedout"


def test_state_machine_from_cloudformation_executes(stack, function_arn):
    """AWS::StepFunctions::StateMachine must land in the executing backend."""
    definition = catching_machine(function_arn)
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": f"cfn-{uuid.uuid4().hex[:8]}",
                    "DefinitionString": json.dumps(definition),
                    "RoleArn": SFN_ROLE,
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
    }
    cfn = stack.client("cloudformation")
    name = f"fixture-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    outputs = cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    machine = outputs[0]["OutputValue"]
    sfn = stack.client("stepfunctions")
    assert sfn.describe_state_machine(stateMachineArn=machine)["stateMachineArn"] == machine
    execution = sfn.start_execution(
        stateMachineArn=machine, name="install-1", input=json.dumps({"action": "echo"})
    )["executionArn"]
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    # starting the same name again is how an install start stays idempotent
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=machine, name="install-1", input="{}")
