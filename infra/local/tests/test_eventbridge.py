"""EventBridge as publish-events and the vendor rely on it (moto, with eventbridge_ext): PutEvents
on a custom bus reaches an SQS target of a rule whose pattern matches, in the shape AWS
delivers (id, detail-type, source, account, time, region, resources, detail as an object), and
nothing reaches it that the pattern does not match."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone


def test_put_events_reach_the_sqs_target_of_a_matching_rule(stack):
    events, sqs = stack.client("events"), stack.client("sqs")
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["byoc.install"], "detail": {"tenant_id": ["acme"]}}
    events.put_rule(Name="acme-installs", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="acme-installs", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])

    at = datetime(2024, 5, 1, 10, 4, 12, tzinfo=timezone.utc)
    detail = {"schema_version": 1, "tenant_id": "acme", "install_id": "inst-x", "seq": 3}
    result = events.put_events(
        Entries=[
            {"EventBusName": bus, "Source": "byoc.install", "DetailType": "Step Started", "Detail": json.dumps(detail), "Time": at},
            {"EventBusName": bus, "Source": "byoc.install", "DetailType": "Step Started", "Detail": json.dumps({**detail, "tenant_id": "other"})},
            {"EventBusName": bus, "Source": "someone.else", "DetailType": "Step Started", "Detail": json.dumps(detail)},
        ]
    )
    assert result["FailedEntryCount"] == 0
    first_id = result["Entries"][0]["EventId"]

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert len(messages) == 1, messages
    body = json.loads(messages[0]["Body"])
    assert body["id"] == first_id
    assert body["detail-type"] == "Step Started" and body["source"] == "byoc.install"
    assert body["detail"] == detail
    assert body["time"] == "2024-05-01T10:04:12Z"
    assert body["account"] == "123456789012" and body["region"] == "us-east-1"
    assert body["resources"] == []
