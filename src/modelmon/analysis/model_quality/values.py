"""Raw label, prediction and probability values -> the arrays the metrics take.

Values arrive as Arrow arrays (text from captured payloads and ground-truth
records, numbers or text from datasets). Every bad value fails with an
:class:`~modelmon.errors.InputError` naming the file and line (or row) it came
from, through :class:`Locations`; nothing is dropped.

* Binary labels and predicted classes: with ``positive_label``, a value equal
  to it (as text, or as a number: ``1`` = ``1.0``) is class 1 and any other
  value class 0; without it, the value must be 0 or 1 (``true``/``false`` too).
* Probabilities: numbers in [0, 1]; class 1 when ``>= threshold``.
* Multiclass labels: text; numbers in canonical form (``1.0`` and ``1`` are
  class ``1``).
* Regression values: finite numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelmon.errors import InputError


@dataclass
class Locations:
    """Where each value came from: ``files[file[i]]``, 1-based ``line[i]`` (0 = unknown).

    ``line_of`` (optional) turns (file index, row number) into a line number for
    files whose lines are only counted when an error needs them.
    """

    files: Sequence[str]
    file: np.ndarray
    line: np.ndarray
    line_of: Callable[[int, int], int | None] | None = None
    row_based: bool = False

    def take(self, indices: np.ndarray) -> Locations:
        return Locations(
            self.files, self.file[indices], self.line[indices], self.line_of, self.row_based
        )

    def error(self, i: int, reason: str, field: str | None = None) -> InputError:
        """An InputError for value ``i`` naming its file and line."""
        uri = self.files[int(self.file[i])] if len(self.files) else None
        number = int(self.line[i])
        if self.row_based:
            line = self.line_of(int(self.file[i]), number) if self.line_of else None
            if line is None:
                return InputError(f"row {number}: {reason}", source=uri, field=field)
            number = line
        return InputError(reason, source=uri, line=number or None, field=field)


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _shown(array: pa.Array, i: int) -> str:
    return repr(array[i].as_py())


def _nulls(array: pa.Array, where: Locations, what: str, field: str | None) -> None:
    if array.null_count:
        i = _first(np.asarray(array.is_null()))
        raise where.error(i, f"{what} is missing", field)


def _text(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return pc.utf8_trim_whitespace(array)
    if pa.types.is_boolean(array.type):
        return pc.if_else(array, "1", "0")
    if pa.types.is_floating(array.type):
        return canonical_numbers(array)
    return pc.cast(array, pa.string())


def canonical_numbers(array: pa.Array) -> pa.Array:
    """Float values as text: integral ones without a fraction (``1.0`` -> ``1``)."""
    values = array.to_numpy(zero_copy_only=False)
    integral = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2**53)
    out = np.where(
        integral,
        np.char.mod("%d", np.where(integral, values, 0).astype(np.int64)),
        np.array([repr(float(v)) for v in values]) if not integral.all() else "",
    )
    return pa.array(out.tolist(), pa.string(), mask=np.asarray(array.is_null()))


def numbers(array: pa.Array, where: Locations, what: str, field: str | None = None) -> np.ndarray:
    """``array`` as finite float64 values; InputError at the first one that is not."""
    _nulls(array, where, what, field)
    if (
        pa.types.is_integer(array.type)
        or pa.types.is_floating(array.type)
        or pa.types.is_boolean(array.type)
    ):
        values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    else:
        text = _text(array)
        try:
            values = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i, item in enumerate(text.to_pylist()):
                try:
                    float(item)
                except (TypeError, ValueError):
                    raise where.error(i, f"{what} {item!r} is not a number", field) from None
            raise
    bad = ~np.isfinite(values)
    if bad.any():
        i = _first(bad)
        raise where.error(i, f"{what} {_shown(array, i)} is not a finite number", field)
    return values


def probabilities(
    array: pa.Array, where: Locations, what: str = "probability", field: str | None = None
) -> np.ndarray:
    """Numbers in [0, 1]; InputError at the first one outside."""
    values = numbers(array, where, what, field)
    bad = (values < 0.0) | (values > 1.0)
    if bad.any():
        i = _first(bad)
        raise where.error(i, f"{what} {float(values[i])!r} is outside [0, 1]", field)
    return values


def class_names(array: pa.Array, where: Locations, what: str, field: str | None = None) -> pa.Array:
    """Multiclass labels as text (numbers canonical); InputError for a missing or empty one."""
    _nulls(array, where, what, field)
    text = _text(array)
    if pa.types.is_string(text.type):
        numeric = pc.cast(text, pa.float64(), safe=False) if _all_numeric(text) else None
        if numeric is not None:
            text = canonical_numbers(numeric)
    empty = np.asarray(pc.equal(pc.utf8_length(text), 0))
    if empty.any():
        raise where.error(_first(empty), f"{what} is empty", field)
    return text


def _all_numeric(text: pa.Array) -> bool:
    try:
        pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


_TRUE = ("1", "true")
_FALSE = ("0", "false")


def _not_binary(
    array: pa.Array, where: Locations, what: str, field: str | None, i: int
) -> InputError:
    return where.error(
        i,
        f"{what} {_shown(array, i)} is not 0 or 1 (set positive_label for other class names)",
        field,
    )


def binary_classes(
    array: pa.Array,
    where: Locations,
    what: str,
    positive_label: str | None = None,
    field: str | None = None,
) -> np.ndarray:
    """0/1 classes of labels or predicted classes (see the module docstring)."""
    _nulls(array, where, what, field)
    if positive_label is not None:
        text = class_names(array, where, what, field)
        positive = positive_label.strip()
        try:
            number = float(positive)
            if math.isfinite(number):
                positive = canonical_numbers(pa.array([number])).to_pylist()[0]
        except ValueError:
            pass
        return np.asarray(pc.equal(text, positive)).astype(np.int64)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        bad = (values != 0.0) & (values != 1.0)
        if bad.any():
            i = _first(bad)
            raise _not_binary(array, where, what, field, i)
        return values.astype(np.int64)
    text = pc.utf8_lower(_text(array))
    ones = np.asarray(pc.is_in(text, pa.array(_TRUE)))
    zeros = np.asarray(pc.is_in(text, pa.array(_FALSE)))
    other = ~(ones | zeros)
    if other.any():
        numeric = np.full(len(text), np.nan)
        for i in np.nonzero(other)[0]:
            try:
                numeric[i] = float(text[i].as_py())
            except ValueError:
                break
        bad = other & (numeric != 0.0) & (numeric != 1.0)
        if bad.any():
            i = _first(bad)
            raise _not_binary(array, where, what, field, i)
        ones = ones | (other & (numeric == 1.0))
    return ones.astype(np.int64)
