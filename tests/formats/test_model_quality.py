"""Model-quality statistics / constraints / violations files: SageMaker's text, read and write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelmon.analysis.model_quality import describe
from modelmon.errors import InputError
from modelmon.formats.model_quality import (
    MetricConstraint,
    MetricValue,
    MetricViolation,
    ModelQualityConstraints,
    ModelQualityStatistics,
    ModelQualityViolations,
    problem_type,
)

MODEL_QUALITY = "sdk_pipeline_quality_check_step/model_quality"


def test_reference_statistics_round_trip_to_the_same_text(reference: Path) -> None:
    text = (reference / MODEL_QUALITY / "statistics.json").read_text()
    statistics = ModelQualityStatistics.from_dict(json.loads(text))
    assert statistics.problem_type == "Regression" and statistics.item_count == 100
    assert statistics.scalars()["r2"] == MetricValue(-3.208758170289026, None)
    assert statistics.to_json() == text


@pytest.mark.parametrize("case", ["good_cases", "bad_cases"])
def test_reference_constraints_round_trip_to_the_same_text(reference: Path, case: str) -> None:
    text = (reference / MODEL_QUALITY / case / "constraints.json").read_text()
    constraints = ModelQualityConstraints.from_dict(json.loads(text))
    assert constraints.constraints["r2"] == MetricConstraint(
        -3.208758170289026, "LessThanThreshold"
    )
    assert constraints.to_json() == text


def test_structured_metrics_and_evaluation_time_are_kept() -> None:
    statistics = ModelQualityStatistics(
        "BinaryClassification",
        4,
        {
            "confusion_matrix": {"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}},
            "auc": MetricValue(1.0, 0.1),
        },
        "2024-01-02T03:00:00Z",
    )
    text = statistics.to_json()
    assert '"evaluation_time" : "2024-01-02T03:00:00Z"' in text
    assert '"auc" : {\n      "value" : 1.0,\n      "standard_deviation" : 0.1\n    }' in text
    again = ModelQualityStatistics.from_dict(json.loads(text))
    assert again == statistics


def test_violations_text_and_description_forms() -> None:
    with_std = describe(
        "f2",
        MetricValue(0.6158536585365854, 0.004918508148424829),
        MetricConstraint(0.625, "LessThanThreshold"),
    )
    assert with_std == (
        "Metric f2 with 0.6158536585365854 +/- 0.004918508148424829 was LessThanThreshold '0.625'"
    )
    without = describe("mae", MetricValue(0.75), MetricConstraint(0.5, "GreaterThanThreshold"))
    assert without == "Metric mae with 0.75 was GreaterThanThreshold '0.5'"
    violations = ModelQualityViolations([MetricViolation("f2", "LessThanThreshold", with_std)])
    assert violations.to_json() == (
        '{\n  "violations" : [ {\n    "constraint_check_type" : "LessThanThreshold",\n'
        f'    "description" : "{with_std}",\n    "metric_name" : "f2"\n  }} ]\n}}'
    )
    assert ModelQualityViolations.from_dict(json.loads(violations.to_json())) == violations
    assert ModelQualityViolations().to_json() == '{\n  "violations" : [ ]\n}'


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 0.0}, "expected exactly one of"),
        (
            {"regression_constraints": {"mae": {"threshold": 1, "comparison_operator": "Above"}}},
            "unknown comparison_operator 'Above'",
        ),
        (
            {
                "regression_constraints": {
                    "mae": {"threshold": "x", "comparison_operator": "LessThanThreshold"}
                }
            },
            "expected a number",
        ),
    ],
)
def test_bad_constraints_name_the_field(document: dict, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        ModelQualityConstraints.from_dict(document, "c.json")
    assert "c.json" in str(caught.value)


def test_problem_type_names_the_choices() -> None:
    assert problem_type("binaryclassification") == "BinaryClassification"
    with pytest.raises(InputError, match=r"problem_type must be one of .* got 'Ranking'"):
        problem_type("Ranking")
    with pytest.raises(InputError, match="got not set"):
        problem_type(None)
