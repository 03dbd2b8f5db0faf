"""The control-plane REST API (``/api/...``), documented at ``/docs`` (OpenAPI).

Bodies and answers use SageMaker's member names, so a request that works with
boto3's ``create_endpoint_config(**request)`` works here as the JSON body.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio.to_thread import run_sync
from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel

from modelmon.errors import InputError, NotFoundError
from modelmon.serving.registry import Hosting
from modelmon.serving.shapes import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    CreateTransformJobRequest,
    UpdateEndpointRequest,
)
from modelmon.serving.transform import TransformJobs
from modelmon.storage.files import atomic_write_bytes, exists, expand, open_raw

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


@router.get("/info", tags=["server"])
def server_info(request: Request) -> dict[str, Any]:
    """The account this server stands for: region, account id, default bucket."""
    settings = request.app.state.services.settings
    return {
        "Region": settings.region,
        "AccountId": settings.account_id,
        "DefaultBucket": settings.default_bucket,
    }


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
    with open_raw(uri) as handle:
        return Response(handle.read(), media_type="application/octet-stream")


@router.get("/objects/{bucket}", tags=["objects"])
def list_objects(bucket: str, prefix: Annotated[str, Query(alias="Prefix")] = "") -> dict[str, Any]:
    """Every object under ``s3://{bucket}/{Prefix}`` (complete files only), sorted."""
    try:
        found = expand(_object_uri(bucket, prefix) if prefix else f"s3://{bucket}/")
    except InputError:
        found = []
    return {"Uris": found}
