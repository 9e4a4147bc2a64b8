"""Least privilege, proven from IAM decisions: every statement of the customer role allowed
something the suite did, no install of the suite was refused anything it needed, and every
refusal the suite saw is a deny path that a test provokes on purpose.

The local stack authorizes every call of an assumed-role session as IAM does and writes each
decision to $BYOC_LOCAL_DIR/logs/iam-decisions.jsonl (infra/local/moto_ext/iam_enforce.py):
the action, each resource ARN, the context keys, allow or deny, and the statement that decided
(`inline:<policy>#<Sid>`). This check reads that log after the end-to-end suite, with the
installer role's statements from cfn/customer-role.yaml, and exits non-zero, naming them, when
- a statement of the role never allowed anything (remove it, or test the path that needs it),
- the role was refused something outside the deny paths below (real IAM would refuse a real
  install there),
- the stack could not evaluate a request (an action or resource it has no data for).

    python infra/checks/least_privilege.py [--log FILE] [--role-name byoc-installer]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

from iam_policies import REPO, statements

# Refusals the suite provokes on purpose, by action, with the test that does.
# Refusals the suite causes on purpose: action -> (the test, and a marker the refused request
# carries in its resource or its context, so only that refusal is excused; None: any).
DENY_PATHS: dict[str, tuple[str, str | None]] = {
    "ec2:CreateNatGateway": ("tests/tests/e2e/permissions.rs: a permissions boundary leaves out NAT gateways; the preflight fails the install", None),
    "elasticloadbalancing:DeleteLoadBalancer": (
        "tests/tests/e2e/leftovers.rs: an in-tree Classic ELB names the cluster only in a tag key; the removal reports it as a leftover",
        "loadbalancer/a1f0c2d3e4b5a6978899aabbccddeeff",
    ),
    "ec2:DeleteVolume": (
        "tests/tests/e2e/leftovers.rs: a volume tagged only kubernetes.io/cluster/<cluster>, on the customer's own instance; reported as a leftover",
        '"pvc-91ab"',
    ),
}
# Statement actions the suite cannot exercise, and why they stay.
KEPT: dict[tuple[str, str], str] = {
    ("ChangeAndDeleteOnlyTagged", "ec2:RevokeSecurityGroupIngress"): (
        "a group tagged with the install (the Load Balancer Controller's defaultTags give its groups the "
        "install's tags) whose ingress rule references another group must lose the rule before that group can go; "
        "the suite's controller groups match DeleteWhatTheLoadBalancerControllerLeft first"
    ),
}
# The customer's pause (cfn/customer-role.yaml, VendorAccess: paused) refuses on purpose.
PAUSE_SID = "PausedByTheCustomer"
# The permission preflight (functions/check-quotas/src/permission_probe.rs) names placeholder
# parents that cannot carry an install's tags; AWS refuses those, and the probe knows it.
PLACEHOLDER = "0000000000000000f"


def installer_statements(role_resource: str = "InstallerRole") -> dict[str, list[str]]:
    """Sid -> actions of each permission statement of the installer role."""
    template = REPO / "cfn" / "customer-role.yaml"
    out = {}
    for st in statements(template):
        if st.resource == role_resource and st.kind == "permissions" and st.body.get("Effect") == "Allow":
            sid = st.body.get("Sid")
            if not sid:
                raise SystemExit(f"least privilege: a statement of {role_resource} has no Sid, so no decision can name it: {st.body}")
            out[sid] = st.actions()
    return out


def decisions(log: Path, role_name: str) -> list[dict]:
    suffix = f":role/byoc/{role_name}"
    return [e for e in map(json.loads, log.read_text().splitlines()) if e["role"].endswith(suffix)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    state = Path(os.environ.get("BYOC_LOCAL_DIR", REPO / ".local"))
    parser.add_argument("--log", type=Path, default=state / "logs" / "iam-decisions.jsonl")
    parser.add_argument("--role-name", default="byoc-installer")
    args = parser.parse_args()
    if not args.log.is_file():
        print(f"least privilege: {args.log} is missing; run the end-to-end suite on the local stack first", file=sys.stderr)
        return 2

    entries = decisions(args.log, args.role_name)
    allows = [e for e in entries if e["decision"] == "allow"]
    if len({e["checked_action"] for e in allows}) < 10:
        print(f"least privilege: only {len(allows)} allow decisions recorded for role {args.role_name}; did the end-to-end suite run?", file=sys.stderr)
        return 2
    sids = installer_statements()
    used: dict[str, set[str]] = defaultdict(set)
    for e in allows:
        sid = (e.get("decided_by") or "").rsplit("#", 1)[-1]
        used[sid].add(e["checked_action"])

    print(f"least privilege: role {args.role_name}: {len(sids)} statements, {len(allows)} distinct allow decisions")
    ok = True
    for sid, actions in sids.items():
        what = ", ".join(sorted(used.get(sid, ()))) or "NEVER DECIDED AN ALLOW"
        print(f"  {sid:<46} {what}")
        if sid not in used:
            ok = False
    never = [f"{sid}: {action}" for sid, actions in sids.items() for action in actions
             if "*" not in action and action not in used.get(sid, ()) and (sid, action) not in KEPT]
    if never:
        ok = False
        print("\nallowed but never used in the suite (remove them, or test the path that needs them):", file=sys.stderr)
        for line in never:
            print(f"  {line}", file=sys.stderr)
    for (sid, action), why in KEPT.items():
        print(f"  kept without a test: {sid} {action}: {why}")

    refused = [e for e in entries if e["decision"] not in ("allow", "unevaluable")]
    probes = [e for e in refused if PLACEHOLDER in e.get("resource", "")]
    def excused(e: dict) -> bool:
        if (e.get("decided_by") or "").endswith(f"#{PAUSE_SID}"):
            return True  # the customer paused the vendor's access (tests/tests/e2e/customer_switch.rs)
        path = DENY_PATHS.get(e["checked_action"])
        return path is not None and (path[1] is None or path[1] in e.get("resource", "") + json.dumps(e.get("context", {})))

    on_purpose = [e for e in refused if e not in probes and excused(e)]
    unexpected = [e for e in refused if e not in probes and e not in on_purpose]
    print(f"\nrefusals: {len(probes)} of the preflight's placeholder parents, {len(on_purpose)} on deny paths, {len(unexpected)} unexpected")
    for action, (test, _) in DENY_PATHS.items():
        seen = sum(1 for e in on_purpose if e["checked_action"] == action)
        print(f"  deny path {action}: seen {seen}x ({test})")
        if not seen:
            ok = False
            print(f"least privilege: the deny path {action} was never exercised ({test})", file=sys.stderr)
    if unexpected:
        ok = False
        print("\nrefused outside the deny paths (AccessDenied on AWS):", file=sys.stderr)
        for (action, rtype, decided), n in Counter((e["checked_action"], e.get("resource_type"), e.get("reason", "")) for e in unexpected).most_common():
            print(f"  {n}x {action} on {rtype or '*'}: {decided}", file=sys.stderr)

    unevaluable = [e for e in map(json.loads, args.log.read_text().splitlines()) if e["decision"] == "unevaluable"]
    if unevaluable:
        ok = False
        print("\nrequests the local stack could not evaluate (give iam_context the data, never allow them blindly):", file=sys.stderr)
        for why, n in Counter(e["why"] for e in unevaluable).most_common():
            print(f"  {n}x {why}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
