"""Inference scripts: SageMaker's handler functions, defaults, and errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from modelmon.serving.runtimes import (
    InvocationError,
    ModelLoadError,
    ScriptRuntime,
    load_runtime,
)

FULL_SCRIPT = """
import json
import os

import joblib
import numpy as np
from helper import SCALE


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, request_content_type):
    if request_content_type == "application/json":
        return np.array(json.loads(request_body)["rows"], dtype=float)
    if request_content_type == "text/csv":
        text = request_body.decode()
        return np.array([line.split(",") for line in text.splitlines()], dtype=float)
    raise ValueError("cannot read " + str(request_content_type))


def predict_fn(input_data, model):
    return model.predict_proba(input_data)[:, 1] * SCALE


def output_fn(prediction, accept):
    if accept == "application/json":
        return json.dumps({"scores": prediction.tolist()}), "application/json"
    return "\\n".join(repr(v) for v in prediction.tolist())
"""

MODEL_FN_ONLY = """
import os
import pickle


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.bin"), "rb") as handle:
        return pickle.load(handle)
"""


def ask(runtime, body, content_type, accept=None):
    return runtime.invoke(body, content_type, accept)


def test_script_with_every_function(make_dir, classifier, rows, helpers):
    directory = make_dir(
        {
            "model.joblib": classifier,
            "code/inference.py": FULL_SCRIPT,
            "code/helper.py": "SCALE = 2.0\n",
        }
    )
    runtime = load_runtime("sklearn", directory, {"SAGEMAKER_PROGRAM": "inference.py"})
    assert isinstance(runtime, ScriptRuntime)
    assert "helper" not in sys.modules  # the script's helper stays private to it
    expected = classifier.predict_proba(rows)[:, 1] * 2.0

    csv = ask(runtime, helpers.csv_body(rows), "text/csv")
    assert csv.content_type == "text/csv"  # output_fn returned a str: the Accept it was given
    assert np.array_equal(helpers.csv_values(csv.body), expected)

    body = json.dumps({"rows": rows.tolist()}).encode()
    answer = ask(runtime, body, "application/json", "*/*")
    assert answer.content_type == "application/json"
    assert np.array_equal(np.array(json.loads(answer.body)["scores"]), expected)

    with pytest.raises(InvocationError) as caught:
        ask(runtime, b"x", "image/png")
    assert caught.value.status == 500
    assert (
        caught.value.message == "input_fn in inference.py raised ValueError: cannot read image/png"
    )


def test_script_with_only_model_fn_uses_the_default_codec(make_dir, regressor, rows, helpers):
    import pickle

    directory = make_dir({"weights.bin": pickle.dumps(regressor), "inference.py": MODEL_FN_ONLY})
    runtime = load_runtime("python", directory, {"SAGEMAKER_PROGRAM": "inference.py"})
    expected = regressor.predict(rows)
    csv = ask(runtime, helpers.csv_body(rows), "text/csv")
    assert csv.content_type == "text/csv; charset=utf-8"
    assert np.array_equal(helpers.csv_values(csv.body), expected)
    answer = ask(runtime, helpers.json_body(rows), "application/json")
    assert np.array_equal(helpers.json_values(answer.body), expected)

    with pytest.raises(InvocationError) as caught:
        ask(runtime, b"1,2,x,4,5", "text/csv")
    assert (caught.value.status, caught.value.message) == (
        400,
        "CSV row 1, column 3: 'x' is not a number",
    )
    with pytest.raises(InvocationError) as caught:
        ask(runtime, b"1,2", "image/png")
    assert caught.value.status == 415
    with pytest.raises(InvocationError) as caught:
        ask(runtime, b"1,2", "text/csv", "image/png")
    assert caught.value.status == 406
    with pytest.raises(InvocationError) as caught:
        ask(runtime, b"1,2", "text/csv")
    assert caught.value.status == 500
    assert caught.value.message.startswith("the model raised ValueError: X has 2 features")


def test_script_without_model_fn_uses_the_frameworks_loading(make_dir, classifier, rows, helpers):
    script = "def predict_fn(data, model):\n    return model.predict_proba(data)\n"
    directory = make_dir({"model.joblib": classifier, "code/serve.py": script})
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    runtime = load_runtime(image, directory, {"SAGEMAKER_PROGRAM": "serve.py"})
    answer = ask(runtime, helpers.csv_body(rows), "text/csv", "application/json")
    assert np.array_equal(
        np.array(json.loads(answer.body)["predictions"]), classifier.predict_proba(rows)
    )


def test_submit_directory(make_dir, tmp_path, classifier, rows, helpers):
    source = tmp_path / "src"
    source.mkdir()
    (source / "entry.py").write_text("def output_fn(prediction, accept):\n    return b'ok'\n")
    directory = make_dir({"model.joblib": classifier})
    environment = {"SAGEMAKER_PROGRAM": "entry.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(source)}
    runtime = load_runtime("", directory, environment)
    answer = ask(runtime, helpers.csv_body(rows), "text/csv", "text/plain")
    assert (answer.body, answer.content_type) == (b"ok", "text/plain")


def test_script_load_errors(make_dir):
    env = {"SAGEMAKER_PROGRAM": "inference.py"}
    with pytest.raises(ModelLoadError, match=r"SAGEMAKER_PROGRAM='inference.py' not found"):
        load_runtime("sklearn", make_dir({"model.joblib": b"x"}), env)
    with pytest.raises(ModelLoadError, match=r"cannot import inference\.py: SyntaxError: "):
        load_runtime("python", make_dir({"inference.py": "def model_fn(:\n"}), env)
    with pytest.raises(
        ModelLoadError, match=r"cannot import inference\.py: ModuleNotFoundError: .*no_such_module"
    ):
        load_runtime("python", make_dir({"inference.py": "import no_such_module\n"}), env)
    with pytest.raises(ModelLoadError, match=r"model_fn in inference\.py raised OSError: gone"):
        script = "def model_fn(model_dir):\n    raise OSError('gone')\n"
        load_runtime("python", make_dir({"inference.py": script}), env)
    with pytest.raises(
        ModelLoadError, match=r"inference\.py defines no model_fn and no model file was found"
    ):
        load_runtime("sklearn", make_dir({"inference.py": "X = 1\n"}), env)
    with pytest.raises(ModelLoadError, match=r"defines no predict_fn .* has no predict\(\) method"):
        script = "def model_fn(model_dir):\n    return object()\n"
        load_runtime("python", make_dir({"inference.py": script}), env)


def test_script_output_fn_returning_something_else_is_a_500(make_dir, classifier, rows, helpers):
    script = "def output_fn(prediction, accept):\n    return [1, 2]\n"
    directory = make_dir({"model.joblib": classifier, "inference.py": script})
    runtime = load_runtime("sklearn", directory, {"SAGEMAKER_PROGRAM": "inference.py"})
    with pytest.raises(InvocationError) as caught:
        ask(runtime, helpers.csv_body(rows), "text/csv")
    assert caught.value.status == 500
    assert caught.value.message == (
        "output_fn in inference.py returned list; expected bytes, str or (body, content_type)"
    )
