"""Capture reader: SageMaker capture JSON Lines flattened into rows of output + input columns."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
from typing import Any

import pyarrow as pa
import pytest

from modelmon.analysis.readers import (
    DatasetFormat,
    SchemaChange,
    Split,
    iter_capture_records,
    read_batches,
    read_splits,
)
from modelmon.analysis.readers import capture as capture_module
from modelmon.errors import InputError

CAPTURE = DatasetFormat("capture")
END = DatasetFormat("capture", output_columns_position="END")
ALLOWED = {pa.int64(), pa.float64(), pa.string(), pa.large_string(), pa.null()}


def csv_part(data: str, mode: str = "INPUT") -> dict[str, Any]:
    return {"observedContentType": "text/csv", "mode": mode, "data": data, "encoding": "CSV"}


def json_part(document: Any, mode: str = "INPUT") -> dict[str, Any]:
    data = document if isinstance(document, str) else json.dumps(document)
    return {
        "observedContentType": "application/json",
        "mode": mode,
        "data": data,
        "encoding": "JSON",
    }


def b64_part(raw: bytes, content_type: str, mode: str = "INPUT") -> dict[str, Any]:
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": base64.b64encode(raw).decode(),
        "encoding": "BASE64",
    }


def record(inp=None, out=None, event_id="e", **metadata) -> dict[str, Any]:
    capture = {}
    if inp is not None:
        capture["endpointInput"] = inp
    if out is not None:
        capture["endpointOutput"] = out
    meta = {"eventId": event_id, "inferenceTime": "2022-04-18T00:21:48Z", **metadata}
    return {"captureData": capture, "eventMetadata": meta, "eventVersion": "0"}


def write(tmp_path, records, name: str = "capture.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    return str(path)


def read(uri, fmt=CAPTURE, **options) -> pa.Table:
    batches = list(read_batches(uri, fmt, **options))
    for batch in batches:
        assert {f.type for f in batch.schema} <= ALLOWED
    tables = [pa.Table.from_batches([b]) for b in batches]
    return pa.concat_tables(tables, promote_options="permissive")


# -- CSV payloads ---------------------------------------------------------------


def test_csv_start_and_end(tmp_path):
    uri = write(
        tmp_path,
        [
            record(csv_part("9,45,45,42,7,5,0"), csv_part("0.30", "OUTPUT")),
            record(csv_part("1,2,3,4,5,6,-7\n"), csv_part("0.5\n", "OUTPUT")),
        ],
    )
    start = read(uri)
    assert start.schema.names == [f"_c{i}" for i in range(8)]
    assert start.column("_c0").to_pylist() == [0.30, 0.5]
    assert start.column("_c1").to_pylist() == [9, 1]
    assert start.column("_c7").to_pylist() == [0, -7]
    end = read(uri, END)
    assert end.column("_c0").to_pylist() == [9, 1]
    assert end.column("_c7").to_pylist() == [0.30, 0.5]


def test_csv_quotes_and_empty_fields(tmp_path):
    uri = write(
        tmp_path,
        [
            record(csv_part('1,"a, b",,""'), csv_part("x", "OUTPUT")),
            record(csv_part('2,"say ""hi""",3,z'), csv_part("y", "OUTPUT")),
        ],
    )
    assert read(uri).to_pydict() == {
        "_c0": ["x", "y"],
        "_c1": [1, 2],
        "_c2": ["a, b", 'say "hi"'],
        "_c3": [None, 3],
        "_c4": ["", "z"],
    }


def test_several_rows_in_one_record(tmp_path):
    uri = write(
        tmp_path,
        [
            record(csv_part("1,2\n3,4\n"), csv_part("0.1\n0.2", "OUTPUT")),
            record(csv_part("5,6"), csv_part("0.3", "OUTPUT")),
            record(csv_part('7,"multi\nline"'), csv_part("0.4", "OUTPUT")),
        ],
    )
    assert read(uri).to_pydict() == {
        "_c0": [0.1, 0.2, 0.3, 0.4],
        "_c1": [1, 3, 5, 7],
        "_c2": ["2", "4", "6", "multi\nline"],
    }


def test_input_only_and_shadow_records(tmp_path):
    uri = write(
        tmp_path,
        [
            record(csv_part("1,2")),
            record(csv_part("8,8"), invocationSource="ShadowExperiment"),
            record(csv_part("3,4")),
        ],
    )
    assert read(uri).to_pydict() == {"_c0": [1, 3], "_c1": [2, 4]}


