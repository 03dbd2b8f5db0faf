"""Every format read from s3:// through a real S3-compatible server (moto)."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmon.analysis.readers import DatasetFormat, plan_splits, read_batches, read_split
from modelmon.errors import InputError
from modelmon.storage.files import atomic_write_bytes, expand, filesystem

BUCKET = "readers-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch) -> str:
    monkeypatch.setenv("MODELMON_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fs, _ = filesystem(f"s3://{BUCKET}")
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    return f"s3://{BUCKET}"


def read(uri, fmt, **options) -> pa.Table:
    return pa.Table.from_batches(list(read_batches(uri, fmt, **options)))


def test_csv_and_gzip_csv(s3):
    atomic_write_bytes(f"{s3}/csv/a.csv", b"a,b\n1,x\n2,y\n")
    atomic_write_bytes(f"{s3}/csv/b.csv.gz", gzip.compress(b"a,b\n3,z\n"))
    fmt = DatasetFormat("csv", header=True)
    assert read(f"{s3}/csv", fmt).to_pydict() == {"a": [1, 2, 3], "b": ["x", "y", "z"]}
    splits = plan_splits(expand(f"{s3}/csv"), fmt, parts=8, min_split_bytes=1)
    assert [s.is_range for s in splits] == [False, False]  # byte ranges are for local files


def test_csv_error_names_the_s3_uri_and_line(s3):
    atomic_write_bytes(f"{s3}/bad/a.csv", b"a,b\n1,x\n2,y,z\n")
    with pytest.raises(InputError) as err:
        read(f"{s3}/bad/a.csv", DatasetFormat("csv", header=True))
    assert err.value.line == 3
    assert f"{s3}/bad/a.csv" in str(err.value)


def test_json_lines(s3):
    atomic_write_bytes(
        f"{s3}/json/a.jsonl.gz", gzip.compress(b'{"a": {"b": 1}}\n{"a": {"b": 2}}\n')
    )
    assert read(f"{s3}/json", DatasetFormat("json")).to_pydict() == {"a.b": [1, 2]}


def test_parquet(s3):
    buffer = io.BytesIO()
    table = pa.table({"x": list(range(100)), "y": [float(i) for i in range(100)]})
    pq.write_table(table, buffer, row_group_size=10)
    atomic_write_bytes(f"{s3}/parquet/a.parquet", buffer.getvalue())
    fmt = DatasetFormat("parquet")
    assert read(f"{s3}/parquet", fmt).equals(table)
    splits = plan_splits(expand(f"{s3}/parquet"), fmt, parts=4, min_split_bytes=1)
    assert len(splits) > 1
    parts = [b for s in splits for b in read_split(s, fmt)]
    assert pa.Table.from_batches(parts).equals(table)


def test_capture_prefix(s3):
    def line(features: str, output: str) -> bytes:
        capture = {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": features,
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": output,
                "encoding": "CSV",
            },
        }
        return json.dumps({"captureData": capture, "eventMetadata": {"eventId": "e"}}).encode()

    prefix = f"{s3}/capture/ep/AllTraffic/2022/04/18"
    atomic_write_bytes(f"{prefix}/00/20-48-871-a.jsonl", line("1,2", "0.1") + b"\n")
    atomic_write_bytes(f"{prefix}/01/00-00-000-b.jsonl", line("3,4", "0.2") + b"\n")
    table = read(f"{s3}/capture/ep", DatasetFormat("capture"))
    assert table.to_pydict() == {"_c0": [0.1, 0.2], "_c1": [1, 3], "_c2": [2, 4]}
