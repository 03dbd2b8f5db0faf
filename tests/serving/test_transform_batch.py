"""Batch transform data handling without a server: payloads, records, assembly, manifests."""

from __future__ import annotations

import json
import uuid

import pytest

from modelmon.errors import InputError
from modelmon.serving.batch import (
    Assembler,
    BatchError,
    Stamp,
    list_inputs,
    payloads,
    split_records,
)
from modelmon.serving.runtimes import Prediction


def test_split_records_skips_blank_lines_and_carriage_returns() -> None:
    assert split_records(b"1,2\r\n\n  \n3,4\n", "Line") == [b"1,2", b"3,4"]
    assert split_records(b"1,2\n3,4", "None") == [b"1,2\n3,4"]
    assert split_records(b" \n", "None") == []


def test_payloads_fill_up_to_the_limit() -> None:
    records = [b"a" * 4, b"b" * 4, b"c" * 4, b"d"]
    # 4 + 1 + 4 = 9 fits in 9 bytes; the third record would make 14
    assert list(payloads(records, "MultiRecord", 9)) == [records[:2], records[2:]]
    assert list(payloads(records, "MultiRecord", None)) == [records]
    assert list(payloads(records, "SingleRecord", 9)) == [[r] for r in records]
    with pytest.raises(BatchError, match="record 2 is 4 bytes"):
        list(payloads([b"a", b"bbbb"], "MultiRecord", 3))


def fixed_ids() -> Stamp:
    counter = iter(range(1000))
    return Stamp("2026-01-02T03:04:05Z", new_id=lambda: f"id-{next(counter)}")


def test_per_record_assembly_stamps_csv_and_json() -> None:
    csv = Assembler(per_record=True, line_ending=True, stamp=fixed_ids())
    answer = Prediction(b"0.5\n0.25\n", "text/csv; charset=utf-8")
    assert csv.piece([b"1,2", b"3,4"], answer) == (
        b"0.5,id-0,2026-01-02T03:04:05Z\n0.25,id-1,2026-01-02T03:04:05Z\n"
    )
    with pytest.raises(BatchError, match="answered 1 line"):
        csv.piece([b"1,2", b"3,4"], Prediction(b'{"predictions": [1, 2]}', "application/json"))
    lines = Assembler(per_record=True, line_ending=True, stamp=fixed_ids())
    out = lines.piece([b"[1]", b"[2]"], Prediction(b'1\n{"a": 2}', "application/jsonlines"))
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "SageMakerOutput": 1,
            "SageMakerInferenceId": "id-0",
            "SageMakerInferenceTime": "2026-01-02T03:04:05Z",
        },
        {"a": 2, "SageMakerInferenceId": "id-1", "SageMakerInferenceTime": "2026-01-02T03:04:05Z"},
    ]


def test_join_source_input() -> None:
    csv = Assembler(per_record=True, line_ending=True, join=True, input_content_type="text/csv")
    assert csv.piece([b"1,2"], Prediction(b"7", "text/csv")) == b"1,2,7\n"
    json_join = Assembler(per_record=True, line_ending=True, join=True)
    out = json_join.piece(
        [b'{"id": 3, "features": [1]}', b"[1]"], Prediction(b"7\n8", "application/jsonlines")
    )
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": 3, "features": [1], "SageMakerOutput": 7},
        {"SageMakerInput": [1], "SageMakerOutput": 8},
    ]


def test_whole_answers_are_concatenated_or_ended_with_a_newline() -> None:
    concat = Assembler(per_record=False, line_ending=False)
    assert concat.piece([b"x"], Prediction(b"1\n2", "text/csv")) == b"1\n2"
    ended = Assembler(per_record=False, line_ending=True, stamp=fixed_ids())
    assert ended.piece([b"x"], Prediction(b'{"predictions": [1]}', "application/json")) == (
        b'{"predictions":[1],"SageMakerInferenceId":"id-0",'
        b'"SageMakerInferenceTime":"2026-01-02T03:04:05Z"}\n'
    )
    real = Stamp("2026-01-02T03:04:05Z")
    first, second = (real.csv(b"0").split(b",")[1] for _ in range(2))
    assert first != second and uuid.UUID(first.decode()).version == 4


def test_manifest_inputs_and_their_errors(tmp_path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "b.csv").write_text("1")
    (data / "a.csv").write_text("1")
    manifest = tmp_path / "list.manifest"
    manifest.write_text(json.dumps([{"prefix": f"{data}/"}, "sub/b.csv", "a.csv"]))
    prefix, files = list_inputs("ManifestFile", str(manifest))
    assert prefix == f"{data}/" and [f.relative for f in files] == ["a.csv", "sub/b.csv"]
    prefix, files = list_inputs("S3Prefix", str(data))
    assert prefix == f"{data}/" and [f.relative for f in files] == ["a.csv", "sub/b.csv"]
    _, files = list_inputs("S3Prefix", str(data / "a.csv"))
    assert [f.relative for f in files] == ["a.csv"]
    for document in ({"prefix": "x"}, [{"prefix": "x"}], ["a.csv"], [{"prefix": "x"}, 3]):
        manifest.write_text(json.dumps(document))
        with pytest.raises(InputError) as err:
            list_inputs("ManifestFile", str(manifest))
        assert err.value.field == "TransformInput.DataSource.S3DataSource.S3Uri"
    _, files = list_inputs("S3Prefix", str(data), exclude=(f"{data}/sub/", str(tmp_path)))
    assert [f.relative for f in files] == ["a.csv"]  # only prefixes inside the input count
    (tmp_path / "only" / "out").mkdir(parents=True)
    (tmp_path / "only" / "out" / "a.csv.out").write_text("1")
    with pytest.raises(InputError, match="only this job's outputs"):
        list_inputs("S3Prefix", str(tmp_path / "only"), exclude=(str(tmp_path / "only" / "out"),))
