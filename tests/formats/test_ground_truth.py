"""Ground-truth records: parsing with line numbers, and the batch writer's layout."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelmon.errors import InputError
from modelmon.formats.ground_truth import GroundTruthRecord, parse_line
from modelmon.storage.ground_truth import iter_records, write_ground_truth


def test_parses_sagemaker_records(reference: Path) -> None:
    example = next((reference / "examples_ground_truth").glob("*.jsonl"))
    ((line, record),) = list(iter_records(str(example)))
    assert line == 1 and record.data == "0" and record.encoding == "CSV"
    assert record.event_id == example.stem
    # the SDK fixture's extra inferenceTime is accepted
    sdk = list(iter_records(str(reference / "sdk_tests_data_monitor/actuals.jsonl")))
    assert sdk and all(r.data in ("0", "1") and r.inference_time == "{%s}" for _, r in sdk)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not a JSON object"),
        ('{"eventMetadata": {"eventId": "a"}}', "no groundTruthData"),
        ('{"groundTruthData": {"data": null}, "eventMetadata": {"eventId": "a"}}', "data must be"),
        (
            '{"groundTruthData": {"data": "1", "encoding": "XML"}, '
            '"eventMetadata": {"eventId": "a"}}',
            "encoding must be one of CSV, JSON",
        ),
        ('{"groundTruthData": {"data": "1"}, "eventMetadata": {"eventId": ""}}', "eventId must be"),
        ('{"groundTruthData": {"data": "1"}}', "no eventMetadata"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps(GroundTruthRecord("x", "1").to_dict())
    path = tmp_path / "labels.jsonl"
    path.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(InputError, match=message) as caught:
        list(iter_records(str(path)))
    assert caught.value.line == 3 and caught.value.source == str(path)


def test_writer_writes_one_file_in_the_collection_hour(tmp_path: Path) -> None:
    moment = datetime(2024, 3, 4, 5, 59, 59, tzinfo=UTC)
    uri, count = write_ground_truth(
        str(tmp_path / "gt"),
        [("id-1", 1), ("id-2", "cat"), ("id-3", 0.25), ("id-4", True)],
        collected_at=moment,
    )
    assert count == 4
    path = Path(uri)
    assert path.parent == tmp_path / "gt/2024/03/04/05" and path.suffix == ".jsonl"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    records = [r for _, r in iter_records(uri)]
    assert [(r.event_id, r.data) for r in records] == [
        ("id-1", "1"),
        ("id-2", "cat"),
        ("id-3", "0.25"),
        ("id-4", "1"),
    ]
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {
        "groundTruthData": {"data": "1", "encoding": "CSV"},
        "eventMetadata": {"eventId": "id-1"},
        "eventVersion": "0",
    }
    assert parse_line(path.read_text().splitlines()[1]).data == "cat"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([], "no \\(inference id, label\\) pairs"),
        ([("a", 1), ("", 1)], "pair 1: the inference id must be a non-empty string"),
        ([("a", float("nan"))], "pair 0: a label must be a finite number"),
        ([("a", None)], "pair 0: a label must be a string or a number"),
        ([("a",)], "pair 0: expected \\(inference id, label\\)"),
    ],
)
def test_writer_refuses_bad_batches(tmp_path: Path, pairs: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        write_ground_truth(str(tmp_path / "gt"), pairs)
    assert not (tmp_path / "gt").exists()
