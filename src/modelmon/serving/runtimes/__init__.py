"""Model runtimes: load a model once, then answer invocations.

A model is an artifact (:func:`fetch_model` makes its ``ModelDataUrl`` a local
directory) plus a runtime (:func:`load_runtime` picks one from the container
image and loads the model). ``runtime.invoke(body, content_type, accept)``
returns a :class:`Prediction` or raises :class:`InvocationError` with the
status the model container would answer.
"""

from __future__ import annotations

from modelmon.serving.runtimes.artifacts import fetch_model
from modelmon.serving.runtimes.base import Prediction, Runtime
from modelmon.serving.runtimes.codecs import decode_request, encode_response
from modelmon.serving.runtimes.errors import InvocationError, ModelLoadError
from modelmon.serving.runtimes.loader import load_container, load_runtime
from modelmon.serving.runtimes.onnx_runtime import OnnxRuntime
from modelmon.serving.runtimes.script import ScriptRuntime
from modelmon.serving.runtimes.sklearn_runtime import SklearnRuntime
from modelmon.serving.runtimes.xgboost_runtime import XGBoostRuntime

__all__ = [
    "InvocationError",
    "ModelLoadError",
    "OnnxRuntime",
    "Prediction",
    "Runtime",
    "ScriptRuntime",
    "SklearnRuntime",
    "XGBoostRuntime",
    "decode_request",
    "encode_response",
    "fetch_model",
    "load_container",
    "load_runtime",
]
