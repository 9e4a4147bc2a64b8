"""The Lambda host: real processes behind the Lambda Invoke API, with AWS's results."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REGION, VENDOR_ACCOUNT, create_function, exec_zip, invoke, make_zip


@pytest.fixture(scope="module")
def echo_function(stack) -> str:
    return create_function(stack)


def test_success_returns_the_payload(stack, echo_function):
    response, payload = invoke(stack, echo_function, {"action": "echo", "n": 1})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert payload["event"] == {"action": "echo", "n": 1}


def test_runtime_api_headers_match_what_lambda_runtime_needs(stack, echo_function):
    _, payload = invoke(stack, echo_function, {"action": "echo"})
    headers = payload["headers"]
    assert headers["lambda-runtime-aws-request-id"]
    assert headers["lambda-runtime-invoked-function-arn"] == (
        f"arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{echo_function}"
    )
    deadline_ms = int(headers["lambda-runtime-deadline-ms"])
    assert 0 < deadline_ms - time.time() * 1000 <= 10_000
    assert headers["lambda-runtime-trace-id"].startswith("Root=")


def test_process_environment(stack, echo_function):
    _, payload = invoke(stack, echo_function, {"action": "echo"})
    env = payload["env"]
    assert env["FIXTURE_SETTING"] == "from-function-config"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == echo_function
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{echo_function}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["_HANDLER"] == "bootstrap"
    assert env["LAMBDA_TASK_ROOT"] == payload["cwd"]
    # the execution role's session (test_iam_vendor_roles.py checks whose it is)
    assert env["AWS_ACCESS_KEY_ID"] != "test" and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["AWS_ENDPOINT_URL"] == stack.endpoint
    assert env["BYOC_FAULT_TEST_MARKER"] == "injected"
    assert "PATH" in env
    assert "BYOC_LOCAL_DIR" not in env  # nothing else leaks from the host


def test_warm_process_is_reused(stack, echo_function):
    _, first = invoke(stack, echo_function, {"action": "echo"})
    _, second = invoke(stack, echo_function, {"action": "echo"})
    assert first["pid"] == second["pid"]


def test_function_error_is_unhandled_with_error_type(stack, echo_function):
    response, payload = invoke(
        stack,
        echo_function,
        {"action": "fail", "errorType": "TrustNotReady", "errorMessage": "role missing"},
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload == {"errorType": "TrustNotReady", "errorMessage": "role missing"}
    # a reported error keeps the process warm
    _, after = invoke(stack, echo_function, {"action": "echo"})
    assert after["event"] == {"action": "echo"}


def test_timeout_kills_the_process(stack):
    name = create_function(stack, Timeout=1)
    _, before = invoke(stack, name, {"action": "echo"})
    started = time.monotonic()
    response, payload = invoke(stack, name, {"action": "sleep", "seconds": 5})
    assert time.monotonic() - started < 4
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"] == "Task timed out after 1.00 seconds"
    _, after = invoke(stack, name, {"action": "echo"})
    assert after["pid"] != before["pid"]
    assert "Task timed out after 1.00 seconds" in stack.function_log(name)


def test_exit_during_invocation(stack, echo_function):
    response, payload = invoke(stack, echo_function, {"action": "exit", "code": 3})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in payload["errorMessage"]
    _, after = invoke(stack, echo_function, {"action": "echo"})
    assert after["event"] == {"action": "echo"}


def test_init_error(stack):
    name = create_function(
        stack, Environment={"Variables": {"BYOC_TEST_INIT_FAIL": "1"}}
    )
    response, payload = invoke(stack, name, {"action": "echo"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.InitError"
    assert "missing configuration" in payload["errorMessage"]


def test_missing_bootstrap(stack):
    name = create_function(stack, make_zip({"README": ("no bootstrap", 0o644)}))
    response, payload = invoke(stack, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.InvalidEntrypoint"


def test_concurrent_invocations_run_in_parallel(stack):
    name = create_function(stack)
    count = 8
    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        results = list(
            pool.map(
                lambda i: invoke(stack, name, {"action": "sleep", "seconds": 1, "i": i}),
                range(count),
            )
        )
    elapsed = time.monotonic() - started
    assert sorted(payload["event"]["i"] for _, payload in results) == list(range(count))
    assert all("FunctionError" not in response for response, _ in results)
    assert elapsed < count * 0.75, f"{count} invocations of 1 s took {elapsed:.1f} s"
    assert len({payload["pid"] for _, payload in results}) > 1


def test_configuration_change_starts_fresh_processes(stack):
    name = create_function(stack)
    _, before = invoke(stack, name, {"action": "echo"})
    stack.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"FIXTURE_SETTING": "changed"}}
    )
    _, after = invoke(stack, name, {"action": "echo"})
    assert after["env"]["FIXTURE_SETTING"] == "changed"
    assert after["pid"] != before["pid"]


def test_bootstrap_script_exec_and_code_from_s3(stack):
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="fixture-code")
    s3.put_object(Bucket="fixture-code", Key="fn.zip", Body=exec_zip())
    name = create_function(stack, Code={"S3Bucket": "fixture-code", "S3Key": "fn.zip"})
    response, payload = invoke(stack, name, {"action": "echo"})
    assert "FunctionError" not in response, payload
    assert payload["event"] == {"action": "echo"}


def test_event_and_dry_run_invocations(stack):
    name = create_function(stack)
    lam = stack.client("lambda")
    event = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"action": "echo", "tag": "async"})
    )
    assert event["StatusCode"] == 202
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "END RequestId" not in stack.function_log(name):
        time.sleep(0.1)
    log = stack.function_log(name)
    assert "START RequestId" in log and "END RequestId" in log
    assert log.count("START RequestId") == 1  # DryRun runs nothing


def test_function_output_goes_to_its_log(stack, echo_function):
    invoke(stack, echo_function, {"action": "echo"})
    log = stack.function_log(echo_function)
    assert "handled " in log
    assert "REPORT RequestId" in log


def test_code_update_with_the_same_zip_starts_fresh_processes(stack):
    """The local deploy's bootstrap execs a binary by path: after a rebuild the zip is
    the same, and the redeploy (UpdateFunctionCode) must still restart the processes."""
    name = create_function(stack, exec_zip())
    _, before = invoke(stack, name, {"action": "echo"})
    stack.client("lambda").update_function_code(FunctionName=name, ZipFile=exec_zip())
    _, after = invoke(stack, name, {"action": "echo"})
    assert after["pid"] != before["pid"]
