"""InvokeEndpointAsync's request (SPEC §7): headers checked, and where its results go.

:func:`parse_request` turns the ``X-Amzn-SageMaker-*`` headers into an
:class:`AsyncRequest` or raises :class:`~modelmon.errors.InputError` naming the
header at fault. :class:`AsyncConfig` is an endpoint config's
``AsyncInferenceConfig``, validated (:class:`AsyncInferenceConfigShape`).

Result locations, fixed when the request is queued (``{uuid}`` is a random
UUID, not the inference id, as in SageMaker):

* output: ``{S3OutputPath}[/{S3OutputPathExtension}]/{uuid}.out``, or
  ``.../{Filename}`` when ``X-Amzn-SageMaker-Filename`` is given;
* failure: ``{S3FailurePath}[/{S3OutputPathExtension}]/{uuid}-error.out``
  (S3FailurePath defaults to S3OutputPath; both [U] in SPEC §7).

A request body (≤ 128000 bytes, botocore's ``AsyncBodyBlob``), when given, is
the model's input; the object at ``InputLocation`` is then not read, and the
location only names the request in notifications [U].
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from modelmon.errors import InputError
from modelmon.serving.shapes import S3_PATTERN, Shape, parse

MAX_BODY_BYTES = 128_000
DEFAULT_TTL_SECONDS = 21_600  # 6 hours, SageMaker's default and maximum
DEFAULT_TIMEOUT_SECONDS = 900  # 15 minutes [D]
# SageMaker picks a value when ClientConfig is absent; modelmon takes this many
# invocations at once per endpoint and server process.
DEFAULT_MAX_CONCURRENCY = 8

HEADER = "X-Amzn-SageMaker-"
_S3_URI = re.compile(S3_PATTERN)
_INFERENCE_ID = re.compile(r"^\S[\x20-\x7e]{0,63}$")
_ASCII = re.compile(r"^[\x00-\x7f]{0,1024}$")
_EXTENSION = re.compile(r"^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]{1,512}$")
_FILENAME = re.compile(r"^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_\.]{0,31}$")

S3Uri = Annotated[str, Field(max_length=1024, pattern=S3_PATTERN)]
TopicKind = Literal["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]


class AsyncNotificationConfig(Shape):
    SuccessTopic: str | None = Field(None, max_length=2048)
    ErrorTopic: str | None = Field(None, max_length=2048)
    IncludeInferenceResponseIn: list[TopicKind] = Field(default_factory=list, max_length=2)


class AsyncOutputConfig(Shape):
    KmsKeyId: str | None = None
    S3OutputPath: S3Uri | None = None
    NotificationConfig: AsyncNotificationConfig | None = None
    S3FailurePath: S3Uri | None = None


class AsyncClientConfig(Shape):
    MaxConcurrentInvocationsPerInstance: int | None = Field(None, ge=1, le=1000)


class AsyncInferenceConfigShape(Shape):
    """CreateEndpointConfig's ``AsyncInferenceConfig`` (botocore's shape)."""

    ClientConfig: AsyncClientConfig | None = None
    OutputConfig: AsyncOutputConfig


@dataclass(frozen=True, slots=True)
class AsyncConfig:
    """An endpoint's AsyncInferenceConfig, ready for the queue and the workers."""

    output_path: str
    failure_path: str
    success_topic: str | None
    error_topic: str | None
    include_in_success: bool
    include_in_error: bool
    max_concurrency: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> AsyncConfig | None:
        """None without a config; InputError (naming the member) when it is malformed."""
        if not config:
            return None
        shape = parse(AsyncInferenceConfigShape, dict(config))
        output = shape.OutputConfig
        if not output.S3OutputPath:
            raise InputError(
                "S3OutputPath is required", field="AsyncInferenceConfig.OutputConfig.S3OutputPath"
            )
        notification = output.NotificationConfig or AsyncNotificationConfig()
        include = set(notification.IncludeInferenceResponseIn)
        client = shape.ClientConfig
        limit = client.MaxConcurrentInvocationsPerInstance if client is not None else None
        return cls(
            output_path=output.S3OutputPath.rstrip("/"),
            failure_path=(output.S3FailurePath or output.S3OutputPath).rstrip("/"),
            success_topic=notification.SuccessTopic or None,
            error_topic=notification.ErrorTopic or None,
            include_in_success="SUCCESS_NOTIFICATION_TOPIC" in include,
            include_in_error="ERROR_NOTIFICATION_TOPIC" in include,
            max_concurrency=limit or DEFAULT_MAX_CONCURRENCY,
        )

    def locations(self, request: AsyncRequest, identifier: str) -> tuple[str, str]:
        """(output location, failure location) of ``request`` queued as ``identifier``."""
        output, failure = self.output_path, self.failure_path
        extension = (request.output_extension or "").strip("/")
        if extension:
            output, failure = f"{output}/{extension}", f"{failure}/{extension}"
        name = request.filename or f"{identifier}.out"
        return f"{output}/{name}", f"{failure}/{identifier}-error.out"


