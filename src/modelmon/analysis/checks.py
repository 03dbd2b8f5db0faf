"""Data-quality checks: baseline constraints vs the current dataset (SPEC §2.4).

Each check is one small unit beside its description string, and ``CHECKS`` lists
them in the order their violations are reported. Description strings marked
[R] in SPEC are reproduced exactly; the others are sentences in the same style.

Semantics (documented choices where SPEC is [U]):

* data_type_check — share of present values that conform to the baseline type
  (Integral: integral text/numbers; Fractional: any number; String: anything)
  below ``datatype_check_threshold``.
* completeness_check — share of non-missing values below the baseline's
  ``completeness``.
* baseline_drift_check — distance above ``comparison_threshold`` (numeric) or
  ``categorical_comparison_threshold`` (categorical, LInfinity); for ChiSquared
  the p-value below that threshold.
* categorical_values_check — share of present values inside the baseline's
  ``string_constraints.domains`` below ``domain_content_threshold``.
* missing_column_check / extra_column_check — a baseline feature absent from the
  current data / a current column absent from the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from modelmon.analysis.distance import categorical_chi_squared, categorical_linf, numeric_distance
from modelmon.analysis.profile import ColumnProfile
from modelmon.formats.constraints import (
    DISABLED,
    Constraints,
    FeatureConstraints,
    MonitoringConfig,
)
from modelmon.formats.jsonfmt import java_double
from modelmon.formats.statistics import FeatureStatistics, Statistics
from modelmon.formats.violations import Violation


def _number(value: float) -> str:
    """A number as the container echoes it: ints as written, doubles as Java prints them."""
    return str(value) if isinstance(value, int) else java_double(float(value))


def _percent(fraction: float) -> str:
    return java_double(float(fraction) * 100.0)


@dataclass
class FeatureContext:
    """What a per-feature check sees: baseline and current sides of one feature."""

    name: str
    constraint: FeatureConstraints
    config: MonitoringConfig
    column: ColumnProfile
    current: FeatureStatistics
    baseline: FeatureStatistics | None
    drift: tuple[str, float] | None = None  # filled in by run_checks from drift_distance


def drift_distance(ctx: FeatureContext) -> tuple[str, float] | None:
    """(kind, distance) of the feature's baseline drift, or None when not comparable.

    kind is ``numerical``, ``categorical`` (an L-infinity distance) or
    ``chi_squared`` (a p-value).
    """
    base, cur = ctx.baseline, ctx.current
    if base is None:
        return None
    if base.numerical is not None and cur.numerical is not None:
        if not base.numerical.sketch_data or not cur.numerical.sketch_data:
            return None
        return "numerical", numeric_distance(
            base.numerical.sketch_data, cur.numerical.sketch_data, ctx.config.comparison_method
        )
    if base.string is not None and cur.string is not None:
        base_counts = {b.value: float(b.count) for b in base.string.buckets}
        cur_counts = {b.value: float(b.count) for b in cur.string.buckets}
        if not base_counts or not cur_counts:
            return None
        if ctx.config.effective_categorical_method == "ChiSquared":
            return "chi_squared", categorical_chi_squared(base_counts, cur_counts)
        return "categorical", categorical_linf(
            base_counts, cur_counts, ctx.config.comparison_method
        )
    return None


def data_type_check(ctx: FeatureContext) -> Violation | None:
    expected = ctx.constraint.inferred_type
    column = ctx.column
    if expected not in ("Integral", "Fractional") or column.present == 0:
        return None
    conforming = column.integral + (column.fractional if expected == "Fractional" else 0)
    observed = conforming / column.present
    threshold = ctx.config.datatype_check_threshold
    if observed >= threshold:
        return None
    return Violation(
        ctx.name,
        "data_type_check",
        f"Data type match requirement is not met. Expected data type: {expected}, "
        f"Expected match: {_percent(threshold)}%. "
        f"Observed: Only {_percent(observed)}% of data is {expected}.",
    )


def completeness_check(ctx: FeatureContext) -> Violation | None:
    expected = ctx.constraint.completeness
    column = ctx.column
    if expected is None or column.rows == 0:
        return None
    observed = column.present / column.rows
    if observed >= expected:
        return None
    return Violation(
        ctx.name,
        "completeness_check",
        f"Data completeness requirement is not met. Expected completeness: "
        f"{_percent(expected)}%. Observed: Only {_percent(observed)}% of data is complete.",
    )


def baseline_drift_check(ctx: FeatureContext) -> Violation | None:
    if ctx.config.perform_comparison == DISABLED or ctx.drift is None:
        return None
    kind, value = ctx.drift
    if kind == "numerical":
        threshold = ctx.config.comparison_threshold
        if value <= threshold:
            return None
        text = (
            f"Numerical distance: {java_double(value)} exceeds numerical threshold: "
            f"{_number(threshold)}"
        )
    else:
        threshold = ctx.config.effective_categorical_threshold
        if kind == "categorical":
            if value <= threshold:
                return None
            text = (
                f"Categorical distance: {java_double(value)} exceeds categorical threshold: "
                f"{_number(threshold)}"
            )
        else:
            if math.isnan(value) or value >= threshold:
                return None
            text = (
                f"Categorical drift p-value (ChiSquared): {java_double(value)} is below "
                f"categorical threshold: {_number(threshold)}"
            )
    return Violation(ctx.name, "baseline_drift_check", text)


def categorical_values_check(ctx: FeatureContext) -> Violation | None:
    domain = ctx.constraint.domains
    column = ctx.column
    if not domain or ctx.constraint.inferred_type != "String" or column.present == 0:
        return None
    inside = column.categories.count_of(set(domain))
    # numbers in a text column are tallied as categories too (see profile); values
    # never tallied (numeric batches) fall outside the domain by construction.
    observed = inside / column.present
    threshold = ctx.config.domain_content_threshold
    if observed >= threshold:
        return None
    return Violation(
        ctx.name,
        "categorical_values_check",
        f"Categorical value match requirement is not met. Expected match: "
        f"{_percent(threshold)}%. Observed: Only {_percent(observed)}% of data "
        f"is within the baseline domain.",
    )


FEATURE_CHECKS: tuple[Callable[[FeatureContext], Violation | None], ...] = (
    data_type_check,
    completeness_check,
    baseline_drift_check,
    categorical_values_check,
)


def missing_column_violation(name: str, current_count: int, baseline_count: int) -> Violation:
    return Violation(
        name,
        "missing_column_check",
        f"There are missing columns in current dataset. Number of columns in current "
        f"dataset: {current_count}, Number of columns in baseline constraints: {baseline_count}",
    )


def extra_column_violation(name: str, current_count: int, baseline_count: int) -> Violation:
    return Violation(
        name,
        "extra_column_check",
        f"There are extra columns in current dataset. Number of columns in current "
        f"dataset: {current_count}, Number of columns in baseline constraints: {baseline_count}",
    )


@dataclass
class CheckResult:
    violations: list[Violation]
    # feature name -> (kind, distance) for every comparable feature (for metrics)
    drift: dict[str, tuple[str, float]]


def run_checks(
    constraints: Constraints,
    baseline: Statistics | None,
    columns: dict[str, ColumnProfile],
    current: Statistics,
) -> CheckResult:
    """Every check of every feature; ``evaluate_constraints: Disabled`` is honoured."""
    violations: list[Violation] = []
    drift: dict[str, tuple[str, float]] = {}
    if constraints.monitoring_config.evaluate_constraints == DISABLED:
        return CheckResult(violations, drift)
    baseline_names = [f.name for f in constraints.features]
    n_base, n_cur = len(baseline_names), len(columns)
    for feature in constraints.features:
        config = constraints.config_for(feature)
        if feature.name not in columns:
            if config.evaluate_constraints != DISABLED:
                violations.append(missing_column_violation(feature.name, n_cur, n_base))
            continue
        current_stats = current.feature(feature.name)
        assert current_stats is not None
        ctx = FeatureContext(
            name=feature.name,
            constraint=feature,
            config=config,
            column=columns[feature.name],
            current=current_stats,
            baseline=baseline.feature(feature.name) if baseline else None,
        )
        if config.perform_comparison != DISABLED:
            ctx.drift = drift_distance(ctx)
            if ctx.drift is not None:
                drift[feature.name] = ctx.drift
        if config.evaluate_constraints == DISABLED:
            continue
        for check in FEATURE_CHECKS:
            violation = check(ctx)
            if violation is not None:
                violations.append(violation)
    known = set(baseline_names)
    for name in columns:
        if name not in known:
            violations.append(extra_column_violation(name, n_cur, n_base))
    return CheckResult(violations, drift)
