"""Schemathesis hooks for the byoc-installer API: every request is signed with AWS Signature
Version 4 for `execute-api`, as API Gateway's IAM authorization requires, by botocore's
signer (the one the AWS SDKs use) on the request exactly as it is sent.

Loaded by infra/api-fuzz/run through SCHEMATHESIS_HOOKS. Credentials and region come from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and BYOC_FUZZ_REGION.
"""

from __future__ import annotations

import os

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# Set by the signer, so never copied from a request that is signed again (a retried case).
SIGNATURE_HEADERS = {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}


class ExecuteApiSigV4(requests.auth.AuthBase):
    def __init__(self, credentials: Credentials, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SIGNATURE_HEADERS}
        aws_request = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(aws_request)
        for name, value in aws_request.headers.items():
            request.headers[name] = value
        return request


SIGNER = ExecuteApiSigV4(
    Credentials(
        os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        os.environ.get("AWS_SESSION_TOKEN"),
    ),
    os.environ.get("BYOC_FUZZ_REGION", "us-east-1"),
)


@schemathesis.hook
def before_call(context, case, kwargs):  # noqa: ARG001 (the hook's signature)
    kwargs["auth"] = SIGNER
