"""``Session``: where the modelmon server is (the SageMaker SDK's Session, off AWS)."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class ModelmonClientError(Exception):
    """The server refused a request; ``code`` is its error code, ``status`` the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Session:
    """A connection to one modelmon server.

    ``endpoint_url`` defaults to ``MODELMON_URL`` or http://127.0.0.1:8080. The
    account details (region, default bucket) come from the server.
    """

    def __init__(self, endpoint_url: str | None = None, *, timeout: float = 60.0) -> None:
        self.endpoint_url = (endpoint_url or os.environ.get("MODELMON_URL") or DEFAULT_URL).rstrip(
            "/"
        )
        self.http = httpx.Client(base_url=self.endpoint_url, timeout=timeout)
        self._info: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call; errors raise :class:`ModelmonClientError` with the server's message."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                code, message = body.get("error", "Error"), body.get("message", response.text)
            except ValueError:
                code, message = "Error", response.text
            raise ModelmonClientError(response.status_code, code, message)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.call("GET", "/api/info")
        return self._info

    @property
    def boto_region_name(self) -> str:
        return self.info()["Region"]

    def default_bucket(self) -> str:
        """The server's default bucket (``sagemaker-{region}-{account}`` unless configured)."""
        return self.info()["DefaultBucket"]

    # -- objects ---------------------------------------------------------------------

    def upload_data(self, path: str, bucket: str | None = None, key_prefix: str = "data") -> str:
        """Upload a local file or directory to the object store; returns its s3:// URI."""
        bucket = bucket or self.default_bucket()
        source = Path(path)
        prefix = key_prefix.strip("/")
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for file in files:
            relative = file.relative_to(source).as_posix() if source.is_dir() else file.name
            key = f"{prefix}/{relative}" if prefix else relative
            self.upload_bytes(file.read_bytes(), f"s3://{bucket}/{key}")
        if source.is_dir():
            return f"s3://{bucket}/{prefix}"
        return f"s3://{bucket}/{prefix}/{source.name}" if prefix else f"s3://{bucket}/{source.name}"

    def upload_bytes(self, data: bytes, uri: str) -> str:
        """Store ``data`` at ``uri`` (``s3://bucket/key``)."""
        bucket, key = _split(uri)
        self.call("PUT", f"/api/objects/{bucket}/{key}", content=data)
        return uri

    def read_bytes(self, uri: str) -> bytes:
        """The bytes of the object at ``uri``."""
        bucket, key = _split(uri)
        response = self.http.get(f"/api/objects/{bucket}/{key}")
        if response.status_code >= 400:
            raise ModelmonClientError(response.status_code, "NotFound", f"no object {uri}")
        return response.content

    def flush_capture(self) -> bool:
        """Have the server publish every captured record now."""
        return bool(self.call("POST", "/api/capture/flush")["Flushed"])

    def upload_ground_truth(
        self,
        records: Iterable[tuple[str, Any]],
        ground_truth_s3_uri: str,
        collection_time: dt.datetime | str | None = None,
    ) -> dict[str, Any]:
        """Store (inference id, label) pairs as one ground-truth file under
        ``ground_truth_s3_uri``/yyyy/mm/dd/hh (the hour of ``collection_time``, default now)."""
        body: dict[str, Any] = {
            "GroundTruthS3Uri": ground_truth_s3_uri,
            "Records": [{"InferenceId": str(i), "Label": label} for i, label in records],
        }
        if collection_time is not None:
            body["CollectionTime"] = (
                collection_time.isoformat()
                if isinstance(collection_time, dt.datetime)
                else collection_time
            )
        return self.call("POST", "/api/ground-truth", json=body)

    def list_objects(self, uri: str) -> list[str]:
        """URIs of every object under the prefix ``uri``."""
        bucket, key = _split(uri, allow_empty_key=True)
        return self.call("GET", f"/api/objects/{bucket}", params={"Prefix": key})["Uris"]

    # -- hosting -----------------------------------------------------------------------

    def create_model(self, **request: Any) -> dict[str, Any]:
        return self.call("POST", "/api/models", json=request)

    def create_endpoint_config(self, **request: Any) -> dict[str, Any]:
        return self.call("POST", "/api/endpoint-configs", json=request)

    def create_endpoint(self, **request: Any) -> dict[str, Any]:
        return self.call("POST", "/api/endpoints", json=request)

    def update_endpoint(self, EndpointName: str, EndpointConfigName: str) -> dict[str, Any]:
        return self.call(
            "PUT", f"/api/endpoints/{EndpointName}", json={"EndpointConfigName": EndpointConfigName}
        )

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        return self.call("GET", f"/api/endpoints/{name}")

    def list_endpoints(self, **params: Any) -> dict[str, Any]:
        return self.call("GET", "/api/endpoints", params=params)

    def delete_endpoint(self, name: str) -> None:
        self.call("DELETE", f"/api/endpoints/{name}")

    def delete_endpoint_config(self, name: str) -> None:
        self.call("DELETE", f"/api/endpoint-configs/{name}")

    def delete_model(self, name: str) -> None:
        self.call("DELETE", f"/api/models/{name}")

    def wait_for_endpoint(
        self, name: str, *, timeout: float = 600, poll: float = 0.2
    ) -> dict[str, Any]:
        """Wait until the endpoint leaves Creating/Updating; raise if it Failed."""
        deadline = time.monotonic() + timeout
        while True:
            description = self.describe_endpoint(name)
            status = description["EndpointStatus"]
            if status not in ("Creating", "Updating"):
                if status == "Failed":
                    raise ModelmonClientError(
                        400, "EndpointFailed", description.get("FailureReason", "unknown reason")
                    )
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"endpoint {name} still {status} after {timeout} s")
            time.sleep(poll)

    def invoke_endpoint(
        self,
        EndpointName: str,
        Body: bytes | str,
        ContentType: str | None = None,
        Accept: str | None = None,
        CustomAttributes: str | None = None,
        TargetVariant: str | None = None,
        InferenceId: str | None = None,
    ) -> dict[str, Any]:
        """InvokeEndpoint with boto3's argument and answer names."""
        headers = {
            k: v
            for k, v in {
                "Content-Type": ContentType,
                "Accept": Accept,
                "X-Amzn-SageMaker-Custom-Attributes": CustomAttributes,
                "X-Amzn-SageMaker-Target-Variant": TargetVariant,
                "X-Amzn-SageMaker-Inference-Id": InferenceId,
            }.items()
            if v is not None
        }
        content = Body.encode() if isinstance(Body, str) else Body
        response = self.http.post(
            f"/endpoints/{EndpointName}/invocations", content=content, headers=headers
        )
        _raise_runtime_error(response)
        return {
            "Body": response.content,
            "ContentType": response.headers.get("content-type"),
            "InvokedProductionVariant": response.headers.get("x-amzn-invoked-production-variant"),
            "CustomAttributes": response.headers.get("x-amzn-sagemaker-custom-attributes"),
        }

    def invoke_endpoint_async(
        self,
        EndpointName: str,
        InputLocation: str,
        ContentType: str | None = None,
        Accept: str | None = None,
        CustomAttributes: str | None = None,
        InferenceId: str | None = None,
        RequestTTLSeconds: int | None = None,
        InvocationTimeoutSeconds: int | None = None,
        S3OutputPathExtension: str | None = None,
        Filename: str | None = None,
    ) -> dict[str, Any]:
        """InvokeEndpointAsync with boto3's argument and answer names."""
        given = {
            "Content-Type": ContentType,
            "Accept": Accept,
            "Custom-Attributes": CustomAttributes,
            "Inference-Id": InferenceId,
            "InputLocation": InputLocation,
            "RequestTTLSeconds": RequestTTLSeconds,
            "InvocationTimeoutSeconds": InvocationTimeoutSeconds,
            "S3OutputPathExtension": S3OutputPathExtension,
            "Filename": Filename,
        }
        headers = {f"X-Amzn-SageMaker-{k}": str(v) for k, v in given.items() if v is not None}
        response = self.http.post(f"/endpoints/{EndpointName}/async-invocations", headers=headers)
        _raise_runtime_error(response)
        return {
            "InferenceId": response.json()["InferenceId"],
            "OutputLocation": response.headers.get("x-amzn-sagemaker-outputlocation"),
            "FailureLocation": response.headers.get("x-amzn-sagemaker-failurelocation"),
        }

    # -- batch transform -----------------------------------------------------------------

    def create_transform_job(self, **request: Any) -> dict[str, Any]:
        """CreateTransformJob with boto3's argument names."""
        return self.call("POST", "/api/transform-jobs", json=request)

    def describe_transform_job(self, name: str) -> dict[str, Any]:
        return self.call("GET", f"/api/transform-jobs/{name}")

    def list_transform_jobs(self, **params: Any) -> dict[str, Any]:
        return self.call("GET", "/api/transform-jobs", params=params)

    def stop_transform_job(self, name: str) -> dict[str, Any]:
        return self.call("POST", f"/api/transform-jobs/{name}/stop")

    def wait_for_transform_job(
        self,
        name: str,
        *,
        timeout: float | None = None,
        poll: float = 0.2,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Wait until the job is Completed, Failed or Stopped; raise if it did not complete.

        ``progress`` is called with each description while waiting.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            description = self.describe_transform_job(name)
            if progress is not None:
                progress(description)
            status = description["TransformJobStatus"]
            if status in TRANSFORM_DONE:
                if status != "Completed":
                    raise ModelmonClientError(
                        400,
                        f"TransformJob{status}",
                        description.get("FailureReason") or f"transform job {name} {status}",
                    )
                return description
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"transform job {name} still {status} after {timeout} s")
            time.sleep(poll)


TRANSFORM_DONE = ("Completed", "Failed", "Stopped")


def _raise_runtime_error(response: httpx.Response) -> None:
    """A runtime route's error (``x-amzn-ErrorType`` + ``{"message"}``) as ModelmonClientError."""
    if response.status_code < 400:
        return
    code = response.headers.get("x-amzn-errortype", "Error")
    try:
        message = response.json().get("message", response.text)
    except ValueError:
        message = response.text
    raise ModelmonClientError(response.status_code, code, message)


def _split(uri: str, *, allow_empty_key: bool = False) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or (not key and not allow_empty_key):
        raise ValueError(f"expected s3://bucket/key, got {uri!r}")
    return bucket, key