@dataclass(frozen=True, slots=True)
class AsyncRequest:
    """One InvokeEndpointAsync call, its headers checked."""

    endpoint_name: str
    input_location: str
    inference_id: str | None
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    ttl_seconds: int
    timeout_seconds: int
    output_extension: str | None
    filename: str | None
    body: bytes | None


def _integer(headers: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = headers.get(name.lower())
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InputError(
            f"must be a whole number of seconds from {low} to {high}; got {raw!r}", field=name
        ) from None
    if not low <= value <= high:
        raise InputError(f"must be from {low} to {high} seconds; got {value}", field=name)
    return value


def _text(
    headers: Mapping[str, str], name: str, pattern: re.Pattern[str], expected: str
) -> str | None:
    value = headers.get(name.lower())
    if value is None:
        return None
    if not pattern.match(value):
        raise InputError(f"must be {expected}; got {value!r}", field=name)
    return value


def parse_request(endpoint_name: str, headers: Mapping[str, str], body: bytes) -> AsyncRequest:
    """The request of ``headers`` (lower-case names, as Starlette gives them) and ``body``."""
    if len(body) > MAX_BODY_BYTES:
        raise InputError(
            f"the request body is {len(body)} bytes; InvokeEndpointAsync takes at most "
            f"{MAX_BODY_BYTES} (put larger inputs at the InputLocation)",
            field="Body",
        )
    location_header = f"{HEADER}InputLocation"
    location = headers.get(location_header.lower())
    if not location:
        raise InputError("is required (the s3:// URI of the input)", field=location_header)
    if len(location) > 1024 or not _S3_URI.match(location):
        raise InputError(
            f"must match ^(https|s3)://([^/]+)/?(.*)$; got {location!r}", field=location_header
        )
    ascii_text = "at most 1024 ASCII characters"
    return AsyncRequest(
        endpoint_name=endpoint_name,
        input_location=location,
        inference_id=_text(
            headers, f"{HEADER}Inference-Id", _INFERENCE_ID, "1 to 64 printable ASCII characters"
        ),
        content_type=_text(headers, f"{HEADER}Content-Type", _ASCII, ascii_text),
        accept=_text(headers, f"{HEADER}Accept", _ASCII, ascii_text),
        custom_attributes=_text(headers, f"{HEADER}Custom-Attributes", _ASCII, ascii_text),
        ttl_seconds=_integer(
            headers, f"{HEADER}RequestTTLSeconds", 60, 21_600, DEFAULT_TTL_SECONDS
        ),
        timeout_seconds=_integer(
            headers, f"{HEADER}InvocationTimeoutSeconds", 1, 3600, DEFAULT_TIMEOUT_SECONDS
        ),
        output_extension=_text(
            headers,
            f"{HEADER}S3OutputPathExtension",
            _EXTENSION,
            "1 to 512 characters of a-z A-Z 0-9 !_.*'()/- (not a URI)",
        ),
        filename=_text(
            headers,
            f"{HEADER}Filename",
            _FILENAME,
            "1 to 32 characters of a-z A-Z 0-9 -_. with at most one dot, starting with a "
            "letter or digit",
        ),
        body=body or None,
    )
