"""A real ``modelmon serve``: an execution with drift becomes metric series equal to what
its statistics and violations files say (and to numpy on the data), a metric alarm and a
schedule's violation alert notify real webhooks once per transition, ``/metrics`` parses
with Prometheus' parser, and a restart loses no pending delivery."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelmon.analysis.api import baseline
from modelmon.sdk import SNS, CloudWatch, Session

ENDED = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
NAMESPACE = "aws/sagemaker/ModelMonitoring/data-metrics"  # batch transform input
ENV = {
    "MODELMON_DELIVERY_BACKOFF": "0.05",
    "MODELMON_DELIVERY_POLL": "0.2",
    "MODELMON_ALARM_INTERVAL": "3600",  # no missing-data evaluation during the test
}


def _write_csv(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["x,y"] + [f"{a!r},{b!r}" for a, b in zip(x.tolist(), y.tolist(), strict=True)]
    path.write_text("\n".join(lines) + "\n")


def _capture(objects: Path, prefix: str, x: np.ndarray, y: np.ndarray) -> None:
    """A batch transform's capture manifest for this hour listing one CSV file."""
    _write_csv(objects / "bucket" / f"{prefix}-data" / "part-0.csv", x, y)
    hour = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/%H")
    manifest = objects / "bucket" / prefix / "input" / hour / "job.manifest"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps([{"prefix": f"s3://bucket/{prefix}-data/"}, "part-0.csv"]))


def _config(capture_prefix: str) -> dict[str, Any]:
    return {
        "ScheduleConfig": {
            "ScheduleExpression": "NOW",
            "DataAnalysisStartTime": "-PT1H",
            "DataAnalysisEndTime": "-PT0H",
        },
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": {"S3Uri": "s3://bucket/baseline/constraints.json"},
                "StatisticsResource": {"S3Uri": "s3://bucket/baseline/statistics.json"},
            },
            "MonitoringInputs": [
                {
                    "BatchTransformInput": {
                        "DataCapturedDestinationS3Uri": f"s3://bucket/{capture_prefix}",
                        "DatasetFormat": {"Csv": {"Header": True}},
                    }
                }
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/reports"}}]
            },
            "MonitoringAppSpecification": {"ImageUri": "modelmon"},
            "Environment": {"MODELMON_ANALYZER_WORKERS": "1"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    }


def _executions(session: Session, schedule: str) -> list[dict[str, Any]]:
    return session.call(
        "GET",
        "/api/monitoring-executions",
        params={"MonitoringScheduleName": schedule, "SortBy": "ScheduledTime"},
    )["MonitoringExecutionSummaries"]


def _ended(session: Session, schedule: str, count: int, wait_until: Any) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = _executions(session, schedule)
        ended = [e for e in found if e["MonitoringExecutionStatus"] in ENDED]
        return ended[0] if len(found) == count and len(ended) == count else None

    summary = wait_until(done, timeout=120, message=f"{count} execution(s) of {schedule}")
    return session.call("GET", f"/api/monitoring-executions/{summary['MonitoringExecutionId']}")


def _series(cloudwatch: CloudWatch, name: str, schedule: str, stat: str) -> float:
    now = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        NAMESPACE,
        name,
        now - dt.timedelta(hours=1),
        now + dt.timedelta(minutes=5),
        3900,
        [stat],
        [{"Name": "MonitoringSchedule", "Value": schedule}],
    )["Datapoints"]
    assert len(points) == 1, points
    return points[0][stat]


