"""Parquet reader: every Arrow type converted to int64, float64, string or null."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmon.analysis.readers import DatasetFormat, read_batches
from modelmon.errors import InputError

PARQUET = DatasetFormat("parquet")


def write_table(tmp_path, table: pa.Table, name: str = "a.parquet", **options) -> str:
    path = tmp_path / name
    pq.write_table(table, path, **options)
    return str(path)


def read(uri, **options) -> pa.Table:
    return pa.Table.from_batches(list(read_batches(uri, PARQUET, **options)))


def test_types_are_converted(tmp_path):
    table = pa.table(
        {
            "i8": pa.array([1, -2], pa.int8()),
            "u32": pa.array([3, 4], pa.uint32()),
            "f32": pa.array([1.5, None], pa.float32()),
            "b": pa.array([True, False]),
            "d": pa.array([dt.date(2020, 1, 2), None]),
            "ts": pa.array([dt.datetime(2020, 1, 2, 3, 4, 5), None], pa.timestamp("s")),
            "dec": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(5, 2)),
            "lst": pa.array([[1, 2], None]),
            "st": pa.array([{"x": 1, "y": "a"}, {"x": 2, "y": None}]),
            "cat": pa.array(["a", "b"]).dictionary_encode(),
            "s": pa.array(["Zoë", ""]),
            "nul": pa.nulls(2),
        }
    )
    out = read(write_table(tmp_path, table))
    assert {f.name: f.type for f in out.schema} == {
        "i8": pa.int64(),
        "u32": pa.int64(),
        "f32": pa.float64(),
        "b": pa.string(),
        "d": pa.string(),
        "ts": pa.string(),
        "dec": pa.float64(),
        "lst": pa.string(),
        "st.x": pa.int64(),
        "st.y": pa.string(),
        "cat": pa.string(),
        "s": pa.string(),
        "nul": pa.null(),
    }
    assert out.to_pydict() == {
        "i8": [1, -2],
        "u32": [3, 4],
        "f32": [1.5, None],
        "b": ["true", "false"],
        "d": ["2020-01-02", None],
        "ts": ["2020-01-02 03:04:05.000", None],  # Parquet keeps milliseconds
        "dec": [1.25, None],
        "lst": ["[1,2]", None],
        "st.x": [1, 2],
        "st.y": ["a", None],
        "cat": ["a", "b"],
        "s": ["Zoë", ""],
        "nul": [None, None],
    }


def test_string_columns_and_batches(tmp_path):
    uri = write_table(tmp_path, pa.table({"n": list(range(10))}), row_group_size=3)
    assert [b.num_rows for b in read_batches(uri, PARQUET, batch_rows=4)] == [4, 4, 2]
    out = read(uri, string_columns=frozenset({"n"}))
    assert out.column("n").to_pylist() == [str(i) for i in range(10)]


def test_gzip_compressed_parquet(tmp_path):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2]}), buffer)
    path = tmp_path / "a.parquet.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    assert read(str(path)).to_pydict() == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "the file is empty"), (b"a,b\n1,2\n", "not a Parquet file")],
)
def test_bad_files(tmp_path, data, reason):
    path = tmp_path / "bad.parquet"
    path.write_bytes(data)
    with pytest.raises(InputError, match=reason) as err:
        read(str(path))
    assert str(path) in str(err.value)


def test_no_rows(tmp_path):
    uri = write_table(tmp_path, pa.table({"a": pa.array([], pa.int64())}))
    with pytest.raises(InputError, match="no rows"):
        read(uri)