def test_metadata_columns(tmp_path):
    uri = write(
        tmp_path,
        [
            record(csv_part("1"), csv_part("0", "OUTPUT"), event_id="a", inferenceId="i-1"),
            record(csv_part("2\n3"), csv_part("1\n1", "OUTPUT"), event_id="b"),
        ],
    )
    table = read(uri, metadata_columns=True)
    assert table.schema.names == ["_c0", "_c1", "eventId", "inferenceId", "inferenceTime"]
    assert table.column("eventId").to_pylist() == ["a", "b", "b"]
    assert table.column("inferenceId").to_pylist() == ["i-1", None, None]
    assert table.column("inferenceTime").to_pylist() == ["2022-04-18T00:21:48Z"] * 3


# -- JSON payloads -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inp", "out", "fmt", "expected"),
    [
        (  # {"instances": [...]}: the single list; a list of scalars is one row
            {"instances": [1.0, 2.0, 5.0]},
            {"predictions": [3.5]},
            CAPTURE,
            {"_c0": [3.5], "_c1": [1.0], "_c2": [2.0], "_c3": [5.0]},
        ),
        (  # a list of lists: several rows; one prediction per row
            {"instances": [[1, 2], [3, 4]]},
            {"predictions": [0.5, 0.7]},
            CAPTURE,
            {"_c0": [0.5, 0.7], "_c1": [1, 3], "_c2": [2, 4]},
        ),
        (  # a dict: named columns (nested keys dotted); END puts the output after
            {"age": 31, "city": "Oslo", "geo": {"lat": 59.9}},
            {"score": 0.8},
            END,
            {"age": [31], "city": ["Oslo"], "geo.lat": [59.9], "score": [0.8]},
        ),
        (  # attributes as JSONPath and as a plain key
            {"features": [1, 2], "id": "x"},
            {"out": {"predicted_label": 1, "probability": 0.9}},
            DatasetFormat(
                "capture", features_attribute="$.features", inference_attribute="out.probability"
            ),
            {"_c0": [0.9], "_c1": [1], "_c2": [2]},
        ),
        (  # [*] maps over a list
            {"instances": [[1], [2]]},
            {"predictions": [{"score": 0.1}, {"score": 0.2}]},
            DatasetFormat("capture", inference_attribute="$.predictions[*].score"),
            {"_c0": [0.1, 0.2], "_c1": [1, 2]},
        ),
        (  # list of dicts: a row each
            [{"a": 1, "b": True}, {"a": 2, "b": None}],
            [0, 1],
            CAPTURE,
            {"_c0": [0, 1], "a": [1, 2], "b": ["true", None]},
        ),
    ],
)
def test_json_payloads(tmp_path, inp, out, fmt, expected):
    uri = write(tmp_path, [record(json_part(inp), json_part(out, "OUTPUT"))])
    assert read(uri, fmt).to_pydict() == expected


def test_json_lines_payload_and_mixed_encodings(tmp_path):
    lines = '{"a": 1}\n{"a": 2}\n'
    uri = write(tmp_path, [record(json_part(lines), csv_part("x\ny", "OUTPUT"))])
    assert read(uri).to_pydict() == {"_c0": ["x", "y"], "a": [1, 2]}


def test_base64_payloads(tmp_path):
    uri = write(
        tmp_path,
        [
            record(b64_part(b"1,2\n", "text/csv"), b64_part(b'{"p": [0.5]}', "application/json")),
            record(b64_part(b"3,4", "text/csv; charset=utf-8"), json_part({"p": [0.25]})),
        ],
    )
    assert read(uri).to_pydict() == {"_c0": [0.5, 0.25], "_c1": [1, 3], "_c2": [2, 4]}


def test_fast_and_per_record_paths_agree(tmp_path):
    simple = [
        record(csv_part(f'{i},{i * 0.5},"t,{i}",'), csv_part(f"{i % 2}", "OUTPUT"))
        for i in range(50)
    ]
    fast = read(write(tmp_path, simple, "fast.jsonl"))
    # one record with two rows sends its whole batch down the per-record path
    hard = [*simple, record(csv_part("1,2,x,\n3,4,y,"), csv_part("0\n1", "OUTPUT"))]
    slow = read(write(tmp_path, hard, "slow.jsonl"))
    assert slow.slice(0, 50).equals(fast)
    assert slow.num_rows == 52


def test_line_by_line_when_arrow_cannot_parse(tmp_path):
    # data given as a JSON object instead of a string: Arrow's schema rejects it
    odd = record({"observedContentType": "application/json", "data": {"x": 5}, "encoding": "JSON"})
    uri = write(tmp_path, [record(json_part({"x": 1})), odd, record(json_part({"x": 7}))])
    assert read(uri).to_pydict() == {"x": [1, 5, 7]}


