"""SageMaker's control-plane wire protocol (AWS JSON 1.1, SPEC §8).

``POST /`` with ``X-Amz-Target: SageMaker.<Operation>`` and the operation's
input shape as the body, so ``boto3.client("sagemaker", endpoint_url=...)``
works against modelmon. Errors answer 400 with ``{"__type", "message"}``;
timestamps are epoch seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelmon.api.errors import aws_code
from modelmon.errors import InputError, ModelmonError
from modelmon.monitoring.shapes import (
    CreateDataQualityJobDefinitionRequest,
    CreateModelQualityJobDefinitionRequest,
    CreateMonitoringScheduleRequest,
    UpdateMonitoringScheduleRequest,
)
from modelmon.serving.shapes import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    CreateTransformJobRequest,
    UpdateEndpointRequest,
    parse,
)

CONTENT_TYPE = "application/x-amz-json-1.1"
# an operation gets the app's state (``.hosting``, ``.transforms``, ``.monitoring``) and
# the request body
Operation = Callable[[Any, dict[str, Any]], dict[str, Any] | None]


def _listing(method: str, *extra: tuple[str, str], service: str = "hosting") -> Operation:
    members = (
        ("NameContains", "name_contains"),
        ("SortBy", "sort_by"),
        ("SortOrder", "sort_order"),
        ("MaxResults", "max_results"),
        ("NextToken", "next_token"),
        *extra,
    )

    def call(state: Any, body: dict[str, Any]) -> dict[str, Any]:
        target = getattr(state, service)
        return getattr(target, method)(**{arg: body.get(key) for key, arg in members})

    return call


def _named(method: str, member: str, *, service: str = "hosting") -> Operation:
    def call(state: Any, body: dict[str, Any]) -> dict[str, Any] | None:
        name = body.get(member)
        if not isinstance(name, str) or not name:
            raise InputError(f"{member} is required", field=member)
        return getattr(getattr(state, service), method)(name)

    return call


def _members(method: str, *members: str, service: str = "monitoring") -> Operation:
    """An operation whose body members (``EndpointName``...) are the keyword arguments
    (``endpoint_name``...) of ``method``."""
    arguments = [(member, _snake(member)) for member in members]

    def call(state: Any, body: dict[str, Any]) -> dict[str, Any]:
        target = getattr(state, service)
        return getattr(target, method)(**{arg: body.get(key) for key, arg in arguments})

    return call


def _snake(member: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in member).lstrip("_")


LIST_PAGES = ("SortBy", "SortOrder", "MaxResults", "NextToken")
CREATED = ("CreationTimeBefore", "CreationTimeAfter")
MODIFIED = ("LastModifiedTimeBefore", "LastModifiedTimeAfter")

OPERATIONS: dict[str, Operation] = {
    # monitoring alerts (modelmon.alerting)
    "ListMonitoringAlerts": _members(
        "list_monitoring_alerts",
        "MonitoringScheduleName",
        "NextToken",
        "MaxResults",
        service="alerting",
    ),
    "UpdateMonitoringAlert": _members(
        "update_monitoring_alert",
        "MonitoringScheduleName",
        "MonitoringAlertName",
        "DatapointsToAlert",
        "EvaluationPeriod",
        service="alerting",
    ),
    "ListMonitoringAlertHistory": _members(
        "list_monitoring_alert_history",
        "MonitoringScheduleName",
        "MonitoringAlertName",
        "StatusEquals",
        *CREATED,
        *LIST_PAGES,
        service="alerting",
    ),
    "CreateModel": lambda s, b: s.hosting.create_model(parse(CreateModelRequest, b)),
    "DescribeModel": _named("describe_model", "ModelName"),
    "DeleteModel": _named("delete_model", "ModelName"),
    "ListModels": _listing("list_models"),
    "CreateEndpointConfig": lambda s, b: s.hosting.create_endpoint_config(
        parse(CreateEndpointConfigRequest, b)
    ),
    "DescribeEndpointConfig": _named("describe_endpoint_config", "EndpointConfigName"),
    "DeleteEndpointConfig": _named("delete_endpoint_config", "EndpointConfigName"),
    "ListEndpointConfigs": _listing("list_endpoint_configs"),
    "CreateEndpoint": lambda s, b: s.hosting.create_endpoint(parse(CreateEndpointRequest, b)),
    "DescribeEndpoint": _named("describe_endpoint", "EndpointName"),
    "UpdateEndpoint": lambda s, b: s.hosting.update_endpoint(parse(UpdateEndpointRequest, b)),
    "DeleteEndpoint": _named("delete_endpoint", "EndpointName"),
    "ListEndpoints": _listing("list_endpoints", ("StatusEquals", "status_equals")),
    "CreateTransformJob": lambda s, b: s.transforms.create(parse(CreateTransformJobRequest, b)),
    "DescribeTransformJob": _named("describe", "TransformJobName", service="transforms"),
    "StopTransformJob": _named("stop", "TransformJobName", service="transforms"),
    "ListTransformJobs": _listing(
        "list",
        ("StatusEquals", "status_equals"),
        ("CreationTimeAfter", "creation_time_after"),
        ("CreationTimeBefore", "creation_time_before"),
        ("LastModifiedTimeAfter", "last_modified_time_after"),
        ("LastModifiedTimeBefore", "last_modified_time_before"),
        service="transforms",
    ),
    "CreateMonitoringSchedule": lambda s, b: s.monitoring.create_monitoring_schedule(
        parse(CreateMonitoringScheduleRequest, b)
    ),
    "DescribeMonitoringSchedule": _named(
        "describe_monitoring_schedule", "MonitoringScheduleName", service="monitoring"
    ),
    "UpdateMonitoringSchedule": lambda s, b: s.monitoring.update_monitoring_schedule(
        parse(UpdateMonitoringScheduleRequest, b)
    ),
    "DeleteMonitoringSchedule": _named(
        "delete_monitoring_schedule", "MonitoringScheduleName", service="monitoring"
    ),
    "StartMonitoringSchedule": _named(
        "start_monitoring_schedule", "MonitoringScheduleName", service="monitoring"
    ),
    "StopMonitoringSchedule": _named(
        "stop_monitoring_schedule", "MonitoringScheduleName", service="monitoring"
    ),
    "ListMonitoringSchedules": _members(
        "list_monitoring_schedules",
        "EndpointName",
        "NameContains",
        "StatusEquals",
        "MonitoringJobDefinitionName",
        "MonitoringTypeEquals",
        *CREATED,
        *MODIFIED,
        *LIST_PAGES,
    ),
    "ListMonitoringExecutions": _members(
        "list_monitoring_executions",
        "MonitoringScheduleName",
        "EndpointName",
        "StatusEquals",
        "MonitoringJobDefinitionName",
        "MonitoringTypeEquals",
        "ScheduledTimeBefore",
        "ScheduledTimeAfter",
        *CREATED,
        *MODIFIED,
        *LIST_PAGES,
    ),
    "CreateDataQualityJobDefinition": lambda s, b: s.monitoring.create_data_quality_job_definition(
        parse(CreateDataQualityJobDefinitionRequest, b)
    ),
    "DescribeDataQualityJobDefinition": _named(
        "describe_data_quality_job_definition", "JobDefinitionName", service="monitoring"
    ),
    "DeleteDataQualityJobDefinition": _named(
        "delete_data_quality_job_definition", "JobDefinitionName", service="monitoring"
    ),
    "ListDataQualityJobDefinitions": _members(
        "list_data_quality_job_definitions",
        "EndpointName",
        "NameContains",
        *CREATED,
        *LIST_PAGES,
    ),
    "CreateModelQualityJobDefinition": lambda s, b: (
        s.monitoring.create_model_quality_job_definition(
            parse(CreateModelQualityJobDefinitionRequest, b)
        )
    ),
    "DescribeModelQualityJobDefinition": _named(
        "describe_model_quality_job_definition", "JobDefinitionName", service="monitoring"
    ),
    "DeleteModelQualityJobDefinition": _named(
        "delete_model_quality_job_definition", "JobDefinitionName", service="monitoring"
    ),
    "ListModelQualityJobDefinitions": _members(
        "list_model_quality_job_definitions",
        "EndpointName",
        "NameContains",
        *CREATED,
        *LIST_PAGES,
    ),
}


def _epoch(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch(v) for v in value]
    return value


def _error(code: str, message: str, status: int = 400) -> Response:
    return Response(
        orjson.dumps({"__type": code, "message": message}),
        status,
        headers={"x-amzn-ErrorType": code},
        media_type=CONTENT_TYPE,
    )


async def dispatch(request: Request) -> Response:
    """Run the operation named by ``X-Amz-Target`` (blocking work in a thread)."""
    from anyio.to_thread import run_sync

    target = request.headers.get("x-amz-target", "")
    service, _, operation = target.partition(".")
    if service != "SageMaker" or operation not in OPERATIONS:
        return _error("UnknownOperationException", f"unknown operation {target!r}")
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as err:
        return _error("SerializationException", f"the request body is not JSON: {err}")
    try:
        result = await run_sync(OPERATIONS[operation], request.app.state, body)
    except ModelmonError as err:
        return _error(aws_code(err), str(err), 500 if aws_code(err) == "InternalFailure" else 400)
    return Response(orjson.dumps(_epoch(result or {})), 200, media_type=CONTENT_TYPE)
