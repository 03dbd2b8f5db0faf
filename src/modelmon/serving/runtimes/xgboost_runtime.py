"""XGBoost models: native files (as SageMaker's XGBoost container writes them) or pickles.

A Booster answers what its objective gives (binary:logistic: probabilities),
as the SageMaker XGBoost container does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelmon.serving.runtimes.errors import ModelLoadError, NoModelFileError
from modelmon.serving.runtimes.models import (
    PICKLE_NAMES,
    PICKLE_SUFFIXES,
    ArrayRuntime,
    booster_predictor,
    expected,
    find_model_files,
    is_booster,
    label,
    load_pickle,
    model_predictor,
    predict_method,
    shown,
)

NATIVE_NAMES = ("xgboost-model", "model.ubj", "model.json", "model.bst", "model.model")
NATIVE_SUFFIXES = (".ubj", ".json", ".bst", ".model")
XGBOOST_FILES = expected(NATIVE_NAMES[:1] + PICKLE_NAMES, NATIVE_SUFFIXES + PICKLE_SUFFIXES)


def find_xgboost_files(model_dir: Path) -> list[Path]:
    """Candidate files, best first: xgboost-model, native formats, then pickles."""
    return find_model_files(model_dir, NATIVE_NAMES, NATIVE_SUFFIXES) + find_model_files(
        model_dir, PICKLE_NAMES, PICKLE_SUFFIXES
    )


def load_xgboost_model(model_dir: Path, source: str | None = None) -> Any:
    """The first candidate file that loads: a Booster, or whatever a pickle holds.

    Native files are read with ``Booster.load_model``; ``xgboost-model``,
    ``*.bst`` and ``*.model`` that are not native are tried as pickles (older
    SageMaker XGBoost containers pickled the Booster).
    """
    import xgboost

    model_dir = Path(model_dir)
    name = label(model_dir, source)
    candidates = find_xgboost_files(model_dir)
    if not candidates:
        raise NoModelFileError(name, XGBOOST_FILES)
    first_error: ModelLoadError | None = None
    for path in candidates:
        if path.name.endswith(PICKLE_SUFFIXES):
            return load_pickle(path, model_dir, source)
        booster = xgboost.Booster()
        try:
            # from memory: xgboost tells JSON from UBJSON by content, whatever the name
            booster.load_model(bytearray(path.read_bytes()))
            return booster
        except xgboost.core.XGBoostError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            error = ModelLoadError(
                f"{name}: cannot load {shown(path, model_dir)} as an XGBoost model: {reason}"
            )
        if not path.name.endswith((".json", ".ubj")):
            try:
                return load_pickle(path, model_dir, source)
            except ModelLoadError:
                pass
        first_error = first_error or error
    assert first_error is not None
    raise first_error


class XGBoostRuntime(ArrayRuntime):
    """An ``xgboost.Booster`` (or a pickled ``XGBModel``), answering what its objective gives.

    ``predict_method`` does not change what a Booster answers. An ``XGBModel``
    (XGBClassifier, ...) predicts with its Booster unless ``predict_method`` is
    given, then with that method of the model.
    """

    def __init__(
        self, model: Any, *, predict_method: str | None = None, name: str = "the model"
    ) -> None:
        self.model = model
        if is_booster(model) or (predict_method is None and hasattr(model, "get_booster")):
            booster = model if is_booster(model) else model.get_booster()
            predict = booster_predictor(booster)  # the objective decides what it answers
        else:
            predict = model_predictor(model, predict_method or "predict", name)
        super().__init__(predict)

    @classmethod
    def load(
        cls,
        model_dir: Path,
        environment: Mapping[str, str] | None = None,
        *,
        source: str | None = None,
    ) -> XGBoostRuntime:
        """Load the model in ``model_dir``; ``source`` names the artifact in errors."""
        method = predict_method(environment, None, label(Path(model_dir), source))
        model = load_xgboost_model(Path(model_dir), source)
        return cls(model, predict_method=method, name=label(Path(model_dir), source))
