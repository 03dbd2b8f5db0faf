"""Distances between a baseline distribution and the current one.

Numeric features are compared through their KLL sketches, categorical ones
through their value counts, as in Deequ (which SageMaker's analyzer is built on):

* ``Simple``: the L-infinity distance, the largest absolute difference between
  the two empirical CDFs, evaluated at every item either sketch retains.
* ``Robust``: the Simple distance less the two-sample Kolmogorov–Smirnov
  critical value at alpha ~= 0.003, ``max(0, d - 1.8 * sqrt((n + m) / (n * m)))``.
  It discounts the distance that two samples of sizes n and m from the *same*
  distribution would show by chance, so small windows of traffic do not raise
  false drift alarms, while large windows keep nearly the Simple distance.
  This is Deequ's ``linf_robust`` (c(alpha) = 1.8, Knuth TAOCP vol. 2 §3.3.1).
* ``ChiSquared`` (categorical only): the p-value of Pearson's goodness-of-fit test
  of the current counts against the baseline proportions, after Deequ's
  regrouping of rare categories (Cochran's rule for two categories, Yates'
  20%/5 rule for more). Small p-values mean drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from modelmon.analysis.kll import LevelCdf

KS_C_ALPHA = 1.8
_MIN_CATEGORIES = 2
_YATES_ABS, _YATES_PERC, _COCHRAN_ABS = 5.0, 0.2, 10.0


def robust(distance: float, n: float, m: float) -> float:
    """Deequ's linf_robust correction of an L-infinity distance for sample sizes n, m."""
    if n <= 0 or m <= 0:
        return distance
    return max(0.0, distance - KS_C_ALPHA * math.sqrt((n + m) / (n * m)))


def numeric_distance(
    baseline_levels: Sequence[Sequence[float]],
    current_levels: Sequence[Sequence[float]],
    method: str = "Simple",
) -> float:
    """L-infinity distance of the CDFs of two KLL sketches (``Simple`` or ``Robust``)."""
    base, cur = LevelCdf(baseline_levels), LevelCdf(current_levels)
    if base.total == 0 or cur.total == 0:
        return 0.0
    points = np.union1d(base.values, cur.values)
    distance = float(np.max(np.abs(base.cdf(points) - cur.cdf(points))))
    return robust(distance, base.total, cur.total) if method == "Robust" else distance


def categorical_linf(
    baseline: Mapping[str, float], current: Mapping[str, float], method: str = "Simple"
) -> float:
    """L-infinity distance of two categorical frequency distributions."""
    n, m = float(sum(baseline.values())), float(sum(current.values()))
    if n == 0 or m == 0:
        return 0.0
    distance = max(
        abs(baseline.get(key, 0.0) / n - current.get(key, 0.0) / m)
        for key in set(baseline) | set(current)
    )
    return robust(distance, n, m) if method == "Robust" else distance


def categorical_chi_squared(baseline: Mapping[str, float], current: Mapping[str, float]) -> float:
    """p-value of the chi-squared test of current counts against baseline proportions.

    Current values outside the baseline's categories are left out (as in Deequ);
    NaN when fewer than two categories remain after regrouping.
    """
    base_total = float(sum(baseline.values()))
    sample_total = float(sum(v for k, v in current.items() if k in baseline))
    if base_total == 0 or sample_total == 0:
        return math.nan
    expected = {k: v / base_total * sample_total for k, v in baseline.items()}
    sample = {k: float(current.get(k, 0.0)) for k in baseline}
    while len(expected) >= _MIN_CATEGORIES:
        if len(expected) > _MIN_CATEGORIES:
            floor, allowed = _YATES_ABS, int(_YATES_PERC * len(expected))
        else:
            floor, allowed = _COCHRAN_ABS, 0
        if sum(1 for v in expected.values() if v < floor) <= allowed:
            break
        smallest = min(expected, key=expected.__getitem__)
        small_expected, small_sample = expected.pop(smallest), sample.pop(smallest)
        second = min(expected, key=expected.__getitem__)
        expected[second] += small_expected
        sample[second] += small_sample
    if len(expected) < _MIN_CATEGORIES:
        return math.nan
    from scipy import stats as scipy_stats  # heavy (~1 s) and only needed here

    keys = list(expected)
    observed = np.array([sample[k] for k in keys])
    exp = np.array([expected[k] for k in keys])
    return float(scipy_stats.chisquare(observed, exp * observed.sum() / exp.sum()).pvalue)
