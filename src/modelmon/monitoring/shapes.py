"""Request shapes of the monitoring API, as SageMaker names them (CreateMonitoringSchedule, ...).

Pydantic models with SageMaker's member names and constraints (botocore
``sagemaker`` 2017-07-24, SPEC §6), validated by the REST API and the AWS JSON
wire protocol alike. Members with no meaning off AWS (``MonitoringResources``,
``NetworkConfig``, ``RoleArn``, ``KmsKeyId``, ``S3InputMode``...) are accepted
and kept. ``LocalPath`` members, required by SageMaker, default to the SDK's
paths. Checks that need the world (the endpoint exists, the baseline files
exist, the scripts define their handlers, the schedule's window) are made by
:class:`modelmon.monitoring.registry.Monitoring`.

A nested class is never named like the member holding it (pydantic cannot
resolve ``Foo: Foo | None``): ``EndpointInput`` holds an ``EndpointInputShape``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from modelmon.formats.shapes import Name, Tag
from modelmon.formats.shapes import Shape as _BaseShape

__all__ = [
    "CreateDataQualityJobDefinitionRequest",
    "CreateModelQualityJobDefinitionRequest",
    "CreateMonitoringScheduleRequest",
    "MonitoringJobDefinitionShape",
    "MonitoringScheduleConfigShape",
    "PutGroundTruthRequest",
    "UpdateMonitoringScheduleBody",
    "UpdateMonitoringScheduleRequest",
]

Uri = Annotated[str, Field(min_length=1, max_length=1024)]
ProcessingLocalPath = Annotated[str, Field(max_length=256)]
TimeOffset = Annotated[str, Field(min_length=1, max_length=15)]
EnvironmentMap = Annotated[dict[str, str], Field(max_length=50)]
MonitoringTypeName = Literal["DataQuality", "ModelQuality", "ModelBias", "ModelExplainability"]
ProblemTypeName = Literal["BinaryClassification", "MulticlassClassification", "Regression"]

ENDPOINT_LOCAL_PATH = "/opt/ml/processing/input/endpoint"
BATCH_LOCAL_PATH = "/opt/ml/processing/input"
OUTPUT_LOCAL_PATH = "/opt/ml/processing/output"


class Shape(_BaseShape):
    """A request structure; members given as ``null`` count as not given (their defaults
    apply), as clients that send every member of a structure expect."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if v is not None}
        return value


class MonitoringConstraintsResource(Shape):
    S3Uri: Uri | None = Field(None, description="constraints.json of the baseline.")


class MonitoringStatisticsResource(Shape):
    S3Uri: Uri | None = Field(None, description="statistics.json of the baseline.")


class MonitoringBaselineConfig(Shape):
    BaseliningJobName: Name | None = None
    ConstraintsResource: MonitoringConstraintsResource | None = None
    StatisticsResource: MonitoringStatisticsResource | None = None


class _InputMembers(Shape):
    """Members EndpointInput and BatchTransformInput share."""

    S3InputMode: Literal["Pipe", "File"] | None = None
    S3DataDistributionType: Literal["FullyReplicated", "ShardedByS3Key"] | None = None
    FeaturesAttribute: str | None = None
    InferenceAttribute: str | None = None
    ProbabilityAttribute: str | None = None
    ProbabilityThresholdAttribute: float | None = None
    StartTimeOffset: TimeOffset | None = Field(
        None, description="ISO-8601 duration added to the run's time, e.g. '-PT1H'."
    )
    EndTimeOffset: TimeOffset | None = Field(
        None, description="ISO-8601 duration added to the run's time, e.g. '-PT0H'."
    )
    ExcludeFeaturesAttribute: str | None = Field(None, max_length=100)


class EndpointInputShape(_InputMembers):
    EndpointName: Name = Field(description="An endpoint with DataCaptureConfig enabled.")
    LocalPath: ProcessingLocalPath = ENDPOINT_LOCAL_PATH


class MonitoringCsvDatasetFormat(Shape):
    Header: bool | None = None


class MonitoringJsonDatasetFormat(Shape):
    Line: bool | None = None


class MonitoringParquetDatasetFormat(Shape):
    pass


