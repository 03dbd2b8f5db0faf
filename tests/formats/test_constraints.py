import json

import pytest

from modelmon.errors import InputError
from modelmon.formats import Constraints, MonitoringConfig, Statistics, dumps


def test_defaults_are_the_real_containers() -> None:
    config = MonitoringConfig()
    assert config.to_dict() == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
        },
    }
    assert config.effective_categorical_threshold == 0.1
    assert config.effective_categorical_method == "LInfinity"


def test_legacy_spellings_are_read() -> None:
    doc = {
        "version": 0.0,
        "features": [
            {
                "name": "message",
                "inferred_type": "String",
                "completeness": 1.0,
                "string_constraints": {
                    "domains": ["a", "b"],
                    "monitoring_config_overrides": {"evaluate_constraints": "Disabled"},
                },
            }
        ],
        "monitoring_config": {
            "distribution_constraints": {
                "enable_comparisons": False,
                "min_domain_mass": 0.5,
                "comparison_threshold": 1.0,
            }
        },
    }
    c = Constraints.from_dict(doc)
    assert c.features[0].domains == ["a", "b"]
    assert c.features[0].overrides == {"evaluate_constraints": "Disabled"}
    assert c.config_for(c.features[0]).evaluate_constraints == "Disabled"
    assert c.monitoring_config.perform_comparison == "Disabled"
    assert c.monitoring_config.domain_content_threshold == 0.5
    assert c.monitoring_config.comparison_threshold == 1.0


def test_feature_overrides_apply_to_that_feature_only() -> None:
    doc = {
        "features": [
            {
                "name": "x",
                "inferred_type": "Fractional",
                "monitoringConfigOverrides": {
                    "distribution_constraints": {"comparison_threshold": 0.5},
                    "datatype_check_threshold": 0.9,
                },
            },
            {"name": "y", "inferred_type": "Integral"},
        ],
        "monitoring_config": {"distribution_constraints": {"comparison_method": "Simple"}},
    }
    c = Constraints.from_dict(doc)
    x, y = c.config_for(c.features[0]), c.config_for(c.features[1])
    assert (x.comparison_threshold, x.datatype_check_threshold, x.comparison_method) == (
        0.5,
        0.9,
        "Simple",
    )
    assert (y.comparison_threshold, y.datatype_check_threshold) == (0.1, 1.0)
    # and it survives a write/read round trip
    again = Constraints.from_dict(json.loads(dumps(c.to_dict())))
    assert again.config_for(again.features[0]) == x


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"features": "nope"}, "features"),
        ({"version": 0}, "features"),
        ({"features": [{"inferred_type": "String"}]}, "features[0].name"),
        ({"features": [{"name": "a", "inferred_type": "Text"}]}, "features[0].inferred_type"),
        (
            {"features": [], "monitoring_config": {"datatype_check_threshold": "high"}},
            "monitoring_config.datatype_check_threshold",
        ),
        (
            {
                "features": [],
                "monitoring_config": {"distribution_constraints": {"comparison_method": "KS"}},
            },
            "monitoring_config.distribution_constraints.comparison_method",
        ),
        (
            {"features": [], "monitoring_config": {"evaluate_constraints": "yes"}},
            "monitoring_config.evaluate_constraints",
        ),
    ],
)
def test_invalid_constraints_name_the_field(doc, field) -> None:
    with pytest.raises(InputError) as err:
        Constraints.from_dict(doc, source="my/constraints.json")
    assert "my/constraints.json" in str(err.value)
    assert field in str(err.value)


def test_invalid_statistics_name_the_field() -> None:
    doc = {"dataset": {"item_count": 1}, "features": [{"name": "a", "numerical_statistics": []}]}
    with pytest.raises(InputError, match=r"features\[0\]\.numerical_statistics"):
        Statistics.from_dict(doc, source="s.json")


@pytest.mark.reference
def test_reads_sagemaker_legacy_fixture(reference) -> None:
    doc = json.loads((reference / "sdk_tests_data_monitor/constraints.json").read_text())
    c = Constraints.from_dict(doc)
    assert [f.name for f in c.features] == ["message", "second_message"]
    assert c.features[0].overrides == {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled"}
    assert c.monitoring_config.perform_comparison == "Enabled"
    assert c.monitoring_config.comparison_threshold == 1.0