def test_gzip(tmp_path):
    uri = write(tmp_path, [record(csv_part("1,2"), csv_part("3", "OUTPUT"))])
    path = tmp_path / "capture.jsonl.gz"
    with open(uri, "rb") as plain:
        path.write_bytes(gzip.compress(plain.read()))
    assert read(str(path)).to_pydict() == {"_c0": [3], "_c1": [1], "_c2": [2]}


def test_late_type_change(tmp_path, monkeypatch):
    monkeypatch.setattr(capture_module, "BLOCK_SIZE", 1 << 12)
    records = [record(csv_part(f"{i},a"), csv_part("1", "OUTPUT")) for i in range(300)]
    records.append(record(csv_part("abc,a"), csv_part("1", "OUTPUT")))
    uri = write(tmp_path, records)
    with pytest.raises(SchemaChange) as err:
        read(uri)
    assert err.value.columns == ["_c1"]
    table = read(uri, string_columns=frozenset({"_c1"}))
    assert table.column("_c1").to_pylist()[-2:] == ["299", "abc"]
    assert table.column("_c0").type == pa.int64()


def test_iter_capture_records(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"a": 1}\n\n{"b": 2}\n')
    assert list(iter_capture_records(str(path))) == [(1, {"a": 1}), (3, {"b": 2})]


# -- bad input -------------------------------------------------------------------------


def _error(uri, fmt=CAPTURE) -> InputError:
    with pytest.raises(InputError) as err:
        read(uri, fmt)
    assert uri in str(err.value)
    return err.value


GOOD = record(csv_part("1,2"), csv_part("0", "OUTPUT"))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"eventMetadata": {}}, "the record has no captureData"),
        ({"captureData": {}}, "neither endpointInput nor endpointOutput"),
        (record(b64_part(b"1,2", "text/csv") | {"data": "!!not base64"}), "not valid base64"),
        (record(b64_part(b"\x89PNG", "image/png")), "content type 'image/png'"),
        (record(json_part("{not json")), "endpointInput data is not valid JSON"),
        (record(csv_part("1,2,3"), csv_part("0", "OUTPUT")), "expected 3 fields, found 4"),
        (
            record(csv_part("1,2\n3,4"), csv_part("0", "OUTPUT")),
            "holds 1 rows but endpointInput holds 2",
        ),
        (record(csv_part("1,2") | {"encoding": "XML"}), "unknown encoding 'XML'"),
        (record(json_part([1])), "expected 3 fields, found 1"),
    ],
)
def test_bad_records_name_the_line(tmp_path, bad, reason):
    uri = write(tmp_path, [GOOD, GOOD, bad, GOOD])
    with open(uri, "r+") as handle:  # a blank first line: line numbers count it
        text = handle.read()
        handle.seek(0)
        handle.write("\n" + text)
    error = _error(uri)
    assert error.line == 4
    assert reason in str(error)


def test_missing_attribute(tmp_path):
    uri = write(tmp_path, [record(json_part({"instances": [1]}))])
    error = _error(uri, DatasetFormat("capture", features_attribute="$.features"))
    assert (error.line, error.field) == (1, "$.features")


@pytest.mark.parametrize(
    ("line", "reason"),
    [("{not json\n", "not valid JSON"), ('"just a string"\n', "expected a JSON object")],
)
def test_malformed_lines(tmp_path, line, reason):
    path = tmp_path / "c.jsonl"
    good = json.dumps(GOOD) + "\n"
    path.write_text(good * 3 + line + good)
    error = _error(str(path))
    assert error.line == 4
    assert reason in error.reason


def test_not_utf8(tmp_path):
    path = tmp_path / "c.jsonl"
    good = (json.dumps(GOOD) + "\n").encode()
    path.write_bytes(good + good.replace(b'"1,2"', b'"1,\xe9"') + good)
    error = _error(str(path))
    assert (error.line, error.reason) == (2, "not UTF-8 text")


@pytest.mark.parametrize("data", [b"", b"\n", gzip.compress(b"")])
def test_empty(tmp_path, data):
    path = tmp_path / "c.jsonl"
    path.write_bytes(data)
    assert "the file is empty" in str(_error(str(path)))


def test_only_shadow_records_is_not_an_error(tmp_path):
    uri = write(tmp_path, [record(csv_part("1"), invocationSource="ShadowExperiment")])
    assert list(read_batches(uri, CAPTURE)) == []


# -- SageMaker's own capture files ------------------------------------------------------


