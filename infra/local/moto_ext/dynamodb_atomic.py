"""DynamoDB writes that are atomic, as on AWS.

moto serves requests on many threads, and its DynamoDB backend checks a write's condition
and then applies it without a lock: two conditional writes that expect the same version can
both succeed (seen with 24 concurrent TransactWriteItems on one item: one update lost).
DynamoDB guarantees a conditional write is atomic with its check, and a transaction with all
its items. One lock around every write (and read, so a reader never sees half a
transaction) restores that; the local stack's load is small enough for one lock.
"""

from __future__ import annotations

import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_READS = ("get_item", "query", "scan", "transact_get_items", "batch_get_item")
_LOCK = threading.RLock()


def _locked(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES + _READS:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, "_byoc_locked", False):
            wrapped = _locked(method)
            wrapped._byoc_locked = True  # type: ignore[attr-defined]
            setattr(DynamoDBBackend, name, wrapped)
