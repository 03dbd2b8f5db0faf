"""Shared by the built-in runtimes: finding model files, unpickling, predict callables.

Also :class:`ArrayRuntime`, the decode -> predict -> encode loop of every
built-in runtime.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelmon.serving.runtimes.base import Prediction
from modelmon.serving.runtimes.codecs import decode_as, encode_as, request_media, response_media
from modelmon.serving.runtimes.errors import ModelLoadError, model_raised

Predictor = Callable[[np.ndarray], Any]

PREDICT_METHOD_ENV = "MODELMON_PREDICT_METHOD"
PREDICT_METHODS = ("predict", "predict_proba")
PROGRAM_ENV = "SAGEMAKER_PROGRAM"

PICKLE_NAMES = ("model.joblib", "model.pkl", "model.pickle")
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def label(model_dir: Path, source: str | None) -> str:
    """How load errors name the model: the artifact URI when known, else the directory."""
    return source or str(model_dir)


def expected(names: Iterable[str], suffixes: Iterable[str]) -> str:
    """``'model.joblib, model.pkl, *.joblib'``: the files a runtime looks for."""
    return ", ".join([*names, *(f"*{s}" for s in suffixes)])


def _hidden(path: Path, root: Path) -> bool:
    return any(
        part.startswith(".") or part == "__pycache__" for part in path.relative_to(root).parts
    )


def find_model_files(model_dir: Path, names: Iterable[str], suffixes: Iterable[str]) -> list[Path]:
    """Candidate model files, best first.

    At the top of ``model_dir`` first, then below it: the exact ``names`` in
    order, then files ending in one of ``suffixes`` (in that order, sorted by name).
    """
    names = tuple(names)
    suffixes = tuple(suffixes)
    found: list[Path] = []
    for files in (
        sorted(p for p in model_dir.iterdir() if p.is_file()),
        sorted(
            p
            for p in model_dir.rglob("*")
            if p.parent != model_dir and p.is_file() and not _hidden(p, model_dir)
        ),
    ):
        by_name = {p.name: p for p in reversed(files)}
        found.extend(by_name[n] for n in names if n in by_name)
        for suffix in suffixes:
            found.extend(p for p in files if p.name.endswith(suffix) and p.name not in names)
    unique: dict[Path, None] = dict.fromkeys(found)
    return list(unique)


def shown(path: Path, model_dir: Path) -> str:
    """``path`` relative to the model directory, for messages."""
    try:
        return str(path.relative_to(model_dir))
    except ValueError:
        return str(path)


def load_pickle(path: Path, model_dir: Path, source: str | None) -> Any:
    """Unpickle a model with joblib (which reads plain pickles too)."""
    import joblib

    try:
        return joblib.load(path)
    except Exception as err:
        raise ModelLoadError(
            f"{label(model_dir, source)}: cannot load {shown(path, model_dir)}: "
            f"{type(err).__name__}: {err}"
        ) from err


def predict_method(
    environment: Mapping[str, str] | None,
    default: str | None = "predict",
    name: str | None = None,
) -> Any:
    """``MODELMON_PREDICT_METHOD`` from ``environment``, validated (``default`` when unset).

    ``name`` (the model) prefixes the error.
    """
    method = (environment or {}).get(PREDICT_METHOD_ENV, "").strip()
    if not method:
        return default
    if method not in PREDICT_METHODS:
        raise ModelLoadError(
            f"{name + ': ' if name else ''}{PREDICT_METHOD_ENV}={method!r} is not supported; "
            "use one of "
            f"{', '.join(PREDICT_METHODS)}"
        )
    return method


def is_booster(model: Any) -> bool:
    cls = type(model)
    return cls.__name__ == "Booster" and cls.__module__.startswith("xgboost")


def booster_predictor(booster: Any) -> Predictor:
    """Predict with an ``xgboost.Booster`` on one thread; NaN is missing.

    A tree booster predicts in place (the same numbers as through a DMatrix,
    without building one, and a wrong feature count is an error); dart and
    gblinear boosters go through a DMatrix.
    """
    import xgboost

    booster.set_param({"nthread": 1})
    kind = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"]
    features = booster.num_features()
    nan = float("nan")
    if kind == "gbtree":
        inplace = booster.inplace_predict

        def predict(data: np.ndarray) -> Any:
            return inplace(data, missing=nan)

        return predict
    dmatrix = xgboost.DMatrix

    def predict_via_dmatrix(data: np.ndarray) -> Any:
        if data.shape[1] != features:
            raise ValueError(f"Feature shape mismatch, expected: {features}, got {data.shape[1]}")
        return booster.predict(dmatrix(data, missing=nan, nthread=1))

    return predict_via_dmatrix


def positive_class(predict_proba: Predictor) -> Predictor:
    """Binary probabilities as the positive class's column; other shapes as they are."""

    def predict(data: np.ndarray) -> Any:
        proba = predict_proba(data)
        if getattr(proba, "ndim", 0) == 2 and proba.shape[1] == 2:
            return proba[:, 1]
        return proba

    return predict


def model_predictor(model: Any, method: str = "predict", name: str = "the model") -> Predictor:
    """The callable that predicts with ``model``: ``predict`` or (positive-class) ``predict_proba``.

    An ``xgboost.Booster`` answers what its objective gives whatever ``method``
    says. ``name`` labels load errors.
    """
    if is_booster(model):  # either method: the objective decides (binary:logistic: probability)
        return booster_predictor(model)
    function = getattr(model, method, None)
    if not callable(function):
        raise ModelLoadError(f"{name}: {type(model).__name__} has no {method}() method")
    return positive_class(function) if method == "predict_proba" else function


class ArrayRuntime:
    """decode (CSV/JSON/JSON lines -> float64 rows) -> predict -> encode.

    Subclasses set ``predict``, a callable from a 2-D array to predictions,
    and keep no per-call state, so ``invoke`` is safe from many threads.
    """

    predict: Predictor

    def __init__(self, predict: Predictor) -> None:
        self.predict = predict

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Prediction:
        """Answer one request; raises InvocationError (400/406/415/500)."""
        media = request_media(content_type, body)
        answer = response_media(accept, media)
        data = decode_as(body, media)
        try:
            predictions = self.predict(data)
        except Exception as err:
            raise model_raised(err) from err
        return encode_as(predictions, answer)
