"""Least privilege, proven: the customer role allows every action the functions called in
customer accounts during the test suite, and nothing they never called.

Reads what the local stack recorded ($BYOC_LOCAL_DIR/logs/role-actions.jsonl, written by
infra/local/moto_ext/request_log.py) after the end-to-end suite, and the installer role's
policy in cfn/customer-role.yaml. Exits non-zero, naming the actions, when either side has
something the other lacks.

    python infra/checks/least_privilege.py [--log FILE] [--role-name byoc-installer]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from pathlib import Path

from iam_policies import REPO, statements

# Never requests of their own: AWS checks them inside another call, so no request log shows
# them. iam:PassRole when CreateCluster/CreateNodegroup hand EKS the cluster and node roles;
# iam:CreateServiceLinkedRole when EKS, its node groups, ELB or Service Quotas are first used
# in an account.
IMPLICIT = {
    "iam:PassRole": "checked by eks:CreateCluster and eks:CreateNodegroup (roleArn, nodeRole)",
    "iam:CreateServiceLinkedRole": "made by AWS on first use of EKS, node groups, ELB, Service Quotas",
    "ec2:CreateTags": "authorised within the Create* calls that carry TagSpecifications (ec2:CreateAction)",
}
# Needs no permission at all (AWS: "No permissions are required to perform this operation").
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}


def allowed_actions(role_resource: str = "InstallerRole") -> list[str]:
    template = REPO / "cfn" / "customer-role.yaml"
    return sorted({a for st in statements(template) if st.resource == role_resource and st.kind == "permissions" for a in st.actions()})


def called_actions(log: Path, role_name: str) -> set[str]:
    called = set()
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["role"].endswith(f":role/byoc/{role_name}"):
            called.add(entry["action"])
    return called


def matches(pattern: str, action: str) -> bool:
    # IAM action names are case-insensitive; wildcards as in IAM.
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    state = Path(os.environ.get("BYOC_LOCAL_DIR", REPO / ".local"))
    parser.add_argument("--log", type=Path, default=state / "logs" / "role-actions.jsonl")
    parser.add_argument("--role-name", default="byoc-installer")
    args = parser.parse_args()
    if not args.log.is_file():
        print(f"least privilege: {args.log} is missing; run the end-to-end suite on the local stack first", file=sys.stderr)
        return 2

    allowed = allowed_actions()
    called = called_actions(args.log, args.role_name)
    if len(called) < 10:
        print(f"least privilege: only {len(called)} actions recorded for role {args.role_name}; did the end-to-end suite run?", file=sys.stderr)
        return 2
    not_allowed = sorted(a for a in called if a not in ALWAYS_ALLOWED and not any(matches(p, a) for p in allowed))
    unused = sorted(p for p in allowed if p not in IMPLICIT and not any(matches(p, a) for a in called))

    print(f"least privilege: role {args.role_name} called {len(called)} distinct actions; its policy names {len(allowed)}")
    for pattern in allowed:
        used = sorted(a for a in called if matches(pattern, a))
        note = IMPLICIT.get(pattern) or (", ".join(used) if pattern.endswith("*") else ("called" if used else "NEVER CALLED"))
        print(f"  {pattern:<58} {note}")
    ok = True
    if not_allowed:
        ok = False
        print("\ncalled but not allowed by cfn/customer-role.yaml (AccessDenied on AWS):", file=sys.stderr)
        for a in not_allowed:
            print(f"  {a}", file=sys.stderr)
    if unused:
        ok = False
        print("\nallowed but never called by the suite (remove them, or test the path that calls them):", file=sys.stderr)
        for a in unused:
            print(f"  {a}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
