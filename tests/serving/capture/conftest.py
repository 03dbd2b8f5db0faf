"""Fixtures for the capture tests: an object root for s3:// URIs, events, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from modelmon.analysis.readers import iter_capture_records
from modelmon.errors import InputError
from modelmon.formats.capture import CaptureContentTypes
from modelmon.serving.capture import CaptureEvent
from modelmon.storage.files import expand, object_root

DEST = "s3://capture-bucket/datacapture"
START = datetime(2024, 5, 6, 7, 8, 9, 250_000, tzinfo=UTC)


@pytest.fixture
def objects(tmp_path, monkeypatch):
    """s3:// URIs map into tmp_path/objects (no S3 service)."""
    monkeypatch.delenv("MODELMON_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(tmp_path / "objects"))
    assert object_root() == str(tmp_path / "objects")
    return tmp_path / "objects"


@pytest.fixture
def make_event() -> Callable[..., CaptureEvent]:
    """Event ``i``: input ``"i,2i"``, output ``"i/10"``, inference id ``str(i)``."""

    def make(
        i: int, when: datetime | None = None, *, destination: str = DEST, **fields
    ) -> CaptureEvent:
        values = {
            "destination": destination,
            "endpoint": "my-endpoint",
            "variant": "AllTraffic",
            "request_body": f"{i},{2 * i}".encode(),
            "request_content_type": "text/csv",
            "response_body": f"{i / 10}".encode(),
            "response_content_type": "text/csv; charset=utf-8",
            "content_types": CaptureContentTypes(),
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "inference_id": str(i),
            "inference_time": when or START + timedelta(milliseconds=i),
        }
        return CaptureEvent(**(values | fields))

    return make


@pytest.fixture
def wait_for() -> Callable[..., None]:
    def wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the capture writer")
            time.sleep(0.01)

    return wait


@pytest.fixture
def published() -> Callable[[str], dict[str, list[dict]]]:
    """{uri: records} of every capture file under a URI, each line checked whole."""

    def read(uri: str = DEST) -> dict[str, list[dict]]:
        try:
            files = expand(uri)
        except InputError:  # nothing published yet
            return {}
        out = {}
        for file in files:
            records = [record for _, record in iter_capture_records(file)]
            out[file] = records
        return out

    return read
