"""CloudFormation resources as cfn/vendor.yaml uses them, where moto's support falls short.

- AWS::StepFunctions::StateMachine: moto reads only `DefinitionString`. CloudFormation also
  takes `Definition` (an object), `DefinitionS3Location` (Bucket, Key, optional Version: the
  definition is read from S3) and `DefinitionSubstitutions` (every `${Name}` in the definition
  replaced by its value, before the definition is validated), and passes
  `LoggingConfiguration` and `TracingConfiguration` to the state machine. Implemented here as
  CloudFormation documents them.
- AWS::CloudWatch::Alarm: not in moto's CloudFormation at all; made through moto's CloudWatch
  backend, with the metric-math form (`Metrics`) as well as the single-metric form.
- AWS::ApiGateway::RequestValidator: made through moto's API Gateway backend (Ref is its id).
- AWS::DynamoDB::Table: `TimeToLiveSpecification` and `PointInTimeRecoverySpecification`
  are applied (moto's CloudFormation dropped them).
- AWS::Lambda::Function: environment values are strings, as CloudFormation and Lambda make
  them (moto kept a Number parameter as a number, and GetFunctionConfiguration then returned a
  JSON number that the SDKs refuse).
- AWS::Events::EventBus: `Ref` returns the bus name, as CloudFormation documents (moto
  returned its model object).

A resource type moto does not know (e.g. AWS::ApiGateway::Account) is still skipped with a
warning by moto; the vendor stack does not read anything back from those.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel

_CAMEL_LOGGING = {"Level": "level", "IncludeExecutionData": "includeExecutionData", "Destinations": "destinations"}


def resolve_definition(properties: dict[str, Any], account_id: str) -> str:
    """The definition text CloudFormation would hand Step Functions."""
    if "DefinitionString" in properties:
        text = properties["DefinitionString"]
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    elif "DefinitionS3Location" in properties:
        from moto.s3.models import s3_backends

        location = properties["DefinitionS3Location"]
        key = s3_backends[account_id]["global"].get_object(location["Bucket"], location["Key"], version_id=location.get("Version"))
        if key is None:
            raise ValueError(f"DefinitionS3Location s3://{location['Bucket']}/{location['Key']} does not exist")
        text = key.value.decode("utf-8")
    else:
        raise ValueError("a state machine needs one of DefinitionString, Definition or DefinitionS3Location")
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = text.replace("${" + name + "}", str(value))
    return text


def _logging(properties: dict[str, Any]) -> dict[str, Any] | None:
    config = properties.get("LoggingConfiguration")
    if not config:
        return None
    out: dict[str, Any] = {_CAMEL_LOGGING[k]: v for k, v in config.items() if k in _CAMEL_LOGGING}
    out["destinations"] = [
        {"cloudWatchLogsLogGroup": {"logGroupArn": d.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn")}} for d in config.get("Destinations", [])
    ]
    return out


def _tracing(properties: dict[str, Any]) -> dict[str, Any] | None:
    config = properties.get("TracingConfiguration")
    return {"enabled": bool(config.get("Enabled"))} if config else None


def _patch_state_machines() -> None:
    from moto.stepfunctions.models import StateMachine

    original_create = StateMachine.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    original_update = StateMachine.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def with_definition(cloudformation_json: dict[str, Any], account_id: str) -> dict[str, Any]:
        properties = dict(cloudformation_json.get("Properties", {}))
        properties["DefinitionString"] = resolve_definition(properties, account_id)
        return {**cloudformation_json, "Properties": properties}

    def configure(machine: Any, properties: dict[str, Any]) -> Any:
        if (logging := _logging(properties)) is not None:
            machine.loggingConfiguration = logging
        if (tracing := _tracing(properties)) is not None:
            machine.tracingConfiguration = tracing
        return machine

    @classmethod  # type: ignore[misc]
    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        resolved = with_definition(cloudformation_json, account_id)
        machine = original_create(cls, resource_name, resolved, account_id, region_name, **kwargs)
        return configure(machine, resolved["Properties"])

    @classmethod  # type: ignore[misc]
    def update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        resolved = with_definition(cloudformation_json, account_id)
        machine = original_update(cls, original_resource, new_resource_name, resolved, account_id, region_name)
        return configure(machine, resolved["Properties"])

    StateMachine.create_from_cloudformation_json = create  # type: ignore[method-assign]
    StateMachine.update_from_cloudformation_json = update  # type: ignore[method-assign]


class CloudWatchAlarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm, stored in moto's CloudWatch backend (DescribeAlarms sees it)."""

    def __init__(self, name: str, account_id: str, region_name: str):
        self.name = name
        self.account_id = account_id
        self.region_name = region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return f"arn:aws:cloudwatch:{self.region_name}:{self.account_id}:alarm:{self.name}"
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CloudWatchAlarm:
        from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends

        p = cloudformation_json["Properties"]
        name = p.get("AlarmName", resource_name)
        queries = None
        if p.get("Metrics"):
            queries = []
            for m in p["Metrics"]:
                stat = m.get("MetricStat")
                metric_stat = None
                if stat:
                    metric = stat.get("Metric", {})
                    metric_stat = MetricStat(
                        metric=Metric(
                            metric_name=metric.get("MetricName"),
                            namespace=metric.get("Namespace"),
                            dimensions=[Dimension(name=d["Name"], value=d["Value"]) for d in metric.get("Dimensions", [])],
                        ),
                        period=str(stat.get("Period")),
                        stat=stat.get("Stat"),
                        unit=stat.get("Unit"),
                    )
                queries.append(
                    MetricDataQuery(
                        query_id=m.get("Id"),
                        label=m.get("Label"),
                        period=m.get("Period"),
                        return_data=str(m.get("ReturnData", True)).lower(),
                        expression=m.get("Expression"),
                        metric_stat=metric_stat,
                    )
                )
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if p.get("Period") is not None else None,  # type: ignore[arg-type]
            threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"),  # type: ignore[arg-type]
            description=p.get("AlarmDescription"),  # type: ignore[arg-type]
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=p.get("AlarmActions", []),
            metric_data_queries=queries,
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> CloudWatchAlarm:
        # PutMetricAlarm replaces an alarm of the same name; a renamed alarm replaces the old.
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        if new.name != original_resource.name:
            cls.delete_from_cloudformation_json(original_resource.name, {}, account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


class ApiGatewayRequestValidator(CloudFormationModel):
    """AWS::ApiGateway::RequestValidator, through moto's API Gateway backend."""

    def __init__(self, api_id: str, validator_id: str, region_name: str, account_id: str):
        self.api_id = api_id
        self.validator_id = validator_id
        self.region_name = region_name
        self.account_id = account_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::RequestValidator"

    @property
    def physical_resource_id(self) -> str:
        return self.validator_id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayRequestValidator:
        from moto.apigateway.models import apigateway_backends

        p = cloudformation_json["Properties"]
        validator = apigateway_backends[account_id][region_name].create_request_validator(
            restapi_id=p["RestApiId"],
            name=p.get("Name", resource_name),
            body=bool(p.get("ValidateRequestBody", False)),
            params=bool(p.get("ValidateRequestParameters", False)),
        )
        return cls(p["RestApiId"], validator.id, region_name, account_id)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.apigateway.models import apigateway_backends

        api_id = cloudformation_json.get("Properties", {}).get("RestApiId")
        if api_id:
            apigateway_backends[account_id][region_name].delete_request_validator(api_id, resource_name)


def _patch_event_bus_ref() -> None:
    from moto.events.models import EventBus

    EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


def _patch_table_settings() -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    original = Table.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    @classmethod  # type: ignore[misc]
    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        table = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = dynamodb_backends[account_id][region_name]
        if ttl := properties.get("TimeToLiveSpecification"):
            backend.update_time_to_live(table.name, {"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl.get("Enabled"))})
        if pitr := properties.get("PointInTimeRecoverySpecification"):
            backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))})
        return table

    Table.create_from_cloudformation_json = create  # type: ignore[method-assign]


