"""Asynchronous inference on the client: as the SageMaker SDK's ``sagemaker.async_inference``
and ``sagemaker.predictor_async``.

``AsyncPredictor(predictor).predict_async(input_path=...)`` (or
``Predictor.predict_async``) queues a request and returns an
:class:`AsyncInferenceResponse` at once; its :meth:`~AsyncInferenceResponse.get_result`
polls the output location until the result (deserialized) or the failure object
exists (then :class:`AsyncInferenceModelError` carries the failure text).
``data`` instead of ``input_path`` is serialized and uploaded first to
``s3://{default bucket}/async-endpoint-inputs/{endpoint}/{uuid}``, as SageMaker's
SDK does.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelmon.sdk.session import ModelmonClientError

if TYPE_CHECKING:
    from modelmon.sdk.predictor import Predictor

INPUT_PREFIX = "async-endpoint-inputs"


class AsyncInferenceError(Exception):
    """Base class of the asynchronous inference client's errors."""


class AsyncInferenceModelError(AsyncInferenceError):
    """The request failed; ``message`` is the failure object's text (the failure reason)."""

    def __init__(self, message: str, failure_path: str | None = None) -> None:
        super().__init__(f"Model returned error: {message}")
        self.message = message
        self.failure_path = failure_path


class PollingTimeoutError(AsyncInferenceError):
    """Neither the output nor the failure object appeared within the waiter's attempts."""

    def __init__(self, output_path: str, seconds: float) -> None:
        super().__init__(
            f"No result at {output_path} after waiting {seconds:g} seconds; "
            "the request may still be queued or running."
        )
        self.output_path = output_path


@dataclass
class WaiterConfig:
    """How :meth:`AsyncInferenceResponse.get_result` polls: attempts and seconds between them."""

    max_attempts: int = 60
    delay: float = 15.0

    def _to_request_dict(self) -> dict[str, Any]:
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}


@dataclass
class AsyncInferenceConfig:
    """An endpoint config's AsyncInferenceConfig (for ``create_endpoint_config``)."""

    output_path: str | None = None
    max_concurrent_invocations_per_instance: int | None = None
    kms_key_id: str | None = None
    notification_config: dict[str, Any] | None = None
    failure_path: str | None = None

    def _to_request_dict(self) -> dict[str, Any]:
        """The request member, as SageMaker's SDK builds it."""
        output: dict[str, Any] = {"S3OutputPath": self.output_path}
        if self.kms_key_id:
            output["KmsKeyId"] = self.kms_key_id
        if self.notification_config:
            output["NotificationConfig"] = self.notification_config
        if self.failure_path:
            output["S3FailurePath"] = self.failure_path
        request: dict[str, Any] = {"OutputConfig": output}
        if self.max_concurrent_invocations_per_instance:
            request["ClientConfig"] = {
                "MaxConcurrentInvocationsPerInstance": self.max_concurrent_invocations_per_instance
            }
        return request


class AsyncInferenceResponse:
    """A queued request: where its result will be, and a way to wait for it."""

    def __init__(
        self,
        predictor_async: AsyncPredictor,
        output_path: str,
        failure_path: str | None,
        inference_id: str | None = None,
    ) -> None:
        self.predictor_async = predictor_async
        self.output_path = output_path
        self.failure_path = failure_path
        self.inference_id = inference_id
        self._result: Any = None
        self._done = False

    def get_result(self, waiter_config: WaiterConfig | None = None) -> Any:
        """The deserialized result, polling until it exists (``waiter_config``: attempts and
        delay; default: one look, as SageMaker's SDK). Raises :class:`AsyncInferenceModelError`
        when the failure object appears, :class:`PollingTimeoutError` when neither does."""
        if self._done:
            return self._result
        attempts = waiter_config.max_attempts if waiter_config else 1
        delay = waiter_config.delay if waiter_config else 0.0
        predictor = self.predictor_async.predictor
        session = predictor.sagemaker_session
        for attempt in range(max(1, attempts)):
            body = _read(session, self.output_path)
            if body is not None:
                self._result = predictor.deserializer.deserialize(
                    body, predictor.deserializer.accept[0]
                )
                self._done = True
                return self._result
            if self.failure_path:
                failure = _read(session, self.failure_path)
                if failure is not None:
                    raise AsyncInferenceModelError(
                        failure.decode("utf-8", "replace"), self.failure_path
                    )
            if attempt + 1 < attempts:
                time.sleep(delay)
        raise PollingTimeoutError(self.output_path, delay * max(0, attempts - 1))


class AsyncPredictor:
    """Asynchronous predictions from an endpoint with an AsyncInferenceConfig."""

    def __init__(self, predictor: Predictor, name: str | None = None) -> None:
        self.predictor = predictor
        self.endpoint_name = predictor.endpoint_name
        self.sagemaker_session = predictor.sagemaker_session
        self.serializer = predictor.serializer
        self.deserializer = predictor.deserializer
        self.name = name

    def predict_async(
        self,
        data: Any = None,
        input_path: str | None = None,
        initial_args: dict[str, Any] | None = None,
        inference_id: str | None = None,
    ) -> AsyncInferenceResponse:
        """Queue one request; ``data`` is serialized and uploaded unless ``input_path`` is
        given. ``initial_args`` are InvokeEndpointAsync arguments (boto3 names)."""
        if (data is None) == (input_path is None):
            raise ValueError("give data or input_path (exactly one)")
        session = self.sagemaker_session
        if input_path is None:
            input_path = (
                f"s3://{session.default_bucket()}/{INPUT_PREFIX}/{self.endpoint_name}/"
                f"{uuid.uuid4()}"
            )
            session.upload_bytes(_as_bytes(self.serializer.serialize(data)), input_path)
        args: dict[str, Any] = dict(initial_args or {})
        args.setdefault("ContentType", self.serializer.content_type)
        args.setdefault("Accept", ", ".join(self.deserializer.accept))
        if inference_id is not None:
            args["InferenceId"] = inference_id
        answer = session.invoke_endpoint_async(
            EndpointName=self.endpoint_name, InputLocation=input_path, **args
        )
        return AsyncInferenceResponse(
            self, answer["OutputLocation"], answer.get("FailureLocation"), answer["InferenceId"]
        )

    def predict(
        self,
        data: Any = None,
        input_path: str | None = None,
        initial_args: dict[str, Any] | None = None,
        inference_id: str | None = None,
        waiter_config: WaiterConfig | None = None,
    ) -> Any:
        """Queue one request and wait for its result (default waiter: 60 × 15 s)."""
        response = self.predict_async(data, input_path, initial_args, inference_id)
        return response.get_result(waiter_config or WaiterConfig())


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _read(session: Any, uri: str) -> bytes | None:
    try:
        return session.read_bytes(uri)
    except ModelmonClientError as err:
        if err.status == 404:
            return None
        raise
