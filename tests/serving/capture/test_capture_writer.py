"""CaptureWriter: real spool files published into an object root, read back by the analyzer."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from modelmon.analysis.readers import DatasetFormat, read_batches
from modelmon.serving.capture import CaptureWriter
from modelmon.storage.files import local_path

DEST = "s3://capture-bucket/datacapture"
NAME = re.compile(r"/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[0-9a-f-]{36}\.jsonl$")


def writer(tmp_path: Path, **options) -> CaptureWriter:
    options.setdefault("disk_usage", lambda: 0.0)
    options.setdefault("flush_interval", 0.05)
    return CaptureWriter(tmp_path / "spool", **options)


def spool_files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "spool").glob("*") if p.is_file())


def ids(records: list[dict]) -> list[int]:
    return [int(r["eventMetadata"]["inferenceId"]) for r in records]


def test_two_hours_two_folders_read_by_the_analyzer(tmp_path, objects, make_event, published):
    base = datetime(2024, 5, 6, 0, 59, 58, tzinfo=UTC)
    events = [make_event(k, base + timedelta(milliseconds=100 * k)) for k in range(40)]
    with writer(tmp_path) as w:
        assert all(w.submit(e) for e in events)
    counts = w.counters()
    assert counts["captured"] == counts["written"] == 40
    assert counts["files_published"] == 2 and counts["pending_files"] == 0
    assert spool_files(tmp_path) == []

    files = published()
    assert len(files) == 2
    by_hour = {}
    for uri, records in files.items():
        assert uri.startswith(f"{DEST}/my-endpoint/AllTraffic/2024/05/06/")
        hour, minute, second, millis = NAME.search(uri).groups()
        by_hour[hour] = ids(records)
        first = base + timedelta(milliseconds=100 * ids(records)[0])  # named after record 1
        assert (minute, second, millis) == (
            f"{first.minute:02d}",
            f"{first.second:02d}",
            f"{first.microsecond // 1000:03d}",
        )
        for record in records:
            assert record["eventMetadata"]["inferenceTime"].startswith(f"2024-05-06T{hour}:")
        raw = Path(local_path(uri)).read_bytes()
        assert raw.endswith(b"\n")
        assert [json.loads(x) for x in raw.splitlines()] == records
    assert by_hour == {"00": list(range(20)), "01": list(range(20, 40))}

    rows = pa.Table.from_batches(
        list(read_batches(DEST, DatasetFormat("capture"), metadata_columns=True))
    )
    assert rows.num_rows == 40
    assert sorted(rows.column("_c1").to_pylist()) == list(range(40))  # input column 1
    assert sorted(rows.column("_c0").to_pylist()) == [k / 10 for k in range(40)]  # output
    assert sorted(rows.column("inferenceId").to_pylist(), key=int) == [str(k) for k in range(40)]


def test_size_rotation(tmp_path, objects, make_event, published):
    w = writer(tmp_path, max_file_bytes=1500)
    with w:
        for k in range(60):
            assert w.submit(make_event(k))
    files = published()
    assert len(files) >= 5
    assert w.counters()["files_published"] == len(files)
    for uri in files:
        assert Path(local_path(uri)).stat().st_size <= 1500
    in_order = sorted(files.values(), key=lambda records: ids(records)[0])
    assert [i for records in in_order for i in ids(records)] == list(range(60))


def test_age_rotation_by_the_clock(tmp_path, objects, make_event, published, wait_for):
    now = [datetime(2024, 5, 6, 7, 0, 0, tzinfo=UTC)]
    w = writer(tmp_path, max_file_age=60.0, clock=lambda: now[0])
    with w:
        w.submit(make_event(1))
        wait_for(lambda: w.counters()["open_files"] == 1)
        now[0] += timedelta(seconds=59)
        w.submit(make_event(2))
        wait_for(lambda: w.counters()["queue_depth"] == 0)
        assert w.counters()["files_published"] == 0
        now[0] += timedelta(seconds=2)
        wait_for(lambda: w.counters()["files_published"] == 1)
        assert [ids(r) for r in published().values()] == [[1, 2]]
        w.submit(make_event(3))
    assert sorted(ids(r) for r in published().values()) == [[1, 2], [3]]


def test_stop_publishes_everything(tmp_path, objects, make_event, published):
    w = writer(tmp_path, flush_interval=0.5).start()
    for k in range(500):
        assert w.submit(make_event(k))
    assert w.stop()
    counts = w.counters()
    assert counts["written"] == counts["captured"] == 500
    assert counts["queue_depth"] == counts["open_files"] == counts["pending_files"] == 0
    assert sorted(i for records in published().values() for i in ids(records)) == list(range(500))
    assert spool_files(tmp_path) == []


def test_flush_while_running(tmp_path, objects, make_event, published):
    with writer(tmp_path) as w:
        for k in range(10):
            w.submit(make_event(k))
        assert w.flush()
        assert w.counters()["written"] == 10
        assert [ids(r) for r in published().values()] == [list(range(10))]
        for k in range(10, 15):
            w.submit(make_event(k))
    assert w.counters()["written"] == 15
    assert sorted(ids(r) for r in published().values()) == [list(range(10)), list(range(10, 15))]


def test_queue_full_drops_are_counted(tmp_path, objects, make_event, published):
    w = writer(tmp_path, queue_size=3)  # not started: nothing takes from the queue
    results = [w.submit(make_event(k)) for k in range(5)]
    assert results == [True, True, True, False, False]
    counts = w.counters()
    assert counts["captured"] == 3 and counts["dropped_queue_full"] == 2
    assert counts["queue_depth"] == 3
    w.count_sampled_out()
    assert w.counters()["sampled_out"] == 1
    assert w.stop()  # a writer that never started still writes what it queued
    assert w.counters()["written"] == 3
    assert [ids(r) for r in published().values()] == [[0, 1, 2]]


def test_disk_guard_pauses_and_resumes(tmp_path, objects, make_event, wait_for, caplog):
    usage = [0.5]
    w = writer(tmp_path, disk_usage=lambda: usage[0], disk_check_interval=0.02)
    with caplog.at_level(logging.INFO, logger="modelmon.capture"), w:
        assert w.submit(make_event(0))
        usage[0] = 0.80
        wait_for(lambda: w.paused)
        assert not w.submit(make_event(1))
        assert not w.submit(make_event(2))
        assert w.counters()["dropped_disk"] == 2
        usage[0] = 0.74
        wait_for(lambda: not w.paused)
        assert w.submit(make_event(3))
    counts = w.counters()
    assert counts["captured"] == counts["written"] == 2 and counts["dropped_disk"] == 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("capture paused" in m for m in messages) == 1
    assert sum("capture resumed" in m for m in messages) == 1


def test_default_disk_usage_is_a_fraction(tmp_path):
    w = CaptureWriter(tmp_path / "spool")
    w.spool_dir.mkdir()
    assert 0.0 < w._disk_usage() < 1.0


def test_publish_failures_are_retried_and_nothing_is_lost(tmp_path, make_event, caplog):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    destination = str(blocker / "capture")
    w = writer(tmp_path, retry_delay=0.05)
    with caplog.at_level(logging.WARNING, logger="modelmon.capture"):
        w.start()
        for k in range(3):
            w.submit(make_event(k, destination=destination))
        assert not w.flush()
        assert w.counters()["pending_files"] == 1 and w.counters()["written"] == 0
        assert not w.stop()  # still failing: the file stays in the spool
    assert any("cannot publish capture file" in r.getMessage() for r in caplog.records)
    assert len(spool_files(tmp_path)) == 2  # data + sidecar

    blocker.unlink()
    again = writer(tmp_path)
    assert again.recover() == 1
    assert again.counters()["written"] == 3
    assert spool_files(tmp_path) == []
    (file,) = (tmp_path / "blocker" / "capture").rglob("*.jsonl")
    lines = file.read_bytes().splitlines()
    assert [json.loads(x)["eventMetadata"]["inferenceId"] for x in lines] == ["0", "1", "2"]


def test_publisher_thread_retries_with_backoff(tmp_path, make_event, wait_for):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    destination = str(blocker / "capture")
    with writer(tmp_path, retry_delay=0.05) as w:
        w.submit(make_event(0, destination=destination))
        assert not w.flush()
        blocker.unlink()
        wait_for(lambda: w.counters()["written"] == 1)  # no flush: the thread retried
    assert len(list((tmp_path / "blocker").rglob("*.jsonl"))) == 1


def test_a_bad_event_does_not_stop_the_writer(tmp_path, objects, make_event, published):
    with writer(tmp_path) as w:
        w.submit(make_event(0, request_body="not bytes"))
        w.submit(make_event(1))
    counts = w.counters()
    assert counts["dropped_error"] == 1 and counts["written"] == 1
    assert [ids(r) for r in published().values()] == [[1]]


def test_sides_not_captured_and_metadata(tmp_path, objects, make_event, published):
    with writer(tmp_path) as w:
        w.submit(make_event(0, request_body=None, custom_attributes="a=b"))
        w.submit(make_event(1, response_body=None, inference_id=None))
    (records,) = published().values()
    assert list(records[0]["captureData"]) == ["endpointOutput"]
    assert records[0]["eventMetadata"]["customAttributes"] == "a=b"
    assert list(records[1]["captureData"]) == ["endpointInput"]
    assert "inferenceId" not in records[1]["eventMetadata"]
