"""Real models trained on small generated data, and helpers to write them to model dirs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import joblib
import numpy as np
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression, Ridge

N_FEATURES = 5


@pytest.fixture(scope="session")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (300 x 5), a binary label and a regression target."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, N_FEATURES))
    score = x @ np.array([1.5, -2.0, 0.5, 0.0, 1.0]) + rng.normal(scale=0.5, size=300)
    return x, (score > 0).astype(np.int64), score * 3.0 + 10.0


@pytest.fixture(scope="session")
def rows(data) -> np.ndarray:
    """The first 7 rows of X: the request most tests send."""
    return data[0][:7]


@pytest.fixture(scope="session")
def classifier(data) -> LogisticRegression:
    x, y, _ = data
    return LogisticRegression().fit(x, y)


@pytest.fixture(scope="session")
def regressor(data) -> Ridge:
    x, _, target = data
    return Ridge(alpha=0.5).fit(x, target)


@pytest.fixture(scope="session")
def booster(data) -> xgboost.Booster:
    x, y, _ = data
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1}
    return xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=12)


@pytest.fixture(scope="session")
def onnx_classifier(classifier) -> bytes:
    from skl2onnx import to_onnx

    x = np.zeros((1, N_FEATURES), dtype=np.float32)
    onx = to_onnx(classifier, x, options={id(classifier): {"zipmap": False}}, target_opset=15)
    return onx.SerializeToString()


@pytest.fixture(scope="session")
def onnx_regressor(regressor) -> bytes:
    from skl2onnx import to_onnx

    x = np.zeros((1, N_FEATURES), dtype=np.float32)
    return to_onnx(regressor, x, target_opset=15).SerializeToString()


def model_dir(root: Path, files: dict[str, object]) -> Path:
    """A directory holding ``files``: bytes/str as they are, other objects joblib-dumped."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            joblib.dump(content, path)
    return root


@pytest.fixture
def make_dir(tmp_path):
    counter = iter(range(1000))

    def make(files: dict[str, object]) -> Path:
        return model_dir(tmp_path / f"model{next(counter)}", files)

    return make


def csv_body(x: np.ndarray, newline: str = "\n") -> bytes:
    return newline.join(",".join(repr(float(v)) for v in row) for row in x).encode()


def json_body(x: np.ndarray) -> bytes:
    import json

    return json.dumps({"instances": x.tolist()}).encode()


def csv_values(body: bytes) -> np.ndarray:
    """A CSV response of one value per row as float64."""
    return np.array(body.decode().split("\n"), dtype=np.float64)


def json_values(body: bytes) -> np.ndarray:
    import json

    return np.array(json.loads(body)["predictions"], dtype=np.float64)


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """The body builders and response parsers above (test modules are not a package)."""
    return SimpleNamespace(
        csv_body=csv_body,
        json_body=json_body,
        csv_values=csv_values,
        json_values=json_values,
    )
