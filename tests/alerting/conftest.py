"""A real webhook receiver on loopback, and a settable clock."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Delivery:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    arrived: float  # time.time()

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers from a script:
    ``answers`` is consumed one per request (an HTTP status, or ``"hang"`` to wait
    ``hang_seconds`` before answering 200); when it is empty, 200."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.answers: list[int | str] = []
        self.hang_seconds = 30.0
        self._lock = threading.Lock()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                arrived = time.time()
                with receiver._lock:
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "hang":
                    receiver._released.wait(receiver.hang_seconds)
                    answer = 200
                with receiver._lock:
                    receiver.deliveries.append(
                        Delivery({k.lower(): v for k, v in self.headers.items()}, body, arrived)
                    )
                self.send_response(int(answer))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        """Wait until at least ``count`` requests arrived (answered)."""
        deadline = time.monotonic() + timeout
        while len(self.received()) < count:
            assert time.monotonic() < deadline, f"{len(self.received())} of {count} arrived"
            time.sleep(0.02)
        return self.received()

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver, stopped after the test."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    """Several receivers."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.close()


class Clock:
    """A settable time source."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2024, 1, 2, 5, 0, 0, tzinfo=dt.UTC))


def _wait_until(condition: Any, timeout: float = 30.0, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.02)


@pytest.fixture
def wait_until() -> Any:
    """``wait_until(condition, timeout=30, message=...)``: poll until truthy, return it."""
    return _wait_until
