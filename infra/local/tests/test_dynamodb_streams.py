"""DynamoDB Streams to Lambda as AWS delivers them (moto_ext/dynamodb_streams.py): the write
returns at once, the function gets the records in order and in batches, a failed batch is
retried, partial batch failures resume at the failed record, and no record is made for a
write that changes nothing or a transaction that was cancelled."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import create_function, make_zip

# A custom runtime (the Lambda Runtime API loop) that logs every batch it gets to
# $RECORD_FILE and answers as $MODE says. Its interpreter is this venv's, for boto3.
CONSUMER = f"""#!{sys.executable}
import json, os, pathlib, time, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
log = pathlib.Path(os.environ["RECORD_FILE"])
mode = os.environ.get("MODE", "ok")
counter = log.with_suffix(".count")


def next_number():
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    return n


def post(path, body, headers=None):
    request = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST", headers=headers or {{}})
    urllib.request.urlopen(request).read()


while True:
    with urllib.request.urlopen(API + "/invocation/next") as got:
        request_id = got.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(got.read())
    seen = [
        {{
            "seq": r["dynamodb"]["SequenceNumber"],
            "pk": r["dynamodb"]["Keys"]["pk"]["S"],
            "name": r["eventName"],
            "arn": r["eventSourceARN"],
            "version": r["eventVersion"],
            "region": r["awsRegion"],
            "created": r["dynamodb"]["ApproximateCreationDateTime"],
            "new": r["dynamodb"].get("NewImage"),
        }}
        for r in event["Records"]
    ]
    n = next_number()
    with log.open("a") as out:
        out.write(json.dumps({{"n": n, "records": seen}}) + "\\n")
    response, error = {{}}, None
    if mode.startswith("fail-first:") and n < int(mode.split(":")[1]):
        error = "asked to fail"
    elif mode.startswith("fail-if:") and any(s["pk"] == mode.split(":", 1)[1] for s in seen):
        error = "a record it cannot take"
    elif mode.startswith("report:") and n == 0:
        key = mode.split(":", 1)[1]
        response = {{"batchItemFailures": [{{"itemIdentifier": s["seq"]}} for s in seen if s["pk"] == key]}}
    elif mode == "report-unknown" and n == 0:
        response = {{"batchItemFailures": [{{"itemIdentifier": "12345"}}]}}
    elif mode.startswith("sleep:"):
        time.sleep(float(mode.split(":")[1]))
    elif mode == "write-back":
        import boto3
        table = boto3.client("dynamodb")
        for s in seen:
            if s["name"] == "INSERT" and s["pk"].startswith("src-"):
                table.put_item(TableName=os.environ["TABLE"], Item={{"pk": {{"S": "echo-" + s["pk"]}}}})
    if error:
        post("/invocation/" + request_id + "/error", {{"errorType": "Boom", "errorMessage": error}}, {{"Lambda-Runtime-Function-Error-Type": "Unhandled"}})
    else:
        post("/invocation/" + request_id + "/response", response)
