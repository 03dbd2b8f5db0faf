"""The local spool: capture files while they are written, and what is left after a crash.

A capture file is written as ``{spool}/{id}.jsonl`` next to ``{spool}/{id}.target``,
which holds the URI the file is published to. The sidecar is written (atomically)
before the first line, so every spool file with data knows where it goes. Lines
are buffered in memory and handed to the OS whole, one ``write`` per flush; a
process that holds a spool file open keeps an exclusive ``flock`` on it, so that
recovery in another process leaves it alone.

:func:`recover_spool` turns what a crashed process left behind into
:class:`PendingFile` objects: a partial last line (power loss, full disk) is cut
off, empty files are removed and files without a sidecar are set aside in
``{spool}/orphans/``. Published files therefore only ever hold whole lines.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from modelmon.storage.files import atomic_write_bytes

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("modelmon.capture")

DATA_SUFFIX = ".jsonl"
TARGET_SUFFIX = ".target"
ORPHANS = "orphans"
WRITE_BUFFER = 1 << 20  # bytes buffered before a write to the OS, whatever the interval
STALE_SECONDS = 60.0  # a sidecar or temporary file this old without its data file is left over
_CHUNK = 1 << 20


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when another holds it."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class PendingFile:
    """A finished spool file waiting to be published to ``target``."""

    __slots__ = ("attempts", "next_attempt", "path", "records", "sidecar", "target")

    def __init__(self, path: Path, sidecar: Path, target: str, records: int) -> None:
        self.path = path
        self.sidecar = sidecar
        self.target = target
        self.records = records
        self.attempts = 0
        self.next_attempt = 0.0  # time.monotonic() before which no retry is made

    def __repr__(self) -> str:
        return f"PendingFile({self.path.name!r} -> {self.target!r}, {self.records} records)"


class SpoolFile:
    """A capture file being written in the spool.

    ``opened`` is any value the caller ages the file by (the writer's clock);
    ``size`` counts the bytes appended (buffered or not) and ``records`` the
    lines safely handed to the OS.
    """

    __slots__ = (
        "_buffer",
        "_buffered",
        "_fd",
        "_flushed",
        "_unflushed",
        "opened",
        "path",
        "records",
        "sidecar",
        "size",
        "target",
    )

    def __init__(self, spool_dir: Path, target: str, opened: object) -> None:
        name = uuid.uuid4().hex
        self.path = spool_dir / f"{name}{DATA_SUFFIX}"
        self.sidecar = spool_dir / f"{name}{TARGET_SUFFIX}"
        self.target = target
        self.opened = opened
        atomic_write_bytes(str(self.sidecar), target.encode("utf-8"))
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, 0o644)
        except BaseException:
            self.sidecar.unlink(missing_ok=True)
            raise
        _try_lock(self._fd)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._unflushed = 0  # records in the buffer
        self._flushed = 0  # bytes in the file
        self.size = 0
        self.records = 0

    def append(self, line: bytes) -> int:
        """Add one whole line; returns the records lost if an automatic flush failed."""
        self._buffer.append(line)
        self._buffered += len(line)
        self._unflushed += 1
        self.size += len(line)
        if self._buffered >= WRITE_BUFFER:
            return self.flush()
        return 0

    def flush(self) -> int:
        """Hand the buffered lines to the OS; returns how many records were lost.

        On a write error (a full disk) the file is cut back to its last whole
        line and the buffered records are given up.
        """
        if not self._buffer:
            return 0
        data = memoryview(b"".join(self._buffer))
        records = self._unflushed
        self._buffer.clear()
        self._buffered = self._unflushed = 0
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as err:
            log.error("cannot write capture file %s (%s): %d records lost", self.path, err, records)
            try:
                os.ftruncate(self._fd, self._flushed)
                os.lseek(self._fd, self._flushed, os.SEEK_SET)
            except OSError:
                pass  # recovery cuts the partial line off
            self.size = self._flushed
            return records
        self._flushed += written
        self.records += records
        return 0

    def close(self) -> tuple[PendingFile | None, int]:
        """Flush, fsync and close; the file to publish (None when it is empty) and records lost."""
        lost = self.flush()
        try:
            os.fsync(self._fd)
        except OSError as err:
            log.warning("cannot fsync capture file %s: %s", self.path, err)
        os.close(self._fd)
        if self.records == 0:
            self.path.unlink(missing_ok=True)
            self.sidecar.unlink(missing_ok=True)
            return None, lost
        return PendingFile(self.path, self.sidecar, self.target, self.records), lost


def complete_length(handle) -> int:
    """Length of the file up to and including its last ``\\n`` (0 when it has none)."""
    position = handle.seek(0, os.SEEK_END)
    while position > 0:
        step = min(_CHUNK, position)
        position -= step
        handle.seek(position)
        cut = handle.read(step).rfind(b"\n")
        if cut >= 0:
            return position + cut + 1
    return 0


def _count_lines(handle, length: int) -> int:
    handle.seek(0)
    count = 0
    while length > 0:
        chunk = handle.read(min(_CHUNK, length))
        if not chunk:
            break
        count += chunk.count(b"\n")
        length -= len(chunk)
    return count


def _set_aside(path: Path, spool_dir: Path) -> None:
    orphans = spool_dir / ORPHANS
    orphans.mkdir(exist_ok=True)
    shutil.move(str(path), str(orphans / path.name))
    log.warning("capture spool file %s has no target (.target sidecar); moved to %s", path, orphans)


def _recover_one(path: Path, spool_dir: Path) -> PendingFile | None:
    sidecar = path.with_suffix(TARGET_SUFFIX)
    with open(path, "r+b") as handle:
        if not _try_lock(handle.fileno()):
            return None  # another live process is writing it
        try:
            target = sidecar.read_bytes().decode("utf-8").strip()
        except FileNotFoundError:
            target = ""
        if not target:
            handle.close()
            _set_aside(path, spool_dir)
            sidecar.unlink(missing_ok=True)
            return None
        size = handle.seek(0, os.SEEK_END)
        length = complete_length(handle)
        if length < size:
            log.warning(
                "capture spool file %s ends in a partial line: cut %d bytes", path, size - length
            )
            handle.truncate(length)
            handle.flush()
            os.fsync(handle.fileno())
        records = _count_lines(handle, length)
    if records == 0:
        path.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        return None
    return PendingFile(path, sidecar, target, records)


def recover_spool(spool_dir: Path) -> list[PendingFile]:
    """Every finished or abandoned capture file in ``spool_dir``, made safe to publish.

    Files another process holds open are skipped. Leftover sidecars and temporary
    files older than a minute are removed.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    found: list[tuple[float, PendingFile]] = []
    now = time.time()
    for entry in os.scandir(spool_dir):
        if not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        try:
            if entry.name.endswith(DATA_SUFFIX) and not entry.name.startswith("."):
                pending = _recover_one(path, spool_dir)
                if pending is not None:
                    found.append((entry.stat().st_mtime, pending))
            elif entry.name.endswith(TARGET_SUFFIX) or entry.name.startswith("."):
                data = path.with_suffix(DATA_SUFFIX)
                if not data.exists() and now - entry.stat().st_mtime > STALE_SECONDS:
                    path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue  # a sidecar removed as its data file was recovered
        except OSError as err:
            log.error("cannot recover capture spool file %s: %s", path, err)
    found.sort(key=lambda item: item[0])
    return [pending for _, pending in found]
