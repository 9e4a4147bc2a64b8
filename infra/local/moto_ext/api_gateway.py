"""API Gateway REST (v1) front door that runs Lambda proxy integrations.

moto stores REST APIs but never serves them. This server does, on its own port, with
LocalStack's URL scheme:

    http://127.0.0.1:<port>/restapis/{api_id}/{stage}/_user_request_/{path...}

It finds the API in moto's apigateway backends (any account or region), matches the path
against the API's resources (literal segments beat `{param}`, which beats `{proxy+}`), and
for an AWS_PROXY integration invokes the Lambda function through the same host as the
Lambda Invoke API, with the REST proxy event (payload format 1.0).

With BYOC_API_RESPONSE_LOG set to a file path, every response is appended to it as one JSON
line ({"method","path","status","body"}) for the end-of-suite secret scan
(infra/checks/secret_scan.py); unset, nothing is recorded.

Not modelled: request validation, authorizers other than AWS_IAM presence, SigV4
signature verification (the access key is read from the Authorization header and
trusted), mapping templates, non-proxy integrations, binaryMediaTypes (bodies that are not
UTF-8 are sent base64-encoded).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import lambda_runtime
from .sts_trust import caller_for_access_key

LOG = logging.getLogger("byoc.api_gateway")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
USER_REQUEST = re.compile(r"^/restapis/([^/]+)/([^/]+)/_user_request_(/.*)?$")
LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$"
)
FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([^:]+)(?::(.+))?$"
)
SIGV4_CREDENTIAL = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)/")
RESPONSE_LOG_ENV = "BYOC_API_RESPONSE_LOG"
_RESPONSE_LOG_LOCK = threading.Lock()


def record_response(method: str, path: str, status: int, body: bytes) -> None:
    """Appends the response to $BYOC_API_RESPONSE_LOG, when set."""
    target = os.environ.get(RESPONSE_LOG_ENV)
    if not target:
        return
    line = json.dumps({"method": method, "path": path, "status": status, "body": body.decode("utf-8", "replace")})
    with _RESPONSE_LOG_LOCK, open(target, "a", encoding="utf-8") as log:
        log.write(line + "\n")


class GatewayError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def missing_token() -> GatewayError:
    # What API Gateway answers for a route that does not exist, and for an AWS_IAM
    # method called without a signature.
    return GatewayError(403, "Missing Authentication Token")


def start(port: int) -> ThreadingHTTPServer:
    """Serve the gateway on 127.0.0.1:port from a daemon thread."""
    server = _GatewayServer(("127.0.0.1", port), _GatewayHandler)
    threading.Thread(target=server.serve_forever, name="api-gateway", daemon=True).start()
    return server


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # API Gateway takes bursts of new connections (100 installs at once); socketserver's
    # default listen backlog of 5 refused some of them.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients may hang up
            super().handle_error(request, client_address)


# ---------------------------------------------------------------- routing


@dataclass
class Route:
    api: Any  # moto RestAPI
    stage: Any  # moto Stage
    resource: Any  # moto Resource
    method: Any  # moto Method
    resource_path: str  # the template, e.g. /installs/{id}
    path_parameters: dict[str, str]


def find_api(api_id: str) -> Any | None:
    from moto.apigateway.models import apigateway_backends

    for _account, by_region in list(apigateway_backends.items()):
        for _region, backend in list(by_region.items()):
            api = backend.apis.get(api_id)
            if api is not None:
                return api
    return None


def match_template(template: str, segments: list[str]) -> tuple[tuple, dict] | None:
    """(specificity, path parameters) if the resource template matches the path."""
    parts = [p for p in template.split("/") if p]
    score: list[int] = []
    params: dict[str, str] = {}
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if i != len(parts) - 1 or i >= len(segments):
                return None  # greedy only as the last part, and it needs a segment
            params[part[1:-2]] = "/".join(segments[i:])
            score.append(0)
            return tuple(score), params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[i]
            score.append(1)
        elif part == segments[i]:
            score.append(2)
        else:
            return None
    if len(parts) != len(segments):
        return None
    return tuple(score), params


def route(api_id: str, stage_name: str, method: str, path: str) -> Route:
    api = find_api(api_id)
    if api is None or stage_name not in api.stages:
        raise GatewayError(403, "Forbidden")
    segments = [unquote(s) for s in path.split("/") if s]
    best: tuple[tuple, Any, str, dict] | None = None
    for resource in list(api.resources.values()):
        template = resource.get_path()
        matched = match_template(template, segments)
        # Compare specificity segment by segment; a literal beats a parameter.
        if matched and (best is None or matched[0] > best[0]):
            best = (matched[0], resource, template, matched[1])
    if best is None:
        raise missing_token()
    _, resource, template, params = best
    methods = resource.resource_methods
    found = methods.get(method) or methods.get("ANY")
    if found is None:
        raise missing_token()
    return Route(api, api.stages[stage_name], resource, found, template, params)


def lambda_function_for(route_: Route) -> Any:
    integration = route_.method.method_integration
    if integration is None or (integration.integration_type or "").upper() != "AWS_PROXY":
        LOG.warning("%s: only AWS_PROXY Lambda integrations are served", route_.resource_path)
        raise GatewayError(500, "Internal server error")
    uri = LAMBDA_URI.match(integration.uri or "")
    arn = FUNCTION_ARN.match(uri.group(1)) if uri else None
    if arn is None:
        LOG.warning("%s: integration uri is not a Lambda function", route_.resource_path)
        raise GatewayError(500, "Internal server error")
    region, account, name, qualifier = arn.groups()
    from moto.awslambda.utils import get_backend

    try:
        return get_backend(account, region).get_function(name, qualifier)
    except Exception:
        LOG.warning("%s: Lambda function %s not found", route_.resource_path, name)
        raise GatewayError(500, "Internal server error")


# ---------------------------------------------------------------- proxy event


def proxy_event(
    route_: Route,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    host: str,
) -> dict:
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body = base64.b64encode(body).decode()
        is_base64 = True
    now = datetime.now(timezone.utc)
    stage = route_.stage.name
    return {
        "resource": route_.resource_path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": route_.path_parameters or None,
        "stageVariables": dict(route_.stage.variables or {}) or None,
        "requestContext": {
            "accountId": route_.api.account_id,
            "apiId": route_.api.id,
            "resourceId": route_.resource.id,
            "resourcePath": route_.resource_path,
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "domainName": host,
            "identity": identity(single_headers, source_ip),
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def access_key_of(headers: dict[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "authorization":
            match = SIGV4_CREDENTIAL.search(value)
            return match.group(1) if match else None
    return None


def identity(headers: dict[str, str], source_ip: str) -> dict:
    user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
    result: dict[str, Any] = {
        "sourceIp": source_ip,
        "userAgent": user_agent,
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "user": None,
        "userArn": None,
        "cognitoIdentityPoolId": None,
        "cognitoIdentityId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
    }
    access_key = access_key_of(headers)
    if access_key:
        from moto.iam.models import get_account_id_from

        caller = caller_for_access_key(access_key, get_account_id_from(access_key), "aws")
        result.update(
            accessKey=access_key,
            accountId=caller.account,
            caller=caller.arn,
            user=caller.arn.rsplit("/", 1)[-1],
            userArn=caller.arn,
        )
    return result


# ---------------------------------------------------------------- HTTP


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, body: dict) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def proxy_response(result: lambda_runtime.InvokeResult) -> HttpResponse:
    """Map a Lambda proxy response to HTTP; anything malformed is a 502, as on AWS."""
    if result.failed:
        return json_response(502, {"message": "Internal server error"})
    try:
        output = json.loads(result.payload)
        status = int(output["statusCode"])
    except (ValueError, TypeError, KeyError):
        LOG.warning("malformed Lambda proxy response")
        return json_response(502, {"message": "Internal server error"})
    headers: list[tuple[str, str]] = []
    multi = output.get("multiValueHeaders") or {}
    for name, value in (output.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(v)) for v in values)
    body = output.get("body") or ""
    data = base64.b64decode(body) if output.get("isBase64Encoded") else str(body).encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, data)


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by _serve, without the query string

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        url = urlsplit(self.path)
        try:
            response = self._handle(url.path, url.query, request_id)
        except GatewayError as exc:
            response = json_response(exc.status, {"message": exc.message})
        except Exception:
            LOG.exception("gateway request failed")
            response = json_response(500, {"message": "Internal server error"})
        LOG.info(
            "%s %s -> %s (%.0f ms)",
            self.command,
            url.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        record_response(self.command, url.path, response.status, response.body)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _handle(self, path: str, query: str, request_id: str) -> HttpResponse:
        body = self._read_body()
        match = USER_REQUEST.match(path)
        if not match:
            raise missing_token()
        api_id, stage, user_path = match.group(1), match.group(2), match.group(3) or "/"
        route_ = route(api_id, stage, self.command, user_path)
        headers = list(self.headers.items())
        if (route_.method.authorization_type or "").upper() == "AWS_IAM":
            if access_key_of(dict(headers)) is None:
                raise missing_token()
        fn = lambda_function_for(route_)
        event = proxy_event(
            route_,
            self.command,
            user_path,
            query,
            headers,
            body,
            self.client_address[0],
            request_id,
            self.headers.get("Host", ""),
        )
        result = lambda_runtime.invoke_function(fn, json.dumps(event).encode())
        return proxy_response(result)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    self.close_connection = True
                    raise GatewayError(413, "Request Too Long")
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the unread body makes the connection unusable
            raise GatewayError(413, "Request Too Long")
        return self.rfile.read(length) if length else b""
