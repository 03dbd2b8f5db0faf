"""Tables of metrics, alarms and notification topics (issue 5).

* ``metric_series`` / ``metric_datapoints``: one row per (namespace, metric name,
  dimensions) and one per datapoint, every datapoint kept as a statistic set
  (SampleCount, Sum, Minimum, Maximum; a single value ``v`` is ``1, v, v, v``), so
  any period aggregates by sums, as CloudWatch does.
* ``alerting_alarms`` / ``alerting_alarm_history``: CloudWatch-style alarms (and
  SageMaker monitoring alerts, ``kind == "violations"``) with their state and the
  history of state changes.
* ``alerting_topics``, ``alerting_subscriptions``, ``alerting_messages``,
  ``alerting_deliveries``, ``alerting_attempts``: topics, their webhook/email
  subscriptions, every published message, one delivery per (message,
  subscription) with its lease and retry schedule, and every delivery attempt.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from modelmon.db.models import Base, UtcDateTime, utcnow


class MetricSeriesRow(Base):
    """One time series: namespace + metric name + dimensions (``key`` joins them canonically)."""

    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("key", name="uq_metric_series_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(1024))
    namespace: Mapped[str] = mapped_column(String(255), index=True)
    metric_name: Mapped[str] = mapped_column(String(255), index=True)
    dimensions: Mapped[list[Any]] = mapped_column(JSON)
    unit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_timestamp: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class MetricDatapointRow(Base):
    """One datapoint of a series, as a statistic set."""

    __tablename__ = "metric_datapoints"
    __table_args__ = (Index("ix_metric_datapoints_series_time", "series_id", "timestamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(Integer, ForeignKey("metric_series.id"))
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sample_count: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)


class AlarmRow(Base):
    """A CloudWatch-style alarm on one series, or a monitoring schedule's violation alert.

    ``series_key`` is :attr:`MetricSeriesRow.key` of the watched series (the series
    need not exist yet). ``kind`` ``metric`` evaluates period buckets; ``violations``
    (a SageMaker monitoring alert, ``schedule_name`` set) evaluates the latest
    executions, one datapoint each.
    """

    __tablename__ = "alerting_alarms"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    arn: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16), default="metric")
    schedule_name: Mapped[str | None] = mapped_column(String(63), nullable=True, index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    series_key: Mapped[str] = mapped_column(String(1024), index=True)
    namespace: Mapped[str] = mapped_column(String(255))
    metric_name: Mapped[str] = mapped_column(String(255))
    dimensions: Mapped[list[Any]] = mapped_column(JSON)
    statistic: Mapped[str] = mapped_column(String(16))
    comparison_operator: Mapped[str] = mapped_column(String(48))
    threshold: Mapped[float] = mapped_column(Float)
    period: Mapped[int] = mapped_column(Integer)
    evaluation_periods: Mapped[int] = mapped_column(Integer)
    datapoints_to_alarm: Mapped[int] = mapped_column(Integer)
    treat_missing_data: Mapped[str] = mapped_column(String(16))
    actions_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    alarm_actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ok_actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    insufficient_data_actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(24))
    state_reason: Mapped[str] = mapped_column(Text)
    state_reason_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    state_updated_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_modified_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AlarmHistoryRow(Base):
    """One item of an alarm's history (DescribeAlarmHistory): a state change or an update."""

    __tablename__ = "alerting_alarm_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_name: Mapped[str] = mapped_column(String(255), index=True)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    item_type: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    old_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    new_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class TopicRow(Base):
    """A notification topic (SNS-style ARN)."""

    __tablename__ = "alerting_topics"

    arn: Mapped[str] = mapped_column(String(512), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SubscriptionRow(Base):
    """A topic's subscriber: an http(s) webhook (optional HMAC secret) or an email address."""

    __tablename__ = "alerting_subscriptions"

    arn: Mapped[str] = mapped_column(String(600), primary_key=True)
    topic_arn: Mapped[str] = mapped_column(String(512), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class MessageRow(Base):
    """A published message; ``(topic_arn, dedupe_key)`` is unique so a repeated publish is
    a no-op."""

    __tablename__ = "alerting_messages"
    __table_args__ = (
        UniqueConstraint("topic_arn", "dedupe_key", name="uq_alerting_messages_dedupe"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic_arn: Mapped[str] = mapped_column(String(512), index=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DeliveryRow(Base):
    """One message to one subscriber. ``status`` pending → delivered | failed.

    A worker claims a pending delivery whose ``next_attempt_at`` has come by
    setting ``lease_owner``/``lease_expires_at`` (a conditional update), so two
    servers never send one delivery at once; a lease left by a crashed server
    expires and the delivery is claimed again (at-least-once).
    """

    __tablename__ = "alerting_deliveries"
    __table_args__ = (Index("ix_alerting_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    subscription_arn: Mapped[str] = mapped_column(String(600))
    protocol: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AttemptRow(Base):
    """One delivery attempt: HTTP status (or the error), how long it took."""

    __tablename__ = "alerting_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(Integer, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
