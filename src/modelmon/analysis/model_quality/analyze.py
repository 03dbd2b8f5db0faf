"""From raw columns to statistics: which attribute gives what, per problem type.

* BinaryClassification: with ``probability_attribute``, the probabilities (in
  [0, 1]) are the scores of class 1 and, unless ``inference_attribute`` names
  another attribute, the predicted class is 1 when the probability is
  ``>= probability_threshold`` (default 0.5). With ``inference_attribute``
  alone, it holds the predicted class (0/1, or ``positive_label``).
* MulticlassClassification: ``inference_attribute`` holds the predicted class.
* Regression: ``inference_attribute`` holds the predicted value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from modelmon.analysis.model_quality.attributes import Attribute
from modelmon.analysis.model_quality.checks import suggest_constraints
from modelmon.analysis.model_quality.metrics import model_quality_statistics
from modelmon.analysis.model_quality.sources import read_dataset
from modelmon.analysis.model_quality.values import (
    Locations,
    binary_classes,
    class_names,
    numbers,
    probabilities,
)
from modelmon.analysis.readers import DatasetFormat
from modelmon.errors import InputError
from modelmon.formats.model_quality import (
    BINARY,
    MULTICLASS,
    ModelQualityConstraints,
    ModelQualityStatistics,
    problem_type,
)

INFERENCE = "inference"
PROBABILITY = "probability"
GROUND_TRUTH = "ground_truth"


@dataclass(frozen=True)
class ModelQualityConfig:
    """What a model-quality analysis reads (the job's attributes) and how it classifies."""

    problem_type: str
    inference: Attribute | None = None
    probability: Attribute | None = None
    ground_truth: Attribute | None = None
    threshold: float = 0.5
    positive_label: str | None = None

    @classmethod
    def create(
        cls,
        problem: str | None,
        *,
        inference_attribute: str | None = None,
        probability_attribute: str | None = None,
        ground_truth_attribute: str | None = None,
        probability_threshold: float | str | None = None,
        positive_label: str | None = None,
    ) -> ModelQualityConfig:
        """Validate and build a config; InputError naming the setting at fault."""
        kind = problem_type(problem)
        threshold = 0.5
        if probability_threshold is not None and str(probability_threshold).strip():
            try:
                threshold = float(probability_threshold)
            except ValueError:
                threshold = float("nan")
            if not 0.0 <= threshold <= 1.0:
                raise InputError(
                    "probability_threshold_attribute must be a number in [0, 1], "
                    f"got {probability_threshold!r}"
                )
        config = cls(
            kind,
            Attribute.parse(inference_attribute, "inference_attribute"),
            Attribute.parse(probability_attribute, "probability_attribute"),
            Attribute.parse(ground_truth_attribute, "ground_truth_attribute"),
            threshold,
            positive_label.strip() if positive_label and positive_label.strip() else None,
        )
        if kind == BINARY and config.inference is None and config.probability is None:
            raise InputError(
                "BinaryClassification needs inference_attribute or probability_attribute"
            )
        if kind != BINARY and config.inference is None:
            raise InputError(f"{kind} needs inference_attribute")
        return config

    def output_attributes(self) -> dict[str, Attribute | None]:
        """The attributes read from the model's output, by role."""
        out: dict[str, Attribute | None] = {}
        if self.inference is not None and not self._prediction_from_probability():
            out[INFERENCE] = self.inference
        if self.problem_type == BINARY and self.probability is not None:
            out[PROBABILITY] = self.probability
        return out

    def _prediction_from_probability(self) -> bool:
        return (
            self.problem_type == BINARY
            and self.probability is not None
            and (self.inference is None or self.inference.text == self.probability.text)
        )

    def predictions(
        self, values: Mapping[str, pa.Array], where: Locations
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(predictions, class-1 scores or None) parsed from the raw output values."""
        if self.problem_type == BINARY:
            scores = None
            if PROBABILITY in values:
                scores = probabilities(
                    values[PROBABILITY], where, "probability", _field(self.probability)
                )
            if INFERENCE in values:
                predicted = binary_classes(
                    values[INFERENCE],
                    where,
                    "predicted class",
                    self.positive_label,
                    _field(self.inference),
                )
            else:
                assert scores is not None
                predicted = (scores >= self.threshold).astype(np.int64)
            return predicted, scores
        if self.problem_type == MULTICLASS:
            names = class_names(values[INFERENCE], where, "predicted class", _field(self.inference))
            return np.asarray(names.to_pylist(), dtype=object), None
        return numbers(values[INFERENCE], where, "prediction", _field(self.inference)), None

    def labels(self, raw: pa.Array, where: Locations) -> np.ndarray:
        """Ground-truth labels parsed for the problem type."""
        field = _field(self.ground_truth) or "groundTruthData.data"
        if self.problem_type == BINARY:
            return binary_classes(raw, where, "label", self.positive_label, field)
        if self.problem_type == MULTICLASS:
            return np.asarray(class_names(raw, where, "label", field).to_pylist(), dtype=object)
        return numbers(raw, where, "label", field)

    def statistics(
        self,
        values: Mapping[str, pa.Array],
        prediction_where: Locations,
        labels: pa.Array,
        label_where: Locations,
        evaluation_time: str | None = None,
    ) -> ModelQualityStatistics:
        """Parse everything (failing at the first bad value) and compute the statistics."""
        predicted, scores = self.predictions(values, prediction_where)
        truth = self.labels(labels, label_where)
        return model_quality_statistics(
            self.problem_type, truth, predicted, scores, evaluation_time=evaluation_time
        )


def _field(attribute: Attribute | None) -> str | None:
    return None if attribute is None else attribute.text


def baseline_dataset(
    files: Sequence[str], fmt: DatasetFormat, config: ModelQualityConfig
) -> tuple[ModelQualityStatistics, ModelQualityConstraints]:
    """Statistics and suggested constraints of a dataset holding predictions and labels."""
    if config.ground_truth is None:
        raise InputError("a model-quality baseline needs ground_truth_attribute")
    roles = {**config.output_attributes(), GROUND_TRUTH: config.ground_truth}
    found = read_dataset(files, fmt, roles)
    if len(found.where.line) == 0:
        raise InputError("the dataset holds no records")
    labels = found.values.pop(GROUND_TRUTH)
    statistics = config.statistics(found.values, found.where, labels, found.where)
    return statistics, suggest_constraints(statistics)
