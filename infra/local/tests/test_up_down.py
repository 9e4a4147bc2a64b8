"""infra/local/up and down: idempotent, and leave no process behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import boto3
from conftest import Stack, create_function, invoke, read_env_file, run_script, stack_environment

EXPECTED_KEYS = {
    "AWS_ENDPOINT_URL",
    "BYOC_LOCAL_MOTO_PORT",
    "BYOC_LOCAL_GATEWAY_URL",
    "BYOC_LOCAL_PID",
    "BYOC_LOCAL_DIR",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def start_function(state_dir: Path, **overrides) -> int:
    """Start a function process in the stack; returns its pid."""
    stack = Stack(read_env_file(state_dir / "stack.env"), state_dir)
    name = create_function(stack, **overrides)
    _, payload = invoke(stack, name, {"action": "echo"})
    return payload["pid"]


def test_up_and_down_twice(tmp_path):
    env = stack_environment(tmp_path)
    for _ in range(2):
        first = run_script("up", env)
        assert first.returncode == 0, first.stderr
        values = read_env_file(tmp_path / "stack.env")
        assert EXPECTED_KEYS <= values.keys()
        assert values["BYOC_LOCAL_DIR"] == str(tmp_path.resolve())
        assert values["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{values['BYOC_LOCAL_MOTO_PORT']}"
        sts = boto3.client(
            "sts",
            endpoint_url=values["AWS_ENDPOINT_URL"],
            region_name=values["AWS_REGION"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        assert sts.get_caller_identity()["Account"] == "123456789012"

        again = run_script("up", env)
        assert again.returncode == 0
        assert "already running" in again.stdout
        assert read_env_file(tmp_path / "stack.env") == values

        launcher = int(values["BYOC_LOCAL_PID"])
        function = start_function(tmp_path)
        down = run_script("down", env)
        assert down.returncode == 0, down.stderr
        assert "stopped" in down.stdout
        assert wait_gone(launcher) and wait_gone(function)
        assert not (tmp_path / "stack.env").exists()

        down_again = run_script("down", env)
        assert down_again.returncode == 0
        assert "not running" in down_again.stdout


def test_recovers_from_a_killed_launcher(tmp_path):
    env = stack_environment(tmp_path)
    assert run_script("up", env).returncode == 0
    launcher = int(read_env_file(tmp_path / "stack.env")["BYOC_LOCAL_PID"])
    function = start_function(tmp_path, Environment={"Variables": {"BYOC_TEST_LINGER": "1"}})
    os.kill(launcher, signal.SIGKILL)  # no chance to clean up
    assert wait_gone(launcher)
    assert alive(function)

    up = run_script("up", env)  # notices the stale stack.env and cleans up
    assert up.returncode == 0, up.stderr
    assert wait_gone(function)
    assert int(read_env_file(tmp_path / "stack.env")["BYOC_LOCAL_PID"]) != launcher
    assert run_script("down", env).returncode == 0


def test_down_with_nothing_started(tmp_path):
    env = stack_environment(tmp_path / "never-started")
    result = run_script("down", env)
    assert result.returncode == 0
    assert "not running" in result.stdout
