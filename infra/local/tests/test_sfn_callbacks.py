"""Step Functions callback tasks through SQS as on AWS (moto_ext/sfn_callbacks.py with
sqs_esm.py): a `sqs:sendMessage.waitForTaskToken` task sends `$$.Task.Token` to a queue, a
mapped watcher function re-sends itself with DelaySeconds until the resource is ready and
then calls SendTaskSuccess or SendTaskFailure; heartbeats and timeouts fail the task with
States.HeartbeatTimeout / States.Timeout, a retry gets a new token, and the token of a closed
task is refused with TaskTimedOut."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import VENDOR_ACCOUNT
from test_sqs_esm import consumer_function, make_queue, map_queue

SFN_ROLE = f"arn:aws:iam::{VENDOR_ACCOUNT}:role/fixture-states"


def watch_task(queue_url: str, **fields) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": queue_url,
            "MessageBody": {"do": "watch", "install_id.$": "$.install_id", "tenant_id.$": "$.tenant_id", "task_token.$": "$$.Task.Token", **fields},
        },
        "ResultPath": "$.watch",
        "End": True,
    }


def start(stack, task: dict, execution_input: dict | None = None, **more_states: dict) -> str:
    """Starts an execution of a machine whose first state is `task`."""
    sfn = stack.client("stepfunctions")
    definition = {"StartAt": "Watch", "States": {"Watch": task, **more_states}}
    machine = sfn.create_state_machine(name=f"watch-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=SFN_ROLE)["stateMachineArn"]
    return sfn.start_execution(
        stateMachineArn=machine, name=f"install-{uuid.uuid4().hex[:8]}", input=json.dumps(execution_input or {"install_id": "i-1", "tenant_id": "t-1"})
    )["executionArn"]


def finished(stack, execution: str, timeout: float = 30.0) -> dict:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution} still running after {timeout}s"
        time.sleep(0.1)
    return described


def history(stack, execution: str) -> list[dict]:
    return stack.client("stepfunctions").get_execution_history(executionArn=execution)["events"]


def tokens(stack, url: str, count: int, timeout: float = 15.0) -> list[str]:
    """The test plays the watcher: the task tokens of the next `count` messages."""
    sqs = stack.client("sqs")
    found: list[str] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {len(found)} of {count} task messages arrived"
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
            found.append(json.loads(message["Body"])["task_token"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def error_code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def test_the_watcher_rechecks_with_delays_then_resumes_the_execution_with_its_output(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path)
    url, arn = make_queue(stack)
    map_queue(stack, arn, consumer)
    # The URL as CloudFormation's !Ref gives it: the task's SQS call must still reach this stack.
    aws_url = f"https://sqs.us-east-1.amazonaws.com/{VENDOR_ACCOUNT}/{arn.split(':')[5]}"
    execution = start(stack, watch_task(aws_url), {"install_id": "i-42", "tenant_id": "t-7"})
    result = finished(stack, execution)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["watch"] == {"status": "ACTIVE", "checks": 3, "install_id": "i-42"}
    assert output["install_id"] == "i-42"

    checks = [r for b in consumer.batches() for r in b["records"]]
    bodies = [json.loads(r["body"]) for r in checks]
    assert [b["checks"] for b in bodies[1:]] == [1, 2] and "checks" not in bodies[0]
    assert {b["tenant_id"] for b in bodies} == {"t-7"} and len({b["task_token"] for b in bodies}) == 1
    for earlier, later in zip(checks, checks[1:]):
        # each re-sent check waits out its DelaySeconds=1
        waited = int(later["attributes"]["ApproximateFirstReceiveTimestamp"]) - int(earlier["attributes"]["ApproximateFirstReceiveTimestamp"])
        assert waited >= 1000, f"a re-check came {waited} ms after the previous one"
        assert int(later["attributes"]["ApproximateFirstReceiveTimestamp"]) - int(later["attributes"]["SentTimestamp"]) >= 1000

    events = [e["type"] for e in history(stack, execution)]
    assert events.index("TaskScheduled") < events.index("TaskSubmitted") < events.index("TaskSucceeded") < events.index("ExecutionSucceeded")
    succeeded = next(e for e in history(stack, execution) if e["type"] == "TaskSucceeded")["taskSucceededEventDetails"]
    assert succeeded["resource"] == "sendMessage.waitForTaskToken" and json.loads(succeeded["output"])["checks"] == 3


def test_send_task_failure_carries_error_and_cause_to_catch_and_history(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path)
    url, arn = make_queue(stack)
    map_queue(stack, arn, consumer)
    task = watch_task(url, outcome="failure")
    task.pop("End")
    task["Catch"] = [{"ErrorEquals": ["ClusterFailed"], "ResultPath": "$.error", "Next": "Caught"}]
    execution = start(stack, task, Caught={"Type": "Pass", "End": True})
    result = finished(stack, execution)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["error"] == {"Error": "ClusterFailed", "Cause": "node group CREATE_FAILED: quota"}
    failed = next(e for e in history(stack, execution) if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "ClusterFailed" and failed["cause"] == "node group CREATE_FAILED: quota"

    # Uncaught, the execution fails with both.
    url2, _ = make_queue(stack)
    execution = start(stack, watch_task(url2))
    [token] = tokens(stack, url2, 1)
    stack.client("stepfunctions").send_task_failure(taskToken=token, error="QuotaDenied", cause="L-1216C47A refused")
    result = finished(stack, execution)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "QuotaDenied", "L-1216C47A refused")


def test_a_missed_heartbeat_is_states_heartbeat_timeout_and_the_retry_gets_a_new_token(stack):
    url, _ = make_queue(stack)
    task = watch_task(url)
    task.update(HeartbeatSeconds=1, TimeoutSeconds=60, Retry=[{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    execution = start(stack, task)
    first, second = tokens(stack, url, 2)
    assert first != second, "every attempt gets its own token"
    sfn = stack.client("stepfunctions")
    assert error_code(lambda: sfn.send_task_success(taskToken=first, output="{}")) == "TaskTimedOut"
    sfn.send_task_heartbeat(taskToken=second)
    sfn.send_task_success(taskToken=second, output=json.dumps({"status": "ACTIVE"}))
    result = finished(stack, execution)
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"])["watch"] == {"status": "ACTIVE"}
    timed_out = [e["taskTimedOutEventDetails"] for e in history(stack, execution) if e["type"] == "TaskTimedOut"]
    assert [t["error"] for t in timed_out] == ["States.HeartbeatTimeout"]
    assert timed_out[0]["resource"] == "sendMessage.waitForTaskToken"


def test_heartbeats_keep_a_task_alive_until_its_timeout(stack):
    url, _ = make_queue(stack)
    task = watch_task(url)
    task.update(HeartbeatSeconds=1, TimeoutSeconds=3)
    task["Catch"] = [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Late"}]
    task.pop("End")
    execution = start(stack, task, Late={"Type": "Pass", "End": True})
    [token] = tokens(stack, url, 1)
    sfn = stack.client("stepfunctions")
    beats = 0
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and beats < 10:
        try:
            sfn.send_task_heartbeat(taskToken=token)
        except ClientError as closed:
            assert closed.response["Error"]["Code"] == "TaskTimedOut"
            break
        beats += 1
        time.sleep(0.5)
    result = finished(stack, execution)
    assert beats >= 4, "heartbeats every 0.5 s kept the task past its 1 s HeartbeatSeconds"
    assert json.loads(result["output"])["error"]["Error"] == "States.Timeout"
    assert error_code(lambda: sfn.send_task_heartbeat(taskToken=token)) == "TaskTimedOut"


def test_tokens_of_closed_tasks_and_unknown_tokens_are_refused_as_on_aws(stack):
    url, _ = make_queue(stack)
    execution = start(stack, watch_task(url))
    [token] = tokens(stack, url, 1)
    sfn = stack.client("stepfunctions")
    assert error_code(lambda: sfn.send_task_success(taskToken=str(uuid.uuid4()), output="{}")) == "InvalidToken"
    assert error_code(lambda: sfn.send_task_success(taskToken=token, output="not json")) == "InvalidOutput"
    sfn.send_task_heartbeat(taskToken=token)  # no HeartbeatSeconds: accepted, changes nothing
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING", "a refused output leaves the task waiting"
    sfn.send_task_success(taskToken=token, output=json.dumps({"first": True}))
    assert error_code(lambda: sfn.send_task_success(taskToken=token, output=json.dumps({"second": True}))) == "TaskTimedOut"
    assert error_code(lambda: sfn.send_task_failure(taskToken=token, error="Late")) == "TaskTimedOut"
    result = finished(stack, execution)
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"])["watch"] == {"first": True}
    assert error_code(lambda: sfn.send_task_heartbeat(taskToken=token)) == "TaskTimedOut"



def test_stopping_an_execution_that_waits_for_a_token_aborts_it_and_closes_the_token(stack):
    url, _ = make_queue(stack)
    task = watch_task(url)
    task.update(HeartbeatSeconds=30, TimeoutSeconds=60)
    execution = start(stack, task)
    [token] = tokens(stack, url, 1)
    sfn = stack.client("stepfunctions")
    sfn.stop_execution(executionArn=execution, error="Uninstall", cause="the tenant left")
    assert error_code(lambda: sfn.send_task_failure(taskToken=token, error="Late")) == "TaskTimedOut"
    assert finished(stack, execution, timeout=5)["status"] == "ABORTED"
    events = [e["type"] for e in history(stack, execution)]
    assert events[-1] == "ExecutionAborted"
    assert not {"TaskTimedOut", "TaskFailed"} & set(events), events