def test_drift_metrics_alarms_alerts_and_prometheus(
    tmp_path, start_server, receiver_factory, wait_until
) -> None:
    rng = np.random.default_rng(3)
    train_x, train_y = rng.normal(0, 1, 2000), rng.uniform(0, 10, 2000)
    _write_csv(tmp_path / "train.csv", train_x, train_y)
    server = start_server("srv", env=ENV)
    baseline(str(tmp_path / "train.csv"), str(server.objects / "bucket" / "baseline"), header=True)
    drift_x, drift_y = rng.normal(3, 1, 1500), rng.uniform(0, 10, 1500)
    _capture(server.objects, "drifted", drift_x, drift_y)
    _capture(server.objects, "normal", rng.normal(0, 1, 1500), rng.uniform(0, 10, 1500))
    alarm_hook, alert_hook, ends_hook = receiver_factory(), receiver_factory(), receiver_factory()

    with Session(server.url) as session:
        sns, cloudwatch = SNS(session), CloudWatch(session)
        drift_topic = sns.create_topic(Name="drift")["TopicArn"]
        sns.subscribe(drift_topic, "http", alarm_hook.url)
        alert_topic = sns.create_topic(Name="violations")["TopicArn"]
        ends_topic = sns.create_topic(Name="execution-ends")["TopicArn"]
        sns.subscribe(ends_topic, "http", ends_hook.url)
        sns.subscribe(alert_topic, "http", alert_hook.url, Secret="k")
        alarm = cloudwatch.put_metric_alarm(
            "x-drift",
            Namespace=NAMESPACE,
            MetricName="feature_baseline_drift_x",
            Dimensions=[{"Name": "MonitoringSchedule", "Value": "hourly-check"}],
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0.5,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[drift_topic],
        )
        assert alarm["StateValue"] == "INSUFFICIENT_DATA"

        session.call(
            "POST",
            "/api/monitoring-schedules",
            json={
                "MonitoringScheduleName": "hourly-check",
                "MonitoringScheduleConfig": _config("drifted"),
                # opting in to a notification when each execution ends
                "Tags": [{"Key": "modelmon:ExecutionTopicArn", "Value": ends_topic}],
            },
        )
        session.call(
            "POST",
            "/api/monitoring-schedules/hourly-check/alerts",
            json={
                "MonitoringAlertName": "any-violation",
                "AlarmActions": [alert_topic],
                "OKActions": [alert_topic],
            },
        )
        execution = _ended(session, "hourly-check", 1, wait_until)
        assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution
        # metrics are stored (and alarms evaluated) just after the end is recorded
        (in_alert,) = alert_hook.wait_for(1)
        report = server.objects / execution["ReportUri"].removeprefix("s3://")
        statistics = json.loads((report / "statistics.json").read_text())
        violations = json.loads((report / "constraint_violations.json").read_text())["violations"]

        # the metric series equal the statistics file and numpy on the data
        features = {f["name"]: f for f in statistics["features"]}
        for name, data in (("x", drift_x), ("y", drift_y)):
            numeric = features[name]["numerical_statistics"]
            common = numeric["common"]
            count = _series(cloudwatch, f"feature_data_{name}", "hourly-check", "SampleCount")
            assert count == common["num_present"] == len(data)
            total = _series(cloudwatch, f"feature_data_{name}", "hourly-check", "Sum")
            assert total == pytest.approx(numeric["sum"]) and total == pytest.approx(data.sum())
            low = _series(cloudwatch, f"feature_data_{name}", "hourly-check", "Minimum")
            assert low == pytest.approx(data.min()) and low == pytest.approx(numeric["min"])
            high = _series(cloudwatch, f"feature_data_{name}", "hourly-check", "Maximum")
            assert high == pytest.approx(data.max())
            average = _series(cloudwatch, f"feature_data_{name}", "hourly-check", "Average")
            assert average == pytest.approx(data.mean())
            non_null = _series(cloudwatch, f"feature_non_null_{name}", "hourly-check", "Average")
            assert non_null == 1.0
        (drift,) = [
            v
            for v in violations
            if v["feature_name"] == "x" and v["constraint_check_type"] == "baseline_drift_check"
        ]
        distance = float(re.search(r"distance: ([0-9.Ee-]+)", drift["description"]).group(1))
        x_drift = _series(cloudwatch, "feature_baseline_drift_x", "hourly-check", "Maximum")
        assert x_drift == pytest.approx(distance, rel=1e-9) and x_drift > 0.5
        counted = cloudwatch.get_metric_statistics(
            "modelmon/monitoring",
            "constraint_violations",
            dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
            3900,
            ["Maximum"],
            [{"Name": "MonitoringSchedule", "Value": "hourly-check"}],
        )["Datapoints"]
        assert counted[0]["Maximum"] == len(violations)

        # the drift alarm fired once; the violation alert is InAlert and notified once
        assert cloudwatch.describe_alarm("x-drift")["StateValue"] == "ALARM"
        (fired,) = alarm_hook.wait_for(1)
        assert json.loads(fired.document["Message"])["NewStateValue"] == "ALARM"
        body = json.loads(in_alert.document["Message"])
        assert (body["MonitoringScheduleName"], body["AlertStatus"]) == ("hourly-check", "InAlert")
        alerts = session.call("GET", "/api/monitoring-schedules/hourly-check/alerts")
        assert [
            (a["MonitoringAlertName"], a["AlertStatus"]) for a in alerts["MonitoringAlertSummaries"]
        ] == [("any-violation", "InAlert")]

        # Prometheus: the series' latest values and executions by status
        text = session.http.get("/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = {
            s.labels["metric_name"]: s.value
            for s in families["modelmon_metric"].samples
            if s.labels.get("MonitoringSchedule") == "hourly-check"
        }
        assert samples["feature_baseline_drift_x"] == pytest.approx(x_drift)
        assert samples["feature_data_y"] == pytest.approx(drift_y.mean())
        statuses = {
            s.labels["status"]: s.value for s in families["modelmon_monitoring_executions"].samples
        }
        assert statuses == {"CompletedWithViolations": 1.0}
        alarms = {s.labels["state"]: s.value for s in families["modelmon_alarms"].samples}
        assert alarms == {"ALARM": 2.0}

        # normal data next: the alert goes back to OK, one more delivery
        session.call(
            "PUT",
            "/api/monitoring-schedules/hourly-check",
            json={"MonitoringScheduleConfig": _config("normal")},
        )
        second = _ended(session, "hourly-check", 2, wait_until)
        assert second["MonitoringExecutionStatus"] == "Completed", second
        in_alert, back = alert_hook.wait_for(2)
        assert json.loads(back.document["Message"])["AlertStatus"] == "OK"
        history = session.call(
            "GET",
            "/api/monitoring-alert-history",
            params={"MonitoringScheduleName": "hourly-check", "SortOrder": "Ascending"},
        )["MonitoringAlertHistory"]
        assert [h["AlertStatus"] for h in history] == ["InAlert", "OK"]
        wait_until(
            lambda: all(d["Status"] == "delivered" for d in sns.list_deliveries()["Deliveries"]),
            message="every delivery recorded",
        )
        # the drift alarm has no OK action (its state after the second run depends on
        # whether both runs fell in one 60 s period, so it is not asserted)
        assert len(alarm_hook.received()) == 1
        assert len(alert_hook.received()) == 2
        ends = [json.loads(d.document["Message"]) for d in ends_hook.wait_for(2)]
        assert [(e["MonitoringExecutionStatus"], e["Violations"]) for e in ends] == [
            ("CompletedWithViolations", len(violations)),
            ("Completed", 0),
        ]
        assert ends[0]["MonitoringExecutionId"] == execution["MonitoringExecutionId"]


