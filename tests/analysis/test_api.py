"""``baseline`` and ``analyze`` end to end on real files, checked independently."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelmon.analysis import engine
from modelmon.analysis.api import analyze, baseline, load_constraints
from modelmon.errors import InputError
from modelmon.formats.jsonfmt import dumps
from modelmon.synthetic import LABEL, churn_table, write_csv

REFERENCE_DQ = "sdk_pipeline_quality_check_step/data_quality"
WORDS = ["plain", "with, comma", 'say "hi"', "Zoë", "東京", "naïve ✓", "-", "two\nlines"]


# -- SageMaker's own output ---------------------------------------------------


def test_reference_baseline_is_byte_for_byte_sagemakers(reference: Path, tmp_path: Path) -> None:
    folder = reference / REFERENCE_DQ
    result = baseline(str(folder / "baseline_dataset.csv"), str(tmp_path), header=False)
    written = (tmp_path / "statistics.json").read_bytes()
    assert written == (folder / "statistics.json").read_bytes()
    assert (tmp_path / "constraints.json").read_bytes() == (
        folder / "good_cases" / "constraints.json"
    ).read_bytes()
    assert dumps(result.statistics.to_dict()).encode() == written


# -- messy generated CSV against pandas ---------------------------------------


def _messy(rows: int, seed: int) -> tuple[str, dict[str, list]]:
    """A CSV text and, per column, the Python values it holds (None = missing).

    Keep ``rows`` at most 2048 (KLL's k) so that bucket counts are exact.
    """
    rng = random.Random(seed)
    columns: dict[str, list] = {"id": [], "amount": [], "count": [], "mixed": [], "word": []}
    for i in range(rows):
        columns["id"].append(i - rows // 2)
        columns["amount"].append(None if rng.random() < 0.1 else round(rng.uniform(-1e3, 1e3), 4))
        columns["count"].append(None if rng.random() < 0.05 else rng.randint(-50, 50))
        roll = rng.random()
        columns["mixed"].append(
            rng.randint(0, 9)
            if roll < 0.6
            else round(rng.uniform(0, 1), 3)
            if roll < 0.8
            else "n/a"
        )
        roll = rng.random()
        columns["word"].append(None if roll < 0.05 else "" if roll < 0.1 else rng.choice(WORDS))
    out = io.StringIO()
    out.write(",".join(columns) + "\n")
    for row in zip(*columns.values(), strict=True):
        cells = []
        for value in row:
            if value is None:
                cells.append("")  # unquoted empty: missing
            elif value == "" or any(c in str(value) for c in ',"\n'):
                cells.append('"' + str(value).replace('"', '""') + '"')
            else:
                cells.append(str(value))
        out.write(",".join(cells) + "\n")
    return out.getvalue(), columns


def _numeric_expected(values: list) -> dict:
    series = pd.Series([v for v in values if v is not None], dtype=float)
    return {
        "num_present": len(series),
        "num_missing": len(values) - len(series),
        "sum": series.sum(),
        "mean": series.mean(),
        "std_dev": series.std(ddof=0),
        "min": series.min(),
        "max": series.max(),
        "hist": np.histogram(series, bins=10)[0].tolist(),
    }


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory) -> tuple[Path, dict[str, list]]:
    text, columns = _messy(2000, seed=11)
    path = tmp_path_factory.mktemp("messy") / "messy.csv"
    path.write_text(text, encoding="utf-8")
    return path, columns


def test_messy_csv_statistics_match_pandas(messy_csv) -> None:
    path, columns = messy_csv
    stats = baseline(str(path), workers=1).statistics
    assert stats.item_count == 2000
    by_name = {f.name: f for f in stats.features}
    assert {name: f.inferred_type for name, f in by_name.items()} == {
        "id": "Integral",
        "amount": "Fractional",
        "count": "Integral",
        "mixed": "String",
        "word": "String",
    }
    for name in ("id", "amount", "count"):
        want = _numeric_expected(columns[name])
        got = by_name[name].numerical
        assert got is not None
        assert (got.num_present, got.num_missing) == (want["num_present"], want["num_missing"])
        for key in ("sum", "mean", "std_dev", "min", "max"):
            assert getattr(got, key) == pytest.approx(want[key], rel=1e-12, abs=1e-9), (name, key)
        assert [b.count for b in got.buckets] == want["hist"], name

    counts = pd.Series(["" if v is None else str(v) for v in columns["word"]])
    present = counts[[v is not None for v in columns["word"]]]
    word = by_name["word"].string
    assert word is not None
    assert (word.num_present, word.num_missing) == (len(present), counts.size - len(present))
    assert word.distinct_count == present.nunique()
    assert {b.value: b.count for b in word.buckets} == present.value_counts().to_dict()

    mixed = by_name["mixed"].string
    assert mixed is not None
    assert mixed.num_present == 2000
    assert {b.value: b.count for b in mixed.buckets} == (
        pd.Series([str(v) for v in columns["mixed"]]).value_counts().to_dict()
    )


def test_byte_ranges_across_processes_equal_one_serial_pass(messy_csv, monkeypatch) -> None:
    """Below k = 2048 values the sketch keeps every value in input order, so even the
    sketch data and bucket counts of merged ranges must equal one serial pass."""
    path, _ = messy_csv
    serial = baseline(str(path), workers=1)
    monkeypatch.setattr(engine, "MIN_SPLIT_BYTES", 4096)
    parallel = baseline(str(path), workers=2)
    assert dumps(parallel.statistics.to_dict()) == dumps(serial.statistics.to_dict())
    assert dumps(parallel.constraints.to_dict()) == dumps(serial.constraints.to_dict())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_late_string_restarts_with_the_column_as_text(tmp_path, monkeypatch, workers) -> None:
    """A value far past the first blocks turns an integer column into a string one."""
    monkeypatch.setattr(engine, "MIN_SPLIT_BYTES", 1 << 16)
    rows = [f"{i},{i % 7}\n" for i in range(300_000)]
    rows[-10] = f"{300_000 - 10},abc\n"
    path = tmp_path / "late.csv"
    path.write_text("n,code\n" + "".join(rows))
    stats = baseline(str(path), workers=workers).statistics
    code = next(f for f in stats.features if f.name == "code")
    assert code.inferred_type == "String"
    assert code.string is not None and code.string.num_present == 300_000
    assert code.string.distinct_count == 8.0
    n = next(f for f in stats.features if f.name == "n")
    assert n.numerical is not None and n.numerical.sum == float(sum(range(300_000)))


# -- drift end to end -----------------------------------------------------------


@pytest.fixture(scope="module")
def churn_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("churn")
    files = {
        "train": write_csv(folder / "train.csv", 20_000, seed=1),
        "drifted": write_csv(folder / "drifted.csv", 20_000, seed=2, drift=True),
        "same": write_csv(folder / "same.csv", 20_000, seed=3),
    }
    base = baseline(str(files["train"]), str(folder / "baseline"))
    files.update({name: Path(uri) for name, uri in base.outputs.items()})
    return files


def _drifted(result) -> set[str]:
    return {
        v.feature_name
        for v in result.violations
        if v.constraint_check_type == "baseline_drift_check"
    }


def test_exactly_the_shifted_features_drift(churn_files, tmp_path) -> None:
    result = analyze(
        str(churn_files["drifted"]),
        str(churn_files["constraints.json"]),
        str(churn_files["statistics.json"]),
        str(tmp_path),
    )
    assert _drifted(result) == {"Day Mins", "CustServ Calls", "Int'l Plan"}
    written = json.loads((tmp_path / "constraint_violations.json").read_text())
    assert {v["feature_name"] for v in written["violations"]} >= _drifted(result)
    assert (tmp_path / "statistics.json").exists()
    far = min(result.drift[f][1] for f in _drifted(result))
    assert all(d < far for f, (_, d) in result.drift.items() if f not in _drifted(result))


def test_an_unshifted_sample_does_not_drift(churn_files) -> None:
    result = analyze(
        str(churn_files["same"]),
        str(churn_files["constraints.json"]),
        str(churn_files["statistics.json"]),
    )
    assert _drifted(result) == set()
    assert max(d for _, d in result.drift.values()) < 0.05


# -- capture traffic against a headed baseline ---------------------------------


def _capture_lines(table, start: int, stop: int) -> str:
    lines = []
    for row in table.slice(start, stop - start).to_pylist():
        label = row.pop(LABEL)
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(["" if v is None else v for v in row.values()])
        lines.append(
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": out.getvalue(),
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv; charset=utf-8",
                            "mode": "OUTPUT",
                            "data": str(label),
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": {
                        "eventId": f"e{start}",
                        "inferenceTime": "2026-11-23T10:00:00Z",
                    },
                    "eventVersion": "0",
                }
            )
        )
    return "\n".join(lines) + "\n"


def test_capture_columns_are_matched_to_the_baseline_by_position(churn_files, tmp_path) -> None:
    table = churn_table(3000, seed=4)
    assert table.schema.names[0] == LABEL  # output first: output_columns_position START
    hour = tmp_path / "capture" / "ep" / "AllTraffic" / "2026" / "11" / "23" / "10"
    hour.mkdir(parents=True)
    (hour / "00-00-000-a.jsonl").write_text(_capture_lines(table, 0, 1500))
    (hour / "30-00-000-b.jsonl").write_text(_capture_lines(table, 1500, 3000))
    result = analyze(
        str(tmp_path / "capture"),
        str(churn_files["constraints.json"]),
        str(churn_files["statistics.json"]),
        format="capture",
    )
    assert [f.name for f in result.statistics.features] == table.schema.names
    checks = {v.constraint_check_type for v in result.violations}
    assert not checks & {"missing_column_check", "extra_column_check", "data_type_check"}
    day = next(f for f in result.statistics.features if f.name == "Day Mins").numerical
    assert day is not None
    assert day.sum == pytest.approx(pd.Series(table["Day Mins"].to_pylist()).sum(), rel=1e-12)


# -- bad input --------------------------------------------------------------------


def test_invalid_constraints_name_the_file_and_field(churn_files, tmp_path) -> None:
    doc = json.loads(churn_files["constraints.json"].read_text())
    doc["features"][0]["completeness"] = "high"
    bad = tmp_path / "constraints.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_constraints(str(bad))
    assert str(bad) in str(err.value) and "completeness" in str(err.value)
