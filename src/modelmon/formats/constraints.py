"""Data-quality ``constraints.json`` (SPEC §2) as typed objects.

Reads SageMaker's current spellings and the legacy ones (SPEC §2.2):
per-feature ``string_constraints.monitoring_config_overrides`` and the
distribution keys ``enable_comparisons`` / ``min_domain_mass``. Writes the
spellings of the current container, in its key order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from modelmon.errors import InputError
from modelmon.formats.statistics import _Reader

ENABLED = "Enabled"
DISABLED = "Disabled"
COMPARISON_METHODS = ("Simple", "Robust")
CATEGORICAL_DRIFT_METHODS = ("LInfinity", "ChiSquared")
INFERRED_TYPES = ("Integral", "Fractional", "String", "Unknown")

_SWITCHES = ("evaluate_constraints", "emit_metrics", "perform_comparison")
_THRESHOLDS = (
    "datatype_check_threshold",
    "domain_content_threshold",
    "comparison_threshold",
    "categorical_comparison_threshold",
)
_CHOICES = {
    "comparison_method": COMPARISON_METHODS,
    "categorical_drift_method": CATEGORICAL_DRIFT_METHODS,
}
_DISTRIBUTION_KEYS = (
    "perform_comparison",
    "comparison_threshold",
    "comparison_method",
    "categorical_comparison_threshold",
    "categorical_drift_method",
)


@dataclass(frozen=True)
class MonitoringConfig:
    """``monitoring_config`` with the defaults the real container emits (SPEC §2.2)."""

    evaluate_constraints: str = ENABLED
    emit_metrics: str = ENABLED
    # Thresholds are kept as written in the file (int or float).
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    perform_comparison: str = ENABLED
    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"
    # Absent from the suggested file (older containers omit them); when absent the
    # categorical threshold is comparison_threshold and the method LInfinity.
    categorical_comparison_threshold: float | None = None
    categorical_drift_method: str | None = None

    @property
    def effective_categorical_threshold(self) -> float:
        if self.categorical_comparison_threshold is None:
            return self.comparison_threshold
        return self.categorical_comparison_threshold

    @property
    def effective_categorical_method(self) -> str:
        return self.categorical_drift_method or "LInfinity"

    def with_overrides(self, overrides: dict[str, Any]) -> MonitoringConfig:
        """This config with a feature's validated ``monitoringConfigOverrides`` applied."""
        return replace(self, **overrides) if overrides else self

    def to_dict(self) -> dict[str, Any]:
        distribution: dict[str, Any] = {
            "perform_comparison": self.perform_comparison,
            "comparison_threshold": self.comparison_threshold,
            "comparison_method": self.comparison_method,
        }
        if self.categorical_comparison_threshold is not None:
            distribution["categorical_comparison_threshold"] = self.categorical_comparison_threshold
        if self.categorical_drift_method is not None:
            distribution["categorical_drift_method"] = self.categorical_drift_method
        return {
            "evaluate_constraints": self.evaluate_constraints,
            "emit_metrics": self.emit_metrics,
            "datatype_check_threshold": self.datatype_check_threshold,
            "domain_content_threshold": self.domain_content_threshold,
            "distribution_constraints": distribution,
        }


@dataclass
class FeatureConstraints:
    name: str
    inferred_type: str
    completeness: float | None = None
    is_non_negative: bool | None = None
    domains: list[str] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "inferred_type": self.inferred_type}
        if self.completeness is not None:
            out["completeness"] = float(self.completeness)
        if self.is_non_negative is not None:
            out["num_constraints"] = {"is_non_negative": self.is_non_negative}
        if self.domains is not None:
            out["string_constraints"] = {"domains": list(self.domains)}
        if self.overrides:
            out["monitoringConfigOverrides"] = _overrides_to_dict(self.overrides)
        return out


