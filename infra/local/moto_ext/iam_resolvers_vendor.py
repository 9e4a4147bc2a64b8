"""Request-context builders for what the vendor's Lambda functions call with their own
execution roles (cfn/vendor.yaml): DynamoDB (items, queries, transactions, streams), SNS,
SQS, Step Functions, EventBridge, STS AssumeRole, Lambda Invoke, and the resource-free
X-Ray / CloudWatch metric actions.

As in iam_resolvers, a builder only maps a request's parameters to the resource types AWS's
data lists for the action (iam_context.privilege / arn_format / row_keys); it never decides
which action authorizes what. AWS pages followed:
- DynamoDB Developer Guide, "Using IAM with DynamoDB transactions": TransactWriteItems and
  TransactGetItems are no IAM actions; each item is authorized as its own action on its
  table (Put as dynamodb:PutItem, Update as UpdateItem, Delete as DeleteItem, ConditionCheck
  as ConditionCheckItem, Get as GetItem), with dynamodb:EnclosingOperation naming the
  transaction.
- DynamoDB Developer Guide, "Using IAM policy conditions for fine-grained access control":
  dynamodb:LeadingKeys is the partition key value(s) of the items a request reads or writes;
  dynamodb:Attributes the top-level attribute names it accesses; dynamodb:Select,
  dynamodb:ReturnValues and dynamodb:ReturnConsumedCapacity the request's parameters. A
  Query on an index is authorized on the index ARN (table/NAME/index/INDEX).
- IAM User Guide, "Passing session tags in AWS STS" (sts:TagSession is also needed when
  AssumeRole passes Tags) and "Monitor and control actions taken with assumed roles"
  (sts:SetSourceIdentity when it passes a SourceIdentity); "Cross-account policy evaluation
  logic": the caller's identity policy must allow sts:AssumeRole on the target role here, and
  the role's trust policy must trust the caller (sts_trust checks that half).
- IAM User Guide, "AWS STS condition context keys": sts:ExternalId, sts:RoleSessionName,
  sts:SourceIdentity, sts:TransitiveTagKeys. sts:ExternalId is a secret: iam_enforce never
  logs it (_SECRET_KEYS) and denial messages carry no context values.
- Lambda Developer Guide, "Invoke": the Invoke operation is authorized as
  lambda:InvokeFunction (iam_context._named_by_api finds it by the data's API link); with a
  qualifier, on the qualified function ARN.
- EventBridge User Guide, "Using IAM policy conditions": PutEvents is authorized per entry on
  the entry's event bus (the account's default bus when EventBusName is absent), with
  events:source and events:detail-type of that entry.
Not modelled: S3 (moto's S3 answers through its own dispatch, not BaseResponse.call_action,
so iam_enforce never sees it) and KMS use by encrypted topics/queues (the vendor's topics
and queues use AWS managed keys, whose key policies allow the account's principals).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlparse

from .iam_context import (
    Authorization,
    Call,
    Check,
    Target,
    Unevaluable,
    _definition,
    arn_format,
    composite,
    fill_arn,
    filter_keys,
    only_resource_free,
    privilege,
    request_row_keys,
    resolver,
    star_only,
    tag_keys,
)
from .iam_resolvers import _role_tags


def _tag_dict(value: Any) -> dict[str, str]:
    """moto's backends return tags as a dict, {"Tags": [...]} or a list of Key/Value pairs."""
    if isinstance(value, dict) and "Tags" in value:
        value = value["Tags"]
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for tag in value or []:
        if isinstance(tag, dict):
            key = tag.get("Key", tag.get("key"))
            if key is not None:
                out[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return out


def _tags(lookup) -> dict[str, str]:
    try:
        return _tag_dict(lookup())
    except Exception:  # a resource moto does not know has no tags
        return {}


def _existing(action: str, rtype: str, arn: str, tags: dict[str, str], extra: dict | None = None) -> Target:
    keys = {**(extra or {}), **tag_keys(tags, "Resource")}
    return Target(rtype, arn, filter_keys(action, rtype, keys, False))


def _arn(call: Call, prefix: str, rtype: str, **ids: str) -> str:
    return fill_arn(arn_format(prefix, rtype), call.partition, call.region, call.account, **ids)


def _generic(call: Call, what: str) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    raise Unevaluable(f"{call.iam_action}: the local stack has no request-context builder for this {what} action")


# ---------------------------------------------------------------- DynamoDB


def _table(call: Call, name_or_arn: str) -> tuple[str, Any]:
    """(table ARN, moto table or None)."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        table = dynamodb_backends[call.account][call.region].get_table(name_or_arn)
    except Exception:
        table = None
    if table is not None:
        return table.table_arn, table
    if name_or_arn.startswith("arn:"):
        return name_or_arn, None
    return _arn(call, "dynamodb", "table", TableName=name_or_arn), None


def _scalar(attribute: Any) -> str | None:
    """The value of a key attribute ({"S": "x"}, {"N": "1"}, {"B": ...})."""
    if isinstance(attribute, dict):
        for kind in ("S", "N", "B"):
            if kind in attribute:
                return str(attribute[kind])
    return None


def _names(expression: str | None, names: dict | None) -> list[str]:
    """Top-level attribute names an expression refers to (#placeholders resolved)."""
    out = []
    # not :values, nested path parts (a.b) or function names
    for token in re.findall(r"(?<![:.\w#])#?[A-Za-z_]\w*\b(?!\s*\()", expression or ""):
        name = (names or {}).get(token) if token.startswith("#") else token
        if name and token.upper() not in _EXPRESSION_WORDS:
            out.append(name)
    return sorted(set(out))


_EXPRESSION_WORDS = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "IF_NOT_EXISTS", "LIST_APPEND", "ATTRIBUTE_EXISTS", "ATTRIBUTE_NOT_EXISTS", "ATTRIBUTE_TYPE", "BEGINS_WITH", "CONTAINS", "SIZE"}


def _item_keys(action: str, table: Any, p: dict, enclosing: str | None) -> dict[str, Any]:
    """The DynamoDB condition keys of one item request (see the module docstring)."""
    keys: dict[str, Any] = {}
    item = p.get("Item") if action == "dynamodb:PutItem" else p.get("Key")
    hash_attr = getattr(table, "hash_key_attr", None) if table is not None else None
    if hash_attr and isinstance(item, dict) and _scalar(item.get(hash_attr)) is not None:
        keys["dynamodb:LeadingKeys"] = [_scalar(item[hash_attr])]
    names = p.get("ExpressionAttributeNames") or {}
    if action == "dynamodb:PutItem" and isinstance(item, dict):
        keys["dynamodb:Attributes"] = sorted(item)
    elif action == "dynamodb:UpdateItem" and (p.get("UpdateExpression") or p.get("AttributeUpdates")):
        updated = _names(p.get("UpdateExpression"), names) + list(p.get("AttributeUpdates") or {})
        keys["dynamodb:Attributes"] = sorted(set(updated) | set(item or {}))
    elif p.get("ProjectionExpression") or p.get("AttributesToGet"):
        keys["dynamodb:Attributes"] = sorted(set(_names(p.get("ProjectionExpression"), names)) | set(p.get("AttributesToGet") or []))
    for param in ("Select", "ReturnValues", "ReturnConsumedCapacity"):
        if p.get(param):
            keys[f"dynamodb:{param}"] = p[param]
    if enclosing:
        keys["dynamodb:EnclosingOperation"] = enclosing
    return keys


def _item_target(call: Call, action: str, p: dict, enclosing: str | None = None) -> Target:
    if not p.get("TableName"):
        raise Unevaluable(f"{action}: the request names no table")
    arn, table = _table(call, p["TableName"])
    return _existing(action, "table", arn, _tag_dict(getattr(table, "tags", [])), _item_keys(action, table, p, enclosing))


def _query_target(call: Call, p: dict) -> Target:
    """Query and Scan: on the index ARN when IndexName is given, else on the table."""
    arn, table = _table(call, p.get("TableName") or "")
    keys = _item_keys(call.iam_action, table, {k: v for k, v in p.items() if k != "Key"}, None)
    index = p.get("IndexName")
    hash_attr = getattr(table, "hash_key_attr", None)
    if index:
        spec = next((i for i in (getattr(table, "indexes", []) + getattr(table, "global_indexes", [])) if i.name == index), None) if table else None
        hash_attr = next((k["AttributeName"] for k in (spec.schema if spec else []) if k.get("KeyType") == "HASH"), None)
    if call.action == "Query" and hash_attr:
        value = _partition_value(p, hash_attr)
        if value is not None:
            keys["dynamodb:LeadingKeys"] = [value]
    tags = _tag_dict(getattr(table, "tags", []))
    if index:
        return _existing(call.iam_action, "index", f"{arn}/index/{index}", tags, keys)
    return _existing(call.iam_action, "table", arn, tags, keys)


def _partition_value(p: dict, hash_attr: str) -> str | None:
    """The value a Query's key condition gives the partition key (`pk = :v`)."""
    names = p.get("ExpressionAttributeNames") or {}
    values = p.get("ExpressionAttributeValues") or {}
    for left, right in re.findall(r"(#?[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z0-9_]+)", p.get("KeyConditionExpression") or ""):
        if names.get(left, left) == hash_attr and right in values:
            return _scalar(values[right])
    condition = (p.get("KeyConditions") or {}).get(hash_attr) or {}
    listed = condition.get("AttributeValueList") or []
    return _scalar(listed[0]) if listed else None


def _part_action(member: str) -> str:
    """The IAM action of a transaction part (Put, Update, Delete, ConditionCheck, Get), from
    the data: the action named <member>Item, or the one documenting API_<member>."""
    rows = _definition()["dynamodb"]["privileges"]
    if f"{member}Item" in rows:
        return f"dynamodb:{member}Item"
    named = [n for n, row in rows.items() if str(row.get("api_documentation_link", "")).endswith(f"/API_{member}.html")]
    if len(named) != 1:
        raise Unevaluable(f"dynamodb transaction part {member!r}: no single action for it in the data")
    return f"dynamodb:{named[0]}"


def _transaction(call: Call, enclosing: str) -> Authorization:
    by_action: dict[str, list[Target]] = {}
    for item in call.params.get("TransactItems") or []:
        for member, part in (item or {}).items():
            action = _part_action(member)
            privilege(action)
            part = {**part, "ReturnConsumedCapacity": call.params.get("ReturnConsumedCapacity")}
            by_action.setdefault(action, []).append(_item_target(call, action, part, enclosing))
    if not by_action:
        raise Unevaluable(f"{call.iam_action}: the transaction names no items")
    return Authorization([Check(action, targets) for action, targets in by_action.items()])


@composite("dynamodb:TransactWriteItems")
def dynamodb_transact_write(call: Call) -> Authorization:
    return _transaction(call, "TransactWriteItems")


@composite("dynamodb:TransactGetItems")
def dynamodb_transact_get(call: Call) -> Authorization:
    return _transaction(call, "TransactGetItems")


def _batch(call: Call) -> Authorization:
    targets = []
    for name, request in (call.params.get("RequestItems") or {}).items():
        arn, table = _table(call, name)
        hash_attr = getattr(table, "hash_key_attr", None)
        if call.action == "BatchGetItem":
            items = (request or {}).get("Keys") or []
            extra = _item_keys(call.iam_action, None, request or {}, None)
        else:
            items = [(r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key") or {} for r in request or []]
            extra = {}
        leading = sorted({_scalar(i.get(hash_attr)) for i in items if hash_attr and _scalar(i.get(hash_attr)) is not None})
        if leading:
            extra["dynamodb:LeadingKeys"] = leading
        targets.append(_existing(call.iam_action, "table", arn, _tag_dict(getattr(table, "tags", [])), extra))
    if not targets:
        raise Unevaluable(f"{call.iam_action}: the request names no table")
    return Authorization([Check(call.iam_action, targets)])


def _stream_arn(p: dict) -> str | None:
    # moto's shard iterators begin with the stream ARN ("<stream arn>|1|<id>"), as AWS's do
    return p.get("StreamArn") or (str(p.get("ShardIterator") or "").split("|")[0] or None)


@resolver("dynamodb")
def dynamodb(call: Call) -> Authorization:
    p = call.params
    if call.action in ("DescribeStream", "GetRecords", "GetShardIterator"):
        arn = _stream_arn(p)
        if not arn:
            raise Unevaluable(f"{call.iam_action}: the request names no stream")
        return Authorization([Check(call.iam_action, [_existing(call.iam_action, "stream", arn, {})])])
    if call.action in ("BatchGetItem", "BatchWriteItem"):
        return _batch(call)
    if call.action in ("Query", "Scan"):
        return Authorization([Check(call.iam_action, [_query_target(call, p)])])
    rows = privilege(call.iam_action)["resource_types"]
    if "table" in rows and p.get("TableName"):
        return Authorization([Check(call.iam_action, [_item_target(call, call.iam_action, p)])])
    if "table" in rows and p.get("ResourceArn"):  # TagResource, ListTagsOfResource
        arn, table = _table(call, p["ResourceArn"])
        return Authorization([Check(call.iam_action, [_existing(call.iam_action, "table", arn, _tag_dict(getattr(table, "tags", [])))])])
    return _generic(call, "DynamoDB")


# ---------------------------------------------------------------- SQS, SNS


def _queue(call: Call) -> tuple[str, str, str]:
    """(ARN, account, name) of the queue a request names by QueueUrl or QueueName."""
    p = call.params
    url = p.get("QueueUrl")
    if url:
        parts = [s for s in urlparse(url).path.split("/") if s]
        if len(parts) < 2:
            raise Unevaluable(f"{call.iam_action}: cannot read a queue from {url!r}")
        account, name = parts[-2], unquote(parts[-1])
    elif p.get("QueueName"):
        account, name = p.get("QueueOwnerAWSAccountId") or call.account, p["QueueName"]
    else:
        raise Unevaluable(f"{call.iam_action}: the request names no queue")
    return fill_arn(arn_format("sqs", "queue"), call.partition, call.region, account, QueueName=name), account, name


@resolver("sqs")
def sqs(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    from moto.sqs.models import sqs_backends

    arn, account, name = _queue(call)
    if call.action == "CreateQueue":
        tags = call.params.get("tags") or call.params.get("Tags") or {}
        keys = filter_keys(call.iam_action, "queue", tag_keys(tags, "Request"), True)
        return Authorization([Check(call.iam_action, [Target("queue", arn, keys, True)])])
    tags = _tags(lambda: sqs_backends[account][call.region].queues[name].tags)
    return Authorization([Check(call.iam_action, [_existing(call.iam_action, "queue", arn, tags)])])


# SQS's batch operations are no IAM actions of their own: each is authorized as its single
# counterpart on the queue (Amazon SQS Developer Guide, "Amazon SQS API permissions: Actions
# and resource reference": SendMessageBatch needs sqs:SendMessage, DeleteMessageBatch
# sqs:DeleteMessage, ChangeMessageVisibilityBatch sqs:ChangeMessageVisibility).
def _sqs_batch_as(single: str) -> Any:
    def authorize(call: Call) -> Authorization:
        return sqs(Call(call.service, single, call.params, call.account, call.region, call.partition))

    return authorize


composite("sqs:SendMessageBatch")(_sqs_batch_as("SendMessage"))
composite("sqs:DeleteMessageBatch")(_sqs_batch_as("DeleteMessage"))
composite("sqs:ChangeMessageVisibilityBatch")(_sqs_batch_as("ChangeMessageVisibility"))


@resolver("sns")
def sns(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    from moto.sns.models import sns_backends

    p = call.params
    arn = p.get("TopicArn") or p.get("TargetArn") or p.get("ResourceArn")
    if call.action == "CreateTopic" and p.get("Name"):
        arn = _arn(call, "sns", "topic", TopicName=p["Name"])
        tags = {t["Key"]: t.get("Value", "") for t in p.get("Tags") or []}
        keys = filter_keys(call.iam_action, "topic", tag_keys(tags, "Request"), True)
        return Authorization([Check(call.iam_action, [Target("topic", arn, keys, True)])])
    if not arn or ":sns:" not in arn:
        raise Unevaluable(f"{call.iam_action}: the request names no topic")
    extra = {"sns:Endpoint": p.get("Endpoint"), "sns:Protocol": p.get("Protocol")}
    extra = {k: v for k, v in extra.items() if v}
    account = arn.split(":")[4]
    tags = _tags(lambda: sns_backends[account][call.region].list_tags_for_resource(arn))
    return Authorization([Check(call.iam_action, [_existing(call.iam_action, "topic", arn, tags, extra)])])


# ---------------------------------------------------------------- Step Functions, EventBridge


def _sfn_tags(call: Call, arn: str) -> dict[str, str]:
    import moto.stepfunctions.models as sfn  # the executing backend (see moto_ext/__init__)

    return _tags(lambda: sfn.stepfunctions_backends[call.account][call.region].list_tags_for_resource(arn))


@resolver("states")
def states(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    p = call.params
    rows = privilege(call.iam_action)["resource_types"]
    if p.get("executionArn"):
        arn = p["executionArn"]
        rtype = "express" if ":express:" in arn else "execution"
        if rtype in rows:
            return Authorization([Check(call.iam_action, [_existing(call.iam_action, rtype, arn, {})])])
    if p.get("stateMachineArn"):
        arn = p["stateMachineArn"]
        qualifier = arn.split(":stateMachine:", 1)[-1].split(":")[1:] if ":stateMachine:" in arn else []
        rtype = "statemachine" if not qualifier else ("statemachineversion" if qualifier[0].isdigit() else "statemachinealias")
        if rtype not in rows:
            rtype = "statemachine"
        extra = {"states:StateMachineQualifier": qualifier[0]} if qualifier else {}
        return Authorization([Check(call.iam_action, [_existing(call.iam_action, rtype, arn, _sfn_tags(call, arn), extra)])])
    raise Unevaluable(f"{call.iam_action}: the request names no state machine or execution")


@resolver("events")
def events(call: Call) -> Authorization:
    if call.action != "PutEvents":
        return _generic(call, "EventBridge")
    from moto.events.models import events_backends

    targets: dict[tuple, Target] = {}
    for entry in call.params.get("Entries") or []:
        bus = entry.get("EventBusName") or "default"
        arn = bus if bus.startswith("arn:") else _arn(call, "events", "event-bus", EventBusName=bus)
        request = {"events:source": entry.get("Source"), "events:detail-type": entry.get("DetailType")}
        request = {k: v for k, v in request.items() if v}
        account = arn.split(":")[4]
        tags = _tags(lambda: events_backends[account][call.region].list_tags_for_resource(arn))
        key = (arn, tuple(sorted(request.items())))
        targets.setdefault(key, _existing(call.iam_action, "event-bus", arn, tags, request))
    if not targets:
        raise Unevaluable(f"{call.iam_action}: the request has no entries")
    return Authorization([Check(call.iam_action, list(targets.values()))])


# ---------------------------------------------------------------- Lambda


@resolver("lambda")
def awslambda(call: Call) -> Authorization:
    if only_resource_free(call):
        return star_only(call)
    from moto.awslambda.models import lambda_backends

    p = call.params
    name = unquote(str(p.get("FunctionName") or ""))
    if not name:
        raise Unevaluable(f"{call.iam_action}: the request names no function")
    # FunctionName is a name, an ARN or a partial ARN (account:function:name), maybe qualified.
    parts = name.split(":")
    if name.startswith("arn:"):
        account, fn, qualifier = parts[4], parts[6], (parts[7] if len(parts) > 7 else None)
    elif len(parts) >= 3 and parts[1] == "function":
        account, fn, qualifier = parts[0], parts[2], (parts[3] if len(parts) > 3 else None)
    else:
        account, fn, qualifier = call.account, parts[0], (parts[1] if len(parts) > 1 else None)
    qualifier = p.get("Qualifier") or qualifier
    base = fill_arn(arn_format("lambda", "function"), call.partition, call.region, account, FunctionName=fn)
    arn, rtype = base, "function"
    if qualifier:
        arn = f"{base}:{qualifier}"
        rtype = "function version" if qualifier.isdigit() or qualifier == "$LATEST" else "function alias"
        if rtype not in privilege(call.iam_action)["resource_types"]:
            rtype = "function"
    tags = _tags(lambda: lambda_backends[account][call.region].list_tags(base))
    return Authorization([Check(call.iam_action, [_existing(call.iam_action, rtype, arn, tags)])])


# ---------------------------------------------------------------- STS


def _session_request_keys(p: dict) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    tags = {t.get("Key"): t.get("Value", "") for t in p.get("Tags") or [] if t.get("Key")}
    if tags:
        keys.update(tag_keys(tags, "Request"))
    if p.get("TransitiveTagKeys"):
        keys["sts:TransitiveTagKeys"] = list(p["TransitiveTagKeys"])
    return keys


@resolver("sts")
def sts(call: Call) -> Authorization:
    if only_resource_free(call):  # GetCallerIdentity, DecodeAuthorizationMessage, ...
        return star_only(call)
    p = call.params
    role_arn = p.get("RoleArn")
    if call.action != "AssumeRole" or not role_arn:
        raise Unevaluable(f"{call.iam_action}: the local stack models only AssumeRole between roles")
    role_tags = _role_tags(Call(call.service, call.action, p, role_arn.split(":")[4] if role_arn.count(":") >= 5 else call.account, call.region, call.partition), role_arn)
    session = _session_request_keys(p)
    request = {
        **session,
        **{f"iam:ResourceTag/{k}": v for k, v in role_tags.items()},
        "sts:RoleSessionName": p.get("RoleSessionName"),
        "sts:ExternalId": p.get("ExternalId"),  # secret: never logged (iam_enforce._SECRET_KEYS)
        "sts:SourceIdentity": p.get("SourceIdentity"),
    }
    request = {k: v for k, v in request.items() if v not in (None, "", [])}
    checks = [Check(call.iam_action, [_existing(call.iam_action, "role", role_arn, role_tags, request)])]
    if session:
        # Session tags also need sts:TagSession on the role (IAM User Guide, "Passing session tags").
        checks.append(Check("sts:TagSession", [_existing("sts:TagSession", "role", role_arn, role_tags, session)]))
    if p.get("SourceIdentity"):
        keys = {"sts:SourceIdentity": p["SourceIdentity"]}
        checks.append(Check("sts:SetSourceIdentity", [_existing("sts:SetSourceIdentity", "role", role_arn, role_tags, keys)]))
    return Authorization(checks)


# ---------------------------------------------------------------- resource-free services


@resolver("xray")
def xray(call: Call) -> Authorization:
    return _generic(call, "X-Ray")


@resolver("cloudwatch")
def cloudwatch(call: Call) -> Authorization:
    if call.action == "PutMetricData" and call.params.get("Namespace"):
        target = Target("", "*", request_row_keys(call, {"cloudwatch:namespace": call.params["Namespace"]}))
        return Authorization([Check(call.iam_action, [target])])
    return _generic(call, "CloudWatch")
