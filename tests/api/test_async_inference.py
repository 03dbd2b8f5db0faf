"""Asynchronous inference end to end: real servers, real worker processes, a real script model.

The model (``SCRIPT``) appends ``+ payload`` when an invocation starts and
``- payload`` when it ends to the file named by ``ASYNC_TEST_LOG``, so the tests
count invocations and measure concurrency inside the model itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import httpx
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from modelmon.sdk import (
    AsyncInferenceConfig,
    AsyncInferenceModelError,
    AsyncPredictor,
    Model,
    Predictor,
    Session,
    StringDeserializer,
    WaiterConfig,
)

SCRIPT = """
import os, time

def _log(line):
    fd = os.open(os.environ["ASYNC_TEST_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body.decode()

def predict_fn(data, model):
    _log("+ " + data)
    try:
        parts = data.split(":")
        if "raise" in parts:
            raise ValueError("boom " + data)
        if "sleep" in parts:
            time.sleep(float(parts[parts.index("sleep") + 1]))
        return "ok:" + data
    finally:
        _log("- " + data)

def output_fn(prediction, accept):
    return prediction, "text/plain"
"""
H = "X-Amzn-SageMaker-"
WAIT = WaiterConfig(max_attempts=300, delay=0.1)


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("code")
    (folder / "inference.py").write_text(SCRIPT)
    return folder


def deploy(
    url: str,
    code_dir: Path,
    name: str,
    *,
    async_config: dict | None = None,
    capture: dict | None = None,
) -> None:
    """Model ``name`` (the script), config and endpoint ``name``, waited for InService."""
    with Session(url) as session:
        session.create_model(
            ModelName=name,
            PrimaryContainer={
                "Image": "python",
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": str(code_dir),
                },
            },
        )
        config: dict = {
            "EndpointConfigName": name,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name}],
        }
        if async_config is not None:
            config["AsyncInferenceConfig"] = async_config
        if capture is not None:
            config["DataCaptureConfig"] = capture
        session.create_endpoint_config(**config)
        session.create_endpoint(EndpointName=name, EndpointConfigName=name)
        session.wait_for_endpoint(name, timeout=60)


def output_config(name: str, **extra) -> dict:
    return {
        "OutputConfig": {
            "S3OutputPath": f"s3://bucket/{name}/out",
            "S3FailurePath": f"s3://bucket/{name}/failed",
            **extra,
        }
    }


def calls(log: Path, prefix: str = "") -> list[str]:
    """Payloads the model started on (``+`` lines), in order."""
    if not log.exists():
        return []
    return [line[2:] for line in log.read_text().splitlines() if line.startswith(f"+ {prefix}")]


def wait_for(condition, timeout: float = 60.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message}: not met within {timeout} s")
        time.sleep(0.05)


def local(objects: Path, uri: str) -> Path:
    return objects / uri.removeprefix("s3://")


def invoke(http: httpx.Client, endpoint: str, location: str, **headers: str) -> httpx.Response:
    given = {f"{H}InputLocation": location, **{f"{H}{k}": v for k, v in headers.items()}}
    return http.post(f"/endpoints/{endpoint}/async-invocations", headers=given)


@pytest.fixture(scope="module")
def model_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("log") / "calls.log"


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type, code_dir, model_log):
    srv = server_type(
        tmp_path_factory.mktemp("server") / "data", {"ASYNC_TEST_LOG": str(model_log)}
    ).start()
    try:
        deploy(srv.url, code_dir, "basic", async_config=output_config("basic"))
        deploy(srv.url, code_dir, "realtime")
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def http(server):
    with server.client() as client:
        yield client


def test_boto3_invoke_endpoint_async_writes_the_output(server, http, model_log) -> None:
    http.put("/api/objects/bucket/in/boto.txt", content=b"boto")
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}),
    )
    inference_id = str(uuid.uuid4())
    answer = runtime.invoke_endpoint_async(
        EndpointName="basic",
        InputLocation="s3://bucket/in/boto.txt",
        InferenceId=inference_id,
        ContentType="text/plain",
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] == inference_id
    output, failure = answer["OutputLocation"], answer["FailureLocation"]
    name = output.removeprefix("s3://bucket/basic/out/").removesuffix(".out")
    assert str(uuid.UUID(name)) == name != inference_id
    assert failure == f"s3://bucket/basic/failed/{name}-error.out"
    wait_for(lambda: local(server.objects, output).exists(), message="output")
    assert local(server.objects, output).read_bytes() == b"ok:boto"
    assert not local(server.objects, failure).exists()
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint_async(EndpointName="nope", InputLocation="s3://bucket/in/boto.txt")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint nope" in caught.value.response["Error"]["Message"]


def test_sdk_predict_async_from_data_and_from_a_location(server, http) -> None:
    with Session(server.url) as session:
        predictor = Predictor("basic", session, deserializer=StringDeserializer())
        response = predictor.predict_async(data=b"sdk")
        assert response.output_path.startswith("s3://bucket/basic/out/")
        assert response.get_result(WAIT) == "ok:sdk"
        session.upload_bytes(b"raise", "s3://bucket/in/raise.txt")
        failing = AsyncPredictor(predictor).predict_async(input_path="s3://bucket/in/raise.txt")
        with pytest.raises(AsyncInferenceModelError) as caught:
            failing.get_result(WAIT)
        assert "ValueError: boom raise" in caught.value.message
        assert "Received server error (500)" in caught.value.message


def test_model_deploy_with_an_async_config_gives_an_async_predictor(server, code_dir) -> None:
    """SageMaker's SDK path: deploy(async_inference_config=...) with default locations."""
    with Session(server.url) as session:
        model = Model(
            image_uri="python",
            entry_point="inference.py",
            source_dir=str(code_dir),
            sagemaker_session=session,
        )
        predictor = model.deploy(
            endpoint_name="via-deploy",
            deserializer=StringDeserializer(),
            async_inference_config=AsyncInferenceConfig(max_concurrent_invocations_per_instance=2),
        )
        assert isinstance(predictor, AsyncPredictor)
        response = predictor.predict_async(data=b"deployed")
        bucket = session.default_bucket()
        assert response.output_path.startswith(f"s3://{bucket}/async-endpoint-outputs/via-deploy/")
        assert response.failure_path.startswith(
            f"s3://{bucket}/async-endpoint-failures/via-deploy/"
        )
        assert response.get_result(WAIT) == "ok:deployed"
        described = session.describe_endpoint("via-deploy")
        assert described["AsyncInferenceConfig"]["ClientConfig"] == {
            "MaxConcurrentInvocationsPerInstance": 2
        }


@pytest.mark.parametrize(
    ("endpoint", "headers", "body", "named"),
    [
        ("basic", {}, b"", "X-Amzn-SageMaker-InputLocation is required"),
        ("basic", {"InputLocation": "bucket/in/x"}, b"", "X-Amzn-SageMaker-InputLocation must"),
        ("basic", {"InputLocation": "s3://b/x", "RequestTTLSeconds": "30"}, b"", "RequestTTL"),
        (
            "basic",
            {"InputLocation": "s3://b/x", "InvocationTimeoutSeconds": "7200"},
            b"",
            "X-Amzn-SageMaker-InvocationTimeoutSeconds must be from 1 to 3600",
        ),
        ("basic", {"InputLocation": "s3://b/x"}, b"x" * 128_001, "128000"),
        ("realtime", {"InputLocation": "s3://b/x"}, b"", "has no AsyncInferenceConfig"),
        ("missing", {"InputLocation": "s3://b/x"}, b"", "Endpoint missing of account"),
    ],
)
def test_bad_input_answers_400_naming_the_header(http, endpoint, headers, body, named) -> None:
    response = http.post(
        f"/endpoints/{endpoint}/async-invocations",
        headers={f"{H}{k}": v for k, v in headers.items()},
        content=body,
    )
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-errortype"] == "ValidationError"
    assert named in response.json()["message"]


def test_the_same_inference_id_twice_is_processed_once(server, http, model_log) -> None:
    http.put("/api/objects/bucket/in/twice.txt", content=b"twice:sleep:0.3")
    first = invoke(http, "basic", "s3://bucket/in/twice.txt", **{"Inference-Id": "same-id"})
    second = invoke(http, "basic", "s3://bucket/in/twice.txt", **{"Inference-Id": "same-id"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() == {"InferenceId": "same-id"}
    location = first.headers[f"{H}OutputLocation"]
    assert second.headers[f"{H}OutputLocation"] == location
    wait_for(lambda: local(server.objects, location).exists(), message="output")
    wait_for(lambda: http.get("/api/async-queue").json() == [], message="queue drained")
    third = invoke(http, "basic", "s3://bucket/in/twice.txt", **{"Inference-Id": "same-id"})
    assert third.headers[f"{H}OutputLocation"] == location
    time.sleep(0.5)  # a wrongly queued repeat would run now
    assert calls(model_log, "twice") == ["twice:sleep:0.3"]


def test_a_burst_with_one_inference_id_is_processed_once(server, http, model_log) -> None:
    """Requests that arrive together are recorded in one transaction; the repeated
    inference id in it still maps to the first request."""
    http.put("/api/objects/bucket/in/burst.txt", content=b"burst")

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/endpoints/basic/async-invocations",
                        headers={
                            f"{H}InputLocation": "s3://bucket/in/burst.txt",
                            f"{H}Inference-Id": "burst-same" if i % 2 else f"burst-{i}",
                        },
                    )
                    for i in range(24)
                )
            )

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [202] * 24
    repeated = {a.headers[f"{H}OutputLocation"] for a in answers[1::2]}
    distinct = {a.headers[f"{H}OutputLocation"] for a in answers[0::2]}
    assert len(repeated) == 1 and len(distinct) == 12 and not repeated & distinct
    for location in repeated | distinct:
        wait_for(lambda loc=location: local(server.objects, loc).exists(), message=location)
    wait_for(lambda: http.get("/api/async-queue").json() == [], message="queue drained")
    assert calls(model_log, "burst") == ["burst"] * 13


def test_concurrency_never_exceeds_the_limit(server, http, code_dir, model_log) -> None:
    config = output_config("limited")
    config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": 3}
    deploy(server.url, code_dir, "limited", async_config=config)
    locations = []
    for index in range(24):
        key = f"in/limited-{index}.txt"
        http.put(f"/api/objects/bucket/{key}", content=f"conc:sleep:0.1:{index}".encode())
        response = invoke(http, "limited", f"s3://bucket/{key}")
        locations.append(response.headers[f"{H}OutputLocation"])
    wait_for(
        lambda: all(local(server.objects, uri).exists() for uri in locations), message="outputs"
    )
    lines = [line for line in model_log.read_text().splitlines() if line[2:].startswith("conc:")]
    steps = np.array([1 if line.startswith("+") else -1 for line in lines])
    assert steps.sum() == 0 and len(steps) == 48
    peak = int(np.cumsum(steps).max())
    assert peak == 3  # reached, never exceeded


def test_capture_applies_to_async_endpoints(server, http, code_dir) -> None:
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://bucket/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    deploy(
        server.url, code_dir, "captured", async_config=output_config("captured"), capture=capture
    )
    http.put("/api/objects/bucket/in/cap.txt", content=b"captured-payload")
    response = invoke(
        http,
        "captured",
        "s3://bucket/in/cap.txt",
        **{"Inference-Id": "cap-1"},
        ContentType="text/plain",
    )
    wait_for(lambda: local(server.objects, response.headers[f"{H}OutputLocation"]).exists())
    assert http.post("/api/capture/flush").json()["Flushed"]
    files = sorted((server.objects / "bucket" / "capture" / "captured").rglob("*.jsonl"))
    [record] = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert record["eventMetadata"]["inferenceId"] == "cap-1"
    captured = record["captureData"]
    assert captured["endpointInput"]["encoding"] == "BASE64"  # text/plain is neither CSV nor JSON
    assert base64.b64decode(captured["endpointInput"]["data"]) == b"captured-payload"
    assert base64.b64decode(captured["endpointOutput"]["data"]) == b"ok:captured-payload"


