"""Every vendor session in a customer's account is attributable, proven from the suite's own
AssumeRole calls: the local stack appends each one, allowed or refused, to
$BYOC_LOCAL_DIR/logs/assume-role.jsonl (infra/local/moto_ext/sts_trust.py) with its caller,
role, session name and source identity (never the External ID).

After the end-to-end suite, this check exits non-zero, naming them, when a session the vendor's
functions (assumed-role callers: the tests' own calls are not) opened into a customer role
(path /byoc/)
- carries no source identity, unless the same session was first refused with one (the
  documented fallback for an access stack from before template version 7, whose trust policy
  does not allow sts:SetSourceIdentity),
- or carries one that does not read `byoc.<install id>.<operation>`, or differs from its
  session name (CloudTrail shows both; they must tell the same story).

    python infra/checks/attribution.py [--log FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The operations of functions/core/src/customer_access.rs (Operation::as_str).
IDENTITY = re.compile(r"^byoc\.inst-[0-9a-z]{26}\.(install|rollback|uninstall|sweep|upgrade|check|preflight)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    state = Path(os.environ.get("BYOC_LOCAL_DIR", REPO / ".local"))
    parser.add_argument("--log", type=Path, default=state / "logs" / "assume-role.jsonl")
    args = parser.parse_args()
    if not args.log.is_file():
        print(f"attribution: {args.log} is missing; run the end-to-end suite on the local stack first", file=sys.stderr)
        return 2
    entries = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
    ours = [e for e in entries if ":role/byoc/" in (e.get("role") or "") and ":assumed-role/" in (e.get("caller") or "")]
    allowed = [e for e in ours if e.get("allowed")]
    if len(allowed) < 50:
        print(f"attribution: only {len(allowed)} sessions into customer roles recorded; did the end-to-end suite run?", file=sys.stderr)
        return 2
    refused_with_identity = {(e["role"], e["session_name"]) for e in ours if not e.get("allowed") and e.get("source_identity")}
    problems = []
    fallbacks = 0
    for e in allowed:
        identity, name = e.get("source_identity"), e.get("session_name")
        if identity is None:
            if (e["role"], name) in refused_with_identity:
                fallbacks += 1
            else:
                problems.append(f"no source identity, and none was refused first: {e}")
        elif not IDENTITY.match(identity) or identity != name:
            problems.append(f"source identity {identity!r} with session name {name!r}: {e}")
    operations = Counter(IDENTITY.match(e["source_identity"]).group(1) for e in allowed if e.get("source_identity") and IDENTITY.match(e["source_identity"]))
    print(f"attribution: {len(allowed)} sessions into customer roles, {len(allowed) - fallbacks} with a source identity, "
          f"{fallbacks} without (stacks from before template version 7); by operation: {dict(sorted(operations.items()))}")
    for line in problems[:20]:
        print(f"  {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
