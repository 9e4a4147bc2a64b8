"""The execution-role credentials a Lambda function process runs with.

AWS Lambda assumes the function's execution role and gives the function the session's
credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (Lambda
Developer Guide, "Defining Lambda function permissions with an execution role" and "Using
Lambda environment variables", reserved variables). The local Lambda host (lambda_runtime)
does the same, so iam_enforce authorizes what a function calls against its own role.

The session is made directly through moto's STS backend inside the emulator: Lambda's
assumption is trusted by the role's lambda.amazonaws.com principal and is no API call of any
caller here, so no trust or identity check applies. The session is named after the function,
as on AWS. A function whose role IAM does not have (a role deleted after the function was
made, or not a role ARN) keeps moto's dummy key "test" - moto maps it to its default account
and iam_enforce does not evaluate it - with one warning per function.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

LOG = logging.getLogger("byoc.lambda_runtime")

# 12 h: the longest a role session may last (MaxSessionDuration's maximum) and the longest
# moto cares about, so one session outlives a whole test run; renewed with < 1 h left.
SESSION_SECONDS = 12 * 3600
RENEW_WITH_SECONDS_LEFT = 3600
ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?[^/]+$")
DUMMY = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class ExecutionRoleSessions:
    """One session per (account, role, function), shared by the function's processes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str], Any] = {}
        self._reported: set[tuple[str, str]] = set()

    def credentials(self, account: str, region: str, role_arn: str, function_name: str) -> dict[str, str]:
        key = (account, role_arn, function_name)
        with self._lock:
            session = self._sessions.get(key)
            if session is None or _seconds_left(session) < RENEW_WITH_SECONDS_LEFT:
                session = self._assume(region, role_arn, function_name)  # None: no such role (yet)
                if session is not None:
                    self._sessions[key] = session
        if session is None:
            return dict(DUMMY)
        return {
            "AWS_ACCESS_KEY_ID": session.access_key_id,
            "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token,
        }

    def _assume(self, region: str, role_arn: str, function_name: str) -> Any:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        match = ROLE_ARN.match(role_arn or "")
        try:
            if not match:
                raise ValueError("not a role ARN")
            iam_backends[match.group(2)][match.group(1)].get_role_by_arn(role_arn)
        except Exception:
            if (role_arn, function_name) not in self._reported:
                self._reported.add((role_arn, function_name))
                LOG.warning("execution role %r of function %s does not exist: it runs with the dummy key, its calls not evaluated", role_arn, function_name)
            return None
        return sts_backends[match.group(2)][match.group(1)].assume_role(
            region_name=region,
            role_session_name=function_name[:64],
            role_arn=role_arn,
            policy=None,
            duration=SESSION_SECONDS,
            external_id=None,
        )


def _seconds_left(session: Any) -> float:
    from moto.core.utils import utcnow  # naive UTC, as moto keeps the expiration

    return (session.expiration - utcnow()).total_seconds()
