"""``POST /endpoints/{name}/invocations``: SageMaker's InvokeEndpoint (SPEC §8).

The hot path: look the endpoint up in the host's table (no database), pick a
variant, run the model, answer; capture costs one sampling decision and one
non-blocking queue put. Errors answer as the runtime service does: an HTTP
status, ``x-amzn-ErrorType`` and a JSON body with ``message``.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelmon.serving.capture import CaptureEvent, CaptureWriter, should_sample
from modelmon.serving.host import Host
from modelmon.serving.runtimes import InvocationError

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # 6 MB, SageMaker's InvokeEndpoint limit
_INFERENCE_ID = re.compile(r"^[\x20-\x7e]{1,64}$")
_CUSTOM_ATTRIBUTES = re.compile(r"^[\x20-\x7e]{0,1024}$")
_TARGET_VARIANT = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# upper bounds (seconds) of the latency histogram buckets /metrics exposes
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNKNOWN_ENDPOINT = "(unknown)"


def aws_error(status: int, code: str, message: str, **members: Any) -> Response:
    """An error as AWS rest-json services send it (botocore reads code and message)."""
    body = orjson.dumps({"message": message, **members})
    return Response(body, status, headers={"x-amzn-ErrorType": code}, media_type="application/json")


def model_error(variant: str, err: InvocationError) -> Response:
    """SageMaker's ModelError (424) for what the model container answered."""
    kind = "client" if 400 <= err.status < 500 else "server"
    message = (
        f'Received {kind} error ({err.status}) from {variant} with message "{err.message}". '
        "See the modelmon server log for more information."
    )
    return aws_error(
        424,
        "ModelError",
        message,
        OriginalStatusCode=err.status,
        OriginalMessage=err.message,
    )


class Invoker:
    """The InvokeEndpoint handler of one server process."""

    def __init__(self, host: Host, writer: CaptureWriter | None, account_id: str) -> None:
        self.host = host
        self.writer = writer
        self.account_id = account_id
        # per endpoint: [requests, errors, latency sum, bucket counts...]; plain numbers
        # updated on the event loop's thread, read by /metrics at scrape time
        self.counters: dict[str, list[Any]] = {}

    def stats(self) -> dict[str, tuple[int, int, float, list[int]]]:
        """Per endpoint: (requests, answers >= 400, latency seconds sum, counts per
        :data:`LATENCY_BOUNDS` bucket, the last one above every bound)."""
        return {name: (c[0], c[1], c[2], list(c[3:])) for name, c in list(self.counters.items())}

    async def handle(self, request: Request) -> Response:
        """Answer one InvokeEndpoint request, counted per endpoint (requests, errors, latency)."""
        started = time.perf_counter()
        response = await self._invoke(request)
        elapsed = time.perf_counter() - started
        name = request.path_params["name"]
        counts = self.counters.get(name)
        if counts is None:
            if name not in self.host.endpoints:
                name = UNKNOWN_ENDPOINT  # no series per made-up name
            counts = self.counters.setdefault(name, [0, 0, 0.0] + [0] * (len(LATENCY_BOUNDS) + 1))
        counts[0] += 1
        if response.status_code >= 400:
            counts[1] += 1
        counts[2] += elapsed
        counts[3 + bisect_left(LATENCY_BOUNDS, elapsed)] += 1
        return response

    async def _invoke(self, request: Request) -> Response:
        name = request.path_params["name"]
        endpoint = self.host.endpoints.get(name)
        if endpoint is None:
            return aws_error(
                400,
                "ValidationError",
                f"Endpoint {name} of account {self.account_id} not found.",
            )
        headers = request.headers
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_PAYLOAD_BYTES:
            return _too_large(int(length))
        body = await request.body()
        if len(body) > MAX_PAYLOAD_BYTES:
            return _too_large(len(body))
        inference_id = headers.get("x-amzn-sagemaker-inference-id")
        if inference_id is not None and not _INFERENCE_ID.match(inference_id):
            return aws_error(
                400,
                "ValidationError",
                "X-Amzn-SageMaker-Inference-Id must be 1 to 64 printable ASCII characters.",
            )
        custom = headers.get("x-amzn-sagemaker-custom-attributes")
        if custom is not None and not _CUSTOM_ATTRIBUTES.match(custom):
            return aws_error(
                400,
                "ValidationError",
                "X-Amzn-SageMaker-Custom-Attributes must be at most 1024 visible ASCII characters.",
            )
        target = headers.get("x-amzn-sagemaker-target-variant")
        variant = endpoint.variant(target)
        if variant is None:
            shown = target if target and _TARGET_VARIANT.match(target) else repr(target)
            return aws_error(
                400,
                "ValidationError",
                f"The variant {shown} specified in X-Amzn-SageMaker-Target-Variant does not "
                f"exist on endpoint {name}; it has "
                + ", ".join(v.name for v in endpoint.variants)
                + ".",
            )
        content_type = headers.get("content-type")
        accept = headers.get("accept")
        runtime = variant.runtime
        try:
            if getattr(runtime, "blocking", False):
                prediction = await anyio.to_thread.run_sync(
                    runtime.invoke, body, content_type, accept
                )
            else:
                prediction = runtime.invoke(body, content_type, accept)
        except InvocationError as err:
            return model_error(variant.name, err)
        except Exception as err:  # a runtime bug must not become a 500 of the server
            return model_error(variant.name, InvocationError(500, f"{type(err).__name__}: {err}"))
        capture = endpoint.capture
        writer = self.writer
        if capture is not None and writer is not None:
            if should_sample(capture.percentage, inference_id):
                writer.submit(
                    CaptureEvent(
                        destination=capture.destination,
                        endpoint=name,
                        variant=variant.name,
                        request_body=body if capture.capture_input else None,
                        request_content_type=content_type,
                        response_body=prediction.body if capture.capture_output else None,
                        response_content_type=prediction.content_type,
                        content_types=capture.types,
                        inference_id=inference_id,
                        custom_attributes=custom,
                        inference_time=time.time(),
                    )
                )
            else:
                writer.count_sampled_out()
        return Response(
            prediction.body,
            200,
            headers={"x-Amzn-Invoked-Production-Variant": variant.name},
            media_type=prediction.content_type,
        )


def _too_large(size: int) -> Response:
    return aws_error(
        413,
        "ValidationError",
        f"Request payload of {size} bytes exceeds the InvokeEndpoint limit of "
        f"{MAX_PAYLOAD_BYTES} bytes (6 MB).",
    )
