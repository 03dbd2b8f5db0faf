"""The metadata database on PostgreSQL: migrations, the hosting API and a whole server.

A throwaway PostgreSQL cluster is started for these tests with the machine's
``initdb``/``postgres`` (as the ``postgres`` user when the tests run as root);
they skip, saying why, when PostgreSQL is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.errors import ConflictError
from modelmon.sdk import DataCaptureConfig, Model, Session
from modelmon.serving.registry import Hosting
from modelmon.serving.shapes import CreateModelRequest


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if not initdb or not postgres:
        pytest.skip("PostgreSQL (initdb, postgres) is not installed on this machine")
    # not under pytest's tmp dir: that one is private to the user running the tests
    root = Path(tempfile.mkdtemp(prefix="modelmon-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "modelmon", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        _as_postgres(
            [postgres, "-D", str(data), "-p", str(port), "-k", str(root), "-h", "127.0.0.1"]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql+psycopg://modelmon@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(f"postgresql://modelmon@127.0.0.1:{port}/postgres").close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()  # smart shutdown
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_migrations_and_hosting_on_postgres(postgres_url, tmp_path) -> None:
    first = Database(postgres_url)
    again = Database(postgres_url)  # a second process migrating the same database: no-op
    model = tmp_path / "m.joblib"
    joblib.dump(Ridge().fit(np.eye(3), [1.0, 2.0, 3.0]), model)
    hosting = Hosting(first, Settings(data_dir=tmp_path / "data"))
    request = CreateModelRequest.model_validate(
        {"ModelName": "pg-model", "PrimaryContainer": {"ModelDataUrl": str(model)}}
    )
    hosting.create_model(request)
    with pytest.raises(ConflictError):
        hosting.create_model(request)
    described = Hosting(again, Settings(data_dir=tmp_path / "data")).describe_model("pg-model")
    assert described["PrimaryContainer"]["ModelDataUrl"] == str(model)
    assert described["CreationTime"].tzinfo is not None
    hosting.delete_model("pg-model")
    first.dispose()
    again.dispose()


def test_a_server_on_postgres(postgres_url, tmp_path, server_type) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    model = tmp_path / "ridge.joblib"
    joblib.dump(Ridge().fit(x, x.sum(axis=1)), model)
    server = server_type(tmp_path / "data", {"MODELMON_DATABASE_URL": postgres_url}).start()
    try:
        with Session(server.url) as session:
            predictor = Model(
                image_uri="sklearn", model_data=str(model), name="pg", sagemaker_session=session
            ).deploy(
                endpoint_name="pg-endpoint",
                data_capture_config=DataCaptureConfig(True, 100, "s3://bucket/capture"),
            )
            answer = predictor.predict(b"1.0,2.0,3.0", initial_args={"ContentType": "text/csv"})
            assert float(answer) == pytest.approx(6.0, abs=0.5)
    finally:
        assert server.stop() == 0
    assert not (tmp_path / "data" / "modelmon.db").exists()  # nothing went to SQLite
    assert list((server.objects / "bucket" / "capture").rglob("*.jsonl"))


def test_settings_report_postgres_url(postgres_url, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MODELMON_DATABASE_URL", postgres_url)
    assert Settings(data_dir=Path(tmp_path)).database_url == postgres_url
