"""ONNX models run by onnxruntime on the CPU, one intra-op thread per call."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelmon.serving.runtimes.errors import ModelLoadError, NoModelFileError
from modelmon.serving.runtimes.models import (
    ArrayRuntime,
    expected,
    find_model_files,
    label,
    predict_method,
    shown,
)

ONNX_OUTPUT_ENV = "MODELMON_ONNX_OUTPUT"
ONNX_FILES = expected(("model.onnx",), (".onnx",))

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def find_onnx_file(model_dir: Path) -> Path | None:
    """model.onnx, else the first ``*.onnx``."""
    found = find_model_files(model_dir, ("model.onnx",), (".onnx",))
    return found[0] if found else None


def _classifier_outputs(names: list[str]) -> tuple[str, str] | None:
    """The (label, probabilities) outputs of a skl2onnx classifier, if that is what this is."""
    labels = [n for n in names if "label" in n.lower()]
    probabilities = [n for n in names if "prob" in n.lower()]
    if len(names) == 2 and len(labels) == 1 and len(probabilities) == 1:
        return labels[0], probabilities[0]
    return None


def _zipmap_rows(value: Any) -> Any:
    """skl2onnx's ZipMap output (a list of {class: probability}) as a 2-D array."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return np.array([list(row.values()) for row in value], dtype=np.float64)
    return value


class OnnxRuntime(ArrayRuntime):
    """An ``onnxruntime.InferenceSession`` with one input of shape (rows, features).

    The answer is ``output`` when given; else, for a classifier exported by
    skl2onnx (outputs ``label`` and ``probabilities``), the label for
    ``predict_method="predict"`` or the probabilities for ``"predict_proba"``
    (the positive class's when there are two); else the first output. A
    (rows, 1) output answers one value per row.
    """

    def __init__(
        self,
        session: Any,
        *,
        output: str | None = None,
        predict_method: str = "predict",
        name: str = "the model",
    ) -> None:
        self.session = self.model = session
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelLoadError(
                f"{name}: the ONNX model has {len(inputs)} inputs "
                f"({', '.join(i.name for i in inputs)}); only single-input models are supported"
            )
        input_name = inputs[0].name
        dtype = _DTYPES.get(inputs[0].type)
        if dtype is None:
            raise ModelLoadError(
                f"{name}: the ONNX model's input {input_name!r} has type {inputs[0].type}; "
                f"supported: {', '.join(_DTYPES)}"
            )
        outputs = [o.name for o in session.get_outputs()]
        positive_only = False
        if output:
            if output not in outputs:
                raise ModelLoadError(
                    f"{name}: {ONNX_OUTPUT_ENV}={output!r} is not an output of the ONNX model; "
                    f"its outputs are {', '.join(outputs)}"
                )
            chosen = output
        elif (pair := _classifier_outputs(outputs)) is not None:
            positive_only = predict_method == "predict_proba"
            chosen = pair[1] if positive_only else pair[0]
        else:
            chosen = outputs[0]
        self.output = chosen
        run = session.run
        wanted = [chosen]

        def predict(data: np.ndarray) -> Any:
            if data.dtype != dtype:
                data = data.astype(dtype)
            result = _zipmap_rows(run(wanted, {input_name: data})[0])
            if isinstance(result, np.ndarray) and result.ndim == 2:
                if result.shape[1] == 1:
                    return result[:, 0]
                if positive_only and result.shape[1] == 2:
                    return result[:, 1]
            return result

        super().__init__(predict)

    @classmethod
    def load(
        cls,
        model_dir: Path,
        environment: Mapping[str, str] | None = None,
        *,
        source: str | None = None,
    ) -> OnnxRuntime:
        """Open the ``*.onnx`` file in ``model_dir``; ``source`` names the artifact in errors."""
        import onnxruntime

        model_dir = Path(model_dir)
        name = label(model_dir, source)
        method = predict_method(environment, name=label(model_dir, source))
        path = find_onnx_file(model_dir)
        if path is None:
            raise NoModelFileError(name, ONNX_FILES)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:
            raise ModelLoadError(
                f"{name}: cannot load {shown(path, model_dir)}: {type(err).__name__}: {err}"
            ) from err
        output = (environment or {}).get(ONNX_OUTPUT_ENV) or None
        return cls(session, output=output, predict_method=method, name=name)
