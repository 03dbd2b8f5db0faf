"""The Python client. Names mirror the SageMaker Python SDK, so SageMaker code runs
with only the imports and the session changed::

    from modelmon.sdk import Session, Model, DataCaptureConfig, CSVSerializer
    from modelmon.sdk import Transformer, BatchDataCaptureConfig
    from modelmon.sdk import DefaultModelMonitor, EndpointInput, CronExpressionGenerator
    from modelmon.sdk import ModelQualityMonitor
"""

from modelmon.sdk.alerting import SNS, CloudWatch, MonitoringAlerts
from modelmon.sdk.async_inference import (
    AsyncInferenceConfig,
    AsyncInferenceModelError,
    AsyncInferenceResponse,
    AsyncPredictor,
    PollingTimeoutError,
    WaiterConfig,
)
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
    ModelQualityMonitor,
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
    "SNS",
    "AsyncInferenceConfig",
    "AsyncInferenceModelError",
    "AsyncInferenceResponse",
    "AsyncPredictor",
    "BatchDataCaptureConfig",
    "BatchTransformInput",
    "BytesDeserializer",
    "CSVDeserializer",
    "CSVSerializer",
    "CloudWatch",
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
    "ModelQualityMonitor",
    "ModelmonClientError",
    "MonitoringAlerts",
    "MonitoringDatasetFormat",
    "MonitoringExecution",
    "PollingTimeoutError",
    "Predictor",
    "Session",
    "Statistics",
    "StringDeserializer",
    "TransformJob",
    "Transformer",
    "WaiterConfig",
]
