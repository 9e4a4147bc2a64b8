"""SQS to Lambda as AWS's poller delivers (moto_ext/sqs_esm.py): SendMessage returns at once,
messages arrive in batches once their delay has passed, a batch is deleted when the function
succeeds, reported item failures and failed batches come back after the visibility timeout
and end in the dead-letter queue, and mappings made by CloudFormation deliver too."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import FIXTURES, create_function, make_zip

# bootstrap runs the consumer with this venv's python (it uses boto3).
BOOTSTRAP = f"#!/bin/sh\nexec {sys.executable} {FIXTURES / 'sqs_consumer.py'}\n"


class Consumer:
    """What the consumer function logged: one entry per invocation."""

    def __init__(self, log: Path, name: str):
        self.log = log
        self.name = name

    def batches(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def records(self) -> list[dict]:
        return [r for b in self.batches() for r in b["records"]]

    def wait(self, condition, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = self.batches()
            if condition(batches):
                return batches
            time.sleep(0.05)
        raise AssertionError(f"condition not met in {timeout}s; batches: {self.batches()}")


def consumer_function(stack, tmp_path: Path, timeout: int = 10) -> Consumer:
    log = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    name = create_function(
        stack,
        make_zip({"bootstrap": (BOOTSTRAP, 0o755)}),
        Timeout=timeout,
        Environment={"Variables": {"RECORD_FILE": str(log)}},
    )
    return Consumer(log, name)


def make_queue(stack, **attributes) -> tuple[str, str]:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"esm-{uuid.uuid4().hex[:8]}", Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def map_queue(stack, arn: str, consumer: Consumer, **settings) -> dict:
    return stack.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=consumer.name, **settings)


def send(stack, url: str, body: dict, **kwargs) -> tuple[dict, float]:
    """Sends a message; returns the response and when it was sent (epoch seconds)."""
    sent = time.time()
    return stack.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body), **kwargs), sent


def messages_left(stack, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    attributes = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def first_received(batch: dict) -> float:
    """When the poller received the batch's first message (epoch seconds)."""
    return int(batch["records"][0]["attributes"]["ApproximateFirstReceiveTimestamp"]) / 1000