def test_reference_capture(reference, tmp_path):
    source = reference / "sdk_tests_data_monitor" / "capture.jsonl"
    table = read(str(source))
    assert table.num_rows == 44  # 43 newlines; the last record has none
    assert table.schema.names == [f"_c{i}" for i in range(8)]
    first = table.slice(0, 1).to_pylist()[0]
    assert first == {
        "_c0": 0.302709460258,
        "_c1": 9,
        "_c2": 45,
        "_c3": 45,
        "_c4": 42,
        "_c5": 7,
        "_c6": 5,
        "_c7": 0,
    }
    copy = tmp_path / "endpoint" / "AllTraffic" / "2022" / "04" / "18" / "00"
    copy.mkdir(parents=True)
    shutil.copy(source, copy / "20-48-871-0b7bfd33.jsonl")
    assert read(str(tmp_path / "endpoint")).equals(table)


def test_reference_captured_json(reference):
    source = reference / "sdk_tests_data_monitor" / "captured-data.jsonl"
    table = read(str(source), metadata_columns=True)
    assert table.num_rows == 2
    row = table.slice(0, 1).to_pylist()[0]
    # {"instances": [1.0, 2.0, 5.0]} is one row of three features; the output's
    # three predictions are three output columns (one input row to match them with)
    assert [row[f"_c{i}"] for i in range(6)] == [3.5, 4.0, 5.5, 1.0, 2.0, 5.0]
    assert row["eventId"] == "12b73486-e916-45de-9d82-7fa23d4a39a6"
    assert row["inferenceTime"] == "2019-11-24T07:30:50Z"


def test_pyarrow_without_open_json(tmp_path, monkeypatch):
    monkeypatch.delattr("pyarrow.json.open_json")
    monkeypatch.setattr(capture_module, "BLOCK_SIZE", 1 << 12)
    records = [record(csv_part(f"{i},a"), csv_part("1", "OUTPUT")) for i in range(300)]
    table = read(write(tmp_path, records))
    assert table.column("_c1").to_pylist() == list(range(300))


# -- many small files read together ----------------------------------------------


def _small_files(tmp_path, count: int = 30) -> tuple[list, list[list[str]]]:
    splits, rows = [], []
    for i in range(count):
        records = [
            record(csv_part(f"{i},{j},x{j % 3}"), csv_part(f"0.{j}", "OUTPUT"), event_id=f"{i}-{j}")
            for j in range(5)
        ]
        rows += [["0." + str(j), str(i), str(j), f"x{j % 3}"] for j in range(5)]
        uri = write(tmp_path, records, f"{i:03d}.jsonl")
        splits.append(Split(uri, size=os.path.getsize(uri)))
    return splits, rows


def _read_all(splits, **options) -> pa.Table:
    batches = list(read_splits(splits, CAPTURE, **options))
    return pa.Table.from_batches(batches)


def test_small_files_read_together_equal_file_by_file(tmp_path, monkeypatch):
    splits, rows = _small_files(tmp_path)
    together = _read_all(splits, metadata_columns=True)
    assert together.num_rows == len(rows) == 150
    got = [[str(v) for v in r.values()][:4] for r in together.to_pylist()]
    assert got == [[str(float(a)), str(int(b)), str(int(c)), d] for a, b, c, d in rows]
    assert together.column("eventId").to_pylist() == [
        f"{i}-{j}" for i in range(30) for j in range(5)
    ]
    # one file at a time (no group is small enough): the same rows
    monkeypatch.setattr(capture_module, "GROUP_BYTES", 1)
    assert _read_all(splits, metadata_columns=True).equals(together)


def test_small_files_are_parsed_together_not_one_by_one(tmp_path):
    splits, _ = _small_files(tmp_path, 12)
    read_alone: list[str] = []

    def read_one(split):
        read_alone.append(split.uri)
        return capture_module.read_capture(split, CAPTURE)

    rows = sum(b.num_rows for b in capture_module.read_capture_files(splits, CAPTURE, read_one))
    assert rows == 60 and read_alone == []  # one group, one parse
    with open(splits[4].uri, "a") as out:
        out.write("not json\n")
    with pytest.raises(InputError):
        list(capture_module.read_capture_files(splits, CAPTURE, read_one))
    assert read_alone[:5] == [s.uri for s in splits[:5]]  # the group, again file by file


def test_a_bad_line_in_a_group_names_its_file_and_line(tmp_path):
    splits, _ = _small_files(tmp_path, 10)
    bad = splits[6].uri
    with open(bad, "a") as out:
        out.write('{"captureData": {"endpointInput": \n')
    with pytest.raises(InputError) as err:
        _read_all(splits)
    assert err.value.source == bad and err.value.line == 6


def test_an_empty_file_in_a_group_is_named(tmp_path):
    splits, _ = _small_files(tmp_path, 5)
    empty = tmp_path / "002.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="empty") as err:
        _read_all(splits)
    assert err.value.source == str(empty)
