"""Runs this repo's real Lambda functions behind moto's Lambda Invoke API, without Docker.

moto stores functions but can only run them in Docker, which the local stack does not
have. This module replaces `LambdaFunction.invoke` with a small Lambda host:

* the function's zip (moto keeps its bytes in `code_bytes`, whether it came as ZipFile or
  from S3Bucket/S3Key) is extracted once into `$STATE/lambda-code/<sha256 hex>/` and its
  `bootstrap` is executed from there, as the `provided.al2023` runtime does;
* every process gets its own Lambda Runtime API server (the endpoints the Rust
  `lambda_runtime` crate polls) on 127.0.0.1, and the Lambda environment variables;
* idle processes of the same function, code and configuration are reused (warm starts);
  another process starts when all are busy, so concurrent invocations run in parallel;
* results come back exactly as AWS Lambda returns them, so moto's Step Functions
  interpreter (which reaches this through the HTTP Invoke API) matches Retry/Catch on the
  `errorType` of a failed invocation;
* process output is appended to `$STATE/logs/functions/<function-name>.log`;
* each process runs with credentials of an assumed-role session of the function's execution
  role, as Lambda provides them (lambda_role.py), so iam_enforce authorizes what a function
  calls against its own role.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import lambda_role

LOG = logging.getLogger("byoc.lambda_runtime")

# AWS gives init 10 s; a cold start here may compete with many others for 2 cores.
INIT_TIMEOUT_S = 30.0
# Idle processes kept per function; more are stopped when released.
MAX_IDLE_PER_FUNCTION = 8
# Host variables a function process inherits; everything else comes from the function.
PASSTHROUGH_ENV = ("PATH", "HOME", "RUST_LOG", "RUST_BACKTRACE")
FAULT_ENV_PREFIX = "BYOC_FAULT_"  # host-side fault injection for tests


@dataclass(frozen=True)
class InvokeResult:
    """What Lambda's Invoke returns: a payload, and an error type for a function error."""

    payload: bytes
    error_type: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def function_error(error_type: str, message: str) -> InvokeResult:
    body = {"errorType": error_type, "errorMessage": message}
    return InvokeResult(json.dumps(body).encode(), error_type)


# ---------------------------------------------------------------- public entry points

_host: _Host | None = None


def install(state_dir: Path, moto_port: int) -> None:
    """Route every moto Lambda invocation through our host."""
    global _host
    from moto.awslambda.models import LambdaFunction

    _host = _Host(Path(state_dir), moto_port)
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
    for name in ("update_function_code", "update_configuration"):
        setattr(LambdaFunction, name, _new_generation_after(getattr(LambdaFunction, name)))


