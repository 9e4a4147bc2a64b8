"""Deploys byoc-installer's vendor side: table, topic, artifacts bucket (with the customer
template), function and state machine roles, the functions, the install state machine, and
the REST API in front of the api function.

Idempotent: run it again and it updates what exists. It talks to whatever the usual AWS
settings point at (AWS_ENDPOINT_URL, credentials, AWS_REGION), so the local stack is deployed
exactly like an account would be. Prints and writes the outputs as JSON.

    python infra/deploy.py --code-dir target/debug --outputs .local/outputs.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import time
import re
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parent.parent
STATE_MACHINES = sorted((REPO / "statemachines").glob("*.asl.json"))


def camel(function: str) -> str:
    return "".join(part.capitalize() for part in function.split("-"))


def step_functions() -> list[str]:
    """The functions the state machines run: each `${<CamelName>FunctionArn}` placeholder
    names one (ValidateTrust -> validate-trust)."""
    names = set()
    for path in STATE_MACHINES:
        for camel_name in re.findall(r"\$\{(\w+)FunctionArn\}", path.read_text()):
            names.add(re.sub(r"(?<!^)([A-Z])", r"-\1", camel_name).lower())
    return sorted(names)


def log(message: str) -> None:
    print(f"deploy: {message}", file=sys.stderr, flush=True)


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def bootstrap_zip(code_dir: Path, function: str, link: bool) -> bytes:
    """A Lambda custom-runtime package: `bootstrap` at the root. With `link`, bootstrap is a
    two-line script that execs the binary in place (fast local iterations); otherwise it is the
    binary itself."""
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


def ensure_table(ddb, name: str) -> None:
    try:
        ddb.describe_table(TableName=name)
        return
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
    log(f"creating table {name}")
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "install_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "tenant-installs",
                "KeySchema": [
                    {"AttributeName": "tenant_id", "KeyType": "HASH"},
                    {"AttributeName": "install_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        SSESpecification={"Enabled": True},
    )
    ddb.get_waiter("table_exists").wait(TableName=name)


def ensure_role(iam, name: str, service: str, policy: dict) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as err:
        if error_code(err) != "NoSuchEntity":
            raise
        log(f"creating role {name}")
        arn = iam.create_role(RoleName=name, Path="/byoc-vendor/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="permissions", PolicyDocument=json.dumps(policy))
    return arn


def ensure_function(lam, name: str, role_arn: str, package: bytes, env: dict, memory: int, timeout: int) -> str:
    config = dict(
        Role=role_arn,
        Handler="bootstrap",
        Runtime="provided.al2023",
        MemorySize=memory,
        Timeout=timeout,
        Environment={"Variables": env},
    )
    try:
        current = lam.get_function(FunctionName=name)["Configuration"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        log(f"creating function {name}")
        return lam.create_function(FunctionName=name, Code={"ZipFile": package}, Architectures=["arm64"], **config)["FunctionArn"]
    lam.update_function_configuration(FunctionName=name, **config)
    sha = base64.b64encode(hashlib.sha256(package).digest()).decode()
    if current.get("CodeSha256") != sha:
        lam.update_function_code(FunctionName=name, ZipFile=package)
    return current["FunctionArn"]


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


def ensure_state_machine(sfn, name: str, role_arn: str, definition: str) -> str:
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=definition, roleArn=role_arn)
            return machine["stateMachineArn"]
    log(f"creating state machine {name}")
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)["stateMachineArn"]


def ensure_rest_api(apigw, name: str, function_arn: str, region: str, account: str, stage: str) -> str:
    """A REST API whose every path goes, signed with SigV4 (AWS_IAM), to the api function."""
    existing = [api for api in apigw.get_rest_apis()["items"] if api["name"] == name]
    if existing:
        return existing[0]["id"]
    log(f"creating REST API {name}")
    api_id = apigw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")["id"]
    uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    for resource in (root, proxy):
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="ANY", authorizationType="AWS_IAM")
        apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod="ANY", type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    apigw.create_deployment(restApiId=api_id, stageName=stage)
    return api_id


def check_definitions() -> None:
    """Renders every state machine with sample values and checks that each is complete JSON
    whose transitions all lead to a state that exists."""
    sample = {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:sample", "Seconds": 1, "Rate": 1.5, "Attempts": 2}
    for path in sorted((REPO / "statemachines").glob("*.asl.json")):
        text = path.read_text()
        names = {m.split("}")[0] for m in text.split("${")[1:]}
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


def main() -> None:
    if sys.argv[1:] == ["--check-definitions"]:
        check_definitions()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="byoc", help="prefix of every resource name")
    parser.add_argument("--code-dir", type=Path, default=REPO / "target" / "debug", help="where the function binaries are")
    parser.add_argument("--link-code", action="store_true", help="package a bootstrap that execs the binary in place (local stack)")
    parser.add_argument("--vendor-name", default="Example Vendor", help="the product name in customer emails")
    parser.add_argument("--customer-role-name", default="byoc-installer")
    parser.add_argument("--customer-stack-name", default="byoc-installer-access")
    parser.add_argument("--trust-retry", default="30,1.5,12,300", help="TrustNotReady retry: interval seconds, backoff rate, max attempts, max delay seconds")
    parser.add_argument("--poll-seconds", type=int, default=30, help="how often the state machines poll resources that are being created or deleted")
    parser.add_argument("--quota-poll-seconds", type=int, default=900, help="how often an install waiting for quota increases asks AWS")
    parser.add_argument("--quota-max-wait-seconds", type=int, default=3 * 24 * 3600, help="how long an install waits for quota increases before it fails")
    parser.add_argument("--vendor-deploy-role-arn", help="the role the vendor deploys its software with; gets cluster-admin access to every cluster (default: <name>-deploy in this account)")
    parser.add_argument("--outputs", type=Path, help="also write the outputs JSON here")
    args = parser.parse_args()

    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    account = session.client("sts").get_caller_identity()["Account"]
    name = args.name
    log(f"deploying {name} to account {account} in {region}" + (f" at {endpoint}" if endpoint else ""))

    table = f"{name}-installs"
    ensure_table(session.client("dynamodb"), table)
    topic_arn = session.client("sns").create_topic(Name=f"{name}-customer-notifications")["TopicArn"]

    s3 = session.client("s3")
    bucket = f"{name}-artifacts-{account}-{region}"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
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
    s3.put_object(Bucket=bucket, Key="cfn/customer-role.yaml", Body=(REPO / "cfn" / "customer-role.yaml").read_bytes(), ContentType="text/yaml")
    template_url = (
        f"{endpoint.rstrip('/')}/{bucket}/cfn/customer-role.yaml" if endpoint else f"https://{bucket}.s3.{region}.amazonaws.com/cfn/customer-role.yaml"
    )

    iam = session.client("iam")
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    function_role = ensure_role(
        iam,
        f"{name}-functions",
        "lambda.amazonaws.com",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:ConditionCheckItem", "dynamodb:UpdateItem"], "Resource": [table_arn, f"{table_arn}/index/*"]},
                {"Effect": "Allow", "Action": ["sns:Publish", "sns:Subscribe"], "Resource": topic_arn},
                {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": f"arn:aws:states:{region}:{account}:stateMachine:{name}-*"},
                {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": f"arn:aws:iam::*:role/byoc/{args.customer_role_name}"},
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
            ],
        },
    )
    customer = {
        "VENDOR_ACCOUNT_ID": account,
        "CUSTOMER_ROLE_NAME": args.customer_role_name,
        "CUSTOMER_STACK_NAME": args.customer_stack_name,
        "CUSTOMER_STACK_REGION": region,
    }
    common = {"TABLE_NAME": table, "RUST_LOG": "info"}
    lam = session.client("lambda")

    def function(fn: str, env: dict, memory: int = 256, timeout: int = 30) -> str:
        package = bootstrap_zip(args.code_dir, fn, args.link_code)
        return ensure_function(lam, f"{name}-{fn}", function_role, package, {**common, **env}, memory, timeout)

    step_env = {
        "validate-trust": customer,
        "check-quotas": customer,
        "request-quota": {**customer, "QUOTA_POLL_SECONDS": str(args.quota_poll_seconds), "QUOTA_MAX_WAIT_SECONDS": str(args.quota_max_wait_seconds)},
        "create-network": customer,
        "create-cluster": {**customer, "VENDOR_DEPLOY_ROLE_ARN": args.vendor_deploy_role_arn or f"arn:aws:iam::{account}:role/{name}-deploy"},
        "sweep-dangling": customer,
        "notify": {"TOPIC_ARN": topic_arn, "VENDOR_NAME": args.vendor_name},
    }
    missing = [fn for fn in step_functions() if fn not in step_env]
    if missing:
        raise SystemExit(f"deploy: no environment defined for {missing}; add them to step_env")
    # A sweep pass lists and deletes a whole install's footprint: more time than a step that
    # makes one thing.
    timeouts = {"sweep-dangling": 120, "create-network": 60, "create-cluster": 60}
    step_arns = {fn: function(fn, step_env[fn], timeout=timeouts.get(fn, 30)) for fn in step_functions()}

    interval, backoff, attempts, max_delay = args.trust_retry.split(",")
    states_role = ensure_role(
        iam,
        f"{name}-states",
        "states.amazonaws.com",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": list(step_arns.values())}]},
    )
    substitutions = {
        **{f"{camel(fn)}FunctionArn": arn for fn, arn in step_arns.items()},
        "TrustRetryIntervalSeconds": int(interval),
        "TrustRetryBackoffRate": float(backoff),
        "TrustRetryMaxAttempts": int(attempts),
        "TrustRetryMaxDelaySeconds": int(max_delay),
        "ResourcePollSeconds": args.poll_seconds,
    }
    sfn = session.client("stepfunctions")
    machines = {
        path.name.split(".")[0]: ensure_state_machine(sfn, f"{name}-{path.name.split('.')[0]}", states_role, render_definition(path, substitutions))
        for path in STATE_MACHINES
    }
    install_machine = machines["install"]

    api = function(
        "api",
        {
            **customer,
            "TOPIC_ARN": topic_arn,
            "INSTALL_STATE_MACHINE_ARN": install_machine,
            **({"UNINSTALL_STATE_MACHINE_ARN": machines["uninstall"]} if "uninstall" in machines else {}),
            "CUSTOMER_TEMPLATE_URL": template_url,
        },
    )
    stage = "v1"
    api_id = ensure_rest_api(session.client("apigateway"), f"{name}-api", api, region, account, stage)
    gateway = os.environ.get("BYOC_LOCAL_GATEWAY_URL")
    api_url = f"{gateway}/restapis/{api_id}/{stage}/_user_request_" if gateway else f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"

    outputs = {
        "api_url": api_url,
        "region": region,
        "vendor_account_id": account,
        "table_name": table,
        "topic_arn": topic_arn,
        "install_state_machine_arn": install_machine,
        "state_machines": machines,
        "customer_template_url": template_url,
        "customer_role_name": args.customer_role_name,
        "customer_stack_name": args.customer_stack_name,
        "functions": {fn: f"{name}-{fn}" for fn in ["api", *step_functions()]},
        "deployed_at": int(time.time()),
    }
    text = json.dumps(outputs, indent=2)
    if args.outputs:
        args.outputs.parent.mkdir(parents=True, exist_ok=True)
        args.outputs.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
