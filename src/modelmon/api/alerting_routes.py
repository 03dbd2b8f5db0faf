"""REST routes of metrics, alarms, monitoring alerts and topics, and ``GET /metrics``.

Bodies use the member names of CloudWatch (PutMetricData, GetMetricStatistics,
PutMetricAlarm...), SNS (CreateTopic, Subscribe, Publish) and SageMaker
(UpdateMonitoringAlert...), so a boto3-style request dict works as the body.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from modelmon.alerting.metrics import parse_time
from modelmon.alerting.prometheus import CONTENT_TYPE
from modelmon.alerting.service import Alerting
from modelmon.errors import InputError

router = APIRouter()

JsonBody = Annotated[dict[str, Any], Body()]
NextToken = Annotated[str | None, Query(alias="NextToken")]
MaxResults = Annotated[int | None, Query(alias="MaxResults")]


def _alerting(request: Request) -> Alerting:
    return request.app.state.alerting


def _dimensions(values: list[str] | None) -> list[dict[str, str]]:
    """``Name=Value`` (or ``Name``) query values as Dimensions."""
    out = []
    for item in values or []:
        name, sep, value = item.partition("=")
        if not name:
            raise InputError(f"{item!r} is not Name=Value", field="Dimension")
        out.append({"Name": name, **({"Value": value} if sep else {})})
    return out


# -- Prometheus ------------------------------------------------------------------------------


@router.get("/metrics", tags=["metrics"], response_class=Response)
def prometheus_metrics(request: Request) -> Response:
    """Prometheus text format: stored series' latest values and the server's own counters."""
    return Response(request.app.state.exposition.render(), media_type=CONTENT_TYPE)


# -- metrics -------------------------------------------------------------------------------------


@router.post("/api/metrics/data", tags=["metrics"])
def put_metric_data(request: Request, body: JsonBody) -> dict[str, Any]:
    """PutMetricData: ``{"Namespace", "MetricData": [...]}`` (at most 1,000 datapoints)."""
    return _alerting(request).put_metric_data(body.get("Namespace"), body.get("MetricData"))


@router.get("/api/metrics", tags=["metrics"])
def list_metrics(
    request: Request,
    namespace: Annotated[str | None, Query(alias="Namespace")] = None,
    metric_name: Annotated[str | None, Query(alias="MetricName")] = None,
    dimension: Annotated[
        list[str] | None, Query(alias="Dimension", description="Name=Value or Name; repeatable")
    ] = None,
    next_token: NextToken = None,
    max_results: MaxResults = None,
) -> dict[str, Any]:
    """ListMetrics, with each series' latest datapoint."""
    return _alerting(request).metrics.list_metrics(
        namespace, metric_name, _dimensions(dimension), next_token, max_results
    )


@router.post("/api/metrics/statistics", tags=["metrics"])
def get_metric_statistics(request: Request, body: JsonBody) -> dict[str, Any]:
    """GetMetricStatistics: ``{"Namespace", "MetricName", "Dimensions", "StartTime",
    "EndTime", "Period", "Statistics"}``."""
    return _alerting(request).metrics.get_metric_statistics(
        body.get("Namespace"),
        body.get("MetricName"),
        body.get("StartTime"),
        body.get("EndTime"),
        body.get("Period"),
        body.get("Statistics"),
        body.get("Dimensions"),
        body.get("Unit"),
    )


# -- alarms --------------------------------------------------------------------------------------


@router.put("/api/alarms/{name}", tags=["alarms"])
def put_metric_alarm(request: Request, name: str, body: JsonBody) -> dict[str, Any]:
    """PutMetricAlarm (create or replace): the alarm after a first evaluation."""
    return _alerting(request).alarms.put_metric_alarm({**body, "AlarmName": name})


@router.get("/api/alarms", tags=["alarms"])
def describe_alarms(
    request: Request,
    prefix: Annotated[str | None, Query(alias="AlarmNamePrefix")] = None,
    state: Annotated[str | None, Query(alias="StateValue")] = None,
    next_token: NextToken = None,
    max_results: MaxResults = None,
) -> dict[str, Any]:
    """DescribeAlarms."""
    return _alerting(request).alarms.describe_alarms(
        alarm_name_prefix=prefix, state_value=state, next_token=next_token, max_records=max_results
    )


