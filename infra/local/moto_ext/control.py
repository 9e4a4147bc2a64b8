"""Steering the emulator from tests: behaviour AWS decides on its own (how long a NAT gateway
stays pending, whether a quota request is approved) is set per customer account through
moto's own config endpoint, under a "byoc" key:

    POST /moto-api/config {"byoc": {"nat": {"111122223333": {"pending_polls": 3}}}}

Posted settings are merged into what is there (per section and account), so parallel tests
steering different accounts do not undo each other. `GET /moto-api/config` shows them.
"""

from __future__ import annotations

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


def install() -> None:
    from moto.core.config import default_user_config
    from moto.moto_api._internal.models import MotoAPIBackend

    original = MotoAPIBackend.set_config

    def set_config(self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        if isinstance(config.get("byoc"), dict):
            with _LOCK:
                _merge(default_user_config.setdefault("byoc", {}), config["byoc"])

    MotoAPIBackend.set_config = set_config  # type: ignore[method-assign]
