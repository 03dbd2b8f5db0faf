"""Model-quality analysis: ground-truth merge, metrics per problem type, constraints, checks.

The public surface; see the modules for the rules each one follows.
"""

from modelmon.analysis.model_quality.analyze import (
    GROUND_TRUTH,
    INFERENCE,
    PROBABILITY,
    ModelQualityConfig,
    baseline_dataset,
)
from modelmon.analysis.model_quality.attributes import Attribute
from modelmon.analysis.model_quality.checks import check, describe, suggest_constraints
from modelmon.analysis.model_quality.merge import MergeSummary, merge, write_merged
from modelmon.analysis.model_quality.metrics import (
    binary_metrics,
    model_quality_statistics,
    multiclass_metrics,
    regression_metrics,
    resample_indices,
)
from modelmon.analysis.model_quality.sources import (
    Inferences,
    Labels,
    label_values,
    read_capture,
    read_dataset,
    read_ground_truth,
)

__all__ = [
    "GROUND_TRUTH",
    "INFERENCE",
    "PROBABILITY",
    "Attribute",
    "Inferences",
    "Labels",
    "MergeSummary",
    "ModelQualityConfig",
    "baseline_dataset",
    "binary_metrics",
    "check",
    "describe",
    "label_values",
    "merge",
    "model_quality_statistics",
    "multiclass_metrics",
    "read_capture",
    "read_dataset",
    "read_ground_truth",
    "regression_metrics",
    "resample_indices",
    "suggest_constraints",
    "write_merged",
]