def test_cli_invoke_async_waits_for_the_result(server, http) -> None:
    http.put("/api/objects/bucket/in/cli.txt", content=b"cli")
    command = [sys.executable, "-m", "modelmon.cli", "invoke-async", "basic"]
    done = subprocess.run(
        [*command, "--input", "s3://bucket/in/cli.txt", "--wait", "--url", server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok:cli\n"
    assert "s3://bucket/basic/out/" in done.stderr
    http.put("/api/objects/bucket/in/cli-bad.txt", content=b"raise")
    failed = subprocess.run(
        [*command, "--input", "s3://bucket/in/cli-bad.txt", "--wait", "--url", server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "ValueError: boom raise" in failed.stderr


def test_a_separate_worker_process_serves_a_server_without_workers(
    start_server, code_dir, tmp_path, receiver
) -> None:
    log = tmp_path / "worker-calls.log"
    server = start_server(
        "noworkers", env={"MODELMON_ASYNC_WORKERS": "off", "ASYNC_TEST_LOG": str(log)}
    )
    with server.client() as http:
        [topic] = topics(http, receiver, "by-worker")
    config = output_config("queued", NotificationConfig={"SuccessTopic": topic})
    deploy(server.url, code_dir, "queued", async_config=config)
    with server.client() as http:
        http.put("/api/objects/bucket/in/w.txt", content=b"by-worker")
        response = invoke(http, "queued", "s3://bucket/in/w.txt")
        output = local(server.objects, response.headers[f"{H}OutputLocation"])
        time.sleep(1.0)  # the server alone never runs it
        assert not output.exists()
        assert http.get("/api/async-queue").json()[0]["QueueDepth"] == 1
        env = {**os.environ, "ASYNC_TEST_LOG": str(log)}
        env.pop("MODELMON_OBJECT_ROOT", None)
        worker_log = tmp_path / "worker.log"
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "modelmon.cli",
                    "worker",
                    "--data-dir",
                    str(server.data_dir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            wait_for(output.exists, message=f"output by the worker ({worker_log})")
            assert output.read_bytes() == b"ok:by-worker"
            wait_for(lambda: http.get("/api/async-queue").json() == [], message="queue drained")
            # published by the worker, delivered by the server
            wait_for(lambda: receiver.messages(topic), message="notification")
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0, worker_log.read_text()
    assert calls(log) == ["by-worker"]
    [message] = receiver.messages(topic)
    assert message["responseParameters"]["outputLocation"] == response.headers[f"{H}OutputLocation"]


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_worker_process_is_restarted_and_never_outlives_its_server(
    start_server, code_dir, tmp_path
) -> None:
    server = start_server("lifecycle", env={"ASYNC_TEST_LOG": str(tmp_path / "calls.log")})
    deploy(server.url, code_dir, "life", async_config=output_config("life"))
    assert server.process is not None
    [first] = children(server.process.pid)  # the worker `modelmon serve` started
    with server.client() as http:
        http.put("/api/objects/bucket/in/life.txt", content=b"life")
        output = local(
            server.objects,
            invoke(http, "life", "s3://bucket/in/life.txt").headers[f"{H}OutputLocation"],
        )
        wait_for(output.exists, message="output by the first worker")
        os.kill(first, signal.SIGKILL)  # a crashed worker is replaced
        wait_for(lambda: children(server.process.pid) not in ([], [first]), 30, "a new worker")
        [second] = children(server.process.pid)
        output = local(
            server.objects,
            invoke(http, "life", "s3://bucket/in/life.txt").headers[f"{H}OutputLocation"],
        )
        wait_for(output.exists, message="output by the second worker")
    server.kill()  # kill -9: the worker sees its link to the server close and stops
    wait_for(lambda: not alive(second), 45, "the worker to stop with its server")


# ------------------------------------------------------------------ notifications


class Receiver:
    """A webhook receiver on loopback: every POSTed SNS notification, as parsed JSON."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                with outer.lock:
                    outer.got.append(json.loads(body))

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def messages(self, topic: str | None = None, *, tests: bool = False) -> list[dict]:
        """Messages (parsed) of distinct MessageIds, on ``topic`` if given; the endpoints'
        TestNotifications only with ``tests``."""
        with self.lock:
            got = list(self.got)
        seen: dict[str, dict] = {}
        for item in got:
            if topic is None or item["TopicArn"] == topic:
                seen.setdefault(item["MessageId"], json.loads(item["Message"]))
        return [m for m in seen.values() if tests or m.get("eventName") != "TestNotification"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


def topics(http: httpx.Client, receiver: Receiver, *names: str) -> list[str]:
    arns = []
    for name in names:
        arn = http.post("/api/topics", json={"Name": name}).json()["TopicArn"]
        subscribed = http.post(
            "/api/subscriptions",
            json={"TopicArn": arn, "Protocol": "http", "Endpoint": receiver.url},
        )
        assert subscribed.status_code == 201, subscribed.text
        arns.append(arn)
    return arns


TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_success_and_error_notifications_carry_the_spec_bodies(
    server, http, code_dir, receiver
) -> None:
    success, error = topics(http, receiver, "async-success", "async-error")
    config = output_config(
        "notified",
        NotificationConfig={
            "SuccessTopic": success,
            "ErrorTopic": error,
            "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"],
        },
    )
    deploy(server.url, code_dir, "notified", async_config=config)
    http.put("/api/objects/bucket/in/note-ok.txt", content=b"note")
    http.put("/api/objects/bucket/in/note-raise.txt", content=b"raise")
    ok = invoke(
        http,
        "notified",
        "s3://bucket/in/note-ok.txt",
        **{"Inference-Id": "note-ok", "Content-Type": "text/plain", "Accept": "text/plain"},
    )
    bad = invoke(http, "notified", "s3://bucket/in/note-raise.txt", **{"Inference-Id": "note-bad"})
    missing = invoke(
        http, "notified", "s3://bucket/in/not-there.txt", **{"Inference-Id": "note-missing"}
    )
    wait_for(lambda: len(receiver.messages(success)) == 1, message="success notification")
    wait_for(lambda: len(receiver.messages(error)) == 2, message="error notifications")

    [done] = receiver.messages(success)
    assert list(done) == [
        "awsRegion",
        "eventTime",
        "receivedTime",
        "invocationStatus",
        "requestParameters",
        "responseParameters",
        "responseBody",
        "inferenceId",
        "eventVersion",
        "eventSource",
        "eventName",
    ]
    assert TIME.match(done["eventTime"]) and TIME.match(done["receivedTime"])
    assert done["receivedTime"] <= done["eventTime"]
    assert done["invocationStatus"] == "Completed" and done["inferenceId"] == "note-ok"
    assert done["requestParameters"] == {
        "accept": "text/plain",
        "contentType": "text/plain",
        "endpointName": "notified",
        "inputLocation": "s3://bucket/in/note-ok.txt",
    }
    assert done["responseParameters"] == {
        "contentType": "text/plain",
        "outputLocation": ok.headers[f"{H}OutputLocation"],
    }
    assert base64.b64decode(done["responseBody"]["content"]) == b"ok:note"
    assert done["responseBody"]["encoding"] == "BASE64"
    assert (done["awsRegion"], done["eventVersion"], done["eventSource"], done["eventName"]) == (
        "us-east-1",
        "1.0",
        "aws:sagemaker",
        "InferenceResult",
    )

    failures = {m["inferenceId"]: m for m in receiver.messages(error)}
    raised, absent = failures["note-bad"], failures["note-missing"]
    for message, response in ((raised, bad), (absent, missing)):
        assert message["invocationStatus"] == "Failed"
        assert "responseBody" not in message  # only asked for on the success topic
        location = response.headers[f"{H}FailureLocation"]
        assert message["responseParameters"] == {"failureLocation": location}
        text = local(server.objects, location).read_text()
        assert text == message["failureReason"]
        assert not local(server.objects, response.headers[f"{H}OutputLocation"]).exists()
    assert "ValueError: boom raise" in raised["failureReason"]
    assert raised["failureReason"].startswith("ClientError: Received server error (500)")
    assert "s3://bucket/in/not-there.txt" in absent["failureReason"]
    assert "no such file" in absent["failureReason"]
    # each topic also got SageMaker's TestNotification, once, when the endpoint came up
    test_body = {"eventVersion": "1.0", "eventSource": "aws:sagemaker"}
    test_body["eventName"] = "TestNotification"
    for topic in (success, error):
        tests = [m for m in receiver.messages(topic, tests=True) if "inferenceId" not in m]
        assert tests == [test_body]


# ------------------------------------------------------------------ reliability


@pytest.mark.slow
def test_kill_9_with_1000_requests_queued_each_ends_once(server_type, tmp_path, code_dir) -> None:
    log = tmp_path / "calls.log"
    # queued with the workers off, so that the kill finds them queued and running
    env = {"ASYNC_TEST_LOG": str(log), "MODELMON_ASYNC_WORKERS": "off"}
    server = server_type(tmp_path / "data", env).start()
    hook = Receiver()
    accepted: dict[str, tuple[str, str, str]] = {}  # inference id -> payload, output, failure
    try:
        with server.client() as http:
            success, error = topics(http, hook, "kill-success", "kill-error")
        config = output_config(
            "reliable", NotificationConfig={"SuccessTopic": success, "ErrorTopic": error}
        )
        config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": 4}
        deploy(server.url, code_dir, "reliable", async_config=config)

        def send(worker: int) -> None:
            with server.client() as client:
                for index in range(worker, 1000, 8):
                    payload = f"r:{index}:" + ("raise" if index % 10 == 0 else "sleep:0.01")
                    response = client.post(
                        "/endpoints/reliable/async-invocations",
                        content=payload,
                        headers={
                            f"{H}InputLocation": f"s3://bucket/in/inline-{index}",
                            f"{H}Inference-Id": f"kill-{index}",
                        },
                    )
                    assert response.status_code == 202, response.text
                    accepted[f"kill-{index}"] = (
                        payload,
                        response.headers[f"{H}OutputLocation"],
                        response.headers[f"{H}FailureLocation"],
                    )

        senders = [threading.Thread(target=send, args=(w,)) for w in range(8)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        assert len(accepted) == 1000
        server.stop()
        server.env["MODELMON_ASYNC_WORKERS"] = "on"
        server.start()

        def ended(item: tuple[str, str, str]) -> bool:
            return (
                local(server.objects, item[1]).exists() or local(server.objects, item[2]).exists()
            )

        wait_for(lambda: sum(ended(item) for item in accepted.values()) >= 100, 120, "100 ended")
        assert server.process is not None
        workers = children(server.process.pid)
        server.kill()  # SIGKILL: requests queued and running, notifications not yet delivered
        done_at_kill = sum(ended(item) for item in accepted.values())
        assert done_at_kill < 1000
        server.start()
        wait_for(lambda: all(ended(item) for item in accepted.values()), 300, "every request ended")
        with server.client() as http:
            wait_for(lambda: http.get("/api/async-queue").json() == [], 60, "queue drained")
        wait_for(lambda: len(hook.messages()) >= 1000, 120, "a notification per request")
        time.sleep(1.0)  # a duplicate message would arrive now
    finally:
        server.stop()
        hook.close()

    for inference_id, (payload, output, failure) in accepted.items():
        failed = payload.endswith("raise")
        assert local(server.objects, output).exists() is not failed, inference_id
        assert local(server.objects, failure).exists() is failed, inference_id
        if not failed:
            assert local(server.objects, output).read_text() == f"ok:{payload}"
    written = [p for p in (server.objects / "bucket" / "reliable").rglob("*") if p.is_file()]
    # no stray or partial objects; a write cut by the kill leaves a hidden temporary file
    # (never listed as an object), counted below
    temporary = [p for p in written if p.name.startswith(".")]
    assert len(written) - len(temporary) == 1000
    messages = hook.messages()
    per_inference = [m["inferenceId"] for m in messages]
    assert sorted(per_inference) == sorted(accepted)  # exactly one message per inference
    statuses = {m["inferenceId"]: m["invocationStatus"] for m in messages}
    assert all(
        statuses[i] == ("Failed" if p.endswith("raise") else "Completed")
        for i, (p, _, _) in accepted.items()
    )
    # the killed server's worker process stopped by itself
    wait_for(lambda: not any(alive(pid) for pid in workers), 45, "the old worker to stop")
    deliveries = len(hook.got)
    runs = len(calls(log, "r:"))
    print(
        f"\nkill -9: {done_at_kill} of 1000 ended before the kill; model runs {runs} "
        f"({runs - 1000} repeated after the crash); {len(messages)} messages, "
        f"{deliveries} deliveries ({deliveries - len(messages)} repeated deliveries of a "
        f"MessageId); {len(temporary)} temporary files left by writes the kill cut"
    )


@pytest.mark.parametrize(
    ("async_config", "named"),
    [
        ({"OutputConfig": {}}, "AsyncInferenceConfig.OutputConfig.S3OutputPath"),
        (
            {
                "OutputConfig": {"S3OutputPath": "s3://bucket/o"},
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 5000},
            },
            "AsyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance",
        ),
    ],
)
def test_a_malformed_async_config_is_refused_at_creation(http, async_config, named) -> None:
    response = http.post(
        "/api/endpoint-configs",
        json={
            "EndpointConfigName": "malformed",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "basic"}],
            "AsyncInferenceConfig": async_config,
        },
    )
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