def _with_string_environment(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    properties = dict(cloudformation_json.get("Properties", {}))
    variables = (properties.get("Environment") or {}).get("Variables")
    if variables:
        strings = {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, bool) else str(v) for k, v in variables.items()}
        properties["Environment"] = {**properties["Environment"], "Variables": strings}
    return {**cloudformation_json, "Properties": properties}


def _patch_function_environment() -> None:
    from moto.awslambda.models import LambdaFunction

    original_create = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    original_update = LambdaFunction.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    @classmethod  # type: ignore[misc]
    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        return original_create(cls, resource_name, _with_string_environment(cloudformation_json), account_id, region_name, **kwargs)

    @classmethod  # type: ignore[misc]
    def update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        return original_update(cls, original_resource, new_resource_name, _with_string_environment(cloudformation_json), account_id, region_name)

    LambdaFunction.create_from_cloudformation_json = create  # type: ignore[method-assign]
    LambdaFunction.update_from_cloudformation_json = update  # type: ignore[method-assign]


def install() -> None:
    _patch_state_machines()
    _patch_function_environment()
    _patch_table_settings()
    _patch_event_bus_ref()
    from moto.cloudformation import parsing

    # The model map is built (and cached) from CloudFormationModel's subclasses on first use;
    # the classes above exist now, so rebuild it.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