@router.get("/api/alarms/{name}", tags=["alarms"])
def describe_alarm(request: Request, name: str) -> dict[str, Any]:
    """One alarm."""
    return _alerting(request).alarms.describe_alarm(name)


@router.delete("/api/alarms/{name}", status_code=204, tags=["alarms"])
def delete_alarm(request: Request, name: str) -> Response:
    """DeleteAlarms for one alarm."""
    _alerting(request).alarms.delete_alarms([name])
    return Response(status_code=204)


@router.get("/api/alarms/{name}/history", tags=["alarms"])
def describe_alarm_history(
    request: Request,
    name: str,
    item_type: Annotated[str | None, Query(alias="HistoryItemType")] = None,
    scan_by: Annotated[str | None, Query(alias="ScanBy")] = None,
    next_token: NextToken = None,
    max_results: MaxResults = None,
) -> dict[str, Any]:
    """DescribeAlarmHistory of one alarm (newest first)."""
    return _alerting(request).alarms.describe_alarm_history(
        alarm_name=name,
        history_item_type=item_type,
        scan_by=scan_by,
        next_token=next_token,
        max_records=max_results,
    )


@router.post("/api/alarms/evaluate", tags=["alarms"])
def evaluate_alarms(request: Request) -> dict[str, Any]:
    """Evaluate every metric alarm now (they are also evaluated when data arrives and every
    MODELMON_ALARM_INTERVAL seconds)."""
    return {"Evaluated": _alerting(request).alarms.evaluate_all()}


# -- monitoring alerts -----------------------------------------------------------------------------


@router.post(
    "/api/monitoring-schedules/{schedule}/alerts", status_code=201, tags=["monitoring alerts"]
)
def create_violation_alert(request: Request, schedule: str, body: JsonBody) -> dict[str, Any]:
    """A violation alert on a schedule: ``{"MonitoringAlertName", "DatapointsToAlert",
    "EvaluationPeriod", "AlarmActions", "OKActions"}`` (InAlert when violations were found)."""
    return _alerting(request).alarms.create_violation_alert(
        schedule,
        body.get("MonitoringAlertName", "violations"),
        body.get("DatapointsToAlert", 1),
        body.get("EvaluationPeriod", 1),
        body.get("AlarmActions"),
        body.get("OKActions"),
    )


@router.get("/api/monitoring-schedules/{schedule}/alerts", tags=["monitoring alerts"])
def list_monitoring_alerts(
    request: Request, schedule: str, next_token: NextToken = None, max_results: MaxResults = None
) -> dict[str, Any]:
    """ListMonitoringAlerts."""
    return _alerting(request).alarms.list_monitoring_alerts(schedule, next_token, max_results)


@router.put("/api/monitoring-schedules/{schedule}/alerts/{alert}", tags=["monitoring alerts"])
def update_monitoring_alert(
    request: Request, schedule: str, alert: str, body: JsonBody
) -> dict[str, Any]:
    """UpdateMonitoringAlert: ``{"DatapointsToAlert", "EvaluationPeriod"}``."""
    return _alerting(request).alarms.update_monitoring_alert(
        schedule, alert, body.get("DatapointsToAlert"), body.get("EvaluationPeriod")
    )


@router.delete(
    "/api/monitoring-schedules/{schedule}/alerts/{alert}",
    status_code=204,
    tags=["monitoring alerts"],
)
def delete_monitoring_alert(request: Request, schedule: str, alert: str) -> Response:
    """Delete a violation alert."""
    _alerting(request).alarms.delete_violation_alert(schedule, alert)
    return Response(status_code=204)


@router.get("/api/monitoring-alert-history", tags=["monitoring alerts"])
def list_monitoring_alert_history(
    request: Request,
    schedule: Annotated[str | None, Query(alias="MonitoringScheduleName")] = None,
    alert: Annotated[str | None, Query(alias="MonitoringAlertName")] = None,
    sort_by: Annotated[str | None, Query(alias="SortBy")] = None,
    sort_order: Annotated[str | None, Query(alias="SortOrder")] = None,
    status: Annotated[str | None, Query(alias="StatusEquals")] = None,
    before: Annotated[str | None, Query(alias="CreationTimeBefore")] = None,
    after: Annotated[str | None, Query(alias="CreationTimeAfter")] = None,
    next_token: NextToken = None,
    max_results: MaxResults = None,
) -> dict[str, Any]:
    """ListMonitoringAlertHistory."""
    return _alerting(request).alarms.list_monitoring_alert_history(
        monitoring_schedule_name=schedule,
        monitoring_alert_name=alert,
        sort_by=sort_by,
        sort_order=sort_order,
        next_token=next_token,
        max_results=max_results,
        creation_time_before=parse_time(before, "CreationTimeBefore") if before else None,
        creation_time_after=parse_time(after, "CreationTimeAfter") if after else None,
        status_equals=status,
    )


