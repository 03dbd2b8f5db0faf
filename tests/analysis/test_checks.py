"""Checks on profiles of generated data: each check fires exactly when it should."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from modelmon.analysis.checks import run_checks
from modelmon.analysis.profile import DatasetProfile
from modelmon.analysis.statistics import build_statistics
from modelmon.analysis.suggest import suggest_constraints
from modelmon.formats import Constraints

SHIFTED = ("f2", "f5", "cat")


def _table(rows: int, seed: int, shift: bool) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(8):
        loc = 0.6 if shift and f"f{i}" in SHIFTED else 0.0
        cols[f"f{i}"] = rng.normal(loc, 1.0, rows)
    cols["n"] = rng.poisson(4, rows)
    probs = [0.2, 0.3, 0.5] if shift else [0.5, 0.3, 0.2]
    cols["cat"] = np.array(["x", "y", "z"])[rng.choice(3, rows, p=probs)]
    cols["steady"] = np.array(["p", "q"])[rng.choice(2, rows, p=[0.7, 0.3])]
    return pa.table(cols)


def _profile(table: pa.Table) -> DatasetProfile:
    profile = DatasetProfile()
    for batch in table.to_batches(max_chunksize=5000):
        profile.update(batch)
    return profile


def _analyze(baseline: pa.Table, current: pa.Table, constraints: Constraints | None = None):
    base_profile = _profile(baseline)
    base_stats = build_statistics(base_profile)
    constraints = constraints or suggest_constraints(base_profile)
    cur_profile = _profile(current)
    return run_checks(constraints, base_stats, cur_profile.columns, build_statistics(cur_profile))


@pytest.mark.parametrize("method", ["Robust", "Simple"])
def test_drift_flags_exactly_the_shifted_features(method: str) -> None:
    base = _profile(_table(20_000, 1, False))
    constraints = suggest_constraints(base)
    constraints.monitoring_config = constraints.monitoring_config.with_overrides(
        {"comparison_method": method}
    )
    shifted = _analyze(_table(20_000, 1, False), _table(20_000, 2, True), constraints)
    flagged = {v.feature_name for v in shifted.violations}
    assert flagged == set(SHIFTED)
    assert {v.constraint_check_type for v in shifted.violations} == {"baseline_drift_check"}
    same = _analyze(_table(20_000, 1, False), _table(20_000, 3, False), constraints)
    assert same.violations == []
    # every feature got a distance, and the shifted ones are the far ones
    assert set(same.drift) == set(shifted.drift) == {f.name for f in constraints.features}
    assert min(shifted.drift[f][1] for f in SHIFTED) > max(
        d for f, (_, d) in shifted.drift.items() if f not in SHIFTED
    )


def test_drift_description_is_sagemakers() -> None:
    result = _analyze(_table(5000, 1, False), _table(5000, 2, True))
    v = next(v for v in result.violations if v.feature_name == "f2")
    distance = result.drift["f2"][1]
    assert v.description == (f"Numerical distance: {distance!r} exceeds numerical threshold: 0.1")
    c = next(v for v in result.violations if v.feature_name == "cat")
    assert c.description.startswith("Categorical distance: ")
    assert c.description.endswith(" exceeds categorical threshold: 0.1")


def test_chi_squared_method() -> None:
    base = _profile(_table(5000, 1, False))
    constraints = suggest_constraints(base)
    constraints.monitoring_config = constraints.monitoring_config.with_overrides(
        {"categorical_drift_method": "ChiSquared", "categorical_comparison_threshold": 0.01}
    )
    result = _analyze(_table(5000, 1, False), _table(5000, 2, True), constraints)
    kind, p_value = result.drift["cat"]
    assert kind == "chi_squared" and p_value < 1e-10
    assert any(v.feature_name == "cat" and "p-value" in v.description for v in result.violations)
    assert result.drift["steady"][0] == "chi_squared"
    assert all(v.feature_name != "steady" for v in result.violations)


def test_data_type_check_counts_values() -> None:
    base = pa.table({"a": pa.array([1, 2, 3, 4])})
    current = pa.table({"a": pa.array(["1", "2", "x", "2.5"] * 25 + ["7"] * 900)})
    result = _analyze(base, current)
    types = [v for v in result.violations if v.constraint_check_type == "data_type_check"]
    assert len(types) == 1
    observed = 950 / 1000 * 100
    assert types[0].description == (
        "Data type match requirement is not met. Expected data type: Integral, "
        f"Expected match: 100.0%. Observed: Only {observed!r}% of data is Integral."
    )


def test_fractional_accepts_integers() -> None:
    base = pa.table({"a": pa.array([1.5, 2.5])})
    current = pa.table({"a": pa.array(["1", "2.5"])})
    result = _analyze(base, current)
    assert [v for v in result.violations if v.constraint_check_type == "data_type_check"] == []


def test_completeness_check() -> None:
    base = pa.table({"a": pa.array([1.0, 2.0, 3.0, 4.0])})
    current = pa.table({"a": pa.array([1.0, None, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])})
    result = _analyze(base, current)
    v = [v for v in result.violations if v.constraint_check_type == "completeness_check"]
    assert [x.description for x in v] == [
        "Data completeness requirement is not met. Expected completeness: 100.0%. "
        "Observed: Only 87.5% of data is complete."
    ]


def test_categorical_values_check() -> None:
    base = pa.table({"c": pa.array(["a", "b", "c"] * 100)})
    current = pa.table({"c": pa.array(["a"] * 97 + ["zz"] * 3)})
    constraints = suggest_constraints(_profile(base))
    assert constraints.features[0].domains == ["a", "b", "c"]
    result = _analyze(base, current, constraints)
    v = [v for v in result.violations if v.constraint_check_type == "categorical_values_check"]
    assert len(v) == 1
    assert "Observed: Only 97.0% of data is within the baseline domain." in v[0].description


def test_missing_and_extra_columns() -> None:
    base = pa.table({"a": [1, 2], "b": [3, 4]})
    current = pa.table({"a": [1, 2], "c": [5, 6], "d": [7, 8]})
    result = _analyze(base, current)
    kinds = sorted((v.feature_name, v.constraint_check_type) for v in result.violations)
    assert kinds == [
        ("b", "missing_column_check"),
        ("c", "extra_column_check"),
        ("d", "extra_column_check"),
    ]


def test_evaluate_constraints_disabled_globally_and_per_feature() -> None:
    base = _table(3000, 1, False)
    current = _table(3000, 2, True)
    constraints = suggest_constraints(_profile(base))
    constraints.features[2].overrides = {"evaluate_constraints": "Disabled"}  # f2
    result = _analyze(base, current, constraints)
    assert "f2" not in {v.feature_name for v in result.violations}
    assert "f5" in {v.feature_name for v in result.violations}
    constraints.monitoring_config = constraints.monitoring_config.with_overrides(
        {"evaluate_constraints": "Disabled"}
    )
    assert _analyze(base, current, constraints).violations == []


def test_per_feature_threshold_override() -> None:
    base = _table(3000, 1, False)
    current = _table(3000, 2, True)
    constraints = suggest_constraints(_profile(base))
    constraints.features[5].overrides = {"comparison_threshold": 0.99}  # f5
    result = _analyze(base, current, constraints)
    assert "f5" not in {v.feature_name for v in result.violations}
    assert "f2" in {v.feature_name for v in result.violations}


def test_perform_comparison_disabled() -> None:
    base = _table(3000, 1, False)
    constraints = suggest_constraints(_profile(base))
    constraints.monitoring_config = constraints.monitoring_config.with_overrides(
        {"perform_comparison": "Disabled"}
    )
    result = _analyze(base, _table(3000, 2, True), constraints)
    assert result.violations == [] and result.drift == {}


def test_suggested_constraints() -> None:
    table = pa.table(
        {
            "neg": pa.array([-1.0, 2.0, None, 4.0]),
            "pos": pa.array([0, 1, 2, 3]),
            "ids": pa.array(["u1", "u2", "u3", "u4"]),
            "low": pa.array(["a", "a", "b", "b"]),
        }
    )
    c = suggest_constraints(_profile(table))
    by = {f.name: f for f in c.features}
    assert by["neg"].completeness == 0.75 and by["neg"].is_non_negative is False
    assert by["pos"].completeness == 1.0 and by["pos"].is_non_negative is True
    assert by["ids"].domains is None  # every value unique: not a domain
    assert by["low"].domains == ["a", "b"]
    assert by["low"].is_non_negative is None
