"""Metrics, alarms, monitoring alerts and topics through a real server: REST answers and
their 400s naming the field, SageMaker's alert operations through boto3, ``/metrics`` with
the invoker's counters, and the CLI's chart, tables and topic commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from modelmon.cli import app
from modelmon.sdk import SNS, CloudWatch, DefaultModelMonitor, ModelmonClientError, Session

NS = "custom/app"
DIMS = [{"Name": "Endpoint", "Value": "churn"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type) -> Iterator[Any]:
    srv = server_type(tmp_path_factory.mktemp("alerting") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def session(server) -> Iterator[Session]:
    with Session(server.url) as s:
        yield s


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["message"]


def test_bad_input_answers_400_naming_the_field(session: Session) -> None:
    http = session.http
    topic = SNS(session).create_topic(Name="bad-input")["TopicArn"]
    cases = [
        (
            http.post(
                "/api/topics/nowhere/subscriptions",
                json={"Protocol": "http", "Endpoint": "http://127.0.0.1:9/"},
            ),
            "field 'TopicArn': topic nowhere does not exist",
        ),
        (
            http.post(
                "/api/subscriptions",
                json={"TopicArn": topic, "Protocol": "http", "Endpoint": "ftp://127.0.0.1/x"},
            ),
            "field 'Endpoint': 'ftp://127.0.0.1/x' is not an http or https URL (scheme 'ftp')",
        ),
        (
            http.post(
                "/api/subscriptions",
                json={"TopicArn": topic, "Protocol": "http", "Endpoint": "http://no-such.invalid/"},
            ),
            "field 'Endpoint': the host 'no-such.invalid' of 'http://no-such.invalid/' cannot be "
            "resolved",
        ),
        (
            http.post(
                "/api/subscriptions",
                json={"TopicArn": topic, "Protocol": "email", "Endpoint": "a@example.com"},
            ),
            "field 'Protocol': email subscriptions need SMTP: set MODELMON_SMTP_HOST",
        ),
        (
            http.post("/api/topics/nowhere/messages", json={"Message": "hi"}),
            "field 'TopicArn': topic nowhere does not exist",
        ),
        (
            http.put(
                "/api/alarms/a",
                json={
                    "Namespace": NS,
                    "MetricName": "m",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": "high",
                    "ComparisonOperator": "GreaterThanThreshold",
                },
            ),
            "field 'Threshold': 'high' is not a number",
        ),
        (
            http.post(
                "/api/metrics/statistics",
                json={
                    "Namespace": NS,
                    "MetricName": "unknown",
                    "StartTime": "2024-01-01T00:00:00Z",
                    "EndTime": "2024-01-02T00:00:00Z",
                    "Period": 3600,
                    "Statistics": ["Average"],
                },
            ),
            "field 'MetricName': no metric unknown in namespace custom/app",
        ),
        (
            http.post("/api/metrics/data", json={"Namespace": NS, "MetricData": [{"Value": 1}]}),
            "field 'MetricData[0].MetricName': MetricName must be 1 to 255 characters",
        ),
    ]
    for response, message in cases:
        status, text = _error(response)
        assert status == 400, (status, text)
        assert text.startswith(message), text
    assert http.get("/api/alarms/none").status_code == 404
    assert http.delete("/api/topics/none").status_code == 404


def test_sagemaker_alert_operations_through_boto3(server, session, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sm = boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        sm.list_monitoring_alerts(MonitoringScheduleName="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    session.call(
        "POST",
        "/api/monitoring-schedules",
        json={
            "MonitoringScheduleName": "alerted",
            "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinition": {
                    "MonitoringInputs": [
                        {
                            "BatchTransformInput": {
                                "DataCapturedDestinationS3Uri": "s3://bucket/capture",
                                "DatasetFormat": {"Csv": {"Header": False}},
                            }
                        }
                    ],
                    "MonitoringOutputConfig": {
                        "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/reports"}}]
                    },
                    "MonitoringAppSpecification": {"ImageUri": "modelmon"},
                },
            },
        },
    )
    created = session.call(
        "POST", "/api/monitoring-schedules/alerted/alerts", json={"MonitoringAlertName": "drift"}
    )
    assert created["AlertStatus"] == "OK" and created["EvaluationPeriod"] == 1
    with pytest.raises(ClientError) as err:
        sm.update_monitoring_alert(
            MonitoringScheduleName="alerted",
            MonitoringAlertName="other",
            DatapointsToAlert=1,
            EvaluationPeriod=1,
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    updated = sm.update_monitoring_alert(
        MonitoringScheduleName="alerted",
        MonitoringAlertName="drift",
        DatapointsToAlert=2,
        EvaluationPeriod=3,
    )
    assert updated["MonitoringAlertName"] == "drift"
    assert updated["MonitoringScheduleArn"].endswith(":monitoring-schedule/alerted")
    (summary,) = sm.list_monitoring_alerts(MonitoringScheduleName="alerted")[
        "MonitoringAlertSummaries"
    ]
    assert (summary["DatapointsToAlert"], summary["EvaluationPeriod"]) == (2, 3)
    assert summary["AlertStatus"] == "OK"
    assert isinstance(summary["CreationTime"], dt.datetime)
    history = sm.list_monitoring_alert_history(MonitoringScheduleName="alerted")
    assert history["MonitoringAlertHistory"] == []

    # the SDK's monitor object: SageMaker's method names plus create_violation_alert
    monitor = DefaultModelMonitor(
        role="arn:aws:iam::000000000000:role/m", sagemaker_session=session
    )
    monitor.monitoring_schedule_name = "alerted"
    topic = SNS(session).create_topic(Name="alerted-topic")["TopicArn"]
    alert = monitor.create_violation_alert("two-of-five", 2, 5, alarm_topic_arns=[topic])
    assert (alert.alert_name, alert.alert_status, alert.data_points_to_alert) == (
        "two-of-five",
        "OK",
        2,
    )
    monitor.update_monitoring_alert("two-of-five", data_points_to_alert=3, evaluation_period=5)
    alerts, token = monitor.list_monitoring_alerts()
    assert token is None
    assert {(a.alert_name, a.data_points_to_alert) for a in alerts} == {
        ("drift", 2),
        ("two-of-five", 3),
    }
    assert monitor.list_monitoring_alert_history() == ([], None)
    with pytest.raises(ModelmonClientError) as failed:
        monitor.create_violation_alert("two-of-five")
    assert failed.value.status == 409


def test_prometheus_metrics_and_invocation_counters(session: Session) -> None:
    CloudWatch(session).put_metric_data(
        NS,
        [
            {
                "MetricName": "queue depth",
                "Dimensions": [{"Name": "my-dim", "Value": "a"}],
                "Value": 7,
            }
        ],
    )
    for _ in range(2):  # an endpoint that does not exist: counted as "(unknown)", errors
        assert session.http.post("/endpoints/ghost/invocations", content=b"1").status_code == 400
    families = {
        f.name: f for f in text_string_to_metric_families(session.http.get("/metrics").text)
    }
    (sample,) = [
        s for s in families["modelmon_metric"].samples if s.labels["metric_name"] == "queue depth"
    ]
    assert sample.labels == {"namespace": NS, "metric_name": "queue depth", "my_dim": "a"}
    assert sample.value == 7.0
    values = {
        (s.name, s.labels.get("le")): s.value
        for family in (
            "modelmon_invocations",
            "modelmon_invocation_errors",
            "modelmon_invocation_latency_seconds",
        )
        for s in families[family].samples
        if s.labels.get("endpoint") == "(unknown)"
    }
    assert values[("modelmon_invocations_total", None)] == 2
    assert values[("modelmon_invocation_errors_total", None)] == 2
    assert values[("modelmon_invocation_latency_seconds_count", None)] == 2
    assert values[("modelmon_invocation_latency_seconds_bucket", "+Inf")] == 2
    assert "modelmon_capture_captured_total" in {
        s.name for s in families["modelmon_capture_captured"].samples
    }


def test_cli_chart_tables_and_topics(server, session: Session) -> None:
    runner = CliRunner()
    url = ["--url", server.url]
    now = dt.datetime.now(dt.UTC)
    CloudWatch(session).put_metric_data(
        NS,
        [
            {
                "MetricName": "latency",
                "Dimensions": DIMS,
                "Value": float(v),
                "Timestamp": (now - dt.timedelta(hours=h)).isoformat(),
            }
            for h, v in ((5, 10), (4, 30), (3, 20), (1, 80))
        ],
    )
    shown = runner.invoke(
        app,
        [
            "metrics",
            "show",
            "latency",
            "--namespace",
            NS,
            "--dimension",
            "Endpoint=churn",
            "--since",
            "6h",
            "--height",
            "4",
            *url,
        ],
    )
    assert shown.exit_code == 0, shown.output
    assert "4 period(s) with data" in shown.output
    assert "80 │" in shown.output and "10 │" in shown.output and "█" in shown.output
    missing = runner.invoke(app, ["metrics", "show", "nothing", "--namespace", NS, *url])
    assert missing.exit_code == 1 and "no metric nothing" in missing.output
    listed = runner.invoke(app, ["metrics", "list", "--namespace", NS, *url])
    assert listed.exit_code == 0 and "latency" in listed.output

    CloudWatch(session).put_metric_alarm(
        "latency-high",
        Namespace=NS,
        MetricName="latency",
        Dimensions=DIMS,
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=6,
        DatapointsToAlarm=1,
        Threshold=50,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = runner.invoke(app, ["alarms", *url])
    assert alarms.exit_code == 0, alarms.output
    assert "latency-high" in alarms.output and "ALARM" in alarms.output
    history = runner.invoke(app, ["alarms", "--history", "latency-high", *url])
    assert "INSUFFICIENT_DATA to ALARM" in history.output

    created = runner.invoke(app, ["topics", "create", "cli-topic", *url])
    assert created.exit_code == 0 and "arn:aws:sns:us-east-1:" in created.output
    bad = runner.invoke(app, ["topics", "subscribe", "cli-topic", "gopher://x", *url])
    assert bad.exit_code == 1 and "Protocol must be one of" in bad.output
    ok = runner.invoke(
        app, ["topics", "subscribe", "cli-topic", "http://127.0.0.1:9/x", "--secret", "k", *url]
    )
    assert ok.exit_code == 0, ok.output
    topics = runner.invoke(app, ["topics", "list", *url])
    assert "http://127.0.0.1:9/x (signed)" in topics.output
    published = runner.invoke(app, ["topics", "publish", "cli-topic", "hello", *url])
    assert published.exit_code == 0
    deliveries = runner.invoke(app, ["topics", "deliveries", "--topic", "cli-topic", *url])
    assert deliveries.exit_code == 0 and published.output.strip()[:8] in deliveries.output
