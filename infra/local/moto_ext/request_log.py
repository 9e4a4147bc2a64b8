"""Which AWS actions each assumed role really calls, refused ones included.

Every request that moto serves is checked for its caller; when the caller is an assumed-role
session, the pair (role ARN, IAM action) is appended once to `$STATE/logs/role-actions.jsonl`,
e.g. {"role": "arn:aws:iam::111122223333:role/byoc/byoc-installer", "action": "ec2:CreateVpc"}.
(infra/checks/least_privilege.py proves least privilege from iam_enforce's decision log; this
list of calls is kept for reading what a role did.) Action prefixes: iam_context.IAM_PREFIX.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from . import iam_context

_LOCK = threading.Lock()
_SEEN: set[tuple[str, str]] = set()


def _role_of(response: Any) -> str | None:
    from moto.sts.models import sts_backends

    try:
        access_key = response.get_access_key()
        assumed = sts_backends[response.current_account][response.partition].get_assumed_role_from_access_key(access_key)
    except Exception:  # an unsigned or malformed request: not ours to judge here
        return None
    return assumed.role_arn if assumed else None


def install(state_dir: Path) -> None:
    from moto.core.responses import BaseResponse

    if getattr(BaseResponse, "_byoc_request_log", False):
        return
    log_path = state_dir / "logs" / "role-actions.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")  # a new stack: what an earlier one saw is no evidence
    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        role = _role_of(self)
        if role:
            try:
                action = self._get_action()
            except Exception:
                action = None
            if action:
                iam_action = f"{iam_context.IAM_PREFIX.get(self.service_name, self.service_name)}:{action}"
                key = (role, iam_action)
                with _LOCK:
                    if key not in _SEEN:
                        _SEEN.add(key)
                        with log_path.open("a") as out:
                            out.write(json.dumps({"role": role, "action": iam_action}) + "\n")
        return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    BaseResponse._byoc_request_log = True  # type: ignore[attr-defined]
