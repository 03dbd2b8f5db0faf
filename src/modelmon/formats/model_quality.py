"""Model-quality statistics, constraints and violations files (SPEC §3).

statistics::

    {"version": 0.0, "dataset": {"item_count": N[, "evaluation_time": "...Z"]},
     "binary_classification_metrics" | "multiclass_classification_metrics"
     | "regression_metrics": {"<metric>": {"value": v, "standard_deviation": s | "NaN"},
                              "confusion_matrix": {...}, "<curve>": {...}}}

constraints::

    {"version": 0.0, "<problem>_constraints": {"<metric>": {"threshold": t,
                                                            "comparison_operator": "..."}}}

violations::

    {"violations": [{"constraint_check_type": "LessThanThreshold",
                     "description": "Metric f2 with ... was LessThanThreshold '0.625'",
                     "metric_name": "f2"}]}

Files are written in the container's formatting (:mod:`modelmon.formats.jsonfmt`):
Python ``float`` values print as Java doubles, ``int`` as integers, and a
standard deviation that is not known is the JSON string ``"NaN"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelmon.errors import InputError
from modelmon.formats.jsonfmt import dumps
from modelmon.formats.statistics import _Reader

BINARY = "BinaryClassification"
MULTICLASS = "MulticlassClassification"
REGRESSION = "Regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)

METRICS_KEYS = {
    BINARY: "binary_classification_metrics",
    MULTICLASS: "multiclass_classification_metrics",
    REGRESSION: "regression_metrics",
}
CONSTRAINTS_KEYS = {
    BINARY: "binary_classification_constraints",
    MULTICLASS: "multiclass_classification_constraints",
    REGRESSION: "regression_constraints",
}

LESS_THAN = "LessThanThreshold"
GREATER_THAN = "GreaterThanThreshold"
LESS_THAN_OR_EQUAL = "LessThanOrEqualToThreshold"
GREATER_THAN_OR_EQUAL = "GreaterThanOrEqualToThreshold"
COMPARISON_OPERATORS = (LESS_THAN, GREATER_THAN, LESS_THAN_OR_EQUAL, GREATER_THAN_OR_EQUAL)
NAN = "NaN"


def problem_type(value: str | None, name: str = "problem_type") -> str:
    """``value`` as one of :data:`PROBLEM_TYPES` (case-insensitive), else InputError naming it."""
    text = (value or "").strip()
    for known in PROBLEM_TYPES:
        if text.lower() == known.lower():
            return known
    shown = repr(value) if text else "not set"
    raise InputError(f"{name} must be one of {', '.join(PROBLEM_TYPES)}, got {shown}")


@dataclass(frozen=True)
class MetricValue:
    """One scalar metric: its value and standard deviation (None: not computed, "NaN")."""

    value: float
    standard_deviation: float | None = None

    def to_dict(self) -> dict[str, Any]:
        std: Any = NAN if self.standard_deviation is None else self.standard_deviation
        if isinstance(std, float) and math.isnan(std):
            std = NAN
        return {"value": self.value, "standard_deviation": std}


@dataclass
class ModelQualityStatistics:
    """Model-quality statistics: scalar :class:`MetricValue` s and structured metrics
    (confusion matrix, curves) as plain JSON values, in file order."""

    problem_type: str
    item_count: int
    metrics: dict[str, MetricValue | dict[str, Any]] = field(default_factory=dict)
    evaluation_time: str | None = None

    def scalars(self) -> dict[str, MetricValue]:
        """The scalar metrics (those with a value and a standard deviation), in order."""
        return {k: v for k, v in self.metrics.items() if isinstance(v, MetricValue)}

    def to_dict(self) -> dict[str, Any]:
        dataset: dict[str, Any] = {"item_count": self.item_count}
        if self.evaluation_time:
            dataset["evaluation_time"] = self.evaluation_time
        metrics = {
            k: v.to_dict() if isinstance(v, MetricValue) else v for k, v in self.metrics.items()
        }
        return {"version": 0.0, "dataset": dataset, METRICS_KEYS[self.problem_type]: metrics}

    def to_json(self) -> str:
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, source: str = "statistics.json") -> ModelQualityStatistics:
        """Parse a model-quality statistics document; errors name the source and field."""
        reader = _Reader(source)
        root = reader.obj(data, "")
        kind = _problem_of(root, METRICS_KEYS, source)
        key = METRICS_KEYS[kind]
        dataset = reader.obj(root.get("dataset", {}), "dataset")
        count = dataset.get("item_count", 0)
        if isinstance(count, bool) or not isinstance(count, int):
            raise reader.fail("dataset.item_count", "an integer", count)
        metrics: dict[str, MetricValue | dict[str, Any]] = {}
        for name, raw in reader.obj(root[key], key).items():
            item = reader.obj(raw, f"{key}.{name}")
            if "value" in item:
                std = item.get("standard_deviation", NAN)
                metrics[name] = MetricValue(
                    float(reader.num(item["value"], f"{key}.{name}.value")),
                    None
                    if std == NAN
                    else float(reader.num(std, f"{key}.{name}.standard_deviation")),
                )
            else:
                metrics[name] = item
        evaluation = dataset.get("evaluation_time")
        return cls(kind, count, metrics, evaluation if isinstance(evaluation, str) else None)


def _problem_of(root: Mapping[str, Any], keys: Mapping[str, str], source: str) -> str:
    found = [kind for kind, key in keys.items() if key in root]
    if len(found) != 1:
        raise InputError(
            f"expected exactly one of {', '.join(keys.values())}, found "
            f"{', '.join(keys[k] for k in found) or 'none'}",
            source=source,
        )
    return found[0]


@dataclass(frozen=True)
class MetricConstraint:
    """A threshold a metric is compared with."""

    threshold: float
    comparison_operator: str

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "comparison_operator": self.comparison_operator}


@dataclass
class ModelQualityConstraints:
    """Model-quality constraints: metric name -> :class:`MetricConstraint`, in file order."""

    problem_type: str
    constraints: dict[str, MetricConstraint] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 0.0,
            CONSTRAINTS_KEYS[self.problem_type]: {
                k: v.to_dict() for k, v in self.constraints.items()
            },
        }

    def to_json(self) -> str:
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, source: str = "constraints.json") -> ModelQualityConstraints:
        """Parse a model-quality constraints document; errors name the source and field."""
        reader = _Reader(source)
        root = reader.obj(data, "")
        kind = _problem_of(root, CONSTRAINTS_KEYS, source)
        key = CONSTRAINTS_KEYS[kind]
        out: dict[str, MetricConstraint] = {}
        for name, raw in reader.obj(root[key], key).items():
            where = f"{key}.{name}"
            item = reader.obj(raw, where)
            operator = reader.str(item.get("comparison_operator"), f"{where}.comparison_operator")
            if operator not in COMPARISON_OPERATORS:
                raise InputError(
                    f"unknown comparison_operator {operator!r}; expected one of "
                    f"{', '.join(COMPARISON_OPERATORS)}",
                    source=source,
                    field=f"{where}.comparison_operator",
                )
            threshold = reader.num(item.get("threshold"), f"{where}.threshold")
            out[name] = MetricConstraint(float(threshold), operator)
        return cls(kind, out)


@dataclass(frozen=True)
class MetricViolation:
    """One violated model-quality constraint."""

    metric_name: str
    constraint_check_type: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
            "metric_name": self.metric_name,
        }


@dataclass
class ModelQualityViolations:
    """``constraint_violations.json`` of a model-quality run."""

    violations: list[MetricViolation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"violations": [v.to_dict() for v in self.violations]}

    def to_json(self) -> str:
        return dumps(self.to_dict())

    @classmethod
    def from_dict(
        cls, data: Any, source: str = "constraint_violations.json"
    ) -> ModelQualityViolations:
        """Parse a model-quality violations document."""
        reader = _Reader(source)
        root = reader.obj(data, "")
        out = []
        for i, raw in enumerate(reader.list(root.get("violations", []), "violations")):
            item = reader.obj(raw, f"violations[{i}]")
            out.append(
                MetricViolation(
                    reader.str(item.get("metric_name"), f"violations[{i}].metric_name"),
                    reader.str(
                        item.get("constraint_check_type"), f"violations[{i}].constraint_check_type"
                    ),
                    reader.str(item.get("description", ""), f"violations[{i}].description"),
                )
            )
        return cls(out)


def load_json(text: str | bytes, source: str) -> Any:
    """Parse JSON text; an InputError naming ``source`` when it is not JSON."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid JSON: {err}", source=source) from None
