"""Baselines from datasets, SageMaker's real regression output, and bad values named by line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from modelmon.analysis.model_quality import (
    ModelQualityConfig,
    baseline_dataset,
    check,
    suggest_constraints,
)
from modelmon.analysis.readers import DatasetFormat
from modelmon.errors import InputError
from modelmon.formats.model_quality import MetricConstraint, ModelQualityConstraints

CSV = DatasetFormat("csv", header=True)
MODEL_QUALITY = "sdk_pipeline_quality_check_step/model_quality"


def test_regression_reference_reproduced_value_for_value(reference: Path) -> None:
    """SageMaker's output for the SDK's baseline_dataset.csv, byte for byte.

    The SDK test that produced it passes inference_attribute="Label" and
    ground_truth_attribute="Prediction" (its _HEADER_OF_LABEL / _HEADER_OF_PREDICTED_LABEL):
    those are the attributes that fit (r2 is -0.34 the other way round).
    """
    folder = reference / MODEL_QUALITY
    config = ModelQualityConfig.create(
        "Regression", inference_attribute="Label", ground_truth_attribute="Prediction"
    )
    statistics, constraints = baseline_dataset([str(folder / "baseline_dataset.csv")], CSV, config)
    assert statistics.to_json() == (folder / "statistics.json").read_text()
    assert constraints.to_json() == (folder / "good_cases/constraints.json").read_text()
    frame = pd.read_csv(folder / "baseline_dataset.csv")
    assert statistics.scalars()["r2"].value == pytest.approx(
        skm.r2_score(frame.Prediction, frame.Label), rel=1e-12
    )
    # the bad case's mse threshold (0.0336…) is below the data's: one violation
    bad = ModelQualityConstraints.from_dict(
        json.loads((folder / "bad_cases/constraints.json").read_text())
    )
    assert [v.metric_name for v in check(statistics, bad)] == ["mse"]
    assert check(statistics, constraints) == []


def test_binary_baseline_from_probability_and_prediction_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 300
    label = rng.integers(0, 2, n)
    probability = np.clip(label * 0.4 + rng.random(n) * 0.6, 0, 1).round(4)
    frame = pd.DataFrame(
        {"probability": probability, "prediction": (probability >= 0.6).astype(int), "label": label}
    )
    frame.to_csv(tmp_path / "validation.csv", index=False)
    config = ModelQualityConfig.create(
        "BinaryClassification",
        inference_attribute="prediction",
        probability_attribute="probability",
        ground_truth_attribute="label",
    )
    statistics, constraints = baseline_dataset([str(tmp_path / "validation.csv")], CSV, config)
    scalars = statistics.scalars()
    assert scalars["accuracy"].value == skm.accuracy_score(label, frame.prediction)
    assert scalars["auc"].value == pytest.approx(skm.roc_auc_score(label, probability), rel=1e-12)
    assert constraints.constraints["f2"] == MetricConstraint(
        scalars["f2"].value, "LessThanThreshold"
    )
    assert constraints.constraints["false_positive_rate"].comparison_operator == (
        "GreaterThanThreshold"
    )
    assert not any(name.endswith("best_constant_classifier") for name in constraints.constraints)
    # probability alone: the class comes from the threshold
    config = ModelQualityConfig.create(
        "BinaryClassification",
        probability_attribute="probability",
        probability_threshold=0.6,
        ground_truth_attribute="label",
    )
    again, _ = baseline_dataset([str(tmp_path / "validation.csv")], CSV, config)
    assert again.scalars()["accuracy"].value == scalars["accuracy"].value


def test_headerless_csv_by_index_and_json_by_path(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_text("a,1,a\nb,0,b\nc,1,b\n")
    config = ModelQualityConfig.create(
        "MulticlassClassification", inference_attribute="0", ground_truth_attribute="_c2"
    )
    statistics, _ = baseline_dataset(
        [str(tmp_path / "out.csv")], DatasetFormat("csv", header=False), config
    )
    assert statistics.scalars()["accuracy"].value == pytest.approx(2 / 3)
    (tmp_path / "out.jsonl").write_text(
        '{"out": {"value": 2.5}, "y": 2}\n\n{"out": {"value": 3.0}, "y": 3.5}\n'
    )
    config = ModelQualityConfig.create(
        "Regression", inference_attribute="$.out.value", ground_truth_attribute="y"
    )
    statistics, _ = baseline_dataset([str(tmp_path / "out.jsonl")], DatasetFormat("json"), config)
    assert statistics.scalars()["mae"].value == 0.5


@pytest.mark.parametrize(
    ("rows", "attributes", "message", "line"),
    [
        ("p,y\n0.2,1\n0.9,yes\n", {"ground_truth_attribute": "y"}, "label 'yes' is not 0 or 1", 3),
        ("p,y\n0.2,1\n1.5,0\n", {"ground_truth_attribute": "y"}, "probability 1.5 is outside", 3),
        ("p,y\n0.2,1\n0.3,0\n", {"ground_truth_attribute": "label"}, "names no column", None),
    ],
)
def test_bad_values_fail_naming_file_and_line(
    tmp_path: Path, rows: str, attributes: dict[str, str], message: str, line: int | None
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(rows)
    config = ModelQualityConfig.create(
        "BinaryClassification", probability_attribute="p", **attributes
    )
    with pytest.raises(InputError, match=message) as caught:
        baseline_dataset([str(path)], CSV, config)
    assert caught.value.source == str(path)
    assert caught.value.line == line


def test_regression_label_that_is_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("p,y\n0.5,1\n0.7,\n")
    config = ModelQualityConfig.create(
        "Regression", inference_attribute="p", ground_truth_attribute="y"
    )
    with pytest.raises(InputError, match="label is missing") as caught:
        baseline_dataset([str(path)], CSV, config)
    assert caught.value.line == 3


def test_config_refuses_what_cannot_work() -> None:
    with pytest.raises(InputError, match="needs inference_attribute or probability_attribute"):
        ModelQualityConfig.create("BinaryClassification")
    with pytest.raises(InputError, match="Regression needs inference_attribute"):
        ModelQualityConfig.create("Regression", probability_attribute="0")
    with pytest.raises(InputError, match="probability_threshold_attribute must be a number"):
        ModelQualityConfig.create(
            "BinaryClassification", probability_attribute="0", probability_threshold="high"
        )


def test_suggested_constraints_skip_undefined_metrics() -> None:
    config = ModelQualityConfig.create("BinaryClassification", inference_attribute="0")
    assert config.problem_type == "BinaryClassification"
    from modelmon.analysis.model_quality import model_quality_statistics

    one_class = model_quality_statistics("BinaryClassification", np.ones(5, int), np.ones(5, int))
    assert "auc" not in suggest_constraints(one_class).constraints
