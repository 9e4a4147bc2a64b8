"""The fault proxy (infra/local/fault_proxy.py): faults in the shape each AWS protocol uses,
so the SDKs classify them as AWS's own; connection resets; forwarding; counts. The
credential listing and the API response log that the secret scan reads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from conftest import CUSTOMER_ACCOUNT, LOCAL, REGION
from test_sts import VENDOR_WITH_EXTERNAL_ID, EXTERNAL_ID, assume, create_customer_role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningProxy:
    def __init__(self, stack, tmp_path: Path, rate: float, kinds: str | None):
        self.port = free_port()
        self.state_dir = tmp_path
        args = [sys.executable, str(LOCAL / "fault_proxy.py"), "--port", str(self.port), "--target", stack.endpoint,
                "--rate", str(rate), "--state-dir", str(tmp_path), "--seed", "7"]
        if kinds:
            args += ["--kinds", kinds]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                break
            except OSError:
                assert self.process.poll() is None, self.process.stdout.read()
                assert time.monotonic() < deadline, "the proxy did not start"
                time.sleep(0.1)

    def client(self, service: str):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.port}", region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def counts(self) -> dict:
        return json.loads((self.state_dir / "fault-proxy.json").read_text())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


@pytest.fixture
def proxy(stack, tmp_path):
    started = []

    def start(rate: float, kinds: str | None = None) -> RunningProxy:
        started.append(RunningProxy(stack, tmp_path, rate, kinds))
        return started[-1]

    yield start
    for p in started:
        p.stop()


def error_of(call) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_throttling_in_each_protocols_shape(proxy):
    p = proxy(1.0, "throttle")
    assert error_of(lambda: p.client("ec2").describe_vpcs()) == ("RequestLimitExceeded", 503)
    assert error_of(lambda: p.client("sts").get_caller_identity()) == ("Throttling", 400)
    assert error_of(lambda: p.client("iam").list_roles()) == ("Throttling", 400)
    assert error_of(lambda: p.client("dynamodb").list_tables()) == ("ThrottlingException", 400)
    assert error_of(lambda: p.client("service-quotas").list_services()) == ("ThrottlingException", 400)
    assert error_of(lambda: p.client("eks").list_clusters()) == ("ThrottlingException", 429)
    counts = p.counts()
    assert counts["injected"] == counts["requests"] == 6
    assert counts["by_code"] == {"RequestLimitExceeded": 1, "Throttling": 2, "ThrottlingException": 3}
    assert counts["by_service"]["ec2"] == 1 and counts["by_service"]["eks"] == 1


def test_botocore_retries_what_the_proxy_injects(proxy):
    """The shapes are the ones AWS's SDKs classify as retryable: with retries on, a call
    gets through once the fault passes."""
    p = proxy(0.5, "throttle,http_500,http_503")
    ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{p.port}", region_name=REGION,
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 10, "mode": "standard"}))
    for _ in range(10):
        ec2.describe_vpcs()
    counts = p.counts()
    assert counts["injected"] > 0 and counts["forwarded"] == 10


def test_server_errors(proxy):
    p = proxy(1.0, "http_503")
    assert error_of(lambda: p.client("ec2").describe_vpcs()) == ("Unavailable", 503)
    assert error_of(lambda: p.client("sts").get_caller_identity()) == ("ServiceUnavailable", 503)
    p500 = proxy(1.0, "http_500")
    assert error_of(lambda: p500.client("dynamodb").list_tables()) == ("InternalFailure", 500)


def test_connection_reset(proxy):
    p = proxy(1.0, "reset")
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)):
        p.client("ec2").describe_vpcs()
    assert p.counts()["by_kind"] == {"reset": 1}


def test_a_lost_answer_comes_after_the_call_took_effect(proxy, stack):
    name = f"lost-{uuid.uuid4().hex[:8]}"
    p = proxy(1.0, "lost_answer")
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)):
        p.client("sqs").create_queue(QueueName=name)
    assert any(url.endswith(name) for url in stack.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", []))
    assert p.counts()["by_kind"] == {"lost_answer": 1}


def test_no_fault_forwards_and_latency_only_delays(proxy, stack):
    name = f"proxied-{uuid.uuid4().hex[:8]}"
    p = proxy(0.0)
    p.client("sqs").create_queue(QueueName=name)
    assert any(url.endswith(name) for url in stack.client("sqs").list_queues(QueueNamePrefix=name).get("QueueUrls", []))
    slow = proxy(1.0, "latency")
    started = time.monotonic()
    assert slow.client("sqs").list_queues(QueueNamePrefix=name)["QueueUrls"]
    assert time.monotonic() - started >= 0.2
    assert slow.counts()["by_kind"] == {"latency": 1} and slow.counts()["forwarded"] == 1


def test_exits_with_its_parent(stack, tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child = subprocess.Popen([sys.executable, str(LOCAL / "fault_proxy.py"), "--port", str(free_port()), "--target",
                              stack.endpoint, "--rate", "0", "--state-dir", str(tmp_path), "--parent-pid", str(parent.pid)])
    time.sleep(0.5)
    parent.kill()
    parent.wait()
    assert child.wait(10) == 0


def test_bad_rate_is_refused(tmp_path):
    out = subprocess.run([sys.executable, str(LOCAL / "fault_proxy.py"), "--port", "1", "--target", "http://x",
                          "--rate", "2", "--state-dir", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 2 and "--rate must be between 0 and 1" in out.stderr


# ---------------------------------------------------------------- what the secret scan reads


def test_issued_credentials_are_listed(stack):
    role_arn = create_customer_role(stack, VENDOR_WITH_EXTERNAL_ID)
    issued = assume(stack, role_arn)["Credentials"]
    with urllib.request.urlopen(f"{stack.endpoint}/moto-api/byoc/credentials", timeout=10) as response:
        listed = json.load(response)["credentials"]
    mine = [c for c in listed if c["access_key_id"] == issued["AccessKeyId"]]
    assert len(mine) == 1
    assert mine[0]["secret_access_key"] == issued["SecretAccessKey"]
    assert mine[0]["session_token"] == issued["SessionToken"]
    assert (mine[0]["role_arn"], mine[0]["external_id"]) == (role_arn, EXTERNAL_ID)
    assert role_arn.split(":")[4] == CUSTOMER_ACCOUNT


def test_api_response_log(tmp_path, monkeypatch):
    from moto_ext import api_gateway

    target = tmp_path / "api-responses.log"
    monkeypatch.delenv(api_gateway.RESPONSE_LOG_ENV, raising=False)
    api_gateway.record_response("GET", "/x", 200, b"{}")
    assert not target.exists()
    monkeypatch.setenv(api_gateway.RESPONSE_LOG_ENV, str(target))
    api_gateway.record_response("POST", "/restapis/a/v1/_user_request_/tenants", 201, b'{"external_id":"e"}')
    api_gateway.record_response("GET", "/restapis/a/v1/_user_request_/installs/i", 200, "ü".encode())
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines == [
        {"method": "POST", "path": "/restapis/a/v1/_user_request_/tenants", "status": 201, "body": '{"external_id":"e"}'},
        {"method": "GET", "path": "/restapis/a/v1/_user_request_/installs/i", "status": 200, "body": "ü"},
    ]
