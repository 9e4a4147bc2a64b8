#!/usr/bin/env python3
"""A faulty network between the functions and the local AWS stack, for the fault tests.

Started by infra/local/up when BYOC_FAULT_RATE is set (e.g. 0.2): the Lambda host then gives
the functions this proxy as their AWS_ENDPOINT_URL (tests and the Step Functions interpreter
still talk to moto directly). At the set rate a request is not forwarded but answered the way
AWS answers when it is overloaded or broken, in the protocol the request speaks:

* throttling: `ThrottlingException` (JSON and REST-JSON services: DynamoDB, Step Functions,
  Service Quotas, EventBridge, EKS, Lambda), `RequestLimitExceeded` (EC2 query XML),
  `Throttling` (query-XML services: STS, IAM, CloudFormation, SNS), `SlowDown` (S3);
* 500 / 503 internal errors in the same shapes;
* a connection reset (the socket closed with RST, no answer);
* a lost answer: the request is forwarded, the emulator acts, and the answer is lost (RST
  instead of the response) — what a dropped connection does to a call that took effect, after
  which a repeated create that carries no idempotency token would make a second resource;
* or the request is forwarded after added latency.

All but the lost answer happen before the request reaches the emulator, so nothing was done:
the client's retry must redo it. What was injected is counted in
$STATE/fault-proxy.json. The proxy exits when the launcher (--parent-pid) is gone, so
infra/local/down needs to know nothing about it.

    fault_proxy.py --port P --target http://127.0.0.1:M --rate 0.2 --state-dir DIR \
                   [--parent-pid PID] [--seed N] [--kinds throttle,reset]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# How the injected faults are shared out; latency does no harm, the rest must be retried.
KINDS = (("throttle", 0.45), ("http_500", 0.1), ("http_503", 0.1), ("reset", 0.1), ("lost_answer", 0.1), ("latency", 0.15))
LATENCY_S = (0.2, 1.5)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_SERVICE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def service_of(headers) -> str:
    match = _SERVICE.search(headers.get("Authorization", ""))
    return match.group(1) if match else "unknown"


def protocol_of(service: str, headers) -> str:
    """`json`, `ec2`, `query`, `s3` or `rest-json`: how the service shapes its errors."""
    if headers.get("X-Amz-Target"):
        return "json"
    if service == "ec2":
        return "ec2"
    if service == "s3":
        return "s3"
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        return "query"
    return "rest-json"


# (status, code, message) per protocol and fault, as AWS documents them.
ERRORS = {
    "throttle": {
        "json": (400, "ThrottlingException", "Rate exceeded"),
        "rest-json": (429, "ThrottlingException", "Rate exceeded"),
        "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "query": (400, "Throttling", "Rate exceeded"),
        "s3": (503, "SlowDown", "Please reduce your request rate."),
    },
    "http_500": {
        "json": (500, "InternalFailure", "We encountered an internal error. Please try again."),
        "rest-json": (500, "InternalFailure", "We encountered an internal error. Please try again."),
        "ec2": (500, "InternalError", "An internal error has occurred."),
        "query": (500, "InternalFailure", "We encountered an internal error. Please try again."),
        "s3": (500, "InternalError", "We encountered an internal error. Please try again."),
    },
    "http_503": {
        "json": (503, "ServiceUnavailableException", "Service is unavailable. Please try again."),
        "rest-json": (503, "ServiceUnavailableException", "Service is unavailable. Please try again."),
        "ec2": (503, "Unavailable", "The server is overloaded and can't handle the request."),
        "query": (503, "ServiceUnavailable", "Service is unavailable. Please try again."),
        "s3": (503, "ServiceUnavailable", "Service is unavailable. Please try again."),
    },
}


def error_response(kind: str, protocol: str, request_headers) -> tuple[int, dict[str, str], bytes, str]:
    """The status, headers and body AWS sends for `kind` in `protocol`, and the error code."""
    status, code, message = ERRORS[kind][protocol]
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if protocol == "json":
        headers["Content-Type"] = request_headers.get("Content-Type", "application/x-amz-json-1.0")
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "rest-json":
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"message": message}).encode()
    elif protocol == "ec2":
        headers["Content-Type"] = "text/xml;charset=UTF-8"
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    elif protocol == "s3":
        headers["Content-Type"] = "application/xml"
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    else:
        headers["Content-Type"] = "text/xml"
        kind_of_fault = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind_of_fault}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    return status, headers, body, code


class Counts:
    """What went through and what was injected, kept in a JSON file the tests read."""

    def __init__(self, path: Path, rate: float):
        self.path = path
        self._lock = threading.Lock()
        self.data = {"rate": rate, "requests": 0, "forwarded": 0, "injected": 0, "by_kind": {}, "by_code": {}, "by_service": {}}
        self._write()

    def add(self, service: str, kind: str | None, code: str | None = None) -> None:
        with self._lock:
            self.data["requests"] += 1
            if kind is None or kind == "latency":
                self.data["forwarded"] += 1
            if kind is not None:
                self.data["injected"] += 1
                for key, value in (("by_kind", kind), ("by_code", code), ("by_service", service)):
                    if value:
                        self.data[key][value] = self.data[key].get(value, 0) + 1
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


class Proxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, target: str, rate: float, counts: Counts, rng: random.Random, kinds=KINDS):
        super().__init__(("127.0.0.1", port), Handler)
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rate = rate
        self.counts = counts
        self.rng = rng
        self.rng_lock = threading.Lock()
        total = sum(share for _, share in kinds)
        self.kinds = tuple((kind, share / total) for kind, share in kinds)

    def draw(self) -> str | None:
        with self.rng_lock:
            if self.rng.random() >= self.rate:
                return None
            pick = self.rng.random()
        for kind, share in self.kinds:
            if pick < share:
                return kind
            pick -= share
        return self.kinds[-1][0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server: Proxy

    def log_message(self, format: str, *args) -> None:  # request lines carry no faults worth logging
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        service = service_of(self.headers)
        # The emulator's own control API is the tests', not AWS's.
        kind = None if self.path.startswith("/moto-api") else self.server.draw()
        if kind == "reset":
            self.server.counts.add(service, kind, "reset")
            self._reset()
            return
        if kind == "lost_answer":
            self._forward(body, lose_answer=True)
            self.server.counts.add(service, kind, "lost_answer")
            return
        if kind in ERRORS:
            status, headers, payload, code = error_response(kind, protocol_of(service, self.headers), self.headers)
            self.server.counts.add(service, kind, code)
            self._reply(status, list(headers.items()), payload)
            return
        if kind == "latency":
            with self.server.rng_lock:
                delay = self.server.rng.uniform(*LATENCY_S)
            time.sleep(delay)
        self.server.counts.add(service, kind, "latency" if kind else None)
        self._forward(body)

    def _reset(self) -> None:
        self.close_connection = True
        # SO_LINGER 0: close sends RST instead of FIN, as a dropped connection does.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _forward(self, body: bytes, lose_answer: bool = False) -> None:
        upstream = http.client.HTTPConnection(self.server.target_host, self.server.target_port, timeout=300)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT") else None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            if lose_answer:
                self._reset()
                return
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
            self._reply(response.status, out, payload)
        except OSError as exc:
            self._reply(502, [("Content-Type", "text/plain")], f"fault proxy: upstream failed: {exc}".encode())
        finally:
            upstream.close()

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response_only(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def watch_parent(pid: int, server: Proxy) -> None:
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            server.shutdown()
            return
        except PermissionError:
            pass


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="the emulator, e.g. http://127.0.0.1:5000")
    parser.add_argument("--rate", type=float, required=True, help="share of requests faulted, 0..1")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--seed", type=int, help="repeatable fault sequence (one request at a time)")
    parser.add_argument("--kinds", help="only these faults, comma-separated: " + ",".join(k for k, _ in KINDS))
    args = parser.parse_args(argv)
    if not 0.0 <= args.rate <= 1.0:
        parser.error(f"--rate must be between 0 and 1, not {args.rate}")
    kinds = KINDS
    if args.kinds:
        wanted = args.kinds.split(",")
        unknown = sorted(set(wanted) - {k for k, _ in KINDS})
        if unknown:
            parser.error(f"--kinds: unknown {', '.join(unknown)}; choose from {', '.join(k for k, _ in KINDS)}")
        kinds = tuple((k, share) for k, share in KINDS if k in wanted)
    counts = Counts(args.state_dir / "fault-proxy.json", args.rate)
    server = Proxy(args.port, args.target, args.rate, counts, random.Random(args.seed), kinds)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid, server), daemon=True).start()
    print(f"fault proxy on 127.0.0.1:{args.port} -> {args.target}, rate {args.rate}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
