"""The capture writer: records leave the request path through a queue and reach files.

``submit`` only puts a small :class:`CaptureEvent` on a bounded queue. A writer
thread takes whatever is queued, encodes it (:mod:`modelmon.formats.capture`)
and appends the lines to one spool file per destination, endpoint, variant and
hour of inference time. A file is closed and handed to the publisher thread
(see :mod:`.outbox`) when a line would take it past ``max_file_bytes``, when it
is ``max_file_age`` seconds old, on :meth:`CaptureWriter.flush` and on
:meth:`CaptureWriter.stop`; it is then published under
``{destination}/{endpoint}/{variant}/yyyy/mm/dd/hh/`` named after the inference
time of its first record.

Lines reach the OS at least every ``flush_interval`` seconds, so a killed process
loses at most that much; :meth:`CaptureWriter.recover` (run by ``start``)
publishes whatever a previous process left in the spool.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from modelmon.formats.capture import CaptureContentTypes, capture_key, capture_line, encode_part
from modelmon.serving.capture.outbox import Outbox
from modelmon.serving.capture.spool import SpoolFile, recover_spool

log = logging.getLogger("modelmon.capture")

MiB = 1 << 20
_BATCH = 1000  # events taken from the queue between housekeeping rounds
# The writer wakes this often to take what has queued: waking it per request
# (a Condition notify on every put) would hand the GIL back and forth with the
# event loop on each request and cost far more than the write itself.
_BATCH_INTERVAL = 0.02
_ERROR_LOG_INTERVAL = 10.0


@dataclass(slots=True, kw_only=True)
class CaptureEvent:
    """One sampled request as the server saw it; encoded later, off the request path.

    A body of ``None`` means that side is not captured (``CaptureOptions``).
    ``inference_time`` is an aware datetime (a naive one is taken as UTC) or, from
    the request path, epoch seconds; ``event_id`` None gets a random UUID in the
    writer. Both keep clock and random-number calls off the request path
    (``os.urandom`` releases the GIL, handing it to the writer on every request).
    """

    destination: str
    endpoint: str
    variant: str
    request_body: bytes | None
    request_content_type: str | None
    response_body: bytes | None
    response_content_type: str | None
    content_types: CaptureContentTypes
    event_id: str | None = None
    inference_id: str | None = None
    custom_attributes: str | None = None
    inference_time: datetime | float

    def line(self) -> bytes:
        """The capture record of this event (one JSON line)."""
        types = self.content_types
        return capture_line(
            input_part=None
            if self.request_body is None
            else encode_part(self.request_body, self.request_content_type, "INPUT", types),
            output_part=None
            if self.response_body is None
            else encode_part(self.response_body, self.response_content_type, "OUTPUT", types),
            event_id=self.event_id,
            inference_time=self.inference_time,
            inference_id=self.inference_id,
            custom_attributes=self.custom_attributes,
        )


class _EventIds:
    """Random (version 4) UUIDs drawn from a pool: one ``os.urandom`` call per 1024."""

    __slots__ = ("_pool",)

    def __init__(self) -> None:
        self._pool: list[str] = []

    def next(self) -> str:
        if not self._pool:
            raw = os.urandom(16 * 1024)
            self._pool = [
                str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, len(raw), 16)
            ]
        return self._pool.pop()


class _Flush:
    """Queue marker: close every open file, then set ``done``."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def spool_disk_usage(path: Path) -> float:
    """Fraction of the filesystem holding ``path`` in use, as ``df`` reports it."""
    usage = shutil.disk_usage(path)
    held = usage.used + usage.free
    return usage.used / held if held else 1.0


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


