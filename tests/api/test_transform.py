"""Batch transform jobs end to end: a real server, real scikit-learn models, real files."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import joblib
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression, Ridge

from modelmon.sdk import BatchDataCaptureConfig, Model, ModelmonClientError, Session

N_FEATURES = 5
MIB = 1024 * 1024
SLOW_SCRIPT = (
    "import time\n\n\ndef predict_fn(data, model):\n    time.sleep(0.05)\n"
    "    return model.predict(data)\n"
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(400, N_FEATURES))
    y = x @ np.array([1.5, -2.0, 0.5, 0.0, 1.0]) + rng.normal(scale=0.5, size=400) > 0
    return x, y.astype(np.int64)


@pytest.fixture(scope="module")
def models(tmp_path_factory, data) -> dict[str, Path]:
    x, y = data
    folder = tmp_path_factory.mktemp("transform-models")
    joblib.dump(LogisticRegression().fit(x, y), folder / "classifier.joblib")
    joblib.dump(Ridge().fit(x, y * 3.0), folder / "regressor.joblib")
    (folder / "slow.py").write_text(SLOW_SCRIPT)
    return {
        "classifier": folder / "classifier.joblib",
        "regressor": folder / "regressor.joblib",
        "slow": folder / "slow.py",
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type):
    srv = server_type(tmp_path_factory.mktemp("transform") / "data").start()
    yield srv
    srv.stop()


def _register(session: Session, models: dict[str, Path]) -> None:
    for name in ("classifier", "regressor"):
        session.create_model(
            ModelName=name,
            PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(models[name])},
        )
    Model(
        image_uri="sklearn",
        model_data=str(models["classifier"]),
        entry_point=str(models["slow"]),
        name="slow",
        sagemaker_session=session,
    ).create()


@pytest.fixture(scope="module")
def session(server, models) -> Session:
    with Session(server.url) as session:
        _register(session, models)
        yield session


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)


def _request(name: str, model: str, source: str, output: str, **members) -> dict:
    transform_input = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
        "ContentType": "text/csv",
        "SplitType": "Line",
        **members.pop("input", {}),
    }
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": {"S3OutputPath": output, "AssembleWith": "Line"},
        **members,
    }


def _run(session: Session, request: dict, *, completed: bool = True) -> dict:
    session.create_transform_job(**request)
    name = request["TransformJobName"]
    if completed:
        return session.wait_for_transform_job(name, timeout=60, poll=0.05)
    with pytest.raises(ModelmonClientError):
        session.wait_for_transform_job(name, timeout=60, poll=0.05)
    return session.describe_transform_job(name)


def _text(session: Session, uri: str) -> str:
    return session.read_bytes(uri).decode("utf-8")


def _floats(text: str) -> list[float]:
    return [float(line) for line in text.splitlines()]


# -- outputs are the model's predictions -------------------------------------------------


def test_csv_and_json_lines_under_nested_prefixes(session, models, data) -> None:
    x, _ = data
    regressor = joblib.load(models["regressor"])
    classifier = joblib.load(models["classifier"])
    parts = {"top.csv": x[:7], "a/mid.csv": x[7:20], "a/b/c/deep.csv": x[20:51]}
    for relative, rows in parts.items():
        text = _csv(rows)
        if relative == "a/mid.csv":  # blank lines are skipped, CR LF is a newline
            text = text.replace("\n", "\r\n", 3) + "\n\n"
        session.upload_bytes(text.encode(), f"s3://data/csv-in/{relative}")
    description = _run(
        session,
        _request("csv-nested", "regressor", "s3://data/csv-in", "s3://data/csv-out"),
    )
    assert description["Progress"] == {"FilesDone": 3, "FilesTotal": 3, "RecordsDone": 51}
    for relative, rows in parts.items():
        want = "".join(f"{v!r}\n" for v in regressor.predict(rows).tolist())
        assert _text(session, f"s3://data/csv-out/{relative}.out") == want
    assert sorted(session.list_objects("s3://data/csv-out")) == sorted(
        f"s3://data/csv-out/{r}.out" for r in parts
    )

    # JSON Lines (arrays and {"features": ...} objects); Environment reaches the model
    lines = {"one.jsonl": x[51:60], "deeper/two.jsonl": x[60:75]}
    for relative, rows in lines.items():
        body = "\n".join(
            json.dumps(r.tolist() if i % 2 else {"features": r.tolist()})
            for i, r in enumerate(rows)
        )
        session.upload_bytes(body.encode(), f"s3://data/jsonl-in/{relative}")
    _run(
        session,
        _request(
            "jsonl-nested",
            "classifier",
            "s3://data/jsonl-in/",
            "s3://data/jsonl-out",
            input={"ContentType": "application/jsonlines"},
            Environment={"MODELMON_PREDICT_METHOD": "predict_proba"},
        ),
    )
    for relative, rows in lines.items():
        got = [
            json.loads(line)
            for line in _text(session, f"s3://data/jsonl-out/{relative}.out").splitlines()
        ]
        assert got == classifier.predict_proba(rows)[:, 1].tolist()

    # a manifest naming some files, gzip-compressed input, SplitType None (a file per request)
    manifest = [{"prefix": "s3://data/csv-in/"}, "a/b/c/deep.csv", "top.csv"]
    session.upload_bytes(json.dumps(manifest).encode(), "s3://data/lists/some.manifest")
    _run(
        session,
        _request(
            "from-manifest",
            "regressor",
            "s3://data/lists/some.manifest",
            "s3://data/manifest-out",
            input={
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": "s3://data/lists/some.manifest",
                    }
                }
            },
        ),
    )
    assert sorted(session.list_objects("s3://data/manifest-out")) == [
        "s3://data/manifest-out/a/b/c/deep.csv.out",
        "s3://data/manifest-out/top.csv.out",
    ]
    session.upload_bytes(gzip.compress(_csv(x[:9]).encode()), "s3://data/gz-in/rows.csv.gz")
    _run(
        session,
        {
            **_request(
                "gzip-whole-file",
                "regressor",
                "s3://data/gz-in",
                "s3://data/gz-out",
                input={"CompressionType": "Gzip", "SplitType": "None"},
            ),
            "TransformOutput": {"S3OutputPath": "s3://data/gz-out"},  # AssembleWith None
        },
    )
    want = "\n".join(repr(v) for v in regressor.predict(x[:9]).tolist())
    assert _text(session, "s3://data/gz-out/rows.csv.gz.out") == want

    # outputs written under the input prefix are never read back as input
    session.upload_bytes(_csv(x[:3]).encode(), "s3://data/self/rows.csv")
    for name in ("self-1", "self-2"):
        described = _run(session, _request(name, "regressor", "s3://data/self", "s3://data/self/o"))
        assert described["Progress"]["FilesTotal"] == 1
    assert session.list_objects("s3://data/self/o") == ["s3://data/self/o/rows.csv.out"]


def test_single_record_and_multi_record_give_the_same_outputs(session, models) -> None:
    classifier = joblib.load(models["classifier"])
    rows = np.random.default_rng(5).normal(size=(11_000, N_FEATURES))
    text = _csv(rows)
    assert 1 * MIB < len(text) < 2 * MIB  # MaxPayloadInMB 1: two requests
    session.upload_bytes(text.encode(), "s3://data/big/rows.csv")
    want = "".join(f"{v}\n" for v in classifier.predict(rows).tolist())
    outputs = {}
    for strategy, concurrency in (("MultiRecord", None), ("SingleRecord", 4)):
        request = _request(
            f"big-{strategy.lower()}",
            "classifier",
            "s3://data/big",
            f"s3://data/big-{strategy}",
            BatchStrategy=strategy,
            MaxPayloadInMB=1,
        )
        if concurrency:
            request["MaxConcurrentTransforms"] = concurrency
        described = _run(session, request)
        assert described["BatchStrategy"] == strategy
        outputs[strategy] = _text(session, f"s3://data/big-{strategy}/rows.csv.out")
    assert outputs["MultiRecord"] == outputs["SingleRecord"] == want

    # AssembleWith None concatenates the answers as they are: two MultiRecord requests show
    # as one line fewer (the first answer has no trailing newline)
    request = _request("big-concat", "classifier", "s3://data/big", "s3://data/big-concat")
    request["MaxPayloadInMB"] = 1
    request["TransformOutput"] = {"S3OutputPath": "s3://data/big-concat"}
    _run(session, request)
    concatenated = _text(session, "s3://data/big-concat/rows.csv.out")
    sizes = [len(line) for line in text.split("\n")]
    first = 0
    total = -1
    for size in sizes:  # how many records fit in the first payload
        if total + size + 1 > MIB:
            break
        total += size + 1
        first += 1
    labels = want.splitlines()
    assert concatenated == "\n".join(labels[:first]) + "\n".join(labels[first:])


# -- data capture (SPEC §4.3) ----------------------------------------------------------------


def _uuid4(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


def test_capture_manifests_and_inference_ids(server, session, models, data) -> None:
    x, _ = data
    regressor = joblib.load(models["regressor"])
    parts = {"p0.csv": x[:5], "sub/p1.csv": x[5:12]}
    for relative, rows in parts.items():
        session.upload_bytes(_csv(rows).encode(), f"s3://cap/in/{relative}")
    capture = {"DestinationS3Uri": "s3://cap/captured", "GenerateInferenceId": True}
    described = _run(
        session,
        _request("captured", "regressor", "s3://cap/in", "s3://cap/out", DataCaptureConfig=capture),
    )
    assert described["DataCaptureConfig"] == capture
    started = dt.datetime.fromisoformat(described["TransformStartTime"])
    stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    hour = started.strftime("%Y/%m/%d/%H")
    root = server.objects / "cap" / "captured"
    (input_manifest,) = (root / "input" / hour).glob("*.manifest")
    (output_manifest,) = (root / "output" / hour).glob("*.manifest")
    assert _uuid4(input_manifest.stem) is False and uuid.UUID(input_manifest.stem)  # uuid5
    assert json.loads(input_manifest.read_text()) == [
        {"prefix": "s3://cap/in/"},
        "p0.csv",
        "sub/p1.csv",
    ]
    assert json.loads(output_manifest.read_text()) == [
        {"prefix": "s3://cap/out/"},
        "p0.csv.out",
        "sub/p1.csv.out",
    ]
    ids = []
    for relative, rows in parts.items():
        lines = _text(session, f"s3://cap/out/{relative}.out").splitlines()
        assert len(lines) == len(rows)
        for line, want in zip(lines, regressor.predict(rows).tolist(), strict=True):
            prediction, inference_id, time_ = line.split(",")
            assert float(prediction) == want and time_ == stamp and _uuid4(inference_id)
            ids.append(inference_id)

    # JSON Lines, joined with the input (DataProcessing.JoinSource Input)
    records = [{"features": r.tolist(), "id": i} for i, r in enumerate(x[12:20])]
    records[3] = x[15].tolist()  # not an object: kept under SageMakerInput
    body = "\n".join(json.dumps(r) for r in records)
    session.upload_bytes(body.encode(), "s3://cap/json-in/rows.jsonl")
    _run(
        session,
        _request(
            "captured-json",
            "regressor",
            "s3://cap/json-in",
            "s3://cap/json-out",
            input={"ContentType": "application/jsonlines"},
            DataCaptureConfig={
                "DestinationS3Uri": "s3://cap/json-captured/",
                "GenerateInferenceId": True,
            },
            DataProcessing={"JoinSource": "Input"},
        ),
    )
    objects = [
        json.loads(line) for line in _text(session, "s3://cap/json-out/rows.jsonl.out").splitlines()
    ]
    predictions = regressor.predict(x[12:20]).tolist()
    for i, (record, obj) in enumerate(zip(records, objects, strict=True)):
        assert obj["SageMakerOutput"] == predictions[i]
        assert _uuid4(obj["SageMakerInferenceId"])
        assert obj["SageMakerInferenceTime"].endswith("Z")
        if isinstance(record, dict):
            assert obj["id"] == record["id"] and obj["features"] == record["features"]
        else:
            assert obj["SageMakerInferenceTime"] and obj["SageMakerInput"] == record
        ids.append(obj["SageMakerInferenceId"])
    assert len(set(ids)) == len(ids)

    # a bare JSON value without a join is wrapped as SageMakerOutput
    _run(
        session,
        _request(
            "captured-bare",
            "regressor",
            "s3://cap/json-in",
            "s3://cap/bare-out",
            input={"ContentType": "application/jsonlines"},
            DataCaptureConfig={
                "DestinationS3Uri": "s3://cap/bare-captured",
                "GenerateInferenceId": True,
            },
        ),
    )
    first = json.loads(_text(session, "s3://cap/bare-out/rows.jsonl.out").splitlines()[0])
    assert list(first) == ["SageMakerOutput", "SageMakerInferenceId", "SageMakerInferenceTime"]
    assert first["SageMakerOutput"] == predictions[0]


# -- failures ----------------------------------------------------------------------------------


def test_a_model_error_fails_the_job_naming_the_file(session, data) -> None:
    x, _ = data
    session.upload_bytes(_csv(x[:4]).encode(), "s3://bad/in/a_good.csv")
    session.upload_bytes(_csv(x[:4, :3]).encode(), "s3://bad/in/b_wrong_width.csv")
    session.upload_bytes(_csv(x[:4]).encode(), "s3://bad/in/c_never_reached.csv")
    described = _run(
        session,
        _request(
            "wrong-width",
            "classifier",
            "s3://bad/in",
            "s3://bad/out",
            DataCaptureConfig={"DestinationS3Uri": "s3://bad/captured"},
        ),
        completed=False,
    )
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "s3://bad/in/b_wrong_width.csv" in reason and "3 features" in reason, reason
    assert described["Progress"]["FilesDone"] == 1 and described["TransformEndTime"]
    assert session.list_objects("s3://bad/out") == ["s3://bad/out/a_good.csv.out"]
    (output_manifest,) = [u for u in session.list_objects("s3://bad/captured") if "/output/" in u]
    assert json.loads(session.read_bytes(output_manifest))[1:] == ["a_good.csv.out"]

    # one JSON document for a payload of many records cannot be split back into lines
    request = _request("json-answer", "classifier", "s3://bad/in/a_good.csv", "s3://bad/json")
    request["TransformOutput"]["Accept"] = "application/json"
    described = _run(session, request, completed=False)
    assert "a_good.csv" in described["FailureReason"]
    assert "1 line(s) for a payload of 4 record(s)" in described["FailureReason"]


def test_bad_requests_name_the_member(server, session, data) -> None:
    x, _ = data
    session.upload_bytes(_csv(x[:3]).encode(), "s3://req/in/rows.csv")
    good = _request("good-one", "classifier", "s3://req/in", "s3://req/out")
    with server.client() as http:

        def create(**changes) -> tuple[int, str]:
            body = json.loads(json.dumps(good))
            for path, value in changes.items():
                target = body
                *parents, last = path.split("__")
                for parent in parents:
                    target = target[parent]
                target[last] = value
            answer = http.post("/api/transform-jobs", json=body)
            return answer.status_code, answer.json().get("message", "")

        status, message = create(ModelName="nope")
        assert status == 400 and "ModelName" in message and "nope" in message
        status, message = create(
            TransformInput__DataSource__S3DataSource__S3Uri="s3://req/nothing-here"
        )
        assert status == 400 and "TransformInput.DataSource.S3DataSource.S3Uri" in message
        status, message = create(TransformInput__SplitType="RecordIO")
        assert status == 400 and "TransformInput.SplitType" in message
        status, message = create(BatchStrategy="Everything")
        assert status == 400 and "BatchStrategy" in message
        status, message = create(MaxPayloadInMB=101)
        assert status == 400 and "MaxPayloadInMB" in message
        status, message = create(TransformOutput__S3OutputPath="/tmp/elsewhere")
        assert status == 400 and "TransformOutput.S3OutputPath" in message
        status, message = create(DataProcessing={"InputFilter": "$[1:]"})
        assert status == 400 and "DataProcessing.InputFilter" in message
        status, message = create(
            DataProcessing={"JoinSource": "Input"}, TransformOutput__AssembleWith="None"
        )
        assert status == 400 and "DataProcessing.JoinSource" in message

        assert http.post("/api/transform-jobs", json=good).status_code == 201
        status, message = create()
        assert status == 409 and "TransformJobName" in message
        assert http.get("/api/transform-jobs/missing").status_code == 404
        assert http.post("/api/transform-jobs/missing/stop").status_code == 404
        session.wait_for_transform_job("good-one", timeout=30, poll=0.05)
        assert http.post("/api/transform-jobs/good-one/stop").status_code == 409  # Completed

        listed = http.get(
            "/api/transform-jobs",
            params={"NameContains": "good", "StatusEquals": "Completed", "SortBy": "Status"},
        ).json()["TransformJobSummaries"]
        assert [s["TransformJobName"] for s in listed] == ["good-one"]
        bad_status = http.get("/api/transform-jobs", params={"StatusEquals": "Done"})
        assert bad_status.status_code == 400 and "StatusEquals" in bad_status.json()["message"]
        bad_sort = http.get("/api/transform-jobs", params={"SortBy": "Size"})
        assert bad_sort.status_code == 400 and "Status" in bad_sort.json()["message"]


def test_stop_a_running_job(session, data) -> None:
    x, _ = data
    session.upload_bytes(_csv(x[:200]).encode(), "s3://stop/in/rows.csv")
    request = _request("to-stop", "slow", "s3://stop/in", "s3://stop/out")
    request["BatchStrategy"] = "SingleRecord"  # 200 requests of 50 ms each
    session.create_transform_job(**request)
    time.sleep(0.3)
    answer = session.stop_transform_job("to-stop")
    assert answer["TransformJobStatus"] in ("Stopping", "Stopped")
    with pytest.raises(ModelmonClientError) as err:
        session.wait_for_transform_job("to-stop", timeout=10, poll=0.05)
    assert err.value.code == "TransformJobStopped"
    described = session.describe_transform_job("to-stop")
    assert described["TransformJobStatus"] == "Stopped" and described["TransformEndTime"]
    assert session.list_objects("s3://stop/out") == []  # a partial file is never written


# -- the other clients --------------------------------------------------------------------------


def test_boto3_create_describe_list_stop(server, session, models, data, monkeypatch) -> None:
    x, _ = data
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sm = boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    session.upload_bytes(_csv(x[:6]).encode(), "s3://boto/in/rows.csv")
    request = {
        "TransformJobName": "boto-job",
        "ModelName": "classifier",
        "MaxConcurrentTransforms": 2,
        "MaxPayloadInMB": 6,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://boto/in"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://boto/out", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataCaptureConfig": {"DestinationS3Uri": "s3://boto/capture"},
    }
    arn = sm.create_transform_job(**request)["TransformJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:transform-job/boto-job"
    deadline = time.monotonic() + 30
    while (described := sm.describe_transform_job(TransformJobName="boto-job"))[
        "TransformJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert described["TransformJobStatus"] == "Completed"
    assert isinstance(described["CreationTime"], dt.datetime)
    assert described["TransformEndTime"] >= described["TransformStartTime"]
    assert described["TransformInput"] == {**request["TransformInput"], "CompressionType": "None"}
    assert described["TransformResources"] == request["TransformResources"]
    listed = sm.list_transform_jobs(NameContains="boto", SortBy="Name", SortOrder="Ascending")
    assert [s["TransformJobName"] for s in listed["TransformJobSummaries"]] == ["boto-job"]
    assert listed["TransformJobSummaries"][0]["TransformJobStatus"] == "Completed"
    later = sm.list_transform_jobs(
        CreationTimeAfter=described["CreationTime"] + dt.timedelta(seconds=1)
    )
    assert "boto-job" not in [s["TransformJobName"] for s in later["TransformJobSummaries"]]
    assert session.list_objects("s3://boto/out") == ["s3://boto/out/rows.csv.out"]
    lines = _text(session, "s3://boto/out/rows.csv.out").splitlines()
    assert lines == [str(v) for v in joblib.load(models["classifier"]).predict(x[:6]).tolist()]

    with pytest.raises(ClientError) as err:
        sm.create_transform_job(**request)
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError) as err:
        sm.describe_transform_job(TransformJobName="nowhere")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as err:
        sm.stop_transform_job(TransformJobName="nowhere")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as err:
        sm.create_transform_job(**{**request, "TransformJobName": "boto-2", "ModelName": "ghost"})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "ModelName" in err.value.response["Error"]["Message"]


def test_sdk_transformer(session, models, data) -> None:
    x, _ = data
    classifier = joblib.load(models["classifier"])
    folder = Path(models["classifier"]).parent / "sdk-input"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "rows.csv").write_text(_csv(x[:8]))
    model = Model(
        image_uri="sklearn",
        model_data=str(models["classifier"]),
        name="sdk-classifier",
        sagemaker_session=session,
    )
    transformer = model.transformer(
        instance_type="ml.m5.large", assemble_with="Line", accept="text/csv"
    )
    transformer.transform(
        str(folder),  # a local folder: uploaded first
        content_type="text/csv",
        split_type="Line",
        job_name="sdk-job",
        batch_data_capture_config=BatchDataCaptureConfig(
            "s3://sdk/capture", generate_inference_id=False
        ),
    )
    described = transformer.describe()
    assert described["TransformJobStatus"] == "Completed"
    assert described["TransformResources"] == {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
    output = described["TransformOutput"]["S3OutputPath"]
    assert output == f"s3://{session.default_bucket()}/sdk-job"
    lines = _text(session, f"{output}/nested/rows.csv.out").splitlines()
    assert lines == [str(v) for v in classifier.predict(x[:8]).tolist()]
    again = model.transformer()  # the model is registered once
    assert again.model_name == "sdk-classifier"


# -- the command line ----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelmon.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )


def test_cli_transform_and_transform_jobs(server, session, models, data) -> None:
    x, _ = data
    classifier = joblib.load(models["classifier"])
    session.upload_bytes(_csv(x[:10]).encode(), "s3://cli/in/part/rows.csv")
    session.upload_bytes(_csv(x[:2, :2]).encode(), "s3://cli/bad/rows.csv")
    common = ["--url", server.url, "--model", "classifier", "--content-type", "text/csv"]
    done = _cli(
        "transform",
        *common,
        "--input",
        "s3://cli/in",
        "--output",
        "s3://cli/out",
        "--split-type",
        "Line",
        "--assemble-with",
        "Line",
        "--capture-destination",
        "s3://cli/capture",
        "--generate-inference-id",
        "--job-name",
        "cli-ok",
    )
    assert done.returncode == 0, done.stderr
    assert "cli-ok Completed" in done.stdout and "s3://cli/out/" in done.stdout
    lines = _text(session, "s3://cli/out/part/rows.csv.out").splitlines()
    assert [line.split(",")[0] for line in lines] == [
        str(v) for v in classifier.predict(x[:10]).tolist()
    ]
    failed = _cli(
        "transform",
        *common,
        "--input",
        "s3://cli/bad",
        "--output",
        "s3://cli/bad-out",
        "--job-name",
        "cli-bad",
    )
    assert failed.returncode == 1
    assert "cli-bad Failed" in failed.stderr and "s3://cli/bad/rows.csv" in failed.stderr
    refused = _cli("transform", *common, "--input", "s3://cli/none", "--output", "s3://cli/o")
    assert refused.returncode == 1 and "S3Uri" in refused.stderr
    listed = _cli("transform-jobs", "--url", server.url)
    assert listed.returncode == 0, listed.stderr
    assert "cli-ok" in listed.stdout and "cli-bad" in listed.stdout


# -- restarts ----------------------------------------------------------------------------------


def test_jobs_left_running_resume_at_start(tmp_path_factory, server_type, models, data) -> None:
    x, _ = data
    regressor = joblib.load(models["regressor"])
    server = server_type(tmp_path_factory.mktemp("transform-restart") / "data").start()
    try:
        with Session(server.url) as session:
            _register(session, models)
            session.upload_bytes(_csv(x[:20]).encode(), "s3://resume/slow-in/rows.csv")
            session.upload_bytes(_csv(x[:30]).encode(), "s3://resume/in/a.csv")
            session.upload_bytes(_csv(x[30:50]).encode(), "s3://resume/in/b/c.csv")
            request = _request("paused", "slow", "s3://resume/slow-in", "s3://resume/slow-out")
            request["BatchStrategy"] = "SingleRecord"  # 20 requests of 50 ms each
            session.create_transform_job(**request)
            time.sleep(0.5)
    finally:
        assert server.stop() == 0  # graceful: the job pauses, still InProgress
    # a job a killed server left InProgress, and one it left Stopping
    database = sqlite3.connect(server.data_dir / "modelmon.db")
    with database:
        assert database.execute(
            "SELECT status FROM transform_jobs WHERE name = 'paused'"
        ).fetchone() == ("InProgress",)
        created = dt.datetime.now(dt.UTC).isoformat(sep=" ")
        for name, status in (("orphan", "InProgress"), ("half-stopped", "Stopping")):
            document = _request(name, "regressor", "s3://resume/in", f"s3://resume/{name}")
            document["DataCaptureConfig"] = {"DestinationS3Uri": "s3://resume/capture"}
            database.execute(
                "INSERT INTO transform_jobs (name, arn, model_name, request, status, "
                "creation_time, last_modified_time, files_total, files_done, records_done) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
                (
                    name,
                    f"arn:x:{name}",
                    "regressor",
                    json.dumps(document),
                    status,
                    created,
                    created,
                ),
            )
    database.close()
    server.start()
    try:
        with Session(server.url) as session:
            described = session.wait_for_transform_job("orphan", timeout=30, poll=0.05)
            assert described["Progress"] == {"FilesDone": 2, "FilesTotal": 2, "RecordsDone": 50}
            assert _text(session, "s3://resume/orphan/a.csv.out") == "".join(
                f"{v!r}\n" for v in regressor.predict(x[:30]).tolist()
            )
            assert _text(session, "s3://resume/orphan/b/c.csv.out") == "".join(
                f"{v!r}\n" for v in regressor.predict(x[30:50]).tolist()
            )
            manifests = session.list_objects("s3://resume/capture")
            assert len(manifests) == 2  # input and output, once
            stopped = session.describe_transform_job("half-stopped")
            assert stopped["TransformJobStatus"] == "Stopped"
            assert session.list_objects("s3://resume/half-stopped") == []
            paused = session.wait_for_transform_job("paused", timeout=30, poll=0.05)
            assert paused["Progress"]["RecordsDone"] == 20
            classifier = joblib.load(models["classifier"])
            assert _text(session, "s3://resume/slow-out/rows.csv.out") == "".join(
                f"{v}\n" for v in classifier.predict(x[:20]).tolist()
            )
    finally:
        server.stop()
