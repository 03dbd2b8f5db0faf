"""Arrow columns from Python values (parsed JSON), with types fixed per reader.

Rules: only ints -> int64; ints and floats -> float64; only strings -> string;
booleans -> "true"/"false"; anything else, or a mix, -> text (strings as they
are, other values as JSON text). A column's type is fixed by the first batch
in which it has values; later values that do not fit raise SchemaChange.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from modelmon.analysis.readers.signals import SchemaChange

_INT64 = (-(2**63), 2**63 - 1)


def json_text(value: Any) -> str:
    """A value as text: strings as they are, booleans as true/false, others as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def flatten_record(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects spread into dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_record(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _kinds(values: Iterable[Any]) -> set[type]:
    kinds = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add(bool)
        elif isinstance(value, int):
            kinds.add(int if _INT64[0] <= value <= _INT64[1] else float)
        elif isinstance(value, float):
            kinds.add(float)
        elif isinstance(value, str):
            kinds.add(str)
        else:
            kinds.add(object)
    return kinds


def _text(values: Sequence[Any]) -> pa.Array:
    return pa.array([None if v is None else json_text(v) for v in values], pa.string())


def infer_array(values: Sequence[Any]) -> pa.Array:
    """An Arrow column of the values, typed by the module's rules."""
    kinds = _kinds(values)
    if not kinds:
        return pa.nulls(len(values))
    if kinds == {int}:
        return pa.array(values, pa.int64())
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds == {str}:
        return pa.array(values, pa.string())
    return _text(values)


class TypedColumns:
    """Column names and types of one reader, fixed as batches go by."""

    def __init__(self, source: str, string_columns: frozenset[str] = frozenset()) -> None:
        self.source = source
        self.string_columns = string_columns
        self.names: list[str] = []
        self.types: dict[str, pa.DataType] = {}

    def observe(self, batch: pa.RecordBatch) -> None:
        """Record the names and types of a batch produced elsewhere."""
        for field in batch.schema:
            if field.name not in self.types and field.name not in self.names:
                self.names.append(field.name)
            if not pa.types.is_null(field.type):
                self.types.setdefault(field.name, field.type)

    def batch(self, rows: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
        """A batch of ``rows`` (dicts) over every column seen so far."""
        known = set(self.names)
        for row in rows:
            for name in row:
                if name not in known:
                    known.add(name)
                    self.names.append(name)
        arrays, changed = [], []
        for name in self.names:
            values = [row.get(name) for row in rows]
            array = self._convert(name, values)
            if array is None:
                changed.append(name)
                continue
            arrays.append(array)
        if changed:
            raise SchemaChange(changed, source=self.source)
        return pa.RecordBatch.from_arrays(arrays, names=self.names)

    def _convert(self, name: str, values: Sequence[Any]) -> pa.Array | None:
        fixed = self.types.get(name)
        if name in self.string_columns or (fixed is not None and pa.types.is_string(fixed)):
            array = _text(values)
        else:
            array = infer_array(values)
        if pa.types.is_null(array.type):
            return array if fixed is None else pa.nulls(len(values), fixed)
        if fixed is None:
            self.types[name] = array.type
            return array
        if array.type.equals(fixed):
            return array
        if pa.types.is_floating(fixed) and pa.types.is_integer(array.type):
            return array.cast(fixed)
        if pa.types.is_large_string(fixed) and pa.types.is_string(array.type):
            return array.cast(fixed)
        return None
