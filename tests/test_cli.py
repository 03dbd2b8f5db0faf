"""The ``modelmon`` command line: outputs, exit codes and messages for bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelmon.cli import app
from modelmon.synthetic import write_csv

runner = CliRunner()
REFERENCE_DQ = "sdk_pipeline_quality_check_step/data_quality"


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def churn(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    train = write_csv(folder / "train.csv", 5000, seed=1)
    drifted = write_csv(folder / "drifted.csv", 5000, seed=2, drift=True)
    out = folder / "baseline"
    result = invoke("baseline", "--dataset", str(train), "--output", str(out))
    assert result.exit_code == 0, result.output
    return {
        "train": train,
        "drifted": drifted,
        "statistics": out / "statistics.json",
        "constraints": out / "constraints.json",
    }


def test_baseline_in_a_subprocess_reproduces_sagemaker(reference: Path, tmp_path: Path) -> None:
    folder = reference / REFERENCE_DQ
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelmon.cli",
            "baseline",
            "--dataset",
            str(folder / "baseline_dataset.csv"),
            "--no-header",
            "--output",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "statistics.json").read_bytes() == (folder / "statistics.json").read_bytes()
    assert (tmp_path / "constraints.json").read_bytes() == (
        folder / "good_cases" / "constraints.json"
    ).read_bytes()
    assert "wrote" in done.stdout and "_c0" in done.stdout


def test_analyze_prints_violations_and_writes_both_files(churn, tmp_path) -> None:
    result = invoke(
        "analyze",
        "--dataset",
        str(churn["drifted"]),
        "--baseline-statistics",
        str(churn["statistics"]),
        "--baseline-constraints",
        str(churn["constraints"]),
        "--output",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert "baseline_drift_check" in result.output and "Day Mins" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "constraint_violations.json",
        "statistics.json",
    ]
    violations = json.loads((tmp_path / "constraint_violations.json").read_text())["violations"]
    assert {"Day Mins", "CustServ Calls", "Int'l Plan"} <= {v["feature_name"] for v in violations}


def test_fail_on_violation_exits_3(churn, tmp_path) -> None:
    args = [
        "analyze",
        "-d",
        str(churn["drifted"]),
        "--baseline-statistics",
        str(churn["statistics"]),
        "--baseline-constraints",
        str(churn["constraints"]),
        "-o",
        str(tmp_path),
        "--fail-on-violation",
    ]
    result = invoke(*args)
    assert result.exit_code == 3
    assert "violation(s)" in result.output


def test_no_violations_exits_0_with_fail_on_violation(churn, tmp_path) -> None:
    result = invoke(
        "analyze",
        "-d",
        str(churn["train"]),
        "--baseline-statistics",
        str(churn["statistics"]),
        "--baseline-constraints",
        str(churn["constraints"]),
        "-o",
        str(tmp_path),
        "--fail-on-violation",
    )
    assert result.exit_code == 0, result.output
    assert "No violations" in result.output


# -- bad input: exit 1, a message naming the file (and line or field), nothing written ------


def _capture_line(data: str) -> str:
    part = {"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"}
    return json.dumps(
        {
            "captureData": {"endpointInput": part},
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-23T10:00:00Z"},
            "eventVersion": "0",
        }
    )


BAD_DATA = {
    # name: (file bytes or None for no file, --format, words the message must hold)
    "missing": (None, "csv", ["no such file"]),
    "empty": (b"", "csv", ["empty"]),
    "ragged": (b"a,b\n1,2\n3,4\n5,6,7\n8,9\n", "csv", ["line 4"]),
    "not-utf8": (b"a,b\n1,caf\xe9\n", "csv", ["UTF-8"]),
    "bad-capture": (
        (_capture_line("1,2") + "\n{not json\n").encode(),
        "capture",
        ["line 2"],
    ),
    "bad-jsonl": (b'{"a": 1}\n{"a": \n', "json", ["line 2"]),
    "bad-parquet": (b"PAR1 not really", "parquet", ["Parquet"]),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
@pytest.mark.parametrize("command", ["baseline", "analyze"])
def test_bad_data_names_the_file(case, command, churn, tmp_path) -> None:
    content, fmt, words = BAD_DATA[case]
    data = tmp_path / f"{case}.data"
    if content is not None:
        data.write_bytes(content)
    out = tmp_path / "out"
    args = [command, "-d", str(data), "-o", str(out), "--format", fmt]
    if command == "analyze":
        args += ["--baseline-constraints", str(churn["constraints"])]
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert str(data) in message
    for word in words:
        assert word.lower() in message.lower(), message
    assert not out.exists() or list(out.iterdir()) == []


def test_gzip_file_that_is_not_gzip(tmp_path) -> None:
    data = tmp_path / "broken.csv.gz"
    data.write_bytes(gzip.compress(b"a,b\n1,2\n")[:20])
    result = invoke("baseline", "-d", str(data), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert str(data) in " ".join(result.output.split())


def test_unknown_format_is_named(tmp_path, churn) -> None:
    result = invoke("baseline", "-d", str(churn["train"]), "-o", str(tmp_path), "--format", "xml")
    assert result.exit_code == 1
    assert "xml" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{ not json", ["not valid JSON", "line 1"]),
        ('{"version": 0.0, "features": [{"name": "x", "inferred_type": "Number"}]}', ["Number"]),
        ('{"version": 0.0, "features": [{"inferred_type": "Integral"}]}', ["name"]),
        ('{"version": 0.0, "features": [{"name": "x", "completeness": "high"}]}', ["completeness"]),
    ],
)
def test_invalid_constraints_file_is_named_and_nothing_is_written(
    text, words, churn, tmp_path
) -> None:
    bad = tmp_path / "constraints.json"
    bad.write_text(text)
    out = tmp_path / "out"
    result = invoke(
        "analyze",
        "-d",
        str(churn["drifted"]),
        "--baseline-constraints",
        str(bad),
        "-o",
        str(out),
    )
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert str(bad) in message
    for word in words:
        assert word in message, message
    assert not out.exists()


def test_a_failed_run_leaves_earlier_outputs_untouched(churn, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "statistics.json").write_text("earlier")
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3\n")
    result = invoke("baseline", "-d", str(bad), "-o", str(out))
    assert result.exit_code == 1
    assert [p.name for p in out.iterdir()] == ["statistics.json"]
    assert (out / "statistics.json").read_text() == "earlier"


def test_usage_errors_exit_2() -> None:
    assert invoke("baseline").exit_code == 2
    assert invoke("analyze", "-d", "x", "-o", "y").exit_code == 2
