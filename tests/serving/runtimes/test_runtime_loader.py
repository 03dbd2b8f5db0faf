"""load_runtime: the container image (or the files present) chooses the runtime."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost

from modelmon.serving.runtimes import (
    ModelLoadError,
    OnnxRuntime,
    ScriptRuntime,
    SklearnRuntime,
    XGBoostRuntime,
    load_runtime,
)

ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture
def dirs(make_dir, classifier, booster, onnx_classifier, tmp_path):
    booster.save_model(str(tmp_path / "booster.json"))
    return {
        "sklearn": make_dir({"model.joblib": classifier}),
        "xgboost": make_dir({"xgboost-model": (tmp_path / "booster.json").read_bytes()}),
        "onnx": make_dir({"model.onnx": onnx_classifier}),
    }


@pytest.mark.parametrize(
    ("image", "kind", "runtime"),
    [
        ("sklearn", "sklearn", SklearnRuntime),
        ("scikit-learn", "sklearn", SklearnRuntime),
        ("SKLearn", "sklearn", SklearnRuntime),
        (f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3", "sklearn", SklearnRuntime),
        ("my-registry/team-sklearn-serving:3", "sklearn", SklearnRuntime),
        ("xgboost", "xgboost", XGBoostRuntime),
        (f"{ECR}/sagemaker-xgboost:1.5-1", "xgboost", XGBoostRuntime),
        ("onnx", "onnx", OnnxRuntime),
        ("ghcr.io/acme/ONNX-runtime:1", "onnx", OnnxRuntime),
        ("", "sklearn", SklearnRuntime),
        ("", "xgboost", XGBoostRuntime),
        ("  ", "onnx", OnnxRuntime),
    ],
)
def test_image_chooses_the_runtime(dirs, image, kind, runtime, rows):
    loaded = load_runtime(image, dirs[kind], {})
    assert type(loaded) is runtime
    assert loaded.invoke(b"1,2,3,4,5", "text/csv", None).body


def test_detected_xgboost_answers_probabilities(dirs, booster, rows, helpers):
    runtime = load_runtime("", dirs["xgboost"], {})
    answer = runtime.invoke(helpers.csv_body(rows), "text/csv", None)
    expected = booster.predict(xgboost.DMatrix(rows)).astype(np.float64)
    assert np.array_equal(helpers.csv_values(answer.body), expected)


def test_pickled_xgboost_model_detected_as_sklearn(make_dir, data, rows):
    x, y, _ = data
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(x, y)
    runtime = load_runtime("", make_dir({"model.pkl": model}), {})
    assert type(runtime) is SklearnRuntime
    body = runtime.invoke(b"1,2,3,4,5", "text/csv", None).body
    assert body.decode() == str(model.predict(np.array([[1.0, 2, 3, 4, 5]]))[0])


def test_sagemaker_program_selects_the_script_runtime(dirs, tmp_path):
    (dirs["xgboost"] / "code").mkdir()
    (dirs["xgboost"] / "code" / "inference.py").write_text("X = 1\n")
    env = {"SAGEMAKER_PROGRAM": "inference.py"}
    runtime = load_runtime(f"{ECR}/sagemaker-xgboost:1.5-1", dirs["xgboost"], env)
    assert isinstance(runtime, ScriptRuntime)
    assert runtime.invoke(b"1,2,3,4,5", "text/csv", None).body
    other = load_runtime(f"{ECR}/pytorch-inference:2.1-cpu", dirs["xgboost"], env)
    assert isinstance(other, ScriptRuntime)  # any image with a script: model from the files


def test_unknown_image_lists_the_accepted_forms(dirs):
    with pytest.raises(ModelLoadError) as caught:
        load_runtime(f"{ECR}/pytorch-inference:2.1-cpu", dirs["sklearn"], {}, source="s3://b/m")
    message = str(caught.value)
    assert message.startswith(f"s3://b/m: unsupported container image '{ECR}/pytorch-inference")
    for form in ("sklearn", "scikit-learn", "xgboost", "onnx", "python", "sagemaker-scikit-learn"):
        assert form in message


def test_load_errors(make_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="needs SAGEMAKER_PROGRAM"):
        load_runtime("python", make_dir({"model.joblib": b"x"}), {})
    with pytest.raises(
        ModelLoadError,
        match=r"^model\.tar\.gz: no model file found; expected one of model\.joblib.*"
        r"or set SAGEMAKER_PROGRAM$",
    ):
        load_runtime("sklearn", make_dir({"notes.txt": "x"}), {}, source="model.tar.gz")
    with pytest.raises(ModelLoadError, match=r"no model file found; .*\(ONNX\) or set SAGEMAKER"):
        load_runtime("", make_dir({"notes.txt": "x"}), {})
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_runtime("sklearn", tmp_path / "missing", {})
