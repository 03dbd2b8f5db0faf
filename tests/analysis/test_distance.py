"""Distances against independent computations (scipy, numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from modelmon.analysis.distance import (
    categorical_chi_squared,
    categorical_linf,
    numeric_distance,
    robust,
)


def test_simple_distance_is_the_two_sample_ks_statistic_for_exact_sketches() -> None:
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(0, 1, 1500), 2)
    b = np.round(rng.normal(0.3, 1.2, 900), 2)
    expected = stats.ks_2samp(a, b).statistic
    assert numeric_distance([a.tolist()], [b.tolist()], "Simple") == pytest.approx(expected)


def test_weighted_levels_count_twice_per_level() -> None:
    # [1, 2] at level 0 plus [3] at level 1 is the sample 1, 2, 3, 3
    assert numeric_distance([[1.0, 2.0], [3.0]], [[1.0, 2.0, 3.0, 3.0]]) == 0.0
    # CDFs 1/4, 2/4, 1 against 1/3, 2/3, 1: the largest gap is at 2
    assert numeric_distance([[1.0, 2.0], [3.0]], [[1.0, 2.0, 3.0]]) == pytest.approx(1 / 6)


def test_robust_subtracts_the_ks_critical_value() -> None:
    n, m = 400, 100
    assert robust(0.5, n, m) == pytest.approx(0.5 - 1.8 * math.sqrt((n + m) / (n * m)))
    assert robust(0.01, n, m) == 0.0
    a, b = [[0.0] * 40 + [1.0] * 60], [[0.0] * 70 + [1.0] * 30]
    simple = numeric_distance(a, b, "Simple")
    assert simple == pytest.approx(0.3)
    assert numeric_distance(a, b, "Robust") == pytest.approx(robust(0.3, 100, 100))


def test_categorical_linf() -> None:
    base = {"a": 50, "b": 30, "c": 20}
    cur = {"a": 10, "b": 10, "d": 5}
    expected = max(abs(0.5 - 0.4), abs(0.3 - 0.4), abs(0.2 - 0), abs(0 - 0.2))
    assert categorical_linf(base, cur) == pytest.approx(expected)


def test_chi_squared_matches_scipy_when_no_regrouping() -> None:
    base = {"a": 500, "b": 300, "c": 200}
    cur = {"a": 40, "b": 40, "c": 20, "unseen": 7}
    observed = np.array([40, 40, 20])
    expected = np.array([0.5, 0.3, 0.2]) * observed.sum()
    assert categorical_chi_squared(base, cur) == pytest.approx(
        stats.chisquare(observed, expected).pvalue
    )


def test_chi_squared_regroups_rare_categories() -> None:
    # "c" and "d" expect fewer than 5 each (> 20% of 4 categories) and are merged
    base = {"a": 500, "b": 400, "c": 30, "d": 20}
    cur = {"a": 50, "b": 40, "c": 1, "d": 4}
    observed = np.array([50, 40, 5])
    probs = np.array([500, 400, 50]) / 950
    assert categorical_chi_squared(base, cur) == pytest.approx(
        stats.chisquare(observed, probs * observed.sum()).pvalue
    )
    assert math.isnan(categorical_chi_squared({"a": 5}, {"a": 5}))
