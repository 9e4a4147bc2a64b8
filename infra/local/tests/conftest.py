"""Shared fixtures: one local AWS stack for the whole test session.

The stack is started with infra/local/up in a temporary state dir (BYOC_LOCAL_DIR) and
stopped with infra/local/down, exactly as developers and the end-to-end tests use it.
Set BYOC_LOCAL_VENV to reuse an existing virtualenv (infra/local/test does).
"""

from __future__ import annotations

import io
import json
import random
import urllib.request
import os
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

LOCAL = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(LOCAL))  # for unit tests of moto_ext

VENDOR_ACCOUNT = "123456789012"  # moto's default account
CUSTOMER_ACCOUNT = "111122223333"
REGION = "us-east-1"
FUNCTION_ROLE = f"arn:aws:iam::{VENDOR_ACCOUNT}:role/fixture-function"


@dataclass
class Stack:
    env: dict[str, str]
    state_dir: Path

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    @property
    def gateway(self) -> str:
        return self.env["BYOC_LOCAL_GATEWAY_URL"]

    def client(self, service: str, account: str | None = None, **credentials):
        """A boto3 client for the stack; `account` acts in that account (moto's
        x-moto-account-id header), `credentials` override the default test keys."""
        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=credentials.get("aws_access_key_id", "test"),
            aws_secret_access_key=credentials.get("aws_secret_access_key", "test"),
            aws_session_token=credentials.get("aws_session_token"),
            config=Config(retries={"max_attempts": 1}, read_timeout=120),
        )
        if account:
            client.meta.events.register(
                "before-sign.*.*",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
            )
        return client

    def log(self) -> str:
        return (self.state_dir / "logs" / "moto.log").read_text(errors="replace")

    def function_log(self, name: str) -> str:
        path = self.state_dir / "logs" / "functions" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def fresh_account() -> str:
    """An account id no other test uses (settings and resources are per account)."""
    return str(random.randint(200_000_000_000, 899_999_999_999))


def steer(stack: Stack, section: str, account: str, **settings) -> None:
    """Posts emulator settings for `account` under `section` (moto_ext/control.py)."""
    body = json.dumps({"byoc": {section: {account: settings}}}).encode()
    request = urllib.request.Request(f"{stack.endpoint}/moto-api/config", data=body, method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def refused(call, code: str) -> str:
    """Runs `call`, which AWS must refuse with `code`; the refusal's message."""
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    return caught.value.response["Error"]["Message"]


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def run_script(name: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOCAL / name)], env=env, capture_output=True, text=True, timeout=300
    )


def stack_environment(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["BYOC_LOCAL_DIR"] = str(state_dir)
    env["BYOC_FAULT_TEST_MARKER"] = "injected"  # must reach function processes
    return env


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    state_dir = tmp_path_factory.mktemp("stack")
    env = stack_environment(state_dir)
    up = run_script("up", env)
    assert up.returncode == 0, up.stdout + up.stderr
    yield Stack(read_env_file(state_dir / "stack.env"), state_dir)
    down = run_script("down", env)
    assert down.returncode == 0, down.stdout + down.stderr


# ---------------------------------------------------------------- Lambda helpers


def make_zip(files: dict[str, tuple[str | bytes, int]]) -> bytes:
    """A function zip; files maps name -> (content, unix mode)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def runtime_zip() -> bytes:
    """bootstrap is the fixture runtime itself (like a native binary in the zip)."""
    return make_zip({"bootstrap": ((FIXTURES / "runtime.py").read_text(), 0o755)})


def exec_zip() -> bytes:
    """bootstrap is a script exec'ing an absolute path (what the local deploy ships),
    stored without the executable bit: the host must make it executable."""
    script = f"#!/bin/sh\nexec {FIXTURES / 'runtime.py'}\n"
    return make_zip({"bootstrap": (script, 0o644)})


def ensure_function_role(stack: Stack) -> None:
    """moto's CreateFunction insists that the execution role exists."""
    iam = stack.client("iam")
    try:
        iam.create_role(
            RoleName=FUNCTION_ROLE.rsplit("/", 1)[-1],
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    # Functions run with their role's credentials (moto_ext/lambda_role.py), evaluated as IAM
    # does: what the fixture runtimes call (fixtures/sqs_consumer.py's watch path, the
    # write-back consumer of test_dynamodb_streams.py).
    iam.put_role_policy(
        RoleName=FUNCTION_ROLE.rsplit("/", 1)[-1],
        PolicyName="fixture-runtimes",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"], "Resource": f"arn:aws:sqs:{REGION}:{VENDOR_ACCOUNT}:*"},
                    {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": f"arn:aws:dynamodb:{REGION}:{VENDOR_ACCOUNT}:table/*"},
                    # no resource type in the Service Authorization Reference: "*" only
                    {"Effect": "Allow", "Action": ["states:SendTaskSuccess", "states:SendTaskFailure"], "Resource": "*"},
                ],
            }
        ),
    )


def create_function(stack: Stack, zip_bytes: bytes | None = None, **overrides) -> str:
    name = overrides.pop("FunctionName", f"fixture-{uuid.uuid4().hex[:8]}")
    spec = {
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Role": FUNCTION_ROLE,
        "Code": {"ZipFile": zip_bytes if zip_bytes is not None else runtime_zip()},
        "Timeout": 10,
        "MemorySize": 256,
        "Environment": {"Variables": {"FIXTURE_SETTING": "from-function-config"}},
    }
    spec.update(overrides)
    ensure_function_role(stack)
    stack.client("lambda").create_function(**spec)
    return name


def invoke(stack: Stack, name: str, event: dict, **kwargs) -> tuple[dict, object]:
    response = stack.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs
    )
    raw = response["Payload"].read()
    return response, (json.loads(raw) if raw else None)
