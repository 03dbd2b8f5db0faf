"""Shared fixtures: SageMaker's reference files (when this clone has them), real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(autouse=True)
def _restore_modelmon_environment() -> Iterator[None]:
    """Each test starts with the MODELMON_* environment the session started with:
    ``Settings.prepare()`` sets the object root in ``os.environ`` for its process."""
    before = {k: v for k, v in os.environ.items() if k.startswith("MODELMON_")}
    yield
    for key in [k for k in os.environ if k.startswith("MODELMON_")]:
        if key not in before:
            del os.environ[key]
    os.environ.update(before)


@pytest.fixture
def reference() -> Path:
    """../shared/reference, or skip: a user's clone does not have SageMaker's files."""
    if not REFERENCE.is_dir():
        pytest.skip(f"SageMaker reference files not present at {REFERENCE} (only in CI)")
    return REFERENCE


class Server:
    """A ``modelmon serve`` subprocess on a free loopback port, with its own data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = data_dir.parent / f"{data_dir.name}-server.log"

    def start(self, timeout: float = 60) -> Server:
        port_file = self.data_dir.parent / f"{self.data_dir.name}.port"
        port_file.unlink(missing_ok=True)
        env = {**os.environ, **self.env}
        env.pop("MODELMON_OBJECT_ROOT", None)  # the server sets its own
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "modelmon.cli",
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    "0",
                    "--port-file",
                    str(port_file),
                    "--log-level",
                    "warning",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server did not start in time")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        return self

    def stop(self, timeout: float = 30) -> int:
        """Graceful stop (SIGTERM): requests finish, captured records are published."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """``kill -9``."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    @property
    def objects(self) -> Path:
        return self.data_dir / "objects"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start real servers (``start_server(name="srv", env=None)``); all are stopped after."""
    started: list[Server] = []

    def start(name: str = "srv", env: dict[str, str] | None = None) -> Server:
        server = Server(tmp_path / name, env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        try:
            server.stop()
        except Exception:
            server.kill()


@pytest.fixture(scope="session")
def server_type() -> type[Server]:
    """The :class:`Server` helper, for fixtures of other scopes (conftest is not importable)."""
    return Server
