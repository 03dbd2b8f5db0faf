"""``POST /endpoints/{name}/async-invocations``: SageMaker's InvokeEndpointAsync (SPEC §7).

The request is checked (:func:`~modelmon.serving.async_request.parse_request`),
queued in the database (:class:`~modelmon.serving.async_queue.AsyncQueue`) and
answered 202 at once with ``{"InferenceId": ...}`` and the
``X-Amzn-SageMaker-OutputLocation`` / ``-FailureLocation`` headers; a worker
does the rest. Errors answer as the real-time path's (:func:`aws_error`):
400 ``ValidationError`` naming the header at fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelmon.errors import InputError
from modelmon.serving.async_queue import AsyncQueue
from modelmon.serving.async_request import MAX_BODY_BYTES, parse_request
from modelmon.serving.async_worker import async_config
from modelmon.serving.host import Host
from modelmon.serving.invocation import aws_error

log = logging.getLogger("modelmon.async")


class AsyncInvoker:
    """The InvokeEndpointAsync handler of one server process.

    ``on_queued`` is called after each new request is stored (to wake a worker).
    """

    def __init__(
        self,
        host: Host,
        queue: AsyncQueue,
        account_id: str,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self.queue = queue
        self.account_id = account_id
        self.on_queued = on_queued

    async def handle(self, request: Request) -> Response:
        """Answer one InvokeEndpointAsync request."""
        name = request.path_params["name"]
        endpoint = self.host.endpoints.get(name)
        if endpoint is None:
            return aws_error(
                400,
                "ValidationError",
                f"Endpoint {name} of account {self.account_id} not found.",
            )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _invalid(
                InputError(
                    f"the request body is {length} bytes; InvokeEndpointAsync takes at most "
                    f"{MAX_BODY_BYTES}",
                    field="Body",
                )
            )
        body = await request.body()
        try:
            parsed = parse_request(name, request.headers, body)
            config = async_config(endpoint)
        except InputError as err:
            return _invalid(err)
        if config is None:
            return aws_error(
                400,
                "ValidationError",
                f"Endpoint {name} has no AsyncInferenceConfig: it serves real-time requests "
                "(InvokeEndpoint) only.",
            )
        try:
            queued = await self.queue.enqueue_async(parsed, config)
        except Exception as err:  # the database refused: nothing was queued
            log.exception("queueing an asynchronous request for %s failed", name)
            return aws_error(
                500, "InternalFailure", f"The request could not be queued: {type(err).__name__}"
            )
        if queued.created and self.on_queued is not None:
            self.on_queued()
        return Response(
            orjson.dumps({"InferenceId": queued.inference_id}),
            202,
            headers={
                "X-Amzn-SageMaker-OutputLocation": queued.output_location,
                "X-Amzn-SageMaker-FailureLocation": queued.failure_location,
            },
            media_type="application/json",
        )


def _invalid(err: InputError) -> Response:
    """400 ValidationError: "{header} must be ..." (the header or member named first)."""
    reason = err.reason
    if err.field:
        joint = " " if reason.startswith(("is ", "must ")) else ": "
        reason = f"{err.field}{joint}{reason}"
    return aws_error(400, "ValidationError", reason)