class MonitoringDatasetFormat(Shape):
    Csv: MonitoringCsvDatasetFormat | None = None
    Json: MonitoringJsonDatasetFormat | None = None
    Parquet: MonitoringParquetDatasetFormat | None = None

    @model_validator(mode="after")
    def _one_format(self) -> MonitoringDatasetFormat:
        given = [k for k in ("Csv", "Json", "Parquet") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of Csv, Json or Parquet"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class BatchTransformInputShape(_InputMembers):
    DataCapturedDestinationS3Uri: Uri = Field(
        description="DataCaptureConfig.DestinationS3Uri of the transform jobs."
    )
    DatasetFormat: MonitoringDatasetFormat
    LocalPath: ProcessingLocalPath = BATCH_LOCAL_PATH


class MonitoringGroundTruthS3Input(Shape):
    S3Uri: Uri = Field(
        description="Ground-truth labels: {S3Uri}/yyyy/mm/dd/hh/*.jsonl by collection hour."
    )


class MonitoringInput(Shape):
    """Exactly one of EndpointInput and BatchTransformInput. A model-quality job's input
    also has GroundTruthS3Input (ModelQualityJobInput; in an inline MonitoringJobDefinition
    a modelmon extension, as SageMaker has no inline model-quality definition)."""

    EndpointInput: EndpointInputShape | None = None
    BatchTransformInput: BatchTransformInputShape | None = None
    GroundTruthS3Input: MonitoringGroundTruthS3Input | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MonitoringInput:
        if (self.EndpointInput is None) == (self.BatchTransformInput is None):
            got = "both" if self.EndpointInput is not None else "neither"
            raise ValueError(
                f"exactly one of EndpointInput or BatchTransformInput is required (got {got})"
            )
        return self

    @property
    def source(self) -> EndpointInputShape | BatchTransformInputShape:
        """The one input given."""
        source = self.EndpointInput or self.BatchTransformInput
        assert source is not None
        return source

    @property
    def member(self) -> str:
        """``EndpointInput`` or ``BatchTransformInput``."""
        return "EndpointInput" if self.EndpointInput is not None else "BatchTransformInput"


class MonitoringS3Output(Shape):
    S3Uri: Uri = Field(
        description="Reports go to {S3Uri}/{endpoint or schedule}/{schedule}/yyyy/mm/dd/hh."
    )
    LocalPath: ProcessingLocalPath = OUTPUT_LOCAL_PATH
    S3UploadMode: Literal["Continuous", "EndOfJob"] | None = None


class MonitoringOutput(Shape):
    S3Output: MonitoringS3Output


class MonitoringOutputConfigShape(Shape):
    MonitoringOutputs: list[MonitoringOutput] = Field(min_length=1, max_length=1)
    KmsKeyId: str | None = None


class MonitoringClusterConfig(Shape):
    """Accepted for compatibility; an execution runs on the scheduler's machine."""

    InstanceCount: int | None = Field(None, ge=1, le=100)
    InstanceType: str | None = None
    VolumeSizeInGB: int | None = Field(None, ge=1, le=16384)
    VolumeKmsKeyId: str | None = None


class MonitoringResourcesShape(Shape):
    ClusterConfig: MonitoringClusterConfig | None = None


class MonitoringAppSpecificationShape(Shape):
    ImageUri: str | None = Field(
        None,
        max_length=255,
        description="The analyzer: empty, 'modelmon' or SageMaker's model-monitor analyzer "
        "image for the built-in one; an image mapped to a command by MODELMON_ANALYZER_IMAGES; "
        "or any image with a ContainerEntrypoint (run as a plain command).",
    )
    ContainerEntrypoint: list[str] | None = Field(None, min_length=1, max_length=100)
    ContainerArguments: list[str] | None = Field(None, min_length=1, max_length=50)
    RecordPreprocessorSourceUri: Uri | None = Field(
        None, description="A Python file defining preprocess_handler(inference_record)."
    )
    PostAnalyticsProcessorSourceUri: Uri | None = Field(
        None, description="A Python file defining postprocess_handler()."
    )
    ProblemType: ProblemTypeName | None = Field(
        None,
        description="Model quality (ModelQualityAppSpecification; in an inline "
        "MonitoringJobDefinition a modelmon extension).",
    )


class MonitoringStoppingCondition(Shape):
    MaxRuntimeInSeconds: int = Field(ge=1, le=86400)


class MonitoringJobDefinitionShape(Shape):
    """SageMaker's inline MonitoringJobDefinition: what one execution runs."""

    BaselineConfig: MonitoringBaselineConfig | None = None
    MonitoringInputs: list[MonitoringInput] = Field(min_length=1, max_length=1)
    MonitoringOutputConfig: MonitoringOutputConfigShape
    MonitoringResources: MonitoringResourcesShape | None = None
    MonitoringAppSpecification: MonitoringAppSpecificationShape = Field(
        default_factory=MonitoringAppSpecificationShape
    )
    StoppingCondition: MonitoringStoppingCondition | None = None
    Environment: EnvironmentMap = Field(default_factory=dict)
    NetworkConfig: dict[str, Any] | None = None
    RoleArn: str | None = Field(None, max_length=2048)

    @property
    def input(self) -> MonitoringInput:
        return self.MonitoringInputs[0]


class ScheduleConfigShape(Shape):
    ScheduleExpression: str = Field(
        min_length=1,
        max_length=256,
        description="cron(0 * ? * * *) hourly, cron(0 H ? * * *) daily, "
        "cron(0 H/N ? * * *) every N hours, or NOW (one run, at once).",
    )
    DataAnalysisStartTime: str | None = Field(
        None, description="ISO-8601 offset from the run's time, e.g. '-PT1H' (required with NOW)."
    )
    DataAnalysisEndTime: str | None = Field(
        None, description="ISO-8601 offset from the run's time, e.g. '-PT0H' (required with NOW)."
    )


class MonitoringScheduleConfigShape(Shape):
    """When to run (ScheduleConfig) and what: an inline MonitoringJobDefinition or the name
    of a job definition (MonitoringJobDefinitionName, with its MonitoringType)."""

    ScheduleConfig: ScheduleConfigShape | None = None
    MonitoringJobDefinition: MonitoringJobDefinitionShape | None = None
    MonitoringJobDefinitionName: Name | None = None
    MonitoringType: MonitoringTypeName | None = None

    @model_validator(mode="after")
    def _one_definition(self) -> MonitoringScheduleConfigShape:
        inline = self.MonitoringJobDefinition is not None
        if inline == (self.MonitoringJobDefinitionName is not None):
            got = "both" if inline else "neither"
            raise ValueError(
                "exactly one of MonitoringJobDefinition or MonitoringJobDefinitionName is "
                f"required (got {got})"
            )
        return self


class CreateMonitoringScheduleRequest(Shape):
    MonitoringScheduleName: Name
    MonitoringScheduleConfig: MonitoringScheduleConfigShape
    Tags: list[Tag] = Field(default_factory=list, max_length=50)


class UpdateMonitoringScheduleRequest(Shape):
    MonitoringScheduleName: Name
    MonitoringScheduleConfig: MonitoringScheduleConfigShape


class UpdateMonitoringScheduleBody(Shape):
    """The body of ``PUT /api/monitoring-schedules/{name}``."""

    MonitoringScheduleConfig: MonitoringScheduleConfigShape


class DataQualityAppSpecificationShape(MonitoringAppSpecificationShape):
    Environment: EnvironmentMap = Field(default_factory=dict)


class DataQualityJobInputShape(MonitoringInput):
    """Exactly one of EndpointInput and BatchTransformInput."""


class _JobDefinitionRequest(Shape):
    """Members every Create*JobDefinition request has."""

    JobDefinitionName: Name
    JobResources: MonitoringResourcesShape | None = None
    NetworkConfig: dict[str, Any] | None = None
    RoleArn: str | None = Field(None, max_length=2048)
    StoppingCondition: MonitoringStoppingCondition | None = None
    Tags: list[Tag] = Field(default_factory=list, max_length=50)


class CreateDataQualityJobDefinitionRequest(_JobDefinitionRequest):
    DataQualityBaselineConfig: MonitoringBaselineConfig | None = None
    DataQualityAppSpecification: DataQualityAppSpecificationShape = Field(
        default_factory=DataQualityAppSpecificationShape
    )
    DataQualityJobInput: DataQualityJobInputShape
    DataQualityJobOutputConfig: MonitoringOutputConfigShape

    def job_definition(self) -> MonitoringJobDefinitionShape:
        """The same job as an inline MonitoringJobDefinition (what a schedule runs)."""
        return _inline(
            self,
            self.DataQualityBaselineConfig,
            self.DataQualityJobInput,
            self.DataQualityJobOutputConfig,
            self.DataQualityAppSpecification,
        )


def _inline(
    request: _JobDefinitionRequest,
    baseline: Shape | None,
    job_input: MonitoringInput,
    output: MonitoringOutputConfigShape,
    app: DataQualityAppSpecificationShape | ModelQualityAppSpecificationShape,
) -> MonitoringJobDefinitionShape:
    """A Create*JobDefinitionRequest's job as an inline MonitoringJobDefinition: the app
    specification's Environment becomes the definition's."""
    return MonitoringJobDefinitionShape(
        BaselineConfig=MonitoringBaselineConfig.model_validate(baseline.model_dump())
        if baseline is not None
        else None,
        MonitoringInputs=[MonitoringInput.model_validate(job_input.model_dump())],
        MonitoringOutputConfig=output,
        MonitoringResources=request.JobResources,
        MonitoringAppSpecification=MonitoringAppSpecificationShape.model_validate(
            app.model_dump(exclude={"Environment"})
        ),
        StoppingCondition=request.StoppingCondition,
        Environment=dict(app.Environment),
        NetworkConfig=request.NetworkConfig,
        RoleArn=request.RoleArn,
    )


class ModelQualityBaselineConfigShape(Shape):
    BaseliningJobName: Name | None = None
    ConstraintsResource: MonitoringConstraintsResource | None = None


class ModelQualityAppSpecificationShape(MonitoringAppSpecificationShape):
    Environment: EnvironmentMap = Field(default_factory=dict)


class ModelQualityJobInputShape(MonitoringInput):
    """Exactly one of EndpointInput and BatchTransformInput, and GroundTruthS3Input."""


class CreateModelQualityJobDefinitionRequest(_JobDefinitionRequest):
    ModelQualityBaselineConfig: ModelQualityBaselineConfigShape | None = None
    ModelQualityAppSpecification: ModelQualityAppSpecificationShape = Field(
        default_factory=ModelQualityAppSpecificationShape
    )
    ModelQualityJobInput: ModelQualityJobInputShape
    ModelQualityJobOutputConfig: MonitoringOutputConfigShape

    def job_definition(self) -> MonitoringJobDefinitionShape:
        """The same job as an inline MonitoringJobDefinition (what a schedule runs):
        GroundTruthS3Input stays in the input, ProblemType in the app specification."""
        return _inline(
            self,
            self.ModelQualityBaselineConfig,
            self.ModelQualityJobInput,
            self.ModelQualityJobOutputConfig,
            self.ModelQualityAppSpecification,
        )


class GroundTruthRecordShape(Shape):
    InferenceId: str = Field(
        min_length=1,
        max_length=64,
        description="The inferenceId of the captured record (else its eventId).",
    )
    Label: str | int | float = Field(
        description="The label, as the CSV text groundTruthData.data holds (numbers allowed)."
    )

    @field_validator("Label", mode="after")
    @classmethod
    def _label_text(cls, value: str | int | float) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"a label must be a finite number or text, not {value!r}")
        text = value if isinstance(value, str) else repr(value)
        if not text.strip() or "\n" in text or "\r" in text:
            raise ValueError(f"a label must be one non-empty line of text, not {text!r}")
        return text


class PutGroundTruthRequest(Shape):
    """A batch of labels, written as one file ``{GroundTruthS3Uri}/yyyy/mm/dd/hh/{uuid}.jsonl``
    for the hour of ``CollectionTime`` (default: now)."""

    GroundTruthS3Uri: Uri
    Records: list[GroundTruthRecordShape] = Field(min_length=1, max_length=100_000)
    CollectionTime: str | None = Field(
        None, description="ISO-8601 time the labels were collected (UTC when no offset)."
    )
