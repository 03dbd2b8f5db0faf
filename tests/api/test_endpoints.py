"""Real-time endpoints end to end: a real server on loopback, real models, real files."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import joblib
import numpy as np
import pytest
import xgboost
from botocore.config import Config
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression, Ridge

from modelmon.analysis.readers import DatasetFormat, iter_capture_records, read_batches
from modelmon.sdk import (
    CSVSerializer,
    DataCaptureConfig,
    JSONDeserializer,
    JSONSerializer,
    Model,
    ModelmonClientError,
    Session,
)
from modelmon.storage.files import expand

N_FEATURES = 5
LINE = re.compile(
    r'^\{"captureData":\{("endpointInput":\{"observedContentType":"[^"]*","mode":"INPUT",'
    r'"data":"(?:[^"\\]|\\.)*","encoding":"(?:CSV|JSON|BASE64)"\},?)?'
    r'("endpointOutput":\{"observedContentType":"[^"]*","mode":"OUTPUT",'
    r'"data":"(?:[^"\\]|\\.)*","encoding":"(?:CSV|JSON|BASE64)"\})?\},'
    r'"eventMetadata":\{"eventId":"[0-9a-f-]{36}",(?:"inferenceId":"[^"]*",)?'
    r'"inferenceTime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"(?:,"customAttributes":"[^"]*")?\},'
    r'"eventVersion":"0"\}$'
)
KEY = re.compile(r"/(\d{4})/(\d\d)/(\d\d)/(\d\d)/(\d\d)-(\d\d)-(\d{3})-[0-9a-f-]{36}\.jsonl$")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, N_FEATURES))
    y = x @ np.array([1.5, -2.0, 0.5, 0.0, 1.0]) + rng.normal(scale=0.5, size=400) > 0
    return x, y.astype(np.int64)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, data) -> dict[str, Path]:
    """A scikit-learn classifier, a regressor, an XGBoost model.tar.gz and an ONNX model."""
    from skl2onnx import to_onnx

    x, y = data
    folder = tmp_path_factory.mktemp("models")
    classifier = LogisticRegression().fit(x, y)
    regressor = Ridge().fit(x, y * 3.0)
    joblib.dump(classifier, folder / "classifier.joblib")
    joblib.dump(regressor, folder / "regressor.joblib")
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
        xgboost.DMatrix(x, label=y),
        num_boost_round=10,
    )
    raw = bytes(booster.save_raw("json"))
    with tarfile.open(folder / "xgb.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    onx = to_onnx(regressor, np.zeros((1, N_FEATURES), dtype=np.float32), target_opset=15)
    (folder / "regressor.onnx").write_bytes(onx.SerializeToString())
    (folder / "broken.joblib").write_bytes(b"this is not a model")
    return {
        "classifier": folder / "classifier.joblib",
        "regressor": folder / "regressor.joblib",
        "xgboost": folder / "xgb.tar.gz",
        "onnx": folder / "regressor.onnx",
        "broken": folder / "broken.joblib",
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type):
    srv = server_type(tmp_path_factory.mktemp("server") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def session(server) -> Session:
    with Session(server.url) as session:
        yield session


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)


def _capture_lines(root: Path, endpoint: str) -> list[str]:
    files = sorted(root.rglob(f"{endpoint}/*/*/*/*/*/*.jsonl"))
    lines = []
    for file in files:
        assert KEY.search(file.as_posix()), file
        text = file.read_text(encoding="utf-8")
        assert text.endswith("\n")
        lines.extend(text.splitlines())
    return lines


def _deploy(session, artifact, name, *, image="sklearn", env=None, capture=None, **kw):
    model = Model(
        image_uri=image,
        model_data=str(artifact),
        env=env or {},
        name=f"{name}-model",
        sagemaker_session=session,
    )
    return model.deploy(endpoint_name=name, data_capture_config=capture, **kw)


# -- the SDK path, predictions and capture ----------------------------------------


def test_predictions_are_the_models_and_every_request_is_captured(
    tmp_path_factory, artifacts, data, server_type
) -> None:
    x, _ = data
    classifier = joblib.load(artifacts["classifier"])
    server = server_type(tmp_path_factory.mktemp("capture") / "data").start()
    try:
        with Session(server.url) as session:
            predictor = _deploy(
                session,
                artifacts["classifier"],
                "churn",
                env={"MODELMON_PREDICT_METHOD": "predict_proba"},
                capture=DataCaptureConfig(True, 100, "s3://bucket/capture"),
                serializer=CSVSerializer(),
            )
            sent = []
            for i in range(40):
                rows = x[i : i + 1 + i % 3]
                answer = predictor.predict(rows, inference_id=f"id-{i}" if i % 2 else None)
                got = [float(v) for v in answer.decode().split("\n")]
                assert got == classifier.predict_proba(rows)[:, 1].tolist()
                sent.append((_csv(rows), answer.decode(), i))
            json_predictor = _deploy(
                session,
                artifacts["classifier"],
                "churn-json",
                capture=DataCaptureConfig(True, 100, "s3://bucket/capture"),
                serializer=JSONSerializer(),
                deserializer=JSONDeserializer(),
            )
            answer = json_predictor.predict({"instances": x[:3].tolist()})
            assert answer == {"predictions": classifier.predict(x[:3]).tolist()}
            counters = session.call("GET", "/api/capture")
            assert counters["captured"] == 41 and counters["dropped_queue_full"] == 0
    finally:
        assert server.stop() == 0  # graceful: every captured record is published

    capture_root = server.objects / "bucket" / "capture"
    lines = _capture_lines(capture_root, "churn")
    assert len(lines) == 40
    records = [json.loads(line) for line in lines]
    for line in lines:
        assert LINE.match(line), line
    by_data = {r["captureData"]["endpointInput"]["data"]: r for r in records}
    for request, answer, i in sent:
        record = by_data[request]
        assert record["captureData"]["endpointInput"]["observedContentType"] == "text/csv"
        assert record["captureData"]["endpointInput"]["encoding"] == "CSV"
        assert record["captureData"]["endpointOutput"]["data"] == answer
        assert record["captureData"]["endpointOutput"]["observedContentType"] == (
            "text/csv; charset=utf-8"
        )
        assert record["eventMetadata"].get("inferenceId") == (f"id-{i}" if i % 2 else None)
    (json_line,) = _capture_lines(capture_root, "churn-json")
    json_record = json.loads(json_line)
    assert json_record["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert json.loads(json_record["captureData"]["endpointInput"]["data"]) == {
        "instances": x[:3].tolist()
    }
    # the analyzer reads the capture: prediction first, then the 5 features
    uri = str(capture_root / "churn")
    assert sum(1 for f in expand(uri) for _ in iter_capture_records(f)) == 40
    table = [b for b in read_batches(uri, DatasetFormat("capture"))]
    assert sum(b.num_rows for b in table) == sum(1 + i % 3 for i in range(40))
    assert table[0].num_columns == 1 + N_FEATURES


def test_capture_modes_and_base64(tmp_path_factory, artifacts, data, server_type) -> None:
    x, _ = data
    server = server_type(tmp_path_factory.mktemp("modes") / "data").start()
    try:
        with Session(server.url) as session:
            session.create_model(
                ModelName="m",
                PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(artifacts["regressor"])},
            )
            for name, modes, header in [
                ("input-only", [{"CaptureMode": "Input"}], None),
                ("output-only", [{"CaptureMode": "Output"}], None),
                (
                    "both-csv",
                    [{"CaptureMode": "InputAndOutput"}],
                    {"CsvContentTypes": ["text/csv"]},
                ),
            ]:
                capture = {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": "s3://bucket/modes",
                    "CaptureOptions": modes,
                }
                if header:
                    capture["CaptureContentTypeHeader"] = header
                session.create_endpoint_config(
                    EndpointConfigName=name,
                    ProductionVariants=[{"VariantName": "v", "ModelName": "m"}],
                    DataCaptureConfig=capture,
                )
                session.create_endpoint(EndpointName=name, EndpointConfigName=name)
                session.wait_for_endpoint(name)
                session.invoke_endpoint(EndpointName=name, Body=_csv(x[:2]), ContentType="text/csv")
    finally:
        server.stop()
    root = server.objects / "bucket" / "modes"
    (only_in,) = [json.loads(line) for line in _capture_lines(root, "input-only")]
    assert list(only_in["captureData"]) == ["endpointInput"]
    assert only_in["captureData"]["endpointInput"]["encoding"] == "BASE64"  # no header
    (only_out,) = [json.loads(line) for line in _capture_lines(root, "output-only")]
    assert list(only_out["captureData"]) == ["endpointOutput"]
    (both,) = [json.loads(line) for line in _capture_lines(root, "both-csv")]
    assert both["captureData"]["endpointInput"]["data"] == _csv(x[:2])
    assert both["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert both["captureData"]["endpointOutput"]["encoding"] == "CSV"  # charset parameter


def test_sampling_rate_holds_and_retries_sample_alike(session, artifacts, data) -> None:
    x, _ = data
    _deploy(
        session,
        artifacts["regressor"],
        "sampled",
        capture=DataCaptureConfig(True, 20, "s3://bucket/sampled"),
    )
    before = session.call("GET", "/api/capture")
    body = _csv(x[:1])
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    for inference_id in ids:
        session.invoke_endpoint(
            EndpointName="sampled", Body=body, ContentType="text/csv", InferenceId=inference_id
        )
    middle = session.call("GET", "/api/capture")
    captured = middle["captured"] - before["captured"]
    sampled_out = middle["sampled_out"] - before["sampled_out"]
    assert captured + sampled_out == 1000
    assert abs(captured - 200) <= 4 * math.sqrt(1000 * 0.2 * 0.8)
    for inference_id in ids:  # retries with the same ids: exactly the same decisions
        session.invoke_endpoint(
            EndpointName="sampled", Body=body, ContentType="text/csv", InferenceId=inference_id
        )
    after = session.call("GET", "/api/capture")
    assert after["captured"] - middle["captured"] == captured


def test_variant_weights_and_target_variant(session, artifacts, data) -> None:
    x, _ = data
    for name, artifact in (("w-sk", artifacts["regressor"]), ("w-xgb", artifacts["xgboost"])):
        session.create_model(
            ModelName=name,
            PrimaryContainer={"ModelDataUrl": str(artifact)},  # runtime detected from files
        )
    session.create_endpoint_config(
        EndpointConfigName="weighted",
        ProductionVariants=[
            {"VariantName": "Big", "ModelName": "w-sk", "InitialVariantWeight": 3},
            {"VariantName": "Small", "ModelName": "w-xgb", "InitialVariantWeight": 1},
        ],
    )
    session.create_endpoint(EndpointName="weighted", EndpointConfigName="weighted")
    description = session.wait_for_endpoint("weighted")
    assert [v["TrafficShare"] for v in description["ProductionVariants"]] == [0.75, 0.25]
    body = _csv(x[:1])
    seen = [
        session.invoke_endpoint(EndpointName="weighted", Body=body, ContentType="text/csv")[
            "InvokedProductionVariant"
        ]
        for _ in range(1000)
    ]
    small = seen.count("Small")
    # 5 sigma: the server's draws are not seeded; 4 sigma failed about once in 16,000 runs
    assert abs(small - 250) <= 5 * math.sqrt(1000 * 0.25 * 0.75)
    for _ in range(20):
        answer = session.invoke_endpoint(
            EndpointName="weighted", Body=body, ContentType="text/csv", TargetVariant="Small"
        )
        assert answer["InvokedProductionVariant"] == "Small"
    with pytest.raises(ModelmonClientError) as err:
        session.invoke_endpoint(
            EndpointName="weighted", Body=body, ContentType="text/csv", TargetVariant="Nope"
        )
    assert err.value.status == 400 and "Nope" in err.value.message


def test_xgboost_and_onnx_answer_csv_and_json(session, artifacts, data) -> None:
    x, _ = data
    booster = xgboost.Booster()
    with tarfile.open(artifacts["xgboost"]) as tar:
        booster.load_model(bytearray(tar.extractfile("xgboost-model").read()))
    regressor = joblib.load(artifacts["regressor"])
    _deploy(session, artifacts["xgboost"], "xgb", image="xgboost")
    _deploy(session, artifacts["onnx"], "onnx", image="onnx")
    rows = x[:4]
    want_xgb = booster.predict(xgboost.DMatrix(rows)).tolist()
    want_onnx = regressor.predict(rows)
    for name, want, close in (("xgb", want_xgb, False), ("onnx", want_onnx, True)):
        csv_answer = session.invoke_endpoint(
            EndpointName=name, Body=_csv(rows), ContentType="text/csv"
        )
        got = [float(v) for v in csv_answer["Body"].decode().split("\n")]
        json_answer = session.invoke_endpoint(
            EndpointName=name,
            Body=json.dumps({"instances": rows.tolist()}),
            ContentType="application/json",
            Accept="application/json",
        )
        got_json = [float(np.ravel(v)[0]) for v in json.loads(json_answer["Body"])["predictions"]]
        if close:
            assert np.allclose(got, want, rtol=1e-5) and np.allclose(got_json, want, rtol=1e-5)
        else:
            assert got == want and got_json == want


# -- errors ---------------------------------------------------------------------------


def test_bad_requests_get_sagemakers_error_codes(server, session, artifacts, data) -> None:
    x, _ = data
    _deploy(session, artifacts["classifier"], "errors")
    with server.client() as http:

        def post(name: str, body: bytes, **headers: str):
            return http.post(f"/endpoints/{name}/invocations", content=body, headers=headers)

        missing = post("nope", b"1,2", **{"Content-Type": "text/csv"})
        assert missing.status_code == 400
        assert missing.headers["x-amzn-errortype"] == "ValidationError"
        assert "Endpoint nope" in missing.json()["message"]

        big = post("errors", b"1" * (6 * 1024 * 1024 + 1), **{"Content-Type": "text/csv"})
        assert big.status_code == 413 and "6291456" in big.json()["message"]

        png = post("errors", b"\x89PNG", **{"Content-Type": "image/png"})
        assert png.status_code == 424 and png.headers["x-amzn-errortype"] == "ModelError"
        assert png.json()["OriginalStatusCode"] == 415

        ragged = post("errors", b"1,2,3,4,5\n1,2,x,4,5", **{"Content-Type": "text/csv"})
        assert ragged.status_code == 424 and ragged.json()["OriginalStatusCode"] == 400
        assert "row 2" in ragged.json()["OriginalMessage"]

        raising = post("errors", b"1,2,3", **{"Content-Type": "text/csv"})
        assert raising.status_code == 424 and raising.json()["OriginalStatusCode"] == 500
        assert "features" in raising.json()["message"]

        long_id = post(
            "errors",
            _csv(x[:1]).encode(),
            **{"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "i" * 65},
        )
        assert long_id.status_code == 400

        fine = post("errors", _csv(x[:1]).encode(), **{"Content-Type": "text/csv"})
        assert fine.status_code == 200  # the server kept serving
        assert fine.headers["x-amzn-invoked-production-variant"] == "AllTraffic"

        # control plane: names, missing references, duplicates, shapes
        bad_name = http.post(
            "/api/models",
            json={"ModelName": "bad_name", "PrimaryContainer": {"ModelDataUrl": "x"}},
        )
        assert bad_name.status_code == 400 and "ModelName" in bad_name.json()["message"]
        no_artifact = http.post(
            "/api/models",
            json={"ModelName": "ghost", "PrimaryContainer": {"ModelDataUrl": "s3://b/none.tgz"}},
        )
        assert no_artifact.status_code == 400 and "s3://b/none.tgz" in no_artifact.json()["message"]
        no_model = http.post(
            "/api/endpoint-configs",
            json={
                "EndpointConfigName": "cfg",
                "ProductionVariants": [{"VariantName": "v", "ModelName": "ghost"}],
            },
        )
        assert no_model.status_code == 400
        assert "ProductionVariants.0.ModelName" in no_model.json()["message"]
        bad_capture = http.post(
            "/api/endpoint-configs",
            json={
                "EndpointConfigName": "cfg",
                "ProductionVariants": [{"VariantName": "v", "ModelName": "errors-model"}],
                "DataCaptureConfig": {
                    "InitialSamplingPercentage": 150,
                    "CaptureOptions": [{"CaptureMode": "Input"}],
                },
            },
        )
        assert bad_capture.status_code == 400
        assert "InitialSamplingPercentage" in bad_capture.json()["message"]
        again = http.post(
            "/api/endpoints", json={"EndpointName": "errors", "EndpointConfigName": "errors"}
        )
        assert again.status_code == 409
        assert http.get("/api/endpoints/nope").status_code == 404


def test_a_model_that_cannot_load_fails_its_endpoint(session, artifacts) -> None:
    session.create_model(
        ModelName="broken",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(artifacts["broken"])},
    )
    session.create_endpoint_config(
        EndpointConfigName="broken",
        ProductionVariants=[{"VariantName": "v", "ModelName": "broken"}],
    )
    session.create_endpoint(EndpointName="broken", EndpointConfigName="broken")
    with pytest.raises(ModelmonClientError) as err:
        session.wait_for_endpoint("broken")
    assert "broken" in err.value.message
    description = session.describe_endpoint("broken")
    assert description["EndpointStatus"] == "Failed" and description["FailureReason"]


# -- lifecycle ----------------------------------------------------------------------------


def test_update_moves_to_a_new_config_without_dropping_requests(session, artifacts, data) -> None:
    x, _ = data
    _deploy(session, artifacts["regressor"], "live")
    session.create_model(
        ModelName="live-v2",
        PrimaryContainer={"Image": "xgboost", "ModelDataUrl": str(artifacts["xgboost"])},
    )
    session.create_endpoint_config(
        EndpointConfigName="live-v2",
        ProductionVariants=[{"VariantName": "Blue", "ModelName": "live-v2"}],
    )
    failures: list[str] = []
    variants: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with Session(session.endpoint_url) as own:
            while not stop.is_set():
                try:
                    answer = own.invoke_endpoint(
                        EndpointName="live", Body=_csv(x[:1]), ContentType="text/csv"
                    )
                    variants.append(answer["InvokedProductionVariant"])
                except Exception as err:
                    failures.append(repr(err))

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        time.sleep(0.3)
        session.update_endpoint(EndpointName="live", EndpointConfigName="live-v2")
        description = session.wait_for_endpoint("live")
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert description["EndpointConfigName"] == "live-v2"
    assert variants[0] == "AllTraffic" and variants[-1] == "Blue"
    flips = sum(1 for a, b in itertools.pairwise(variants) if a != b)
    assert flips == 1  # one swap, never back


def test_delete_and_list(session, artifacts, data) -> None:
    x, _ = data
    _deploy(session, artifacts["regressor"], "short-lived")
    names = [e["EndpointName"] for e in session.list_endpoints(NameContains="short")["Endpoints"]]
    assert names == ["short-lived"]
    session.delete_endpoint("short-lived")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            session.invoke_endpoint(
                EndpointName="short-lived", Body=_csv(x[:1]), ContentType="text/csv"
            )
        except ModelmonClientError as err:
            assert err.status == 400
            break
        time.sleep(0.05)
    else:
        pytest.fail("a deleted endpoint kept answering")
    assert session.list_endpoints(NameContains="short")["Endpoints"] == []


def test_boto3_clients_work_against_the_server(server, artifacts, data, monkeypatch) -> None:
    x, _ = data
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    options = {
        "endpoint_url": server.url,
        "region_name": "us-east-1",
        "config": Config(retries={"max_attempts": 1}),
    }
    sm = boto3.client("sagemaker", **options)
    runtime = boto3.client("sagemaker-runtime", **options)
    sm.create_model(
        ModelName="boto-model",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(artifacts["classifier"])},
        ExecutionRoleArn="arn:aws:iam::000000000000:role/any",
    )
    sm.create_endpoint_config(
        EndpointConfigName="boto-cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "boto-model",
                "InstanceType": "ml.m5.xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="boto-ep", EndpointConfigName="boto-cfg")
    deadline = time.monotonic() + 60
    while sm.describe_endpoint(EndpointName="boto-ep")["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    described = sm.describe_endpoint(EndpointName="boto-ep")
    assert described["CreationTime"].year >= 2026  # epoch seconds parsed by botocore
    answer = runtime.invoke_endpoint(
        EndpointName="boto-ep", Body=_csv(x[:2]), ContentType="text/csv", InferenceId="abc"
    )
    classifier = joblib.load(artifacts["classifier"])
    assert answer["Body"].read().decode() == "\n".join(str(v) for v in classifier.predict(x[:2]))
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    with pytest.raises(ClientError) as err:
        runtime.invoke_endpoint(EndpointName="nowhere", Body=b"1", ContentType="text/csv")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as err:
        runtime.invoke_endpoint(EndpointName="boto-ep", Body=b"1,2", ContentType="text/csv")
    assert err.value.response["Error"]["Code"] == "ModelError"
    with pytest.raises(ClientError) as err:
        sm.describe_endpoint(EndpointName="nowhere")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    listed = sm.list_endpoints(NameContains="boto")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == ["boto-ep"]


def test_endpoints_survive_a_restart(tmp_path_factory, artifacts, data, server_type) -> None:
    x, _ = data
    server = server_type(tmp_path_factory.mktemp("restart") / "data")
    server.start()
    try:
        with Session(server.url) as session:
            _deploy(session, artifacts["regressor"], "durable")
    finally:
        server.stop()
    server.start()
    try:
        with Session(server.url) as session:
            assert session.describe_endpoint("durable")["EndpointStatus"] == "InService"
            answer = session.invoke_endpoint(
                EndpointName="durable", Body=_csv(x[:1]), ContentType="text/csv"
            )
            assert float(answer["Body"]) == pytest.approx(
                joblib.load(artifacts["regressor"]).predict(x[:1])[0], rel=1e-12
            )
    finally:
        server.stop()


def test_cli_lists_endpoints_and_capture_files(server, session, artifacts, data) -> None:
    x, _ = data
    _deploy(
        session,
        artifacts["regressor"],
        "cli-listed",
        capture=DataCaptureConfig(True, 100, "s3://bucket/cli-capture"),
    )
    for _ in range(3):
        session.invoke_endpoint(EndpointName="cli-listed", Body=_csv(x[:1]), ContentType="text/csv")
    assert session.flush_capture()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelmon.cli", *args, "--url", server.url],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )

    listed = cli("endpoints")
    assert listed.returncode == 0, listed.stderr
    assert "cli-listed" in listed.stdout and "InService" in listed.stdout
    assert "s3://bucket/cli-capture" in listed.stdout
    shown = cli("capture", "cli-listed", "--show")
    assert shown.returncode == 0, shown.stderr
    assert "s3://bucket/cli-capture/cli-listed/AllTraffic/" in shown.stdout
    assert shown.stdout.count('"eventVersion":"0"') == 3
    missing = cli("capture", "nowhere")
    assert missing.returncode == 1 and "nowhere" in missing.stderr
