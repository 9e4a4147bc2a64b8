"""TransactWriteItems as DynamoDB runs it (moto_ext/dynamodb_transactions.py), on a table shaped
like the installer's (pk/sk, the sparse `installs-by-status` index, a stream, TTL): all or
nothing, cancellation reasons in request order, no stream record and no index entry from a
cancelled transaction, and a cost that does not grow with the table."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest
from botocore.exceptions import ClientError

STATUS_INDEX = "installs-by-status"


def make_table(stack) -> tuple[str, str]:
    ddb = stack.client("dynamodb")
    name = f"tx-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "install_status", "install_id")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "install_status", "KeyType": "HASH"},
                    {"AttributeName": "install_id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def key(install: str, sk: str = "install") -> dict:
    return {"pk": {"S": f"install#{install}"}, "sk": {"S": sk}}


def install_item(install: str, status: str | None = "validating", version: int = 1, **extra: dict) -> dict:
    item = {**key(install), "install_id": {"S": install}, "version": {"N": str(version)}, **extra}
    if status is not None:
        item["install_status"] = {"S": status}
    return item


def put(table: str, item: dict, **condition) -> dict:
    return {"Put": {"TableName": table, "Item": item, **condition}}


def scan(stack, table: str) -> dict[tuple[str, str], dict]:
    items = stack.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}


def by_status(stack, table: str, status: str) -> list[str]:
    found = stack.client("dynamodb").query(
        TableName=table,
        IndexName=STATUS_INDEX,
        KeyConditionExpression="install_status = :s",
        ExpressionAttributeValues={":s": {"S": status}},
    )["Items"]
    return sorted(i["install_id"]["S"] for i in found)


def stream_records(stack, arn: str) -> list[tuple[str, str, str]]:
    streams = stack.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in records]


def cancelled(stack, items: list[dict]) -> dict:
    with pytest.raises(ClientError) as refused:
        stack.client("dynamodb").transact_write_items(TransactItems=items)
    return refused.value.response


@pytest.fixture
def seeded(stack):
    """A table holding installs a (validating, expiring), b (ready) and a timeline event of a."""
    table, arn = make_table(stack)
    stack.client("dynamodb").transact_write_items(
        TransactItems=[
            put(table, install_item("a", expires_at={"N": "1900000000"})),
            put(table, install_item("b", status="ready")),
            put(table, {**key("a", "event#1"), "text": {"S": "started"}}),
        ]
    )
    return table, arn


def test_a_cancelled_transaction_leaves_items_index_and_stream_untouched(stack, seeded):
    table, arn = seeded
    before, records_before = scan(stack, table), stream_records(stack, arn)
    assert len(records_before) == 3
    response = cancelled(
        stack,
        [
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a"),
                    "UpdateExpression": "SET install_status = :s, version = version + :one REMOVE expires_at",
                    "ExpressionAttributeValues": {":s": {"S": "ready"}, ":one": {"N": "1"}},
                }
            },
            {"Delete": {"TableName": table, "Key": key("a", "event#1")}},
            put(table, install_item("c", status="ready")),
            {"Delete": {"TableName": table, "Key": key("b"), "ConditionExpression": "install_status = :gone", "ExpressionAttributeValues": {":gone": {"S": "removed"}}}},
        ],
    )
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert scan(stack, table) == before
    assert by_status(stack, table, "ready") == ["b"]
    assert by_status(stack, table, "validating") == ["a"]
    assert stream_records(stack, arn) == records_before
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_an_error_while_applying_puts_back_exactly_the_items_already_written(stack, seeded):
    """Conditions all hold, so the writes start; the third fails on the stored value's type
    (`text` is a string): the first two are undone, nothing reaches the stream."""
    table, arn = seeded
    before, records_before = scan(stack, table), stream_records(stack, arn)
    response = cancelled(
        stack,
        [
            put(table, install_item("c", status="ready")),
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a"),
                    "UpdateExpression": "SET install_status = :s REMOVE expires_at",
                    "ExpressionAttributeValues": {":s": {"S": "ready"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a", "event#1"),
                    "UpdateExpression": "SET #t = #t + :one",
                    "ExpressionAttributeNames": {"#t": "text"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ],
    )
    assert response["Error"]["Code"] == "ValidationException", response
    assert scan(stack, table) == before
    assert before[("install#a", "install")]["expires_at"] == {"N": "1900000000"}
    assert by_status(stack, table, "ready") == ["b"]
    assert stream_records(stack, arn) == records_before


def test_cancellation_reasons_are_per_item_in_request_order(stack, seeded):
    table, _ = seeded
    fresh = {"ConditionExpression": "attribute_not_exists(pk)"}
    response = cancelled(
        stack,
        [
            put(table, install_item("c")),
            put(table, install_item("a", version=2), ReturnValuesOnConditionCheckFailure="ALL_OLD", **fresh),
            {"ConditionCheck": {"TableName": table, "Key": key("b"), "ConditionExpression": "attribute_exists(pk)"}},
            {"ConditionCheck": {"TableName": table, "Key": key("b", "event#9"), "ConditionExpression": "attribute_exists(pk)"}},
            put(table, {**key("a", "event#1"), "text": {"S": "again"}}, **fresh),
        ],
    )
    assert "CancellationReasons" in response, response
    reasons = response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None", "ConditionalCheckFailed", "ConditionalCheckFailed"]
    assert reasons[1]["Item"] == install_item("a", expires_at={"N": "1900000000"})
    assert reasons[1]["Message"] == "The conditional request failed"
    assert "Item" not in reasons[3] and "Item" not in reasons[4]  # no ALL_OLD asked
    assert response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, None, ConditionalCheckFailed, ConditionalCheckFailed]"
    )
    assert ("install#c", "install") not in scan(stack, table)


def test_two_operations_on_one_item_are_refused_before_anything_is_written(stack, seeded):
    """DynamoDB does not let a condition see an item written earlier in the same call: a
    Put and a ConditionCheck of one item is a ValidationException, and the Put is not made."""
    table, arn = seeded
    records_before = stream_records(stack, arn)
    response = cancelled(
        stack,
        [
            put(table, install_item("c")),
            {"ConditionCheck": {"TableName": table, "Key": key("c"), "ConditionExpression": "attribute_exists(pk)"}},
        ],
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == "Transaction request cannot include multiple operations on one item"
    assert ("install#c", "install") not in scan(stack, table)
    assert stream_records(stack, arn) == records_before


def test_a_repeat_with_the_same_client_token_succeeds_and_writes_nothing(stack, seeded):
    """What an SDK retry of a call whose answer was lost does (the SDKs fill the token in)."""
    table, arn = seeded
    ddb = stack.client("dynamodb")
    records_before = len(stream_records(stack, arn))
    claim = [
        put(table, install_item("c"), ConditionExpression="attribute_not_exists(pk)"),
        {"Update": {"TableName": table, "Key": key("b"), "UpdateExpression": "ADD version :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ]
    token = uuid.uuid4().hex
    ddb.transact_write_items(TransactItems=claim, ClientRequestToken=token)
    ddb.transact_write_items(TransactItems=claim, ClientRequestToken=token)
    items = scan(stack, table)
    assert items[("install#b", "install")]["version"] == {"N": "2"}, "applied once"
    assert ("install#c", "install") in items
    assert len(stream_records(stack, arn)) == records_before + 2

    # A new token is a new call: the claim's condition now refuses it.
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(TransactItems=claim, ClientRequestToken=uuid.uuid4().hex)
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_the_same_client_token_with_other_parameters_is_refused(stack, seeded):
    table, _ = seeded
    ddb = stack.client("dynamodb")
    token = uuid.uuid4().hex
    ddb.transact_write_items(TransactItems=[put(table, install_item("d"))], ClientRequestToken=token)
    before = scan(stack, table)
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(TransactItems=[put(table, install_item("e"))], ClientRequestToken=token)
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert scan(stack, table) == before


def test_a_cancelled_call_does_not_hold_its_client_token(stack, seeded):
    table, _ = seeded
    ddb = stack.client("dynamodb")
    token = uuid.uuid4().hex
    guarded = [put(table, install_item("f"), ConditionExpression="attribute_exists(pk)")]
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=guarded, ClientRequestToken=token)
    # Nothing happened, so the same call again is evaluated again (and refused again).
    with pytest.raises(ClientError) as again:
        ddb.transact_write_items(TransactItems=guarded, ClientRequestToken=token)
    assert again.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_at_most_100_items(stack):
    table, _ = make_table(stack)
    response = cancelled(stack, [put(table, install_item(f"i{n}")) for n in range(101)])
    assert response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 100" in response["Error"]["Message"]
    assert scan(stack, table) == {}
    stack.client("dynamodb").transact_write_items(TransactItems=[put(table, install_item(f"i{n}")) for n in range(100)])
    assert len(scan(stack, table)) == 100


def test_a_committed_transaction_is_on_the_sparse_index_and_in_the_stream(stack, seeded):
    table, arn = seeded
    records_before = stream_records(stack, arn)
    stack.client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": key("a"),
                    "UpdateExpression": "SET install_status = :s, version = version + :one",
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":s": {"S": "ready"}, ":one": {"N": "1"}, ":v": {"N": "1"}},
                }
            },
            {"Update": {"TableName": table, "Key": key("b"), "UpdateExpression": "REMOVE install_status"}},
            put(table, install_item("c", status="ready"), ConditionExpression="attribute_not_exists(pk)"),
            put(table, {**key("a", "event#2"), "text": {"S": "ready"}}),
            {"ConditionCheck": {"TableName": table, "Key": key("a", "event#1"), "ConditionExpression": "attribute_exists(pk)"}},
        ]
    )
    assert by_status(stack, table, "ready") == ["a", "c"]
    assert by_status(stack, table, "validating") == []
    items = scan(stack, table)
    assert items[("install#a", "install")]["version"] == {"N": "2"}
    assert items[("install#a", "install")]["expires_at"] == {"N": "1900000000"}  # TTL attribute kept
    assert "install_status" not in items[("install#b", "install")]
    assert stream_records(stack, arn)[len(records_before) :] == [
        ("MODIFY", "install#a", "install"),
        ("MODIFY", "install#b", "install"),
        ("INSERT", "install#c", "install"),
        ("INSERT", "install#a", "event#2"),
    ]


def _transaction_seconds(stack, table: str, rounds: int = 5) -> float:
    """Median time of a 10-item transaction (one update per item) on `table`."""
    ddb = stack.client("dynamodb")
    times = []
    for round_ in range(rounds):
        items = [
            {
                "Update": {
                    "TableName": table,
                    "Key": key(f"i{n}"),
                    "UpdateExpression": "SET version = :v",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":v": {"N": str(round_ + 2)}},
                }
            }
            for n in range(10)
        ]
        started = time.perf_counter()
        ddb.transact_write_items(TransactItems=items)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _fill(stack, table: str, count: int) -> None:
    ddb = stack.client("dynamodb")
    for start in range(0, count, 25):
        requests = [{"PutRequest": {"Item": install_item(f"i{n}")}} for n in range(start, min(start + 25, count))]
        ddb.batch_write_item(RequestItems={table: requests})


def test_a_transaction_costs_the_same_on_a_table_of_20000_items(stack):
    small, _ = make_table(stack)
    large, _ = make_table(stack)
    _fill(stack, small, 10)
    _fill(stack, large, 20_000)
    assert stack.client("dynamodb").describe_table(TableName=large)["Table"]["ItemCount"] == 20_000
    _transaction_seconds(stack, small, rounds=1)  # warm up the connection
    on_small = _transaction_seconds(stack, small)
    on_large = _transaction_seconds(stack, large)
    print(f"10-item transaction: {on_small * 1000:.1f} ms on 10 items, {on_large * 1000:.1f} ms on 20,000 items")
    assert on_large < 5 * on_small, f"{on_large:.3f}s on 20,000 items vs {on_small:.3f}s on 10"
