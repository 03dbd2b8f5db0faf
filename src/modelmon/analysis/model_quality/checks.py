"""Suggested model-quality constraints and the checks against them (SPEC §3.2).

Suggestion: one constraint per scalar metric of the baseline, threshold = the
baseline's value, operator by what the metric measures (the table below):
errors must not grow (``GreaterThanThreshold`` is a violation), everything
else must not drop (``LessThanThreshold``). The best-constant-classifier
metrics are not constrained: they describe the labels, not the model. Metrics
whose baseline value is not finite (an AUC of one class) get no constraint.

Check: a metric violates its constraint when its value compares with the
threshold as the operator says (``value < threshold`` for ``LessThanThreshold``);
a metric missing from the statistics or not finite is not checked.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from modelmon.analysis.model_quality.metrics import BCC
from modelmon.errors import InputError
from modelmon.formats.jsonfmt import java_double
from modelmon.formats.model_quality import (
    GREATER_THAN,
    GREATER_THAN_OR_EQUAL,
    LESS_THAN,
    LESS_THAN_OR_EQUAL,
    MetricConstraint,
    MetricValue,
    MetricViolation,
    ModelQualityConstraints,
    ModelQualityStatistics,
)

# metrics where larger is worse; every other scalar metric: smaller is worse
ERROR_METRICS = frozenset({"mae", "mse", "rmse", "false_positive_rate", "false_negative_rate"})

VIOLATED: dict[str, Callable[[float, float], bool]] = {
    LESS_THAN: operator.lt,
    GREATER_THAN: operator.gt,
    LESS_THAN_OR_EQUAL: operator.le,
    GREATER_THAN_OR_EQUAL: operator.ge,
}


def suggest_operator(metric: str) -> str:
    """The comparison operator suggested for ``metric``."""
    return GREATER_THAN if metric in ERROR_METRICS else LESS_THAN


def suggest_constraints(statistics: ModelQualityStatistics) -> ModelQualityConstraints:
    """The constraints suggested from baseline statistics (see the module docstring)."""
    out = {}
    for name, metric in statistics.scalars().items():
        if name.endswith(BCC) or not math.isfinite(metric.value):
            continue
        out[name] = MetricConstraint(metric.value, suggest_operator(name))
    return ModelQualityConstraints(statistics.problem_type, out)


def describe(name: str, metric: MetricValue, constraint: MetricConstraint) -> str:
    """``Metric f2 with 0.61 +/- 0.004 was LessThanThreshold '0.625'`` (no ``+/-`` part
    when the standard deviation is not known)."""
    value = java_double(metric.value)
    std = metric.standard_deviation
    if std is not None and math.isfinite(std):
        value = f"{value} +/- {java_double(std)}"
    return (
        f"Metric {name} with {value} was {constraint.comparison_operator} "
        f"'{java_double(constraint.threshold)}'"
    )


def check(
    statistics: ModelQualityStatistics, constraints: ModelQualityConstraints
) -> list[MetricViolation]:
    """The violations of ``constraints`` by ``statistics``, in constraints order."""
    if statistics.problem_type != constraints.problem_type:
        raise InputError(
            f"the baseline constraints are for {constraints.problem_type}, "
            f"this job's problem_type is {statistics.problem_type}"
        )
    scalars = statistics.scalars()
    out = []
    for name, constraint in constraints.constraints.items():
        metric = scalars.get(name)
        if metric is None or not math.isfinite(metric.value):
            continue
        if VIOLATED[constraint.comparison_operator](metric.value, constraint.threshold):
            out.append(
                MetricViolation(
                    name, constraint.comparison_operator, describe(name, metric, constraint)
                )
            )
    return out
