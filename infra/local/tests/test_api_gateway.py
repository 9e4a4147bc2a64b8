"""The API Gateway front door: REST APIs stored in moto, served with Lambda proxy."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import REGION, VENDOR_ACCOUNT, create_function

STAGE = "v1"


@pytest.fixture(scope="module")
def api(stack) -> dict:
    """/installs (POST, no auth), /installs/{id} (GET, AWS_IAM), /installs/{id}/fail,
    /{proxy+} (ANY) -> the fixture function."""
    name = create_function(stack)
    fn_arn = f"arn:aws:lambda:{REGION}:{VENDOR_ACCOUNT}:function:{name}"
    uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{fn_arn}/invocations"
    apigw = stack.client("apigateway")
    api_id = apigw.create_rest_api(name="fixture-api")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")

    def resource(parent: str, part: str) -> str:
        return apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]

    def method(resource_id: str, verb: str, auth: str) -> None:
        apigw.put_method(
            restApiId=api_id, resourceId=resource_id, httpMethod=verb, authorizationType=auth
        )
        apigw.put_integration(
            restApiId=api_id,
            resourceId=resource_id,
            httpMethod=verb,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=uri,
        )

    installs = resource(root, "installs")
    install = resource(installs, "{id}")
    fail = resource(install, "fail")
    proxy = resource(root, "{proxy+}")
    method(installs, "POST", "NONE")
    method(install, "GET", "AWS_IAM")
    method(fail, "GET", "NONE")
    method(proxy, "ANY", "NONE")
    apigw.create_deployment(restApiId=api_id, stageName=STAGE, variables={"tier": "local"})
    return {
        "id": api_id,
        "base": f"{stack.gateway}/restapis/{api_id}/{STAGE}/_user_request_",
        "resources": {"installs": installs, "install": install, "proxy": proxy},
    }


def call(url: str, method: str = "GET", body: bytes | None = None, headers=None, sign=False):
    headers = dict(headers or {})
    if sign:
        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(Credentials("AKIDVENDOR0000000000", "secret"), "execute-api", REGION).add_auth(
            request
        )
        headers = dict(request.headers.items())
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_proxy_event_fields(api, stack):
    url = f"{api['base']}/installs/inst-42?verbose=1&tag=a&tag=b"
    status, headers, body = call(url, headers={"X-Custom": "yes"}, sign=True)
    assert status == 200, body
    assert headers["X-Fixture"] == "yes"
    assert headers["x-amzn-RequestId"]
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    event = json.loads(body)
    assert event["resource"] == "/installs/{id}"
    assert event["path"] == "/installs/inst-42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "inst-42"}
    assert event["queryStringParameters"] == {"verbose": "1", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"verbose": ["1"], "tag": ["a", "b"]}
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["stageVariables"] == {"tier": "local"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == VENDOR_ACCOUNT
    assert context["apiId"] == api["id"]
    assert context["resourceId"] == api["resources"]["install"]
    assert context["resourcePath"] == "/installs/{id}"
    assert context["stage"] == STAGE
    assert context["path"] == f"/{STAGE}/installs/inst-42"
    assert context["httpMethod"] == "GET"
    assert context["protocol"] == "HTTP/1.1"
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["accessKey"] == "AKIDVENDOR0000000000"
    assert context["identity"]["userArn"].startswith(f"arn:aws:iam::{VENDOR_ACCOUNT}:")


def test_aws_iam_method_without_signature_is_403(api):
    status, _, body = call(f"{api['base']}/installs/inst-42")
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}


def test_post_body_and_status(api):
    status, _, body = call(
        f"{api['base']}/installs", "POST", json.dumps({"tenant": "t-1"}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 201
    event = json.loads(body)
    assert json.loads(event["body"]) == {"tenant": "t-1"}
    assert event["pathParameters"] is None


def test_binary_body_is_base64(api):
    status, _, body = call(f"{api['base']}/installs", "POST", b"\xff\xfe\x00binary")
    event = json.loads(body)
    assert status == 201
    assert event["isBase64Encoded"] is True


def test_literal_beats_parameter_and_greedy_path(api):
    status, _, _ = call(f"{api['base']}/installs/inst-1/fail")
    assert status == 502  # the /fail resource, whose function errors
    status, _, body = call(f"{api['base']}/some/deep/path", "DELETE")
    assert status == 200
    event = json.loads(body)
    assert event["resource"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "some/deep/path"}


def test_function_error_is_502(api):
    status, _, body = call(f"{api['base']}/installs/inst-1/fail")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_unknown_route_method_and_api(api, stack):
    status, _, body = call(f"{api['base']}/installs", "GET")  # no GET on /installs
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    status, _, _ = call(f"{stack.gateway}/restapis/nope/{STAGE}/_user_request_/x")
    assert status == 403
    status, _, _ = call(f"{stack.gateway}/not-a-gateway-path")
    assert status == 403


def test_body_over_10_mb_is_413(api):
    parts = urlsplit(f"{api['base']}/installs")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", parts.path)
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    connection.close()
