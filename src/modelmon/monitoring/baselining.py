"""Baselining jobs: ``suggest_baseline`` as a tracked job of the server.

The SageMaker SDK's ``DefaultModelMonitor.suggest_baseline`` starts a processing
job that runs the analyzer container over the training dataset. Here a
baselining job is a row in ``baselining_jobs`` and a run of the built-in
analyzer as its own process (:func:`modelmon.monitoring.runner.run_baselining`),
in a background thread of ``modelmon serve``. Its description has the shape of
DescribeProcessingJob (``ProcessingJobName``, ``ProcessingJobStatus`` InProgress
→ Completed | Failed | Stopping → Stopped, ``ExitMessage``, ``FailureReason``,
times, ``ProcessingOutputConfig``) plus where the two files are. A job left
InProgress by a server that stopped is marked Failed when a server starts.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import select

from modelmon.analysis.readers import DatasetFormat
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import paginate, sort_rows
from modelmon.db.models import BaseliningJobRow, utcnow
from modelmon.errors import ConflictError, InputError, NotFoundError
from modelmon.formats.shapes import Name, Shape
from modelmon.monitoring.registry import check_attribute
from modelmon.monitoring.runner import BaseliningSpec, Runner, run_baselining
from modelmon.storage.files import exists, expand

log = logging.getLogger("modelmon.baselining")

RUNNING = ("InProgress", "Stopping")
Uri = Annotated[str, Field(min_length=1, max_length=1024)]


class StoppingConditionShape(Shape):
    MaxRuntimeInSeconds: int = Field(3600, ge=1, le=86400)


class CreateBaseliningJobRequest(Shape):
    """A baselining job. ``MonitoringType`` ModelQuality: the dataset holds predictions,
    probabilities and labels (``InferenceAttribute``, ``ProbabilityAttribute``,
    ``GroundTruthAttribute``: column names or indexes, or JSONPaths) and the job writes the
    model-quality statistics.json and constraints.json of ``ProblemType``."""

    BaseliningJobName: Name
    BaselineDatasetUri: Uri
    DatasetFormat: dict[str, Any] = Field(
        description='The analyzer\'s dataset_format, e.g. {"csv": {"header": true}}.'
    )
    OutputS3Uri: Uri
    RecordPreprocessorSourceUri: Uri | None = None
    PostAnalyticsProcessorSourceUri: Uri | None = None
    Environment: dict[str, str] = Field(default_factory=dict, max_length=50)
    StoppingCondition: StoppingConditionShape | None = None
    MonitoringType: Literal["DataQuality", "ModelQuality"] = "DataQuality"
    ProblemType: (
        Literal["BinaryClassification", "MulticlassClassification", "Regression"] | None
    ) = None
    InferenceAttribute: str | None = None
    ProbabilityAttribute: str | None = None
    ProbabilityThresholdAttribute: float | None = None
    GroundTruthAttribute: str | None = None
    PositiveLabel: str | None = None

    def analysis_environment(self) -> dict[str, str]:
        """The analyzer's variables of this job's analysis (SPEC §3.3)."""
        if self.MonitoringType != "ModelQuality":
            return {}
        env = {"analysis_type": "MODEL_QUALITY"}
        for member, name in _MODEL_QUALITY_VARIABLES.items():
            value = getattr(self, member)
            if value is not None:
                env[name] = str(value)
        return env


_MODEL_QUALITY_VARIABLES = {
    "ProblemType": "problem_type",
    "InferenceAttribute": "inference_attribute",
    "ProbabilityAttribute": "probability_attribute",
    "ProbabilityThresholdAttribute": "probability_threshold_attribute",
    "GroundTruthAttribute": "ground_truth_attribute",
    "PositiveLabel": "positive_label",
}


def _check_model_quality(request: CreateBaseliningJobRequest) -> None:
    """What a model-quality baselining job needs: a problem type, the label column, and the
    prediction (or the probability, for binary classification)."""
    if request.MonitoringType != "ModelQuality":
        for member in _MODEL_QUALITY_VARIABLES:
            if getattr(request, member) is not None:
                raise InputError(
                    f"{member} is for model quality: set MonitoringType to ModelQuality",
                    field=member,
                )
        return
    if request.ProblemType is None:
        raise InputError(
            "ProblemType is required for a model-quality baseline: BinaryClassification, "
            "MulticlassClassification or Regression",
            field="ProblemType",
        )
    if request.GroundTruthAttribute is None:
        raise InputError(
            "GroundTruthAttribute is required for a model-quality baseline: the column of the "
            "labels, e.g. 'label'",
            field="GroundTruthAttribute",
        )
    for member in ("InferenceAttribute", "ProbabilityAttribute", "GroundTruthAttribute"):
        value = getattr(request, member)
        if value is not None:
            check_attribute(value, member)
    binary = request.ProblemType == "BinaryClassification"
    if request.InferenceAttribute is None and not (binary and request.ProbabilityAttribute):
        raise InputError(
            "InferenceAttribute is required: the column of the predictions"
            + (" (or give ProbabilityAttribute for binary classification)" if binary else ""),
            field="InferenceAttribute",
        )
    threshold = request.ProbabilityThresholdAttribute
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(
            f"must be a probability in [0, 1], not {threshold!r}",
            field="ProbabilityThresholdAttribute",
        )


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"Could not find baselining job {name}", aws_code="ResourceNotFound")


class BaseliningJobs:
    """Create, describe, list and stop baselining jobs; runs them in threads."""

    def __init__(
        self, db: Database, settings: Settings, runner: Runner, *, max_concurrent: int = 2
    ) -> None:
        self.db = db
        self.settings = settings
        self.runner = runner
        self._pool = ThreadPoolExecutor(max_concurrent, thread_name_prefix="baselining")
        self._stops: dict[str, threading.Event] = {}

    def recover(self) -> int:
        """Mark jobs a stopped server left running as Failed; how many there were."""
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(BaseliningJobRow).where(BaseliningJobRow.status.in_(RUNNING))
                )
            )
            for row in rows:
                row.status = "Failed"
                row.failure_reason = "the server stopped while this job was running"
                row.end_time = row.last_modified_time = utcnow()
        return len(rows)

    def create(self, request: CreateBaseliningJobRequest) -> dict[str, Any]:
        """Start a baselining job (data or model quality); 400s name the member at fault."""
        _check_model_quality(request)
        try:
            DatasetFormat.from_sagemaker(request.DatasetFormat)
        except InputError as err:
            raise InputError(err.reason, field="DatasetFormat") from None
        try:
            expand(request.BaselineDatasetUri)
        except InputError as err:
            raise InputError(
                f"{request.BaselineDatasetUri}: {err.reason}", field="BaselineDatasetUri"
            ) from None
        for member in ("RecordPreprocessorSourceUri", "PostAnalyticsProcessorSourceUri"):
            uri = getattr(request, member)
            if uri and not exists(uri):
                raise InputError(f"{uri} does not exist", field=member)
        arn = self.settings.arn("processing-job", request.BaseliningJobName)
        with self.db.session() as session:
            if session.get(BaseliningJobRow, request.BaseliningJobName) is not None:
                raise ConflictError(
                    f"Job name {request.BaseliningJobName} must be unique within an account",
                    aws_code="ResourceInUse",
                )
            now = utcnow()
            session.add(
                BaseliningJobRow(
                    name=request.BaseliningJobName,
                    arn=arn,
                    request=request.model_dump(exclude_none=True),
                    status="InProgress",
                    output_uri=request.OutputS3Uri.rstrip("/"),
                    creation_time=now,
                    start_time=now,
                    last_modified_time=now,
                )
            )
        stop = threading.Event()
        self._stops[request.BaseliningJobName] = stop
        self._pool.submit(self._run, request, stop)
        return {"ProcessingJobArn": arn}

    def _run(self, request: CreateBaseliningJobRequest, stop: threading.Event) -> None:
        work = self.settings.data_dir / "baselining" / request.BaseliningJobName
        spec = BaseliningSpec(
            job_name=request.BaseliningJobName,
            dataset_uri=request.BaselineDatasetUri,
            dataset_format=request.DatasetFormat,
            output_uri=request.OutputS3Uri,
            work_dir=work,
            record_preprocessor_uri=request.RecordPreprocessorSourceUri,
            post_analytics_uri=request.PostAnalyticsProcessorSourceUri,
            environment=request.Environment,
            analysis_environment=request.analysis_environment(),
            max_runtime=(request.StoppingCondition.MaxRuntimeInSeconds)
            if request.StoppingCondition
            else 3600,
        )
        try:
            result = run_baselining(self.runner, spec, stop)
            status, reason, message = result.status, result.failure_reason, result.exit_message
            log_path = str(result.log_path)
        except Exception as err:  # never leave a job InProgress
            log.exception("baselining job %s", request.BaseliningJobName)
            status, reason, message, log_path = "Failed", f"{type(err).__name__}: {err}", "", None
        with self.db.session() as session:
            row = session.get(BaseliningJobRow, request.BaseliningJobName)
            if row is not None:
                row.status = status
                row.failure_reason = reason
                row.exit_message = message
                row.log_path = log_path
                row.end_time = row.last_modified_time = utcnow()
        self._stops.pop(request.BaseliningJobName, None)

    def _row(self, session: Any, name: str) -> BaseliningJobRow:
        row = session.get(BaseliningJobRow, name)
        if row is None:
            raise _not_found(name)
        return row

    def describe(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            return _document(self._row(session, name))

    def list(
        self,
        *,
        name_contains: str | None = None,
        status_equals: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        with self.db.session() as session:
            rows = list(session.scalars(select(BaseliningJobRow)))
        rows = [
            r
            for r in rows
            if (not name_contains or name_contains in r.name)
            and (not status_equals or r.status == status_equals)
        ]
        page, token = paginate(sort_rows(rows, sort_by, sort_order), next_token, max_results)
        return {
            "ProcessingJobSummaries": [
                {
                    "ProcessingJobName": r.name,
                    "ProcessingJobArn": r.arn,
                    "CreationTime": r.creation_time,
                    "ProcessingEndTime": r.end_time,
                    "ProcessingJobStatus": r.status,
                    **({"FailureReason": r.failure_reason} if r.failure_reason else {}),
                }
                for r in page
            ],
            **({"NextToken": token} if token else {}),
        }

    def stop(self, name: str) -> None:
        with self.db.session() as session:
            row = self._row(session, name)
            if row.status != "InProgress":
                raise ConflictError(f"baselining job {name} is {row.status}, not InProgress")
            row.status = "Stopping"
            row.last_modified_time = utcnow()
        event = self._stops.get(name)
        if event is not None:
            event.set()

    def logs(self, name: str) -> str:
        with self.db.session() as session:
            row = self._row(session, name)
            path = row.log_path
        if not path or not Path(path).is_file():
            return ""
        return Path(path).read_text(encoding="utf-8", errors="replace")

    def shutdown(self) -> None:
        for event in list(self._stops.values()):
            event.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _document(row: BaseliningJobRow) -> dict[str, Any]:
    request = row.request
    document: dict[str, Any] = {
        "ProcessingJobName": row.name,
        "ProcessingJobArn": row.arn,
        "ProcessingJobStatus": row.status,
        "BaselineDatasetUri": request["BaselineDatasetUri"],
        "DatasetFormat": request["DatasetFormat"],
        "MonitoringType": request.get("MonitoringType", "DataQuality"),
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {
                        "S3Uri": row.output_uri,
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StatisticsUri": f"{row.output_uri}/statistics.json",
        "ConstraintsUri": f"{row.output_uri}/constraints.json",
        "CreationTime": row.creation_time,
        "ProcessingStartTime": row.start_time,
        "LastModifiedTime": row.last_modified_time,
    }
    if row.end_time is not None:
        document["ProcessingEndTime"] = row.end_time
    if row.exit_message:
        document["ExitMessage"] = row.exit_message
    if row.failure_reason:
        document["FailureReason"] = row.failure_reason
    return document
