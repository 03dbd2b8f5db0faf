"""Built-in runtimes answer CSV and JSON with exactly the model's own predictions."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xgboost

from modelmon.serving.runtimes import (
    InvocationError,
    ModelLoadError,
    OnnxRuntime,
    Prediction,
    Runtime,
    SklearnRuntime,
    XGBoostRuntime,
)

PROBA = {"MODELMON_PREDICT_METHOD": "predict_proba"}


def ask(runtime, body: bytes, content_type: str, accept: str | None = None) -> Prediction:
    answer = runtime.invoke(body, content_type, accept)
    assert isinstance(answer, Prediction)
    return answer


def test_sklearn_classifier_labels_csv_and_json(make_dir, classifier, rows, helpers):
    runtime = SklearnRuntime.load(make_dir({"model.joblib": classifier}), {})
    assert isinstance(runtime, Runtime)
    expected = classifier.predict(rows)

    csv = ask(runtime, helpers.csv_body(rows), "text/csv")
    assert csv.content_type == "text/csv; charset=utf-8"
    assert csv.body.decode() == "\n".join(str(int(v)) for v in expected)

    answer = ask(runtime, helpers.json_body(rows), "application/json")
    assert answer.content_type == "application/json"
    assert json.loads(answer.body) == {"predictions": expected.tolist()}


def test_sklearn_binary_predict_proba_is_positive_class(make_dir, classifier, rows, helpers):
    runtime = SklearnRuntime.load(make_dir({"model.pkl": classifier}), PROBA)
    expected = classifier.predict_proba(rows)[:, 1]
    csv = ask(runtime, helpers.csv_body(rows), "text/csv")
    assert np.array_equal(helpers.csv_values(csv.body), expected)
    answer = ask(runtime, helpers.json_body(rows), "application/json")
    assert np.array_equal(helpers.json_values(answer.body), expected)


def test_sklearn_multiclass_predict_proba_gives_every_class(make_dir, data, rows):
    from sklearn.linear_model import LogisticRegression

    x, _, target = data
    model = LogisticRegression().fit(x, np.digitize(target, [5.0, 15.0]))
    runtime = SklearnRuntime.load(make_dir({"clf.joblib": model}), PROBA)
    answer = ask(runtime, json.dumps(rows[:2].tolist()).encode(), "application/json")
    assert np.array_equal(
        np.array(json.loads(answer.body)["predictions"]), model.predict_proba(rows[:2])
    )
    csv = ask(runtime, b"1,2,3,4,5", "text/csv")
    assert csv.body.decode() == ",".join(
        repr(v) for v in model.predict_proba([[1, 2, 3, 4, 5]])[0].tolist()
    )


def test_sklearn_regressor_repr_floats(make_dir, regressor, rows, helpers):
    runtime = SklearnRuntime.load(make_dir({"model.pickle": regressor}), {})
    expected = regressor.predict(rows)
    csv = ask(runtime, helpers.csv_body(rows), "text/csv")
    assert csv.body.decode() == "\n".join(repr(float(v)) for v in expected)
    single = ask(runtime, helpers.csv_body(rows[:1]), "text/csv")
    assert single.body.decode() == repr(float(expected[0]))  # no trailing newline
    answer = ask(runtime, helpers.json_body(rows), "application/json")
    assert np.array_equal(helpers.json_values(answer.body), expected)


def test_sklearn_wrong_feature_count_is_a_500_with_the_models_message(make_dir, classifier):
    runtime = SklearnRuntime.load(make_dir({"model.joblib": classifier}), {})
    with pytest.raises(InvocationError) as caught:
        runtime.invoke(b"1,2,3", "text/csv", None)
    assert caught.value.status == 500
    assert caught.value.message == (
        "the model raised ValueError: X has 3 features, but LogisticRegression "
        "is expecting 5 features as input."
    )


def test_sklearn_load_errors(make_dir, tmp_path, regressor):
    with pytest.raises(ModelLoadError, match=r"no model file found; expected one of model\.joblib"):
        SklearnRuntime.load(make_dir({"readme.txt": "hi"}), {})
    with pytest.raises(ModelLoadError, match=r"cannot load model\.joblib: "):
        SklearnRuntime.load(make_dir({"model.joblib": b"not a pickle"}), {})
    with pytest.raises(ModelLoadError, match=r"Ridge has no predict_proba\(\) method"):
        SklearnRuntime.load(make_dir({"model.joblib": regressor}), PROBA)
    with pytest.raises(ModelLoadError, match="MODELMON_PREDICT_METHOD='decide' is not supported"):
        SklearnRuntime.load(
            make_dir({"model.joblib": regressor}), {"MODELMON_PREDICT_METHOD": "decide"}
        )


@pytest.mark.parametrize("name", ["model.json", "xgboost-model", "model.ubj"])
def test_xgboost_native_files(make_dir, booster, rows, helpers, name, tmp_path):
    path = tmp_path / "saved" / name
    path.parent.mkdir()
    booster.save_model(str(path) if name != "xgboost-model" else str(path.with_suffix(".json")))
    if name == "xgboost-model":  # SageMaker's name, no extension: the JSON format inside
        path.with_suffix(".json").rename(path)
    runtime = XGBoostRuntime.load(make_dir({name: path.read_bytes()}), {})
    expected = booster.predict(xgboost.DMatrix(rows)).astype(np.float64)

    csv = ask(runtime, helpers.csv_body(rows), "text/csv")
    assert np.array_equal(helpers.csv_values(csv.body), expected)
    first = ask(runtime, helpers.csv_body(rows[:1]), "text/csv")
    assert first.body.decode() == repr(float(expected[0]))  # like 0.036397725343704224
    answer = ask(runtime, helpers.json_body(rows), "application/json")
    assert np.array_equal(helpers.json_values(answer.body), expected)


def test_xgboost_missing_values_are_nan(booster, rows, helpers):
    runtime = XGBoostRuntime(booster)
    x = rows[:3].copy()
    x[0, 1] = np.nan
    body = "\n".join(",".join("" if np.isnan(v) else repr(v) for v in row) for row in x.tolist())
    answer = ask(runtime, body.encode(), "text/csv")
    expected = booster.predict(xgboost.DMatrix(x, missing=np.nan)).astype(np.float64)
    assert np.array_equal(helpers.csv_values(answer.body), expected)


def test_xgboost_pickles(make_dir, booster, data, rows, helpers):
    runtime = XGBoostRuntime.load(make_dir({"model.pkl": booster}), {})
    expected = booster.predict(xgboost.DMatrix(rows)).astype(np.float64)
    assert np.array_equal(
        helpers.csv_values(ask(runtime, helpers.csv_body(rows), "text/csv").body), expected
    )

    x, y, _ = data
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(x, y)
    default = XGBoostRuntime.load(make_dir({"model.joblib": model}), {})
    body = ask(default, helpers.csv_body(rows), "text/csv").body
    assert np.array_equal(helpers.csv_values(body), model.predict_proba(rows)[:, 1].astype(float))
    labels = XGBoostRuntime.load(
        make_dir({"model.joblib": model}), {"MODELMON_PREDICT_METHOD": "predict"}
    )
    body = ask(labels, helpers.csv_body(rows), "text/csv").body
    assert body.decode() == "\n".join(str(v) for v in model.predict(rows))


def test_xgboost_load_errors(make_dir):
    with pytest.raises(ModelLoadError, match="no model file found; expected one of xgboost-model"):
        XGBoostRuntime.load(make_dir({"notes.txt": "x"}), {})
    with pytest.raises(ModelLoadError, match=r"cannot load model\.json as an XGBoost model"):
        XGBoostRuntime.load(make_dir({"model.json": '{"not": "a model"}'}), {})


def test_onnx_classifier_labels_and_probabilities(
    make_dir, classifier, onnx_classifier, rows, helpers
):
    directory = make_dir({"model.onnx": onnx_classifier})
    labels = OnnxRuntime.load(directory, {})
    csv = ask(labels, helpers.csv_body(rows), "text/csv")
    assert csv.body.decode() == "\n".join(str(int(v)) for v in classifier.predict(rows))

    proba = OnnxRuntime.load(directory, PROBA)
    expected = classifier.predict_proba(rows)[:, 1]
    got = helpers.csv_values(ask(proba, helpers.csv_body(rows), "text/csv").body)
    assert np.allclose(got, expected, rtol=1e-6, atol=1e-7)
    got = helpers.json_values(ask(proba, helpers.json_body(rows), "application/json").body)
    assert np.allclose(got, expected, rtol=1e-6, atol=1e-7)

    both = OnnxRuntime.load(directory, {"MODELMON_ONNX_OUTPUT": "probabilities"})
    answer = json.loads(ask(both, helpers.json_body(rows), "application/json").body)
    assert np.allclose(answer["predictions"], classifier.predict_proba(rows), rtol=1e-6, atol=1e-7)


def test_onnx_regressor(make_dir, regressor, onnx_regressor, rows, helpers):
    runtime = OnnxRuntime.load(make_dir({"ridge.onnx": onnx_regressor}), {})
    expected = regressor.predict(rows)
    got = helpers.csv_values(ask(runtime, helpers.csv_body(rows), "text/csv").body)
    assert np.allclose(got, expected, rtol=1e-6)
    got = helpers.json_values(ask(runtime, helpers.json_body(rows), "application/json").body)
    assert np.allclose(got, expected, rtol=1e-6)
    with pytest.raises(InvocationError) as caught:
        runtime.invoke(b"1,2,3", "text/csv", None)
    assert caught.value.status == 500
    assert caught.value.message.startswith("the model raised ")


def test_onnx_load_errors(make_dir, onnx_classifier):
    with pytest.raises(ModelLoadError, match=r"expected one of model\.onnx, \*\.onnx"):
        OnnxRuntime.load(make_dir({"model.joblib": b"x"}), {})
    with pytest.raises(ModelLoadError, match=r"cannot load model\.onnx"):
        OnnxRuntime.load(make_dir({"model.onnx": b"garbage"}), {})
    with pytest.raises(ModelLoadError, match="'nope' is not an output of the ONNX model"):
        OnnxRuntime.load(
            make_dir({"model.onnx": onnx_classifier}), {"MODELMON_ONNX_OUTPUT": "nope"}
        )


def test_threads_get_the_same_answers(make_dir, classifier, data, helpers):
    runtime = SklearnRuntime.load(make_dir({"model.joblib": classifier}), PROBA)
    x = data[0]
    bodies = [helpers.csv_body(x[i : i + 3]) for i in range(0, 48, 3)]
    expected = [runtime.invoke(b, "text/csv", None).body for b in bodies]

    def work(thread: int) -> list[bool]:
        results = []
        for call in range(50):
            which = (thread * 7 + call) % len(bodies)
            answer = runtime.invoke(bodies[which], "text/csv", "text/csv")
            results.append(answer.body == expected[which])
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [ok for results in pool.map(work, range(8)) for ok in results]
    assert len(outcomes) == 400 and all(outcomes)
    assert (
        expected[0]
        == "\n".join(repr(v) for v in classifier.predict_proba(x[:3])[:, 1].tolist()).encode()
    )


def test_xgboost_wrong_feature_count_is_a_500(booster, data, rows):
    x, y, _ = data
    dart = xgboost.train(
        {"objective": "binary:logistic", "booster": "dart", "nthread": 1},
        xgboost.DMatrix(x, label=y),
        num_boost_round=4,
    )
    for model in (booster, dart):
        runtime = XGBoostRuntime(model)
        with pytest.raises(InvocationError) as caught:
            runtime.invoke(b"1,2,3", "text/csv", None)
        assert (caught.value.status, caught.value.message) == (
            500,
            "the model raised ValueError: Feature shape mismatch, expected: 5, got 3",
        )
    answer = XGBoostRuntime(dart).invoke(
        json.dumps(rows.tolist()).encode(), "application/json", None
    )
    expected = dart.predict(xgboost.DMatrix(rows)).astype(np.float64)
    assert np.array_equal(np.array(json.loads(answer.body)["predictions"]), expected)


def test_onnx_zipmap_classifier(make_dir, classifier, rows, helpers):
    from skl2onnx import to_onnx

    onx = to_onnx(classifier, rows[:1].astype(np.float32), target_opset=15)  # ZipMap output
    runtime = OnnxRuntime.load(make_dir({"model.onnx": onx.SerializeToString()}), PROBA)
    got = helpers.csv_values(runtime.invoke(helpers.csv_body(rows), "text/csv", None).body)
    assert np.allclose(got, classifier.predict_proba(rows)[:, 1], rtol=1e-6, atol=1e-7)


def test_booster_ignores_predict_method(make_dir, booster, rows, helpers):
    runtime = XGBoostRuntime.load(make_dir({"model.pkl": booster}), PROBA)
    expected = booster.predict(xgboost.DMatrix(rows)).astype(np.float64)
    answer = runtime.invoke(helpers.csv_body(rows), "text/csv", None)
    assert np.array_equal(helpers.csv_values(answer.body), expected)
