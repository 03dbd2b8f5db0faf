"""The Python client. Names mirror the SageMaker Python SDK, so SageMaker code runs
with only the imports and the session changed::

    from modelmon.sdk import Session, Model, DataCaptureConfig, CSVSerializer
    from modelmon.sdk import Transformer, BatchDataCaptureConfig
    from modelmon.sdk import DefaultModelMonitor, EndpointInput, CronExpressionGenerator
"""

from modelmon.sdk.data_capture import BatchDataCaptureConfig, DataCaptureConfig
from modelmon.sdk.model import Model
from modelmon.sdk.model_monitor import (
    BatchTransformInput,
    Constraints,
    ConstraintViolations,
    CronExpressionGenerator,
    DatasetFormat,
    DefaultModelMonitor,
    EndpointInput,
    MonitoringDatasetFormat,
    MonitoringExecution,
    Statistics,
)
from modelmon.sdk.predictor import Predictor
from modelmon.sdk.serializers import (
    BytesDeserializer,
    CSVDeserializer,
    CSVSerializer,
    IdentitySerializer,
    JSONDeserializer,
    JSONSerializer,
    StringDeserializer,
)
from modelmon.sdk.session import ModelmonClientError, Session
from modelmon.sdk.transformer import Transformer, TransformJob

__all__ = [
    "BatchDataCaptureConfig",
    "BatchTransformInput",
    "BytesDeserializer",
    "CSVDeserializer",
    "CSVSerializer",
    "ConstraintViolations",
    "Constraints",
    "CronExpressionGenerator",
    "DataCaptureConfig",
    "DatasetFormat",
    "DefaultModelMonitor",
    "EndpointInput",
    "IdentitySerializer",
    "JSONDeserializer",
    "JSONSerializer",
    "Model",
    "ModelmonClientError",
    "MonitoringDatasetFormat",
    "MonitoringExecution",
    "Predictor",
    "Session",
    "Statistics",
    "StringDeserializer",
    "TransformJob",
    "Transformer",
]