def _new_generation_after(update: Any) -> Any:
    """On AWS every UpdateFunctionCode / UpdateFunctionConfiguration gets fresh execution
    environments. That matters here beyond fidelity: the local deploy's zips only hold a
    `bootstrap` that execs a binary by path, so a rebuilt binary has the same zip and only
    a new generation gets it started."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = update(self, *args, **kwargs)
        self._byoc_generation = uuid.uuid4().hex
        return result

    return wrapper


def invoke_function(fn: Any, payload: bytes) -> InvokeResult:
    """Synchronously invoke a moto LambdaFunction (also used by the API gateway)."""
    if _host is None:
        raise RuntimeError("lambda_runtime.install() was not called")
    return _host.invoke(fn, payload)


def shutdown() -> None:
    """Kill every function process (the launcher calls this on exit)."""
    if _host is not None:
        _host.shutdown()


def _invoke(
    self: Any, body: Any, request_headers: Any, response_headers: dict
) -> bytes:
    """Replacement for moto's LambdaFunction.invoke (moto's response layer turns an
    empty payload into 202 for Event and 204 for DryRun)."""
    invocation_type = (request_headers or {}).get(
        "X-Amz-Invocation-Type"
    ) or "RequestResponse"
    if isinstance(body, str):
        body = body.encode()
    payload = body or b"{}"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(
            target=invoke_function, args=(self, payload), daemon=True
        ).start()
        return b""
    result = invoke_function(self, payload)
    response_headers["X-Amz-Executed-Version"] = str(self.version)
    if result.failed:
        # AWS marks every error reported by the runtime (or the sandbox) "Unhandled".
        response_headers["X-Amz-Function-Error"] = "Unhandled"
    return result.payload


# ---------------------------------------------------------------- function identity


@dataclass(frozen=True)
class FunctionSpec:
    """Everything that makes a warm process reusable; any change means new processes."""

    account_id: str
    region: str
    name: str
    arn: str
    generation: str  # new on create and on every update (see _new_generation_after)
    code_digest: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    role: str
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, fn: Any) -> FunctionSpec:
        # code_digest is moto's hex sha256 of code_bytes; not always set (S3 code that
        # was missing at creation), so fall back to hashing the bytes.
        digest = getattr(fn, "code_digest", "") or hashlib.sha256(
            fn.code_bytes or b""
        ).hexdigest()
        return cls(
            account_id=fn.account_id,
            region=fn.region,
            name=fn.function_name,
            arn=fn.function_arn,
            generation=fn.__dict__.setdefault("_byoc_generation", uuid.uuid4().hex),
            code_digest=digest,
            handler=fn.handler or "bootstrap",
            runtime=fn.run_time or "provided.al2023",
            timeout=int(fn.timeout or 3),
            memory_size=int(fn.memory_size or 128),
            role=fn.role or "",
            env=tuple(sorted((k, str(v)) for k, v in (fn.environment_vars or {}).items())),
        )

    @property
    def pool_key(self) -> str:
        return self.arn  # qualified for a published version, so versions don't collide


class InvalidCode(Exception):
    pass


def extract_code(code_root: Path, digest: str, code_bytes: bytes) -> Path:
    """Unpack a function zip once per content hash; returns the task root."""
    target = code_root / digest
    if not target.is_dir():
        if not code_bytes:
            raise InvalidCode("function has no code")
        staging = code_root / f".{digest}.{uuid.uuid4().hex}"
        try:
            with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
                for info in archive.infolist():
                    archive.extract(info, staging)
                    # zipfile drops Unix modes; keep the executable bits the zip carries.
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        os.chmod(staging / info.filename, mode)
        except zipfile.BadZipFile as exc:
            raise InvalidCode(f"function code is not a zip: {exc}") from exc
        try:
            os.rename(staging, target)
        except OSError as exc:  # another thread unpacked the same code first
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            subprocess.run(["rm", "-rf", str(staging)], check=False)
    bootstrap = target / "bootstrap"
    if not bootstrap.is_file():
        raise InvalidCode("Couldn't find valid bootstrap(s): [/var/task/bootstrap]")
    mode = bootstrap.stat().st_mode
    if not mode & stat.S_IXUSR:
        bootstrap.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


# ---------------------------------------------------------------- one invocation


class Invocation:
    def __init__(self, spec: FunctionSpec, payload: bytes):
        self.spec = spec
        self.payload = payload
        self.request_id = str(uuid.uuid4())
        self.trace_id = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
        self.deadline = 0.0  # epoch seconds, set when the runtime picks it up
        self.picked_up = threading.Event()
        self.done = threading.Event()
        self.result: InvokeResult | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.deadline = time.time() + self.spec.timeout
        self.picked_up.set()

    def finish(self, result: InvokeResult) -> bool:
        """First outcome wins (a late response after a timeout is ignored)."""
        with self._lock:
            if self.done.is_set():
                return False
            self.result = result
            self.done.set()
            self.picked_up.set()
            return True


# ---------------------------------------------------------------- one function process

# How Lambda words a runtime killed by a signal ("Runtime exited with error: signal: killed").
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
}


class RuntimeProcess:
    """A bootstrap process plus the Runtime API server it talks to."""

    def __init__(self, spec: FunctionSpec, code_dir: Path, host: _Host):
        self.spec = spec
        self.host = host
        self._inbox: queue.Queue[Invocation | None] = queue.Queue()
        self._lock = threading.Lock()
        self._current: Invocation | None = None
        self.exited = False
        self.broken = False  # init error, timeout or exit: never reuse
        self._init_error: InvokeResult | None = None
        self.server = _RuntimeApiServer(self)
        threading.Thread(
            target=self.server.serve_forever, name=f"runtime-api-{spec.name}", daemon=True
        ).start()
        log_stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        log = open(host.function_log(spec.name), "ab")
        try:
            self.popen = subprocess.Popen(
                [str(code_dir / "bootstrap")],
                cwd=code_dir,
                env=host.environment(spec, self.server.server_port, code_dir, log_stream),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Own process group, so a timeout kills whatever bootstrap started too.
                start_new_session=True,
            )
        except OSError:
            self.server.shutdown()
            self.server.server_close()
            raise
        finally:
            log.close()
        self.pid = self.popen.pid
        host.register(self)
        threading.Thread(
            target=self._watch_exit, name=f"runtime-exit-{self.pid}", daemon=True
        ).start()

    @property
    def reusable(self) -> bool:
        return not (self.exited or self.broken)

    def invoke(self, inv: Invocation) -> InvokeResult:
        with self._lock:
            if self._init_error is not None:
                return self._init_error
            if self.exited:
                return self._exit_error(inv, self.popen.returncode)
            self._current = inv
        self._inbox.put(inv)
        if not inv.picked_up.wait(INIT_TIMEOUT_S):
            inv.finish(
                function_error(
                    "Runtime.InitError",
                    f"RequestId: {inv.request_id} Error: runtime did not ask for an "
                    f"invocation within {INIT_TIMEOUT_S:.0f}s of starting",
                )
            )
            self.kill()
        remaining = max(0.0, inv.deadline - time.time())
        if not inv.done.wait(remaining):
            if inv.finish(
                function_error(
                    "Sandbox.Timedout",
                    f"Task timed out after {self.spec.timeout:.2f} seconds",
                )
            ):
                self.host.log_line(
                    self.spec.name,
                    f"{_now_iso()} {inv.request_id} Task timed out after "
                    f"{self.spec.timeout:.2f} seconds",
                )
                self.kill()
        with self._lock:
            self._current = None
        assert inv.result is not None
        return inv.result

    # -- called by the Runtime API handlers

    def take_next(self) -> Invocation | None:
        """Blocks until there is work (None: this process is going away)."""
        while True:
            inv = self._inbox.get()
            if inv is None or not inv.done.is_set():
                if inv is not None:
                    inv.start()
                return inv

    def complete(self, request_id: str, result: InvokeResult) -> bool:
        inv = self._current
        if inv is None or inv.request_id != request_id:
            return False
        inv.finish(result)
        return True

    def init_failed(self, error: dict) -> None:
        """The runtime reported that it cannot start (it may post this before any
        invocation was handed to it, so the error is kept for the next one)."""
        message = str(error.get("errorMessage") or "init failed")
        detail = error.get("errorType")
        if detail:
            message = f"{detail}: {message}"
        with self._lock:
            self._init_error = function_error("Runtime.InitError", message)
            inv = self._current
        if inv is not None:
            inv.finish(self._init_error)
        self.kill()

    # -- lifecycle

    def _exit_error(self, inv: Invocation, returncode: int | None) -> InvokeResult:
        if returncode is not None and returncode < 0:
            how = f"signal: {_SIGNAL_WORDS.get(-returncode, f'signal {-returncode}')}"
        else:
            how = f"exit status {returncode}"
        return function_error(
            "Runtime.ExitError",
            f"RequestId: {inv.request_id} Error: Runtime exited with error: {how}",
        )

    def _watch_exit(self) -> None:
        returncode = self.popen.wait()
        with self._lock:
            self.exited = True
            inv = self._current
            outcome = self._init_error
        if inv is not None:
            inv.finish(outcome or self._exit_error(inv, returncode))
        self._inbox.put(None)  # release a handler blocked in /next
        self.server.shutdown()
        self.server.server_close()
        self.host.unregister(self)

    def kill(self) -> None:
        self.broken = True
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------- Runtime API server

NEXT_PATH = "/2018-06-01/runtime/invocation/next"
INIT_ERROR_PATH = "/2018-06-01/runtime/init/error"
RESULT_PATH = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")


class _RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, process: RuntimeProcess):
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.process = process

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed process (timeout, shutdown) drops its connection mid-request; that
        # is expected, not worth a traceback in the launcher log.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    """The subset of the Lambda Runtime API that custom runtimes use."""

    protocol_version = "HTTP/1.1"  # the Rust client keeps its connection alive
    server: _RuntimeApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per poll would drown the launcher log

    def do_GET(self) -> None:
        if self.path != NEXT_PATH:
            self._reply(404, {"errorMessage": f"unknown path {self.path}"})
            return
        process = self.server.process
        inv = process.take_next()
        if inv is None:  # the process is gone or going: nobody to answer
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", inv.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(inv.deadline * 1000)))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", inv.spec.arn)
        self.send_header("Lambda-Runtime-Trace-Id", inv.trace_id)
        self.send_header("Content-Length", str(len(inv.payload)))
        self.end_headers()
        self.wfile.write(inv.payload)

    def do_POST(self) -> None:
        body = self._read_body()
        process = self.server.process
        if self.path == INIT_ERROR_PATH:
            process.init_failed(_json_object(body))
            self._reply(202, {"status": "OK"})
            return
        match = RESULT_PATH.match(self.path)
        if not match:
            self._reply(404, {"errorMessage": f"unknown path {self.path}"})
            return
        request_id, kind = match.groups()
        if kind == "response":
            result = InvokeResult(body)
        else:
            result = _error_result(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
        if process.complete(request_id, result):
            self._reply(202, {"status": "OK"})
        else:
            self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": "unknown request id"})

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _json_object(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {"errorMessage": body.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"errorMessage": str(value)}


def _error_result(body: bytes, header_type: str | None) -> InvokeResult:
    """A runtime-reported error, in the shape AWS returns to the invoker."""
    error = _json_object(body)
    error_type = error.get("errorType") or header_type or "Unhandled"
    error["errorType"] = error_type
    error.setdefault("errorMessage", "")
    return InvokeResult(json.dumps(error).encode(), str(error_type))


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------- warm pools


class _FunctionPool:
    def __init__(self, spec: FunctionSpec, code_dir: Path):
        self.spec = spec
        self.code_dir = code_dir
        self._idle: list[RuntimeProcess] = []
        self._lock = threading.Lock()
        self._retired = False

    def acquire(self, host: _Host) -> RuntimeProcess:
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.reusable:
                    return process
        return RuntimeProcess(self.spec, self.code_dir, host)

    def release(self, process: RuntimeProcess) -> None:
        with self._lock:
            if process.reusable and not self._retired and len(self._idle) < MAX_IDLE_PER_FUNCTION:
                self._idle.append(process)
                return
        process.kill()

    def retire(self) -> None:
        """The function's code or configuration changed: stop reusing these processes."""
        with self._lock:
            self._retired = True
            idle, self._idle = self._idle, []
        for process in idle:
            process.kill()


