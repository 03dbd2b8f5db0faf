"""The asynchronous inference worker as a child process of ``modelmon serve``.

``modelmon serve`` runs its asynchronous inference worker in a child process
(``modelmon worker --parent-fd N``), not in threads of its own: the models' calls
then run on another core and never hold the HTTP server's GIL, so the queue drains
about twice as fast on two cores and real-time endpoints are not slowed down by
queued work.

The two processes share a socket pair carrying one-byte signals. Server to worker:
:data:`QUEUED` (requests were queued: claim now), :data:`ENDPOINTS` (endpoints
changed: reconcile now) and :data:`FLUSH` (publish captured records now). Worker to
server: :data:`PUBLISHED` (a notification was published: deliver it now) and the
answer to a flush, :data:`FLUSHED` or :data:`NOT_FLUSHED`. The worker stops when the
socket closes, so it never outlives its server, even one killed with SIGKILL; the
server starts a new worker when one dies.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("modelmon.async")

QUEUED = b"q"
ENDPOINTS = b"e"
FLUSH = b"f"
PUBLISHED = b"p"
FLUSHED = b"F"
NOT_FLUSHED = b"X"

RESTART_DELAY = 1.0  # seconds before a worker that died is started again (doubling to 30)
STOP_TIMEOUT = 40.0  # seconds a stopping worker gets (its requests in flight get 30)


def _send(sock: socket.socket | None, signal_byte: bytes) -> None:
    """Send one signal without ever blocking (a full buffer already holds signals)."""
    if sock is None:
        return
    # full: the other side has signals to read anyway; closed: it is gone
    with contextlib.suppress(OSError):
        sock.send(signal_byte, socket.MSG_DONTWAIT)


class WorkerProcess:
    """Server side: starts ``modelmon worker`` as a child, signals it, restarts it if it dies."""

    def __init__(
        self,
        data_dir: Path,
        *,
        log_level: str = "info",
        on_published: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.log_level = log_level
        self.on_published = on_published
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._flushing = threading.Lock()  # one flush asked at a time
        self._flushed = threading.Event()
        self._flush_ok = False

    @property
    def pid(self) -> int | None:
        """The running worker's process id."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> WorkerProcess:
        """Start the worker and the thread that listens to it."""
        self._spawn()
        self._thread = threading.Thread(target=self._listen, name="modelmon-worker", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Tell the worker requests were queued (callable from any thread)."""
        _send(self._sock, QUEUED)

    def endpoints_changed(self) -> None:
        """Tell the worker to reconcile its endpoints now (callable from any thread)."""
        _send(self._sock, ENDPOINTS)

    def flush_capture(self, timeout: float = 10.0) -> bool:
        """Have the worker publish every record it captured; True when it did in time."""
        with self._flushing:
            if self.pid is None:
                return False
            self._flushed.clear()
            _send(self._sock, FLUSH)
            return self._flushed.wait(timeout) and self._flush_ok

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the worker as SIGTERM does (requests in flight finish), killing it after
        ``timeout`` seconds."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("asynchronous inference worker %d did not stop: killed", process.pid)
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._sock is not None:
            self._sock.close()

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-m", "modelmon.cli", "worker", "--data-dir", str(self.data_dir)]
        argv += ["--log-level", self.log_level, "--parent-fd", str(theirs.fileno())]
        try:
            process = subprocess.Popen(argv, pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if self._sock is not None:
            self._sock.close()
        self._process, self._sock = process, ours
        log.info("asynchronous inference worker started (pid %d)", process.pid)

    def _listen(self) -> None:
        delay = RESTART_DELAY
        while not self._stopping.is_set():
            sock, process = self._sock, self._process
            assert sock is not None and process is not None
            started = time.monotonic()
            while data := _receive(sock):
                if PUBLISHED in data and self.on_published is not None:
                    self.on_published()
                if FLUSHED in data or NOT_FLUSHED in data:
                    self._flush_ok = NOT_FLUSHED not in data
                    self._flushed.set()
            code = process.wait()  # the socket closed: the worker exited
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60.0:
                delay = RESTART_DELAY
            log.error(
                "asynchronous inference worker %d exited (code %s): starting another in %.0f s",
                process.pid,
                code,
                delay,
            )
            while not self._stopping.wait(delay):
                delay = min(delay * 2, 30.0)
                try:
                    self._spawn()
                    break
                except OSError:
                    log.exception("could not start an asynchronous inference worker")


def _receive(sock: socket.socket) -> bytes:
    """The next signals, or b"" once the other side has closed."""
    try:
        return sock.recv(4096)
    except OSError:
        return b""


class ParentLink:
    """Worker side: the signals from ``modelmon serve`` on the inherited socket ``fd``."""

    def __init__(
        self,
        fd: int,
        *,
        on_queued: Callable[[], None],
        on_endpoints: Callable[[], None],
        on_flush: Callable[[], bool],
        on_gone: Callable[[], None],
    ) -> None:
        self._sock = socket.socket(fileno=fd)
        self._on_queued = on_queued
        self._on_endpoints = on_endpoints
        self._on_flush = on_flush
        self._on_gone = on_gone
        self._thread = threading.Thread(target=self._listen, name="modelmon-parent", daemon=True)

    def start(self) -> ParentLink:
        self._thread.start()
        return self

    def published(self) -> None:
        """Tell the server a notification waits for delivery."""
        _send(self._sock, PUBLISHED)

    def _flush(self) -> None:
        try:
            done = self._on_flush()
        except Exception:
            log.exception("flushing the captured records failed")
            done = False
        _send(self._sock, FLUSHED if done else NOT_FLUSHED)

    def _listen(self) -> None:
        while data := _receive(self._sock):
            if QUEUED in data:
                self._on_queued()
            if ENDPOINTS in data:
                self._on_endpoints()
            if FLUSH in data:  # in its own thread: signals keep coming meanwhile
                threading.Thread(target=self._flush, name="modelmon-flush", daemon=True).start()
        self._on_gone()  # the server is gone: stop as on SIGTERM
