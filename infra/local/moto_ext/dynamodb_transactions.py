"""TransactWriteItems whose cost is the transaction's items, not the tables they are in.

moto's DynamoDBBackend.transact_write_items deep-copies every table a transaction names,
once per item, so it can swap the copy back on cancellation: with one shared table and many
installs writing to it at once, time and memory grow with the square of the table. Here, as
DynamoDB does (API_TransactWriteItems):

* the request is checked first: at most 100 items, one operation per item, never two
  operations on one item (ValidationException, nothing written);
* every condition (Put, Update, Delete and ConditionCheck) is evaluated against the items as
  they are before the transaction; if any fails, the transaction is cancelled with one reason
  per item in request order (`ConditionalCheckFailed`, with the item when
  ReturnValuesOnConditionCheckFailure is ALL_OLD; `None` for the others) and nothing is written;
* otherwise the writes are applied in order, each item's previous value (or its absence)
  kept first; an error while applying puts exactly those items back, directly in the table's
  storage, so the rollback itself makes no stream records.

Errors keep moto's shape (the Rust SDK parses them): a ValidationException raised while
applying is re-raised as the whole request's error, any other error becomes that item's
cancellation reason (its exception name and message), as moto reports them. Secondary indexes
and TTL need nothing: moto derives index entries from the items when queried, and the table
object, with its TTL settings and stream, is never replaced.

A `ClientRequestToken` makes the call idempotent, as DynamoDB documents it (the SDKs fill one
in for every call, so their retries of a call whose answer was lost do not apply it twice):
a repeat of a call that succeeded, with the same token and the same parameters, within 10
minutes of its completion, succeeds without writing anything; the same token with other
parameters is refused (`IdempotentParameterMismatchException`), and while the first call is
still running (`TransactionInProgressException`). moto ignores the token.

dynamodb_streams (records only for committed transactions) and dynamodb_atomic (one lock)
wrap transact_write_items, so this module is installed before both.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

MAX_ITEMS = 100
# How long DynamoDB keeps a client request token after the call that used it completed.
TOKEN_WINDOW_S = 600.0
_OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")

# A cancellation reason as moto's TransactionCanceledException takes it: (Code, Message, Item).
Reason = tuple[Any, Any, Any]
_NO_REASON: Reason = (None, None, None)


@dataclass
class _Write:
    """One item of the transaction, resolved and checked, ready to apply."""

    op_type: str
    op: dict[str, Any]
    table: Any  # moto Table
    key: dict[str, Any]


@dataclass
class _Before:
    """An item as it was before the transaction touched it (None: it did not exist)."""

    table: Any
    hash_key: Any
    range_key: Any
    item: Any


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _check(backend: Any, transact_items: list[dict[str, Any]]) -> tuple[list[_Write | None], list[Reason]]:
    """Resolves and checks every item against the items as they are now. Raises the
    request's ValidationException; returns the writes and one reason per item."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > MAX_ITEMS:
        raise TooManyTransactionsException()
    if any(len(entry) != 1 for entry in transact_items):
        raise TransactWriteSingleOpException()

    writes: list[_Write | None] = []
    reasons: list[Reason] = []
    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        old_item: dict[str, Any] | None = None
        write: _Write | None = None
        try:
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = backend.get_table(table_name)
            key = _key_of(table, op_type, op)
            # Same identity moto uses: table name as given and the key's attributes.
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)

            current = backend.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                condition_op = get_filter_expression(condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=old_item)
            write = _Write(op_type, op, table, key)
            reasons.append(_NO_REASON)
        except MockValidationException:
            raise
        except ConditionalCheckFailed as e:
            reasons.append(("ConditionalCheckFailed", str(e.message), old_item))
        except Exception as e:  # noqa: BLE001 - moto reports any other error as the item's reason
            reasons.append((type(e).__name__, str(e), None))
        writes.append(write)
    return writes, reasons


def _apply(backend: Any, write: _Write) -> None:
    op, name = write.op, write.op["TableName"]
    if write.op_type == "Put":
        backend.put_item(name, op["Item"])
    elif write.op_type == "Delete":
        backend.delete_item(name, write.key)
    elif write.op_type == "Update":
        backend.update_item(
            name,
            write.key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=op.get("ExpressionAttributeNames"),
            expression_attribute_values=op.get("ExpressionAttributeValues"),
        )