"""


class Consumer:
    def __init__(self, log: Path):
        self.log = log

    def batches(self) -> list[list[dict]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["records"] for line in self.log.read_text().splitlines() if line]

    def wait(self, condition, timeout: float = 20.0) -> list[list[dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = self.batches()
            if condition(batches):
                return batches
            time.sleep(0.1)
        raise AssertionError(f"condition not met in {timeout}s; batches: {self.batches()}")


def keys(batches: list[list[dict]]) -> list[str]:
    return [r["pk"] for batch in batches for r in batch]


def make_table(stack, view_type: str = "NEW_IMAGE") -> tuple[str, str]:
    ddb = stack.client("dynamodb")
    name = f"streams-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
    )
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def consume(stack, tmp_path: Path, mode: str = "ok", table: tuple[str, str] | None = None, **mapping) -> tuple[str, str, Consumer, dict]:
    name, arn = table or make_table(stack)
    log = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    function = create_function(
        stack,
        make_zip({"bootstrap": (CONSUMER, 0o755)}),
        Timeout=30,
        Environment={"Variables": {"RECORD_FILE": str(log), "MODE": mode, "TABLE": name}},
    )
    spec = {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10, **mapping}
    esm = stack.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=function, **spec)
    return name, arn, Consumer(log), esm


def put(stack, table: str, key: str, **attributes) -> float:
    """Writes an item; returns how long the write took."""
    item = {"pk": {"S": key}, **{k: {"S": v} for k, v in attributes.items()}}
    started = time.monotonic()
    stack.client("dynamodb").put_item(TableName=table, Item=item)
    return time.monotonic() - started


def test_writes_return_at_once_and_records_arrive_in_order_in_batches(stack, tmp_path):
    table, arn, consumer, _ = consume(stack, tmp_path, mode="sleep:2", BatchSize=2)
    took = [put(stack, table, f"k{i}", v="x") for i in range(5)]
    # The function takes two seconds per batch; the writes must not wait for it.
    assert max(took) < 1.5, took
    batches = consumer.wait(lambda b: len(keys(b)) >= 5)
    assert keys(batches) == ["k0", "k1", "k2", "k3", "k4"]
    assert all(len(b) <= 2 for b in batches), batches
    records = [r for b in batches for r in b]
    sequence = [int(r["seq"]) for r in records]
    assert sequence == sorted(sequence) and len(set(sequence)) == 5
    first = records[0]
    assert first["name"] == "INSERT" and first["arn"] == arn and first["version"] == "1.1"
    assert first["region"] == "us-east-1" and isinstance(first["created"], int)
    assert first["new"] == {"pk": {"S": "k0"}, "v": {"S": "x"}}


def test_a_failed_batch_is_retried_and_nothing_behind_it_overtakes_it(stack, tmp_path):
    table, _, consumer, _ = consume(stack, tmp_path, mode="fail-first:2")
    put(stack, table, "a")
    batches = consumer.wait(lambda b: len(b) >= 3)
    put(stack, table, "b")
    batches = consumer.wait(lambda b: "b" in keys(b))
    assert [b[0]["pk"] for b in batches[:3]] == ["a", "a", "a"], "the same batch until it succeeds"
    assert keys(batches).count("b") == 1 and keys(batches)[-1] == "b"


def test_partial_batch_failure_resumes_at_the_reported_record(stack, tmp_path):
    name, arn = make_table(stack)
    for key in ["r0", "r1", "r2", "r3"]:
        put(stack, name, key)
    # Mapped after the writes, from TRIM_HORIZON: the first batch holds all four.
    _, _, consumer, _ = consume(stack, tmp_path, mode="report:r2", table=(name, arn), FunctionResponseTypes=["ReportBatchItemFailures"])
    batches = consumer.wait(lambda b: len(b) >= 2)
    time.sleep(1)
    batches = consumer.batches()
    assert keys(batches[:1]) == ["r0", "r1", "r2", "r3"]
    assert keys(batches[1:]) == ["r2", "r3"], "only the failed record and what follows it again"


def test_item_failures_are_ignored_unless_the_mapping_reports_them(stack, tmp_path):
    table, _, consumer, _ = consume(stack, tmp_path, mode="report:x0")
    put(stack, table, "x0")
    put(stack, table, "x1")
    consumer.wait(lambda b: "x1" in keys(b))
    time.sleep(1)
    assert keys(consumer.batches()).count("x0") == 1


def test_an_unknown_item_identifier_fails_the_whole_batch(stack, tmp_path):
    table, _, consumer, _ = consume(stack, tmp_path, mode="report-unknown", FunctionResponseTypes=["ReportBatchItemFailures"])
    put(stack, table, "u0")
    batches = consumer.wait(lambda b: len(b) >= 2)
    assert keys(batches[:2]) == ["u0", "u0"]


def failure_queue(stack) -> tuple[str, str]:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"on-failure-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def failure_records(stack, url: str) -> list[dict]:
    messages = stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_retries_stop_after_maximum_retry_attempts_and_the_batch_goes_to_the_destination(stack, tmp_path):
    url, queue_arn = failure_queue(stack)
    table, arn, consumer, esm = consume(stack, tmp_path, mode="fail-first:100", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    put(stack, table, "m0")
    consumer.wait(lambda b: len(b) >= 2)
    put(stack, table, "m1")
    batches = consumer.wait(lambda b: "m1" in keys(b))
    assert keys(batches[:2]) == ["m0", "m0"], "one try and one retry, then the batch is discarded"
    [record] = failure_records(stack, url)[:1]
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == arn and info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == batches[0][0]["seq"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"] == esm["FunctionArn"]
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_bisecting_isolates_the_record_the_function_cannot_take(stack, tmp_path):
    name, arn = make_table(stack)
    for key in ["g0", "bad", "g2", "g3"]:
        put(stack, name, key)
    url, queue_arn = failure_queue(stack)
    _, _, consumer, _ = consume(
        stack,
        tmp_path,
        mode="fail-if:bad",
        table=(name, arn),
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    batches = consumer.wait(lambda b: len(b) >= 6)
    assert [keys([b]) for b in batches] == [["g0", "bad", "g2", "g3"], ["g0", "bad"], ["g0"], ["bad"], ["bad"], ["g2", "g3"]]
    [record] = failure_records(stack, url)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert record["DDBStreamBatchInfo"]["startSequenceNumber"] == batches[3][0]["seq"]


def test_a_function_may_write_to_its_own_table(stack, tmp_path):
    table, _, consumer, _ = consume(stack, tmp_path, mode="write-back")
    took = put(stack, table, "src-1")
    batches = consumer.wait(lambda b: "echo-src-1" in keys(b))
    assert took < 2, "the write waited for the function"
    assert keys(batches) == ["src-1", "echo-src-1"]
    assert "Item" in stack.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "echo-src-1"}})


def test_no_record_for_an_unchanged_item_or_a_cancelled_transaction(stack, tmp_path):
    table, arn = make_table(stack)
    ddb = stack.client("dynamodb")
    put(stack, table, "same", v="1")
    put(stack, table, "same", v="1")  # changes nothing
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": "same"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "committed"}}}}])
    ddb.update_item(TableName=table, Key={"pk": {"S": "same"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "2"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "committed"}})

    streams = stack.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    seen = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    assert seen == [("INSERT", "same"), ("INSERT", "committed"), ("MODIFY", "same"), ("REMOVE", "committed")]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == list(range(numbers[0], numbers[0] + 4))


def test_one_mapping_per_function_and_stream_and_deleting_it_stops_delivery(stack, tmp_path):
    table, arn, consumer, esm = consume(stack, tmp_path)
    lam = stack.client("lambda")
    with pytest.raises(ClientError) as conflict:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=esm["FunctionArn"], StartingPosition="LATEST")
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"
    put(stack, table, "d0")
    consumer.wait(lambda b: "d0" in keys(b))
    lam.delete_event_source_mapping(UUID=esm["UUID"])
    time.sleep(1)  # the poller notices within its idle check
    put(stack, table, "d1")
    time.sleep(1.5)
    assert "d1" not in keys(consumer.batches())


def test_parallelization_factor_runs_batches_at_once_keeping_each_key_in_order(stack, tmp_path):
    table, _, consumer, _ = consume(stack, tmp_path, mode="sleep:1", BatchSize=1, ParallelizationFactor=4)
    started = time.monotonic()
    for i in range(8):
        put(stack, table, f"k{i}", v="x")
    for version in ("1", "2", "3"):
        put(stack, table, "same", v=version)
    batches = consumer.wait(lambda b: len(keys(b)) >= 11, timeout=30)
    took = time.monotonic() - started
    # Eleven one-second batches one at a time would take 11 s; four lanes take about a quarter.
    assert took < 8, f"{took:.1f} s: batches were not delivered concurrently"
    assert sorted(keys(batches)) == sorted([f"k{i}" for i in range(8)] + ["same"] * 3)
    same = [r["new"]["v"]["S"] for b in batches for r in b if r["pk"] == "same"]
    assert same == ["1", "2", "3"], "one key's records left their order"
