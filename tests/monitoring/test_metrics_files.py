"""Metric files (SPEC §5.5): records from statistics and drift, written as JSON Lines."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelmon.analysis.api import baseline
from modelmon.formats.cloudwatch import data_metrics_namespace
from modelmon.monitoring.metrics_files import (
    data_quality_metrics,
    dimensions,
    metric_record,
    metric_timestamp,
    write_metric_file,
)


@pytest.fixture(scope="module")
def data_and_statistics(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("metrics")
    rng = np.random.default_rng(5)
    n = 500
    data = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, n).round(3),
            "calls": rng.integers(0, 9, n).astype(float),
            "plan": rng.choice(["yes", "no"], n),
        }
    )
    data.loc[rng.random(n) < 0.1, "amount"] = np.nan
    data.loc[rng.random(n) < 0.2, "plan"] = None
    data["calls"] = data["calls"].astype("Int64")
    data.to_csv(folder / "data.csv", index=False)
    result = baseline(str(folder / "data.csv"), format="csv", header=True, workers=1)
    return data, result.statistics


def test_records_equal_the_data(data_and_statistics) -> None:
    data, statistics = data_and_statistics
    drift = {"amount": ("numerical", 0.25), "plan": ("categorical", 0.125)}
    records = data_quality_metrics(
        statistics, drift, endpoint="ep", schedule="sched", timestamp="2024-05-06T07:00:00Z"
    )
    assert [r["MetricName"] for r in records] == [
        "feature_data_amount",
        "feature_non_null_amount",
        "feature_baseline_drift_amount",
        "feature_data_calls",
        "feature_non_null_calls",
        "feature_non_null_plan",
        "feature_baseline_drift_plan",
    ]
    by_name = {r["MetricName"]: r for r in records}
    for name in ("amount", "calls"):
        values = data[name].dropna().to_numpy(dtype=float)
        assert by_name[f"feature_data_{name}"]["StatisticValues"] == {
            "SampleCount": len(values),
            "Sum": pytest.approx(np.sum(values), rel=1e-12),
            "Minimum": values.min(),
            "Maximum": values.max(),
        }
        assert "Value" not in by_name[f"feature_data_{name}"]
    for name in ("amount", "calls", "plan"):
        present = int(data[name].notna().sum())
        assert by_name[f"feature_non_null_{name}"]["Value"] == present / len(data)
    assert by_name["feature_non_null_calls"]["Value"] == 1.0
    assert by_name["feature_baseline_drift_amount"]["Value"] == 0.25
    assert by_name["feature_baseline_drift_plan"]["Value"] == 0.125
    for record in records:
        assert record["Timestamp"] == "2024-05-06T07:00:00Z"
        assert record["Unit"] == "None"
        assert record["Dimensions"] == [
            {"Name": "Endpoint", "Value": "ep"},
            {"Name": "MonitoringSchedule", "Value": "sched"},
        ]
        assert list(record)[:3] == ["MetricName", "Timestamp", "Dimensions"]


def test_skip_batch_dimensions_and_non_finite_values(data_and_statistics) -> None:
    _, statistics = data_and_statistics
    records = data_quality_metrics(
        statistics,
        {"amount": ("chi_squared", math.nan), "calls": ("numerical", 0.5)},
        endpoint=None,
        schedule="batch-schedule",
        timestamp=datetime(2024, 5, 6, 7, 30, 15, 999, tzinfo=UTC),
        skip={"plan"},
    )
    names = [r["MetricName"] for r in records]
    assert "feature_baseline_drift_amount" not in names  # NaN: not sent
    assert "feature_baseline_drift_calls" in names
    assert not any(n.endswith("_plan") for n in names)
    assert {r["Timestamp"] for r in records} == {"2024-05-06T07:30:15Z"}
    assert records[0]["Dimensions"] == [{"Name": "MonitoringSchedule", "Value": "batch-schedule"}]
    assert dimensions(None, None) == []
    assert data_metrics_namespace("ep") == "aws/sagemaker/Endpoints/data-metrics"
    assert data_metrics_namespace(None) == "aws/sagemaker/ModelMonitoring/data-metrics"


def test_timestamps_are_utc_seconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert metric_timestamp(datetime(2024, 1, 1, 2, 0, 5, tzinfo=plus_two)) == (
        "2024-01-01T00:00:05Z"
    )
    assert metric_timestamp(datetime(2024, 1, 1, 2, 0, 5)) == "2024-01-01T02:00:05Z"
    assert metric_timestamp("2024-01-01T02:00:05.123+02:00") == "2024-01-01T00:00:05Z"


def test_a_record_holds_a_value_or_statistic_values() -> None:
    with pytest.raises(ValueError):
        metric_record("m", "t", [])
    with pytest.raises(ValueError):
        metric_record("m", "t", [], value=1.0, statistic_values={"Sum": 1.0})
    assert metric_record("m", "t", [], statistic_values={"Sum": math.inf}) is None


def test_write_metric_file(tmp_path: Path) -> None:
    records = [
        metric_record("feature_non_null_Zoë ✓", "2024-01-01T00:00:00Z", [], value=0.5),
        metric_record("m2", "2024-01-01T00:00:00Z", [], value=1.0),
    ]
    path = write_metric_file(records, str(tmp_path / "cloudwatch"))
    assert path is not None
    written = Path(path)
    assert written.parent == tmp_path / "cloudwatch"
    assert written.name.startswith("data-metrics-") and written.suffix == ".json"
    lines = written.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    assert [p.name for p in written.parent.iterdir()] == [written.name]  # no temp file left
    assert write_metric_file([], str(tmp_path / "none")) is None
    assert not (tmp_path / "none").exists()
    other = write_metric_file(records, str(tmp_path / "cloudwatch"), prefix="model-metrics")
    assert other is not None and Path(other).name.startswith("model-metrics-")
