"""From a dataset profile to statistics.json (SPEC §1)."""

from __future__ import annotations

from modelmon.analysis.kll import equal_width_buckets
from modelmon.analysis.profile import ColumnProfile, DatasetProfile
from modelmon.formats.statistics import (
    CategoricalBucket,
    FeatureStatistics,
    NumericalStatistics,
    NumericBucket,
    Statistics,
    StringStatistics,
)

# Categorical distributions list at most this many values, most frequent first.
MAX_CATEGORICAL_BUCKETS = 1000
NUMERIC_TYPES = ("Integral", "Fractional")


def feature_statistics(column: ColumnProfile) -> FeatureStatistics:
    """One feature's statistics entry from its profile."""
    inferred = column.inferred_type()
    feature = FeatureStatistics(name=column.name, inferred_type=inferred)
    if inferred in NUMERIC_TYPES:
        numeric = column.numeric
        levels = numeric.levels()
        total, std_dev = numeric.exact_sum_and_std()
        if numeric.count:
            lo, hi = numeric.minimum, numeric.maximum
            buckets = [NumericBucket(*b) for b in equal_width_buckets(levels, lo, hi)]
            mean = total / numeric.count
        else:  # only non-finite values
            lo = hi = mean = 0.0
            buckets = []
        feature.numerical = NumericalStatistics(
            num_present=column.present,
            num_missing=column.missing,
            mean=mean,
            sum=total,
            std_dev=std_dev,
            min=lo,
            max=hi,
            buckets=buckets,
            sketch_data=levels,
        )
    else:
        feature.string = StringStatistics(
            num_present=column.present,
            num_missing=column.missing,
            distinct_count=column.categories.distinct_count(),
            buckets=[
                CategoricalBucket(value, count)
                for value, count in column.categories.top(MAX_CATEGORICAL_BUCKETS)
            ],
        )
    return feature


def build_statistics(profile: DatasetProfile, evaluation_time: str | None = None) -> Statistics:
    """statistics.json for a whole dataset profile, features in column order."""
    return Statistics(
        item_count=profile.rows,
        features=[feature_statistics(c) for c in profile.columns.values()],
        evaluation_time=evaluation_time,
    )
