"""The analyzer program under SageMaker's container contract, on real generated files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelmon.analysis.api import analyze, baseline, load_constraints
from modelmon.analysis.readers import DatasetFormat
from modelmon.monitoring.container import (
    JobEnvironment,
    folder_hour,
    main,
    message_file_path,
    window_files,
)

CAPTURE_FORMAT = (
    '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput","endpointOutput"]}}'
)
ENDPOINT = "churn-endpoint"
SCHEDULE = "hourly-schedule"
H03 = datetime(2024, 1, 2, 3, tzinfo=UTC)


# -- generated data ---------------------------------------------------------------------


def make_frame(n: int, seed: int, *, drift: bool = False, missing: float = 0.0) -> pd.DataFrame:
    """label (0/1), x (4 decimals), y (0..19), cat (a/b/c); ``drift`` moves x and cat."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, n),
            "x": rng.normal(2.0 if drift else 0.0, 1.0, n).round(4),
            "y": rng.integers(0, 20, n),
            "cat": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5] if drift else [0.5, 0.3, 0.2]),
        }
    )
    if missing:
        frame.loc[rng.random(n) < missing, "x"] = np.nan
    return frame


def capture_record(row: Any, moment: datetime, **metadata: str) -> dict[str, Any]:
    x = "" if pd.isna(row.x) else f"{row.x:.4f}"
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": f"{x},{row.y},{row.cat}",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": str(row.label),
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **metadata,
        },
        "eventVersion": "0",
    }


