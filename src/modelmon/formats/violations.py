"""``constraint_violations.json`` (SPEC §2.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelmon.formats.statistics import _Reader

CHECK_TYPES = (
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
)


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_name": self.feature_name,
            "constraint_check_type": self.constraint_check_type,
            "description": self.description,
        }


@dataclass
class Violations:
    violations: list[Violation]

    def to_dict(self) -> dict[str, Any]:
        return {"violations": [v.to_dict() for v in self.violations]}

    @classmethod
    def from_dict(cls, data: Any, source: str = "constraint_violations.json") -> Violations:
        reader = _Reader(source)
        root = reader.obj(data, "")
        out = []
        for i, raw in enumerate(reader.list(root.get("violations", []), "violations")):
            item = reader.obj(raw, f"violations[{i}]")
            out.append(
                Violation(
                    feature_name=reader.str(
                        item.get("feature_name", item.get("metric_name", "")),
                        f"violations[{i}].feature_name",
                    ),
                    constraint_check_type=reader.str(
                        item.get("constraint_check_type"), f"violations[{i}].constraint_check_type"
                    ),
                    description=reader.str(
                        item.get("description", ""), f"violations[{i}].description"
                    ),
                )
            )
        return cls(out)
