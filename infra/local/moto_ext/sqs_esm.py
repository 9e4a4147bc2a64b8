"""SQS queues delivered to Lambda as AWS's SQS poller does: asynchronously, in batches,
honouring delays and the visibility timeout, deleting only what the function finished.

moto invokes every mapped function synchronously inside SendMessage (moto/sqs/models.py
Queue.add_message), one message per invocation, so DelaySeconds is ignored, the sender waits
for the function, and a failed message is made visible again at once. AWS instead runs
pollers per event source mapping that:

* receive up to `BatchSize` messages that are due (DelaySeconds of the message, or the
  queue's default, has passed) and visible; with `MaximumBatchingWindowInSeconds` > 0 they
  wait up to that long after the first message for the batch to fill;
* receive them as any consumer does: ApproximateReceiveCount goes up, the queue's
  VisibilityTimeout hides them while the function runs, and the queue's RedrivePolicy
  moves a message to its dead-letter queue once it was received maxReceiveCount times
  (moto's ReceiveMessage does that move);
* invoke the function with the SQS event and delete the whole batch when it succeeds;
  with `FunctionResponseTypes: [ReportBatchItemFailures]` delete all but the messages in
  `{"batchItemFailures": [{"itemIdentifier": "<messageId>"}]}`. A response that is not
  JSON, or an identifier that is empty or not in the batch, fails the whole batch; an
  empty or missing list is full success (AWS Lambda developer guide, "Handling errors
  for an SQS event source");
* on a function error delete nothing: the messages reappear when their visibility
  timeout ends, and are received (and counted) again;
* run several batches at once: AWS starts with five concurrent batches and scales up to
  `ScalingConfig.MaximumConcurrency` (2-1000); here at most five at once, or
  MaximumConcurrency if lower.

CreateEventSourceMapping also checks what AWS checks for SQS: one mapping per queue and
function, the queue's visibility timeout at least the function's timeout, and a batching
window of at least 1 s for a BatchSize above 10. Not implemented: FilterCriteria, the
mapping's own throttling/backoff on Lambda errors other than function errors.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
from typing import Any

LOG = logging.getLogger("byoc.sqs_esm")

# Concurrent batches per mapping (AWS's starting number of pollers for a standard queue).
DEFAULT_CONCURRENCY = 5
# How often an idle poller looks again at a disabled or deleted mapping or queue.
IDLE_CHECK_S = 0.5
# Longest wait for a due message without a send to wake the poller: a visibility timeout
# changed by ChangeMessageVisibility does not notify, so look again this often.
WAKE_S = 0.2
# SQS hands out at most 10 messages per ReceiveMessage; so does Lambda's poller.
RECEIVE_MAX = 10

# moto's ReceiveMessage is not atomic: two receivers could take the same message. Our
# pollers take turns (other SQS clients of the emulator are not covered).
_RECEIVE_LOCK = threading.Lock()


def _enabled(value: Any) -> bool:
    """Enabled as the API (a bool) or CloudFormation (maybe "false") gives it."""
    return not (value is False or str(value).lower() == "false")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _queue_of(arn: str) -> Any | None:
    """The moto Queue an ARN names, or None once it is gone."""
    from moto.sqs.models import sqs_backends

    parts = arn.split(":")
    if len(parts) < 6:
        return None
    return sqs_backends[parts[4]][parts[3]].queues.get(parts[5])


def _is_sqs(arn: str) -> bool:
    parts = (arn or "").split(":")
    return len(parts) > 5 and parts[2] == "sqs"


# ---------------------------------------------------------------- the event


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda's SQS event spells it (camelCase, binary as base64)."""
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if value.get("StringValue") is not None:
        out["stringValue"] = value["StringValue"]
    binary = value.get("BinaryValue")
    if binary is not None:
        out["binaryValue"] = base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary
    return out