# ---------------------------------------------------------------- the host


class _Host:
    def __init__(self, state_dir: Path, moto_port: int):
        self.moto_port = moto_port
        self.code_root = state_dir / "lambda-code"
        self.log_root = state_dir / "logs" / "functions"
        # One file per live process, so infra/local/down can kill them even if the
        # launcher died without cleaning up.
        self.pid_root = state_dir / "run" / "lambda"
        for path in (self.code_root, self.log_root, self.pid_root):
            path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._code_lock = threading.Lock()
        self._pools: dict[str, _FunctionPool] = {}
        self._processes: set[RuntimeProcess] = set()
        self.sessions = lambda_role.ExecutionRoleSessions()
        self._closed = False

    def invoke(self, fn: Any, payload: bytes) -> InvokeResult:
        spec = FunctionSpec.of(fn)
        try:
            with self._code_lock:
                code_dir = extract_code(self.code_root, spec.code_digest, fn.code_bytes)
        except InvalidCode as exc:
            return function_error("Runtime.InvalidEntrypoint", str(exc))
        pool = self._pool_for(spec, code_dir)
        inv = Invocation(spec, payload)
        try:
            if self._closed:
                raise OSError("the local Lambda host is shutting down")
            process = pool.acquire(self)
        except OSError as exc:
            return function_error(
                "Runtime.InvalidEntrypoint", f"RequestId: {inv.request_id} Error: {exc}"
            )
        started = time.monotonic()
        self.log_line(spec.name, f"START RequestId: {inv.request_id} Version: $LATEST")
        try:
            result = process.invoke(inv)
        except BaseException:
            process.kill()
            raise
        finally:
            pool.release(process)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.log_line(spec.name, f"END RequestId: {inv.request_id}")
        self.log_line(
            spec.name,
            f"REPORT RequestId: {inv.request_id}\tDuration: {elapsed_ms:.2f} ms\t"
            f"Memory Size: {spec.memory_size} MB\tPid: {process.pid}"
            + (f"\tStatus: {result.error_type}" if result.failed else ""),
        )
        return result

    def _pool_for(self, spec: FunctionSpec, code_dir: Path) -> _FunctionPool:
        with self._lock:
            pool = self._pools.get(spec.pool_key)
            if pool is not None and pool.spec == spec:
                return pool
            self._pools[spec.pool_key] = fresh = _FunctionPool(spec, code_dir)
        if pool is not None:
            pool.retire()
        return fresh

    def environment(
        self, spec: FunctionSpec, api_port: int, code_dir: Path, log_stream: str
    ) -> dict[str, str]:
        # Layering: host defaults < the function's Environment < host fault injection
        # < variables Lambda reserves (a function cannot override those on AWS either).
        env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
        # infra/local/up points the functions (only) at the fault proxy when faults are on.
        env["AWS_ENDPOINT_URL"] = os.environ.get("BYOC_LOCAL_FUNCTION_ENDPOINT_URL") or f"http://127.0.0.1:{self.moto_port}"
        env.update(dict(spec.env))
        env.update({k: v for k, v in os.environ.items() if k.startswith(FAULT_ENV_PREFIX)})
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "_HANDLER": spec.handler,
                **self.sessions.credentials(spec.account_id, spec.region, spec.role, spec.name),
            }
        )
        return env

    def function_log(self, name: str) -> Path:
        return self.log_root / f"{name}.log"

    def log_line(self, name: str, line: str) -> None:
        with open(self.function_log(name), "ab") as log:
            log.write(line.encode() + b"\n")

    def register(self, process: RuntimeProcess) -> None:
        with self._lock:
            self._processes.add(process)
        (self.pid_root / str(process.pid)).write_text(f"{process.pid}\n")

    def unregister(self, process: RuntimeProcess) -> None:
        with self._lock:
            self._processes.discard(process)
        (self.pid_root / str(process.pid)).unlink(missing_ok=True)

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            process.kill()
        for process in processes:
            try:
                process.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("function process %s did not exit", process.pid)
            (self.pid_root / str(process.pid)).unlink(missing_ok=True)

