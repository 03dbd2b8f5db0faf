"""One captured record -> rows of CSV cell text (the capture reader's slow path).

A payload gives rows; a row is a list of cells (positional) or a dict of
cells (named columns). Cells are CSV field text, so that the same Arrow CSV
conversion types every row however it was captured.

JSON payload rules: with an attribute (a JSONPath such as ``$.features``,
``$.a[0].b``, ``$.predictions[*].score``, or a plain key) the selected value is
used; without one, a dict holding a single list (``{"instances": [...]}``)
stands for that list. Then a list of scalars is one row, a list of lists or of
dicts several rows, a dict one row of named columns (nested keys dotted), a
scalar one row of one cell. Several input rows with an output that is one list
of as many scalars (``{"predictions": [3.5, 4.0]}``) take one value each.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.values import flatten_record

Row = list[str] | dict[str, str]
Cells = list[tuple[str | None, str]]
_MISSING = object()
_PATH = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]|\[['\"]([^'\"]+)['\"]\]")
_CELL = re.compile(r'"(?:[^"]|"")*"[^,\n]*|[^,\n]*')


class RecordError(Exception):
    """A captured record that cannot be read; the reader adds file and line."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def select(document: Any, path: str) -> Any:
    """The value at a JSONPath (subset: ``$``, ``.key``, ``[n]``, ``['key']``, ``[*]``)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text
    steps: list[str | int | None] = []
    at = 0
    while at < len(text):
        match = _PATH.match(text, at)
        if match is None:
            raise RecordError(f"cannot understand the JSONPath {path!r}", field=path)
        key, index, quoted = match.groups()
        if index is not None:
            steps.append(None if index == "*" else int(index))
        else:
            steps.append(key if key is not None else quoted)
        at = match.end()
    return _walk(document, steps)


def _walk(value: Any, steps: list[str | int | None]) -> Any:
    for position, step in enumerate(steps):
        if step is None:  # [*]
            if not isinstance(value, list):
                return _MISSING
            found = (_walk(item, steps[position + 1 :]) for item in value)
            return [None if item is _MISSING else item for item in found]
        if isinstance(value, list):
            index = step if isinstance(step, int) else int(step) if step.isdigit() else None
            if index is None or index >= len(value):
                return _MISSING
            value = value[index]
        elif isinstance(value, Mapping) and not isinstance(step, int) and step in value:
            value = value[step]
        else:
            return _MISSING
    return value


def cell(value: Any) -> str:
    """A JSON value as the text of one CSV field (strings quoted, None empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return '"' + value.replace('"', '""') + '"'


def csv_rows(text: str) -> list[list[str]]:
    """A CSV payload split into rows of raw field text (quotes kept, blank lines dropped)."""
    text = text.replace("\r\n", "\n").rstrip("\n")
    if '"' not in text:
        return [line.split(",") for line in text.split("\n") if line]
    rows, row, at = [], [], 0
    while True:
        match = _CELL.match(text, at)
        assert match is not None  # the pattern matches the empty string
        row.append(match.group())
        at = match.end()
        if at >= len(text):
            rows.append(row)
            break
        at += 1
        if text[at - 1] == ",":
            if at == len(text):
                row.append("")
                rows.append(row)
                break
            continue
        rows.append(row)
        row = []
    return [r for r in rows if r != [""]]


def _named(record: Mapping[str, Any]) -> dict[str, str]:
    return {name: cell(value) for name, value in flatten_record(record).items()}


def value_rows(value: Any) -> list[Row]:
    """Rows of a selected JSON value (see the module docstring)."""
    if isinstance(value, list):
        if not value:
            return []
        if all(isinstance(item, list) for item in value):
            return [[cell(v) for v in item] for item in value]
        if all(isinstance(item, Mapping) for item in value):
            return [_named(item) for item in value]
        return [[cell(v) for v in value]]
    if isinstance(value, Mapping):
        return [_named(value)]
    return [[cell(value)]]


def json_rows(document: Any, attribute: str | None, role: str) -> list[Row]:
    """Rows of a parsed JSON payload."""
    if attribute:
        value = select(document, attribute)
        if value is _MISSING:
            raise RecordError(f"{role} has nothing at {attribute!r}", field=attribute)
    elif (
        isinstance(document, Mapping)
        and len(document) == 1
        and isinstance(next(iter(document.values())), list)
    ):
        value = next(iter(document.values()))
    else:
        value = document
    return value_rows(value)


def _media_kind(content_type: str) -> str | None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media.endswith("csv"):
        return "csv"
    if "json" in media:
        return "json"
    return None


def _parse_json(text: str, role: str) -> list[Any]:
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as err:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1:  # JSON Lines
            try:
                return [json.loads(line) for line in lines]
            except json.JSONDecodeError:
                pass
        raise RecordError(f"{role} data is not valid JSON: {err.msg}") from None


def payload_rows(part: Any, attribute: str | None, role: str) -> list[Row]:
    """Rows of one side (``endpointInput`` or ``endpointOutput``) of a record."""
    field = f"captureData.{role}"
    if not isinstance(part, Mapping):
        raise RecordError(f"{role} is not an object", field=field)
    data = part.get("data")
    encoding = str(part.get("encoding") or "").upper()
    content_type = str(part.get("observedContentType") or "")
    if data is None:
        raise RecordError(f"{role} has no data", field=f"{field}.data")
    if encoding == "BASE64" or not encoding:
        kind = _media_kind(content_type)
        if kind is None:
            raise RecordError(
                f"cannot read {encoding or 'unencoded'} {role} data of content type "
                f"{content_type!r}: expected text/csv or a JSON content type",
                field=f"{field}.observedContentType",
            )
        if encoding == "BASE64":
            data = _unbase64(data, role, f"{field}.data")
    elif encoding in ("CSV", "JSON"):
        kind = encoding.lower()
    else:
        raise RecordError(
            f"unknown encoding {encoding!r}; expected CSV, JSON or BASE64",
            field=f"{field}.encoding",
        )
    if kind == "csv":
        if not isinstance(data, str):
            raise RecordError(f"{role} CSV data is not a string", field=f"{field}.data")
        return list(csv_rows(data))
    documents = _parse_json(data, role) if isinstance(data, str) else [data]
    rows: list[Row] = []
    for document in documents:
        rows.extend(json_rows(document, attribute, role))
    return rows


def _unbase64(data: Any, role: str, field: str) -> str:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise RecordError(f"{role} data is not valid base64", field=field) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError(
            f"{role} data decoded from base64 is not UTF-8 text", field=field
        ) from None


def _cells(row: Row) -> Cells:
    if isinstance(row, dict):
        return list(row.items())
    return [(None, c) for c in row]


def record_rows(record: Any, fmt: DatasetFormat) -> list[Cells]:
    """Rows of one captured record: output and input cells in the format's order."""
    capture = record.get("captureData") if isinstance(record, Mapping) else None
    if not isinstance(capture, Mapping):
        raise RecordError("the record has no captureData", field="captureData")
    given_in, given_out = capture.get("endpointInput"), capture.get("endpointOutput")
    if given_in is None and given_out is None:
        raise RecordError(
            "captureData has neither endpointInput nor endpointOutput", field="captureData"
        )
    inputs = (
        None
        if given_in is None
        else payload_rows(given_in, fmt.features_attribute, "endpointInput")
    )
    outputs = (
        None
        if given_out is None
        else payload_rows(given_out, fmt.inference_attribute, "endpointOutput")
    )
    if inputs is None or outputs is None:
        return [_cells(r) for r in (inputs if outputs is None else outputs) or []]
    single = outputs[0] if len(outputs) == 1 else None
    if len(inputs) > 1 and isinstance(single, list) and len(single) == len(inputs):
        outputs = [[value] for value in single]
    if len(outputs) != len(inputs):
        raise RecordError(
            f"endpointOutput holds {len(outputs)} rows but endpointInput holds {len(inputs)}"
        )
    if fmt.output_columns_position == "START":
        return [_cells(o) + _cells(i) for o, i in zip(outputs, inputs, strict=True)]
    return [_cells(i) + _cells(o) for o, i in zip(outputs, inputs, strict=True)]
