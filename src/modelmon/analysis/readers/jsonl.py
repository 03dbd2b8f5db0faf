"""JSON Lines (and JSON array documents): Arrow's streaming reader, Python when needed.

Arrow reads the file block by block. When it cannot go on (a field changes
type, a new field appears, a line is not JSON) the rest of the file is read
record by record in Python from where Arrow stopped, keeping the types of the
batches already given out; the Python path also names the bad line.
Nested objects become dotted columns (``a.b``), lists JSON text, booleans
"true"/"false"; a field whose values mix types is read as text.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Generator, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.json as pj

from modelmon.analysis.readers.normalize import normalize, slices
from modelmon.analysis.readers.source import json_batches
from modelmon.analysis.readers.split import Split
from modelmon.analysis.readers.values import TypedColumns, flatten_record
from modelmon.errors import InputError
from modelmon.storage.files import open_input

BLOCK_SIZE = 4 << 20


class _Fallback(Exception):
    """Arrow's reader cannot be used for the rest of the file."""


def iter_json_records(uri: str, skip: int = 0) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """(line number, object) for each record of a JSON Lines file or JSON array document.

    Blank lines are skipped; the first ``skip`` records are passed over unparsed.
    """
    with open_input(uri) as handle:
        head = handle.read(4096)
        if head.lstrip()[:1] == b"[":
            yield from _array_document(uri, head + handle.read(), skip)
            return
        handle.seek(0)
        seen = 0
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            seen += 1
            if seen <= skip:
                continue
            yield lineno, parse_object(raw, uri, lineno)


def parse_object(raw: bytes, uri: str, lineno: int | None) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=uri, line=lineno) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg}", source=uri, line=lineno) from None
    if not isinstance(value, dict):
        raise InputError(
            f"expected a JSON object, found {type(value).__name__}", source=uri, line=lineno
        )
    return value


def _array_document(uri: str, raw: bytes, skip: int) -> Iterator[tuple[int | None, dict]]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=uri) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg}", source=uri, line=err.lineno) from None
    for index, value in enumerate(document[skip:], skip):
        if not isinstance(value, dict):
            raise InputError(f"element {index} of the JSON array is not an object", source=uri)
        yield None, value


def _python_batches(
    uri: str, skip: int, columns: TypedColumns, batch_rows: int
) -> Generator[pa.RecordBatch, None, int]:
    """Batches of the records after the first ``skip``; returns how many records it read."""
    rows: list[dict[str, Any]] = []
    count = 0
    for _, record in iter_json_records(uri, skip):
        count += 1
        rows.append(flatten_record(record))
        if len(rows) >= batch_rows:
            yield columns.batch(rows)
            rows = []
    if rows:
        yield columns.batch(rows)
    return count


def _arrow_batches(
    uri: str, columns: TypedColumns, string_columns: frozenset[str]
) -> Iterator[pa.RecordBatch]:
    """Arrow's batches; strings that Arrow took for timestamps are re-read as text."""
    explicit: list[pa.Field] = []
    read = pj.ReadOptions(use_threads=False, block_size=BLOCK_SIZE)
    while True:
        parse = pj.ParseOptions(
            explicit_schema=pa.schema(explicit) if explicit else None,
            unexpected_field_behavior="infer",
        )
        batches = json_batches(uri, read, parse)
        first = next(batches, None)
        if first is None:
            return
        temporal = [f.name for f in first.schema if pa.types.is_temporal(f.type)]
        if temporal and not explicit:
            explicit = [pa.field(name, pa.string()) for name in temporal]
            continue
        if any(_has_temporal(f.type) for f in first.schema):
            raise _Fallback  # the text of nested timestamps: exact only in Python
        break
    for batch in itertools.chain([first], batches):
        try:
            out = normalize(batch, string_columns)
        except UnicodeDecodeError:  # in a list's text: Python names the line
            raise _Fallback from None
        for field, column in zip(out.schema, out.columns, strict=True):
            fixed = columns.types.get(field.name)
            if fixed is not None and not pa.types.is_null(field.type) and field.type != fixed:
                raise _Fallback  # a type changed: Python applies the fixed types
            if pa.types.is_string(field.type):
                try:
                    column.validate(full=True)
                except pa.ArrowInvalid:
                    raise _Fallback from None  # not UTF-8: Python names the line
        columns.observe(out)
        yield out


def _has_temporal(type_: pa.DataType) -> bool:
    if pa.types.is_struct(type_):
        return any(_has_temporal(f.type) for f in type_)
    return pa.types.is_temporal(type_)


def read_json(
    split: Split,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
) -> Iterator[pa.RecordBatch]:
    """Record batches of one JSON Lines file (see the module docstring)."""
    uri = split.uri
    columns = TypedColumns(uri, string_columns)
    done = 0
    try:
        for batch in _arrow_batches(uri, columns, string_columns):
            done += batch.num_rows
            yield from slices(batch, batch_rows)
    except (pa.ArrowInvalid, _Fallback):
        # Arrow stopped (or cannot be trusted) here: go on in Python.
        done += yield from _python_batches(uri, done, columns, batch_rows)
    if done == 0:
        raise InputError("the file is empty", source=uri)
