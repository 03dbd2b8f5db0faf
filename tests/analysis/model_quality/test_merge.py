"""The ground-truth merge on real files: planted matches, late labels, unknown ids, duplicates."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from mq_data import capture_record, seconds, write_capture, write_labels

from modelmon.analysis.model_quality import (
    Attribute,
    label_values,
    merge,
    read_capture,
    read_ground_truth,
    write_merged,
)
from modelmon.errors import InputError
from modelmon.storage.files import expand

H0 = datetime(2024, 5, 6, 10, tzinfo=UTC)
OUTPUT = {"inference": Attribute("0", "inference_attribute")}


def test_merge_finds_exactly_the_planted_matches(tmp_path: Path) -> None:
    rng = random.Random(11)
    capture, truth = tmp_path / "capture", tmp_path / "gt"
    planted: dict[str, str] = {}  # join id -> label
    decoys: list[tuple[str, str]] = []
    for hour in range(3):
        start = H0 + timedelta(hours=hour)
        records = []
        for i, moment in enumerate(seconds(start, 40)):
            event_id = f"event-{hour}-{i}"
            inference_id = f"inference-{hour}-{i}" if i % 2 else None
            records.append(capture_record(event_id, moment, "1", inference_id=inference_id))
            join_id = inference_id or event_id
            if rng.random() < 0.7:
                planted[join_id] = rng.choice("01")
            if inference_id is not None and i % 4 == 1:
                decoys.append((event_id, "1"))  # eventId of a record that has an inferenceId
        write_capture(capture, start, records)
    # labels arrive 1, 2 and 5 days late, in several files; 3 ids labelled twice
    items = sorted(planted.items())
    twice = [key for key, _ in items[:3]]
    first = [(key, "1" if planted[key] == "0" else "0") for key in twice]
    chunks = [items[0::3], items[1::3], items[2::3]]
    write_labels(truth, H0 + timedelta(days=1), first + chunks[0])
    write_labels(truth, H0 + timedelta(days=2), chunks[1] + [("unknown-1", "1")])
    write_labels(truth, H0 + timedelta(days=5, hours=3), chunks[2] + decoys + [("unknown-2", "0")])

    inferences = read_capture(expand(str(capture)), OUTPUT)
    labels = read_ground_truth(expand(str(truth)))
    merged = merge(inferences, labels)

    assert merged.summary.to_dict() == {
        "inferences": 120,
        "labels": len(planted) + 3 + 2 + len(decoys),
        "matched": len(planted),
        "unmatched_inferences": 120 - len(planted),
        "unmatched_labels": 2 + len(decoys),
        "duplicate_labels": 3,
    }
    ids = inferences.ids.take(merged.inference_rows).to_pylist()
    found = dict(zip(ids, labels.data.take(merged.label_rows).to_pylist(), strict=True))
    assert found == planted  # the later collection of the 3 duplicates won

    written = write_merged(inferences, labels, merged, str(tmp_path / "merge"), str(capture))
    assert len(written) == 3
    assert written[0] == str(tmp_path / "merge/mq-endpoint/AllTraffic/2024/05/06/10/merged.jsonl")
    audit = {}
    for path in written:
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            meta = record["eventMetadata"]
            audit[meta.get("inferenceId", meta["eventId"])] = record
    assert {k: r["groundTruthData"]["data"] for k, r in audit.items()} == planted
    some = next(iter(audit.values()))
    assert some["groundTruthData"]["encoding"] == "CSV"
    assert some["captureData"]["endpointInput"]["data"] == "1.5,2,abc"  # the whole record


def test_partial_hours_are_cut_to_the_window_by_inference_time(tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    records = [capture_record(f"e{i}", H0 + timedelta(minutes=i), "0.5") for i in range(60)]
    path = write_capture(capture, H0, records)
    start, end = H0 + timedelta(minutes=15), H0 + timedelta(minutes=45)
    inferences = read_capture([str(path)], OUTPUT, start=start, end=end, partial=frozenset())
    assert len(inferences.ids) == 60  # a whole hour file: every record
    inferences = read_capture(
        [str(path)], OUTPUT, start=start, end=end, partial=frozenset({str(path)})
    )
    assert inferences.ids.to_pylist() == [f"e{i}" for i in range(15, 45)]
    assert inferences.where.line.tolist() == list(range(16, 46))


def test_shadow_records_are_skipped(tmp_path: Path) -> None:
    records = [capture_record(f"e{i}", H0, "1") for i in range(4)]
    records[1]["eventMetadata"]["invocationSource"] = "ShadowExperiment"
    path = write_capture(tmp_path, H0, records)
    inferences = read_capture([str(path)], OUTPUT)
    assert inferences.ids.to_pylist() == ["e0", "e2", "e3"]
    assert inferences.where.line.tolist() == [1, 3, 4]


@pytest.mark.parametrize(
    ("output", "encoding", "content_type", "attribute", "expected"),
    [
        ("0.25,1", "CSV", "text/csv", "1", "1"),
        ('"a,b",0.7', "CSV", "text/csv", "1", "0.7"),
        (
            '{"prediction": 3, "probabilities": [0.1, 0.9]}',
            "JSON",
            "application/json",
            "$.probabilities[1]",
            "0.9",
        ),
        ('{"prediction": 3}', "JSON", "application/json", "$.prediction", "3"),
        ("eyJzY29yZSI6IDAuNH0=", "BASE64", "application/json", "$.score", "0.4"),
    ],
)
def test_output_values_by_attribute(
    tmp_path: Path, output: str, encoding: str, content_type: str, attribute: str, expected: str
) -> None:
    record = capture_record("e", H0, output, encoding=encoding, content_type=content_type)
    path = write_capture(tmp_path, H0, [record])
    found = read_capture([str(path)], {"inference": Attribute(attribute, "inference_attribute")})
    assert found.values["inference"].to_pylist() == [expected]


def test_label_values_of_csv_and_json_ground_truth(tmp_path: Path) -> None:
    path = tmp_path / "gt.jsonl"
    rows = [
        ("a", "1", "CSV"),
        ("b", "cat,0.9", "CSV"),
        ("c", '{"label": "dog", "score": 2}', "JSON"),
    ]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "groundTruthData": {"data": data, "encoding": encoding},
                    "eventMetadata": {"eventId": key},
                    "eventVersion": "0",
                }
            )
            + "\n"
            for key, data, encoding in rows
        )
    )
    labels = read_ground_truth([str(path)])
    assert label_values(labels, None, np.array([0])).to_pylist() == ["1"]
    first_column = Attribute("0", "ground_truth_attribute")
    assert label_values(labels, first_column, np.array([0, 1])).to_pylist() == ["1", "cat"]
    by_path = Attribute("$.label", "ground_truth_attribute")
    assert label_values(labels, by_path, np.array([2])).to_pylist() == ["dog"]
    # a dataset column name: CSV labels are the whole data, JSON ones are read at the key
    by_name = Attribute("label", "ground_truth_attribute")
    assert label_values(labels, by_name, np.array([0, 2])).to_pylist() == ["1", "dog"]
    with pytest.raises(InputError, match="selects nothing in groundTruthData") as caught:
        label_values(labels, first_column, np.array([2]))
    assert caught.value.line == 3 and caught.value.source == str(path)


def test_bad_capture_line_is_named_among_several_files(tmp_path: Path) -> None:
    good = write_capture(tmp_path, H0, [capture_record(f"a{i}", H0, "0.5") for i in range(3)])
    records = [capture_record(f"b{i}", H0, "0.5") for i in range(3)]
    bad = write_capture(tmp_path, H0 + timedelta(hours=1), records)
    lines = bad.read_text().splitlines()
    bad.write_text("\r\n".join([lines[0], "", lines[1], '{"captureData": oops', lines[2]]) + "\n")
    with pytest.raises(InputError, match="line 4") as caught:
        read_capture([str(good), str(bad)], OUTPUT)
    assert caught.value.source == str(bad)
    bad.write_text("\n".join([lines[0], "  ", lines[1], "", lines[2]]))  # blank lines, no \n
    found = read_capture([str(good), str(bad)], OUTPUT)
    assert found.ids.to_pylist() == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert found.where.line.tolist() == [1, 2, 3, 1, 3, 5]
    assert found.where.file.tolist() == [0, 0, 0, 1, 1, 1]
