"""Request and response payloads of the built-in runtimes: CSV, JSON and JSON lines.

:func:`decode_request` turns a request body into a 2-D float64 array (rows x
features); :func:`encode_response` turns predictions into a response body in the
media type the client accepts. Both raise :class:`InvocationError` with the
status a SageMaker model container would answer (400, 415, 406).

Small bodies are the common case, so the fast paths avoid anything beyond
``str.split`` and one ``np.array`` call; the slow paths run only to say exactly
which row and column are at fault.
"""

from __future__ import annotations

import csv
import io
import math
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from modelmon.serving.runtimes.base import Prediction
from modelmon.serving.runtimes.errors import InvocationError

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"

CSV_RESPONSE_TYPE = "text/csv; charset=utf-8"
ACCEPTED = f"{CSV}, {JSON}, {JSONLINES}"

_REQUEST_TYPES = {
    CSV: CSV,
    JSON: JSON,
    JSONLINES: JSONLINES,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
}
_RESPONSE_TYPES = {
    CSV: CSV,
    "text/*": CSV,
    JSON: JSON,
    "application/*": JSON,
    JSONLINES: JSONLINES,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
}
_CONTENT_TYPE_OF = {CSV: CSV_RESPONSE_TYPE, JSON: JSON, JSONLINES: JSONLINES}
_ROW_KEYS = ("instances", "inputs")
_NAN = float("nan")


# ---------------------------------------------------------------- media types


