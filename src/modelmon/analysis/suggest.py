"""Constraint suggestion: one small rule per constraint, listed in a table.

Each rule answers two questions about a column profile (Deequ's shape):
``applies`` — should this constraint be suggested? — and ``apply`` — write it
into the feature's constraints. The defaults of ``monitoring_config`` are the
ones the real container emits (SPEC §2.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelmon.analysis.profile import ColumnProfile, DatasetProfile
from modelmon.analysis.statistics import NUMERIC_TYPES
from modelmon.formats.constraints import Constraints, FeatureConstraints, MonitoringConfig

# Deequ's CategoricalRangeRule: a histogram is kept for at most this many distinct
# values, and a domain is suggested when at most 10% of them occur only once.
DOMAIN_MAX_DISTINCT = 120
DOMAIN_MAX_SINGLETON_RATIO = 0.1


@dataclass(frozen=True)
class SuggestionRule:
    name: str
    why: str
    applies: Callable[[ColumnProfile], bool]
    apply: Callable[[ColumnProfile, FeatureConstraints], None]


def _set_completeness(column: ColumnProfile, feature: FeatureConstraints) -> None:
    feature.completeness = column.present / column.rows if column.rows else 1.0


def _set_non_negative(column: ColumnProfile, feature: FeatureConstraints) -> None:
    feature.is_non_negative = bool(column.numeric.count == 0 or column.numeric.minimum >= 0)


def _is_low_cardinality(column: ColumnProfile) -> bool:
    counts = column.categories.counts
    if column.inferred_type() != "String" or counts is None or not counts:
        return False
    if len(counts) > DOMAIN_MAX_DISTINCT:
        return False
    singletons = sum(1 for c in counts.values() if c == 1)
    return singletons / len(counts) <= DOMAIN_MAX_SINGLETON_RATIO


def _set_domain(column: ColumnProfile, feature: FeatureConstraints) -> None:
    feature.domains = [value for value, _ in column.categories.top(DOMAIN_MAX_DISTINCT)]


RULES: tuple[SuggestionRule, ...] = (
    SuggestionRule(
        "completeness",
        "the share of non-missing values seen in the baseline is the least expected later",
        lambda column: True,
        _set_completeness,
    ),
    SuggestionRule(
        "is_non_negative",
        "a numeric column whose baseline minimum is >= 0 is expected to stay non-negative",
        lambda column: column.inferred_type() in NUMERIC_TYPES,
        _set_non_negative,
    ),
    SuggestionRule(
        "domains",
        "a low-cardinality text column is expected to keep to the values seen in the baseline",
        _is_low_cardinality,
        _set_domain,
    ),
)


def suggest_constraints(
    profile: DatasetProfile, monitoring_config: MonitoringConfig | None = None
) -> Constraints:
    """Suggested constraints.json for a baseline dataset profile."""
    features = []
    for column in profile.columns.values():
        feature = FeatureConstraints(name=column.name, inferred_type=column.inferred_type())
        for rule in RULES:
            if rule.applies(column):
                rule.apply(column, feature)
        features.append(feature)
    return Constraints(features=features, monitoring_config=monitoring_config or MonitoringConfig())
