"""The data-capture record of SPEC.md §4.1, byte for byte, and its object key (§4.2).

One captured request is one line of compact JSON::

    {"captureData":{"endpointInput":{...},"endpointOutput":{...}},
     "eventMetadata":{"eventId":"...","inferenceId":"...","inferenceTime":"...Z",
                      "customAttributes":"..."},"eventVersion":"0"}

written the way SageMaker's (Jackson) serialiser writes it: no spaces, keys in
that order, non-ASCII text as UTF-8, and only ``"``, ``\\`` and control
characters escaped (``\\n``, ``\\t``… or ``\\u001F`` with upper-case hex);
``/`` is not escaped.

Each side (``endpointInput`` / ``endpointOutput``) keeps its body as text when
its content type is listed in the endpoint's ``CaptureContentTypeHeader``
(``CSV`` or ``JSON`` encoding) and as base64 otherwise (``BASE64``).
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

Mode = Literal["INPUT", "OUTPUT"]
Encoding = Literal["CSV", "JSON", "BASE64"]

EVENT_VERSION = "0"
# What a side is recorded as observing when the request or response carried no
# Content-Type header: the HTTP default for an untyped body (RFC 9110 §8.3). It
# is listed in neither default list, so such a body is captured as BASE64.
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_MODES = frozenset({"INPUT", "OUTPUT"})
# orjson writes control characters as JSON's short escapes or \u00xx with
# lower-case hex; Jackson writes the hex in upper case. An escaped backslash is
# matched as a pair so that its second character never starts a match.
_LOWER_HEX_ESCAPE = re.compile(rb"\\\\|\\u00[0-9a-f]{2}")


def _media_type(content_type: str) -> str:
    """``"Text/CSV; charset=utf-8"`` -> ``"text/csv"``."""
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class CaptureContentTypes:
    """Which content types are captured as text (``CSV``, ``JSON``); others are base64.

    The defaults are what the SageMaker Python SDK always sends. ``from_header``
    reads a ``CaptureContentTypeHeader``. Matching compares media types: the part
    before ``;``, trimmed, case-insensitive, so ``text/csv; charset=utf-8`` is CSV.
    """

    csv: tuple[str, ...] = ("text/csv",)
    json: tuple[str, ...] = ("application/json",)
    _csv: frozenset[str] = field(init=False, repr=False, compare=False)
    _json: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("csv", "json"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{name} content types must be strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
            object.__setattr__(self, f"_{name}", frozenset(_media_type(v) for v in value))

    @classmethod
    def from_header(cls, header: dict[str, Any] | None) -> CaptureContentTypes:
        """From ``{"CsvContentTypes": [...], "JsonContentTypes": [...]}``.

        ``None`` (a DataCaptureConfig without the header) means SageMaker's
        documented behaviour: everything is base64-encoded. A key missing from a
        header that is present lists no type.
        """
        if header is None:
            return cls(csv=(), json=())
        if not isinstance(header, dict):
            raise TypeError(f"CaptureContentTypeHeader must be an object, got {header!r}")
        return cls(
            csv=tuple(header.get("CsvContentTypes") or ()),
            json=tuple(header.get("JsonContentTypes") or ()),
        )

    def to_header(self) -> dict[str, list[str]]:
        """The ``CaptureContentTypeHeader`` these types come from."""
        return {"CsvContentTypes": list(self.csv), "JsonContentTypes": list(self.json)}

    def encoding_for(self, content_type: str) -> Encoding:
        """``CSV``, ``JSON`` or ``BASE64`` for a body of ``content_type``."""
        media = _media_type(content_type)
        if media in self._csv:
            return "CSV"
        if media in self._json:
            return "JSON"
        return "BASE64"


def encode_part(
    body: bytes, content_type: str | None, mode: Mode, types: CaptureContentTypes
) -> dict[str, str]:
    """One side of a record: ``{"observedContentType", "mode", "data", "encoding"}``.

    ``observedContentType`` is the Content-Type as sent (parameters included), or
    :data:`DEFAULT_CONTENT_TYPE` when there was none. A text type's body is kept
    as its UTF-8 text, unchanged; a body that is not valid UTF-8 falls back to
    base64 so that nothing is lost or altered.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'INPUT' or 'OUTPUT', got {mode!r}")
    observed = DEFAULT_CONTENT_TYPE if content_type is None else content_type
    encoding = types.encoding_for(observed)
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": observed, "mode": mode, "data": data, "encoding": encoding}


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None or moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)


def inference_time_text(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, truncated to the second (naive = UTC)."""
    t = _utc(moment)
    # %-formatting: about twice as fast as an f-string with format specs here
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second)  # noqa: UP031


def _upper_hex(match: re.Match[bytes]) -> bytes:
    text = match[0]
    return text if len(text) == 2 else text[:4] + text[4:].upper()


def capture_line(
    *,
    input_part: dict[str, str] | None,
    output_part: dict[str, str] | None,
    event_id: str,
    inference_time: datetime,
    inference_id: str | None = None,
    custom_attributes: str | None = None,
) -> bytes:
    """One capture record as a line of compact JSON ending in ``\\n``.

    Sides that were not captured (``None``) are left out, as are ``inferenceId``
    and ``customAttributes`` when not given.
    """
    capture: dict[str, Any] = {}
    if input_part is not None:
        capture["endpointInput"] = input_part
    if output_part is not None:
        capture["endpointOutput"] = output_part
    metadata = {"eventId": event_id}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = inference_time_text(inference_time)
    if custom_attributes is not None:
        metadata["customAttributes"] = custom_attributes
    line = orjson.dumps(
        {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION},
        option=orjson.OPT_APPEND_NEWLINE,
    )
    if b"\\u00" in line:  # rare: a control character other than \b \t \n \f \r
        line = _LOWER_HEX_ESCAPE.sub(_upper_hex, line)
    return line


def capture_key(destination: str, endpoint: str, variant: str, opened: datetime) -> str:
    """``{destination}/{endpoint}/{variant}/yyyy/mm/dd/hh/{MM}-{SS}-{mmm}-{uuid4}.jsonl``.

    ``opened`` (UTC; naive = UTC) is the inference time of the file's first record.
    """
    t = _utc(opened)
    return (
        f"{destination.rstrip('/')}/{endpoint}/{variant}/"
        f"{t.year:04d}/{t.month:02d}/{t.day:02d}/{t.hour:02d}/"
        f"{t.minute:02d}-{t.second:02d}-{t.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    )
