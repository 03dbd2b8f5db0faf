"""Client calls for metrics, alarms, topics and monitoring alerts.

:class:`CloudWatch` and :class:`SNS` take boto3's argument names (``Namespace``,
``MetricData``, ``AlarmName``, ``TopicArn``...) and answer boto3's shapes, so
code written for ``boto3.client("cloudwatch")`` / ``("sns")`` needs only the
client swapped::

    from modelmon.sdk import Session, CloudWatch, SNS

    session = Session("http://127.0.0.1:8080")
    sns, cloudwatch = SNS(session), CloudWatch(session)
    topic = sns.create_topic(Name="drift")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://hooks.example.com/x",
                  Secret="shared-secret")
    cloudwatch.put_metric_alarm(
        AlarmName="x-drift",
        Namespace="aws/sagemaker/Endpoints/data-metrics",
        MetricName="feature_baseline_drift_x",
        Dimensions=[{"Name": "Endpoint", "Value": "churn"},
                    {"Name": "MonitoringSchedule", "Value": "hourly"}],
        Statistic="Maximum", Period=3600, EvaluationPeriods=1, Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic], OKActions=[topic])

:class:`MonitoringAlerts` gives a model monitor SageMaker's alert methods
(``list_monitoring_alerts``, ``update_monitoring_alert``,
``list_monitoring_alert_history``) and ``create_violation_alert``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from modelmon.sdk.session import Session


def _time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _path(value: str) -> str:
    return quote(value, safe="")


class CloudWatch:
    """Metrics and alarms (boto3 CloudWatch client names)."""

    def __init__(self, session: Session | None = None) -> None:
        self.session = session or Session()

    def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> dict[str, Any]:
        """PutMetricData (at most 1,000 datapoints a call)."""
        data = [{**d, "Timestamp": _time(d.get("Timestamp"))} for d in MetricData]
        for d in data:
            if d["Timestamp"] is None:
                del d["Timestamp"]
        return self.session.call(
            "POST", "/api/metrics/data", json={"Namespace": Namespace, "MetricData": data}
        )

    def list_metrics(
        self,
        Namespace: str | None = None,
        MetricName: str | None = None,
        Dimensions: list[dict[str, str]] | None = None,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        """ListMetrics (a dimension filter without Value matches any value)."""
        params: dict[str, Any] = {
            k: v
            for k, v in {
                "Namespace": Namespace,
                "MetricName": MetricName,
                "NextToken": NextToken,
            }.items()
            if v
        }
        if Dimensions:
            params["Dimension"] = [
                f"{d['Name']}={d['Value']}" if d.get("Value") else d["Name"] for d in Dimensions
            ]
        return self.session.call("GET", "/api/metrics", params=params)

    def get_metric_statistics(
        self,
        Namespace: str,
        MetricName: str,
        StartTime: dt.datetime | str,
        EndTime: dt.datetime | str,
        Period: int,
        Statistics: list[str],
        Dimensions: list[dict[str, str]] | None = None,
        Unit: str | None = None,
    ) -> dict[str, Any]:
        """GetMetricStatistics: ``{"Label", "Datapoints": [...]}`` oldest first."""
        body = {
            "Namespace": Namespace,
            "MetricName": MetricName,
            "StartTime": _time(StartTime),
            "EndTime": _time(EndTime),
            "Period": Period,
            "Statistics": Statistics,
            "Dimensions": Dimensions or [],
            "Unit": Unit,
        }
        return self.session.call("POST", "/api/metrics/statistics", json=body)

    def put_metric_alarm(self, AlarmName: str, **request: Any) -> dict[str, Any]:
        """PutMetricAlarm (create or replace); answers the alarm after a first evaluation."""
        return self.session.call("PUT", f"/api/alarms/{_path(AlarmName)}", json=request)

    def describe_alarms(
        self,
        AlarmNames: list[str] | None = None,
        AlarmNamePrefix: str | None = None,
        StateValue: str | None = None,
        NextToken: str | None = None,
        MaxRecords: int | None = None,
    ) -> dict[str, Any]:
        """DescribeAlarms: ``{"MetricAlarms": [...]}``."""
        if AlarmNames:
            return {"MetricAlarms": [self.describe_alarm(n) for n in AlarmNames]}
        params = {
            k: v
            for k, v in {
                "AlarmNamePrefix": AlarmNamePrefix,
                "StateValue": StateValue,
                "NextToken": NextToken,
                "MaxResults": MaxRecords,
            }.items()
            if v
        }
        return self.session.call("GET", "/api/alarms", params=params)

    def describe_alarm(self, AlarmName: str) -> dict[str, Any]:
        """One alarm."""
        return self.session.call("GET", f"/api/alarms/{_path(AlarmName)}")

    def delete_alarms(self, AlarmNames: list[str]) -> None:
        """DeleteAlarms."""
        for name in AlarmNames:
            self.session.call("DELETE", f"/api/alarms/{_path(name)}")

    def describe_alarm_history(
        self,
        AlarmName: str,
        HistoryItemType: str | None = None,
        ScanBy: str | None = None,
        NextToken: str | None = None,
        MaxRecords: int | None = None,
    ) -> dict[str, Any]:
        """DescribeAlarmHistory of one alarm: ``{"AlarmHistoryItems": [...]}``."""
        params = {
            k: v
            for k, v in {
                "HistoryItemType": HistoryItemType,
                "ScanBy": ScanBy,
                "NextToken": NextToken,
                "MaxResults": MaxRecords,
            }.items()
            if v
        }
        return self.session.call("GET", f"/api/alarms/{_path(AlarmName)}/history", params=params)


class SNS:
    """Notification topics (boto3 SNS client names); ``Secret`` signs webhook bodies."""

    def __init__(self, session: Session | None = None) -> None:
        self.session = session or Session()

    def create_topic(self, Name: str, Attributes: dict[str, str] | None = None) -> dict[str, Any]:
        """CreateTopic: ``{"TopicArn"}`` (idempotent)."""
        return self.session.call(
            "POST", "/api/topics", json={"Name": Name, "Attributes": Attributes or {}}
        )

    def list_topics(self, NextToken: str | None = None) -> dict[str, Any]:
        """ListTopics."""
        params = {"NextToken": NextToken} if NextToken else {}
        return self.session.call("GET", "/api/topics", params=params)

    def delete_topic(self, TopicArn: str) -> None:
        """DeleteTopic."""
        self.session.call("DELETE", f"/api/topics/{_path(TopicArn)}")

    def subscribe(
        self, TopicArn: str, Protocol: str, Endpoint: str, Secret: str | None = None
    ) -> dict[str, Any]:
        """Subscribe an http/https webhook (optional HMAC ``Secret``) or an email address."""
        body = {"TopicArn": TopicArn, "Protocol": Protocol, "Endpoint": Endpoint}
        if Secret is not None:
            body["Secret"] = Secret
        return self.session.call("POST", "/api/subscriptions", json=body)

    def unsubscribe(self, SubscriptionArn: str) -> None:
        """Unsubscribe."""
        self.session.call("DELETE", f"/api/subscriptions/{_path(SubscriptionArn)}")

    def list_subscriptions_by_topic(self, TopicArn: str) -> dict[str, Any]:
        """ListSubscriptionsByTopic."""
        return self.session.call("GET", "/api/subscriptions", params={"TopicArn": TopicArn})

    def publish(
        self,
        TopicArn: str,
        Message: str,
        Subject: str | None = None,
        DedupeKey: str | None = None,
    ) -> dict[str, Any]:
        """Publish: ``{"MessageId"}``; delivery happens in the background."""
        body = {"Message": Message, "Subject": Subject, "DedupeKey": DedupeKey}
        return self.session.call(
            "POST",
            f"/api/topics/{_path(TopicArn)}/messages",
            json={k: v for k, v in body.items() if v is not None},
        )

    def list_deliveries(
        self, MessageId: str | None = None, TopicArn: str | None = None
    ) -> dict[str, Any]:
        """Deliveries with every attempt (modelmon's own call)."""
        params = {k: v for k, v in {"MessageId": MessageId, "TopicArn": TopicArn}.items() if v}
        return self.session.call("GET", "/api/deliveries", params=params)


@dataclass
class MonitoringAlertSummary:
    """One monitoring alert (the SageMaker SDK's MonitoringAlertSummary)."""

    alert_name: str
    creation_time: str
    last_modified_time: str
    alert_status: str
    data_points_to_alert: int
    evaluation_period: int
    actions: dict[str, Any]


@dataclass
class MonitoringAlertHistorySummary:
    """One status change of a monitoring alert (the SageMaker SDK's summary)."""

    alert_name: str
    creation_time: str
    alert_status: str


class MonitoringAlerts:
    """SageMaker's monitoring-alert methods for a monitor with ``sagemaker_session`` and a
    schedule (``_schedule()``), plus modelmon's ``create_violation_alert``."""

    sagemaker_session: Session

    def _schedule(self) -> str:  # provided by the monitor
        raise NotImplementedError

    def create_violation_alert(
        self,
        monitoring_alert_name: str = "violations",
        data_points_to_alert: int = 1,
        evaluation_period: int = 1,
        alarm_topic_arns: list[str] | None = None,
        ok_topic_arns: list[str] | None = None,
    ) -> MonitoringAlertSummary:
        """Alert on this schedule's violations: InAlert when at least ``data_points_to_alert``
        of the latest ``evaluation_period`` executions found any; entering InAlert publishes
        to ``alarm_topic_arns``, back to OK to ``ok_topic_arns``."""
        summary = self.sagemaker_session.call(
            "POST",
            f"/api/monitoring-schedules/{self._schedule()}/alerts",
            json={
                "MonitoringAlertName": monitoring_alert_name,
                "DatapointsToAlert": data_points_to_alert,
                "EvaluationPeriod": evaluation_period,
                "AlarmActions": alarm_topic_arns or [],
                "OKActions": ok_topic_arns or [],
            },
        )
        return _summary(summary)

    def update_monitoring_alert(
        self, monitoring_alert_name: str, data_points_to_alert: int, evaluation_period: int
    ) -> None:
        """UpdateMonitoringAlert."""
        self.sagemaker_session.call(
            "PUT",
            f"/api/monitoring-schedules/{self._schedule()}/alerts/{monitoring_alert_name}",
            json={"DatapointsToAlert": data_points_to_alert, "EvaluationPeriod": evaluation_period},
        )

    def list_monitoring_alerts(
        self, next_token: str | None = None, max_results: int | None = 10
    ) -> tuple[list[MonitoringAlertSummary], str | None]:
        """ListMonitoringAlerts: (summaries, next token)."""
        params = {
            k: v for k, v in {"NextToken": next_token, "MaxResults": max_results}.items() if v
        }
        page = self.sagemaker_session.call(
            "GET", f"/api/monitoring-schedules/{self._schedule()}/alerts", params=params
        )
        return [_summary(s) for s in page["MonitoringAlertSummaries"]], page.get("NextToken")

    def list_monitoring_alert_history(
        self,
        monitoring_alert_name: str | None = None,
        sort_by: str | None = "CreationTime",
        sort_order: str | None = "Descending",
        next_token: str | None = None,
        max_results: int | None = 10,
        creation_time_before: str | None = None,
        creation_time_after: str | None = None,
        status_equals: str | None = None,
    ) -> tuple[list[MonitoringAlertHistorySummary], str | None]:
        """ListMonitoringAlertHistory: (status changes, next token)."""
        params = {
            k: v
            for k, v in {
                "MonitoringScheduleName": self._schedule(),
                "MonitoringAlertName": monitoring_alert_name,
                "SortBy": sort_by,
                "SortOrder": sort_order,
                "NextToken": next_token,
                "MaxResults": max_results,
                "CreationTimeBefore": _time(creation_time_before),
                "CreationTimeAfter": _time(creation_time_after),
                "StatusEquals": status_equals,
            }.items()
            if v
        }
        page = self.sagemaker_session.call("GET", "/api/monitoring-alert-history", params=params)
        items = [
            MonitoringAlertHistorySummary(
                alert_name=h["MonitoringAlertName"],
                creation_time=h["CreationTime"],
                alert_status=h["AlertStatus"],
            )
            for h in page["MonitoringAlertHistory"]
        ]
        return items, page.get("NextToken")


def _summary(s: dict[str, Any]) -> MonitoringAlertSummary:
    return MonitoringAlertSummary(
        alert_name=s["MonitoringAlertName"],
        creation_time=s["CreationTime"],
        last_modified_time=s["LastModifiedTime"],
        alert_status=s["AlertStatus"],
        data_points_to_alert=s["DatapointsToAlert"],
        evaluation_period=s["EvaluationPeriod"],
        actions=s["Actions"],
    )
