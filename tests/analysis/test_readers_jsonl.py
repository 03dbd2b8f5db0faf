"""JSON Lines reader: flattening, types, fallbacks, and errors naming file and line."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest

from modelmon.analysis.readers import DatasetFormat, SchemaChange, read_batches
from modelmon.analysis.readers import jsonl as jsonl_module
from modelmon.errors import InputError

JSON = DatasetFormat("json")
ALLOWED = {pa.int64(), pa.float64(), pa.string(), pa.large_string(), pa.null()}


def write(tmp_path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def lines(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def read(uri, **options) -> pa.Table:
    batches = list(read_batches(uri, JSON, **options))
    for batch in batches:
        assert {f.type for f in batch.schema} <= ALLOWED
    # a column may be null-typed in early batches, or absent from them
    tables = [pa.Table.from_batches([b]) for b in batches]
    return pa.concat_tables(tables, promote_options="permissive")


def test_values_nesting_and_types(tmp_path):
    uri = write(
        tmp_path,
        "a.jsonl",
        lines(
            {
                "i": 1,
                "f": 1.5,
                "s": "Zoë",
                "b": True,
                "n": None,
                "o": {"x": 1, "y": {"z": "a"}},
                "l": [1, 2],
                "t": "2020-01-01 00:00:00",
            },
            {
                "i": -2,
                "f": 2,
                "s": "",
                "b": False,
                "n": None,
                "o": {"x": 2, "y": {"z": "b"}},
                "l": [],
                "t": "2020-01-02 00:00:00",
            },
        )
        + "\n",  # a blank line is fine
    )
    table = read(uri)
    assert table.to_pydict() == {
        "i": [1, -2],
        "f": [1.5, 2.0],
        "s": ["Zoë", ""],
        "b": ["true", "false"],
        "n": [None, None],
        "o.x": [1, 2],
        "o.y.z": ["a", "b"],
        "l": ["[1,2]", "[]"],
        "t": ["2020-01-01 00:00:00", "2020-01-02 00:00:00"],  # text as written
    }


def test_nested_timestamps_stay_text(tmp_path):
    uri = write(tmp_path, "a.jsonl", lines({"o": {"t": "2020-01-01 00:00:00", "n": 1}}))
    assert read(uri).to_pydict() == {"o.t": ["2020-01-01 00:00:00"], "o.n": [1]}


def test_mixed_types_in_a_field_become_text(tmp_path):
    uri = write(tmp_path, "a.jsonl", lines({"a": 1, "b": 1}, {"a": "x", "b": 2.5}, {"a": [1]}))
    table = read(uri)
    assert table.column("a").to_pylist() == ["1", "x", "[1]"]
    assert table.column("b").to_pylist() == [1.0, 2.5, None]


def test_array_document(tmp_path):
    uri = write(tmp_path, "a.json", json.dumps([{"a": 1}, {"a": 2, "b": "x"}]))
    assert read(uri).to_pydict() == {"a": [1, 2], "b": [None, "x"]}


def test_gzip(tmp_path):
    uri = write(tmp_path, "a.jsonl.gz", gzip.compress(lines({"a": 1}, {"a": 2}).encode()))
    assert read(uri).to_pydict() == {"a": [1, 2]}


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(jsonl_module, "BLOCK_SIZE", 1 << 10)


def test_late_type_change_raises_schema_change(tmp_path, small_blocks):
    uri = write(tmp_path, "a.jsonl", lines(*({"n": i, "s": "x"} for i in range(500)), {"n": "abc"}))
    with pytest.raises(SchemaChange) as err:
        read(uri)
    assert err.value.columns == ["n"]
    table = read(uri, string_columns=frozenset({"n"}))
    assert table.column("n").to_pylist()[-3:] == ["498", "499", "abc"]
    assert table.column("s").to_pylist()[-1] is None


def test_late_fields_and_late_floats(tmp_path, small_blocks):
    records = [{"n": i} for i in range(500)] + [{"n": 0.5, "new": {"k": "v"}}]
    with pytest.raises(SchemaChange):  # int64 column, then 0.5
        read(write(tmp_path, "b.jsonl", lines(*records)))
    floats = [{"n": i + 0.5} for i in range(500)] + [{"n": 3, "new": {"k": "v"}}]
    table = read(write(tmp_path, "c.jsonl", lines(*floats)))
    assert table.column("n").to_pylist()[-1] == 3.0
    assert table.column("new.k").to_pylist()[-1] == "v"
    assert table.num_rows == 501


def test_late_values_in_an_empty_field(tmp_path, small_blocks):
    records = [{"n": None, "i": i} for i in range(500)] + [{"n": 7, "i": 500}]
    table = read(write(tmp_path, "a.jsonl", lines(*records)))
    assert table.column("n").to_pylist()[-1] == 7
    assert table.column("i").to_pylist() == list(range(501))


def _error(uri) -> InputError:
    with pytest.raises(InputError) as err:
        read(uri)
    assert uri in str(err.value)
    return err.value


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        ('{"a": 1}\n\n{"a": 2}\n{"a": \n', 4, "not valid JSON"),
        ('{"a": 1}\n[1, 2]\n', 2, "expected a JSON object, found list"),
        (b'{"a": "x"}\n{"a": "caf\xe9"}\n', 2, "not UTF-8 text"),
    ],
)
def test_bad_lines(tmp_path, data, line, reason):
    error = _error(write(tmp_path, "bad.jsonl", data))
    assert error.line == line
    assert reason in error.reason


def test_bad_line_after_many_good_ones(tmp_path, small_blocks):
    good = lines(*({"a": i} for i in range(300)))
    error = _error(write(tmp_path, "bad.jsonl", good + "{oops}\n"))
    assert error.line == 301


@pytest.mark.parametrize("data", [b"", b"\n\n", gzip.compress(b"")])
def test_empty(tmp_path, data):
    assert "the file is empty" in str(_error(write(tmp_path, "e.jsonl", data)))


def test_missing(tmp_path):
    assert "no such file" in str(_error(str(tmp_path / "nope.jsonl")))


def test_pyarrow_without_open_json(tmp_path, monkeypatch, small_blocks):
    monkeypatch.delattr("pyarrow.json.open_json")
    records = [{"n": i + 0.5, "s": "x"} for i in range(300)] + [{"n": 2}]
    table = read(write(tmp_path, "a.jsonl", lines(*records) + "\n\n"))
    assert table.column("n").to_pylist()[-2:] == [299.5, 2.0]
    assert table.column("s").to_pylist()[-2:] == ["x", None]
    ints = [{"n": i} for i in range(300)] + [{"n": "x"}]
    with pytest.raises(SchemaChange):
        read(write(tmp_path, "b.jsonl", lines(*ints)))