def event_record(message: Any, queue: Any) -> dict[str, Any]:
    """One received message as Lambda hands it to a function."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace:
        attributes["AWSTraceHeader"] = trace.get("StringValue")
    if queue.fifo_queue:
        for key, value in (
            ("SequenceNumber", message.sequence_number),
            ("MessageGroupId", message.group_id),
            ("MessageDeduplicationId", message.deduplication_id),
        ):
            if value is not None:
                attributes[key] = value
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {k: _message_attribute(v) for k, v in message.message_attributes.items()},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": queue.region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = message.attribute_md5
    return record


def failed_message_ids(message_ids: list[str], failed: bool, payload: bytes, report_item_failures: bool) -> set[str]:
    """Which messages of the batch stay on the queue (to be received again)."""
    everything = set(message_ids)
    if failed:
        return everything
    if not report_item_failures:
        return set()
    try:
        response = json.loads(payload) if payload and payload.strip() else None
    except ValueError:
        return everything  # AWS: an invalid JSON response fails the whole batch
    if response is None:
        return set()
    if not isinstance(response, dict):
        return everything
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return everything
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in everything:
            return everything  # an empty or unknown identifier fails the whole batch
        ids.add(identifier)
    return ids


# ---------------------------------------------------------------- pollers


def _receivable_within(queue: Any, timeout_s: float) -> bool:
    """Waits until the queue holds a message that is due and visible (True), or timeout_s."""
    from moto.core.utils import unix_time_millis

    deadline = time.monotonic() + timeout_s
    with queue._messages_lock:
        while True:
            now_ms = unix_time_millis()
            next_due_ms = None
            for message in queue._messages:
                due_ms = max(message.visible_at, message.delayed_until)
                if message.visible and not message.delayed:
                    return True
                next_due_ms = due_ms if next_due_ms is None else min(next_due_ms, due_ms)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait = min(left, WAKE_S)
            if next_due_ms is not None:
                wait = min(wait, max(0.0, (next_due_ms - now_ms) / 1000.0) + 0.001)
            queue._messages_lock.wait(wait)  # SendMessage notifies


class _Poller:
    """Receives batches for one mapping and runs up to its concurrency of them at once."""

    def __init__(self, esm: Any, account_id: str, region: str):
        self.esm = esm
        self.account_id = account_id
        self.region = region
        self.in_flight = 0
        self.slots = threading.Condition()
        self.thread = threading.Thread(target=self.run, name=f"sqs-esm-{esm.uuid}", daemon=True)

    def mapped(self) -> bool:
        from moto.awslambda.models import lambda_backends

        return lambda_backends[self.account_id][self.region]._event_source_mappings.get(self.esm.uuid) is self.esm

    def concurrency(self) -> int:
        maximum = _int((self.esm.scaling_config or {}).get("MaximumConcurrency"), DEFAULT_CONCURRENCY)
        return max(1, min(maximum, DEFAULT_CONCURRENCY))

    def run(self) -> None:
        while self.mapped():
            queue = _queue_of(self.esm.event_source_arn)
            if queue is None or not _enabled(self.esm.enabled):
                time.sleep(IDLE_CHECK_S)
                continue
            with self.slots:
                if not self.slots.wait_for(lambda: self.in_flight < self.concurrency(), timeout=IDLE_CHECK_S):
                    continue
            try:
                batch = self.next_batch(queue)
            except Exception:  # a queue deleted mid-receive, say: never kill the poller
                LOG.exception("mapping %s: receiving from %s failed", self.esm.uuid, self.esm.event_source_arn)
                time.sleep(IDLE_CHECK_S)
                continue
            if batch:
                with self.slots:
                    self.in_flight += 1
                threading.Thread(target=self.deliver, args=(queue, batch), name=f"sqs-esm-{self.esm.uuid}-batch", daemon=True).start()

    def receive(self, queue: Any, count: int) -> list[Any]:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[queue.account_id][queue.region]
        with _RECEIVE_LOCK:
            # moto's receive applies the RedrivePolicy (moves over-received messages to the DLQ).
            return backend.receive_message(queue.name, min(count, RECEIVE_MAX), 0, queue.visibility_timeout, message_attribute_names=["All"])

    def next_batch(self, queue: Any) -> list[Any]:
        """Up to BatchSize due messages: as soon as one is there, or once the batching window
        after the first one has passed (or the batch is full)."""
        if not _receivable_within(queue, IDLE_CHECK_S):
            return []
        batch_size = max(1, _int(self.esm.batch_size, 10))
        window_s = max(0.0, float(_int(self.esm.max_batch_window, 0)))
        batch = self.receive(queue, batch_size)
        if not batch:
            time.sleep(WAKE_S)  # due but not receivable (a FIFO group in flight): look again soon
            return []
        closes = time.monotonic() + window_s
        while len(batch) < batch_size and time.monotonic() < closes:
            if _receivable_within(queue, closes - time.monotonic()):
                more = self.receive(queue, batch_size - len(batch))
                if not more:
                    time.sleep(min(WAKE_S, max(0.0, closes - time.monotonic())))
                batch.extend(more)
        return batch

    def deliver(self, queue: Any, batch: list[Any]) -> None:
        try:
            self.invoke_and_delete(queue, batch)
        except Exception:
            LOG.exception("mapping %s: delivering a batch failed; its messages reappear after the visibility timeout", self.esm.uuid)
        finally:
            with self.slots:
                self.in_flight -= 1
                self.slots.notify_all()

    def invoke_and_delete(self, queue: Any, batch: list[Any]) -> None:
        from moto.awslambda.models import lambda_backends
        from moto.sqs.models import sqs_backends

        from .lambda_runtime import invoke_function

        fn = lambda_backends[self.account_id][self.region].get_function_by_arn(self.esm.function_arn)
        if fn is None:
            LOG.warning("mapping %s: function %s not found; messages stay on the queue", self.esm.uuid, self.esm.function_arn)
            return
        event = {"Records": [event_record(m, queue) for m in batch]}
        result = invoke_function(fn, json.dumps(event).encode())
        report = "ReportBatchItemFailures" in (self.esm.function_response_types or [])
        keep = failed_message_ids([m.id for m in batch], result.failed, result.payload, report)
        if keep:
            LOG.info(
                "mapping %s: %d of %d message(s) from %s not done (%s): they reappear after the visibility timeout",
                self.esm.uuid, len(keep), len(batch), queue.name,
                "function error" if result.failed else "reported item failures",
            )
        backend = sqs_backends[queue.account_id][queue.region]
        for message in batch:
            if message.id in keep:
                continue
            try:
                backend.delete_message(queue.name, message.receipt_handle)
            except Exception as error:  # queue purged or deleted meanwhile: nothing left to delete
                LOG.info("mapping %s: could not delete message %s: %s", self.esm.uuid, message.id, error)


# ---------------------------------------------------------------- CreateEventSourceMapping


def _invalid(message: str) -> Exception:
    from moto.awslambda.exceptions import InvalidParameterValueException

    return InvalidParameterValueException(message)


def _check_sqs_mapping(backend: Any, spec: dict[str, Any]) -> None:
    """What AWS refuses when mapping an SQS queue, before anything is made."""
    from moto.awslambda.exceptions import LambdaClientError

    source = spec["EventSourceArn"]
    queue = _queue_of(source)
    if queue is None:
        return  # moto's own lookup reports the missing queue
    fn = backend._lambdas.get_function_by_name_or_arn_with_qualifier(spec.get("FunctionName", ""))
    for existing in backend._event_source_mappings.values():
        if existing.event_source_arn == source and existing.function_arn == fn.function_arn:
            error = LambdaClientError(
                "ResourceConflictException",
                f"An event source mapping with SQS arn (\" {source} \") and function (\" {fn.function_name} \") already exists. "
                f"Please update or delete the existing mapping with UUID {existing.uuid}",
            )
            error.code = 409
            raise error
    function_timeout = _int(getattr(fn, "timeout", 3), 3)
    if _int(queue.visibility_timeout, 30) < function_timeout:
        raise _invalid(
            f"Queue visibility timeout: {queue.visibility_timeout} seconds is less than Function timeout: "
            f"{function_timeout} seconds. Raise the queue's VisibilityTimeout to at least the function's Timeout."
        )
    batch_size = _int(spec.get("BatchSize"), 10)
    if batch_size > RECEIVE_MAX and not queue.fifo_queue and _int(spec.get("MaximumBatchingWindowInSeconds"), 0) < 1:
        raise _invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    concurrency = (spec.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if concurrency is not None and not 2 <= _int(concurrency, 0) <= 1000:
        raise _invalid("ScalingConfig.MaximumConcurrency must be between 2 and 1000.")


def _start_poller_on_create(create: Any) -> Any:
    @functools.wraps(create)
    def wrapper(backend: Any, spec: dict[str, Any]) -> Any:
        if _is_sqs(spec.get("EventSourceArn") or "") and spec.get("FunctionName"):
            _check_sqs_mapping(backend, spec)
        esm = create(backend, spec)
        if _is_sqs(esm.event_source_arn):
            _Poller(esm, backend.account_id, backend.region_name).thread.start()
            LOG.info("mapping %s: polling %s for %s", esm.uuid, esm.event_source_arn, esm.function_arn)
        return esm

    return wrapper


def _no_inline_invocations(queue: Any) -> dict[str, Any]:
    """Queue.lambda_event_source_mappings is what moto's SendMessage invokes inline; the
    pollers deliver instead, so the queue never holds any (writes go nowhere)."""
    return {}


def install() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import Queue

    if getattr(Queue, "_byoc_sqs_esm", False):
        return
    Queue.lambda_event_source_mappings = property(_no_inline_invocations, lambda queue, value: None)  # type: ignore[assignment]
    Queue._byoc_sqs_esm = True  # type: ignore[attr-defined]
    LambdaBackend.create_event_source_mapping = _start_poller_on_create(LambdaBackend.create_event_source_mapping)  # type: ignore[method-assign]
