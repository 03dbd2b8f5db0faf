"""The file contracts of SPEC.md as typed objects, and their exact JSON text."""

from modelmon.formats.constraints import Constraints, FeatureConstraints, MonitoringConfig
from modelmon.formats.jsonfmt import dumps, java_double
from modelmon.formats.statistics import (
    CategoricalBucket,
    FeatureStatistics,
    NumericalStatistics,
    NumericBucket,
    Statistics,
    StringStatistics,
)
from modelmon.formats.violations import Violation, Violations

__all__ = [
    "CategoricalBucket",
    "Constraints",
    "FeatureConstraints",
    "FeatureStatistics",
    "MonitoringConfig",
    "NumericBucket",
    "NumericalStatistics",
    "Statistics",
    "StringStatistics",
    "Violation",
    "Violations",
    "dumps",
    "java_double",
]
