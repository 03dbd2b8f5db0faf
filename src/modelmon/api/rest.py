"""The control-plane REST API (``/api/...``), documented at ``/docs`` (OpenAPI).

Bodies and answers use SageMaker's member names, so a request that works with
boto3's ``create_endpoint_config(**request)`` works here as the JSON body.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio.to_thread import run_sync
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from modelmon.errors import InputError, NotFoundError
from modelmon.monitoring.baselining import BaseliningJobs, CreateBaseliningJobRequest
from modelmon.monitoring.registry import Monitoring
from modelmon.monitoring.shapes import (
    CreateDataQualityJobDefinitionRequest,
    CreateModelQualityJobDefinitionRequest,
    CreateMonitoringScheduleRequest,
    PutGroundTruthRequest,
    UpdateMonitoringScheduleBody,
    UpdateMonitoringScheduleRequest,
)
from modelmon.serving.registry import Hosting
from modelmon.serving.shapes import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    CreateTransformJobRequest,
    UpdateEndpointRequest,
)
from modelmon.serving.transform import TransformJobs
from modelmon.storage.files import atomic_write_bytes, exists, expand, read_bytes

router = APIRouter(prefix="/api")


class UpdateEndpointBody(BaseModel):
    EndpointConfigName: str


def _hosting(request: Request) -> Hosting:
    return request.app.state.hosting


NameContains = Annotated[str | None, Query(alias="NameContains")]
SortBy = Annotated[str | None, Query(alias="SortBy")]
SortOrder = Annotated[str | None, Query(alias="SortOrder")]
MaxResults = Annotated[int | None, Query(alias="MaxResults")]
NextToken = Annotated[str | None, Query(alias="NextToken")]


@router.post("/models", status_code=201, tags=["models"])
def create_model(request: Request, body: CreateModelRequest) -> dict[str, Any]:
    """CreateModel: a runtime (Image), an artifact (ModelDataUrl) and an environment."""
    return _hosting(request).create_model(body)


@router.get("/models", tags=["models"])
def list_models(
    request: Request,
    name_contains: NameContains = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListModels."""
    return _hosting(request).list_models(
        name_contains=name_contains,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/models/{name}", tags=["models"])
def describe_model(request: Request, name: str) -> dict[str, Any]:
    """DescribeModel."""
    return _hosting(request).describe_model(name)


@router.delete("/models/{name}", status_code=204, tags=["models"])
def delete_model(request: Request, name: str) -> Response:
    """DeleteModel."""
    _hosting(request).delete_model(name)
    return Response(status_code=204)


@router.post("/endpoint-configs", status_code=201, tags=["endpoint configs"])
def create_endpoint_config(request: Request, body: CreateEndpointConfigRequest) -> dict[str, Any]:
    """CreateEndpointConfig: production variants with weights, optional DataCaptureConfig."""
    return _hosting(request).create_endpoint_config(body)


@router.get("/endpoint-configs", tags=["endpoint configs"])
def list_endpoint_configs(
    request: Request,
    name_contains: NameContains = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListEndpointConfigs."""
    return _hosting(request).list_endpoint_configs(
        name_contains=name_contains,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/endpoint-configs/{name}", tags=["endpoint configs"])
def describe_endpoint_config(request: Request, name: str) -> dict[str, Any]:
    """DescribeEndpointConfig."""
    return _hosting(request).describe_endpoint_config(name)


@router.delete("/endpoint-configs/{name}", status_code=204, tags=["endpoint configs"])
def delete_endpoint_config(request: Request, name: str) -> Response:
    """DeleteEndpointConfig."""
    _hosting(request).delete_endpoint_config(name)
    return Response(status_code=204)


@router.post("/endpoints", status_code=201, tags=["endpoints"])
def create_endpoint(request: Request, body: CreateEndpointRequest) -> dict[str, Any]:
    """CreateEndpoint: starts Creating, then InService (or Failed with a reason)."""
    return _hosting(request).create_endpoint(body)


@router.get("/endpoints", tags=["endpoints"])
def list_endpoints(
    request: Request,
    name_contains: NameContains = None,
    status_equals: Annotated[str | None, Query(alias="StatusEquals")] = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListEndpoints."""
    return _hosting(request).list_endpoints(
        name_contains=name_contains,
        status_equals=status_equals,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/endpoints/{name}", tags=["endpoints"])
def describe_endpoint(request: Request, name: str) -> dict[str, Any]:
    """DescribeEndpoint."""
    return _hosting(request).describe_endpoint(name)


@router.put("/endpoints/{name}", tags=["endpoints"])
def update_endpoint(
    request: Request, name: str, body: Annotated[UpdateEndpointBody, Body()]
) -> dict[str, Any]:
    """UpdateEndpoint: moves to a new config without dropping requests."""
    update = UpdateEndpointRequest(EndpointName=name, EndpointConfigName=body.EndpointConfigName)
    return _hosting(request).update_endpoint(update)


@router.delete("/endpoints/{name}", status_code=204, tags=["endpoints"])
def delete_endpoint(request: Request, name: str) -> Response:
    """DeleteEndpoint."""
    _hosting(request).delete_endpoint(name)
    return Response(status_code=204)


def _transforms(request: Request) -> TransformJobs:
    return request.app.state.transforms


@router.post("/transform-jobs", status_code=201, tags=["transform jobs"])
def create_transform_job(request: Request, body: CreateTransformJobRequest) -> dict[str, Any]:
    """CreateTransformJob: run a model over every file under an input prefix (or manifest).

    The job starts InProgress and runs in the server; poll DescribeTransformJob.
    """
    return _transforms(request).create(body)


@router.get("/transform-jobs", tags=["transform jobs"])
def list_transform_jobs(
    request: Request,
    name_contains: NameContains = None,
    status_equals: Annotated[str | None, Query(alias="StatusEquals")] = None,
    creation_time_after: Annotated[str | None, Query(alias="CreationTimeAfter")] = None,
    creation_time_before: Annotated[str | None, Query(alias="CreationTimeBefore")] = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListTransformJobs (times: ISO-8601 or epoch seconds; SortBy Name, CreationTime, Status)."""
    return _transforms(request).list(
        name_contains=name_contains,
        status_equals=status_equals,
        creation_time_after=creation_time_after,
        creation_time_before=creation_time_before,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/transform-jobs/{name}", tags=["transform jobs"])
def describe_transform_job(request: Request, name: str) -> dict[str, Any]:
    """DescribeTransformJob, plus ``Progress`` {FilesDone, FilesTotal, RecordsDone}."""
    return _transforms(request).describe(name)


@router.post("/transform-jobs/{name}/stop", tags=["transform jobs"])
def stop_transform_job(request: Request, name: str) -> dict[str, Any]:
    """StopTransformJob: Stopping, then Stopped after the payload in flight."""
    transforms = _transforms(request)
    transforms.stop(name)
    return transforms.describe(name)


def _monitoring(request: Request) -> Monitoring:
    return request.app.state.monitoring


EndpointNameQ = Annotated[str | None, Query(alias="EndpointName")]
StatusEqualsQ = Annotated[str | None, Query(alias="StatusEquals")]
DefinitionNameQ = Annotated[str | None, Query(alias="MonitoringJobDefinitionName")]
TypeEqualsQ = Annotated[str | None, Query(alias="MonitoringTypeEquals")]
CreationBeforeQ = Annotated[str | None, Query(alias="CreationTimeBefore")]
CreationAfterQ = Annotated[str | None, Query(alias="CreationTimeAfter")]
ModifiedBeforeQ = Annotated[str | None, Query(alias="LastModifiedTimeBefore")]
ModifiedAfterQ = Annotated[str | None, Query(alias="LastModifiedTimeAfter")]


@router.post("/monitoring-schedules", status_code=201, tags=["monitoring schedules"])
def create_monitoring_schedule(
    request: Request, body: CreateMonitoringScheduleRequest
) -> dict[str, Any]:
    """CreateMonitoringSchedule: a cron schedule (hourly, daily, every N hours) or NOW (one run
    at once), with an inline MonitoringJobDefinition or a MonitoringJobDefinitionName.

    Created Pending; the scheduler makes it Scheduled. Errors name the member at fault.
    """
    return _monitoring(request).create_monitoring_schedule(body)


@router.get("/monitoring-schedules", tags=["monitoring schedules"])
def list_monitoring_schedules(
    request: Request,
    endpoint_name: EndpointNameQ = None,
    name_contains: NameContains = None,
    status_equals: StatusEqualsQ = None,
    monitoring_job_definition_name: DefinitionNameQ = None,
    monitoring_type_equals: TypeEqualsQ = None,
    creation_time_before: CreationBeforeQ = None,
    creation_time_after: CreationAfterQ = None,
    last_modified_time_before: ModifiedBeforeQ = None,
    last_modified_time_after: ModifiedAfterQ = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListMonitoringSchedules (times: ISO-8601 or epoch seconds; SortBy Name, CreationTime,
    Status)."""
    return _monitoring(request).list_monitoring_schedules(
        endpoint_name=endpoint_name,
        name_contains=name_contains,
        status_equals=status_equals,
        monitoring_job_definition_name=monitoring_job_definition_name,
        monitoring_type_equals=monitoring_type_equals,
        creation_time_before=creation_time_before,
        creation_time_after=creation_time_after,
        last_modified_time_before=last_modified_time_before,
        last_modified_time_after=last_modified_time_after,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/monitoring-schedules/{name}", tags=["monitoring schedules"])
def describe_monitoring_schedule(request: Request, name: str) -> dict[str, Any]:
    """DescribeMonitoringSchedule, with LastMonitoringExecutionSummary."""
    return _monitoring(request).describe_monitoring_schedule(name)


@router.put("/monitoring-schedules/{name}", tags=["monitoring schedules"])
def update_monitoring_schedule(
    request: Request, name: str, body: UpdateMonitoringScheduleBody
) -> dict[str, Any]:
    """UpdateMonitoringSchedule: a new MonitoringScheduleConfig; runs count from now."""
    update = UpdateMonitoringScheduleRequest(
        MonitoringScheduleName=name, MonitoringScheduleConfig=body.MonitoringScheduleConfig
    )
    return _monitoring(request).update_monitoring_schedule(update)


@router.delete("/monitoring-schedules/{name}", status_code=204, tags=["monitoring schedules"])
def delete_monitoring_schedule(request: Request, name: str) -> Response:
    """DeleteMonitoringSchedule: its executions are stopped first; their history stays."""
    _monitoring(request).delete_monitoring_schedule(name)
    return Response(status_code=204)


@router.post("/monitoring-schedules/{name}/start", tags=["monitoring schedules"])
def start_monitoring_schedule(request: Request, name: str) -> dict[str, Any]:
    """StartMonitoringSchedule: Scheduled again (runs missed while stopped are not made up)."""
    _monitoring(request).start_monitoring_schedule(name)
    return {}


@router.post("/monitoring-schedules/{name}/stop", tags=["monitoring schedules"])
def stop_monitoring_schedule(request: Request, name: str) -> dict[str, Any]:
    """StopMonitoringSchedule: Stopped; no new runs (running ones finish)."""
    _monitoring(request).stop_monitoring_schedule(name)
    return {}


@router.get("/monitoring-executions", tags=["monitoring executions"])
def list_monitoring_executions(
    request: Request,
    monitoring_schedule_name: Annotated[str | None, Query(alias="MonitoringScheduleName")] = None,
    endpoint_name: EndpointNameQ = None,
    status_equals: StatusEqualsQ = None,
    monitoring_job_definition_name: DefinitionNameQ = None,
    monitoring_type_equals: TypeEqualsQ = None,
    scheduled_time_before: Annotated[str | None, Query(alias="ScheduledTimeBefore")] = None,
    scheduled_time_after: Annotated[str | None, Query(alias="ScheduledTimeAfter")] = None,
    creation_time_before: CreationBeforeQ = None,
    creation_time_after: CreationAfterQ = None,
    last_modified_time_before: ModifiedBeforeQ = None,
    last_modified_time_after: ModifiedAfterQ = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListMonitoringExecutions (SortBy CreationTime, ScheduledTime, Status). Each summary
    also has MonitoringExecutionId, the id of the routes below."""
    return _monitoring(request).list_monitoring_executions(
        monitoring_schedule_name=monitoring_schedule_name,
        endpoint_name=endpoint_name,
        status_equals=status_equals,
        monitoring_job_definition_name=monitoring_job_definition_name,
        monitoring_type_equals=monitoring_type_equals,
        scheduled_time_before=scheduled_time_before,
        scheduled_time_after=scheduled_time_after,
        creation_time_before=creation_time_before,
        creation_time_after=creation_time_after,
        last_modified_time_before=last_modified_time_before,
        last_modified_time_after=last_modified_time_after,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/monitoring-executions/{execution_id}", tags=["monitoring executions"])
def describe_monitoring_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """A MonitoringExecutionSummary plus MonitoringExecutionId, WindowStart, WindowEnd,
    ProcessingStartTime, ProcessingEndTime, ExitMessage, ReportUri, MetricsUri, LogUri."""
    return _monitoring(request).describe_monitoring_execution(execution_id)


@router.post("/monitoring-executions/{execution_id}/stop", tags=["monitoring executions"])
def stop_monitoring_execution(request: Request, execution_id: str) -> dict[str, Any]:
    """Stop an execution: Pending → Stopped; InProgress → Stopping → Stopped."""
    monitoring = _monitoring(request)
    monitoring.stop_monitoring_execution(execution_id)
    return monitoring.describe_monitoring_execution(execution_id)


@router.get(
    "/monitoring-executions/{execution_id}/logs",
    tags=["monitoring executions"],
    response_class=PlainTextResponse,
)
def monitoring_execution_logs(request: Request, execution_id: str) -> PlainTextResponse:
    """The execution's log (text): what the runner staged and started, then the analyzer's
    output. Readable while the execution runs."""
    return PlainTextResponse(_monitoring(request).execution_logs(execution_id))


@router.post("/data-quality-job-definitions", status_code=201, tags=["job definitions"])
def create_data_quality_job_definition(
    request: Request, body: CreateDataQualityJobDefinitionRequest
) -> dict[str, Any]:
    """CreateDataQualityJobDefinition: a monitoring job schedules refer to by name."""
    return _monitoring(request).create_data_quality_job_definition(body)


@router.get("/data-quality-job-definitions", tags=["job definitions"])
def list_data_quality_job_definitions(
    request: Request,
    endpoint_name: EndpointNameQ = None,
    name_contains: NameContains = None,
    creation_time_before: CreationBeforeQ = None,
    creation_time_after: CreationAfterQ = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListDataQualityJobDefinitions (SortBy Name, CreationTime)."""
    return _monitoring(request).list_data_quality_job_definitions(
        endpoint_name=endpoint_name,
        name_contains=name_contains,
        creation_time_before=creation_time_before,
        creation_time_after=creation_time_after,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/data-quality-job-definitions/{name}", tags=["job definitions"])
def describe_data_quality_job_definition(request: Request, name: str) -> dict[str, Any]:
    """DescribeDataQualityJobDefinition."""
    return _monitoring(request).describe_data_quality_job_definition(name)


@router.delete("/data-quality-job-definitions/{name}", status_code=204, tags=["job definitions"])
def delete_data_quality_job_definition(request: Request, name: str) -> Response:
    """DeleteDataQualityJobDefinition (refused while a schedule uses it)."""
    _monitoring(request).delete_data_quality_job_definition(name)
    return Response(status_code=204)


@router.post("/model-quality-job-definitions", status_code=201, tags=["job definitions"])
def create_model_quality_job_definition(
    request: Request, body: CreateModelQualityJobDefinitionRequest
) -> dict[str, Any]:
    """CreateModelQualityJobDefinition: ProblemType, GroundTruthS3Input and the input's
    attributes and offsets; schedules with MonitoringType ModelQuality refer to it by name."""
    return _monitoring(request).create_model_quality_job_definition(body)


@router.get("/model-quality-job-definitions", tags=["job definitions"])
def list_model_quality_job_definitions(
    request: Request,
    endpoint_name: EndpointNameQ = None,
    name_contains: NameContains = None,
    creation_time_before: CreationBeforeQ = None,
    creation_time_after: CreationAfterQ = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """ListModelQualityJobDefinitions (SortBy Name, CreationTime)."""
    return _monitoring(request).list_model_quality_job_definitions(
        endpoint_name=endpoint_name,
        name_contains=name_contains,
        creation_time_before=creation_time_before,
        creation_time_after=creation_time_after,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/model-quality-job-definitions/{name}", tags=["job definitions"])
def describe_model_quality_job_definition(request: Request, name: str) -> dict[str, Any]:
    """DescribeModelQualityJobDefinition."""
    return _monitoring(request).describe_model_quality_job_definition(name)


@router.delete("/model-quality-job-definitions/{name}", status_code=204, tags=["job definitions"])
def delete_model_quality_job_definition(request: Request, name: str) -> Response:
    """DeleteModelQualityJobDefinition (refused while a schedule uses it)."""
    _monitoring(request).delete_model_quality_job_definition(name)
    return Response(status_code=204)


@router.post("/ground-truth", status_code=201, tags=["ground truth"])
def put_ground_truth(request: Request, body: PutGroundTruthRequest) -> dict[str, Any]:
    """Store a batch of labels ({InferenceId, Label}) as one ground-truth file,
    ``{GroundTruthS3Uri}/yyyy/mm/dd/hh/{uuid}.jsonl`` for the hour of CollectionTime (default
    now). A bad item is a 400 naming it (``Records.3.Label``)."""
    return _monitoring(request).put_ground_truth(body)


@router.get("/info", tags=["server"])
def server_info(request: Request) -> dict[str, Any]:
    """The account this server stands for: region, account id, default bucket."""
    settings = request.app.state.services.settings
    return {
        "Region": settings.region,
        "AccountId": settings.account_id,
        "DefaultBucket": settings.default_bucket,
    }


@router.post("/capture/flush", tags=["capture"])
async def flush_capture(request: Request) -> dict[str, Any]:
    """Publish every captured record now, this server's and its async worker process's
    (files are otherwise published after a minute)."""
    writer = request.app.state.capture_writer
    flushed = writer is None or bool(await run_sync(writer.flush))
    worker = request.app.state.services.async_worker  # async endpoints capture there
    if worker is not None:
        flushed = bool(await run_sync(worker.flush_capture)) and flushed
    return {"Flushed": flushed}


@router.get("/capture", tags=["capture"])
def capture_counters(request: Request) -> dict[str, int]:
    """Data capture counters of this server process (captured, sampled out, dropped, written)."""
    writer = request.app.state.capture_writer
    return writer.counters() if writer is not None else {}


def _object_uri(bucket: str, key: str) -> str:
    if not bucket or "/" in bucket or ".." in key.split("/"):
        raise InputError("not a valid bucket/key", field="key")
    return f"s3://{bucket}/{key}"


@router.put("/objects/{bucket}/{key:path}", status_code=201, tags=["objects"])
async def put_object(request: Request, bucket: str, key: str) -> dict[str, Any]:
    """Store the request body as ``s3://{bucket}/{key}`` in the server's object store."""
    uri = _object_uri(bucket, key)
    data = await request.body()
    await run_sync(atomic_write_bytes, uri, data)
    return {"Uri": uri, "Size": len(data)}


@router.get("/objects/{bucket}/{key:path}", tags=["objects"])
def get_object(bucket: str, key: str) -> Response:
    """The bytes of ``s3://{bucket}/{key}``."""
    uri = _object_uri(bucket, key)
    if not exists(uri):
        raise NotFoundError(f"no object {uri}")
    return Response(read_bytes(uri), media_type="application/octet-stream")


@router.get("/objects/{bucket}", tags=["objects"])
def list_objects(bucket: str, prefix: Annotated[str, Query(alias="Prefix")] = "") -> dict[str, Any]:
    """Every object under ``s3://{bucket}/{Prefix}`` (complete files only), sorted."""
    try:
        found = expand(_object_uri(bucket, prefix) if prefix else f"s3://{bucket}/")
    except InputError:
        found = []
    return {"Uris": found}


# -- baselining jobs (suggest_baseline) ---------------------------------------------------


def _baselining(request: Request) -> BaseliningJobs:
    return request.app.state.baselining


@router.post("/baselining-jobs", status_code=201, tags=["baselining jobs"])
def create_baselining_job(request: Request, body: CreateBaseliningJobRequest) -> dict[str, Any]:
    """Run the analyzer over a training dataset: statistics.json + constraints.json."""
    return _baselining(request).create(body)


@router.get("/baselining-jobs", tags=["baselining jobs"])
def list_baselining_jobs(
    request: Request,
    name_contains: NameContains = None,
    status_equals: Annotated[str | None, Query(alias="StatusEquals")] = None,
    sort_by: SortBy = None,
    sort_order: SortOrder = None,
    max_results: MaxResults = None,
    next_token: NextToken = None,
) -> dict[str, Any]:
    """Baselining jobs (as ListProcessingJobs)."""
    return _baselining(request).list(
        name_contains=name_contains,
        status_equals=status_equals,
        sort_by=sort_by,
        sort_order=sort_order,
        max_results=max_results,
        next_token=next_token,
    )


@router.get("/baselining-jobs/{name}", tags=["baselining jobs"])
def describe_baselining_job(request: Request, name: str) -> dict[str, Any]:
    """A baselining job (as DescribeProcessingJob, with StatisticsUri and ConstraintsUri)."""
    return _baselining(request).describe(name)


@router.post("/baselining-jobs/{name}/stop", tags=["baselining jobs"])
def stop_baselining_job(request: Request, name: str) -> dict[str, Any]:
    """Stop a running baselining job."""
    _baselining(request).stop(name)
    return {}


@router.get("/baselining-jobs/{name}/logs", tags=["baselining jobs"])
def baselining_job_logs(request: Request, name: str) -> Response:
    """The analyzer's log of a baselining job."""
    return Response(_baselining(request).logs(name), media_type="text/plain")
