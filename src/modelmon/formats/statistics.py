"""Data-quality ``statistics.json`` (SPEC §1) as typed objects.

``to_dict`` yields the exact key order and JSON number types of the real
container (counts are integers, measurements doubles); ``from_dict`` reads
files written by SageMaker or by modelmon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelmon.errors import InputError

KLL_C = 0.64
KLL_K = 2048


@dataclass
class NumericBucket:
    lower_bound: float
    upper_bound: float
    count: float


@dataclass
class NumericalStatistics:
    num_present: int
    num_missing: int
    mean: float
    sum: float
    std_dev: float
    min: float
    max: float
    buckets: list[NumericBucket]
    sketch_data: list[list[float]]
    sketch_c: float = KLL_C
    sketch_k: float = float(KLL_K)

    def to_dict(self) -> dict[str, Any]:
        return {
            "common": {"num_present": self.num_present, "num_missing": self.num_missing},
            "mean": float(self.mean),
            "sum": float(self.sum),
            "std_dev": float(self.std_dev),
            "min": float(self.min),
            "max": float(self.max),
            "distribution": {
                "kll": {
                    "buckets": [
                        {
                            "lower_bound": float(b.lower_bound),
                            "upper_bound": float(b.upper_bound),
                            "count": float(b.count),
                        }
                        for b in self.buckets
                    ],
                    "sketch": {
                        "parameters": {"c": float(self.sketch_c), "k": float(self.sketch_k)},
                        "data": [[float(v) for v in level] for level in self.sketch_data],
                    },
                }
            },
        }


@dataclass
class CategoricalBucket:
    value: str
    count: int


@dataclass
class StringStatistics:
    num_present: int
    num_missing: int
    distinct_count: float
    buckets: list[CategoricalBucket]

    def to_dict(self) -> dict[str, Any]:
        return {
            "common": {"num_present": self.num_present, "num_missing": self.num_missing},
            "distinct_count": float(self.distinct_count),
            "distribution": {
                "categorical": {
                    "buckets": [{"value": b.value, "count": int(b.count)} for b in self.buckets]
                }
            },
        }


@dataclass
class FeatureStatistics:
    name: str
    inferred_type: str
    numerical: NumericalStatistics | None = None
    string: StringStatistics | None = None

    @property
    def num_present(self) -> int:
        stats = self.numerical or self.string
        return stats.num_present if stats else 0

    @property
    def num_missing(self) -> int:
        stats = self.numerical or self.string
        return stats.num_missing if stats else 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "inferred_type": self.inferred_type}
        if self.numerical is not None:
            out["numerical_statistics"] = self.numerical.to_dict()
        if self.string is not None:
            out["string_statistics"] = self.string.to_dict()
        return out


@dataclass
class Statistics:
    item_count: int
    features: list[FeatureStatistics] = field(default_factory=list)
    evaluation_time: str | None = None
    version: float = 0.0

    def feature(self, name: str) -> FeatureStatistics | None:
        """The feature called ``name``, or None."""
        for feat in self.features:
            if feat.name == name:
                return feat
        return None

    def to_dict(self) -> dict[str, Any]:
        dataset: dict[str, Any] = {"item_count": int(self.item_count)}
        if self.evaluation_time is not None:
            dataset["evaluation_time"] = self.evaluation_time
        return {
            "version": float(self.version),
            "dataset": dataset,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "statistics.json") -> Statistics:
        """Parse a statistics.json document; errors name ``source`` and the field."""
        reader = _Reader(source)
        root = reader.obj(data, "")
        dataset = reader.obj(root.get("dataset", {}), "dataset")
        features = []
        for i, raw in enumerate(reader.list(root.get("features", []), "features")):
            where = f"features[{i}]"
            item = reader.obj(raw, where)
            name = reader.str(item.get("name"), f"{where}.name")
            inferred = reader.str(item.get("inferred_type", "Unknown"), f"{where}.inferred_type")
            feat = FeatureStatistics(name=name, inferred_type=inferred)
            if "numerical_statistics" in item:
                feat.numerical = _numerical(reader, item["numerical_statistics"], where)
            if "string_statistics" in item:
                feat.string = _string(reader, item["string_statistics"], where)
            features.append(feat)
        return cls(
            item_count=int(reader.num(dataset.get("item_count", 0), "dataset.item_count")),
            features=features,
            evaluation_time=dataset.get("evaluation_time"),
            version=float(reader.num(root.get("version", 0.0), "version")),
        )


def _common(reader: _Reader, raw: dict[str, Any], where: str) -> tuple[int, int]:
    common = reader.obj(raw.get("common", {}), f"{where}.common")
    return (
        int(reader.num(common.get("num_present", 0), f"{where}.common.num_present")),
        int(reader.num(common.get("num_missing", 0), f"{where}.common.num_missing")),
    )


def _numerical(reader: _Reader, raw: Any, where: str) -> NumericalStatistics:
    where = f"{where}.numerical_statistics"
    stats = reader.obj(raw, where)
    present, missing = _common(reader, stats, where)
    dist = reader.obj(stats.get("distribution", {}), f"{where}.distribution")
    kll = reader.obj(dist.get("kll", {}), f"{where}.distribution.kll")
    buckets = [
        NumericBucket(
            float(reader.num(b.get("lower_bound"), f"{where}.buckets[{i}].lower_bound")),
            float(reader.num(b.get("upper_bound"), f"{where}.buckets[{i}].upper_bound")),
            float(reader.num(b.get("count"), f"{where}.buckets[{i}].count")),
        )
        for i, b in enumerate(reader.list(kll.get("buckets", []), f"{where}.kll.buckets"))
    ]
    sketch = reader.obj(kll.get("sketch", {}), f"{where}.kll.sketch")
    params = reader.obj(sketch.get("parameters", {}), f"{where}.kll.sketch.parameters")
    data = [
        [float(reader.num(v, f"{where}.kll.sketch.data")) for v in reader.list(level, "data")]
        for level in reader.list(sketch.get("data", []), f"{where}.kll.sketch.data")
    ]
    return NumericalStatistics(
        num_present=present,
        num_missing=missing,
        mean=float(reader.num(stats.get("mean", 0.0), f"{where}.mean")),
        sum=float(reader.num(stats.get("sum", 0.0), f"{where}.sum")),
        std_dev=float(reader.num(stats.get("std_dev", 0.0), f"{where}.std_dev")),
        min=float(reader.num(stats.get("min", 0.0), f"{where}.min")),
        max=float(reader.num(stats.get("max", 0.0), f"{where}.max")),
        buckets=buckets,
        sketch_data=data,
        sketch_c=float(reader.num(params.get("c", KLL_C), f"{where}.parameters.c")),
        sketch_k=float(reader.num(params.get("k", KLL_K), f"{where}.parameters.k")),
    )


def _string(reader: _Reader, raw: Any, where: str) -> StringStatistics:
    where = f"{where}.string_statistics"
    stats = reader.obj(raw, where)
    present, missing = _common(reader, stats, where)
    dist = reader.obj(stats.get("distribution", {}), f"{where}.distribution")
    cat = reader.obj(dist.get("categorical", {}), f"{where}.distribution.categorical")
    buckets = [
        CategoricalBucket(
            str(b.get("value")), int(reader.num(b.get("count"), f"{where}.buckets[{i}].count"))
        )
        for i, b in enumerate(reader.list(cat.get("buckets", []), f"{where}.buckets"))
    ]
    return StringStatistics(
        num_present=present,
        num_missing=missing,
        distinct_count=float(
            reader.num(stats.get("distinct_count", 0.0), f"{where}.distinct_count")
        ),
        buckets=buckets,
    )


class _Reader:
    """Type checks for parsed JSON that name the file and the field at fault."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, got: Any) -> InputError:
        return InputError(
            f"expected {expected}, found {type(got).__name__} {got!r:.60}",
            source=self.source,
            field=where or "(document)",
        )

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "an object", value)
        return value

    def list(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "an array", value)
        return value

    def str(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "a string", value)
        return value

    def num(self, value: Any, where: str) -> float:
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return float(value.replace("Infinity", "inf"))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, "a number", value)
        return value

    def bool(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, "true or false", value)
        return value