def write_capture(
    root: Path,
    frame: pd.DataFrame,
    start: datetime,
    *,
    endpoint: str = ENDPOINT,
    shadow_every: int = 0,
) -> Path:
    """One capture file under ``{root}/{endpoint}/AllTraffic/yyyy/mm/dd/hh/``.

    Record i is stamped ``start + i seconds`` (keep it inside one hour).
    """
    folder = root / endpoint / "AllTraffic" / start.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{start:%M-%S}-000-{uuid.uuid4()}.jsonl"
    with path.open("w") as out:
        for i, row in enumerate(frame.itertuples(index=False)):
            extra = {}
            if shadow_every and i % shadow_every == 0:
                extra["invocationSource"] = "ShadowExperiment"
            record = capture_record(row, start + timedelta(seconds=i), **extra)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline (statistics.json, constraints.json) of 2000 training rows."""
    folder = tmp_path_factory.mktemp("baseline")
    make_frame(2000, seed=1).to_csv(folder / "train.csv", index=False)
    baseline(str(folder / "train.csv"), str(folder), format="csv", header=True, workers=1)
    return folder


def job_env(tmp_path: Path, source: Path, base: Path | None, **extra: str) -> dict[str, str]:
    env = {
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": str(source),
        "output_path": str(tmp_path / "output"),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": ENDPOINT,
        "sagemaker_monitoring_schedule_name": SCHEDULE,
        "start_time": "2024-01-02T03:00:00Z",
        "end_time": "2024-01-02T05:00:00Z",
        "metric_time": "2024-01-02T05:00:00Z",
        "MODELMON_ANALYZER_WORKERS": "1",
    }
    if base is not None:
        env["baseline_constraints"] = str(base / "constraints.json")
        env["baseline_statistics"] = str(base / "statistics.json")
    env.update(extra)
    return env


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def message(tmp_path: Path) -> str:
    return (tmp_path / "output" / "message").read_text()


def metric_records(tmp_path: Path) -> list[dict[str, Any]]:
    files = list((tmp_path / "output" / "metrics" / "cloudwatch").glob("data-metrics-*.json"))
    assert len(files) == 1
    return [json.loads(line) for line in files[0].read_text().splitlines()]


def feature(statistics: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in statistics["features"] if f["name"] == name)


# -- monitoring runs ----------------------------------------------------------------------


def test_drifted_capture_completes_with_violations(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    inside = [
        make_frame(400, seed=10, drift=True, missing=0.05),
        make_frame(300, seed=11, drift=True, missing=0.05),
    ]
    files = [
        write_capture(capture, inside[0], H03 + timedelta(minutes=5)),
        write_capture(capture, inside[1], H03 + timedelta(hours=1, minutes=2)),
    ]
    write_capture(capture, make_frame(50, seed=12), H03 - timedelta(hours=1))  # before
    write_capture(capture, make_frame(50, seed=13), H03 + timedelta(hours=2))  # after
    (capture / ENDPOINT / "AllTraffic" / "2024/01/02/04" / "empty.jsonl").touch()

    assert main(job_env(tmp_path, capture, base)) == 0

    out = tmp_path / "output"
    assert sorted(p.name for p in out.iterdir()) == [
        "constraint_violations.json",
        "constraints.json",
        "message",
        "metrics",
        "statistics.json",
    ]
    assert (out / "constraints.json").read_bytes() == (base / "constraints.json").read_bytes()
    violations = read_json(out / "constraint_violations.json")["violations"]
    assert message(tmp_path) == (
        f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
    )
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert {("x", "baseline_drift_check"), ("cat", "baseline_drift_check")} <= checks
    assert ("x", "completeness_check") in checks

    # statistics of exactly the window's records, against pandas
    data = pd.concat(inside, ignore_index=True)
    statistics = read_json(out / "statistics.json")
    assert statistics["dataset"]["item_count"] == len(data)
    assert [f["name"] for f in statistics["features"]] == ["label", "x", "y", "cat"]
    x = feature(statistics, "x")["numerical_statistics"]
    assert x["common"] == {
        "num_present": int(data.x.notna().sum()),
        "num_missing": int(data.x.isna().sum()),
    }
    assert x["sum"] == pytest.approx(data.x.sum(), rel=1e-12)
    assert x["mean"] == pytest.approx(data.x.mean(), rel=1e-12)
    assert (x["min"], x["max"]) == (data.x.min(), data.x.max())
    counts = data.cat.value_counts()
    buckets = feature(statistics, "cat")["string_statistics"]["distribution"]["categorical"]
    assert {b["value"]: b["count"] for b in buckets["buckets"]} == counts.to_dict()

    # metric file: one record per metric, values equal statistics, drift and numpy
    expected = analyze(
        [str(f) for f in files],
        str(base / "constraints.json"),
        str(base / "statistics.json"),
        format=DatasetFormat("capture"),
        workers=1,
    )
    records = metric_records(tmp_path)
    by_name = {r["MetricName"]: r for r in records}
    assert len(by_name) == len(records)
    for r in records:
        assert r["Timestamp"] == "2024-01-02T05:00:00Z"
        assert r["Dimensions"] == [
            {"Name": "Endpoint", "Value": ENDPOINT},
            {"Name": "MonitoringSchedule", "Value": SCHEDULE},
        ]
        assert r["Unit"] == "None"
    assert set(by_name) == {
        f"feature_{kind}_{name}"
        for name in ("label", "x", "y", "cat")
        for kind in ("non_null", "baseline_drift")
    } | {f"feature_data_{name}" for name in ("label", "x", "y")}
    for name, (_, distance) in expected.drift.items():
        assert by_name[f"feature_baseline_drift_{name}"]["Value"] == distance
    assert set(expected.drift) == {"label", "x", "y", "cat"}
    assert by_name["feature_non_null_x"]["Value"] == data.x.notna().sum() / len(data)
    assert by_name["feature_non_null_cat"]["Value"] == 1.0
    for name in ("label", "x", "y"):
        values = data[name].dropna().to_numpy(dtype=float)
        stats = by_name[f"feature_data_{name}"]["StatisticValues"]
        assert stats["SampleCount"] == len(values)
        assert stats["Sum"] == pytest.approx(np.sum(values), rel=1e-12)
        assert (stats["Minimum"], stats["Maximum"]) == (values.min(), values.max())


def test_undrifted_capture_completes(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(600, seed=20), H03 + timedelta(minutes=1))
    assert main(job_env(tmp_path, capture, base, publish_cloudwatch_metrics="Disabled")) == 0
    out = tmp_path / "output"
    assert message(tmp_path) == "Completed: Job completed successfully with no violations."
    assert read_json(out / "constraint_violations.json") == {"violations": []}
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 600
    assert not (out / "metrics").exists()


def test_partial_hours_keep_the_records_inside_the_window(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    early = make_frame(100, seed=30)  # 03:10:00 .. 03:11:39: before the window
    late = make_frame(100, seed=31)  # 03:59:00 .. 04:00:39: 60 inside, 40 after
    write_capture(capture, early, H03 + timedelta(minutes=10))
    write_capture(capture, late, H03 + timedelta(minutes=59))
    env = job_env(
        tmp_path, capture, base, start_time="2024-01-02T03:30:00Z", end_time="2024-01-02T04:00:00Z"
    )
    assert main(env) == 0
    statistics = read_json(tmp_path / "output" / "statistics.json")
    assert statistics["dataset"]["item_count"] == 60
    y = feature(statistics, "y")["numerical_statistics"]
    assert y["sum"] == float(late.y[:60].sum())


def test_excluded_features_leave_statistics_violations_and_metrics(
    tmp_path: Path, base: Path
) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(500, seed=40, drift=True), H03)
    assert main(job_env(tmp_path, capture, base, exclude_features_attribute=" x, y")) == 0
    out = tmp_path / "output"
    statistics = read_json(out / "statistics.json")
    assert [f["name"] for f in statistics["features"]] == ["label", "cat"]
    violations = read_json(out / "constraint_violations.json")["violations"]
    assert {v["feature_name"] for v in violations} == {"cat"}
    names = {r["MetricName"] for r in metric_records(tmp_path)}
    assert not any(n.endswith(("_x", "_y")) for n in names)
    assert "feature_baseline_drift_cat" in names


def test_column_counts_in_violations_leave_excluded_features_out(
    tmp_path: Path, base: Path
) -> None:
    capture = tmp_path / "capture"
    path = write_capture(capture, make_frame(200, seed=41), H03)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    with path.open("w") as out:  # every record gains a fifth column
        for record in records:
            record["captureData"]["endpointInput"]["data"] += ",7"
            out.write(json.dumps(record) + "\n")
    assert main(job_env(tmp_path, capture, base)) == 0
    violations = read_json(tmp_path / "output" / "constraint_violations.json")["violations"]
    assert violations == [
        {
            "feature_name": "_c4",
            "constraint_check_type": "extra_column_check",
            "description": "There are extra columns in current dataset. Number of columns in "
            "current dataset: 5, Number of columns in baseline constraints: 4",
        }
    ]
    assert main(job_env(tmp_path, capture, base, exclude_features_attribute="y")) == 0
    violations = read_json(tmp_path / "output" / "constraint_violations.json")["violations"]
    assert [v["description"] for v in violations] == [
        "There are extra columns in current dataset. Number of columns in "
        "current dataset: 4, Number of columns in baseline constraints: 3",
    ]


def test_baseline_statistics_alone_check_drift_and_columns(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(400, seed=42, drift=True, missing=0.2), H03)
    assert main(job_env(tmp_path, capture, base, baseline_constraints="")) == 0
    out = tmp_path / "output"
    assert not (out / "constraints.json").exists()
    violations = read_json(out / "constraint_violations.json")["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == {
        ("x", "baseline_drift_check"),
        ("cat", "baseline_drift_check"),
    }
    assert "feature_baseline_drift_x" in {r["MetricName"] for r in metric_records(tmp_path)}


def test_categorical_drift_method_overrides_the_constraints(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    files = [write_capture(capture, make_frame(500, seed=50, drift=True), H03)]
    assert main(job_env(tmp_path, capture, base, categorical_drift_method="ChiSquared")) == 0
    out = tmp_path / "output"
    written = read_json(out / "constraints.json")["monitoring_config"]
    assert written["distribution_constraints"]["categorical_drift_method"] == "ChiSquared"
    constraints = load_constraints(str(base / "constraints.json"))
    assert constraints.monitoring_config.categorical_drift_method is None
    constraints.monitoring_config = load_constraints(
        str(out / "constraints.json")
    ).monitoring_config
    expected = analyze(
        [str(f) for f in files],
        constraints,
        str(base / "statistics.json"),
        format=DatasetFormat("capture"),
        workers=1,
    )
    assert expected.drift["cat"][0] == "chi_squared"
    by_name = {r["MetricName"]: r for r in metric_records(tmp_path)}
    assert by_name["feature_baseline_drift_cat"]["Value"] == expected.drift["cat"][1]
    violations = read_json(out / "constraint_violations.json")["violations"]
    assert any("ChiSquared" in v["description"] for v in violations)

    bad = job_env(tmp_path, capture, base, categorical_drift_method="Hellinger")
    assert main(bad) == 1
    assert message(tmp_path) == (
        "Failed: categorical_drift_method must be one of LInfinity, ChiSquared, got 'Hellinger'"
    )


def test_emit_metrics_disabled_in_the_constraints_writes_no_metrics(
    tmp_path: Path, base: Path
) -> None:
    constraints = read_json(base / "constraints.json")
    constraints["monitoring_config"]["emit_metrics"] = "Disabled"
    own = tmp_path / "constraints.json"
    own.write_text(json.dumps(constraints))
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(100, seed=60), H03)
    assert main(job_env(tmp_path, capture, base, baseline_constraints=str(own))) == 0
    assert not (tmp_path / "output" / "metrics").exists()


# -- baselining runs ----------------------------------------------------------------------


def test_baselining_run_writes_statistics_and_suggested_constraints(tmp_path: Path) -> None:
    data = make_frame(700, seed=70, missing=0.1)
    source = tmp_path / "dataset"
    source.mkdir()
    data.to_csv(source / "train.csv", index=False)
    env = {
        "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
        "dataset_source": str(source),
        "output_path": str(tmp_path / "output"),
        "publish_cloudwatch_metrics": "Disabled",
        "categorical_drift_method": "ChiSquared",
        "MODELMON_ANALYZER_WORKERS": "1",
    }
    assert main(env) == 0
    out = tmp_path / "output"
    assert sorted(p.name for p in out.iterdir()) == [
        "constraints.json",
        "message",
        "statistics.json",
    ]
    assert message(tmp_path) == "Completed: Job completed successfully with no violations."
    statistics = read_json(out / "statistics.json")
    assert statistics["dataset"]["item_count"] == len(data)
    x = feature(statistics, "x")["numerical_statistics"]
    assert x["common"]["num_missing"] == int(data.x.isna().sum())
    assert x["std_dev"] == pytest.approx(data.x.std(ddof=0), rel=1e-9)
    constraints = read_json(out / "constraints.json")
    assert [f["name"] for f in constraints["features"]] == ["label", "x", "y", "cat"]
    distribution = constraints["monitoring_config"]["distribution_constraints"]
    assert distribution["categorical_drift_method"] == "ChiSquared"
    reference = baseline(str(source / "train.csv"), format="csv", header=True, workers=1)
    assert statistics == reference.statistics.to_dict()


# -- failures -----------------------------------------------------------------------------


def test_no_records_in_the_window_fails(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(50, seed=80), H03 + timedelta(hours=3))
    assert main(job_env(tmp_path, capture, base)) == 1
    assert message(tmp_path) == (
        f"Failed: No data to analyze in dataset_source {capture} (no captured records in the "
        "analysis window 2024-01-02T03:00:00Z to 2024-01-02T05:00:00Z)"
    )
    assert not (tmp_path / "output" / "statistics.json").exists()

    missing = tmp_path / "nothing-here"
    assert main(job_env(tmp_path, missing, base, start_time="", end_time="")) == 1
    assert (
        message(tmp_path) == f"Failed: No data to analyze in dataset_source {missing} (no records)"
    )


def test_only_shadow_traffic_is_no_data(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(20, seed=81), H03, shadow_every=1)
    assert main(job_env(tmp_path, capture, base)) == 1
    assert message(tmp_path).startswith(f"Failed: No data to analyze in dataset_source {capture}")


def test_other_analysis_types_are_refused(tmp_path: Path, base: Path) -> None:
    env = job_env(tmp_path, tmp_path, base, analysis_type="MODEL_EXPLAINABILITY")
    assert main(env) == 1
    assert message(tmp_path) == (
        "Failed: analysis_type MODEL_EXPLAINABILITY is not supported by the data-quality analyzer"
    )


def test_bad_input_fails_naming_file_and_line(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    path = write_capture(capture, make_frame(5, seed=82), H03)
    with path.open("a") as out:
        out.write('{"captureData": \n')
    assert main(job_env(tmp_path, capture, base)) == 1
    text = message(tmp_path)
    assert text.startswith(f"Failed: {path}, line 6: ")
    assert "\n" not in text

    env = job_env(tmp_path, capture, base)
    del env["dataset_format"]
    assert main(env) == 1
    assert message(tmp_path).startswith(
        "Failed: the environment variable dataset_format is not set"
    )


def test_message_file_and_environment_defaults(tmp_path: Path) -> None:
    env = {
        "dataset_format": '{"csv": {}}',
        "dataset_source": "/data",
        "output_path": "/out/",
        "end_time": "2024-01-02T05:00:00+01:00",
    }
    job = JobEnvironment.from_environ(env)
    assert job.metrics_directory == "/out/metrics/cloudwatch"
    assert job.metric_time == datetime(2024, 1, 2, 4, tzinfo=UTC)
    assert not job.publish_cloudwatch_metrics
    assert job.dataset_format == DatasetFormat("csv")
    assert message_file_path(env) == "/out/message"
    env |= {"MODELMON_MESSAGE_FILE": "/m", "CLOUDWATCH_METRICS_DIRECTORY": "/cw"}
    assert message_file_path(env) == "/m"
    assert JobEnvironment.from_environ(env).metrics_directory == "/cw"


def test_window_selection_by_hour_folder(tmp_path: Path) -> None:
    assert folder_hour("ep/v/2024/01/02/03/a.jsonl") == H03
    assert folder_hour("ep/v/2024/13/02/03/a.jsonl") is None
    assert folder_hour("flat.csv") is None
    for hour in (2, 3, 4, 5):
        folder = tmp_path / f"ep/v/2024/01/02/{hour:02d}"
        folder.mkdir(parents=True)
        (folder / "f.jsonl").write_text("{}\n")
    (tmp_path / "flat.jsonl").write_text("{}\n")
    whole, partial = window_files(str(tmp_path), H03, H03 + timedelta(hours=1, minutes=30))
    assert [Path(p).relative_to(tmp_path).as_posix() for p in whole] == [
        "ep/v/2024/01/02/03/f.jsonl",
        "flat.jsonl",
    ]
    assert [Path(p).relative_to(tmp_path).as_posix() for p in partial] == [
        "ep/v/2024/01/02/04/f.jsonl"
    ]


# -- the program --------------------------------------------------------------------------


def test_python_dash_m_honours_the_contract(tmp_path: Path, base: Path) -> None:
    capture = tmp_path / "capture"
    write_capture(capture, make_frame(200, seed=90, drift=True), H03)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELMON_", "CLOUDWATCH_"))}
    env |= job_env(tmp_path, capture, base)
    env["MODELMON_MESSAGE_FILE"] = str(tmp_path / "exit" / "message")
    env["CLOUDWATCH_METRICS_DIRECTORY"] = str(tmp_path / "cw")
    done = subprocess.run(
        [sys.executable, "-m", "modelmon.monitoring.container"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = (tmp_path / "exit" / "message").read_text()
    assert line.startswith("CompletedWithViolations: Job completed successfully with ")
    assert done.stdout.strip() == line
    out = tmp_path / "output"
    for name in ("statistics.json", "constraints.json", "constraint_violations.json"):
        assert (out / name).is_file()
    assert len(list((tmp_path / "cw").glob("data-metrics-*.json"))) == 1
    assert not (out / "message").exists()

    env["analysis_type"] = "BIAS"
    failed = subprocess.run(
        [sys.executable, "-m", "modelmon.monitoring.container"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert (tmp_path / "exit" / "message").read_text() == (
        "Failed: analysis_type BIAS is not supported by the data-quality analyzer"
    )
