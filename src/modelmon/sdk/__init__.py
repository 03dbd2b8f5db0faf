"""The Python client. Names mirror the SageMaker Python SDK, so SageMaker code runs
with only the imports and the session changed::

    from modelmon.sdk import Session, Model, DataCaptureConfig, CSVSerializer
    from modelmon.sdk import Transformer, BatchDataCaptureConfig
"""

from modelmon.sdk.data_capture import BatchDataCaptureConfig, DataCaptureConfig
from modelmon.sdk.model import Model
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
    "BytesDeserializer",
    "CSVDeserializer",
    "CSVSerializer",
    "DataCaptureConfig",
    "IdentitySerializer",
    "JSONDeserializer",
    "JSONSerializer",
    "Model",
    "ModelmonClientError",
    "Predictor",
    "Session",
    "StringDeserializer",
    "TransformJob",
    "Transformer",
]
