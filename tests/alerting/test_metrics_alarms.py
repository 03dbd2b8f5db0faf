"""Metric series and alarms on a real SQLite database, time from an injected clock:
statistics per period checked against pandas, M-of-N alarms into ALARM and back to OK,
missing-data treatments, history, and bad input naming the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelmon.alerting import Alerting, AlertingSettings
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.models import MonitoringExecutionRow
from modelmon.errors import InputError, NotFoundError
from modelmon.formats.cloudwatch import METRICS_PATH
from modelmon.monitoring.metrics_files import dimensions, metric_record, write_metric_file

UTC = dt.UTC
NS = "custom/app"
DIMS = [{"Name": "Endpoint", "Value": "churn"}]


@pytest.fixture
def alerting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Any) -> Alerting:
    monkeypatch.delenv("MODELMON_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    return Alerting(db, settings, AlertingSettings(), clock=clock, deliver=False)


def put(alerting: Alerting, value: float, at: dt.datetime, dims: list[dict[str, str]] = DIMS):
    alerting.put_metric_data(
        NS, [{"MetricName": "latency", "Dimensions": dims, "Value": value, "Timestamp": at}]
    )


def test_statistics_per_period_match_pandas(alerting: Alerting) -> None:
    rng = np.random.default_rng(7)
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    seconds = rng.integers(0, 6 * 3600, size=500)
    values = rng.normal(10, 3, size=500)
    data = [
        {
            "MetricName": "latency",
            "Dimensions": DIMS,
            "Value": float(v),
            "Timestamp": (start + dt.timedelta(seconds=int(s))).isoformat(),
        }
        for s, v in zip(seconds, values, strict=True)
    ]
    # one statistic set too (CloudWatch's StatisticValues)
    data.append(
        {
            "MetricName": "latency",
            "Dimensions": DIMS,
            "StatisticValues": {"SampleCount": 4, "Sum": 40.0, "Minimum": 1.0, "Maximum": 19.0},
            "Timestamp": (start + dt.timedelta(hours=2, minutes=1)).timestamp(),
        }
    )
    for chunk in range(0, len(data), 200):
        alerting.put_metric_data(NS, data[chunk : chunk + 200])

    answer = alerting.metrics.get_metric_statistics(
        NS,
        "latency",
        start,
        start + dt.timedelta(hours=6),
        3600,
        ["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
        DIMS,
    )
    frame = pd.DataFrame({"t": start + pd.to_timedelta(seconds, unit="s"), "v": values})
    frame["hour"] = frame["t"].dt.floor("h")
    expected = frame.groupby("hour")["v"].agg(["count", "sum", "min", "max"])
    extra = pd.Timestamp(start + dt.timedelta(hours=2))
    expected.loc[extra, "count"] += 4
    expected.loc[extra, "sum"] += 40.0
    expected.loc[extra, "min"] = min(expected.loc[extra, "min"], 1.0)
    expected.loc[extra, "max"] = max(expected.loc[extra, "max"], 19.0)
    points = answer["Datapoints"]
    assert [p["Timestamp"] for p in points] == [t.to_pydatetime() for t in expected.index]
    got = pd.DataFrame(points).set_index("Timestamp")
    np.testing.assert_allclose(got["SampleCount"], expected["count"])
    np.testing.assert_allclose(got["Sum"], expected["sum"])
    np.testing.assert_allclose(got["Minimum"], expected["min"])
    np.testing.assert_allclose(got["Maximum"], expected["max"])
    np.testing.assert_allclose(got["Average"], expected["sum"] / expected["count"])

    listed = alerting.metrics.list_metrics(NS, dimensions=[{"Name": "Endpoint"}])["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in listed] == [("latency", DIMS)]
    assert (
        alerting.metrics.list_metrics(NS, dimensions=[{"Name": "Endpoint", "Value": "x"}])[
            "Metrics"
        ]
        == []
    )


def alarm(alerting: Alerting, **extra: Any) -> dict[str, Any]:
    body = {
        "AlarmName": "slow",
        "Namespace": NS,
        "MetricName": "latency",
        "Dimensions": DIMS,
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 100,
        "ComparisonOperator": "GreaterThanThreshold",
        **extra,
    }
    return alerting.alarms.put_metric_alarm(body)


def state(alerting: Alerting) -> str:
    return alerting.alarms.describe_alarm("slow")["StateValue"]


def test_two_of_three_periods_alarm_then_ok(alerting: Alerting, clock: Any) -> None:
    assert alarm(alerting)["StateValue"] == "INSUFFICIENT_DATA"
    put(alerting, 150, clock())  # 1 breaching of 3: OK
    assert state(alerting) == "OK"
    clock.advance(60)
    put(alerting, 50, clock())  # the open period has data: [150, 50]
    assert state(alerting) == "OK"
    clock.advance(60)
    put(alerting, 170, clock())  # [150, 50, 170]: 2 of 3 breaching
    assert state(alerting) == "ALARM"
    assert "2 out of the last 3 datapoints" in alerting.alarms.describe_alarm("slow")["StateReason"]
    clock.advance(60)
    put(alerting, 10, clock())  # [50, 170, 10]: 1 breaching
    assert state(alerting) == "OK"

    history = alerting.alarms.describe_alarm_history(
        "slow", history_item_type="StateUpdate", scan_by="TimestampAscending"
    )["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]


def test_missing_data_treatments(alerting: Alerting, clock: Any) -> None:
    alarm(alerting, EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="missing")
    put(alerting, 150, clock())
    assert state(alerting) == "ALARM"
    clock.advance(180)  # nothing for three periods
    alerting.alarms.evaluate_all()
    assert state(alerting) == "INSUFFICIENT_DATA"

    alarm(alerting, EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="breaching")
    assert state(alerting) == "ALARM"
    alarm(alerting, EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="notBreaching")
    assert state(alerting) == "OK"
    alarm(alerting, EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="ignore")
    assert state(alerting) == "OK"  # ignore keeps the state


def test_bad_input_names_the_field(alerting: Alerting) -> None:
    with pytest.raises(InputError) as err:
        alarm(alerting, Threshold="high")
    assert err.value.field == "Threshold" and "'high' is not a number" in str(err.value)
    with pytest.raises(InputError) as err:
        alarm(alerting, ComparisonOperator="Above")
    assert err.value.field == "ComparisonOperator"
    with pytest.raises(InputError) as err:
        alarm(alerting, DatapointsToAlarm=4)
    assert err.value.field == "DatapointsToAlarm"
    with pytest.raises(InputError) as err:
        alarm(alerting, AlarmActions=["arn:aws:sns:us-east-1:000000000000:nowhere"])
    assert err.value.field == "AlarmActions" and "nowhere does not exist" in str(err.value)
    with pytest.raises(InputError) as err:
        alerting.metrics.get_metric_statistics(
            NS, "unknown", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", 3600, ["Average"]
        )
    assert err.value.field == "MetricName" and "no metric unknown" in str(err.value)
    with pytest.raises(InputError) as err:
        alerting.put_metric_data(NS, [{"MetricName": "m", "Value": "fast"}])
    assert err.value.field == "MetricData[0].Value"
    with pytest.raises(InputError) as err:
        alerting.put_metric_data(NS, [{"MetricName": "m", "Value": 1}] * 1001)
    assert err.value.field == "MetricData"
    with pytest.raises(NotFoundError):
        alerting.alarms.describe_alarm("missing")
    with pytest.raises(NotFoundError, match=r"topic .*nowhere does not exist"):
        alerting.publish("arn:aws:sns:us-east-1:000000000000:nowhere", "hello")


def test_an_ended_execution_is_ingested_in_its_namespace(alerting: Alerting, tmp_path) -> None:
    at = dt.datetime(2024, 1, 2, 5, tzinfo=UTC)
    stamp = "2024-01-02T05:00:00Z"
    dims = dimensions("churn", "mq-hourly")
    report = tmp_path / "report"
    report.mkdir()
    (report / "constraint_violations.json").write_text(
        '{"violations": [{"feature_name": "f2"}, {"feature_name": "accuracy"}]}'
    )
    directory = alerting.settings.executions_dir / "exec-mq" / METRICS_PATH
    directory.mkdir(parents=True)
    path = write_metric_file(
        [
            metric_record("f2", stamp, dims, value=0.61),
            metric_record("accuracy", stamp, dims, value=0.8),
        ],
        str(directory),
        prefix="model-metrics",
    )
    with open(path, "a") as lines:
        lines.write('{"MetricName": "broken", "Value": "n/a"}\n')  # left out, logged
    with alerting.db.session() as session:
        session.add(
            MonitoringExecutionRow(
                id="exec-mq",
                arn="arn:exec-mq",
                schedule_name="mq-hourly",
                scheduled_time=at,
                monitoring_type="ModelQuality",
                endpoint_name="churn",
                status="CompletedWithViolations",
                metrics_uri=path,
                report_uri=str(report),
                window_end=at,
            )
        )
    alerting.on_finished("exec-mq")
    listed = alerting.metrics.list_metrics("aws/sagemaker/Endpoints/model-metrics")["Metrics"]
    assert {(m["MetricName"], m["LastValue"]) for m in listed} == {("f2", 0.61), ("accuracy", 0.8)}
    assert all(m["Dimensions"] == dims and m["LastTimestamp"] == at for m in listed)
    (violations,) = alerting.metrics.list_metrics("modelmon/monitoring")["Metrics"]
    assert violations["LastValue"] == 2.0
    assert violations["Dimensions"] == [{"Name": "MonitoringSchedule", "Value": "mq-hourly"}]