@lru_cache(maxsize=256)
def _media(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def media_type(header: str | None) -> str:
    """``'Text/CSV; charset=utf-8'`` -> ``'text/csv'``; None or blank -> ``''``."""
    return _media(header) if header else ""


def known_media(content_type: str | None) -> str | None:
    """The codec a Content-Type names, or None when it is missing or not one of ours."""
    return _REQUEST_TYPES.get(_media(content_type)) if content_type else None


def request_media(content_type: str | None, body: bytes = b"") -> str:
    """The codec for a request: ``text/csv``, ``application/json`` or ``application/jsonlines``.

    A missing Content-Type is guessed from the body (``[`` or ``{`` first: JSON,
    else CSV). Anything else is a 415.
    """
    media = _REQUEST_TYPES.get(_media(content_type)) if content_type else None
    if media is not None:
        return media
    if not content_type or not content_type.strip():
        return JSON if body.lstrip()[:1] in (b"[", b"{") else CSV
    raise InvocationError(
        415, f"unsupported Content-Type {content_type!r}; this model accepts {ACCEPTED}"
    )


@lru_cache(maxsize=256)
def _accepted(accept: str, request: str) -> str | None:
    choices = []
    for position, item in enumerate(accept.split(",")):
        media, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        choices.append((-quality, position, media.strip().lower()))
    for negative_quality, _, media in sorted(choices):
        if negative_quality >= 0:
            break
        if media in ("*/*", "*"):
            return request
        found = _RESPONSE_TYPES.get(media)
        if found is not None:
            return found
    return None


def response_media(accept: str | None, request: str) -> str:
    """The response codec for ``accept``; None or ``*/*`` answer in the request's type.

    ``request`` is the codec of the request (see :func:`request_media`). An
    Accept naming nothing this module can write is a 406.
    """
    if not accept or accept == "*/*":
        return request
    found = _accepted(accept, request)
    if found is None:
        raise InvocationError(406, f"unsupported Accept {accept!r}; this model answers {ACCEPTED}")
    return found


# ---------------------------------------------------------------- decoding


def decode_request(body: bytes, content_type: str | None) -> np.ndarray:
    """The request body as a 2-D float64 array (rows x features); see the module doc."""
    return decode_as(body, request_media(content_type, body))


def decode_as(body: bytes, media: str) -> np.ndarray:
    """Decode ``body`` with the codec ``media`` (a value :func:`request_media` returns)."""
    if media == CSV:
        return _decode_csv(_text(body))
    if media == JSON:
        return _decode_json(body)
    return _decode_jsonlines(_text(body))


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvocationError(
            400,
            f"the request body is not valid UTF-8 (byte 0x{body[err.start]:02x} "
            f"at position {err.start})",
        ) from None


def _empty() -> InvocationError:
    return InvocationError(400, "the request body is empty; expected at least one row")


def _decode_csv(text: str) -> np.ndarray:
    text = text.rstrip("\r\n")
    if not text:
        raise _empty()
    if '"' in text:
        rows = list(csv.reader(io.StringIO(text)))
    else:
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        rows = [line.split(",") for line in text.split("\n")] if "\n" in text else [text.split(",")]
    try:
        array = np.array(rows, dtype=np.float64)
    except ValueError:
        return _csv_slowly(rows)
    if array.ndim != 2:  # a row with no fields at all
        return _csv_slowly(rows)
    return array


def _csv_slowly(rows: list[list[str]]) -> np.ndarray:
    """Parse ``rows`` cell by cell: empty fields are NaN; say which cell is at fault."""
    width = len(rows[0])
    out = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        if len(row) != width:
            raise InvocationError(400, f"CSV row {r + 1} has {len(row)} values, expected {width}")
        for c, cell in enumerate(row):
            stripped = cell.strip()
            if not stripped:
                out[r, c] = _NAN
                continue
            try:
                out[r, c] = float(stripped)
            except ValueError:
                raise InvocationError(
                    400, f"CSV row {r + 1}, column {c + 1}: {cell!r} is not a number"
                ) from None
    return out


def _loads(data: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as err:
        if isinstance(data, bytes):
            _text(data)  # a 400 naming the bad byte when that is the cause
        raise InvocationError(400, f"{what} is not valid JSON: {err}") from None


def _decode_json(body: bytes) -> np.ndarray:
    if not body.strip():
        raise _empty()
    doc = _loads(body, "the request body")
    if isinstance(doc, dict):
        for key in _ROW_KEYS:
            if key in doc:
                items = doc[key]
                if not isinstance(items, list):
                    raise InvocationError(
                        400, f"JSON {key!r} must be an array of rows, got {_kind(items)}"
                    )
                return _json_rows(items)
        if "features" in doc:
            return _json_rows([doc])
        raise InvocationError(
            400,
            f"JSON object needs an 'instances', 'inputs' or 'features' key; got keys {sorted(doc)}",
        )
    if isinstance(doc, list):
        return _json_rows(doc)
    raise InvocationError(400, f"expected a JSON array or object, got {_kind(doc)}")


def _json_rows(items: list) -> np.ndarray:
    """A list of rows (arrays or ``{"features": [...]}``), or one flat row of numbers."""
    if not items:
        raise _empty()
    first = items[0]
    if isinstance(first, dict):
        items = [_features(item, r + 1, "JSON") for r, item in enumerate(items)]
    elif not isinstance(first, list):  # a flat list of numbers: one row
        items = [items]
    try:
        array = np.array(items, dtype=np.float64)
    except (ValueError, TypeError):
        return _rows_slowly(items, "JSON")
    if array.ndim != 2:
        return _rows_slowly(items, "JSON")
    return array


def _features(item: Any, row: int, what: str) -> Any:
    if isinstance(item, dict):
        if "features" not in item:
            raise InvocationError(
                400,
                f'{what} row {row}: expected an array or {{"features": [...]}}, '
                f"got an object with keys {sorted(item)}",
            )
        return item["features"]
    return item


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _number(value: Any) -> float:
    if value is None:
        return _NAN
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value) if value.strip() else _NAN
    raise ValueError(value)


def _rows_slowly(items: list, what: str) -> np.ndarray:
    """Rows of JSON values to floats (null is NaN); say which row and value are at fault."""
    rows = [_features(item, r + 1, what) for r, item in enumerate(items)]
    width = len(rows[0]) if isinstance(rows[0], list) else 0
    out = np.empty((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        if not isinstance(row, list):
            raise InvocationError(
                400, f"{what} row {r + 1} is {_kind(row)}, expected an array of numbers"
            )
        if len(row) != width:
            raise InvocationError(
                400, f"{what} row {r + 1} has {len(row)} values, expected {width}"
            )
        for c, value in enumerate(row):
            try:
                out[r, c] = _number(value)
            except (ValueError, TypeError):
                shown = orjson.dumps(value).decode()
                raise InvocationError(
                    400, f"{what} row {r + 1}, column {c + 1}: {shown} is not a number"
                ) from None
    if width == 0:
        raise InvocationError(400, f"{what} row 1 has no values")
    return out


def _decode_jsonlines(text: str) -> np.ndarray:
    text = text.strip()
    if not text:
        raise _empty()
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            raise InvocationError(400, f"JSON lines row {number} is empty")
        value = _loads(line, f"JSON lines row {number}")
        if not isinstance(value, (list, dict)):
            raise InvocationError(
                400,
                f"JSON lines row {number} is {_kind(value)}, expected an array or "
                '{"features": [...]}',
            )
        rows.append(_features(value, number, "JSON lines"))
    try:
        array = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        return _rows_slowly(rows, "JSON lines")
    if array.ndim != 2:
        return _rows_slowly(rows, "JSON lines")
    return array


# ---------------------------------------------------------------- encoding


def encode_response(predictions: Any, accept: str | None, request: str = CSV) -> Prediction:
    """Predictions (1-D: one value per row, 2-D: one list per row) as a response.

    ``accept`` is the client's Accept header; None or ``*/*`` answer in the
    request's codec ``request`` (``text/csv``, ``application/json`` or
    ``application/jsonlines``; a raw Content-Type header works too).
    """
    if request not in _CONTENT_TYPE_OF:
        request = _REQUEST_TYPES.get(media_type(request), CSV)
    return encode_as(predictions, response_media(accept, request))


def encode_as(predictions: Any, media: str) -> Prediction:
    """Encode ``predictions`` with the codec ``media`` (a value :func:`response_media` returns)."""
    if media == CSV:
        return Prediction(_csv_body(predictions), CSV_RESPONSE_TYPE)
    if media == JSON:
        return Prediction(_json_body(predictions), JSON)
    return Prediction(_jsonlines_body(predictions), JSONLINES)


def _csv_body(predictions: Any) -> bytes:
    array = predictions if isinstance(predictions, np.ndarray) else np.asarray(predictions)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim > 2:
        raise InvocationError(
            500, f"the model answered a {array.ndim}-D array {array.shape}; CSV needs 1-D or 2-D"
        )
    kind = array.dtype.kind
    if kind == "f":
        cell = repr
    elif kind in "iu":
        cell = str
    else:
        cell = _csv_cell
    values = array.tolist()
    if array.ndim == 1:
        if len(values) == 1:
            return cell(values[0]).encode()
        return "\n".join(map(cell, values)).encode()
    return "\n".join([",".join(map(cell, row)) for row in values]).encode()


def _csv_cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _plain(predictions: Any) -> Any:
    if isinstance(predictions, np.ndarray):
        if predictions.ndim == 0:
            return [predictions.item()]
        return predictions.tolist()
    if isinstance(predictions, np.generic):
        return [predictions.item()]
    return predictions


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)


def _json_body(predictions: Any) -> bytes:
    return _dumps({"predictions": _plain(predictions)})


def _jsonlines_body(predictions: Any) -> bytes:
    rows = _plain(predictions)
    if not isinstance(rows, (list, tuple)):
        rows = [rows]
    return b"\n".join([_dumps(row) for row in rows])
