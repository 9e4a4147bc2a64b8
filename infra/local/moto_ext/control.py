"""Steering the emulator from tests: behaviour AWS decides on its own (how long a NAT gateway
stays pending, whether a quota request is approved) is set per customer account through
moto's own config endpoint, under a "byoc" key:

    POST /moto-api/config {"byoc": {"nat": {"111122223333": {"pending_polls": 3}}}}

Posted settings are merged into what is there (per section and account), so parallel tests
steering different accounts do not undo each other. `GET /moto-api/config` shows them.

Introspection for the end-of-suite secret scan (infra/checks/secret_scan.py), local stack only:

    GET /moto-api/byoc/credentials -> {"credentials": [{"access_key_id", "secret_access_key",
                                       "session_token", "role_arn", "external_id"}, ...]}

lists every credential STS issued through AssumeRole, so the scan can look for each of them.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_LOCK = threading.Lock()


def _merge(into: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def setting(section: str, account_id: str, key: str, default: Any = None) -> Any:
    """The value a test set for `account_id` (or for "default") in `section`."""
    from moto.core.config import default_user_config

    with _LOCK:
        byoc = default_user_config.get("byoc", {})
        per_section = byoc.get(section, {})
        for scope in (account_id, "default"):
            values = per_section.get(scope)
            if isinstance(values, dict) and key in values:
                return values[key]
    return default


CREDENTIALS_PATH = "/moto-api/byoc/credentials"


def issued_credentials() -> list[dict[str, str]]:
    """Every AssumeRole credential STS handed out, in every account and partition."""
    from moto.sts.models import sts_backends

    issued = []
    for account_id in list(sts_backends.keys()):
        for backend in list(sts_backends[account_id].values()):
            for role in list(backend.assumed_roles):
                issued.append(
                    {
                        "access_key_id": role.access_key_id,
                        "secret_access_key": role.secret_access_key,
                        "session_token": role.session_token,
                        "role_arn": role.role_arn,
                        "external_id": role.external_id or "",
                    }
                )
    return issued


def _credentials_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict, bytes]:
    body = json.dumps({"credentials": issued_credentials()}).encode()
    return 200, {"Content-Type": "application/json"}, body


def install() -> None:
    from moto.core.config import default_user_config
    from moto.moto_api._internal import urls
    from moto.moto_api._internal.models import MotoAPIBackend

    urls.url_paths.setdefault("{0}" + CREDENTIALS_PATH + "$", _credentials_response)

    original = MotoAPIBackend.set_config

    def set_config(self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        if isinstance(config.get("byoc"), dict):
            with _LOCK:
                _merge(default_user_config.setdefault("byoc", {}), config["byoc"])

    MotoAPIBackend.set_config = set_config  # type: ignore[method-assign]
