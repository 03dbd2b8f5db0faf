"""The Python client. Names mirror the SageMaker Python SDK, so SageMaker code runs
with only the imports and the session changed::

    from modelmon.sdk import Session, Model, DataCaptureConfig, CSVSerializer
"""

from modelmon.sdk.data_capture import DataCaptureConfig
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

__all__ = [
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
]
