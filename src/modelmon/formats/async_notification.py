"""Asynchronous inference notifications: the SNS message bodies of SPEC §7.

SageMaker publishes one message per asynchronous request to the endpoint's
``SuccessTopic`` or ``ErrorTopic``. The bodies are compact JSON with the keys in
the order of real messages:

* success: ``awsRegion, eventTime, receivedTime, invocationStatus ("Completed"),
  requestParameters{accept?, contentType, endpointName, inputLocation},
  responseParameters{contentType, outputLocation}, responseBody?, inferenceId,
  eventVersion, eventSource, eventName``;
* error: ``awsRegion, eventTime, receivedTime, invocationStatus ("Failed"),
  failureReason, requestParameters{...}, responseParameters{failureLocation},
  responseBody?, inferenceId, eventVersion, eventSource, eventName``
  (``responseParameters`` on errors is [U] in SPEC §7: newer SageMaker versions
  name the failure location; modelmon does).

``responseBody`` (``{"content": base64, "message": ..., "encoding": "BASE64"}``)
is present when the endpoint's ``IncludeInferenceResponseIn`` names the topic
kind and the body is at most :data:`MAX_INCLUDED_RESPONSE` bytes. Times are
ISO-8601 UTC with milliseconds (``2022-01-25T22:46:00.608Z``). An endpoint's
topics also get SageMaker's ``TestNotification`` when it is created or updated.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson

EVENT_VERSION = "1.0"
EVENT_SOURCE = "aws:sagemaker"
EVENT_NAME = "InferenceResult"
MAX_INCLUDED_RESPONSE = 128 * 1024  # "response included only if <= 128 KB"
RESPONSE_MESSAGE = "Check S3 path location(if configured) or Cloudwatch for additional details."


def test_notification() -> str:
    """The message sent to an async endpoint's topics when it is created or updated."""
    return orjson.dumps(
        {
            "eventVersion": EVENT_VERSION,
            "eventSource": EVENT_SOURCE,
            "eventName": "TestNotification",
        }
    ).decode()


def event_time(moment: dt.datetime) -> str:
    """``2022-01-25T22:46:00.608Z``: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _request_parameters(
    endpoint_name: str, input_location: str, content_type: str | None, accept: str | None
) -> dict[str, str]:
    parameters: dict[str, str] = {}
    if accept:
        parameters["accept"] = accept
    if content_type:
        parameters["contentType"] = content_type
    parameters["endpointName"] = endpoint_name
    parameters["inputLocation"] = input_location
    return parameters


def _response_body(content: bytes | None) -> dict[str, str] | None:
    if content is None or len(content) > MAX_INCLUDED_RESPONSE:
        return None
    return {
        "content": base64.b64encode(content).decode("ascii"),
        "message": RESPONSE_MESSAGE,
        "encoding": "BASE64",
    }


def inference_result(
    *,
    region: str,
    event_at: dt.datetime,
    received_at: dt.datetime,
    endpoint_name: str,
    input_location: str,
    content_type: str | None,
    accept: str | None,
    inference_id: str,
    output_location: str | None = None,
    response_content_type: str | None = None,
    failure_reason: str | None = None,
    failure_location: str | None = None,
    response_body: bytes | None = None,
) -> str:
    """The notification of one request: the error one when ``failure_reason`` is given (with
    ``failure_location``), else the success one (``output_location``,
    ``response_content_type``). ``response_body`` given: included when ≤ 128 KB."""
    failed = failure_reason is not None
    document: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": event_time(event_at),
        "receivedTime": event_time(received_at),
        "invocationStatus": "Failed" if failed else "Completed",
    }
    if failed:
        document["failureReason"] = failure_reason
    document["requestParameters"] = _request_parameters(
        endpoint_name, input_location, content_type, accept
    )
    if failed:
        document["responseParameters"] = {"failureLocation": failure_location}
    else:
        document["responseParameters"] = {
            "contentType": response_content_type,
            "outputLocation": output_location,
        }
    included = _response_body(response_body)
    if included is not None:
        document["responseBody"] = included
    document["inferenceId"] = inference_id
    document["eventVersion"] = EVENT_VERSION
    document["eventSource"] = EVENT_SOURCE
    document["eventName"] = EVENT_NAME
    return orjson.dumps(document).decode("utf-8")
