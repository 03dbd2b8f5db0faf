"""Request shapes of the hosting API, as SageMaker names them (CreateModel, ...).

Pydantic models with SageMaker's member names, constraints and defaults; the
REST API documents them in OpenAPI and the AWS JSON wire protocol validates the
same models. Members modelmon has no use for off AWS (VpcConfig, KmsKeyId,
InstanceType...) are accepted and kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from modelmon.errors import InputError
from modelmon.formats.shapes import NAME_PATTERN, Name, S3Uri, Shape, ShapeT, Tag, parse

__all__ = ["NAME_PATTERN", "Name", "S3Uri", "Shape", "ShapeT", "Tag", "parse"]


class ContainerDefinition(Shape):
    Image: str | None = Field(
        None,
        description="Runtime: sklearn, xgboost, onnx, python, or a SageMaker image URI "
        "(empty: detected from the artifact).",
    )
    ModelDataUrl: S3Uri | None = Field(
        None, description="model.tar.gz, a model file, or a directory (local path or s3://)."
    )
    Environment: dict[str, str] = Field(default_factory=dict)

    @field_validator("Environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100:
            raise ValueError("at most 100 environment variables")
        return value


class CreateModelRequest(Shape):
    ModelName: Name
    PrimaryContainer: ContainerDefinition | None = None
    Containers: list[ContainerDefinition] | None = None
    ExecutionRoleArn: str | None = None
    Tags: list[Tag] = Field(default_factory=list)

    def container(self) -> ContainerDefinition:
        """The one container this model runs (inference pipelines are not supported)."""
        if self.PrimaryContainer is not None and self.Containers:
            raise InputError("give PrimaryContainer or Containers, not both", field="Containers")
        if self.PrimaryContainer is not None:
            return self.PrimaryContainer
        if not self.Containers:
            raise InputError("PrimaryContainer is required", field="PrimaryContainer")
        if len(self.Containers) > 1:
            raise InputError(
                "inference pipelines (several Containers) are not supported; give one",
                field="Containers",
            )
        return self.Containers[0]


class ProductionVariant(Shape):
    VariantName: Name
    ModelName: Name
    InitialInstanceCount: int | None = Field(None, ge=1)
    InstanceType: str | None = None
    InitialVariantWeight: float = Field(1.0, ge=0.0)


class CaptureOption(Shape):
    CaptureMode: Literal["Input", "Output", "InputAndOutput"]


class ContentTypeHeader(Shape):
    CsvContentTypes: list[Annotated[str, Field(max_length=256)]] | None = Field(
        None, min_length=1, max_length=10
    )
    JsonContentTypes: list[Annotated[str, Field(max_length=256)]] | None = Field(
        None, min_length=1, max_length=10
    )


class CaptureConfig(Shape):
    EnableCapture: bool = True
    InitialSamplingPercentage: int = Field(20, ge=0, le=100)
    DestinationS3Uri: S3Uri | None = Field(
        None,
        pattern=r"^(https|s3)://([^/]+)/?(.*)$",
        description="Default: s3://<default bucket>/model-monitor/data-capture",
    )
    KmsKeyId: str | None = None
    CaptureOptions: list[CaptureOption] = Field(min_length=1, max_length=32)
    CaptureContentTypeHeader: ContentTypeHeader | None = None


class CreateEndpointConfigRequest(Shape):
    EndpointConfigName: Name
    ProductionVariants: list[ProductionVariant] = Field(min_length=1, max_length=10)
    DataCaptureConfig: CaptureConfig | None = None
    AsyncInferenceConfig: dict[str, Any] | None = None
    KmsKeyId: str | None = None
    Tags: list[Tag] = Field(default_factory=list)

    @field_validator("ProductionVariants")
    @classmethod
    def _variants(cls, value: list[ProductionVariant]) -> list[ProductionVariant]:
        names = [v.VariantName for v in value]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(duplicated)}")
        if sum(v.InitialVariantWeight for v in value) <= 0:
            raise ValueError("the sum of InitialVariantWeight must be greater than 0")
        return value


class CreateEndpointRequest(Shape):
    EndpointName: Name
    EndpointConfigName: Name
    Tags: list[Tag] = Field(default_factory=list)


class UpdateEndpointRequest(Shape):
    EndpointName: Name
    EndpointConfigName: Name


# -- batch transform ------------------------------------------------------------------

S3_PATTERN = r"^(https|s3)://([^/]+)/?(.*)$"
TransformS3Uri = Annotated[str, Field(max_length=1024, pattern=S3_PATTERN)]
MEGABYTE = 1024 * 1024


class TransformS3DataSource(Shape):
    S3DataType: Literal["S3Prefix", "ManifestFile"] = Field(
        description="S3Prefix: every file under S3Uri; ManifestFile: S3Uri is a manifest "
        '(`[{"prefix": "s3://..."}, "relative/key", ...]`).'
    )
    S3Uri: TransformS3Uri


class TransformDataSource(Shape):
    S3DataSource: TransformS3DataSource


class TransformInputConfig(Shape):
    DataSource: TransformDataSource
    ContentType: str | None = Field(
        None, max_length=256, description="Sent as the Content-Type of every request."
    )
    CompressionType: Literal["None", "Gzip"] = "None"
    SplitType: Literal["None", "Line"] = Field(
        "None", description="None: a file is one request; Line: each line is a record."
    )


class TransformOutputConfig(Shape):
    S3OutputPath: TransformS3Uri = Field(
        description="Each input file's output is {S3OutputPath}/{path under the input}.out"
    )
    Accept: str | None = Field(None, max_length=256)
    AssembleWith: Literal["None", "Line"] = Field(
        "None", description="None: answers concatenated; Line: one line per record."
    )
    KmsKeyId: str | None = None


class TransformResourcesConfig(Shape):
    """Accepted for compatibility; a job runs in the server process."""

    InstanceType: str | None = None
    InstanceCount: int = Field(1, ge=1)
    VolumeKmsKeyId: str | None = None


class BatchCaptureConfig(Shape):
    DestinationS3Uri: TransformS3Uri
    KmsKeyId: str | None = None
    GenerateInferenceId: bool | None = None


class DataProcessingConfig(Shape):
    InputFilter: str | None = Field(None, max_length=63)
    OutputFilter: str | None = Field(None, max_length=63)
    JoinSource: Literal["Input", "None"] = "None"


class CreateTransformJobRequest(Shape):
    """CreateTransformJob. ``BatchStrategy`` defaults to MultiRecord (SageMaker documents no
    default; MultiRecord is what its examples use with SplitType Line), ``MaxPayloadInMB``
    to 6 (0: no limit)."""

    TransformJobName: Name
    ModelName: Name
    MaxConcurrentTransforms: int | None = Field(
        None, ge=0, description="Requests in flight at once (default 1; 0: the server decides)."
    )
    ModelClientConfig: dict[str, Any] | None = None
    MaxPayloadInMB: int = Field(6, ge=0, le=100)
    BatchStrategy: Literal["MultiRecord", "SingleRecord"] | None = None
    Environment: dict[str, str] = Field(default_factory=dict, max_length=16)
    TransformInput: TransformInputConfig
    TransformOutput: TransformOutputConfig
    DataCaptureConfig: BatchCaptureConfig | None = None
    TransformResources: TransformResourcesConfig | None = None
    DataProcessing: DataProcessingConfig | None = None
    Tags: list[Tag] = Field(default_factory=list)

    @property
    def strategy(self) -> str:
        """The batch strategy in effect (MultiRecord unless SingleRecord is asked for)."""
        return self.BatchStrategy or "MultiRecord"

    @property
    def max_payload_bytes(self) -> int | None:
        """MaxPayloadInMB in bytes (MiB, as InvokeEndpoint's 6 MB); None for no limit."""
        return self.MaxPayloadInMB * MEGABYTE if self.MaxPayloadInMB else None

    def check_supported(self) -> None:
        """Refuse, naming the member, what this server cannot do."""
        processing = self.DataProcessing
        if processing is None:
            return
        for member in ("InputFilter", "OutputFilter"):
            value = getattr(processing, member)
            if value not in (None, "", "$"):
                raise InputError(
                    f"JSONPath filters are not supported (only '$'); got {value!r}",
                    field=f"DataProcessing.{member}",
                )
        if processing.JoinSource == "Input" and (
            self.TransformInput.SplitType != "Line" or self.TransformOutput.AssembleWith != "Line"
        ):
            raise InputError(
                "JoinSource Input is supported with TransformInput.SplitType Line and "
                "TransformOutput.AssembleWith Line only",
                field="DataProcessing.JoinSource",
            )
