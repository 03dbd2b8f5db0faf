"""The monitoring control plane: data- and model-quality job definitions, schedules and executions.

Operations take SageMaker's request shapes (:mod:`modelmon.monitoring.shapes`)
and answer SageMaker's response shapes as dicts (datetimes left as objects for
the API layer to render). Running executions is the scheduler's job
(:mod:`modelmon.monitoring.scheduler`); this module writes what it reads.

What is checked at creation (a 400 naming the field), so that a schedule that
was accepted can run: the schedule expression and DataAnalysisStart/EndTime
(:func:`~modelmon.monitoring.schedule.validate_schedule_config`), the input's
time offsets and the window they make, exactly one input, the endpoint exists
and captures data, the baseline files exist, the scripts exist and define their
handler, the analyzer image is one this server can run, MaxRuntimeInSeconds.
Model quality (MonitoringType ``ModelQuality``, inline or by job definition
name) is also checked for: GroundTruthS3Input (in the input, beside
EndpointInput/BatchTransformInput), ProblemType (app specification, or
``problem_type`` in Environment), InferenceAttribute/ProbabilityAttribute (a
CSV column index or name, or a JSONPath such as ``$.prediction``),
ProbabilityThresholdAttribute (in [0, 1], with ProbabilityAttribute; not for
Regression), and MaxRuntimeInSeconds against the cadence (see
``MODEL_QUALITY_SHARE``). An inline model-quality MonitoringJobDefinition is a
modelmon extension (SageMaker only takes a job definition name): it carries
GroundTruthS3Input in ``MonitoringInputs[0]`` and ProblemType in
``MonitoringAppSpecification``, exactly where a model-quality job definition is
stored after conversion.
What can only be known when a run starts (the endpoint was deleted meanwhile,
no data was captured in the window, a baseline file is gone) fails that
execution with the reason instead.

Statuses. A schedule is created ``Pending``; a scheduler makes it ``Scheduled``;
StopMonitoringSchedule makes it ``Stopped`` (no new runs; runs not started yet
are ``Stopped`` too, running ones finish) and StartMonitoringSchedule
``Scheduled`` again (runs missed while stopped are not made up). A ``NOW``
schedule runs once, at its creation (and again when updated). Deleting a
schedule stops its executions first (Pending ones at once, running ones as
StopMonitoringExecution does) and keeps its execution history, as SageMaker
does. An execution is ``Pending``, ``InProgress`` (``Stopping``), then
``Completed``, ``CompletedWithViolations``, ``Failed`` (with FailureReason) or
``Stopped``. Runs missed while no scheduler was running are recorded ``Failed``
with a FailureReason starting ``Skipped:`` (SageMaker has no skipped status).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from modelmon.analysis.readers.payload import RecordError
from modelmon.analysis.readers.payload import select as select_path
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import filter_time, paginate, sort_rows
from modelmon.db.models import (
    MonitoringExecutionRow,
    MonitoringJobDefinitionRow,
    MonitoringScheduleRow,
    utcnow,
)
from modelmon.errors import ConflictError, InputError, NotFoundError
from modelmon.monitoring.runner import (
    LOG_FILE,
    MODEL_QUALITY_MAX_RUNTIME,
    analyzer_images_from_env,
    resolve_command,
)
from modelmon.monitoring.schedule import (
    END_FIELD,
    END_OFFSET_FIELD,
    START_FIELD,
    START_OFFSET_FIELD,
    ScheduleExpression,
    analysis_window,
    format_time,
    next_time,
    parse_offset,
    validate_schedule_config,
)
from modelmon.monitoring.scripts import POSTPROCESS_HANDLER_INVALID, PREPROCESS_HANDLER_INVALID
from modelmon.monitoring.shapes import (
    CreateDataQualityJobDefinitionRequest,
    CreateModelQualityJobDefinitionRequest,
    CreateMonitoringScheduleRequest,
    MonitoringJobDefinitionShape,
    MonitoringScheduleConfigShape,
    PutGroundTruthRequest,
    UpdateMonitoringScheduleRequest,
)
from modelmon.storage.files import exists, open_input
from modelmon.storage.ground_truth import write_ground_truth

SCHEDULE_STATUSES = ("Pending", "Failed", "Scheduled", "Stopped")
EXECUTION_STATUSES = (
    "Pending",
    "Completed",
    "CompletedWithViolations",
    "InProgress",
    "Failed",
    "Stopping",
    "Stopped",
)
MONITORING_TYPES = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
SUPPORTED_TYPES = ("DataQuality", "ModelQuality")
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
# MaxRuntimeInSeconds of a model-quality run: the ground-truth merge and the analysis share it
# and both must end before the next run, so at most half the shortest gap between runs
# (hourly: 1800 s, as SageMaker; every N hours: N x 1800 s; daily: 43200 s). A NOW schedule
# runs once: the API's own limit (86400 s). Absent, the runner uses 1800 s for model quality.
MODEL_QUALITY_SHARE = 0.5
MAX_RUNTIME_LIMIT = 86400
_DEFINITION_KINDS = {
    "DataQuality": ("data-quality-job-definition", "Data quality"),
    "ModelQuality": ("model-quality-job-definition", "Model quality"),
}
RUNNING = ("InProgress", "Stopping")
ENDED = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
SKIPPED_PREFIX = "Skipped:"
SCHEDULE_STOPPED = "Stopped: the monitoring schedule was stopped before this execution started"
SCHEDULE_DELETED = "Stopped: the monitoring schedule was deleted before this execution started"

# a fixed day to check a schedule's window against (any day has every kind of run)
_REFERENCE_DAY = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_HANDLERS = {
    "RecordPreprocessorSourceUri": ("preprocess_handler", PREPROCESS_HANDLER_INVALID),
    "PostAnalyticsProcessorSourceUri": ("postprocess_handler", POSTPROCESS_HANDLER_INVALID),
}
_SCRIPT_LIMIT = 1 << 20  # bytes of a script read to find its handler


def execution_id(scheduled: dt.datetime) -> str:
    """A new execution's id, also its processing job's name (SageMaker's form):
    ``model-monitoring-{yyyymmddhhmm}-{24 hex}``."""
    return f"model-monitoring-{scheduled.astimezone(dt.UTC):%Y%m%d%H%M}-{uuid.uuid4().hex[:24]}"


def skipped_reason(missed: dt.datetime, latest: dt.datetime) -> str:
    """FailureReason of a run missed while no scheduler was running."""
    return (
        f"{SKIPPED_PREFIX} the scheduler was not running at {format_time(missed)}; after the "
        f"downtime only the latest missed run ({format_time(latest)}) was executed"
    )


def _schedule_not_found(settings: Settings, name: str) -> NotFoundError:
    arn = settings.arn("monitoring-schedule", name)
    return NotFoundError(
        f'Monitoring schedule "{arn}" does not exist.', aws_code="ResourceNotFound"
    )


def _definition_not_found(
    settings: Settings, name: str, monitoring_type: str = "DataQuality"
) -> NotFoundError:
    resource, label = _DEFINITION_KINDS.get(monitoring_type, _DEFINITION_KINDS["DataQuality"])
    arn = settings.arn(resource, name)
    return NotFoundError(
        f'{label} job definition "{arn}" does not exist.', aws_code="ResourceNotFound"
    )


def _execution_not_found(execution: str) -> NotFoundError:
    return NotFoundError(
        f'Monitoring execution "{execution}" does not exist.', aws_code="ResourceNotFound"
    )


@dataclass(frozen=True)
class _Paths:
    """Where the members of a job definition are in a request (for error messages)."""

    baseline: str
    input: str
    app: str
    environment: str
    stopping: str


def _inline_paths(prefix: str) -> _Paths:
    return _Paths(
        baseline=f"{prefix}.BaselineConfig",
        input=f"{prefix}.MonitoringInputs.0",
        app=f"{prefix}.MonitoringAppSpecification",
        environment=f"{prefix}.Environment",
        stopping=f"{prefix}.StoppingCondition",
    )


DATA_QUALITY_PATHS = _Paths(
    baseline="DataQualityBaselineConfig",
    input="DataQualityJobInput",
    app="DataQualityAppSpecification",
    environment="DataQualityAppSpecification.Environment",
    stopping="StoppingCondition",
)
MODEL_QUALITY_PATHS = _Paths(
    baseline="ModelQualityBaselineConfig",
    input="ModelQualityJobInput",
    app="ModelQualityAppSpecification",
    environment="ModelQualityAppSpecification.Environment",
    stopping="StoppingCondition",
)
DEFINITION_PATHS = {"DataQuality": DATA_QUALITY_PATHS, "ModelQuality": MODEL_QUALITY_PATHS}


@dataclass(frozen=True)
class ResolvedSchedule:
    """A validated MonitoringScheduleConfig: what a schedule runs, and when."""

    expression: ScheduleExpression
    expression_text: str
    definition: dict[str, Any]  # MonitoringJobDefinition, as the runner takes it
    definition_name: str | None
    monitoring_type: str
    endpoint_name: str | None
    data_analysis_start: str | None
    data_analysis_end: str | None

    def window(self, scheduled: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The analysis window of the run at ``scheduled``."""
        return run_window(
            self.expression,
            scheduled,
            self.definition,
            self.data_analysis_start,
            self.data_analysis_end,
        )


def run_window(
    expression: ScheduleExpression | str,
    scheduled: dt.datetime,
    definition: dict[str, Any],
    data_analysis_start: str | None,
    data_analysis_end: str | None,
) -> tuple[dt.datetime, dt.datetime]:
    """The window of a run of ``definition`` (a MonitoringJobDefinition dict) at ``scheduled``."""
    source = _input_member(definition)
    return analysis_window(
        expression,
        scheduled,
        start_offset=source.get("StartTimeOffset"),
        end_offset=source.get("EndTimeOffset"),
        data_analysis_start=data_analysis_start,
        data_analysis_end=data_analysis_end,
    )


def _input_member(definition: dict[str, Any]) -> dict[str, Any]:
    entry = (definition.get("MonitoringInputs") or [{}])[0]
    return entry.get("EndpointInput") or entry.get("BatchTransformInput") or {}


def definition_endpoint(definition: dict[str, Any]) -> str | None:
    """The endpoint a MonitoringJobDefinition dict monitors (None for batch transform input)."""
    entry = (definition.get("MonitoringInputs") or [{}])[0]
    return (entry.get("EndpointInput") or {}).get("EndpointName")


def new_execution(
    *,
    settings: Settings,
    schedule: MonitoringScheduleRow,
    scheduled: dt.datetime,
    now: dt.datetime,
    definition: dict[str, Any] | None,
    window: tuple[dt.datetime, dt.datetime] | None,
    status: str = "Pending",
    failure_reason: str | None = None,
    skipped: bool = False,
    owner: str | None = None,
    lease_expires_at: dt.datetime | None = None,
) -> MonitoringExecutionRow:
    """An execution row of ``schedule`` for its run at ``scheduled`` (not yet added)."""
    identifier = execution_id(scheduled)
    return MonitoringExecutionRow(
        id=identifier,
        arn=settings.arn("processing-job", identifier),
        schedule_name=schedule.name,
        scheduled_time=scheduled,
        monitoring_type=schedule.monitoring_type,
        endpoint_name=schedule.endpoint_name,
        job_definition_name=schedule.job_definition_name,
        job_definition=definition,
        status=status,
        failure_reason=failure_reason,
        skipped=skipped,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        owner=owner,
        lease_expires_at=lease_expires_at,
        creation_time=now,
        last_modified_time=now,
        end_time=now if status in ENDED else None,
    )


def _with_field(err: InputError, field: str) -> InputError:
    return InputError(err.reason, source=err.source, line=err.line, field=field)


def _choice(value: str | None, allowed: tuple[str, ...], member: str) -> None:
    if value and value not in allowed:
        raise InputError(
            f"{member} must be one of {', '.join(allowed)}, not {value!r}", field=member
        )


class Endpoints(Protocol):
    """What monitoring needs to know of the hosted endpoints (the server passes its
    :class:`~modelmon.serving.registry.Hosting`)."""

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        """DescribeEndpoint's document; NotFoundError when there is no such endpoint."""
        ...

    def capture_destinations(self, names: Iterable[str]) -> dict[str, str | None]:
        """Each existing endpoint's capture destination (None when capture is off)."""
        ...


class Monitoring:
    """Create, describe, list, update, start, stop and delete monitoring resources.

    ``on_change`` is called after a change a scheduler should act on at once (a
    NOW run to start, an execution to stop); ``clock`` is the time source of
    creation times and of a NOW schedule's run (tests inject one).
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        hosting: Endpoints,
        on_change: Callable[[], None] | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.hosting = hosting
        self.on_change = on_change or (lambda: None)
        self.clock = clock

    # -- validation ------------------------------------------------------------------

    def _check_definition(
        self,
        definition: MonitoringJobDefinitionShape,
        paths: _Paths,
        monitoring_type: str = "DataQuality",
    ) -> None:
        """The checks of a job definition that need the world (see the module doc)."""
        if monitoring_type == "ModelQuality":
            _check_model_quality(definition, paths)
        entry = definition.input
        source = entry.source
        where = f"{paths.input}.{entry.member}"
        for member in ("StartTimeOffset", "EndTimeOffset"):
            value = getattr(source, member)
            if value is not None:
                parse_offset(value, f"{where}.{member}")
        if source.StartTimeOffset is not None or source.EndTimeOffset is not None:
            try:  # a window the offsets cannot make under any cadence (one ending after the run)
                analysis_window(
                    ScheduleExpression.daily(0),
                    _REFERENCE_DAY,
                    start_offset=source.StartTimeOffset,
                    end_offset=source.EndTimeOffset,
                )
            except InputError as err:
                raise _with_field(err, f"{where}.{err.field}") from None
        if entry.EndpointInput is not None:
            self._check_endpoint(entry.EndpointInput.EndpointName, f"{where}.EndpointName")
        baseline = definition.BaselineConfig
        if baseline is not None:
            for member in ("ConstraintsResource", "StatisticsResource"):
                resource = getattr(baseline, member)
                if resource is not None and resource.S3Uri:
                    _check_file(resource.S3Uri, f"{paths.baseline}.{member}.S3Uri", "baseline file")
        app = definition.MonitoringAppSpecification
        for member, (handler, message) in _HANDLERS.items():
            uri = getattr(app, member)
            if uri:
                field = f"{paths.app}.{member}"
                _check_file(uri, field, "script")
                _check_handler(uri, handler, message, field)
        try:
            images = analyzer_images_from_env()
        except InputError:
            images = {}  # the runner reports a bad MODELMON_ANALYZER_IMAGES when it runs
        try:
            resolve_command(app.model_dump(exclude_none=True), images)
        except InputError as err:
            raise InputError(err.reason, field=f"{paths.app}.ImageUri") from None

    def _check_endpoint(self, name: str, field: str) -> None:
        try:
            endpoint = self.hosting.describe_endpoint(name)
        except NotFoundError as err:
            raise InputError(str(err), field=field) from None
        capture = endpoint.get("DataCaptureConfig")
        if not capture or not capture.get("EnableCapture"):
            raise InputError(
                f"endpoint {name} does not capture data: monitor an endpoint whose endpoint "
                "config has a DataCaptureConfig with EnableCapture true",
                field=field,
            )

    def _resolve(self, config: MonitoringScheduleConfigShape) -> ResolvedSchedule:
        """Validate a MonitoringScheduleConfig (400s name the member at fault)."""
        prefix = "MonitoringScheduleConfig"
        schedule = config.ScheduleConfig
        if schedule is None:
            raise InputError(
                "ScheduleConfig is required: {ScheduleExpression, DataAnalysisStartTime, "
                "DataAnalysisEndTime}",
                field=f"{prefix}.ScheduleConfig",
            )
        try:
            expression = validate_schedule_config(
                schedule.ScheduleExpression,
                schedule.DataAnalysisStartTime,
                schedule.DataAnalysisEndTime,
            )
        except InputError as err:
            raise _with_field(err, f"{prefix}.ScheduleConfig.{err.field}") from None
        definition_name = config.MonitoringJobDefinitionName
        if config.MonitoringJobDefinition is not None:
            monitoring_type = config.MonitoringType or "DataQuality"
            self._check_type(monitoring_type, f"{prefix}.MonitoringType")
            paths = _inline_paths(f"{prefix}.MonitoringJobDefinition")
            self._check_definition(config.MonitoringJobDefinition, paths, monitoring_type)
            definition = config.MonitoringJobDefinition.model_dump(mode="json", exclude_none=True)
        else:
            assert definition_name is not None
            with self.db.session() as session:
                row = session.get(MonitoringJobDefinitionRow, definition_name)
                if row is None:
                    missing = _definition_not_found(
                        self.settings, definition_name, config.MonitoringType or "DataQuality"
                    )
                    raise InputError(str(missing), field=f"{prefix}.MonitoringJobDefinitionName")
                definition, defined_type = row.definition, row.monitoring_type
            monitoring_type = config.MonitoringType or defined_type
            self._check_type(monitoring_type, f"{prefix}.MonitoringType")
            if monitoring_type != defined_type:
                raise InputError(
                    f"job definition {definition_name} is a {defined_type} job definition, "
                    f"not {monitoring_type}",
                    field=f"{prefix}.MonitoringType",
                )
            paths = DEFINITION_PATHS.get(monitoring_type, DATA_QUALITY_PATHS)
        resolved = ResolvedSchedule(
            expression=expression,
            expression_text=schedule.ScheduleExpression,
            definition=definition,
            definition_name=definition_name,
            monitoring_type=monitoring_type,
            endpoint_name=definition_endpoint(definition),
            data_analysis_start=schedule.DataAnalysisStartTime,
            data_analysis_end=schedule.DataAnalysisEndTime,
        )
        reference = next_time(expression, _REFERENCE_DAY) or _REFERENCE_DAY
        try:
            resolved.window(reference)
        except InputError as err:
            member = "EndpointInput" if resolved.endpoint_name else "BatchTransformInput"
            field = str(err.field or "")
            if START_OFFSET_FIELD in field or END_OFFSET_FIELD in field:
                field = f"{paths.input}.{member}.{field}"
            elif START_FIELD in field or END_FIELD in field:
                field = f"{prefix}.ScheduleConfig.{field}"
            raise _with_field(err, field) from None
        if monitoring_type == "ModelQuality":
            owner = f" (job definition {definition_name})" if definition_name else ""
            _check_model_quality_runtime(expression, definition, paths.stopping, owner)
        return resolved

    @staticmethod
    def _check_type(monitoring_type: str, field: str) -> None:
        if monitoring_type not in SUPPORTED_TYPES:
            raise InputError(
                f"{monitoring_type} schedules are not supported yet; MonitoringType must be "
                "DataQuality or ModelQuality",
                field=field,
            )

    # -- job definitions (data quality, model quality) ----------------------------------

    def create_data_quality_job_definition(
        self, request: CreateDataQualityJobDefinitionRequest
    ) -> dict[str, Any]:
        """CreateDataQualityJobDefinition."""
        return self._create_definition(request, "DataQuality")

    def create_model_quality_job_definition(
        self, request: CreateModelQualityJobDefinitionRequest
    ) -> dict[str, Any]:
        """CreateModelQualityJobDefinition (GroundTruthS3Input and ProblemType required)."""
        return self._create_definition(request, "ModelQuality")

    def _create_definition(
        self,
        request: CreateDataQualityJobDefinitionRequest | CreateModelQualityJobDefinitionRequest,
        monitoring_type: str,
    ) -> dict[str, Any]:
        name = request.JobDefinitionName
        arn = self.settings.arn(_DEFINITION_KINDS[monitoring_type][0], name)
        with self.db.session() as session:
            if session.get(MonitoringJobDefinitionRow, name) is not None:
                raise self._definition_in_use(arn, monitoring_type)
        definition = request.job_definition()
        self._check_definition(definition, DEFINITION_PATHS[monitoring_type], monitoring_type)
        document = request.model_dump(mode="json", exclude_none=True, exclude={"Tags"})
        stored = definition.model_dump(mode="json", exclude_none=True)
        try:
            with self.db.session() as session:
                session.add(
                    MonitoringJobDefinitionRow(
                        name=name,
                        arn=arn,
                        monitoring_type=monitoring_type,
                        endpoint_name=definition_endpoint(stored),
                        request=document,
                        definition=stored,
                        tags=request.Tags,
                        creation_time=self.clock(),
                    )
                )
        except IntegrityError:  # created meanwhile by another request
            raise self._definition_in_use(arn, monitoring_type) from None
        return {"JobDefinitionArn": arn}

    @staticmethod
    def _definition_in_use(arn: str, monitoring_type: str = "DataQuality") -> ConflictError:
        label = _DEFINITION_KINDS[monitoring_type][1]
        return ConflictError(
            f'{label} job definition "{arn}" already exists.', aws_code="ResourceInUse"
        )

    def _definition(
        self, session: Session, name: str, monitoring_type: str = "DataQuality"
    ) -> MonitoringJobDefinitionRow:
        row = session.get(MonitoringJobDefinitionRow, name)
        if row is None or row.monitoring_type != monitoring_type:
            raise _definition_not_found(self.settings, name, monitoring_type)
        return row

    def describe_data_quality_job_definition(self, name: str) -> dict[str, Any]:
        """DescribeDataQualityJobDefinition."""
        return self._describe_definition(name, "DataQuality")

    def describe_model_quality_job_definition(self, name: str) -> dict[str, Any]:
        """DescribeModelQualityJobDefinition."""
        return self._describe_definition(name, "ModelQuality")

    def _describe_definition(self, name: str, monitoring_type: str) -> dict[str, Any]:
        prefix = monitoring_type
        with self.db.session() as session:
            row = self._definition(session, name, monitoring_type)
            document: dict[str, Any] = {
                "JobDefinitionArn": row.arn,
                "JobDefinitionName": row.name,
                "CreationTime": row.creation_time,
            }
            request = row.request
            for member in (
                f"{prefix}BaselineConfig",
                f"{prefix}AppSpecification",
                f"{prefix}JobInput",
                f"{prefix}JobOutputConfig",
                "JobResources",
                "NetworkConfig",
                "RoleArn",
                "StoppingCondition",
            ):
                if member in request:
                    document[member] = request[member]
            return document

    def list_data_quality_job_definitions(self, **filters: Any) -> dict[str, Any]:
        """ListDataQualityJobDefinitions (EndpointName, NameContains, CreationTimeBefore/After,
        SortBy Name|CreationTime, SortOrder, MaxResults, NextToken as snake_case keywords)."""
        return self._list_definitions("DataQuality", **filters)

    def list_model_quality_job_definitions(self, **filters: Any) -> dict[str, Any]:
        """ListModelQualityJobDefinitions (the filters of list_data_quality_job_definitions)."""
        return self._list_definitions("ModelQuality", **filters)

    def _list_definitions(
        self,
        monitoring_type: str,
        *,
        endpoint_name: str | None = None,
        name_contains: str | None = None,
        creation_time_before: Any = None,
        creation_time_after: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        before = filter_time(creation_time_before, "CreationTimeBefore")
        after = filter_time(creation_time_after, "CreationTimeAfter")
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(MonitoringJobDefinitionRow).where(
                        MonitoringJobDefinitionRow.monitoring_type == monitoring_type
                    )
                )
            )
        rows = [
            r
            for r in rows
            if (not endpoint_name or r.endpoint_name == endpoint_name)
            and (not name_contains or name_contains in r.name)
            and (before is None or r.creation_time < before)
            and (after is None or r.creation_time > after)
        ]
        page, token = paginate(sort_rows(rows, sort_by, sort_order), next_token, max_results)
        summaries = []
        for r in page:
            summary: dict[str, Any] = {
                "MonitoringJobDefinitionName": r.name,
                "MonitoringJobDefinitionArn": r.arn,
                "CreationTime": r.creation_time,
            }
            if r.endpoint_name:
                summary["EndpointName"] = r.endpoint_name
            summaries.append(summary)
        return {"JobDefinitionSummaries": summaries, **({"NextToken": token} if token else {})}

    def delete_data_quality_job_definition(self, name: str) -> None:
        """DeleteDataQualityJobDefinition (refused while a schedule uses it)."""
        self._delete_definition(name, "DataQuality")

    def delete_model_quality_job_definition(self, name: str) -> None:
        """DeleteModelQualityJobDefinition (refused while a schedule uses it)."""
        self._delete_definition(name, "ModelQuality")

    def _delete_definition(self, name: str, monitoring_type: str) -> None:
        with self.db.session() as session:
            row = self._definition(session, name, monitoring_type)
            users = list(
                session.scalars(
                    select(MonitoringScheduleRow.name).where(
                        MonitoringScheduleRow.job_definition_name == name
                    )
                )
            )
            if users:
                label = _DEFINITION_KINDS[monitoring_type][1]
                raise ConflictError(
                    f"{label} job definition {name} is used by monitoring schedule(s) "
                    f"{', '.join(sorted(users))}; delete them first.",
                    aws_code="ResourceInUse",
                )
            session.delete(row)

    # -- ground truth ---------------------------------------------------------------------

    def put_ground_truth(self, request: PutGroundTruthRequest) -> dict[str, Any]:
        """Write a batch of labels as one ground-truth file for the hour of CollectionTime
        (default: now); ``{"Uri": file, "Count": records}``."""
        collected = filter_time(request.CollectionTime, "CollectionTime") or self.clock()
        try:
            uri, count = write_ground_truth(
                request.GroundTruthS3Uri,
                [(r.InferenceId, r.Label) for r in request.Records],
                collected_at=collected,
            )
        except OSError as err:
            raise InputError(
                f"cannot write under {request.GroundTruthS3Uri}: {err}", field="GroundTruthS3Uri"
            ) from None
        return {"Uri": uri, "Count": count}

    # -- schedules ----------------------------------------------------------------------

    def create_monitoring_schedule(
        self, request: CreateMonitoringScheduleRequest
    ) -> dict[str, Any]:
        name = request.MonitoringScheduleName
        arn = self.settings.arn("monitoring-schedule", name)
        with self.db.session() as session:
            if session.get(MonitoringScheduleRow, name) is not None:
                raise self._schedule_in_use(arn)
        resolved = self._resolve(request.MonitoringScheduleConfig)
        now = self.clock()
        row = MonitoringScheduleRow(
            name=name,
            arn=arn,
            status="Pending",
            monitoring_type=resolved.monitoring_type,
            schedule_expression=resolved.expression_text,
            config=request.MonitoringScheduleConfig.model_dump(mode="json", exclude_none=True),
            job_definition_name=resolved.definition_name,
            endpoint_name=resolved.endpoint_name,
            tags=request.Tags,
            creation_time=now,
            last_modified_time=now,
            since_time=now,
        )
        try:
            with self.db.session() as session:
                session.add(row)
                session.flush()
                if resolved.expression.is_one_time:
                    self._add_one_time_run(session, row, resolved, now)
        except IntegrityError:  # created meanwhile by another request
            raise self._schedule_in_use(arn) from None
        self.on_change()
        return {"MonitoringScheduleArn": arn}

    def _add_one_time_run(
        self,
        session: Session,
        row: MonitoringScheduleRow,
        resolved: ResolvedSchedule,
        now: dt.datetime,
    ) -> None:
        """The one run of a NOW schedule, at ``now`` rounded up to a whole second.

        Rounded up because the analyzer gets its window in whole seconds, as are the
        captured records' times: a record stamped with the creation's second is
        then inside the window rather than cut off by it. A schedule updated twice
        within one second gets its next run a second after the last.
        """
        scheduled = now
        if scheduled.microsecond:
            scheduled = scheduled.replace(microsecond=0) + dt.timedelta(seconds=1)
        previous = row.last_scheduled_time
        if previous is not None and scheduled <= previous:
            # updated again within the second of its last run: each run keeps its own time
            scheduled = previous + dt.timedelta(seconds=1)
        session.add(
            new_execution(
                settings=self.settings,
                schedule=row,
                scheduled=scheduled,
                now=now,
                definition=resolved.definition,
                window=resolved.window(scheduled),
            )
        )
        row.last_scheduled_time = scheduled

    @staticmethod
    def _schedule_in_use(arn: str) -> ConflictError:
        return ConflictError(
            f'Monitoring schedule "{arn}" already exists.', aws_code="ResourceInUse"
        )

    def _schedule(self, session: Session, name: str) -> MonitoringScheduleRow:
        row = session.get(MonitoringScheduleRow, name)
        if row is None:
            raise _schedule_not_found(self.settings, name)
        return row

    def describe_monitoring_schedule(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._schedule(session, name)
            last = session.scalars(
                select(MonitoringExecutionRow)
                .where(MonitoringExecutionRow.schedule_name == name)
                .where(MonitoringExecutionRow.creation_time >= row.creation_time)
                .order_by(
                    MonitoringExecutionRow.scheduled_time.desc(),
                    MonitoringExecutionRow.creation_time.desc(),
                )
                .limit(1)
            ).first()
            document: dict[str, Any] = {
                "MonitoringScheduleArn": row.arn,
                "MonitoringScheduleName": row.name,
                "MonitoringScheduleStatus": row.status,
                "MonitoringType": row.monitoring_type,
            }
            if row.failure_reason:
                document["FailureReason"] = row.failure_reason
            document["CreationTime"] = row.creation_time
            document["LastModifiedTime"] = row.last_modified_time
            document["MonitoringScheduleConfig"] = row.config
            if row.endpoint_name:
                document["EndpointName"] = row.endpoint_name
            if last is not None:
                document["LastMonitoringExecutionSummary"] = execution_summary(last)
            return document

    def list_monitoring_schedules(
        self,
        *,
        endpoint_name: str | None = None,
        name_contains: str | None = None,
        status_equals: str | None = None,
        monitoring_job_definition_name: str | None = None,
        monitoring_type_equals: str | None = None,
        creation_time_before: Any = None,
        creation_time_after: Any = None,
        last_modified_time_before: Any = None,
        last_modified_time_after: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        _choice(status_equals, SCHEDULE_STATUSES, "StatusEquals")
        _choice(monitoring_type_equals, MONITORING_TYPES, "MonitoringTypeEquals")
        bounds = _bounds(
            creation_time_before=creation_time_before,
            creation_time_after=creation_time_after,
            last_modified_time_before=last_modified_time_before,
            last_modified_time_after=last_modified_time_after,
        )
        with self.db.session() as session:
            rows = list(session.scalars(select(MonitoringScheduleRow)))
        rows = [
            r
            for r in rows
            if (not endpoint_name or r.endpoint_name == endpoint_name)
            and (not name_contains or name_contains in r.name)
            and (not status_equals or r.status == status_equals)
            and (
                not monitoring_job_definition_name
                or r.job_definition_name == monitoring_job_definition_name
            )
            and (not monitoring_type_equals or r.monitoring_type == monitoring_type_equals)
            and _within(r, bounds)
        ]
        ordered = sort_rows(rows, sort_by, sort_order, {"Status": lambda r: r.status})
        page, token = paginate(ordered, next_token, max_results)
        summaries = []
        for r in page:
            summary: dict[str, Any] = {
                "MonitoringScheduleName": r.name,
                "MonitoringScheduleArn": r.arn,
                "CreationTime": r.creation_time,
                "LastModifiedTime": r.last_modified_time,
                "MonitoringScheduleStatus": r.status,
            }
            if r.endpoint_name:
                summary["EndpointName"] = r.endpoint_name
            if r.job_definition_name:
                summary["MonitoringJobDefinitionName"] = r.job_definition_name
            summary["MonitoringType"] = r.monitoring_type
            summaries.append(summary)
        return {
            "MonitoringScheduleSummaries": summaries,
            **({"NextToken": token} if token else {}),
        }

    def update_monitoring_schedule(
        self, request: UpdateMonitoringScheduleRequest
    ) -> dict[str, Any]:
        """A new MonitoringScheduleConfig; runs count from now (a NOW schedule runs again)."""
        name = request.MonitoringScheduleName
        with self.db.session() as session:
            self._schedule(session, name)
        resolved = self._resolve(request.MonitoringScheduleConfig)
        now = self.clock()
        with self.db.session() as session:
            row = self._schedule(session, name)
            row.config = request.MonitoringScheduleConfig.model_dump(mode="json", exclude_none=True)
            row.schedule_expression = resolved.expression_text
            row.monitoring_type = resolved.monitoring_type
            row.job_definition_name = resolved.definition_name
            row.endpoint_name = resolved.endpoint_name
            row.failure_reason = None
            if row.status != "Stopped":
                row.status = "Pending"
                if resolved.expression.is_one_time:
                    self._add_one_time_run(session, row, resolved, now)
            row.since_time = now
            row.last_modified_time = now
            arn = row.arn
        self.on_change()
        return {"MonitoringScheduleArn": arn}

    def delete_monitoring_schedule(self, name: str) -> None:
        """Stop the schedule's executions (Pending: Stopped; running: Stopping), then delete it.
        The executions stay listed (SageMaker keeps the history too)."""
        with self.db.session() as session:
            row = self._schedule(session, name)
            self._stop_executions(session, name, SCHEDULE_DELETED, running_too=True)
            session.delete(row)
        self.on_change()

    def start_monitoring_schedule(self, name: str) -> None:
        """Stopped (or Failed) → Scheduled; runs due from now on (missed ones are not made up)."""
        with self.db.session() as session:
            row = self._schedule(session, name)
            if row.status == "Scheduled":
                return
            now = self.clock()
            if row.status != "Pending":
                row.since_time = now
            row.status = "Scheduled"
            row.failure_reason = None
            row.last_modified_time = now
        self.on_change()

    def stop_monitoring_schedule(self, name: str) -> None:
        """→ Stopped: no new runs; runs not started yet are Stopped, running ones finish."""
        with self.db.session() as session:
            row = self._schedule(session, name)
            if row.status == "Stopped":
                return
            row.status = "Stopped"
            row.last_modified_time = self.clock()
            self._stop_executions(session, name, SCHEDULE_STOPPED, running_too=False)

    def _stop_executions(
        self, session: Session, schedule: str, reason: str, *, running_too: bool
    ) -> None:
        now = self.clock()
        session.execute(
            update(MonitoringExecutionRow)
            .where(
                MonitoringExecutionRow.schedule_name == schedule,
                MonitoringExecutionRow.status == "Pending",
            )
            .values(status="Stopped", failure_reason=reason, last_modified_time=now, end_time=now)
        )
        if running_too:
            session.execute(
                update(MonitoringExecutionRow)
                .where(
                    MonitoringExecutionRow.schedule_name == schedule,
                    MonitoringExecutionRow.status == "InProgress",
                )
                .values(status="Stopping", last_modified_time=now)
            )

    # -- executions ------------------------------------------------------------------------

    def list_monitoring_executions(
        self,
        *,
        monitoring_schedule_name: str | None = None,
        endpoint_name: str | None = None,
        status_equals: str | None = None,
        monitoring_job_definition_name: str | None = None,
        monitoring_type_equals: str | None = None,
        scheduled_time_before: Any = None,
        scheduled_time_after: Any = None,
        creation_time_before: Any = None,
        creation_time_after: Any = None,
        last_modified_time_before: Any = None,
        last_modified_time_after: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        _choice(status_equals, EXECUTION_STATUSES, "StatusEquals")
        _choice(monitoring_type_equals, MONITORING_TYPES, "MonitoringTypeEquals")
        _choice(sort_order, ("Ascending", "Descending"), "SortOrder")
        keys = {
            "CreationTime": MonitoringExecutionRow.creation_time,
            "ScheduledTime": MonitoringExecutionRow.scheduled_time,
            "Status": MonitoringExecutionRow.status,
        }
        key = keys.get(sort_by or "CreationTime")
        if key is None:
            raise InputError(f"SortBy must be {' or '.join(keys)}", field="SortBy")
        execution = MonitoringExecutionRow
        conditions: list[ColumnElement[bool]] = []
        for value, column in (
            (monitoring_schedule_name, execution.schedule_name),
            (endpoint_name, execution.endpoint_name),
            (status_equals, execution.status),
            (monitoring_job_definition_name, execution.job_definition_name),
            (monitoring_type_equals, execution.monitoring_type),
        ):
            if value:
                conditions.append(column == value)
        for value, member, column, after in (
            (scheduled_time_before, "ScheduledTimeBefore", execution.scheduled_time, False),
            (scheduled_time_after, "ScheduledTimeAfter", execution.scheduled_time, True),
            (creation_time_before, "CreationTimeBefore", execution.creation_time, False),
            (creation_time_after, "CreationTimeAfter", execution.creation_time, True),
            (
                last_modified_time_before,
                "LastModifiedTimeBefore",
                execution.last_modified_time,
                False,
            ),
            (last_modified_time_after, "LastModifiedTimeAfter", execution.last_modified_time, True),
        ):
            bound = filter_time(value, member)
            if bound is not None:
                conditions.append(column > bound if after else column < bound)
        descending = (sort_order or "Descending") == "Descending"
        order = [key.desc() if descending else key.asc()]
        order += [
            execution.creation_time.desc() if descending else execution.creation_time.asc(),
            execution.id.desc() if descending else execution.id.asc(),
        ]
        with self.db.session() as session:
            total = session.scalar(select(func.count()).select_from(execution).where(*conditions))
            span, token = paginate(range(total or 0), next_token, max_results)
            page = list(
                session.scalars(
                    select(execution)
                    .where(*conditions)
                    .order_by(*order)
                    .offset(span.start if span else 0)
                    .limit(len(span))
                )
            )
        return {
            "MonitoringExecutionSummaries": [execution_summary(r) for r in page],
            **({"NextToken": token} if token else {}),
        }

    def _execution(self, session: Session, identifier: str) -> MonitoringExecutionRow:
        row = session.get(MonitoringExecutionRow, identifier)
        if row is None:
            raise _execution_not_found(identifier)
        return row

    def describe_monitoring_execution(self, identifier: str) -> dict[str, Any]:
        """A MonitoringExecutionSummary with modelmon's own members: MonitoringExecutionId,
        WindowStart, WindowEnd, ReportUri, LogUri, ExitMessage, Processing{Start,End}Time."""
        with self.db.session() as session:
            row = self._execution(session, identifier)
            document = execution_summary(row)
            if row.window_start is not None and row.window_end is not None:
                document["WindowStart"] = row.window_start
                document["WindowEnd"] = row.window_end
            if row.start_time is not None:
                document["ProcessingStartTime"] = row.start_time
            if row.end_time is not None and row.start_time is not None:
                document["ProcessingEndTime"] = row.end_time
            if row.exit_message:
                document["ExitMessage"] = row.exit_message
            if row.report_uri:
                document["ReportUri"] = row.report_uri
            if row.metrics_uri:
                document["MetricsUri"] = row.metrics_uri
            log_path = self._log_path(row)
            if log_path is not None:
                document["LogUri"] = log_path
            return document

    def stop_monitoring_execution(self, identifier: str) -> None:
        """Pending → Stopped at once; InProgress → Stopping (its scheduler stops the analyzer,
        then Stopped)."""
        with self.db.session() as session:
            row = self._execution(session, identifier)
            if row.status in ("Stopping", "Stopped"):
                return
            if row.status not in ("Pending", "InProgress"):
                raise ConflictError(
                    f"Monitoring execution {identifier} is {row.status}; only a Pending or "
                    "InProgress execution can be stopped."
                )
            now = self.clock()
            if row.status == "Pending":
                row.status = "Stopped"
                row.failure_reason = "Stopped by the user"
                row.end_time = now
            else:
                row.status = "Stopping"
            row.last_modified_time = now
        self.on_change()

    def _log_path(self, row: MonitoringExecutionRow) -> str | None:
        path = row.log_path or str(self.settings.executions_dir / row.id / LOG_FILE)
        try:
            return path if exists(path) else None
        except (OSError, InputError):
            return None

    def execution_logs(self, identifier: str) -> str:
        """The log of an execution (the runner's lines, then the analyzer's output)."""
        with self.db.session() as session:
            row = self._execution(session, identifier)
            path = self._log_path(row)
            status, reason = row.status, row.failure_reason
        if path is None:
            why = f"it is {status}" + (f": {reason}" if reason else "")
            raise NotFoundError(
                f"Monitoring execution {identifier} has no log ({why}).",
                aws_code="ResourceNotFound",
            )
        with open_input(path) as handle:
            return handle.read().decode("utf-8", errors="replace")


def execution_summary(row: MonitoringExecutionRow) -> dict[str, Any]:
    """SageMaker's MonitoringExecutionSummary of an execution (plus MonitoringExecutionId)."""
    summary: dict[str, Any] = {
        "MonitoringScheduleName": row.schedule_name,
        "ScheduledTime": row.scheduled_time,
        "CreationTime": row.creation_time,
        "LastModifiedTime": row.last_modified_time,
        "MonitoringExecutionStatus": row.status,
    }
    if row.start_time is not None:
        summary["ProcessingJobArn"] = row.arn
    if row.endpoint_name:
        summary["EndpointName"] = row.endpoint_name
    if row.failure_reason:
        summary["FailureReason"] = row.failure_reason
    if row.job_definition_name:
        summary["MonitoringJobDefinitionName"] = row.job_definition_name
    summary["MonitoringType"] = row.monitoring_type
    summary["MonitoringExecutionId"] = row.id
    return summary


def _bounds(**values: Any) -> list[tuple[str, dt.datetime, bool]]:
    """(column, time, is-after) of a list call's Before/After filters."""
    found = []
    for key, value in values.items():
        member = "".join(part.capitalize() for part in key.split("_"))
        bound = filter_time(value, member)
        if bound is not None:
            column, _, side = key.rpartition("_")
            found.append((column, bound, side == "after"))
    return found


def _within(row: Any, bounds: list[tuple[str, dt.datetime, bool]]) -> bool:
    return all(
        getattr(row, column) > bound if after else getattr(row, column) < bound
        for column, bound, after in bounds
    )


def _check_file(uri: str, field: str, what: str) -> None:
    try:
        found = exists(uri)
    except (InputError, OSError, ValueError) as err:
        raise InputError(f"the {what} {uri} cannot be read: {err}", field=field) from None
    if not found:
        raise InputError(f"the {what} {uri} does not exist", field=field)


def _check_handler(uri: str, handler: str, message: str, field: str) -> None:
    """A cheap check that the script defines ``handler`` (it is not run here)."""
    try:
        with open_input(uri) as stream:
            text = stream.read(_SCRIPT_LIMIT).decode("utf-8", errors="replace")
    except (InputError, OSError) as err:
        raise InputError(f"the script {uri} cannot be read: {err}", field=field) from None
    if not re.search(rf"^\s*(async\s+)?def\s+{handler}\s*\(", text, re.MULTILINE):
        raise InputError(f"{message} ({uri} defines no {handler} function)", field=field)


def check_attribute(value: str, field: str) -> None:
    """A model-quality attribute: a CSV column index or name, or a JSONPath."""
    expected = "a CSV column index such as '0', a column name, or a JSONPath such as '$.prediction'"
    text = value.strip()
    if not text:
        raise InputError(f"must not be empty: give {expected}", field=field)
    if text.lstrip("-").isdigit() and text.startswith("-"):
        raise InputError(f"column index {value!r} is negative: give {expected}", field=field)
    if text.startswith(("$", "[")):
        try:
            select_path({}, text)
        except RecordError:
            raise InputError(
                f"{value!r} is not a JSONPath modelmon reads: give {expected}", field=field
            ) from None


def _check_model_quality(definition: MonitoringJobDefinitionShape, paths: _Paths) -> None:
    """The members a model-quality job needs (see the module doc)."""
    entry = definition.input
    field = f"{paths.input}.GroundTruthS3Input"
    if entry.GroundTruthS3Input is None:
        raise InputError(
            "GroundTruthS3Input is required for model quality: "
            "{S3Uri: 's3://bucket/ground-truth'}, under which labels are stored as "
            "yyyy/mm/dd/hh/*.jsonl by collection hour",
            field=field,
        )
    uri = entry.GroundTruthS3Input.S3Uri
    try:
        exists(uri)  # only that the location can be read: labels may come later
    except (InputError, OSError, ValueError) as err:
        raise InputError(
            f"the ground-truth location {uri} cannot be read: {err}", field=f"{field}.S3Uri"
        ) from None
    app = definition.MonitoringAppSpecification
    given = definition.Environment.get("problem_type")
    problem = app.ProblemType or given
    choices = ", ".join(PROBLEM_TYPES)
    if problem is None:
        raise InputError(
            f"ProblemType is required for model quality: one of {choices}",
            field=f"{paths.app}.ProblemType",
        )
    if given is not None and given != problem:
        raise InputError(
            f"problem_type {given!r} contradicts ProblemType {problem!r}: give one of them",
            field=f"{paths.environment}.problem_type",
        )
    if problem not in PROBLEM_TYPES:
        raise InputError(
            f"problem_type must be one of {choices}, not {problem!r}",
            field=f"{paths.environment}.problem_type",
        )
    source = entry.source
    where = f"{paths.input}.{entry.member}"
    for member in ("InferenceAttribute", "ProbabilityAttribute"):
        value = getattr(source, member)
        if value is not None:
            check_attribute(value, f"{where}.{member}")
    threshold = source.ProbabilityThresholdAttribute
    threshold_field = f"{where}.ProbabilityThresholdAttribute"
    if problem == "Regression":
        for member in ("ProbabilityAttribute", "ProbabilityThresholdAttribute"):
            if getattr(source, member) is not None:
                raise InputError(
                    f"a Regression model has no class probabilities: leave {member} out "
                    "(InferenceAttribute names the predicted value)",
                    field=f"{where}.{member}",
                )
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:  # also refuses NaN
            raise InputError(
                f"must be a probability in [0, 1], not {threshold!r}", field=threshold_field
            )
        if source.ProbabilityAttribute is None:
            raise InputError(
                "turns the probability into a class: give ProbabilityAttribute too",
                field=threshold_field,
            )


def run_gap(expression: ScheduleExpression) -> dt.timedelta | None:
    """The shortest time between two runs of a schedule (None for NOW)."""
    hours = expression.hours
    if not hours:
        return None
    gaps = [b - a for a, b in itertools.pairwise(hours)] + [hours[0] + 24 - hours[-1]]
    return dt.timedelta(hours=min(gaps))


def model_quality_runtime_limit(expression: ScheduleExpression) -> int:
    """The longest MaxRuntimeInSeconds a model-quality schedule of ``expression`` accepts."""
    gap = run_gap(expression)
    if gap is None:
        return MAX_RUNTIME_LIMIT
    return min(MAX_RUNTIME_LIMIT, int(gap.total_seconds() * MODEL_QUALITY_SHARE))


def _check_model_quality_runtime(
    expression: ScheduleExpression, definition: dict[str, Any], field: str, owner: str = ""
) -> None:
    stopping = definition.get("StoppingCondition") or {}
    runtime = stopping.get("MaxRuntimeInSeconds", MODEL_QUALITY_MAX_RUNTIME)
    limit = model_quality_runtime_limit(expression)
    if runtime > limit:
        gap = run_gap(expression)
        cadence = f"runs {gap.total_seconds() / 3600:g} hour(s) apart" if gap else "runs once"
        raise InputError(
            f"MaxRuntimeInSeconds {runtime}{owner} is too long for a model-quality schedule whose "
            f"{cadence}: the ground-truth merge and the analysis share the time between runs, "
            f"so it must be at most {limit} seconds (hourly 1800, every N hours N x 1800, "
            "daily 43200)",
            field=f"{field}.MaxRuntimeInSeconds",
        )
