"""Crash recovery: what a dead process left in the spool is published whole, or set aside."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from modelmon.serving.capture import CaptureWriter
from modelmon.storage.files import expand, local_path

DEST = "s3://capture-bucket/datacapture"
TARGET = (
    f"{DEST}/my-endpoint/AllTraffic/2024/05/06/07/"
    "08-09-250-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl"
)


def writer(tmp_path: Path, **options) -> CaptureWriter:
    return CaptureWriter(tmp_path / "spool", disk_usage=lambda: 0.0, **options)


def leave(spool: Path, name: str, data: bytes, target: str | None = TARGET) -> Path:
    spool.mkdir(parents=True, exist_ok=True)
    if target is not None:
        (spool / f"{name}.target").write_text(target)
    path = spool / f"{name}.jsonl"
    path.write_bytes(data)
    return path


def test_partial_last_line_is_cut_off(tmp_path, objects, make_event, caplog):
    whole = make_event(1).line() + make_event(2).line()
    leave(tmp_path / "spool", "a", whole + make_event(3).line()[:25])
    w = writer(tmp_path)
    with caplog.at_level(logging.WARNING, logger="modelmon.capture"):
        assert w.recover() == 1
    assert Path(local_path(TARGET)).read_bytes() == whole
    assert w.counters()["written"] == 2 and w.counters()["files_published"] == 1
    assert list((tmp_path / "spool").iterdir()) == []
    assert any("partial line" in r.getMessage() for r in caplog.records)


def test_empty_files_are_removed(tmp_path, objects, make_event):
    spool = tmp_path / "spool"
    leave(spool, "empty", b"")
    leave(spool, "only-partial", make_event(1).line()[:-1])  # no newline at all
    assert writer(tmp_path).recover() == 0
    assert list(spool.iterdir()) == []
    assert not Path(local_path(DEST)).exists()


def test_file_without_target_is_set_aside(tmp_path, objects, make_event, caplog):
    spool = tmp_path / "spool"
    leave(spool, "lost", make_event(1).line(), target=None)
    with caplog.at_level(logging.WARNING, logger="modelmon.capture"):
        assert writer(tmp_path).recover() == 0
    assert [p.name for p in (spool / "orphans").iterdir()] == ["lost.jsonl"]
    assert any("no target" in r.getMessage() for r in caplog.records)


def test_start_recovers_and_a_live_file_is_left_alone(
    tmp_path, objects, make_event, published, wait_for
):
    leave(tmp_path / "spool", "old", make_event(0).line())
    live = writer(tmp_path, flush_interval=0.02).start()  # recovers "old" first
    try:
        assert [r["eventMetadata"]["inferenceId"] for r in published()[TARGET]] == ["0"]
        live.submit(make_event(1))
        wait_for(lambda: any(p.stat().st_size for p in (tmp_path / "spool").glob("*.jsonl")))
        # another process over the same spool must not publish a file being written
        assert writer(tmp_path).recover() == 0
        assert len(published()) == 1
    finally:
        assert live.stop()
    assert len(published()) == 2


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from modelmon.formats.capture import CaptureContentTypes
    from modelmon.serving.capture import CaptureEvent, CaptureWriter

    spool, progress = sys.argv[1], sys.argv[2]
    w = CaptureWriter(spool, flush_interval=0.2, max_file_bytes=20_000, disk_usage=lambda: 0.0)
    w.start()
    types = CaptureContentTypes()
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    i = 0
    with open(progress, "w") as out:
        while True:
            for _ in range(20):
                ok = w.submit(CaptureEvent(
                    destination=sys.argv[3], endpoint="my-endpoint", variant="AllTraffic",
                    request_body=b"%d,%d" % (i, 2 * i), request_content_type="text/csv",
                    response_body=b"0.5", response_content_type="text/csv",
                    content_types=types, event_id="e%d" % i, inference_id=str(i),
                    inference_time=when,
                ))
                if not ok:
                    out.write("dropped %d\\n" % i)
                i += 1
            out.write("%r %d\\n" % (time.monotonic(), i))
            out.flush()
            time.sleep(0.01)
    """
)


def progress_of(path: Path) -> list[tuple[float, int]]:
    """(time.monotonic() in the child, records submitted by then); asserts none dropped."""
    rows = []
    for text in path.read_text().splitlines(keepends=True):
        if not text.endswith("\n"):
            break  # cut short by the kill
        assert not text.startswith("dropped"), text
        moment, count = text.split()
        rows.append((float(moment), int(count)))
    return rows


def test_kill_9_loses_only_the_last_moments(tmp_path, objects):
    """SIGKILL a writing process: its spool, recovered, holds whole lines with no gaps."""
    progress = tmp_path / "progress"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "spool"), str(progress), DEST],
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert child.poll() is None, "the writing process died"
            assert time.monotonic() < deadline, "the writing process did not get going"
            rows = progress_of(progress) if progress.exists() else []
            if len(rows) > 1 and rows[-1][0] - rows[0][0] >= 1.5:
                break
            time.sleep(0.05)
        killed_at = time.monotonic()  # CLOCK_MONOTONIC is system-wide: comparable with the child's
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    rows = progress_of(progress)
    submitted = rows[-1][1] + 20  # a loop of 20 submissions may be unreported
    settled = max(count for moment, count in rows if moment <= killed_at - 1.0)

    w = writer(tmp_path)
    w.recover()
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    assert not (tmp_path / "spool" / "orphans").exists()

    seen: list[int] = []
    files = expand(DEST)
    assert len(files) > 1  # size rotation went on while the child ran
    for uri in files:
        raw = Path(local_path(uri)).read_bytes()
        assert raw.endswith(b"\n"), uri  # no partial line anywhere
        numbers = [
            int(json.loads(line)["eventMetadata"]["inferenceId"]) for line in raw.splitlines()
        ]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # contiguous run
        seen += numbers
    seen.sort()
    assert seen == list(range(len(seen)))  # a prefix of what was submitted: no gaps
    assert settled <= len(seen) <= submitted