# -- topics --------------------------------------------------------------------------------------


@router.post("/api/topics", status_code=201, tags=["topics"])
def create_topic(request: Request, body: JsonBody) -> dict[str, Any]:
    """CreateTopic: ``{"Name", "Attributes"}`` → ``{"TopicArn"}`` (idempotent)."""
    return _alerting(request).topics.create_topic(body.get("Name"), body.get("Attributes"))


@router.get("/api/topics", tags=["topics"])
def list_topics(
    request: Request, next_token: NextToken = None, max_results: MaxResults = None
) -> dict[str, Any]:
    """ListTopics."""
    return _alerting(request).topics.list_topics(next_token, max_results)


@router.get("/api/topics/{topic}", tags=["topics"])
def describe_topic(request: Request, topic: str) -> dict[str, Any]:
    """A topic (by ARN or name) with its subscriptions."""
    return _alerting(request).topics.describe_topic(topic)


@router.delete("/api/topics/{topic}", status_code=204, tags=["topics"])
def delete_topic(request: Request, topic: str) -> Response:
    """DeleteTopic and its subscriptions."""
    _alerting(request).topics.delete_topic(topic)
    return Response(status_code=204)


@router.post("/api/topics/{topic}/subscriptions", status_code=201, tags=["topics"])
def subscribe(request: Request, topic: str, body: JsonBody) -> dict[str, Any]:
    """Subscribe: ``{"Protocol": "http"|"https"|"email", "Endpoint", "Secret"}``."""
    return _alerting(request).topics.subscribe(
        topic, body.get("Protocol"), body.get("Endpoint"), secret=body.get("Secret")
    )


@router.post("/api/subscriptions", status_code=201, tags=["topics"])
def subscribe_by_arn(request: Request, body: JsonBody) -> dict[str, Any]:
    """Subscribe with SNS's members: ``{"TopicArn", "Protocol", "Endpoint", "Secret"}``."""
    return _alerting(request).topics.subscribe(
        body.get("TopicArn"), body.get("Protocol"), body.get("Endpoint"), secret=body.get("Secret")
    )


@router.get("/api/subscriptions", tags=["topics"])
def list_subscriptions(
    request: Request, topic: Annotated[str | None, Query(alias="TopicArn")] = None
) -> dict[str, Any]:
    """ListSubscriptions (of one topic with ``TopicArn``)."""
    return _alerting(request).topics.list_subscriptions(topic)


@router.delete("/api/subscriptions/{arn}", status_code=204, tags=["topics"])
def unsubscribe(request: Request, arn: str) -> Response:
    """Unsubscribe."""
    _alerting(request).topics.unsubscribe(arn)
    return Response(status_code=204)


@router.post("/api/topics/{topic}/messages", status_code=201, tags=["topics"])
def publish(request: Request, topic: str, body: JsonBody) -> dict[str, Any]:
    """Publish: ``{"Message", "Subject", "DedupeKey"}`` → ``{"MessageId"}`` (delivered
    asynchronously)."""
    alerting = _alerting(request)
    arn = topic if topic.startswith("arn:") else alerting.topics.topic_arn(topic)
    if not alerting.topics.exists(arn):  # bad input of this call: 400, not 404
        raise InputError(f"topic {topic} does not exist", field="TopicArn")
    message_id = alerting.publish(
        arn, body.get("Message"), subject=body.get("Subject"), dedupe_key=body.get("DedupeKey")
    )
    return {"MessageId": message_id}


@router.get("/api/deliveries", tags=["topics"])
def list_deliveries(
    request: Request,
    message_id: Annotated[str | None, Query(alias="MessageId")] = None,
    topic: Annotated[str | None, Query(alias="TopicArn")] = None,
) -> dict[str, Any]:
    """Deliveries with every attempt (status code or error, duration), newest first."""
    return _alerting(request).topics.list_deliveries(message_id=message_id, topic=topic)
