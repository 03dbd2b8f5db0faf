"""KLL quantile sketches: Apache DataSketches for building, plain arrays for reading.

Sketches are built with ``datasketches.kll_doubles_sketch`` (k = 2048, SageMaker's
sketch size). statistics.json stores a sketch as its compactor levels
(``sketch.data``): level 0 first, an item at level ``i`` standing for ``2**i``
input values. This module turns a DataSketches sketch into those levels (level 0
in input order, as the SageMaker container prints it) and answers rank and CDF
questions from levels, so sketches written by SageMaker and by modelmon are read
the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import datasketches
import numpy as np

from modelmon.formats.statistics import KLL_K

_EMPTY_FLAG = 1
_SINGLE_ITEM_FLAG = 4


def new_sketch() -> datasketches.kll_doubles_sketch:
    """A fresh KLL sketch with SageMaker's size parameter."""
    return datasketches.kll_doubles_sketch(KLL_K)


def sketch_levels(sketch: datasketches.kll_doubles_sketch) -> list[list[float]]:
    """The sketch's compactor levels, level 0 first, decoded from its serialised form.

    Layout (DataSketches KLL, serial versions 1 and 2): an 8-byte preamble
    (preamble ints, serial version, family, flags, k, m), then, unless the sketch
    is empty or holds one item: n (u64), min k (u16), number of levels (u8), a
    pad byte, the level start offsets (u32 each), min and max (f64), and the
    retained items from level 0 upwards. Level 0 is stored newest first.
    """
    data = sketch.serialize()
    flags = data[3]
    if flags & _EMPTY_FLAG or sketch.is_empty():
        return []
    if flags & _SINGLE_ITEM_FLAG:
        return [[struct.unpack_from("<d", data, 8)[0]]]
    num_levels = data[18]
    offsets = list(struct.unpack_from(f"<{num_levels}I", data, 20))
    items_at = 20 + 4 * num_levels + 16
    items = np.frombuffer(data, dtype="<f8", offset=items_at)
    offsets.append(offsets[0] + len(items))
    base = offsets[0]
    levels = [items[offsets[i] - base : offsets[i + 1] - base].tolist() for i in range(num_levels)]
    levels[0].reverse()
    while levels and not levels[-1]:
        levels.pop()
    return levels


class LevelCdf:
    """Ranks over a sketch given as levels (item at level i weighs 2**i)."""

    def __init__(self, levels: Sequence[Sequence[float]]) -> None:
        items = [np.asarray(level, dtype=np.float64) for level in levels]
        weights = [np.full(len(level), float(2**i)) for i, level in enumerate(items)]
        values = np.concatenate(items) if items else np.empty(0)
        w = np.concatenate(weights) if weights else np.empty(0)
        order = np.argsort(values, kind="stable")
        self.values = values[order]
        self.cumulative = np.cumsum(w[order])
        self.total = float(self.cumulative[-1]) if len(self.cumulative) else 0.0

    def rank(self, points: np.ndarray, *, inclusive: bool) -> np.ndarray:
        """Total weight of items ``<= points`` (inclusive) or ``< points``."""
        idx = np.searchsorted(self.values, points, side="right" if inclusive else "left")
        padded = np.concatenate(([0.0], self.cumulative))
        return padded[idx]

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Fraction of weight ``<= points``."""
        if self.total == 0:
            return np.zeros(len(points))
        return self.rank(points, inclusive=True) / self.total


def equal_width_buckets(
    levels: Sequence[Sequence[float]], minimum: float, maximum: float, bins: int = 10
) -> list[tuple[float, float, float]]:
    """SageMaker's 10 equal-width buckets from min to max with counts from the sketch.

    Bounds are ``min + (max - min) * i / bins`` (Deequ's arithmetic, so float
    error such as ``60.379999999999995`` is kept, and the last upper bound may
    differ from max in the last digit). A value on an interior boundary belongs
    to the bucket it starts; the last bucket holds everything from its lower
    bound up, max included.
    """
    cdf = LevelCdf(levels)
    bounds = [minimum + (maximum - minimum) * i / float(bins) for i in range(bins + 1)]
    lows = np.array(bounds[:-1])
    highs = np.array(bounds[1:])
    below_low = cdf.rank(lows, inclusive=False)
    below_high = cdf.rank(highs, inclusive=False)
    below_high[-1] = cdf.total
    counts = below_high - below_low
    return [(bounds[i], bounds[i + 1], float(counts[i])) for i in range(bins)]