def _restore(before: _Before) -> None:
    """Puts one item back as it was, in the table's storage (no stream record: the records of
    the cancelled writes are dropped by dynamodb_streams)."""
    items = before.table.items
    if before.table.has_range_key:
        bucket = items.get(before.hash_key)
        if before.item is not None:
            items.setdefault(before.hash_key, {})[before.range_key] = before.item
        elif bucket is not None:
            bucket.pop(before.range_key, None)
            if not bucket:
                del items[before.hash_key]
    elif before.item is not None:
        items[before.hash_key] = before.item
    else:
        items.pop(before.hash_key, None)


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """Replacement for DynamoDBBackend.transact_write_items (see the module docstring)."""
    from moto.dynamodb.exceptions import MockValidationException, TransactionCanceledException

    writes, reasons = _check(self, transact_items)
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    touched: list[_Before] = []
    try:
        for position, write in enumerate(writes):
            if write is None or write.op_type == "ConditionCheck":
                continue
            hash_key, range_key = self.get_keys_value(write.table, write.key)
            # An Update changes the stored Item in place: keep a copy, not the object.
            touched.append(_Before(write.table, hash_key, range_key, copy.deepcopy(write.table.get_item(hash_key, range_key))))
            try:
                _apply(self, write)
            except MockValidationException:
                raise
            except Exception as e:  # noqa: BLE001 - as moto: the item's cancellation reason
                reasons[position] = (type(e).__name__, str(e), None)
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
    except BaseException:
        for before in reversed(touched):
            _restore(before)
        raise


transact_write_items._byoc_transactions = True  # type: ignore[attr-defined]


@dataclass
class _TokenUse:
    """A client request token's first call: what it asked, and its answer once it succeeded."""

    parameters: str
    completed_at: float | None = None
    answer: Any = None


class _Tokens:
    """The client request tokens of the last 10 minutes, per account and region."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uses: dict[tuple[str, str, str], _TokenUse] = {}

    def expire(self, now: float) -> None:
        for key in [k for k, use in self.uses.items() if use.completed_at is not None and now - use.completed_at > TOKEN_WINDOW_S]:
            del self.uses[key]


_TOKENS = _Tokens()


def _error(name: str, message: str) -> Exception:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return DynamodbException(ERROR_TYPE_PREFIX + name, message=message)


def idempotent_handler(original: Any) -> Any:
    """Wraps DynamoHandler.transact_write_items with the ClientRequestToken rules above."""
    import functools

    @functools.wraps(original)
    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if token is None:
            return original(self)
        key = (str(self.current_account), str(self.region), str(token))
        # Every parameter but the token: a repeat must ask for exactly the same.
        parameters = json.dumps({k: v for k, v in self.body.items() if k != "ClientRequestToken"}, sort_keys=True)
        with _TOKENS.lock:
            _TOKENS.expire(time.monotonic())
            use = _TOKENS.uses.get(key)
            if use is not None:
                if use.parameters != parameters:
                    raise _error("IdempotentParameterMismatchException", "Request with this client token was already made with different parameters")
                if use.completed_at is None:
                    raise _error("TransactionInProgressException", "The transaction with the given request token is already in progress")
                return use.answer
            _TOKENS.uses[key] = _TokenUse(parameters)
        try:
            answer = original(self)
        except BaseException:
            # A cancelled or failed call changed nothing: a repeat is a new call.
            with _TOKENS.lock:
                _TOKENS.uses.pop(key, None)
            raise
        with _TOKENS.lock:
            _TOKENS.uses[key] = _TokenUse(parameters, time.monotonic(), answer)
        return answer

    transact_write_items._byoc_idempotent = True  # type: ignore[attr-defined]
    return transact_write_items


def install() -> None:
    """Call before dynamodb_streams.install() and dynamodb_atomic.install(): they wrap this."""
    from moto.dynamodb.models import DynamoDBBackend

    current = DynamoDBBackend.transact_write_items
    if getattr(current, "_byoc_transactions", False):
        return  # functools.wraps carries the mark onto the wrappers around it
    if hasattr(current, "__wrapped__"):
        raise RuntimeError("install dynamodb_transactions before dynamodb_streams and dynamodb_atomic")
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    from moto.dynamodb.responses import DynamoHandler

    if not getattr(DynamoHandler.transact_write_items, "_byoc_idempotent", False):
        DynamoHandler.transact_write_items = idempotent_handler(DynamoHandler.transact_write_items)  # type: ignore[method-assign]
