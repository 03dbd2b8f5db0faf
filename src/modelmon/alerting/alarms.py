"""Alarms on metric series (CloudWatch PutMetricAlarm) and monitoring alerts (SageMaker).

An alarm watches one series (namespace, metric, dimensions) through a
statistic (Average, Sum, Minimum, Maximum, SampleCount) over ``Period`` seconds
and compares it with ``Threshold``. States are ``OK``, ``ALARM`` and
``INSUFFICIENT_DATA``; every change is kept in the alarm's history and
publishes one message to each topic of the new state's actions (``AlarmActions``
on ALARM, ``OKActions`` on OK, ``InsufficientDataActions``), in the same
transaction as the change.

Evaluation (when datapoints of the series arrive, when the alarm is created or
changed, and every ``MODELMON_ALARM_INTERVAL`` seconds for missing data): the
range is the ``EvaluationPeriods`` periods (aligned to the epoch) ending with
the period that holds now; if that newest period has no datapoint yet it is
taken as still open, and the range is the ``EvaluationPeriods`` periods before
it. With M = ``DatapointsToAlarm``: M or more breaching periods → ALARM; else
OK when at least one period has data. Missing periods (``TreatMissingData``):
``missing`` and ``ignore`` leave them out (all missing: INSUFFICIENT_DATA, or
for ``ignore`` the state stays), ``breaching`` counts them as breaching,
``notBreaching`` as good. Two servers may evaluate at once: a change is a
conditional update on the state read, so each transition happens (and notifies)
once.

A **monitoring alert** (``kind = violations``; SageMaker's
ListMonitoringAlerts / UpdateMonitoringAlert / ListMonitoringAlertHistory) is an
alarm on the schedule's ``modelmon/monitoring`` ``constraint_violations``
series that evaluates the latest ``EvaluationPeriod`` executions (one datapoint
each, whatever their times): ``InAlert`` when at least ``DatapointsToAlert`` of
them found violations, ``OK`` otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from modelmon.alerting.metrics import (
    STATISTICS,
    VIOLATIONS_METRIC,
    VIOLATIONS_NAMESPACE,
    MetricStore,
    Point,
    aggregate,
    bucket_start,
    canonical_dimensions,
    check_namespace,
    check_period,
    dimension_list,
    parse_time,
    schedule_exists,
    series_key,
    statistic_value,
)
from modelmon.alerting.topics import Topics
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import paginate
from modelmon.db.models import utcnow
from modelmon.db.models_alerting import (
    AlarmHistoryRow,
    AlarmRow,
    MetricDatapointRow,
    MetricSeriesRow,
)
from modelmon.errors import ConflictError, InputError, NotFoundError

log = logging.getLogger("modelmon.alerting.alarms")

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT)
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")
ALARM_NAME = re.compile(r"^[^\x00-\x1f/]{1,255}$")
MONITORING_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_ACTIONS = 5
INITIAL_REASON = "Unchecked: Initial alarm creation"


def _int(body: dict[str, Any], member: str, default: int | None, low: int, high: int) -> int:
    value = body.get(member, default)
    if value is None:
        raise InputError(f"{member} is required", field=member)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"{value!r} is not a whole number", field=member)
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a whole number", field=member) from None
    if number != int(number) or not low <= number <= high:
        raise InputError(f"{value!r} must be a whole number from {low} to {high}", field=member)
    return int(number)


def _threshold(value: Any) -> float:
    if value is None:
        raise InputError("Threshold is required", field="Threshold")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"{value!r} is not a number", field="Threshold")
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a number", field="Threshold") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"{value!r} is not a finite number", field="Threshold")
    return number


def _actions(body: dict[str, Any], member: str) -> list[str]:
    value = body.get(member) or []
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise InputError("must be a list of topic ARNs", field=member)
    if len(value) > MAX_ACTIONS:
        raise InputError(f"at most {MAX_ACTIONS} actions", field=member)
    for arn in value:
        if not arn.startswith("arn:aws:sns:"):
            raise InputError(f"{arn!r} is not a topic ARN (arn:aws:sns:...)", field=member)
    return list(dict.fromkeys(value))


class Alarms:
    """Alarms and monitoring alerts of one database (see the module doc)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        metrics: MetricStore,
        topics: Topics,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.topics = topics
        self.clock = clock

    def alarm_arn(self, name: str) -> str:
        """``arn:aws:cloudwatch:{region}:{account}:alarm:{name}``."""
        return f"arn:aws:cloudwatch:{self.settings.region}:{self.settings.account_id}:alarm:{name}"

    # -- metric alarms --------------------------------------------------------------------

    def put_metric_alarm(self, body: dict[str, Any]) -> dict[str, Any]:
        """PutMetricAlarm (create or replace); answers the alarm as DescribeAlarms does, after
        a first evaluation."""
        name = body.get("AlarmName")
        if not isinstance(name, str) or not ALARM_NAME.match(name):
            raise InputError(
                "AlarmName must be 1 to 255 characters without '/' or control characters",
                field="AlarmName",
            )
        fields = self._alarm_fields(body)
        self._store(name, "metric", None, fields)
        self.evaluate_alarms([name])
        return self.describe_alarm(name)

    def _alarm_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        namespace = check_namespace(body.get("Namespace"))
        metric = body.get("MetricName")
        if not isinstance(metric, str) or not 1 <= len(metric) <= 255:
            raise InputError("MetricName must be 1 to 255 characters", field="MetricName")
        dims = canonical_dimensions(body.get("Dimensions"))
        statistic = body.get("Statistic", "Average")
        if statistic not in STATISTICS:
            raise InputError(f"Statistic must be one of {', '.join(STATISTICS)}", field="Statistic")
        comparison = body.get("ComparisonOperator")
        if comparison not in COMPARISONS:
            raise InputError(
                f"ComparisonOperator must be one of {', '.join(COMPARISONS)}",
                field="ComparisonOperator",
            )
        evaluation_periods = _int(body, "EvaluationPeriods", None, 1, 100_000)
        datapoints = _int(body, "DatapointsToAlarm", evaluation_periods, 1, evaluation_periods)
        treat = body.get("TreatMissingData", "missing")
        if treat not in TREAT_MISSING:
            raise InputError(
                f"TreatMissingData must be one of {', '.join(TREAT_MISSING)}",
                field="TreatMissingData",
            )
        if "Period" not in body:
            raise InputError("Period is required", field="Period")
        actions = {
            "alarm_actions": _actions(body, "AlarmActions"),
            "ok_actions": _actions(body, "OKActions"),
            "insufficient_data_actions": _actions(body, "InsufficientDataActions"),
        }
        for member, arns in zip(
            ("AlarmActions", "OKActions", "InsufficientDataActions"), actions.values(), strict=True
        ):
            self.topics.check_topics(arns, member)
        description = body.get("AlarmDescription")
        if description is not None and not isinstance(description, str):
            raise InputError("AlarmDescription must be a string", field="AlarmDescription")
        return {
            "series_key": series_key(namespace, metric, dims),
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimension_list(dims),
            "statistic": statistic,
            "comparison_operator": comparison,
            "threshold": _threshold(body.get("Threshold")),
            "period": check_period(body.get("Period")),
            "evaluation_periods": evaluation_periods,
            "datapoints_to_alarm": datapoints,
            "treat_missing_data": treat,
            "actions_enabled": bool(body.get("ActionsEnabled", True)),
            "description": description,
            **actions,
        }

    def _store(self, name: str, kind: str, schedule: str | None, fields: dict[str, Any]) -> None:
        now = self.clock()
        with self.db.session() as session:
            row = session.get(AlarmRow, name)
            if row is not None and row.kind != kind:
                raise ConflictError(
                    f"alarm {name} already exists as a {row.kind} alarm", aws_code="ResourceInUse"
                )
            if row is None:
                session.add(
                    AlarmRow(
                        name=name,
                        arn=self.alarm_arn(name),
                        kind=kind,
                        schedule_name=schedule,
                        state=INSUFFICIENT,
                        state_reason=INITIAL_REASON,
                        state_updated_time=now,
                        creation_time=now,
                        last_modified_time=now,
                        **fields,
                    )
                )
                summary = f'Alarm "{name}" created'
            else:
                for key, value in fields.items():
                    setattr(row, key, value)
                row.last_modified_time = now
                summary = f'Alarm "{name}" updated'
            session.add(
                AlarmHistoryRow(
                    alarm_name=name,
                    timestamp=now,
                    item_type="ConfigurationUpdate",
                    summary=summary,
                    data={k: v for k, v in fields.items() if k != "series_key"},
                )
            )

    def _alarm(self, session: Session, name: str) -> AlarmRow:
        row = session.get(AlarmRow, name)
        if row is None:
            raise NotFoundError(f"alarm {name} does not exist", aws_code="ResourceNotFound")
        return row

    def describe_alarm(self, name: str) -> dict[str, Any]:
        """One alarm, as DescribeAlarms lists it."""
        with self.db.session() as session:
            return _describe(self._alarm(session, name))

    def describe_alarms(
        self,
        alarm_names: Sequence[str] | None = None,
        alarm_name_prefix: str | None = None,
        state_value: str | None = None,
        next_token: str | None = None,
        max_records: int | None = None,
    ) -> dict[str, Any]:
        """DescribeAlarms: ``{"MetricAlarms": [...], "NextToken"}`` by name."""
        if state_value is not None and state_value not in STATES:
            raise InputError(f"StateValue must be one of {', '.join(STATES)}", field="StateValue")
        with self.db.session() as session:
            query = select(AlarmRow).order_by(AlarmRow.name)
            if alarm_names:
                query = query.where(AlarmRow.name.in_(list(alarm_names)))
            if alarm_name_prefix:
                query = query.where(AlarmRow.name.startswith(alarm_name_prefix, autoescape=True))
            if state_value:
                query = query.where(AlarmRow.state == state_value)
            rows = session.scalars(query).all()
            page, token = paginate(rows, next_token, max_records or 100)
            out: dict[str, Any] = {"MetricAlarms": [_describe(r) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_alarms(self, names: Sequence[str]) -> None:
        """DeleteAlarms (NotFoundError naming the first unknown one; nothing is deleted then)."""
        with self.db.session() as session:
            for name in names:
                self._alarm(session, name)
            session.execute(delete(AlarmRow).where(AlarmRow.name.in_(list(names))))

    def describe_alarm_history(
        self,
        alarm_name: str | None = None,
        history_item_type: str | None = None,
        start_date: Any = None,
        end_date: Any = None,
        next_token: str | None = None,
        max_records: int | None = None,
        scan_by: str | None = None,
    ) -> dict[str, Any]:
        """DescribeAlarmHistory: ``{"AlarmHistoryItems": [...]}`` newest first
        (``ScanBy=TimestampAscending`` for oldest first)."""
        if history_item_type not in (None, "ConfigurationUpdate", "StateUpdate", "Action"):
            raise InputError(
                "HistoryItemType must be ConfigurationUpdate, StateUpdate or Action",
                field="HistoryItemType",
            )
        if scan_by not in (None, "TimestampDescending", "TimestampAscending"):
            raise InputError(
                "ScanBy must be TimestampDescending or TimestampAscending", field="ScanBy"
            )
        with self.db.session() as session:
            query = select(AlarmHistoryRow)
            if alarm_name:
                self._alarm(session, alarm_name)
                query = query.where(AlarmHistoryRow.alarm_name == alarm_name)
            if history_item_type:
                query = query.where(AlarmHistoryRow.item_type == history_item_type)
            if start_date is not None:
                query = query.where(
                    AlarmHistoryRow.timestamp >= parse_time(start_date, "StartDate")
                )
            if end_date is not None:
                query = query.where(AlarmHistoryRow.timestamp < parse_time(end_date, "EndDate"))
            ascending = scan_by == "TimestampAscending"
            order = AlarmHistoryRow.id if ascending else AlarmHistoryRow.id.desc()
            rows = session.scalars(query.order_by(order)).all()
        page, token = paginate(rows, next_token, max_records or 100)
        out: dict[str, Any] = {
            "AlarmHistoryItems": [
                {
                    "AlarmName": r.alarm_name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": r.timestamp,
                    "HistoryItemType": r.item_type,
                    "HistorySummary": r.summary,
                    "HistoryData": json.dumps(
                        {"oldState": r.old_state, "newState": r.new_state, **(r.data or {})},
                        default=str,
                    ),
                }
                for r in page
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    # -- evaluation -----------------------------------------------------------------------

    def evaluate_series(self, keys: Sequence[str]) -> int:
        """Evaluate every alarm on these series (after new datapoints); returns how many."""
        if not keys:
            return 0
        with self.db.session() as session:
            names = list(
                session.scalars(select(AlarmRow.name).where(AlarmRow.series_key.in_(list(keys))))
            )
        return self.evaluate_alarms(names) if names else 0

    def evaluate_all(self) -> int:
        """Evaluate every alarm that watches periods (missing data); returns how many."""
        with self.db.session() as session:
            names = list(session.scalars(select(AlarmRow.name).where(AlarmRow.kind == "metric")))
        return self.evaluate_alarms(names) if names else 0

    def evaluate_alarms(self, names: Sequence[str]) -> int:
        """Evaluate these alarms now; state changes are recorded and notified."""
        now = self.clock()
        published = False
        with self.db.session() as session:
            rows = session.scalars(select(AlarmRow).where(AlarmRow.name.in_(list(names)))).all()
            keys = {r.series_key for r in rows}
            ids = dict(
                session.execute(
                    select(MetricSeriesRow.key, MetricSeriesRow.id).where(
                        MetricSeriesRow.key.in_(list(keys))
                    )
                ).all()
            )
            timed = [r for r in rows if r.kind == "metric" and r.series_key in ids]
            points: dict[int, list[Point]] = {}
            if timed:
                earliest = min(
                    bucket_start(now, r.period)
                    - dt.timedelta(seconds=r.period * r.evaluation_periods)
                    for r in timed
                )
                latest = max(
                    bucket_start(now, r.period) + dt.timedelta(seconds=r.period) for r in timed
                )
                points = self.metrics.points(
                    session, sorted({ids[r.series_key] for r in timed}), earliest, latest
                )
            changes: list[_Change] = []
            for row in rows:
                sid = ids.get(row.series_key)
                if row.kind == "violations":
                    values = self._latest_values(session, sid, row.evaluation_periods)
                else:
                    values = self._period_values(row, points.get(sid, []) if sid else [], now)
                outcome = decide(row, values)
                if outcome is not None and outcome[0] != row.state:
                    changes.append(_Change(row, outcome[0], outcome[1], values))
            published = self._apply(session, changes, now) if changes else False
        if published and self.topics.on_publish is not None:
            self.topics.on_publish()
        return len(names)

    def _period_values(
        self, row: AlarmRow, points: list[Point], now: dt.datetime
    ) -> list[tuple[dt.datetime, float | None]]:
        period = dt.timedelta(seconds=row.period)
        current = bucket_start(now, row.period)
        buckets = aggregate(points, row.period)
        end = current + period if current in buckets else current
        starts = [end - period * k for k in range(row.evaluation_periods, 0, -1)]
        return [
            (s, statistic_value(row.statistic, *buckets[s]) if s in buckets else None)
            for s in starts
        ]

    def _latest_values(
        self, session: Session, series_id: int | None, count: int
    ) -> list[tuple[dt.datetime, float | None]]:
        if series_id is None:
            return []
        rows = session.execute(
            select(MetricDatapointRow.timestamp, MetricDatapointRow.maximum)
            .where(MetricDatapointRow.series_id == series_id)
            .order_by(MetricDatapointRow.timestamp.desc(), MetricDatapointRow.id.desc())
            .limit(count)
        ).all()
        return [(stamp, value) for stamp, value in reversed(rows)]

    def _apply(self, session: Session, changes: list[_Change], now: dt.datetime) -> bool:
        """Record state changes in bulk, each a conditional update on the state read (so
        of two evaluators only one changes an alarm), with their history and notifications;
        returns whether anything was published."""
        table = AlarmRow.__table__
        session.execute(
            update(table)
            .where(
                table.c.name == bindparam("b_name"),
                table.c.state == bindparam("b_old"),
                table.c.state_updated_time == bindparam("b_old_time"),
            )
            .values(
                state=bindparam("b_state"),
                state_reason=bindparam("b_reason"),
                state_reason_data=bindparam("b_data"),
                state_updated_time=bindparam("b_now"),
            ),
            [
                {
                    "b_name": c.row.name,
                    "b_old": c.row.state,
                    "b_old_time": c.row.state_updated_time,
                    "b_state": c.state,
                    "b_reason": c.reason,
                    "b_data": {
                        "recentDatapoints": [v for _, v in c.values if v is not None],
                        "threshold": c.row.threshold,
                    },
                    "b_now": now,
                }
                for c in changes
            ],
        )
        ours = set(
            session.scalars(
                select(table.c.name).where(
                    table.c.name.in_([c.row.name for c in changes]),
                    table.c.state_updated_time == now,
                )
            )
        )
        history: list[dict[str, Any]] = []
        notices: list[tuple[str, str, str | None]] = []
        sources: list[_Change] = []
        for c in changes:
            if c.row.name not in ours:
                continue  # another evaluator changed it first
            old, row = c.row.state, c.row
            history.append(
                {
                    "alarm_name": row.name,
                    "timestamp": now,
                    "item_type": "StateUpdate",
                    "summary": f"Alarm updated from {old} to {c.state}",
                    "old_state": old,
                    "new_state": c.state,
                    "data": {"reason": c.reason},
                }
            )
            actions = {
                ALARM: row.alarm_actions,
                OK: row.ok_actions,
                INSUFFICIENT: row.insufficient_data_actions,
            }[c.state]
            if not row.actions_enabled or not actions:
                continue
            if row.kind == "violations" and _alert_status(old) == _alert_status(c.state):
                continue  # INSUFFICIENT_DATA -> OK: the alert's status did not change
            message = json.dumps(self._notification(row, old, c.state, c.reason, now))
            subject = f'{c.state}: "{row.name}" in {self.settings.region}'[:100]
            for arn in actions:
                notices.append((arn, message, subject))
                sources.append(c)
        unknown = self.topics.publish_batch(session, notices)
        for (arn, _, _), c in zip(notices, sources, strict=True):
            if arn in unknown:
                summary = f"Failed to publish to {arn}: the topic does not exist"
                log.warning("alarm %s: %s", c.row.name, summary)
            else:
                summary = f"Published a notification to {arn}"
            history.append(
                {
                    "alarm_name": c.row.name,
                    "timestamp": now,
                    "item_type": "Action",
                    "summary": summary,
                    "old_state": c.row.state,
                    "new_state": c.state,
                    "data": None,
                }
            )
        if history:
            session.execute(insert(AlarmHistoryRow), history)
        return len(notices) > len([a for a, _, _ in notices if a in unknown])

    def _notification(
        self, row: AlarmRow, old: str, state: str, reason: str, now: dt.datetime
    ) -> dict[str, Any]:
        """The body CloudWatch publishes to SNS for a state change."""
        body: dict[str, Any] = {
            "AlarmName": row.name,
            "AlarmDescription": row.description,
            "AWSAccountId": self.settings.account_id,
            "AlarmConfigurationUpdatedTimestamp": _iso(row.last_modified_time),
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": _iso(now),
            "Region": self.settings.region,
            "AlarmArn": row.arn,
            "OldStateValue": old,
            "OKActions": row.ok_actions,
            "AlarmActions": row.alarm_actions,
            "InsufficientDataActions": row.insufficient_data_actions,
            "Trigger": {
                "MetricName": row.metric_name,
                "Namespace": row.namespace,
                "StatisticType": "Statistic",
                "Statistic": row.statistic.upper(),
                "Unit": None,
                "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in row.dimensions],
                "Period": row.period,
                "EvaluationPeriods": row.evaluation_periods,
                "DatapointsToAlarm": row.datapoints_to_alarm,
                "ComparisonOperator": row.comparison_operator,
                "Threshold": row.threshold,
                "TreatMissingData": row.treat_missing_data,
                "EvaluateLowSampleCountPercentile": "",
            },
        }
        if row.kind == "violations":
            body["MonitoringScheduleName"] = row.schedule_name
            body["MonitoringAlertName"] = row.name.partition(".")[2]
            body["AlertStatus"] = _alert_status(state)
        return body

    # -- monitoring alerts (SageMaker) -----------------------------------------------------

    def _check_schedule(self, schedule: Any) -> str:
        if not isinstance(schedule, str) or not MONITORING_NAME.match(schedule):
            raise InputError(
                "MonitoringScheduleName must be 1 to 63 letters, digits or '-'",
                field="MonitoringScheduleName",
            )
        if not schedule_exists(self.db, schedule):
            raise NotFoundError(
                f"Monitoring schedule {schedule} does not exist", aws_code="ResourceNotFound"
            )
        return schedule

    @staticmethod
    def _check_alert_name(name: Any) -> str:
        if not isinstance(name, str) or not MONITORING_NAME.match(name):
            raise InputError(
                "MonitoringAlertName must be 1 to 63 letters, digits or '-'",
                field="MonitoringAlertName",
            )
        return name

    def create_violation_alert(
        self,
        monitoring_schedule_name: Any,
        monitoring_alert_name: Any = "violations",
        datapoints_to_alert: Any = 1,
        evaluation_period: Any = 1,
        alarm_actions: Any = None,
        ok_actions: Any = None,
    ) -> dict[str, Any]:
        """A schedule's violation alert (one call): InAlert when at least
        ``datapoints_to_alert`` of the latest ``evaluation_period`` executions found
        violations; ALARM/OK transitions publish to ``alarm_actions``/``ok_actions``."""
        schedule = self._check_schedule(monitoring_schedule_name)
        alert = self._check_alert_name(monitoring_alert_name)
        body = {
            "DatapointsToAlert": datapoints_to_alert,
            "EvaluationPeriod": evaluation_period,
            "AlarmActions": alarm_actions or [],
            "OKActions": ok_actions or [],
        }
        evaluation = _int(body, "EvaluationPeriod", 1, 1, 100)
        datapoints = _int(body, "DatapointsToAlert", 1, 1, 100)
        if datapoints > evaluation:
            raise InputError(
                f"DatapointsToAlert ({datapoints}) must not exceed EvaluationPeriod ({evaluation})",
                field="DatapointsToAlert",
            )
        actions = {m: _actions(body, m) for m in ("AlarmActions", "OKActions")}
        for member, arns in actions.items():
            self.topics.check_topics(arns, member)
        name = f"{schedule}.{alert}"
        with self.db.session() as session:
            if session.get(AlarmRow, name) is not None:
                raise ConflictError(
                    f"monitoring alert {alert} of schedule {schedule} already exists",
                    aws_code="ResourceInUse",
                )
        dims = (("MonitoringSchedule", schedule),)
        self._store(
            name,
            "violations",
            schedule,
            {
                "series_key": series_key(VIOLATIONS_NAMESPACE, VIOLATIONS_METRIC, dims),
                "namespace": VIOLATIONS_NAMESPACE,
                "metric_name": VIOLATIONS_METRIC,
                "dimensions": dimension_list(dims),
                "statistic": "Maximum",
                "comparison_operator": "GreaterThanThreshold",
                "threshold": 0.0,
                "period": 1,
                "evaluation_periods": evaluation,
                "datapoints_to_alarm": datapoints,
                "treat_missing_data": "missing",
                "actions_enabled": True,
                "description": f"violations found by monitoring schedule {schedule}",
                "alarm_actions": actions["AlarmActions"],
                "ok_actions": actions["OKActions"],
                "insufficient_data_actions": [],
            },
        )
        self.evaluate_alarms([name])
        return self._alert_summary(name)

    def _alert(self, session: Session, schedule: str, alert: str) -> AlarmRow:
        row = session.get(AlarmRow, f"{schedule}.{alert}")
        if row is None or row.kind != "violations":
            raise NotFoundError(
                f"Monitoring alert {alert} of schedule {schedule} does not exist",
                aws_code="ResourceNotFound",
            )
        return row

    def _alert_summary(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            return _alert(session.get(AlarmRow, name))

    def update_monitoring_alert(
        self,
        monitoring_schedule_name: Any,
        monitoring_alert_name: Any,
        datapoints_to_alert: Any,
        evaluation_period: Any,
    ) -> dict[str, Any]:
        """UpdateMonitoringAlert: ``{"MonitoringScheduleArn", "MonitoringAlertName"}``."""
        schedule = self._check_schedule(monitoring_schedule_name)
        alert = self._check_alert_name(monitoring_alert_name)
        body = {"DatapointsToAlert": datapoints_to_alert, "EvaluationPeriod": evaluation_period}
        evaluation = _int(body, "EvaluationPeriod", None, 1, 100)
        datapoints = _int(body, "DatapointsToAlert", None, 1, 100)
        if datapoints > evaluation:
            raise InputError(
                f"DatapointsToAlert ({datapoints}) must not exceed EvaluationPeriod ({evaluation})",
                field="DatapointsToAlert",
            )
        now = self.clock()
        with self.db.session() as session:
            row = self._alert(session, schedule, alert)
            row.datapoints_to_alarm = datapoints
            row.evaluation_periods = evaluation
            row.last_modified_time = now
            session.add(
                AlarmHistoryRow(
                    alarm_name=row.name,
                    timestamp=now,
                    item_type="ConfigurationUpdate",
                    summary=f'Alarm "{row.name}" updated',
                    data={"datapoints_to_alarm": datapoints, "evaluation_periods": evaluation},
                )
            )
            name = row.name
        self.evaluate_alarms([name])
        return {
            "MonitoringScheduleArn": self.settings.arn("monitoring-schedule", schedule),
            "MonitoringAlertName": alert,
        }

    def list_monitoring_alerts(
        self,
        monitoring_schedule_name: Any,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        """ListMonitoringAlerts: ``{"MonitoringAlertSummaries": [...], "NextToken"}``."""
        schedule = self._check_schedule(monitoring_schedule_name)
        with self.db.session() as session:
            rows = session.scalars(
                select(AlarmRow)
                .where(AlarmRow.kind == "violations", AlarmRow.schedule_name == schedule)
                .order_by(AlarmRow.name)
            ).all()
            page, token = paginate(rows, next_token, max_results)
            out: dict[str, Any] = {"MonitoringAlertSummaries": [_alert(r) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_violation_alert(self, monitoring_schedule_name: str, alert: str) -> None:
        """Delete a monitoring alert (and its history)."""
        with self.db.session() as session:
            row = self._alert(session, monitoring_schedule_name, alert)
            session.delete(row)

    def list_monitoring_alert_history(
        self,
        monitoring_schedule_name: str | None = None,
        monitoring_alert_name: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        creation_time_before: Any = None,
        creation_time_after: Any = None,
        status_equals: str | None = None,
    ) -> dict[str, Any]:
        """ListMonitoringAlertHistory: status changes (InAlert / OK) of monitoring alerts."""
        if sort_by not in (None, "CreationTime", "Status"):
            raise InputError("SortBy must be CreationTime or Status", field="SortBy")
        if sort_order not in (None, "Ascending", "Descending"):
            raise InputError("SortOrder must be Ascending or Descending", field="SortOrder")
        if status_equals not in (None, "InAlert", "OK"):
            raise InputError("StatusEquals must be InAlert or OK", field="StatusEquals")
        if monitoring_schedule_name is not None:
            self._check_schedule(monitoring_schedule_name)
        with self.db.session() as session:
            query = (
                select(AlarmHistoryRow, AlarmRow)
                .join(AlarmRow, AlarmRow.name == AlarmHistoryRow.alarm_name)
                .where(AlarmRow.kind == "violations", AlarmHistoryRow.item_type == "StateUpdate")
            )
            if monitoring_schedule_name:
                query = query.where(AlarmRow.schedule_name == monitoring_schedule_name)
            if monitoring_alert_name:
                query = query.where(AlarmRow.name.endswith(f".{monitoring_alert_name}"))
            if creation_time_before is not None:
                query = query.where(
                    AlarmHistoryRow.timestamp
                    < parse_time(creation_time_before, "CreationTimeBefore")
                )
            if creation_time_after is not None:
                query = query.where(
                    AlarmHistoryRow.timestamp > parse_time(creation_time_after, "CreationTimeAfter")
                )
            items = []
            for history, alarm in session.execute(query.order_by(AlarmHistoryRow.id)).all():
                old, new = _alert_status(history.old_state), _alert_status(history.new_state)
                if old == new:
                    continue  # INSUFFICIENT_DATA <-> OK is no change of alert status
                items.append(
                    {
                        "MonitoringScheduleName": alarm.schedule_name,
                        "MonitoringAlertName": alarm.name.partition(".")[2],
                        "CreationTime": history.timestamp,
                        "AlertStatus": new,
                    }
                )
        if status_equals:
            items = [i for i in items if i["AlertStatus"] == status_equals]
        key = "AlertStatus" if sort_by == "Status" else "CreationTime"
        items.sort(key=lambda i: i[key], reverse=(sort_order or "Descending") == "Descending")
        page, token = paginate(items, next_token, max_results)
        out: dict[str, Any] = {"MonitoringAlertHistory": list(page)}
        if token:
            out["NextToken"] = token
        return out


@dataclass
class _Change:
    """An alarm's evaluation that changes its state."""

    row: AlarmRow
    state: str
    reason: str
    values: list[tuple[dt.datetime, float | None]]


def decide(row: AlarmRow, values: list[tuple[dt.datetime, float | None]]) -> tuple[str, str] | None:
    """(new state, reason) of an alarm from its range's values (None: keep the state)."""
    compare = COMPARISONS[row.comparison_operator]
    present = [(t, v) for t, v in values if v is not None]
    breaching = sum(1 for _, v in present if compare(v, row.threshold))
    missing = max(row.evaluation_periods - len(present), 0) if row.kind == "metric" else 0
    treat = row.treat_missing_data
    if treat == "breaching":
        breaching += missing
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None
        return INSUFFICIENT, (
            f"Insufficient Data: {row.evaluation_periods} datapoint"
            f"{'s were' if row.evaluation_periods > 1 else ' was'} unknown."
        )
    shown = ", ".join(f"{v:g} ({t.strftime('%d/%m/%y %H:%M:%S')})" for t, v in present[-10:])
    total = row.evaluation_periods
    if breaching >= row.datapoints_to_alarm:
        return ALARM, (
            f"Threshold Crossed: {breaching} out of the last {total} datapoints [{shown}] "
            f"{'were' if breaching > 1 else 'was'} {WORDS[row.comparison_operator]} the "
            f"threshold ({row.threshold:g}) (minimum {row.datapoints_to_alarm} datapoint"
            f"{'s' if row.datapoints_to_alarm > 1 else ''} for OK -> ALARM transition)."
        )
    return OK, (
        f"Threshold Crossed: {breaching} out of the last {total} datapoints [{shown}] "
        f"{'were' if breaching != 1 else 'was'} {WORDS[row.comparison_operator]} the threshold "
        f"({row.threshold:g}) (minimum {row.datapoints_to_alarm} datapoint"
        f"{'s' if row.datapoints_to_alarm > 1 else ''} for OK -> ALARM transition)."
    )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _alert_status(state: str | None) -> str:
    return "InAlert" if state == ALARM else "OK"


def _describe(row: AlarmRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AlarmName": row.name,
        "AlarmArn": row.arn,
        "AlarmDescription": row.description,
        "AlarmConfigurationUpdatedTimestamp": row.last_modified_time,
        "ActionsEnabled": row.actions_enabled,
        "OKActions": row.ok_actions,
        "AlarmActions": row.alarm_actions,
        "InsufficientDataActions": row.insufficient_data_actions,
        "StateValue": row.state,
        "StateReason": row.state_reason,
        "StateReasonData": json.dumps(row.state_reason_data or {}),
        "StateUpdatedTimestamp": row.state_updated_time,
        "MetricName": row.metric_name,
        "Namespace": row.namespace,
        "Statistic": row.statistic,
        "Dimensions": row.dimensions,
        "Period": row.period,
        "EvaluationPeriods": row.evaluation_periods,
        "DatapointsToAlarm": row.datapoints_to_alarm,
        "Threshold": row.threshold,
        "ComparisonOperator": row.comparison_operator,
        "TreatMissingData": row.treat_missing_data,
    }
    if row.kind == "violations":
        out["MonitoringScheduleName"] = row.schedule_name
    return out


def _alert(row: AlarmRow) -> dict[str, Any]:
    return {
        "MonitoringAlertName": row.name.partition(".")[2],
        "CreationTime": row.creation_time,
        "LastModifiedTime": row.last_modified_time,
        "AlertStatus": _alert_status(row.state),
        "DatapointsToAlert": row.datapoints_to_alarm,
        "EvaluationPeriod": row.evaluation_periods,
        "Actions": {"ModelDashboardIndicator": {"Enabled": False}},
        "AlarmActions": row.alarm_actions,
        "OKActions": row.ok_actions,
    }
