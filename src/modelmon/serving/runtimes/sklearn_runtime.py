"""scikit-learn models (and anything else with ``predict``) pickled with joblib or pickle."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelmon.serving.runtimes.errors import NoModelFileError
from modelmon.serving.runtimes.models import (
    PICKLE_NAMES,
    PICKLE_SUFFIXES,
    ArrayRuntime,
    expected,
    find_model_files,
    label,
    load_pickle,
    model_predictor,
    predict_method,
)

SKLEARN_FILES = expected(PICKLE_NAMES, PICKLE_SUFFIXES)


def find_sklearn_file(model_dir: Path) -> Path | None:
    """The first of model.joblib, model.pkl, model.pickle, *.joblib, *.pkl, *.pickle."""
    found = find_model_files(model_dir, PICKLE_NAMES, PICKLE_SUFFIXES)
    return found[0] if found else None


class SklearnRuntime(ArrayRuntime):
    """A model object with ``predict`` (and ``predict_proba``) called on float64 rows.

    ``predict_method="predict_proba"`` answers the positive class's probability
    for a binary classifier (like XGBoost's binary:logistic) and every class's
    probability per row otherwise. A pickled ``xgboost.Booster`` works too.
    """

    def __init__(
        self, model: Any, *, predict_method: str = "predict", name: str = "the model"
    ) -> None:
        self.model = model
        super().__init__(model_predictor(model, predict_method, name))

    @classmethod
    def load(
        cls,
        model_dir: Path,
        environment: Mapping[str, str] | None = None,
        *,
        source: str | None = None,
    ) -> SklearnRuntime:
        """Load the model file in ``model_dir``; ``source`` names the artifact in errors."""
        model_dir = Path(model_dir)
        method = predict_method(environment, name=label(model_dir, source))
        path = find_sklearn_file(model_dir)
        if path is None:
            raise NoModelFileError(label(model_dir, source), SKLEARN_FILES)
        model = load_pickle(path, model_dir, source)
        return cls(model, predict_method=method, name=label(model_dir, source))
