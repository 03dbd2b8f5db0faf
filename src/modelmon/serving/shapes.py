"""Request shapes of the hosting API, as SageMaker names them (CreateModel, ...).

Pydantic models with SageMaker's member names, constraints and defaults; the
REST API documents them in OpenAPI and the AWS JSON wire protocol validates the
same models. Members modelmon has no use for off AWS (VpcConfig, KmsKeyId,
InstanceType...) are accepted and kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelmon.errors import InputError

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
S3Uri = Annotated[str, Field(max_length=1024)]
Tag = dict[str, str]
ShapeT = TypeVar("ShapeT", bound=BaseModel)


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


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


def parse(shape: type[ShapeT], document: Any) -> ShapeT:
    """Validate ``document`` as ``shape``; errors name the member at fault (InputError)."""
    if not isinstance(document, dict):
        raise InputError(f"the request body must be a JSON object for {shape.__name__}")
    try:
        return shape.model_validate(document)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or shape.__name__
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise InputError(f"{first['msg']}{more}", field=where) from None
