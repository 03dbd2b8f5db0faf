"""User inference scripts: SageMaker's ``model_fn``/``input_fn``/``predict_fn``/``output_fn``.

The script is the file named by ``SAGEMAKER_PROGRAM``, found under ``code/`` in
the model directory (as SageMaker's framework containers look for it), in the
model directory itself, or in ``SAGEMAKER_SUBMIT_DIRECTORY`` when that is a
local directory. Every function is optional except ``model_fn`` when no default
model loading applies:

* ``model_fn(model_dir)`` -> model; default: the framework's own loading
  (joblib/pickle for scikit-learn, native files for XGBoost, ...).
* ``input_fn(request_body: bytes, request_content_type)`` -> data; default: the
  CSV/JSON/JSON lines codec, giving a 2-D float64 array.
* ``predict_fn(data, model)`` -> prediction; default: ``model.predict(data)``
  (a DMatrix for an xgboost Booster).
* ``output_fn(prediction, accept)`` -> bytes, str or ``(body, content_type)``;
  default: the codec's encoder.

An exception raised by the script's code is a 500 naming the function; the
default codec's own errors keep their 400/406/415.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import itertools
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from modelmon.serving.runtimes.base import Prediction
from modelmon.serving.runtimes.codecs import (
    JSON,
    decode_as,
    encode_as,
    known_media,
    request_media,
    response_media,
)
from modelmon.serving.runtimes.errors import (
    InvocationError,
    ModelLoadError,
    NoModelFileError,
    model_raised,
)
from modelmon.serving.runtimes.models import (
    PROGRAM_ENV,
    ArrayRuntime,
    label,
    model_predictor,
    predict_method,
)
from modelmon.storage import files

SUBMIT_DIRECTORY_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"

_IMPORT_LOCK = threading.Lock()  # sys.path and sys.modules are process-wide
_SEQUENCE = itertools.count(1)


def find_program(model_dir: Path, environment: Mapping[str, str], name: str) -> Path:
    """The script ``SAGEMAKER_PROGRAM`` names: in code/, the model dir, or the submit dir."""
    program = environment.get(PROGRAM_ENV, "").strip()
    if not program:
        raise ModelLoadError(f"{name}: {PROGRAM_ENV} is not set")
    places = [model_dir / "code", model_dir]
    submit = environment.get(SUBMIT_DIRECTORY_ENV, "").strip()
    if submit and files.is_local(submit):
        places.append(Path(files.local_path(submit)))
    for place in places:
        candidate = place / program
        if candidate.is_file():
            return candidate.resolve()
    looked = ", ".join(str(p) for p in places)
    raise ModelLoadError(f"{name}: {PROGRAM_ENV}={program!r} not found; looked in {looked}")


def _under(file: str | None, directories: list[str]) -> bool:
    if not file:
        return False
    file = os.path.abspath(file)
    return any(file.startswith(d + os.sep) for d in directories)


def _function(module: ModuleType, name: str) -> Callable[..., Any] | None:
    value = getattr(module, name, None)
    return value if callable(value) else None


class ScriptRuntime:
    """A model served through a user's inference script; see the module doc.

    ``default`` is the built-in runtime that loads the model when the script
    has no ``model_fn`` (its ``model`` and ``predict`` are the defaults).
    """

    def __init__(
        self,
        module: ModuleType,
        model: Any,
        *,
        program: str = "the script",
        default: ArrayRuntime | None = None,
        default_accept: str | None = None,
        predict_method: str = "predict",
    ) -> None:
        self.module = module
        self.model = model
        self.program = program
        self._input_fn = _function(module, "input_fn")
        self._predict_fn = _function(module, "predict_fn")
        self._output_fn = _function(module, "output_fn")
        self._default_accept = default_accept or None
        self._predict: Callable[[Any], Any] | None = None
        if self._predict_fn is None:
            if default is not None and model is default.model:
                self._predict = default.predict
            else:
                try:
                    self._predict = model_predictor(model, predict_method)
                except ModelLoadError as err:
                    raise ModelLoadError(
                        f"{program} defines no predict_fn and the model from model_fn "
                        f"cannot be used instead: {err}"
                    ) from err

    @classmethod
    def load(
        cls,
        model_dir: Path,
        environment: Mapping[str, str],
        *,
        source: str | None = None,
        default: Callable[[], ArrayRuntime] | None = None,
    ) -> ScriptRuntime:
        """Import the script and load the model (with ``model_fn`` or ``default()``).

        ``default`` builds the framework's built-in runtime; it is called only
        when the script has no ``model_fn``.
        """
        model_dir = Path(model_dir).resolve()
        name = label(model_dir, source)
        path = find_program(model_dir, environment, name)
        program = path.name
        method = predict_method(environment, name=name)
        directories = list(dict.fromkeys([str(path.parent), str(model_dir)]))
        module_name = (
            f"modelmon_script_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{next(_SEQUENCE)}"
        )
        loader = importlib.machinery.SourceFileLoader(module_name, str(path))
        spec = importlib.util.spec_from_loader(module_name, loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        with _IMPORT_LOCK:
            before = set(sys.modules)
            sys.path[:0] = directories
            sys.modules[module_name] = module
            try:
                try:
                    loader.exec_module(module)
                except BaseException as err:
                    del sys.modules[module_name]
                    if isinstance(err, KeyboardInterrupt):
                        raise
                    raise ModelLoadError(
                        f"{name}: cannot import {program}: {type(err).__name__}: {err}"
                    ) from err
                model_fn = _function(module, "model_fn")
                runtime = None
                if model_fn is not None:
                    try:
                        model = model_fn(str(model_dir))
                    except Exception as err:
                        raise ModelLoadError(
                            f"{name}: model_fn in {program} raised {type(err).__name__}: {err}"
                        ) from err
                elif default is None:
                    raise ModelLoadError(f"{name}: {program} defines no model_fn")
                else:
                    try:
                        runtime = default()
                    except NoModelFileError as err:
                        raise ModelLoadError(
                            f"{name}: {program} defines no model_fn and no model file was "
                            f"found; expected one of {err.expected}"
                        ) from err
                    model = runtime.model  # type: ignore[attr-defined]
            finally:
                for directory in directories:
                    sys.path.remove(directory)
                for added in set(sys.modules) - before - {module_name}:
                    if _under(getattr(sys.modules[added], "__file__", None), directories):
                        del sys.modules[added]  # a helper next to the script: private to it
        return cls(
            module,
            model,
            program=program,
            default=runtime,
            default_accept=environment.get(DEFAULT_ACCEPT_ENV),
            predict_method=method,
        )

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Prediction:
        """Answer one request through the script's functions; raises InvocationError."""
        if self._input_fn is None:
            media: str | None = request_media(content_type, body)
        else:
            media = known_media(content_type)
        if not accept or accept.strip() == "*/*":
            accept = self._default_accept or media or JSON
        answer = response_media(accept, media or JSON) if self._output_fn is None else None

        if self._input_fn is None:
            data = decode_as(body, media)  # type: ignore[arg-type]
        else:
            data = self._call(self._input_fn, "input_fn", body, content_type)
        if self._predict is None:
            prediction = self._call(self._predict_fn, "predict_fn", data, self.model)
        else:
            try:
                prediction = self._predict(data)
            except Exception as err:
                raise model_raised(err) from err
        if answer is not None:
            return encode_as(prediction, answer)
        result = self._call(self._output_fn, "output_fn", prediction, accept)
        return self._response(result, accept)

    def _call(self, function: Any, what: str, *args: Any) -> Any:
        try:
            return function(*args)
        except InvocationError:
            raise
        except Exception as err:
            raise model_raised(err, f"{what} in {self.program}") from err

    def _response(self, result: Any, accept: str) -> Prediction:
        content_type = accept
        if isinstance(result, tuple) and len(result) == 2:
            result, content_type = result
            content_type = str(content_type)
        if isinstance(result, str):
            return Prediction(result.encode("utf-8"), content_type)
        if isinstance(result, (bytes, bytearray, memoryview)):
            return Prediction(bytes(result), content_type)
        raise InvocationError(
            500,
            f"output_fn in {self.program} returned {type(result).__name__}; "
            "expected bytes, str or (body, content_type)",
        )