@pytest.mark.slow
def test_a_restart_loses_no_pending_delivery(start_server, receiver, wait_until) -> None:
    server = start_server("srv", env={**ENV, "MODELMON_DELIVERY_BACKOFF": "3"})
    receiver.answers = [500]
    with Session(server.url) as session:
        sns = SNS(session)
        topic = sns.create_topic(Name="t")["TopicArn"]
        sns.subscribe(topic, "http", receiver.url)
        message_id = sns.publish(topic, "survives a restart")["MessageId"]
        receiver.wait_for(1)  # the first attempt failed; the retry is 3 s away

        def attempted() -> bool:
            (d,) = sns.list_deliveries(MessageId=message_id)["Deliveries"]
            return d["Status"] == "pending" and len(d["Attempts"]) == 1

        wait_until(attempted, message="the failed attempt recorded")
    server.stop()
    server.start()
    with Session(server.url) as session:
        got = receiver.wait_for(2)
        assert got[1].document["MessageId"] == message_id
        assert got[1].headers["x-modelmon-delivery-attempt"] == "2"

        def delivered() -> bool:
            (d,) = SNS(session).list_deliveries(MessageId=message_id)["Deliveries"]
            return d["Status"] == "delivered"

        wait_until(delivered, message="the delivery recorded after the restart")