@dataclass
class Constraints:
    features: list[FeatureConstraints]
    monitoring_config: MonitoringConfig = field(default_factory=MonitoringConfig)
    version: float = 0.0

    def feature(self, name: str) -> FeatureConstraints | None:
        for feat in self.features:
            if feat.name == name:
                return feat
        return None

    def config_for(self, feature: FeatureConstraints | None) -> MonitoringConfig:
        """The monitoring config in force for ``feature`` (its overrides applied)."""
        if feature is None:
            return self.monitoring_config
        return self.monitoring_config.with_overrides(feature.overrides)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": float(self.version),
            "features": [f.to_dict() for f in self.features],
            "monitoring_config": self.monitoring_config.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "constraints.json") -> Constraints:
        """Parse constraints.json (current or legacy spellings); errors name the field."""
        reader = _Reader(source)
        root = reader.obj(data, "")
        if "features" not in root:
            raise InputError("missing required field", source=source, field="features")
        features = []
        for i, raw in enumerate(reader.list(root["features"], "features")):
            where = f"features[{i}]"
            item = reader.obj(raw, where)
            inferred = reader.str(item.get("inferred_type", "Unknown"), f"{where}.inferred_type")
            if inferred not in INFERRED_TYPES:
                raise InputError(
                    f"unknown type {inferred!r}; expected one of {', '.join(INFERRED_TYPES)}",
                    source=source,
                    field=f"{where}.inferred_type",
                )
            feat = FeatureConstraints(
                name=reader.str(item.get("name"), f"{where}.name"), inferred_type=inferred
            )
            if "completeness" in item:
                feat.completeness = float(reader.num(item["completeness"], f"{where}.completeness"))
            if "num_constraints" in item:
                num = reader.obj(item["num_constraints"], f"{where}.num_constraints")
                if "is_non_negative" in num:
                    feat.is_non_negative = reader.bool(
                        num["is_non_negative"], f"{where}.num_constraints.is_non_negative"
                    )
            overrides: dict[str, Any] = {}
            if "string_constraints" in item:
                strc = reader.obj(item["string_constraints"], f"{where}.string_constraints")
                if "domains" in strc:
                    domains = reader.list(strc["domains"], f"{where}.string_constraints.domains")
                    feat.domains = [str(v) for v in domains]
                legacy = strc.get("monitoring_config_overrides")
                if legacy is not None:
                    overrides.update(
                        _parse_config(
                            reader,
                            legacy,
                            f"{where}.string_constraints.monitoring_config_overrides",
                        )
                    )
            if "monitoringConfigOverrides" in item:
                overrides.update(
                    _parse_config(
                        reader,
                        item["monitoringConfigOverrides"],
                        f"{where}.monitoringConfigOverrides",
                    )
                )
            feat.overrides = overrides
            features.append(feat)
        config = MonitoringConfig()
        if "monitoring_config" in root:
            config = replace(
                config, **_parse_config(reader, root["monitoring_config"], "monitoring_config")
            )
        return cls(
            features=features,
            monitoring_config=config,
            version=float(reader.num(root.get("version", 0.0), "version")),
        )


def _parse_config(reader: _Reader, raw: Any, where: str) -> dict[str, Any]:
    """Validated monitoring-config keys from a config or override object (flattened)."""
    obj = reader.obj(raw, where)
    # key -> (value, path of the key in the file)
    flat = {k: (v, f"{where}.{k}") for k, v in obj.items() if k != "distribution_constraints"}
    if "distribution_constraints" in obj:
        inner = f"{where}.distribution_constraints"
        dist = reader.obj(obj["distribution_constraints"], inner)
        flat.update({k: (v, f"{inner}.{k}") for k, v in dist.items()})
    out: dict[str, Any] = {}
    for key, (value, path) in flat.items():
        if key in _SWITCHES:
            if value not in (ENABLED, DISABLED):
                raise InputError(
                    f"expected 'Enabled' or 'Disabled', found {value!r}",
                    source=reader.source,
                    field=path,
                )
            out[key] = value
        elif key in _THRESHOLDS:
            # kept as written (an int stays an int) so messages echo the user's number
            out[key] = reader.num(value, path)
        elif key in _CHOICES:
            if value not in _CHOICES[key]:
                raise InputError(
                    f"expected one of {', '.join(_CHOICES[key])}, found {value!r}",
                    source=reader.source,
                    field=path,
                )
            out[key] = value
        elif key == "enable_comparisons":  # legacy spelling of perform_comparison
            out["perform_comparison"] = ENABLED if reader.bool(value, path) else DISABLED
        elif key == "min_domain_mass":  # legacy spelling of domain_content_threshold
            out["domain_content_threshold"] = float(reader.num(value, path))
        # Unknown keys are kept out: newer containers may add settings we do not use.
    return out


def _overrides_to_dict(overrides: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in overrides.items() if k not in _DISTRIBUTION_KEYS}
    distribution = {k: v for k, v in overrides.items() if k in _DISTRIBUTION_KEYS}
    if distribution:
        out["distribution_constraints"] = distribution
    return copy.deepcopy(out)
