"""No secret leaked during the test suite: every External ID the installer issued and every
credential STS handed out is looked for in every execution history, every function log line,
the emulator's log, and every API response.

External IDs may appear only in the tenant routes' responses (POST /tenants and
GET /tenants/{id}: the vendor needs them for the customer's link); nothing else may carry one,
and no credential may appear anywhere. Run after the end-to-end suite, on the stack it used
(BYOC_LOCAL_DIR); API responses are read from the log the API gateway front door keeps when
the stack was started with BYOC_API_RESPONSE_LOG set (infra/local/moto_ext/api_gateway.py).
Prints what was scanned; on a find, names the place (file and line, or execution and event)
and the kind of secret, never the secret.

    python infra/checks/secret_scan.py [--api-log FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Only the tenant routes may answer with an External ID.
TENANT_ROUTE = re.compile(r"/_user_request_/tenants(/[^/]+)?/?$")
# Shorter values could match by chance; every real secret here is much longer.
MIN_SECRET_LEN = 16


@dataclass
class Secrets:
    """Secret value -> what it is (said in findings instead of the value)."""

    external_ids: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)

    def pattern(self, with_external_ids: bool) -> re.Pattern | None:
        values = list(self.credentials) + (list(self.external_ids) if with_external_ids else [])
        values = sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)
        return re.compile("|".join(map(re.escape, values))) if values else None

    def kind(self, value: str) -> str:
        return self.external_ids.get(value) or self.credentials.get(value) or "a secret"


@dataclass
class Scan:
    secrets: Secrets
    findings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.everything = self.secrets.pattern(with_external_ids=True)
        self.credentials_only = self.secrets.pattern(with_external_ids=False)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def text(self, where: str, text: str, external_ids_allowed: bool = False) -> None:
        pattern = self.credentials_only if external_ids_allowed else self.everything
        if pattern is None:
            return
        kinds = sorted({self.secrets.kind(m.group(0)) for m in pattern.finditer(text)})
        if kinds:
            self.findings.append(f"{where}: {', '.join(kinds)}")

    def file(self, path: Path, what: str) -> None:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                self.count(what)
                self.text(f"{path}:{number}", line)


def stack_env(state: Path) -> dict[str, str]:
    path = state / "stack.env"
    if not path.is_file():
        raise SystemExit(f"secret scan: {path} is missing; the local stack the suite used must still run")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def clients(env: dict[str, str]):
    import boto3

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env.get("AWS_REGION", "us-east-1"),
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "test"),
        )

    return client


def gather(env: dict[str, str], state: Path) -> Secrets:
    secrets = Secrets()
    client = clients(env)
    outputs = json.loads((state / "outputs.json").read_text())
    pages = client("dynamodb").get_paginator("scan").paginate(
        TableName=outputs["table_name"],
        FilterExpression="begins_with(pk, :tenant) AND attribute_exists(external_id)",
        ExpressionAttributeValues={":tenant": {"S": "TENANT#"}},
    )
    for page in pages:
        for item in page["Items"]:
            tenant = item["pk"]["S"].removeprefix("TENANT#")
            secrets.external_ids[item["external_id"]["S"]] = f"the External ID of tenant {tenant}"
    url = f"{env['AWS_ENDPOINT_URL']}/moto-api/byoc/credentials"
    with urllib.request.urlopen(url, timeout=30) as response:
        issued = json.load(response)["credentials"]
    for n, credential in enumerate(issued):
        role = credential.get("role_arn", "?")
        secrets.credentials[credential["access_key_id"]] = f"the access key id of STS credential #{n} ({role})"
        secrets.credentials[credential["secret_access_key"]] = f"the secret access key of STS credential #{n} ({role})"
        secrets.credentials[credential["session_token"]] = f"the session token of STS credential #{n} ({role})"
        if credential.get("external_id"):
            # What a caller sent to AssumeRole, right or wrong: a secret either way.
            secrets.external_ids.setdefault(credential["external_id"], f"the External ID sent for STS credential #{n}")
    return secrets


def scan_executions(scan: Scan, env: dict[str, str]) -> None:
    sfn = clients(env)("stepfunctions")
    for machines in sfn.get_paginator("list_state_machines").paginate():
        for machine in machines["stateMachines"]:
            scan.count("state machines")
            for executions in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
                for execution in executions["executions"]:
                    scan.count("executions")
                    arn = execution["executionArn"]
                    for history in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
                        for event in history["events"]:
                            scan.count("history events")
                            scan.text(f"execution {arn} event {event['id']} ({event['type']})", json.dumps(event, default=str))


def scan_api_responses(scan: Scan, log: Path) -> None:
    with log.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            scan.count("API responses")
            try:
                entry = json.loads(line)
                route = entry.get("path", "")
            except json.JSONDecodeError:
                route = ""
            scan.text(f"{log}:{number}", line, external_ids_allowed=bool(TENANT_ROUTE.search(route)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    state = Path(os.environ.get("BYOC_LOCAL_DIR", REPO / ".local")).resolve()
    parser.add_argument("--api-log", type=Path, default=Path(os.environ["BYOC_API_RESPONSE_LOG"]) if os.environ.get("BYOC_API_RESPONSE_LOG") else state / "logs" / "api-responses.jsonl")
    args = parser.parse_args()
    env = stack_env(state)

    secrets = gather(env, state)
    if not secrets.external_ids or not secrets.credentials:
        print(f"secret scan: {len(secrets.external_ids)} External IDs and {len(secrets.credentials)} credentials found; did the end-to-end suite run on this stack?", file=sys.stderr)
        return 2
    scan = Scan(secrets)
    scan_executions(scan, env)
    for path in sorted((state / "logs" / "functions").glob("*.log")):
        scan.file(path, "function log lines")
    scan.file(state / "logs" / "moto.log", "emulator log lines")
    if args.api_log.is_file():
        scan_api_responses(scan, args.api_log)
    else:
        print(f"secret scan: no API response log at {args.api_log} (start the stack with BYOC_API_RESPONSE_LOG set)", file=sys.stderr)
        return 2

    looked_for = f"{len(secrets.external_ids)} External IDs, {len(secrets.credentials) // 3} STS credentials (key id, secret, token)"
    scanned = ", ".join(f"{n} {what}" for what, n in scan.counts.items())
    print(f"secret scan: looked for {looked_for} in {scanned}")
    if scan.findings:
        print(f"\nsecrets found in {len(scan.findings)} places:", file=sys.stderr)
        for finding in scan.findings:
            print(f"  {finding}", file=sys.stderr)
        return 1
    print("secret scan: none found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
