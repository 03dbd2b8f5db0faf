"""Mergeable column profiles: the partial results the analyzer builds batch by batch.

A :class:`DatasetProfile` holds one :class:`ColumnProfile` per column; a column
profile is a bag of small metrics, each with ``update`` (one Arrow array) and
``merge`` (another partial profile of the same column). Merging is associative,
so a dataset can be profiled in any split across batches, files, processes or
machines and give the same numbers (sketches aside, which stay within their
error bounds).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import datasketches
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelmon.analysis.kll import new_sketch, sketch_levels
from modelmon.formats.statistics import KLL_K

# Per-value type classification of text (Deequ's DataType analyzer, SPEC §1.2),
# tightened to need at least one digit; exponents count as fractional.
INTEGRAL_PATTERN = r"^[-+]? ?\d+$"
FRACTIONAL_PATTERN = r"^[-+]? ?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+|\.\d+[eE][-+]?\d+)$"

# Exact category counts are kept up to this many distinct values per column;
# past it the column switches to a frequent-items sketch and an HLL estimate.
MAX_EXACT_CATEGORIES = 16384
_FREQUENT_LG_MAX_MAP = 14
_HLL_LG_K = 14
# Integer columns whose values span fewer than this many integers are tallied
# exactly instead of sketched (each KLL level then holds at most this many items).
MAX_TALLY_SPAN = KLL_K


@dataclass
class NumericMetric:
    """Count, sum, mean/variance (Chan et al. merge), min, max and a KLL sketch.

    While a column has at most ``KLL_K`` values they are also kept verbatim, in
    input order (``head``): the sketch then holds exactly those values, and
    statistics.json can list them in input order and compute sum and standard
    deviation in the same sequential order as SageMaker's Spark job, to the
    last digit.
    """

    count: int = 0
    total: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    sketch: datasketches.kll_doubles_sketch = field(default_factory=new_sketch)
    head: list[np.ndarray] | None = field(default_factory=list)
    # Exact counts of integer values lo, lo+1, … while every value so far was an
    # integer within a span of MAX_TALLY_SPAN (flags, counts, codes): tallying
    # is far cheaper than sketching each value, and exact. None once sketched.
    tally: np.ndarray | None = field(default_factory=lambda: np.zeros(0, np.int64))
    tally_lo: int = 0

    def update_integers(self, values: np.ndarray) -> None:
        """Add int64 values (tallied exactly while their span is small)."""
        n = len(values)
        if n == 0:
            return
        if self.tally is None:
            self.update(values.astype(np.float64))
            return
        low, high = int(values.min()), int(values.max())
        lo, hi = low, high
        if len(self.tally):
            lo, hi = min(lo, self.tally_lo), max(hi, self.tally_lo + len(self.tally) - 1)
        if hi - lo >= MAX_TALLY_SPAN:
            self._flush_tally()
            self.update(values.astype(np.float64))
            return
        batch = np.bincount(values - lo, minlength=hi - lo + 1)
        counts = batch.copy()
        if len(self.tally):
            offset = self.tally_lo - lo
            counts[offset : offset + len(self.tally)] += self.tally
        self.tally, self.tally_lo = counts, lo
        support = np.arange(lo, hi + 1, dtype=np.float64)
        total = float(batch @ support)
        mean = total / n
        m2 = float(batch @ np.square(support - mean))
        self._combine(n, total, mean, m2, float(low), float(high))
        if self.head is not None:
            self.head = [*self.head, values.astype(np.float64)] if self.count <= KLL_K else None

    def _flush_tally(self) -> None:
        """Move tallied values into the sketch (from then on every value is sketched)."""
        if self.tally is not None and len(self.tally):
            support = np.arange(self.tally_lo, self.tally_lo + len(self.tally), dtype=np.float64)
            self.sketch.update(np.repeat(support, self.tally))
        self.tally = None

    def update(self, values: np.ndarray) -> None:
        """Add finite float64 values."""
        n = len(values)
        if n == 0:
            return
        self._flush_tally()
        total = float(values.sum())
        mean = total / n
        m2 = float(np.square(values - mean).sum())
        self._combine(n, total, mean, m2, float(values.min()), float(values.max()))
        if self.head is not None:
            self.head = [*self.head, values.copy()] if self.count <= KLL_K else None
        # the DataSketches binding only takes writable arrays (Arrow buffers are read-only)
        self.sketch.update(values if values.flags.writeable else values.copy())

    def merge(self, other: NumericMetric) -> None:
        if other.count == 0:
            return
        if self.head is not None and other.head is not None:
            head = self.head + other.head if self.count + other.count <= KLL_K else None
        else:
            head = None
        self._merge_tally(other)
        self._combine(other.count, other.total, other.mean, other.m2, other.minimum, other.maximum)
        self.head = head
        if self.tally is None:
            self.sketch.merge(other.sketch)

    def _merge_tally(self, other: NumericMetric) -> None:
        if self.tally is not None and other.tally is not None:
            if not len(other.tally):
                return
            if not len(self.tally):
                self.tally, self.tally_lo = other.tally.copy(), other.tally_lo
                return
            lo = min(self.tally_lo, other.tally_lo)
            hi = max(self.tally_lo + len(self.tally), other.tally_lo + len(other.tally))
            if hi - lo <= MAX_TALLY_SPAN:
                merged = np.zeros(hi - lo, np.int64)
                for t, t_lo in ((self.tally, self.tally_lo), (other.tally, other.tally_lo)):
                    merged[t_lo - lo : t_lo - lo + len(t)] += t
                self.tally, self.tally_lo = merged, lo
                return
        self._flush_tally()
        if other.tally is not None and len(other.tally):
            support = np.arange(other.tally_lo, other.tally_lo + len(other.tally), dtype=np.float64)
            self.sketch.update(np.repeat(support, other.tally))

    def levels(self) -> list[list[float]]:
        """The distribution as KLL levels (an item at level i stands for 2**i values).

        Kept values: one level, input order. Tallied values: value v with count c
        appears at level i for every bit i set in c (exact). Else the sketch's levels.
        """
        kept = self.values_in_order()
        if kept is not None and len(kept):
            return [kept.tolist()]
        if self.tally is not None:
            support = np.arange(self.tally_lo, self.tally_lo + len(self.tally), dtype=np.float64)
            counts = self.tally
            top = int(counts.max()).bit_length() if len(counts) else 0
            return [support[(counts >> i) & 1 == 1].tolist() for i in range(top)]
        return sketch_levels(self.sketch)

    def _combine(self, n: int, total: float, mean: float, m2: float, lo: float, hi: float) -> None:
        count = self.count + n
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta * delta * self.count * n / count
        self.mean = self.mean + delta * n / count
        self.count = count
        self.total += total
        self.minimum = min(self.minimum, lo)
        self.maximum = max(self.maximum, hi)

    def values_in_order(self) -> np.ndarray | None:
        """Every value in input order while there are at most KLL_K of them, else None."""
        if self.head is None:
            return None
        return np.concatenate(self.head) if self.head else np.empty(0)

    def exact_sum_and_std(self) -> tuple[float, float]:
        """Sum and population std dev; sequential (Spark's order) when the values are kept."""
        values = self.values_in_order()
        if values is None or len(values) == 0:
            return self.total, self.std_dev
        n, mean, m2 = 0, 0.0, 0.0
        for value in values.tolist():  # Welford, as Spark's stddev_pop aggregates
            n += 1
            delta = value - mean
            delta_n = delta / n
            mean += delta_n
            m2 += delta * (delta - delta_n)
        return float(np.cumsum(values)[-1]), math.sqrt(m2 / n)

    @property
    def std_dev(self) -> float:
        """Population standard deviation."""
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["sketch"] = self.sketch.serialize()  # nanobind objects do not pickle
        return state

    def __setstate__(self, state: dict) -> None:
        state["sketch"] = datasketches.kll_doubles_sketch.deserialize(state["sketch"])
        self.__dict__.update(state)


@dataclass
class CategoryMetric:
    """Frequencies of text values: exact while small, sketched when large."""

    counts: Counter[str] | None = field(default_factory=Counter)
    frequent: datasketches.frequent_strings_sketch | None = None
    hll: datasketches.hll_sketch = field(default_factory=lambda: datasketches.hll_sketch(_HLL_LG_K))

    def update(self, values: pa.Array) -> None:
        """Add a string array without nulls."""
        if len(values) == 0:
            return
        tallies = pc.value_counts(values)
        self.add_counts(tallies.field("values"), tallies.field("counts"))

    def add_counts(self, distinct: pa.Array, counts: pa.Array) -> None:
        """Add distinct values with how often each occurred."""
        keys = distinct.to_pylist()
        freqs = counts.to_pylist()
        for key in keys:
            self.hll.update(key)
        self._add(zip(keys, freqs, strict=True))

    def _add(self, pairs) -> None:
        if self.counts is not None:
            for key, freq in pairs:
                self.counts[key] += freq
            if len(self.counts) > MAX_EXACT_CATEGORIES:
                self._to_sketch()
        else:
            assert self.frequent is not None
            for key, freq in pairs:
                self.frequent.update(key, freq)

    def _to_sketch(self) -> None:
        assert self.counts is not None
        self.frequent = datasketches.frequent_strings_sketch(_FREQUENT_LG_MAX_MAP)
        for key, freq in self.counts.items():
            self.frequent.update(key, freq)
        self.counts = None

    def merge(self, other: CategoryMetric) -> None:
        union = datasketches.hll_union(_HLL_LG_K)
        union.update(self.hll)
        union.update(other.hll)
        self.hll = union.get_result()
        if other.counts is not None:
            self._add(other.counts.items())
        else:
            if self.counts is not None:
                self._to_sketch()
            assert self.frequent is not None and other.frequent is not None
            self.frequent.merge(other.frequent)

    @property
    def exact(self) -> bool:
        return self.counts is not None

    def distinct_count(self) -> float:
        """Exact number of distinct values when known, else the HLL estimate."""
        if self.counts is not None:
            return float(len(self.counts))
        return float(round(self.hll.get_estimate()))

    def count_of(self, values: set[str]) -> int:
        """How many tallied values are in ``values`` (estimated once sketched)."""
        if self.counts is not None:
            return sum(self.counts.get(v, 0) for v in values)
        assert self.frequent is not None
        return sum(int(self.frequent.get_estimate(v)) for v in values)

    def top(self, limit: int) -> list[tuple[str, int]]:
        """The most frequent values with their counts, most frequent first."""
        if self.counts is not None:
            items = list(self.counts.items())
        else:
            assert self.frequent is not None
            items = [
                (item, int(estimate))
                for item, estimate, _lo, _hi in self.frequent.get_frequent_items(
                    datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES
                )
            ]
        items.sort(key=lambda kv: (-kv[1], kv[0]))
        return items[:limit]

    def __getstate__(self) -> dict:
        return {
            "counts": self.counts,
            "frequent": self.frequent.serialize() if self.frequent is not None else None,
            "hll": self.hll.serialize_compact(),
        }

    def __setstate__(self, state: dict) -> None:
        self.counts = state["counts"]
        frequent = state["frequent"]
        self.frequent = (
            datasketches.frequent_strings_sketch.deserialize(frequent) if frequent else None
        )
        self.hll = datasketches.hll_sketch.deserialize(state["hll"])


_NUMPY_TYPES = {pa.int64(): np.int64, pa.float64(): np.float64}


def as_numpy(array: pa.Array) -> np.ndarray:
    """A null-free int64, float64 or boolean Arrow array as numpy (zero-copy but for
    booleans), without ``Array.to_numpy``: that imports pandas when it is installed,
    about 0.2 s of every analyzer process's start-up."""
    if array.null_count == 0:
        dtype = _NUMPY_TYPES.get(array.type)
        if dtype is not None:
            if len(array) == 0:
                return np.empty(0, dtype)
            width = np.dtype(dtype).itemsize
            data = array.buffers()[1]
            return np.frombuffer(data, dtype, count=len(array), offset=array.offset * width)
        if pa.types.is_boolean(array.type):
            if len(array) == 0:
                return np.empty(0, bool)
            bits = np.unpackbits(np.frombuffer(array.buffers()[1], np.uint8), bitorder="little")
            return bits[array.offset : array.offset + len(array)].astype(bool)
    return array.to_numpy(zero_copy_only=False)


@dataclass
class ColumnProfile:
    """Everything the analyzer needs to know about one column, mergeable."""

    name: str
    rows: int = 0
    missing: int = 0
    integral: int = 0
    fractional: int = 0
    string: int = 0
    numeric: NumericMetric = field(default_factory=NumericMetric)
    categories: CategoryMetric = field(default_factory=CategoryMetric)

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        """Profile one batch of this column (int64, float64, string or null)."""
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.update(chunk)
            return
        kind = array.type
        self.rows += len(array)
        if pa.types.is_null(kind):
            self.missing += len(array)
            return
        if pa.types.is_integer(kind):
            values = array.drop_null() if array.null_count else array
            self.missing += array.null_count
            self.integral += len(values)
            self.numeric.update_integers(as_numpy(values))
        elif pa.types.is_floating(kind):
            self._update_floats(array)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            self._update_strings(array)
        else:
            raise TypeError(f"column {self.name!r}: unsupported Arrow type {kind}")

    def _update_floats(self, array: pa.Array) -> None:
        nulls = array.null_count
        values = as_numpy(array.drop_null() if nulls else array).astype(np.float64, copy=False)
        # nulls and NaN count as missing
        present = ~np.isnan(values)
        n_present = int(present.sum())
        self.missing += nulls + len(values) - n_present
        self.fractional += n_present
        if n_present != len(values):
            values = values[present]
        finite = np.isfinite(values)
        self.numeric.update(values if finite.all() else values[finite])

    def _update_strings(self, array: pa.Array) -> None:
        self.missing += array.null_count
        values = array.drop_null() if array.null_count else array
        if len(values) == 0:
            return
        tallies = pc.value_counts(values)
        distinct, counts = tallies.field("values"), tallies.field("counts")
        if len(values) > KLL_K and len(distinct) * 2 < len(values):
            # few distinct values: classify each once and weigh it by its count
            # (per-value order only matters while at most KLL_K values are kept)
            self._classify(distinct, as_numpy(counts))
        else:
            self._classify(values, None)
        self.categories.add_counts(distinct, counts)

    def _classify(self, values: pa.Array, weights: np.ndarray | None) -> None:
        """Count integral/fractional/text values; numbers also go to the numeric metric."""
        integral = pc.match_substring_regex(values, INTEGRAL_PATTERN)
        fractional = pc.match_substring_regex(values, FRACTIONAL_PATTERN)
        if weights is None:
            n_int = pc.sum(integral).as_py() or 0
            n_frac = pc.sum(fractional).as_py() or 0
            n_all = len(values)
        else:
            n_int = int(weights[as_numpy(integral)].sum())
            n_frac = int(weights[as_numpy(fractional)].sum())
            n_all = int(weights.sum())
        self.integral += n_int
        self.fractional += n_frac
        self.string += n_all - n_int - n_frac
        if n_int or n_frac:
            is_number = pc.or_(integral, fractional)
            numbers = as_numpy(
                pc.cast(pc.replace_substring(values.filter(is_number), " ", ""), pa.float64())
            )
            if weights is not None:
                numbers = np.repeat(numbers, weights[as_numpy(is_number)])
            self.numeric.update(numbers)

    def merge(self, other: ColumnProfile) -> None:
        """Fold another partial profile of the same column into this one."""
        self.rows += other.rows
        self.missing += other.missing
        self.integral += other.integral
        self.fractional += other.fractional
        self.string += other.string
        self.numeric.merge(other.numeric)
        self.categories.merge(other.categories)

    def inferred_type(self) -> str:
        """Deequ's rule: any text → String; else any fractional → Fractional; else Integral."""
        if self.present == 0:
            return "Unknown"
        if self.string:
            return "String"
        if self.fractional:
            return "Fractional"
        return "Integral"


@dataclass
class DatasetProfile:
    """Column profiles of one dataset, in column order, plus the row count."""

    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    rows: int = 0

    def update(self, batch: pa.RecordBatch) -> None:
        """Profile one record batch; columns first seen here are added at the end."""
        self.rows += batch.num_rows
        names = batch.schema.names
        for name, array in zip(names, batch.columns, strict=True):
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = ColumnProfile(name, rows=self.rows - batch.num_rows)
                column.missing = column.rows  # absent in earlier batches = missing there
            column.update(array)
        if len(self.columns) > len(names):
            present = set(names)
            for name, column in self.columns.items():
                if name not in present:
                    column.rows += batch.num_rows
                    column.missing += batch.num_rows

    def merge(self, other: DatasetProfile) -> None:
        """Fold in another partial profile (e.g. another file or split)."""
        for name, column in self.columns.items():
            if name in other.columns:
                column.merge(other.columns[name])
            else:
                column.rows += other.rows
                column.missing += other.rows
        for name, column in other.columns.items():
            if name not in self.columns:
                mine = ColumnProfile(name, rows=self.rows, missing=self.rows)
                mine.merge(column)
                self.columns[name] = mine
        self.rows += other.rows
