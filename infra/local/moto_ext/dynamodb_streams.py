"""DynamoDB Streams delivered to Lambda as AWS does: asynchronously, in order, in batches,
retried on error, with partial batch failures honoured.

moto appends a stream record inside the table write and, for every event source mapping,
invokes the function right there with every record the shard holds, then forgets them once
an invocation returned anything (moto/dynamodb/models/table.py StreamShard.add). A function
that writes to the same table from that invocation deadlocks the write it was called from,
every write waits for the function, and records are lost. AWS instead:

* returns from the write at once; the record is in the stream within about a second;
* runs a poller per event source mapping that invokes the function with up to `BatchSize`
  records (waiting up to `MaximumBatchingWindowInSeconds` to fill a batch), one batch at a
  time per shard, in order; with `ParallelizationFactor` N, up to N batches of a shard at
  once, records of one partition key always in the same lane, so still in order per key;
* on a function error retries the same batch (the shard waits behind it) until it succeeds,
  its records are older than `MaximumRecordAgeInSeconds`, or `MaximumRetryAttempts` is
  spent; `BisectBatchOnFunctionError` splits a failing batch in two;
* with `FunctionResponseTypes: [ReportBatchItemFailures]` reads
  `{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}` from the response:
  empty means all done, otherwise the stream resumes at the lowest reported record; an
  identifier that is empty or not in the batch fails the whole batch;
* writes no record for a PutItem or UpdateItem that changes nothing, and none for a
  cancelled transaction.

Here the records live outside moto's Table objects, in one list per stream ARN, because moto
deep-copies a table for every TransactWriteItems (and swaps the copy back on cancellation);
records a transaction makes are held per thread and kept only when it commits. The
transaction wrapper must run inside dynamodb_atomic's lock, so this module is installed
before that one. GetRecords (moto's ShardIterator) reads the same list. Records given up on
go to the mapping's `DestinationConfig.OnFailure` (an SQS queue or SNS topic) as Lambda's
invocation record with `DDBStreamBatchInfo`.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import threading
import time
import uuid
import zlib
from datetime import datetime, timezone
from typing import Any

LOG = logging.getLogger("byoc.dynamodb_streams")

# Retry backoff for a failing batch: doubling from 0.1 s, at most 2 s (AWS backs off too).
RETRY_BASE_S = 0.1
RETRY_MAX_S = 2.0
# How often an idle poller looks again at a mapping that was disabled or deleted.
IDLE_CHECK_S = 0.5
# What moto's StreamShard numbers its first record (every shard starts there).
_MOTO_FIRST_SEQUENCE_NUMBER = 1100000000017454423009

_LOCAL = threading.local()  # .pending: records of the running transaction, or None


class _Stream:
    """The records of one table stream, numbered from `first_sequence_number`."""

    def __init__(self, first_sequence_number: int):
        self.first_sequence_number = first_sequence_number
        self.records: list[Any] = []  # moto StreamRecord objects
        self.changed = threading.Condition()

    def append(self, record: Any) -> None:
        with self.changed:
            seq = self.first_sequence_number + len(self.records)
            record.record["dynamodb"]["SequenceNumber"] = str(seq)
            self.records.append(record)
            self.changed.notify_all()

    def size(self) -> int:
        with self.changed:
            return len(self.records)


_STREAMS: dict[str, _Stream] = {}
_STREAMS_LOCK = threading.Lock()


def stream_arn(table: Any) -> str:
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def _stream(arn: str, first_sequence_number: int) -> _Stream:
    with _STREAMS_LOCK:
        found = _STREAMS.get(arn)
        if found is None:
            found = _STREAMS[arn] = _Stream(first_sequence_number)
        return found


def _stream_of_shard(shard: Any) -> _Stream:
    return _stream(stream_arn(shard.table), shard.starting_sequence_number)


# ---------------------------------------------------------------- the shard's records


def _items(shard: Any) -> list[Any]:
    return _stream_of_shard(shard).records


def _ignore_items(shard: Any, value: Any) -> None:
    """StreamShard.__init__ sets `items = []`; the records live in the registry instead, so a
    deep copy of the table (every transaction) does not copy them."""


def _add(shard: Any, old: Any, new: Any) -> None:
    """Replacement for StreamShard.add: record the change, invoke nothing."""
    from moto.dynamodb.models.table import StreamRecord

    if old is not None and new is not None and old.to_json() == new.to_json():
        return  # AWS writes no record for a write that changes nothing
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    view_type = shard.table.stream_specification["StreamViewType"]
    record = StreamRecord(shard.table, view_type, event_name, old, new, 0)
    record.record["awsRegion"] = shard.table.region_name
    target = _stream_of_shard(shard)
    pending = getattr(_LOCAL, "pending", None)
    if pending is not None:
        pending.append((target, record))
    else:
        target.append(record)


def _keep_records_of_committed_transactions(transact_write_items: Any) -> Any:
    @functools.wraps(transact_write_items)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_LOCAL, "pending", None)
        _LOCAL.pending = []
        try:
            result = transact_write_items(*args, **kwargs)
            committed = _LOCAL.pending
        finally:
            _LOCAL.pending = outer
        for target, record in committed:
            target.append(record)
        return result

    return wrapper


# ---------------------------------------------------------------- pollers


def _lambda_event_record(record: Any, arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it to a function."""
    event = copy.deepcopy(record.record)
    created = event["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        event["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
    event["eventVersion"] = "1.1"
    event["eventSourceARN"] = arn
    return event


def _flag(value: Any) -> bool:
    """A boolean mapping setting, as the API (a bool) or CloudFormation (maybe "true") gives it."""
    return value is True or str(value).lower() == "true"


def _sequence_number(record: Any) -> str:
    return record.record["dynamodb"]["SequenceNumber"]


def _created(record: Any) -> float:
    created = record.record["dynamodb"].get("ApproximateCreationDateTime")
    return created.timestamp() if isinstance(created, datetime) else time.time()


def batch_result(records: list[Any], failed: bool, payload: bytes, report_item_failures: bool) -> int | None:
    """How many records of the batch are done: all of them (len), those before the first
    reported failure, or None for a failure of the whole batch."""
    if failed:
        return None
    if not report_item_failures:
        return len(records)
    try:
        response = json.loads(payload) if payload else None
    except ValueError:
        return len(records)  # a response that is not JSON reports nothing: success
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return len(records)
    if not isinstance(failures, list):
        return None
    positions = {_sequence_number(r): i for i, r in enumerate(records)}
    first = len(records)
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in positions:
            return None  # AWS treats an unknown identifier as a failure of the whole batch
        first = min(first, positions[identifier])
    return first


def _lane(record: Any, lanes: int) -> int:
    """Which of a mapping's concurrent lanes a record goes to: by its partition key (the first
    of its Keys), so one key's records stay in order."""
    if lanes <= 1:
        return 0
    keys = record.record["dynamodb"]["Keys"]
    partition = next(iter(keys.items()), None)
    return zlib.crc32(json.dumps(partition, sort_keys=True).encode()) % lanes


class _Poller:
    """Delivers one lane of a mapping's stream to its function, a batch at a time, in order."""

    def __init__(self, esm: Any, account_id: str, region: str, lane: int = 0, lanes: int = 1):
        self.esm = esm
        self.account_id = account_id
        self.region = region
        self.lane, self.lanes = lane, lanes
        self.arn = esm.event_source_arn
        self.stream = _stream(self.arn, _first_sequence_number(account_id, region, self.arn))
        # Records of this lane not yet delivered, and how far the stream has been read for them.
        self.pending: list[Any] = []
        self.scanned = 0 if (esm.starting_position or "TRIM_HORIZON") == "TRIM_HORIZON" else self.stream.size()
        self.thread = threading.Thread(target=self.run, name=f"ddb-stream-{esm.uuid}-{lane}", daemon=True)

    def next_batch(self, batch_size: int, window_s: float, timeout_s: float) -> list[Any]:
        """Up to `batch_size` of this lane's records: as soon as one is there, or once the
        batching window after the first one has passed (or the batch is full)."""
        stream = self.stream

        def read() -> int:  # called with the stream's lock held
            for record in stream.records[self.scanned :]:
                if _lane(record, self.lanes) == self.lane:
                    self.pending.append(record)
            self.scanned = len(stream.records)
            return len(self.pending)

        with stream.changed:
            if not stream.changed.wait_for(lambda: read() > 0, timeout=timeout_s):
                return []
            if window_s > 0:
                stream.changed.wait_for(lambda: read() >= batch_size, timeout=window_s)
            return self.pending[:batch_size]

    def done_with(self, count: int) -> None:
        """The first `count` pending records are delivered or given up on: checkpoint past them."""
        del self.pending[:count]

    def mapped(self) -> bool:
        from moto.awslambda.models import lambda_backends

        return lambda_backends[self.account_id][self.region]._event_source_mappings.get(self.esm.uuid) is self.esm

    def run(self) -> None:
        while self.mapped():
            if not self.esm.enabled:
                time.sleep(IDLE_CHECK_S)
                continue
            window = float(self.esm.max_batch_window or 0)
            batch = self.next_batch(int(self.esm.batch_size), window, IDLE_CHECK_S)
            if batch:
                try:
                    self.deliver(batch)
                except Exception:  # never let one bad batch kill the shard's poller
                    LOG.exception("mapping %s: delivering a batch failed; retrying", self.esm.uuid)
                    time.sleep(RETRY_MAX_S)

    def invoke(self, records: list[Any]) -> tuple[bool, bytes]:
        """(function error?, payload)"""
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends[self.account_id][self.region].get_function_by_arn(self.esm.function_arn)
        if fn is None:
            return True, b'{"errorType":"ResourceNotFoundException","errorMessage":"function not found"}'
        event = {"Records": [_lambda_event_record(r, self.arn) for r in records]}
        headers: dict[str, str] = {}
        payload = fn.invoke(json.dumps(event), {}, headers)
        if isinstance(payload, str):
            payload = payload.encode()
        return "X-Amz-Function-Error" in headers, payload or b""

    def deliver(self, batch: list[Any]) -> None:
        """Delivers `batch` (the first pending records) until it is done or given up. A
        bisected batch becomes two parts, delivered one after the other."""
        report = "ReportBatchItemFailures" in (self.esm.function_response_types or [])
        max_retries = self.esm.max_retry_attempts
        max_age = self.esm.max_record_age
        parts = [batch]
        retries = invocations = 0
        while parts and self.mapped():
            part = parts[0]
            if max_age is not None and int(max_age) >= 0:
                # Records are in arrival order: the expired ones are the oldest, in front.
                expired = list(itertools.takewhile(lambda r: time.time() - _created(r) > int(max_age), part))
                if expired:
                    self.discard(expired, "RecordAgeExceeded", invocations, None)
                    parts[0] = part[len(expired) :]
                    if not parts[0]:
                        parts.pop(0)
                    continue
            failed, payload = self.invoke(part)
            invocations += 1
            done = batch_result(part, failed, payload, report)
            if done == len(part):
                self.done_with(len(part))
                parts.pop(0)
                retries = invocations = 0
                continue
            if done:  # partial: checkpoint what succeeded, retry from the first failure
                self.done_with(done)
                parts[0] = part[done:]
            else:
                LOG.info("mapping %s: batch of %d from %s failed: %s", self.esm.uuid, len(part), _sequence_number(part[0]), payload[:500].decode("utf-8", "replace"))
                if _flag(self.esm.bisect_on_error) and len(part) > 1:
                    # Split and go on with the first half; a split is not a retry (AWS docs).
                    half = len(part) // 2
                    parts[0:1] = [part[:half], part[half:]]
                    continue
            retries += 1
            if max_retries is not None and int(max_retries) >= 0 and retries > int(max_retries):
                self.discard(parts.pop(0), "RetryAttemptsExhausted", invocations, "Unhandled" if failed else None)
                retries = invocations = 0
                continue
            time.sleep(min(RETRY_BASE_S * 2 ** (retries - 1), RETRY_MAX_S))

    def discard(self, records: list[Any], condition: str, invocations: int, function_error: str | None) -> None:
        """Gives up on `records` (the oldest of the shard's pending ones): past them, and to
        the mapping's on-failure destination (SQS or SNS) as an invocation record."""
        self.done_with(len(records))
        LOG.warning("mapping %s: %d record(s) from %s discarded (%s)", self.esm.uuid, len(records), _sequence_number(records[0]), condition)
        destination = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            return
        stamp = lambda r: datetime.fromtimestamp(_created(r), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        message = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.esm.function_arn, "condition": condition, "approximateInvokeCount": invocations},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", **({"functionError": function_error} if function_error else {})},
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "DDBStreamBatchInfo": {
                "shardId": _shard_id(self.account_id, self.region, self.arn),
                "startSequenceNumber": _sequence_number(records[0]),
                "endSequenceNumber": _sequence_number(records[-1]),
                "approximateArrivalOfFirstRecord": stamp(records[0]),
                "approximateArrivalOfLastRecord": stamp(records[-1]),
                "batchSize": len(records),
                "streamArn": self.arn,
            },
        }
        parts = destination.split(":")
        try:
            if parts[2] == "sqs":
                from moto.sqs.models import sqs_backends

                sqs_backends[parts[4]][parts[3]].send_message(parts[5], json.dumps(message))
            elif parts[2] == "sns":
                from moto.sns.models import sns_backends

                sns_backends[parts[4]][parts[3]].publish(json.dumps(message), arn=destination)
            else:
                LOG.warning("mapping %s: on-failure destination %s is not supported here", self.esm.uuid, destination)
        except Exception:
            LOG.exception("mapping %s: could not send to on-failure destination %s", self.esm.uuid, destination)


