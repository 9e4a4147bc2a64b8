"""Deploys byoc-installer's vendor stack, cfn/vendor.yaml, with CloudFormation.

1. makes (once) the artifacts bucket, whose `cfn/` prefix alone is public: the customers'
   quick-create links fetch the role template from there;
2. uploads the function zips and the state machine definitions under content-addressed
   prefixes (a changed build gets new keys, so CloudFormation updates exactly what changed),
   and publishes cfn/customer-role.yaml;
3. creates or updates the stack, waits for it, and prints the outputs (also written as JSON
   with --outputs).

It talks to whatever the usual AWS settings point at (AWS_PROFILE, AWS_REGION, credentials,
AWS_ENDPOINT_URL), so the local stack is deployed exactly like an account would be.

    infra/deploy                          # release arm64 zips from infra/release/build
    python infra/deploy.py --code-dir target/debug --link-code --architecture x86_64 ...
    python infra/deploy.py --check-definitions
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "cfn" / "vendor.yaml"
CUSTOMER_TEMPLATE = REPO / "cfn" / "customer-role.yaml"
STATE_MACHINES = sorted((REPO / "statemachines").glob("*.asl.json"))
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
FAILED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED"}


def log(message: str) -> None:
    print(f"deploy: {message}", file=sys.stderr, flush=True)


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def template_functions() -> list[str]:
    """The functions the template deploys: each `${CodeKeyPrefix}<name>.zip` names one."""
    return sorted(set(re.findall(r"\$\{CodeKeyPrefix\}([a-z0-9-]+)\.zip", TEMPLATE.read_text())))


def bootstrap_zip(code_dir: Path, function: str, link: bool) -> bytes:
    """A Lambda custom-runtime package: `bootstrap` at the root. With `link`, bootstrap is a
    two-line script that execs the binary in place (fast local iterations); otherwise it is the
    binary itself. Deterministic: the same binary gives the same bytes."""
    binary = (code_dir / function).resolve()
    if not binary.is_file():
        raise SystemExit(f"deploy: {binary} is missing; build the functions first (cargo build --workspace --bins)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        if link:
            archive.writestr(info, f"#!/bin/sh\nexec '{binary}' \"$@\"\n")
        else:
            archive.writestr(info, binary.read_bytes())
    return buffer.getvalue()


def function_packages(args: argparse.Namespace) -> dict[str, bytes]:
    packages = {}
    for fn in template_functions():
        if args.code_dir:
            packages[fn] = bootstrap_zip(args.code_dir, fn, args.link_code)
        else:
            path = args.zips_dir / fn / "bootstrap.zip"
            if not path.is_file():
                raise SystemExit(f"deploy: {path} is missing; build the release zips first (infra/release/build)")
            packages[fn] = path.read_bytes()
    return packages


def digest(blobs: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(blobs):
        h.update(name.encode() + b"\0" + hashlib.sha256(blobs[name]).digest())
    return h.hexdigest()[:16]


def render_definition(path: Path, substitutions: dict) -> str:
    """Fills `${Name}` placeholders, as CloudFormation's DefinitionSubstitutions does; an
    unfilled placeholder is an error rather than a broken state machine."""
    text = path.read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", str(value))
    if "${" in text:
        start = text.index("${")
        raise SystemExit(f"deploy: {path.name} has an unfilled placeholder {text[start:text.index('}', start) + 1]}")
    json.loads(text)
    return text


def check_definitions() -> None:
    """Renders every state machine with sample values and checks that each is complete JSON
    whose transitions all lead to a state that exists, and that the template substitutes
    every placeholder it has."""
    sample = {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:sample", "Seconds": 1, "Rate": 1.5, "Attempts": 2}
    template = TEMPLATE.read_text()
    for path in STATE_MACHINES:
        text = path.read_text()
        names = {m.split("}")[0] for m in text.split("${")[1:]}
        missing = [n for n in sorted(names) if not re.search(rf"^\s+{n}:", template, re.M)]
        if missing:
            raise SystemExit(f"{path.name}: cfn/vendor.yaml does not substitute {missing}")
        values = {n: next((v for k, v in sample.items() if n.endswith(k)), 1) for n in names}
        machine = json.loads(render_definition(path, values))

        def check(states: dict, start: str) -> None:
            if start not in states:
                raise SystemExit(f"{path.name}: StartAt {start} is not a state")
            for name, state in states.items():
                targets = [state.get("Next"), state.get("Default")]
                targets += [c.get("Next") for c in state.get("Catch", []) + state.get("Choices", [])]
                for target in filter(None, targets):
                    if target not in states:
                        raise SystemExit(f"{path.name}: {name} leads to {target}, which is not a state")
                for branch in state.get("Branches", []) + ([state["Iterator"]] if "Iterator" in state else []):
                    check(branch["States"], branch["StartAt"])

        check(machine["States"], machine["StartAt"])
        print(f"{path.name}: ok ({len(machine['States'])} states)")


def ensure_artifacts_bucket(s3, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        log(f"creating bucket {bucket}")
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        )
    # The quick-create link makes the customer's console fetch the template: it must be
    # readable by anyone, and only the template prefix is.
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "PublicCustomerTemplate", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/cfn/*"}],
            }
        ),
    )


def upload_once(s3, bucket: str, key: str, body: bytes, content_type: str) -> None:
    """Content-addressed keys never change once written: skip what is there."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return
    except ClientError as err:
        if error_code(err) not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def stack_status(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        if "does not exist" in str(err):
            return None
        raise


def failure_reasons(cfn, name: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if e.get("ResourceStatus", "").endswith("FAILED")][:10]


def deploy_stack(cfn, name: str, template: str, parameters: dict[str, str], timeout_s: int) -> dict:
    params = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()]
    common = dict(StackName=name, TemplateBody=template, Parameters=params, Capabilities=["CAPABILITY_IAM"])
    current = stack_status(cfn, name)
    if current and current["StackStatus"] == "ROLLBACK_COMPLETE":
        # A stack whose first creation failed cannot be updated; it holds nothing.
        log(f"deleting {name}, whose creation failed earlier")
        cfn.delete_stack(StackName=name)
        wait_for(cfn, name, {"DELETE_COMPLETE"}, timeout_s)
        current = None
    if current is None:
        log(f"creating stack {name}")
        cfn.create_stack(**common, OnFailure="ROLLBACK", Tags=[{"Key": "byoc:component", "Value": "vendor"}])
    else:
        try:
            log(f"updating stack {name}")
            cfn.update_stack(**common)
        except ClientError as err:
            if "No updates are to be performed" not in str(err):
                raise
            log("no changes")
            return current
    return wait_for(cfn, name, DONE, timeout_s)


