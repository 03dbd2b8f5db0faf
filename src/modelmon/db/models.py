"""Tables of the metadata database (SQLAlchemy 2 declarative models).

Request documents keep SageMaker's shapes as JSON (``production_variants``,
``data_capture_config``...), so a describe call answers what was created.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Now, in UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Every table of modelmon."""


class ModelRow(Base):
    """CreateModel: a container (runtime image + artifact + environment)."""

    __tablename__ = "models"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    primary_container: Mapped[dict[str, Any]] = mapped_column(JSON)
    execution_role_arn: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class EndpointConfigRow(Base):
    """CreateEndpointConfig: production variants, data capture, async inference."""

    __tablename__ = "endpoint_configs"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    production_variants: Mapped[list[Any]] = mapped_column(JSON)
    data_capture_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    async_inference_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class EndpointRow(Base):
    """CreateEndpoint: a name bound to a config, with its lifecycle status.

    ``generation`` grows on every change a host must act on (create, update), so
    every server process can tell whether what it has loaded is current.
    """

    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    config_name: Mapped[str] = mapped_column(String(63))
    pending_config_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_modified_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class TransformJobRow(Base):
    """CreateTransformJob: a model run over every file under an input prefix.

    ``request`` is the validated CreateTransformJob request; ``owner`` the server
    process running it; the progress counters are rewritten after every file.
    """

    __tablename__ = "transform_jobs"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    model_name: Mapped[str] = mapped_column(String(63))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    start_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_modified_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    records_done: Mapped[int] = mapped_column(Integer, default=0)


class MonitoringJobDefinitionRow(Base):
    """CreateDataQualityJobDefinition: a reusable monitoring job, referenced by schedules.

    ``request`` is the validated create request (its describe document);
    ``definition`` the same job as an inline MonitoringJobDefinition (what runs).
    """

    __tablename__ = "monitoring_job_definitions"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    monitoring_type: Mapped[str] = mapped_column(String(32))
    endpoint_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class MonitoringScheduleRow(Base):
    """CreateMonitoringSchedule: when to run which monitoring job.

    ``schedule_expression`` is the expression as given; ``config`` the
    MonitoringScheduleConfig as validated. Runs scheduled at or before
    ``since_time`` never start again: it is the creation (or start, or update)
    time, then the scheduled time of the latest run the scheduler recorded
    (``last_scheduled_time``).
    """

    __tablename__ = "monitoring_schedules"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    monitoring_type: Mapped[str] = mapped_column(String(32))
    schedule_expression: Mapped[str] = mapped_column(String(256))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    job_definition_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    endpoint_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_modified_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    since_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_scheduled_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MonitoringExecutionRow(Base):
    """One run of a schedule (SageMaker's monitoring execution, a processing job there).

    Inserting the row claims the run: ``(schedule_name, scheduled_time)`` is
    unique, so two schedulers never record (nor start) one run twice. ``owner``
    is the scheduler instance that runs it, ``lease_expires_at`` its heartbeat;
    a run whose owner is gone is taken over (Pending) or failed (InProgress).
    ``skipped`` marks runs missed while no scheduler ran (status Failed).
    ``job_definition`` is the MonitoringJobDefinition it runs, fixed when recorded.
    """

    __tablename__ = "monitoring_executions"
    __table_args__ = (
        UniqueConstraint("schedule_name", "scheduled_time", name="uq_monitoring_executions_run"),
    )

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    schedule_name: Mapped[str] = mapped_column(String(63), index=True)
    scheduled_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    monitoring_type: Mapped[str] = mapped_column(String(32))
    endpoint_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    job_definition_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    job_definition: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    window_start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    window_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    report_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    log_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_modified_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    start_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class BaseliningJobRow(Base):
    """A baselining job (``suggest_baseline``): the analyzer over a training dataset."""

    __tablename__ = "baselining_jobs"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_uri: Mapped[str] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    creation_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    start_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_modified_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