def _shard_id(account_id: str, region: str, arn: str) -> str:
    from moto.dynamodb.models import dynamodb_backends

    for table in dynamodb_backends[account_id][region].tables.values():
        if table.stream_shard is not None and stream_arn(table) == arn:
            return table.stream_shard.id
    return ""


def _first_sequence_number(account_id: str, region: str, arn: str) -> int:
    from moto.dynamodb.models import dynamodb_backends

    for table in dynamodb_backends[account_id][region].tables.values():
        if table.stream_shard is not None and stream_arn(table) == arn:
            return table.stream_shard.starting_sequence_number
    return _MOTO_FIRST_SEQUENCE_NUMBER


def _is_dynamodb_stream(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 5 and parts[2] == "dynamodb" and "/stream/" in parts[5]


def _start_pollers_on_create(create: Any) -> Any:
    @functools.wraps(create)
    def wrapper(backend: Any, spec: dict[str, Any]) -> Any:
        from moto.awslambda.exceptions import LambdaClientError

        source = spec.get("EventSourceArn") or ""
        if _is_dynamodb_stream(source):
            function = spec.get("FunctionName") or ""
            for existing in backend._event_source_mappings.values():
                same_function = function in (existing.function_arn, existing.function_name) or existing.function_arn.endswith(f":function:{function}")
                if existing.event_source_arn == source and same_function:
                    error = LambdaClientError(
                        "ResourceConflictException",
                        f"The event source arn ({source}) and function ({function}) provided mapping already exists. "
                        f"Please update or delete the existing mapping with UUID {existing.uuid}",
                    )
                    error.code = 409
                    raise error
        esm = create(backend, spec)
        if _is_dynamodb_stream(esm.event_source_arn):
            lanes = max(1, min(10, int(esm.parallelization_factor or 1)))
            for lane in range(lanes):
                _Poller(esm, backend.account_id, backend.region_name, lane, lanes).thread.start()
            LOG.info("mapping %s: delivering %s to %s in %d lane(s)", esm.uuid, esm.event_source_arn, esm.function_arn, lanes)
        return esm

    return wrapper


def install() -> None:
    """Call before dynamodb_atomic.install(): its lock must wrap the transaction wrapper."""
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    if getattr(DynamoDBBackend.transact_write_items, "_byoc_locked", False):
        raise RuntimeError("install dynamodb_streams before dynamodb_atomic")
    if getattr(StreamShard, "_byoc_streams", False):
        return
    StreamShard.items = property(_items, _ignore_items)  # type: ignore[assignment]
    StreamShard.add = _add  # type: ignore[method-assign]
    StreamShard._byoc_streams = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _keep_records_of_committed_transactions(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
    LambdaBackend.create_event_source_mapping = _start_pollers_on_create(LambdaBackend.create_event_source_mapping)  # type: ignore[method-assign]
