"""Capture under stress: graceful stops lose nothing, kill -9 loses at most the last second."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from modelmon.sdk import DataCaptureConfig, Model, Session

BODY = "0.5,-1.25,3.0,0.0,2.5"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 5))
    path = tmp_path_factory.mktemp("model") / "ridge.joblib"
    joblib.dump(Ridge().fit(x, x @ np.arange(5.0)), path)
    return path


def _deploy(url: str, model_file: Path, percentage: int = 100) -> None:
    with Session(url) as session:
        Model(
            image_uri="sklearn", model_data=str(model_file), name="m", sagemaker_session=session
        ).deploy(
            endpoint_name="ep",
            data_capture_config=DataCaptureConfig(True, percentage, "s3://bucket/capture"),
        )


def _load(url: str, stop: threading.Event, acked: list[tuple[str, float]], threads: int = 4):
    """Requests with unique inference ids until ``stop``; ``acked`` gets (id, time of 200)."""

    def run(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            i = 0
            while not stop.is_set():
                inference_id = f"w{worker}-{i}"
                i += 1
                try:
                    response = http.post(
                        "/endpoints/ep/invocations",
                        content=BODY,
                        headers={
                            "Content-Type": "text/csv",
                            "X-Amzn-SageMaker-Inference-Id": inference_id,
                        },
                    )
                except httpx.HTTPError:
                    return  # the server went away
                if response.status_code == 200:
                    acked.append((inference_id, time.monotonic()))

    workers = [threading.Thread(target=run, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def _captured_ids(objects: Path) -> list[str]:
    ids = []
    for file in sorted((objects / "bucket" / "capture").rglob("*.jsonl")):
        text = file.read_text(encoding="utf-8")
        assert text.endswith("\n"), f"{file} ends in a partial line"
        for line in text.splitlines():
            ids.append(json.loads(line)["eventMetadata"]["inferenceId"])
    return ids


def test_graceful_stop_under_load_publishes_every_captured_record(
    tmp_path, model_file, server_type
) -> None:
    server = server_type(tmp_path / "data").start()
    stop = threading.Event()
    acked: list[tuple[str, float]] = []
    try:
        _deploy(server.url, model_file)
        workers = _load(server.url, stop, acked)
        time.sleep(1.5)
        assert server.stop() == 0  # SIGTERM while requests are in flight
    finally:
        stop.set()
        server.kill()
    for worker in workers:
        worker.join()
    captured = _captured_ids(server.objects)
    assert len(acked) > 50
    assert len(captured) == len(set(captured))
    assert {i for i, _ in acked} <= set(captured)  # every answered request was captured


@pytest.mark.slow
def test_kill_9_under_load_loses_at_most_the_last_second(tmp_path, model_file, server_type) -> None:
    server = server_type(tmp_path / "data").start()
    stop = threading.Event()
    acked: list[tuple[str, float]] = []
    try:
        _deploy(server.url, model_file)
        workers = _load(server.url, stop, acked)
        time.sleep(3.0)
        killed_at = time.monotonic()
        server.kill()  # SIGKILL: no shutdown, no flush
    finally:
        stop.set()
    for worker in workers:
        worker.join()
    before_restart = _captured_ids(server.objects)  # nothing visible is partial
    server.start()  # recovery publishes what the spool holds, cut at the last whole line
    try:
        with Session(server.url) as session:
            assert session.describe_endpoint("ep")["EndpointStatus"] == "InService"
    finally:
        assert server.stop() == 0
    captured = _captured_ids(server.objects)
    assert set(before_restart) <= set(captured)
    assert len(captured) == len(set(captured))
    older = {i for i, at in acked if at < killed_at - 1.0}
    assert len(older) > 50
    assert older <= set(captured), f"lost {len(older - set(captured))} records older than 1 s"


def test_capture_pauses_above_the_disk_threshold(tmp_path, model_file, server_type) -> None:
    # any disk in use is above a threshold of 1e-9: capture pauses, requests are served
    server = server_type(tmp_path / "data", {"MODELMON_CAPTURE_DISK_THRESHOLD": "1e-9"}).start()
    try:
        _deploy(server.url, model_file)
        with httpx.Client(base_url=server.url) as http:
            for _ in range(30):
                response = http.post(
                    "/endpoints/ep/invocations", content=BODY, headers={"Content-Type": "text/csv"}
                )
                assert response.status_code == 200
            counters = http.get("/api/capture").json()
    finally:
        server.stop()
    assert counters["dropped_disk"] == 30 and counters["captured"] == 0
    assert _captured_ids(server.objects) == []