def wait_until_empty(stack, url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while messages_left(stack, url):
        assert time.monotonic() < deadline, f"{messages_left(stack, url)} message(s) still on the queue"
        time.sleep(0.1)


def test_send_returns_at_once_and_a_batch_arrives_with_the_sqs_event_shape_then_is_deleted(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path)
    url, arn = make_queue(stack)
    map_queue(stack, arn, consumer, BatchSize=10, MaximumBatchingWindowInSeconds=1)
    sent = []
    for i in range(3):
        started = time.monotonic()
        response, _ = send(stack, url, {"do": "sleep", "s": 1, "n": i}, MessageAttributes={"kind": {"DataType": "String", "StringValue": f"k{i}"}})
        assert time.monotonic() - started < 0.5, "SendMessage waited for the function"
        sent.append(response)
    [batch] = consumer.wait(lambda b: len(b) >= 1)
    assert [r["messageId"] for r in batch["records"]] == [s["MessageId"] for s in sent], "one batch, in order, within the window"
    record = batch["records"][0]
    assert json.loads(record["body"]) == {"do": "sleep", "s": 1, "n": 0}
    assert record["md5OfBody"] == sent[0]["MD5OfMessageBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["md5OfMessageAttributes"] == sent[0]["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn and record["awsRegion"] == "us-east-1"
    assert record["receiptHandle"]
    attributes = record["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"])
    assert attributes["SenderId"]
    assert record["messageAttributes"] == {"kind": {"stringValue": "k0", "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
    wait_until_empty(stack, url)
    time.sleep(0.5)
    assert len(consumer.batches()) == 1, "a successful batch is deleted, not delivered again"


def test_delay_seconds_are_honoured_per_message_and_queue_default(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path)
    url, arn = make_queue(stack, DelaySeconds=2)
    map_queue(stack, arn, consumer, BatchSize=1)
    send(stack, url, {"n": "queue-default"})
    send(stack, url, {"n": "own-delay"}, DelaySeconds=1)
    send(stack, url, {"n": "no-delay"}, DelaySeconds=0)
    batches = consumer.wait(lambda b: len(b) >= 3)
    records = {json.loads(b["records"][0]["body"])["n"]: b["records"][0]["attributes"] for b in batches}
    assert list(records) == ["no-delay", "own-delay", "queue-default"]
    for name, delay in [("no-delay", 0), ("own-delay", 1), ("queue-default", 2)]:
        attributes = records[name]
        waited = (int(attributes["ApproximateFirstReceiveTimestamp"]) - int(attributes["SentTimestamp"])) / 1000
        assert waited >= delay, f"{name} received {waited:.2f}s after sending, before its {delay}s delay"
        # A due message is received at once (long-poll style), not on a one-second tick.
        assert waited < delay + 0.3, f"{name} received {waited:.2f}s after sending ({delay}s delay)"


def test_a_failed_batch_reappears_after_the_visibility_timeout_then_goes_to_the_dead_letter_queue(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path, timeout=2)
    dlq_url, dlq_arn = make_queue(stack)
    url, arn = make_queue(stack, VisibilityTimeout=2, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    map_queue(stack, arn, consumer)
    response, _ = send(stack, url, {"do": "fail"})
    batches = consumer.wait(lambda b: len(b) >= 2)
    assert [b["records"][0]["attributes"]["ApproximateReceiveCount"] for b in batches] == ["1", "2"]
    gap = batches[1]["start"] - first_received(batches[0])
    assert 2.0 <= gap < 3.0, f"received again {gap:.2f}s later; the visibility timeout is 2s"
    dead = stack.client("sqs").receive_message(QueueUrl=dlq_url, WaitTimeSeconds=5).get("Messages", [])
    assert [m["MessageId"] for m in dead] == [response["MessageId"]]
    assert len(consumer.batches()) == 2, "received maxReceiveCount times, then moved to the dead-letter queue"
    assert messages_left(stack, url) == 0


def test_reported_item_failures_come_back_alone(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path, timeout=2)
    url, arn = make_queue(stack, VisibilityTimeout=2)
    entries = [{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate([{"n": 0}, {"do": "report-first"}, {"n": 2}])]
    ids = [m["MessageId"] for m in stack.client("sqs").send_message_batch(QueueUrl=url, Entries=entries)["Successful"]]
    # Mapped after the send: the first batch holds all three.
    map_queue(stack, arn, consumer, FunctionResponseTypes=["ReportBatchItemFailures"])
    batches = consumer.wait(lambda b: len(b) >= 2)
    assert [r["messageId"] for r in batches[0]["records"]] == ids
    assert [r["messageId"] for r in batches[1]["records"]] == [ids[1]], "only the reported message again"
    assert batches[1]["records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert batches[1]["start"] - first_received(batches[0]) >= 2.0, "after the visibility timeout"
    wait_until_empty(stack, url)


def test_an_unknown_item_identifier_fails_the_whole_batch(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path, timeout=1)
    url, arn = make_queue(stack, VisibilityTimeout=1)
    entries = [{"Id": "a", "MessageBody": json.dumps({"do": "report-unknown"})}, {"Id": "b", "MessageBody": json.dumps({"n": 1})}]
    ids = sorted(m["MessageId"] for m in stack.client("sqs").send_message_batch(QueueUrl=url, Entries=entries)["Successful"])
    map_queue(stack, arn, consumer, FunctionResponseTypes=["ReportBatchItemFailures"])
    batches = consumer.wait(lambda b: len(b) >= 2)
    assert sorted(r["messageId"] for r in batches[0]["records"]) == ids
    assert sorted(r["messageId"] for r in batches[1]["records"]) == ids


def test_item_failures_are_ignored_unless_the_mapping_reports_them(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path, timeout=1)
    url, arn = make_queue(stack, VisibilityTimeout=1)
    map_queue(stack, arn, consumer)
    send(stack, url, {"do": "report-first"})
    consumer.wait(lambda b: len(b) >= 1)
    wait_until_empty(stack, url)
    time.sleep(1.5)
    assert len(consumer.batches()) == 1


def test_maximum_concurrency_bounds_the_batches_in_flight(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path)
    url, arn = make_queue(stack)
    map_queue(stack, arn, consumer, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    for i in range(6):
        send(stack, url, {"do": "sleep", "s": 1, "n": i})
    batches = consumer.wait(lambda b: len(b) >= 6, timeout=30)
    moments = sorted([(b["start"], 1) for b in batches] + [(b["end"], -1) for b in batches], key=lambda m: (m[0], m[1]))
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    assert peak == 2, f"{peak} batches ran at once with MaximumConcurrency 2"


def test_mapping_settings_are_checked_as_aws_does(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path, timeout=10)
    lam = stack.client("lambda")
    _, short_arn = make_queue(stack, VisibilityTimeout=5)
    with pytest.raises(ClientError) as short:
        map_queue(stack, short_arn, consumer)
    assert short.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "visibility timeout" in short.value.response["Error"]["Message"]

    _, arn = make_queue(stack)
    with pytest.raises(ClientError) as window:
        map_queue(stack, arn, consumer, BatchSize=20)
    assert window.value.response["Error"]["Code"] == "InvalidParameterValueException"
    esm = map_queue(stack, arn, consumer, BatchSize=20, MaximumBatchingWindowInSeconds=1)
    with pytest.raises(ClientError) as conflict:
        map_queue(stack, arn, consumer)
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"
    assert esm["UUID"] in conflict.value.response["Error"]["Message"]
    assert [m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [esm["UUID"]]


def test_disabling_pauses_and_deleting_stops_delivery(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path)
    lam = stack.client("lambda")
    url, arn = make_queue(stack)
    esm = map_queue(stack, arn, consumer)
    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)
    time.sleep(0.7)  # the poller notices within its idle check
    send(stack, url, {"n": "while-disabled"})
    time.sleep(1.5)
    assert consumer.batches() == []
    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    consumer.wait(lambda b: len(b) == 1)
    lam.delete_event_source_mapping(UUID=esm["UUID"])
    time.sleep(0.7)
    send(stack, url, {"n": "after-delete"})
    time.sleep(1.5)
    assert len(consumer.batches()) == 1
    assert messages_left(stack, url) == 1, "the message waits on the queue for a consumer"


def test_queue_and_mapping_from_cloudformation(stack, tmp_path):
    consumer = consumer_function(stack, tmp_path, timeout=3)
    template = {
        "Parameters": {"FunctionName": {"Type": "String"}},
        "Resources": {
            "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
            "Watch": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": 3,
                    "MessageRetentionPeriod": 345600,
                    "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": 5},
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Watch", "Arn"]},
                    "FunctionName": {"Ref": "FunctionName"},
                    "BatchSize": 5,
                    "MaximumBatchingWindowInSeconds": 1,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "ScalingConfig": {"MaximumConcurrency": 2},
                },
            },
        },
        "Outputs": {
            "Url": {"Value": {"Ref": "Watch"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Watch", "Arn"]}},
            "Name": {"Value": {"Fn::GetAtt": ["Watch", "QueueName"]}},
            "DeadLetterArn": {"Value": {"Fn::GetAtt": ["DeadLetters", "Arn"]}},
            "Mapping": {"Value": {"Ref": "Mapping"}},
        },
    }
    cfn = stack.client("cloudformation")
    name = f"watch-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), Parameters=[{"ParameterKey": "FunctionName", "ParameterValue": consumer.name}])
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    assert outputs["Url"].endswith(f"/{outputs['Name']}") and outputs["Arn"].endswith(f":{outputs['Name']}")

    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["Url"], AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == outputs["Arn"]
    assert attributes["VisibilityTimeout"] == "3" and attributes["MessageRetentionPeriod"] == "345600"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": outputs["DeadLetterArn"], "maxReceiveCount": 5}

    mapping = stack.client("lambda").get_event_source_mapping(UUID=outputs["Mapping"])
    assert mapping["EventSourceArn"] == outputs["Arn"] and mapping["BatchSize"] == 5
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}

    response = sqs.send_message(QueueUrl=outputs["Url"], MessageBody=json.dumps({"n": "via-cfn"}))
    batches = consumer.wait(lambda b: len(b) >= 1)
    assert batches[0]["records"][0]["messageId"] == response["MessageId"]
    wait_until_empty(stack, outputs["Url"])

    cfn.delete_stack(StackName=name)
    with pytest.raises(ClientError):
        stack.client("lambda").get_event_source_mapping(UUID=outputs["Mapping"])