def wait_for(cfn, name: str, wanted: set[str], timeout_s: int) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        stack = stack_status(cfn, name)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if status in wanted:
            return stack or {}
        if status in FAILED:
            reasons = "\n  ".join(failure_reasons(cfn, name)) if stack else ""
            raise SystemExit(f"deploy: stack {name} is {status}\n  {reasons}")
        if time.monotonic() > deadline:
            raise SystemExit(f"deploy: stack {name} still {status} after {timeout_s} s")
        time.sleep(1 if os.environ.get("AWS_ENDPOINT_URL") else 10)


def main() -> None:
    if sys.argv[1:] == ["--check-definitions"]:
        check_definitions()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", default="byoc", help="the stack's name, also the prefix of every resource name")
    code = parser.add_mutually_exclusive_group()
    code.add_argument("--zips-dir", type=Path, default=REPO / "target" / "lambda", help="release zips (<dir>/<function>/bootstrap.zip, from infra/release/build)")
    code.add_argument("--code-dir", type=Path, help="package the binaries in this directory instead (e.g. target/debug)")
    parser.add_argument("--link-code", action="store_true", help="with --code-dir: bootstrap execs the binary in place (local stack only)")
    parser.add_argument("--architecture", default="arm64", choices=["arm64", "x86_64"], help="what the code was built for")
    parser.add_argument("--vendor-name", default="Example Vendor", help="the product name in customer emails")
    parser.add_argument("--customer-role-name", default="byoc-installer")
    parser.add_argument("--customer-stack-name", default="byoc-installer-access")
    parser.add_argument("--trust-retry", default="30,1.5,12,300", help="TrustNotReady retry: interval seconds, backoff rate, max attempts, max delay seconds")
    parser.add_argument("--paused-retry", default="300,2,30,3600", help="AccessPaused retry (the customer paused the vendor's access): interval seconds, backoff rate, max attempts, max delay seconds")
    parser.add_argument("--poll-seconds", type=int, default=15, help="how often resources that are being created or deleted are looked at")
    parser.add_argument("--quota-poll-seconds", type=int, default=900, help="how often an install waiting for quota increases asks AWS (at most 900)")
    parser.add_argument("--watch-heartbeat-seconds", default="300,1200", help="cluster wait, quota wait: how long a wait goes without a check before its watch restarts")
    parser.add_argument("--quota-max-wait-seconds", type=int, default=3 * 24 * 3600, help="how long an install waits for quota increases before it fails")
    parser.add_argument("--vendor-deploy-role-arn", default="", help="the role the vendor deploys its software with; gets cluster-admin on every cluster (default: <stack>-deploy in this account)")
    parser.add_argument("--alarm-email", default="", help="where alarms are emailed (optional)")
    parser.add_argument("--sweep-schedule", default="rate(6 hours)", help="EventBridge schedule of the dangling-resource sweep")
    parser.add_argument("--webhook-extra-ca-pem", default="", help="extra CA certificates (PEM path) publish-events trusts for webhook receivers; for private CAs")
    parser.add_argument("--webhook-allowed-cidrs", default="", help="test stacks only: CIDRs webhooks may reach besides public addresses (e.g. 127.0.0.1/32); leave unset on AWS")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait for the stack")
    parser.add_argument("--outputs", type=Path, help="also write the outputs JSON here")
    args = parser.parse_args()
    if args.link_code and not args.code_dir:
        parser.error("--link-code needs --code-dir")

    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    account = session.client("sts").get_caller_identity()["Account"]
    name = args.stack_name
    log(f"deploying stack {name} to account {account} in {region}" + (f" at {endpoint}" if endpoint else ""))

    s3 = session.client("s3")
    bucket = f"{name}-artifacts-{account}-{region}"
    ensure_artifacts_bucket(s3, bucket, region)

    packages = function_packages(args)
    code_prefix = f"functions/{digest(packages)}/"
    for fn, package in packages.items():
        upload_once(s3, bucket, f"{code_prefix}{fn}.zip", package, "application/zip")
    definitions = {path.name: path.read_bytes() for path in STATE_MACHINES}
    machines_prefix = f"statemachines/{digest(definitions)}/"
    for file_name, body in definitions.items():
        upload_once(s3, bucket, f"{machines_prefix}{file_name}", body, "application/json")
    s3.put_object(Bucket=bucket, Key="cfn/customer-role.yaml", Body=CUSTOMER_TEMPLATE.read_bytes(), ContentType="text/yaml")
    template_url = (
        f"{endpoint.rstrip('/')}/{bucket}/cfn/customer-role.yaml" if endpoint else f"https://{bucket}.s3.{region}.amazonaws.com/cfn/customer-role.yaml"
    )

    interval, backoff, attempts, max_delay = args.trust_retry.split(",")
    paused_interval, paused_backoff, paused_attempts, paused_max_delay = args.paused_retry.split(",")
    cluster_heartbeat, quota_heartbeat = args.watch_heartbeat_seconds.split(",")
    parameters = {
        "ArtifactsBucket": bucket,
        "CodeKeyPrefix": code_prefix,
        "StateMachinesKeyPrefix": machines_prefix,
        "Architecture": args.architecture,
        "CustomerTemplateUrl": template_url,
        "VendorName": args.vendor_name,
        "CustomerRoleName": args.customer_role_name,
        "CustomerStackName": args.customer_stack_name,
        "VendorDeployRoleArn": args.vendor_deploy_role_arn,
        "TrustRetryIntervalSeconds": interval,
        "TrustRetryBackoffRate": backoff,
        "TrustRetryMaxAttempts": attempts,
        "TrustRetryMaxDelaySeconds": max_delay,
        "PausedRetryIntervalSeconds": paused_interval,
        "PausedRetryBackoffRate": paused_backoff,
        "PausedRetryMaxAttempts": paused_attempts,
        "PausedRetryMaxDelaySeconds": paused_max_delay,
        "ResourcePollSeconds": args.poll_seconds,
        "QuotaPollSeconds": args.quota_poll_seconds,
        "QuotaMaxWaitSeconds": args.quota_max_wait_seconds,
        "WatchHeartbeatSeconds": cluster_heartbeat,
        "QuotaWatchHeartbeatSeconds": quota_heartbeat,
        "SweepSchedule": args.sweep_schedule,
        "AlarmEmail": args.alarm_email,
        "WebhookExtraCaPem": str(args.webhook_extra_ca_pem),
        "WebhookAllowedCidrs": args.webhook_allowed_cidrs,
    }
    stack = deploy_stack(session.client("cloudformation"), name, TEMPLATE.read_text(), parameters, args.timeout)
    out = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    # The local stack serves REST APIs at its own address rather than execute-api's.
    gateway = os.environ.get("BYOC_LOCAL_GATEWAY_URL")
    api_url = f"{gateway}/restapis/{out['ApiId']}/{out['ApiStage']}/_user_request_" if gateway else out["ApiUrl"]
    outputs = {
        "stack_name": name,
        "api_url": api_url,
        "region": region,
        "vendor_account_id": out["VendorAccountId"],
        "table_name": out["TableName"],
        "topic_arn": out["TopicArn"],
        "event_bus_name": out["EventBusName"],
        "alarm_topic_arn": out["AlarmTopicArn"],
        "install_state_machine_arn": out["InstallStateMachineArn"],
        "state_machines": {"install": out["InstallStateMachineArn"], "uninstall": out["UninstallStateMachineArn"]},
        "watch_queue_url": out["WatchQueueUrl"],
        "customer_template_url": out["CustomerTemplateUrl"],
        "customer_role_name": out["CustomerRoleName"],
        "customer_stack_name": out["CustomerStackName"],
        "artifacts_bucket": bucket,
        "functions": {fn: f"{name}-{fn}" for fn in packages},
        "function_zip_bytes": {fn: len(package) for fn, package in packages.items()},
        "deployed_at": int(time.time()),
    }
    text = json.dumps(outputs, indent=2)
    if args.outputs:
        args.outputs.parent.mkdir(parents=True, exist_ok=True)
        args.outputs.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
