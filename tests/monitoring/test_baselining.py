"""Baselining jobs: the built-in analyzer over a training dataset, as its own process."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmon.analysis.api import baseline
from modelmon.monitoring.runner import BaseliningSpec, Runner, run_baselining
from modelmon.synthetic import write_csv


@pytest.fixture
def objects(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("MODELMON_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    root = tmp_path / "objects"
    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(root))
    return root


def test_a_baselining_job_writes_what_the_analyzer_writes(objects, tmp_path) -> None:
    (objects / "bucket" / "train").mkdir(parents=True)
    data = write_csv(objects / "bucket" / "train" / "part-0.csv", 2000, seed=4)
    spec = BaseliningSpec(
        job_name="job",
        dataset_uri="s3://bucket/train",
        dataset_format={"csv": {"header": True}},
        output_uri="s3://bucket/baseline-out",
        work_dir=tmp_path / "work",
    )
    result = run_baselining(Runner(), spec)
    assert result.status == "Completed", result.failure_reason
    assert result.report_uri == "s3://bucket/baseline-out/"
    expected = baseline(str(data), str(tmp_path / "direct"))
    for name in ("statistics.json", "constraints.json"):
        written = (objects / "bucket" / "baseline-out" / name).read_bytes()
        assert written == (tmp_path / "direct" / name).read_bytes(), name
    assert expected.statistics.item_count == 2000
    assert "baselining job ended: Completed" in result.log_path.read_text()


def test_a_missing_dataset_fails_naming_it(objects, tmp_path) -> None:
    spec = BaseliningSpec(
        job_name="job",
        dataset_uri="s3://bucket/nothing-here",
        dataset_format={"csv": {"header": True}},
        output_uri="s3://bucket/out",
        work_dir=tmp_path / "work",
    )
    result = run_baselining(Runner(), spec)
    assert result.status == "Failed"
    assert "s3://bucket/nothing-here" in (result.failure_reason or "")


def test_a_preprocessor_runs_in_baselining(objects, tmp_path) -> None:
    (objects / "bucket" / "train").mkdir(parents=True)
    write_csv(objects / "bucket" / "train" / "part-0.csv", 400, seed=5)
    script = objects / "bucket" / "code" / "pre.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "def preprocess_handler(inference_record):\n"
        "    values = inference_record.split(',')\n"
        "    return {'churn': int(values[0]), 'length': int(values[1])}\n"
    )
    spec = BaseliningSpec(
        job_name="job",
        dataset_uri="s3://bucket/train/part-0.csv",
        dataset_format={"csv": {"header": True}},
        output_uri="s3://bucket/out",
        work_dir=tmp_path / "work",
        record_preprocessor_uri="s3://bucket/code/pre.py",
    )
    result = run_baselining(Runner(), spec)
    assert result.status == "Completed", result.failure_reason
    statistics = (objects / "bucket" / "out" / "statistics.json").read_text()
    assert '"name" : "churn"' in statistics and '"name" : "length"' in statistics
    assert '"item_count" : 400' in statistics