class CaptureWriter:
    """Writes captured records to files in the object store, off the request path.

    One per server process, over a spool directory of its own. See the module
    docstring; every parameter is keyword-only after ``spool_dir``:

    ``queue_size`` events may wait (more are dropped and counted);
    ``max_file_bytes`` and ``max_file_age`` (seconds, by ``clock``) rotate files;
    ``flush_interval`` bounds how long lines stay in memory; capture pauses while
    the spool's filesystem is at least ``disk_threshold`` full (``disk_usage``,
    default :func:`spool_disk_usage`, is asked every ``disk_check_interval``
    seconds by the writer thread); a failed publication is retried after
    ``retry_delay`` seconds, doubling up to a minute.
    """

    def __init__(
        self,
        spool_dir: str | Path,
        *,
        queue_size: int = 10_000,
        max_file_bytes: int = 64 * MiB,
        max_file_age: float = 60.0,
        flush_interval: float = 0.5,
        disk_threshold: float = 0.75,
        disk_usage: Callable[[], float] | None = None,
        clock: Callable[[], datetime] | None = None,
        disk_check_interval: float = 1.0,
        retry_delay: float = 1.0,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size!r}")
        if max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be at least 1, got {max_file_bytes!r}")
        for name, value in (
            ("max_file_age", max_file_age),
            ("flush_interval", flush_interval),
            ("disk_check_interval", disk_check_interval),
            ("retry_delay", retry_delay),
        ):
            _positive(name, value)
        if not 0 < disk_threshold <= 1:
            raise ValueError(f"disk_threshold must be in (0, 1], got {disk_threshold!r}")
        self.spool_dir = Path(spool_dir)
        self.max_file_bytes = max_file_bytes
        self.max_file_age = max_file_age
        self.flush_interval = flush_interval
        self.disk_threshold = disk_threshold
        self.disk_check_interval = disk_check_interval
        self._disk_usage = disk_usage or (lambda: spool_disk_usage(self.spool_dir))
        self._clock = clock or _utc_now
        self._queue: deque[object] = deque()  # append/popleft are atomic: no lock per put
        self._queue_size = queue_size
        self._wake = threading.Event()
        self._files: dict[tuple, SpoolFile] = {}
        self._event_ids = _EventIds()
        self._outbox = Outbox(retry_delay)
        self._stopped = threading.Event()
        self._writer: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._paused = False
        self._last_flush = time.monotonic()
        self._next_disk_check = 0.0
        self._last_error_log = -_ERROR_LOG_INTERVAL
        self._errors_unlogged = 0
        # counters: plain ints, each written by one thread (the GIL keeps them whole)
        self._captured = 0
        self._sampled_out = 0
        self._dropped_queue_full = 0
        self._dropped_disk = 0
        self._dropped_error = 0

    # -- the request path -----------------------------------------------------

    def submit(self, event: CaptureEvent) -> bool:
        """Queue ``event`` without waiting; False (and counted) when it is dropped."""
        if self._paused:
            self._dropped_disk += 1
            return False
        if len(self._queue) >= self._queue_size:
            self._dropped_queue_full += 1
            return False
        self._queue.append(event)
        self._captured += 1
        return True

    def count_sampled_out(self) -> None:
        """Count a request that sampling left out."""
        self._sampled_out += 1

    @property
    def paused(self) -> bool:
        """Whether capture is paused because the spool's disk is too full."""
        return self._paused

    def counters(self) -> dict[str, int]:
        return {
            "captured": self._captured,
            "sampled_out": self._sampled_out,
            "dropped_queue_full": self._dropped_queue_full,
            "dropped_disk": self._dropped_disk,
            "dropped_error": self._dropped_error,
            "written": self._outbox.written,
            "files_published": self._outbox.files_published,
            "queue_depth": len(self._queue),
            "open_files": len(self._files),
            "pending_files": len(self._outbox),
        }

    # -- life cycle -------------------------------------------------------------

    def start(self) -> CaptureWriter:
        """Recover the spool, then start the writer and publisher threads."""
        if self._writer is not None and self._writer.is_alive():
            return self
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.recover()
        self._check_disk()
        self._stopped.clear()
        self._writer = threading.Thread(
            target=self._run, name="modelmon-capture-writer", daemon=True
        )
        self._publisher = threading.Thread(
            target=self._outbox.run,
            args=(self._stopped,),
            name="modelmon-capture-publisher",
            daemon=True,
        )
        self._writer.start()
        self._publisher.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Write every queued record, publish every file; True when nothing is left over.

        Files that cannot be published in time stay in the spool for the next
        :meth:`recover`.
        """
        deadline = time.monotonic() + timeout
        if not self._put_marker(_STOP, deadline):
            return False
        self._stopped.set()
        self._outbox.wake()
        if self._publisher is not None:
            self._publisher.join(max(0.0, deadline - time.monotonic()))
        done = self._outbox.publish(force=True)
        if not done:
            log.warning(
                "capture stopped with %d files not yet published; they stay in %s",
                len(self._outbox),
                self.spool_dir,
            )
        return done

    def flush(self, timeout: float = 10.0) -> bool:
        """Write and publish everything submitted so far; True when all is published."""
        deadline = time.monotonic() + timeout
        marker = _Flush()
        if not self._put_marker(marker, deadline):
            return False
        return self._outbox.publish(force=True)

    def _put_marker(self, marker: object, deadline: float) -> bool:
        """Have the writer handle everything queued before ``marker``, then ``marker``."""
        writer = self._writer
        if writer is None or not writer.is_alive():  # not started: work in this thread
            self._drain()
            self._close_all()
            return True
        self._queue.append(marker)  # markers are never dropped, whatever the queue holds
        self._wake.set()
        if marker is _STOP:
            writer.join(max(0.0, deadline - time.monotonic()))
            return not writer.is_alive()
        return marker.done.wait(max(0.0, deadline - time.monotonic()))  # type: ignore[attr-defined]

    def __enter__(self) -> CaptureWriter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def recover(self) -> int:
        """Publish what a previous process left in the spool; the number of files found.

        Files that cannot be published now are retried by the publisher thread.
        """
        found = recover_spool(self.spool_dir)
        for item in found:
            self._outbox.add(item)
        if found:
            log.info("recovering %d capture files from %s", len(found), self.spool_dir)
            self._outbox.publish(force=True)
        return len(found)

    # -- the writer thread ------------------------------------------------------

    def _run(self) -> None:
        interval = min(_BATCH_INTERVAL, self.flush_interval)
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            stop = False
            taken = 0
            while taken < _BATCH or stop:
                try:
                    item = self._queue.popleft()
                except IndexError:
                    break
                taken += 1
                stop = self._handle(item) or stop
            if taken >= _BATCH:
                self._wake.set()  # more is waiting: come straight back after housekeeping
            try:
                self._housekeeping()
            except Exception:
                log.exception("capture writer housekeeping failed")
            if stop:
                self._drain()
                self._close_all()
                return

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                return
            self._handle(item)

    def _handle(self, item: object) -> bool:
        """Deal with one queued item; True for the stop marker."""
        if isinstance(item, CaptureEvent):
            try:
                self._write(item)
            except Exception as err:
                self._dropped_error += 1
                self._log_error("cannot write a capture record: %s", err)
            return False
        if isinstance(item, _Flush):
            self._close_all()
            item.done.set()
            return False
        return item is _STOP

    def _write(self, event: CaptureEvent) -> None:
        if event.event_id is None:
            event.event_id = self._event_ids.next()
        if not isinstance(event.inference_time, datetime):
            event.inference_time = datetime.fromtimestamp(event.inference_time, UTC)
        line = event.line()
        moment = event.inference_time
        if moment.tzinfo is not None and moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        key = (
            event.destination,
            event.endpoint,
            event.variant,
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
        )
        spool = self._files.get(key)
        if spool is not None and spool.size and spool.size + len(line) > self.max_file_bytes:
            self._rotate(key)
            spool = None
        if spool is None:
            target = capture_key(event.destination, event.endpoint, event.variant, moment)
            spool = self._files[key] = SpoolFile(self.spool_dir, target, self._clock())
        lost = spool.append(line)
        if lost:
            self._dropped_error += lost
            self._rotate(key)

    def _rotate(self, key: tuple) -> None:
        spool = self._files.pop(key)
        try:
            pending, lost = spool.close()
        except OSError as err:  # the file stays in the spool for recovery
            self._log_error("cannot close capture file %s: %s", spool.path, err)
            return
        self._dropped_error += lost
        if pending is not None:
            self._outbox.add(pending)

    def _close_all(self) -> None:
        for key in list(self._files):
            self._rotate(key)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= self.flush_interval:
            self._last_flush = now
            for key, spool in list(self._files.items()):
                lost = spool.flush()
                if lost:
                    self._dropped_error += lost
                    self._rotate(key)
        if self._files:
            wall = self._clock()
            for key, spool in list(self._files.items()):
                if (wall - spool.opened).total_seconds() >= self.max_file_age:
                    self._rotate(key)
        if now >= self._next_disk_check:
            self._check_disk()

    def _check_disk(self) -> None:
        self._next_disk_check = time.monotonic() + self.disk_check_interval
        try:
            usage = self._disk_usage()
        except Exception as err:
            self._log_error("cannot measure the capture spool's disk usage: %s", err)
            return
        if usage >= self.disk_threshold and not self._paused:
            self._paused = True
            log.warning(
                "capture paused: the disk holding %s is %.0f%% full (limit %.0f%%)",
                self.spool_dir,
                usage * 100,
                self.disk_threshold * 100,
            )
        elif usage < self.disk_threshold and self._paused:
            self._paused = False
            log.warning(
                "capture resumed: the disk holding %s is %.0f%% full", self.spool_dir, usage * 100
            )

    def _log_error(self, message: str, *args: object) -> None:
        """Log an error, at most once every ten seconds (with a count of the others)."""
        now = time.monotonic()
        if now - self._last_error_log < _ERROR_LOG_INTERVAL:
            self._errors_unlogged += 1
            return
        if self._errors_unlogged:
            message += f" (and {self._errors_unlogged} similar errors)"
        self._last_error_log = now
        self._errors_unlogged = 0
        log.error(message, *args)
