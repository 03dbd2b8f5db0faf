"""Choosing and loading a model's runtime from its container image and files."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelmon.serving.runtimes.artifacts import fetch_model
from modelmon.serving.runtimes.base import Runtime
from modelmon.serving.runtimes.errors import ModelLoadError, NoModelFileError
from modelmon.serving.runtimes.models import (
    PICKLE_NAMES,
    PICKLE_SUFFIXES,
    PROGRAM_ENV,
    ArrayRuntime,
    find_model_files,
    label,
)
from modelmon.serving.runtimes.onnx_runtime import ONNX_FILES, OnnxRuntime, find_onnx_file
from modelmon.serving.runtimes.script import ScriptRuntime
from modelmon.serving.runtimes.sklearn_runtime import SKLEARN_FILES, SklearnRuntime
from modelmon.serving.runtimes.xgboost_runtime import (
    NATIVE_NAMES,
    NATIVE_SUFFIXES,
    XGBOOST_FILES,
    XGBoostRuntime,
)

SKLEARN, XGBOOST, ONNX, PYTHON = "sklearn", "xgboost", "onnx", "python"

# plain image names, then substrings of image URIs (checked in this order)
_NAMES = {
    "sklearn": SKLEARN,
    "scikit-learn": SKLEARN,
    "xgboost": XGBOOST,
    "onnx": ONNX,
    "python": PYTHON,
}
_SUBSTRINGS = (
    ("sagemaker-scikit-learn", SKLEARN),
    ("xgboost", XGBOOST),
    ("sklearn", SKLEARN),
    ("scikit-learn", SKLEARN),
    ("onnx", ONNX),
)
_BUILT_IN: dict[str, Callable[..., ArrayRuntime]] = {
    SKLEARN: SklearnRuntime.load,
    XGBOOST: XGBoostRuntime.load,
    ONNX: OnnxRuntime.load,
}
IMAGE_FORMS = (
    "sklearn, scikit-learn, xgboost, onnx, python (an inference script named by "
    "SAGEMAKER_PROGRAM), an image URI containing sagemaker-scikit-learn, sklearn, xgboost "
    "or onnx (e.g. 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.5-1), "
    "or empty to detect the runtime from the model files"
)
ALL_FILES = f"{SKLEARN_FILES} (scikit-learn), {XGBOOST_FILES} (XGBoost), {ONNX_FILES} (ONNX)"
# one model loads at a time in a process: unpickling imports modules, and two threads
# importing the same package at once can deadlock in importlib (the host and the
# transform runner load models from different threads)
_LOADING = threading.RLock()


def image_kind(image: str) -> str | None:
    """``'sklearn'``, ``'xgboost'``, ``'onnx'``, ``'python'``, ``''`` (detect), or None."""
    text = (image or "").strip().lower()
    if not text:
        return ""
    if text in _NAMES:
        return _NAMES[text]
    for substring, kind in _SUBSTRINGS:
        if substring in text:
            return kind
    return None


def detect_kind(model_dir: Path) -> str | None:
    """The built-in runtime for the files in ``model_dir``, or None when none fits."""
    model_dir = Path(model_dir)
    if find_onnx_file(model_dir) is not None:
        return ONNX
    strong = tuple(s for s in NATIVE_SUFFIXES if s != ".json")
    if find_model_files(model_dir, NATIVE_NAMES, strong):
        return XGBOOST
    if find_model_files(model_dir, PICKLE_NAMES, PICKLE_SUFFIXES):
        return SKLEARN  # a pickled XGBModel predicts through its own predict()
    if find_model_files(model_dir, (), (".json",)):
        return XGBOOST
    return None


def load_runtime(
    image: str,
    model_dir: Path,
    environment: Mapping[str, str],
    *,
    source: str | None = None,
) -> Runtime:
    """Load the model in ``model_dir`` with the runtime ``image`` names.

    ``image`` is the model's ``PrimaryContainer.Image`` (see ``IMAGE_FORMS``).
    ``SAGEMAKER_PROGRAM`` in ``environment`` always selects the inference-script
    runtime, with the image's default model loading when the script has no
    ``model_fn`` (any image is then accepted). ``source`` (the ModelDataUrl)
    names the model in errors instead of ``model_dir``. Raises ModelLoadError.
    """
    with _LOADING:
        return _load_runtime(image, Path(model_dir), dict(environment or {}), source)


def _load_runtime(
    image: str, model_dir: Path, environment: dict[str, str], source: str | None
) -> Runtime:
    name = label(model_dir, source)
    kind = image_kind(image)
    if not model_dir.is_dir():
        raise ModelLoadError(f"{name}: the model directory {model_dir} does not exist")

    if environment.get(PROGRAM_ENV, "").strip():
        default_kind = kind if kind in _BUILT_IN else detect_kind(model_dir)

        def default() -> ArrayRuntime:
            if default_kind is None:
                raise NoModelFileError(name, ALL_FILES)
            return _BUILT_IN[default_kind](model_dir, environment, source=source)

        return ScriptRuntime.load(model_dir, environment, source=source, default=default)

    if kind is None:
        raise ModelLoadError(f"{name}: unsupported container image {image!r}; use {IMAGE_FORMS}")
    if kind == PYTHON:
        raise ModelLoadError(f"{name}: image {image!r} needs {PROGRAM_ENV} naming the script")
    if kind == "":
        kind = detect_kind(model_dir)
        if kind is None:
            raise ModelLoadError(
                f"{name}: no model file found; expected one of {ALL_FILES} or set {PROGRAM_ENV}"
            )
    try:
        return _BUILT_IN[kind](model_dir, environment, source=source)
    except NoModelFileError as err:
        raise ModelLoadError(f"{err} or set {PROGRAM_ENV}") from err


def load_container(
    container: Mapping[str, Any],
    cache_dir: Path,
    *,
    name: str,
    environment: Mapping[str, str] | None = None,
) -> Runtime:
    """Load the runtime of a model's container definition (``Image``, ``ModelDataUrl``,
    ``Environment``), fetching its artifact (and submitted code) into ``cache_dir``.

    ``name`` is the model's name (a model without an artifact gets an empty
    directory of that name); ``environment`` is laid over the container's own
    (a transform job's ``Environment``). Raises ModelLoadError.
    """
    cache_dir = Path(cache_dir)
    url = container.get("ModelDataUrl")
    if url:
        model_dir = fetch_model(url, cache_dir)
    else:
        model_dir = cache_dir / f"no-artifact-{name}"
        model_dir.mkdir(parents=True, exist_ok=True)
    merged = {**(container.get("Environment") or {}), **(environment or {})}
    submitted = merged.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if "://" in submitted:  # the SDK uploads entry point code as sourcedir.tar.gz
        merged["SAGEMAKER_SUBMIT_DIRECTORY"] = str(fetch_model(submitted, cache_dir))
    return load_runtime(container.get("Image") or "", model_dir, merged, source=url or None)
