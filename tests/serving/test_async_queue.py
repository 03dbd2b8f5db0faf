"""The asynchronous inference queue, request checks, notification bodies and worker, in process:
real SQLite, real files, a real script model."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import event

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.leases import instance_name
from modelmon.errors import InputError
from modelmon.formats.async_notification import inference_result
from modelmon.serving.async_queue import AsyncQueue, Finished
from modelmon.serving.async_request import AsyncConfig, parse_request
from modelmon.serving.async_worker import AsyncWorker
from modelmon.serving.host import LiveEndpoint, Variant
from modelmon.serving.runtimes import load_runtime
from modelmon.storage import files

H = "x-amzn-sagemaker-"
CONFIG = {
    "OutputConfig": {"S3OutputPath": "s3://b/out/", "S3FailurePath": "s3://b/fail"},
    "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
}
SCRIPT = """
import os, time

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body.decode()

def predict_fn(data, model):
    with open(os.environ["ASYNC_TEST_LOG"], "a") as log:
        log.write(data + "\\n")
    if data.startswith("raise"):
        raise ValueError("boom")
    if data.startswith("sleep:"):
        time.sleep(float(data.split(":")[1]))
    return "ok:" + data

def output_fn(prediction, accept):
    return prediction, "text/plain"
"""


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELMON_OBJECT_ROOT", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.prepare()
    db = Database(settings.database_url)
    clock = Clock()
    yield {"db": db, "clock": clock, "queue": AsyncQueue(db, clock=clock), "tmp": tmp_path}
    db.dispose()


def _request(location: str = "s3://b/in/x.csv", **headers: str):
    given = {f"{H}inputlocation": location, **{f"{H}{k.lower()}": v for k, v in headers.items()}}
    return parse_request("ep", given, b"")


# ------------------------------------------------------------------ request checks


@pytest.mark.parametrize(
    ("headers", "body", "field"),
    [
        ({}, b"", "X-Amzn-SageMaker-InputLocation"),
        ({f"{H}inputlocation": "ftp://b/x"}, b"", "X-Amzn-SageMaker-InputLocation"),
        ({f"{H}inputlocation": "s3://b/x", f"{H}requestttlseconds": "59"}, b"", "RequestTTL"),
        ({f"{H}inputlocation": "s3://b/x", f"{H}requestttlseconds": "21601"}, b"", "RequestTTL"),
        ({f"{H}inputlocation": "s3://b/x", f"{H}requestttlseconds": "ten"}, b"", "RequestTTL"),
        (
            {f"{H}inputlocation": "s3://b/x", f"{H}invocationtimeoutseconds": "0"},
            b"",
            "InvocationTimeoutSeconds",
        ),
        (
            {f"{H}inputlocation": "s3://b/x", f"{H}invocationtimeoutseconds": "3601"},
            b"",
            "InvocationTimeoutSeconds",
        ),
        ({f"{H}inputlocation": "s3://b/x", f"{H}filename": "a" * 33}, b"", "Filename"),
        ({f"{H}inputlocation": "s3://b/x", f"{H}inference-id": "i" * 65}, b"", "Inference-Id"),
        ({f"{H}inputlocation": "s3://b/x"}, b"x" * 128_001, "Body"),
    ],
)
def test_bad_requests_name_the_header(headers, body, field) -> None:
    with pytest.raises(InputError) as caught:
        parse_request("ep", headers, body)
    assert field in caught.value.field


def test_defaults_and_locations() -> None:
    request = _request()
    assert (request.ttl_seconds, request.timeout_seconds) == (21_600, 900)
    config = AsyncConfig.from_config(CONFIG)
    assert config is not None and config.max_concurrency == 2
    assert config.locations(request, "u-1") == ("s3://b/out/u-1.out", "s3://b/fail/u-1-error.out")
    named = _request(**{"S3OutputPathExtension": "day/1", "Filename": "result.json"})
    assert config.locations(named, "u-2") == (
        "s3://b/out/day/1/result.json",
        "s3://b/fail/day/1/u-2-error.out",
    )
    only_output = AsyncConfig.from_config({"OutputConfig": {"S3OutputPath": "s3://b/o"}})
    assert only_output is not None and only_output.failure_path == "s3://b/o"
    with pytest.raises(InputError, match="S3OutputPath"):
        AsyncConfig.from_config({"OutputConfig": {}})
    with pytest.raises(InputError, match="MaxConcurrentInvocationsPerInstance"):
        AsyncConfig.from_config(
            {
                "OutputConfig": {"S3OutputPath": "s3://b/o"},
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 0},
            }
        )


# ------------------------------------------------------------------ notification bodies


def test_notification_bodies_are_compact_json_in_spec_order() -> None:
    at = dt.datetime(2022, 1, 25, 22, 46, 0, 608_000, tzinfo=dt.UTC)
    received = dt.datetime(2022, 1, 25, 22, 46, 0, 455_999, tzinfo=dt.UTC)
    common = {
        "region": "us-east-1",
        "event_at": at,
        "received_at": received,
        "endpoint_name": "ep",
        "input_location": "s3://b/in/x.csv",
        "content_type": "text/csv",
        "accept": None,
        "inference_id": "11111111-2222-3333-4444-555555555555",
    }
    text = inference_result(
        **common, response_content_type="text/csv; charset=utf-8", output_location="s3://b/o.out"
    )
    assert text == (
        '{"awsRegion":"us-east-1","eventTime":"2022-01-25T22:46:00.608Z",'
        '"receivedTime":"2022-01-25T22:46:00.455Z","invocationStatus":"Completed",'
        '"requestParameters":{"contentType":"text/csv","endpointName":"ep",'
        '"inputLocation":"s3://b/in/x.csv"},"responseParameters":{"contentType":'
        '"text/csv; charset=utf-8","outputLocation":"s3://b/o.out"},'
        '"inferenceId":"11111111-2222-3333-4444-555555555555","eventVersion":"1.0",'
        '"eventSource":"aws:sagemaker","eventName":"InferenceResult"}'
    )
    with_body = json.loads(
        inference_result(
            **{**common, "accept": "application/json"},
            response_content_type="application/json",
            output_location="s3://b/o.out",
            response_body=b'{"p": 0.5}',
        )
    )
    assert list(with_body) == [
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
    assert list(with_body["requestParameters"]) == [
        "accept",
        "contentType",
        "endpointName",
        "inputLocation",
    ]
    assert base64.b64decode(with_body["responseBody"]["content"]) == b'{"p": 0.5}'
    assert with_body["responseBody"]["encoding"] == "BASE64"
    large = json.loads(
        inference_result(
            **common,
            response_content_type="x",
            output_location="s3://b/o.out",
            response_body=b"x" * (128 * 1024 + 1),
        )
    )
    assert "responseBody" not in large
    error = json.loads(
        inference_result(
            **common, failure_reason="ClientError: boom", failure_location="s3://b/f-error.out"
        )
    )
    assert list(error)[:6] == [
        "awsRegion",
        "eventTime",
        "receivedTime",
        "invocationStatus",
        "failureReason",
        "requestParameters",
    ]
    assert error["invocationStatus"] == "Failed"
    assert error["responseParameters"] == {"failureLocation": "s3://b/f-error.out"}


# ------------------------------------------------------------------ the queue


def test_same_inference_id_is_queued_once(world) -> None:
    queue, config = world["queue"], AsyncConfig.from_config(CONFIG)
    first = queue.enqueue(_request(**{"Inference-Id": "abc"}), config)
    again = queue.enqueue(_request(**{"Inference-Id": "abc"}), config)
    other = queue.enqueue(_request(), config)
    assert first.created and not again.created and other.created
    assert (again.id, again.output_location, again.failure_location) == (
        first.id,
        first.output_location,
        first.failure_location,
    )
    assert other.inference_id != first.inference_id
    assert len(queue.claim("w", "ep", 10)) == 2


def test_enqueues_of_one_batch_are_one_insert_and_the_first_keeps_its_id(world) -> None:
    queue, config = world["queue"], AsyncConfig.from_config(CONFIG)
    earlier = queue.enqueue(_request(**{"Inference-Id": "abc"}), config)
    ids = ["x", "abc", "y", "x", None]
    inserts = [queue._insert(_request(**({"Inference-Id": i} if i else {})), config) for i in ids]
    with world["db"].engine.begin() as connection:  # the writer thread's batch, run here
        answers = queue._insert_many(connection, inserts)
    assert [a.created for a in answers] == [True, False, True, False, True]
    assert answers[1].id == earlier.id and answers[1].output_location == earlier.output_location
    assert answers[3].id == answers[0].id == inserts[0].values["id"]
    assert answers[3].output_location == answers[0].output_location
    assert answers[4].inference_id not in ids
    jobs = queue.claim("w", "ep", 10)
    assert sorted(job.inference_id for job in jobs) == sorted(
        ["abc", "x", "y", answers[4].inference_id]
    )


def test_a_claim_looks_its_rows_up_by_id_whatever_the_queue_depth(world) -> None:
    """SQLite served the status OR through the work index: every claim walked all
    Pending rows. The plan must look the claimed ids up by primary key."""
    queue, config = world["queue"], AsyncConfig.from_config(CONFIG)
    for index in range(50):
        queue.enqueue(_request(f"s3://b/in/{index}"), config)
    engine = world["db"].engine
    updates = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.startswith("UPDATE async_invocations"):
            updates.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert len(queue.claim("w", "ep", 8)) == 8
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    [(statement, parameters)] = updates
    with engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    details = " | ".join(row[-1] for row in plan)
    assert "ix_async_invocations_work" not in details, details
    assert "(id=?)" in details, details


def test_leases_expire_and_only_the_owner_finishes(world) -> None:
    queue, clock, config = world["queue"], world["clock"], AsyncConfig.from_config(CONFIG)
    queued = queue.enqueue(_request(), config)
    [job] = queue.claim("w1", "ep", 5)
    assert job.id == queued.id and job.attempts == 1
    assert queue.claim("w2", "ep", 5) == []  # leased
    clock.advance(20)
    queue.renew("w1", [job.id])
    clock.advance(20)
    assert queue.claim("w2", "ep", 5) == []  # renewed 20 s ago, lease 30 s
    clock.advance(11)
    [taken] = queue.claim("w2", "ep", 5)
    assert taken.attempts == 2
    assert not queue.finish("w1", job.id, "Completed").result()  # lost its lease
    assert queue.finish("w2", job.id, "Completed", response_content_type="text/plain").result()
    assert queue.claim("w3", "ep", 5) == []


def test_finish_many_records_only_what_the_owner_holds(world) -> None:
    queue, config = world["queue"], AsyncConfig.from_config(CONFIG)
    for index in range(3):
        queue.enqueue(_request(f"s3://b/in/{index}"), config)
    mine = queue.claim("w1", "ep", 2)
    [theirs] = queue.claim("w2", "ep", 5)
    outcomes = [
        Finished(mine[0].id, "Completed", "text/csv"),
        Finished(mine[1].id, "Failed", None, "ClientError: no"),
        Finished(theirs.id, "Completed"),  # not w1's
    ]
    assert queue.finish_many("w1", outcomes).result() == 2
    assert queue.finish_many("w1", []).result() == 0
    states = {job.id: queue.describe("ep", job.inference_id) for job in [*mine, theirs]}
    assert states[mine[0].id]["Status"] == "Completed"
    assert states[mine[1].id]["Status"] == "Failed"
    assert states[mine[1].id]["FailureReason"] == "ClientError: no"
    assert states[theirs.id]["Status"] == "InProgress"


def test_a_dead_owner_on_this_host_is_taken_over_at_once(world) -> None:
    queue, config = world["queue"], AsyncConfig.from_config(CONFIG)
    queue.enqueue(_request(), config)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = f"{instance_name().split(':')[0]}:{child.stdout.strip()}:abcd"
    assert len(queue.claim(dead, "ep", 1)) == 1
    assert queue.claim("w2", "ep", 1) == []
    assert queue.recover("w2") == 1
    assert len(queue.claim("w2", "ep", 1)) == 1


def test_stats_match_an_independent_count(world) -> None:
    queue, clock = world["queue"], world["clock"]
    config = AsyncConfig.from_config(CONFIG)
    received = []
    for index, endpoint in enumerate(["a", "b", "a", "a", "b", "c"]):
        request = parse_request(endpoint, {f"{H}inputlocation": "s3://b/x"}, b"")
        received.append((endpoint, clock.now, queue.enqueue(request, config).id))
        clock.advance(1.5 + index)
    queue.claim("w", "a", 2)
    [done] = queue.claim("w", "c", 1)
    queue.finish("w", done.id, "Completed").result()
    clock.advance(3)
    frame = pd.DataFrame(received, columns=["endpoint", "received", "id"])
    frame["status"] = "Pending"
    frame.loc[frame.index[[0, 2]], "status"] = "InProgress"
    frame.loc[frame.endpoint == "c", "status"] = "Completed"
    open_ = frame[frame.status != "Completed"]
    expected = [
        {
            "EndpointName": name,
            "QueueDepth": int((group.status == "Pending").sum()),
            "InFlight": int((group.status == "InProgress").sum()),
            "OldestRequestAgeSeconds": (clock.now - group.received.min()).total_seconds(),
        }
        for name, group in open_.groupby("endpoint")
    ]
    assert queue.stats() == expected


# ------------------------------------------------------------------ the worker


@pytest.fixture
def endpoint(tmp_path, monkeypatch) -> LiveEndpoint:
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(SCRIPT)
    monkeypatch.setenv("ASYNC_TEST_LOG", str(tmp_path / "calls.log"))
    runtime = load_runtime("python", code, {"SAGEMAKER_PROGRAM": "inference.py"})
    variant = Variant("v", "m", 1.0, runtime)
    return LiveEndpoint.build("ep", "cfg", 1, (variant,), None, CONFIG)


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_worker_expires_times_out_and_keeps_an_earlier_outcome(world, endpoint) -> None:
    queue, clock, tmp = world["queue"], world["clock"], world["tmp"]
    config = AsyncConfig.from_config(CONFIG)
    published: list[tuple[str, str, str]] = []
    files.atomic_write_bytes("s3://b/in/late", b"late")
    files.atomic_write_bytes("s3://b/in/slow", b"sleep:3")
    late = queue.enqueue(_request("s3://b/in/late", RequestTTLSeconds="60"), config)
    clock.advance(61)
    slow = queue.enqueue(_request("s3://b/in/slow", InvocationTimeoutSeconds="1"), config)
    worker = AsyncWorker(
        queue,
        lambda: {"ep": endpoint},
        region="us-east-1",
        clock=clock,
        publish=lambda *args: published.append(args),
    ).start()
    try:
        _wait(lambda: files.exists(late.failure_location) and files.exists(slow.failure_location))
        assert "RequestTTLSeconds (60 s)" in files.open_raw(late.failure_location).read().decode()
        assert "InvocationTimeoutSeconds (1 s)" in (
            files.open_raw(slow.failure_location).read().decode()
        )
        assert _calls(tmp) == ["sleep:3"]  # the expired request never ran
        _wait(lambda: worker.in_flight() == 0)  # the slow model keeps its slot until it returns
        assert not files.exists(slow.output_location)
        # a request claimed again after a crash keeps the outcome written before it
        again = queue.enqueue(_request("s3://b/in/late"), config)
        files.atomic_write_bytes(again.output_location, b"ok:earlier")
        [job] = queue.claim("crashed", "ep", 1)
        clock.advance(31)
        worker.wake()
        _wait(lambda: queue.stats() == [])
        assert files.open_raw(again.output_location).read() == b"ok:earlier"
        assert _calls(tmp) == ["sleep:3"]
        assert job.id == again.id
    finally:
        worker.stop()
    assert published == []  # no topics configured


def test_requests_behind_a_timed_out_one_in_its_thread_move_to_another(world, endpoint) -> None:
    queue, tmp = world["queue"], world["tmp"]
    config = AsyncConfig.from_config(CONFIG)  # two invocations at once
    files.atomic_write_bytes("s3://b/in/hang", b"sleep:8")
    files.atomic_write_bytes("s3://b/in/fast", b"fast")
    hang = queue.enqueue(_request("s3://b/in/hang", InvocationTimeoutSeconds="1"), config)
    fast = [queue.enqueue(_request("s3://b/in/fast"), config) for _ in range(4)]
    worker = AsyncWorker(queue, lambda: {"ep": endpoint}, region="us-east-1", clock=world["clock"])
    worker._job_seconds["ep"] = 1e-4  # a fast model: all five run in turn in one thread
    worker.start()
    try:
        _wait(lambda: all(files.exists(f.output_location) for f in fast))
        assert "InvocationTimeoutSeconds (1 s)" in files.read_bytes(hang.failure_location).decode()
        assert worker.in_flight() == 1  # the hanging model still holds its thread
        assert _calls(tmp)[0] == "sleep:8" and _calls(tmp)[1:] == ["fast"] * 4
    finally:
        worker.stop(timeout=0.5)
