"""The readers' output contract: columns of int64, float64, string or null only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ALLOWED = (pa.int64(), pa.float64(), pa.string(), pa.large_string(), pa.null())


def is_allowed(type_: pa.DataType) -> bool:
    """Whether a column of this type may leave a reader as it is."""
    return any(type_.equals(t) for t in ALLOWED)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def to_text(array: pa.Array) -> pa.Array:
    """Any column as strings: scalars as Arrow prints them, nested values as JSON."""
    type_ = array.type
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return array
    if pa.types.is_dictionary(type_):
        return to_text(array.dictionary_decode())
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_):
        return array.cast(pa.string())  # validates UTF-8
    if pa.types.is_nested(type_):
        return pa.array(
            [None if v is None else _json_text(v) for v in array.to_pylist()], pa.string()
        )
    return pc.cast(array, pa.string())


def conform(array: pa.Array) -> pa.Array:
    """One column converted to an allowed type (see the module docstring)."""
    type_ = array.type
    if is_allowed(type_):
        return array
    if pa.types.is_dictionary(type_):
        return conform(array.dictionary_decode())
    if pa.types.is_integer(type_):
        try:
            return pc.cast(array, pa.int64())
        except pa.ArrowInvalid:  # uint64 beyond int64
            return pc.cast(array, pa.float64())
    if pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return pc.cast(array, pa.float64())
    return to_text(array)


def flatten(batch: pa.RecordBatch) -> Iterator[tuple[str, pa.Array]]:
    """Columns of ``batch`` with struct columns spread into dotted names (``a.b``)."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        yield from _flatten(name, column)


def _flatten(name: str, column: pa.Array) -> Iterator[tuple[str, pa.Array]]:
    if not pa.types.is_struct(column.type):
        yield name, column
        return
    if column.type.num_fields == 0:
        return
    for child, field in zip(column.flatten(), column.type, strict=True):
        yield from _flatten(f"{name}.{field.name}", child)


def normalize(
    batch: pa.RecordBatch, string_columns: frozenset[str] = frozenset()
) -> pa.RecordBatch:
    """``batch`` flattened, with every column of an allowed type; ``string_columns`` as text."""
    names, arrays = [], []
    for name, column in flatten(batch):
        names.append(name)
        arrays.append(to_text(column) if name in string_columns else conform(column))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def slices(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    """``batch`` cut into batches of at most ``rows`` rows (empty batches dropped)."""
    if batch.num_rows <= rows:
        if batch.num_rows:
            yield batch
        return
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)
