"""The analyzer program with analysis_type=MODEL_QUALITY, as a subprocess on real files."""

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
import pytest
from sklearn import metrics as skm

from modelmon.formats.capture import capture_key, capture_line
from modelmon.storage.ground_truth import write_ground_truth

ENDPOINT = "churn"
SCHEDULE = "mq-hourly"
START = datetime(2024, 1, 2, 3, tzinfo=UTC)
CAPTURE_FORMAT = (
    '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput","endpointOutput"]}}'
)
MODEL_QUALITY = "sdk_pipeline_quality_check_step/model_quality"


def run_job(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "MODELMON_OBJECT_ROOT")}
    return subprocess.run(
        [sys.executable, "-m", "modelmon.monitoring.container"],
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_capture(root: Path, records: list[tuple[str, datetime, str, str | None]]) -> list[Path]:
    """Capture files as the server writes them: one per hour of (event id, time, CSV output,
    inference id) records."""
    by_hour: dict[datetime, list[bytes]] = {}
    for event_id, moment, output, inference_id in records:
        line = capture_line(
            input_part={
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "5,1.25",
                "encoding": "CSV",
            },
            output_part={
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": output,
                "encoding": "CSV",
            },
            event_id=event_id,
            inference_time=moment,
            inference_id=inference_id,
        )
        by_hour.setdefault(moment.replace(minute=0, second=0), []).append(line)
    paths = []
    for hour, lines in by_hour.items():
        path = Path(capture_key(str(root), ENDPOINT, "AllTraffic", hour))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(lines))
        paths.append(path)
    return paths


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "analysis_type": "MODEL_QUALITY",
        "problem_type": "BinaryClassification",
        "inference_attribute": "0",
        "probability_attribute": "0",
        "probability_threshold_attribute": "0.5",
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": str(tmp_path / "capture"),
        "ground_truth_source": str(tmp_path / "ground_truth"),
        "output_path": str(tmp_path / "output"),
        "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": (START + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metric_time": "2024-01-04T06:00:00Z",
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": ENDPOINT,
        "sagemaker_monitoring_schedule_name": SCHEDULE,
    }
    env.update(extra)
    return env


def read(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture
def endpoint_data(tmp_path: Path) -> dict[str, Any]:
    """3 hours of captured probabilities (and one hour outside the window); labels for
    most of them collected 1 and 2 days later, plus labels for unknown ids."""
    rng = np.random.default_rng(21)
    records, truth = [], {}
    for i in range(450):
        moment = START + timedelta(seconds=int(i * 24))
        event_id = str(uuid.uuid4())
        inference_id = f"req-{i}" if i % 3 == 0 else None
        label = int(rng.integers(0, 2))
        probability = float(np.clip(label * 0.2 + rng.random() * 0.8, 0, 1))
        records.append((event_id, moment, repr(probability), inference_id))
        if i % 10:
            truth[inference_id or event_id] = (label, probability)
    outside = [(str(uuid.uuid4()), START - timedelta(minutes=30), "0.5", None)]
    write_capture(tmp_path / "capture", records + outside)
    items = list(truth.items())
    gt = str(tmp_path / "ground_truth")
    write_ground_truth(
        gt, [(k, v[0]) for k, v in items[:200]], collected_at=START + timedelta(days=1)
    )
    write_ground_truth(
        gt,
        [(k, v[0]) for k, v in items[200:]] + [("nobody", 1), ("none", 0)],
        collected_at=START + timedelta(days=2, hours=5),
    )
    return {"truth": truth, "unknown": 2, "inferences": 450}


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    """A baselining run of the program on a validation CSV with a better model."""
    rng = np.random.default_rng(5)
    label = rng.integers(0, 2, 500)
    probability = np.clip(label * 0.6 + rng.random(500) * 0.4, 0, 1)
    folder = tmp_path / "baseline"
    folder.mkdir()
    lines = ["probability,prediction,label"] + [
        f"{float(p)!r},{int(p >= 0.5)},{y}" for p, y in zip(probability, label, strict=True)
    ]
    (folder / "validation.csv").write_text("\n".join(lines) + "\n")
    done = run_job(
        {
            "analysis_type": "MODEL_QUALITY",
            "problem_type": "BinaryClassification",
            "inference_attribute": "prediction",
            "probability_attribute": "probability",
            "ground_truth_attribute": "label",
            "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
            "dataset_source": str(folder / "validation.csv"),
            "output_path": str(folder / "out"),
            "publish_cloudwatch_metrics": "Disabled",
        }
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (folder / "out").iterdir()) == [
        "constraints.json",
        "message",
        "statistics.json",
    ]
    return folder / "out"


def test_endpoint_monitoring_end_to_end(
    tmp_path: Path, endpoint_data: dict[str, Any], baseline: Path
) -> None:
    done = run_job(base_env(tmp_path, baseline_constraints=str(baseline / "constraints.json")))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "output"
    truth = endpoint_data["truth"]
    labels = np.array([v[0] for v in truth.values()])
    scores = np.array([v[1] for v in truth.values()])
    predicted = (scores >= 0.5).astype(int)

    summary = read(out / "merge_summary.json")
    assert summary == {
        "inferences": 450,
        "labels": len(truth) + 2,
        "matched": len(truth),
        "unmatched_inferences": 450 - len(truth),
        "unmatched_labels": 2,
        "duplicate_labels": 0,
    }
    assert f"merge: 450 inference(s), {len(truth) + 2} label record(s)" in done.stdout

    statistics = read(out / "statistics.json")
    assert statistics["dataset"] == {
        "item_count": len(truth),
        "evaluation_time": "2024-01-04T06:00:00Z",
    }
    found = statistics["binary_classification_metrics"]
    assert found["accuracy"]["value"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert found["auc"]["value"] == pytest.approx(skm.roc_auc_score(labels, scores), rel=1e-12)
    assert found["f2"]["value"] == pytest.approx(skm.fbeta_score(labels, predicted, beta=2))
    assert isinstance(found["f2"]["standard_deviation"], float)  # 405 >= 200 samples

    assert (out / "constraints.json").read_bytes() == (baseline / "constraints.json").read_bytes()
    violations = read(out / "constraint_violations.json")["violations"]
    assert violations, "the captured model is worse than the baseline's"
    f2 = next(v for v in violations if v["metric_name"] == "f2")
    threshold = read(baseline / "constraints.json")["binary_classification_constraints"]["f2"]
    assert f2 == {
        "constraint_check_type": "LessThanThreshold",
        "description": f"Metric f2 with {found['f2']['value']!r} +/- "
        f"{found['f2']['standard_deviation']!r} was LessThanThreshold '{threshold['threshold']!r}'",
        "metric_name": "f2",
    }
    message = (out / "message").read_text()
    assert message == (
        f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
    )
    assert done.stdout.strip().endswith(message)

    (metrics_file,) = (out / "metrics" / "cloudwatch").glob("model-metrics-*.json")
    records = [json.loads(line) for line in metrics_file.read_text().splitlines()]
    scalar = [k for k, v in found.items() if "value" in v]
    assert [r["MetricName"] for r in records] == scalar
    assert records[0]["Dimensions"] == [
        {"Name": "Endpoint", "Value": ENDPOINT},
        {"Name": "MonitoringSchedule", "Value": SCHEDULE},
    ]
    assert {r["Timestamp"] for r in records} == {"2024-01-04T06:00:00Z"}
    assert next(r for r in records if r["MetricName"] == "f2")["Value"] == found["f2"]["value"]

    merged = sorted((out / "merge").rglob("*.jsonl"))
    assert len(merged) == 3  # one per hour folder of the window
    audit = [json.loads(line) for p in merged for line in p.read_text().splitlines()]
    assert len(audit) == len(truth)
    assert all(
        set(r) == {"captureData", "eventMetadata", "eventVersion", "groundTruthData"} for r in audit
    )


def test_without_constraints_an_empty_violations_list(
    tmp_path: Path, endpoint_data: dict[str, Any]
) -> None:
    done = run_job(base_env(tmp_path, publish_cloudwatch_metrics="Disabled"))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "output"
    assert read(out / "constraint_violations.json") == {"violations": []}
    assert not (out / "constraints.json").exists()
    assert not (out / "metrics").exists()
    assert (out / "message").read_text() == (
        "Completed: Job completed successfully with no violations."
    )


def test_regression_baseline_reference_through_the_program(tmp_path: Path, reference: Path) -> None:
    folder = reference / MODEL_QUALITY
    done = run_job(
        {
            "analysis_type": "MODEL_QUALITY",
            "problem_type": "Regression",
            "inference_attribute": "Label",
            "ground_truth_attribute": "Prediction",
            "dataset_format": '{"csv": {"header": true}}',
            "dataset_source": str(folder / "baseline_dataset.csv"),
            "output_path": str(tmp_path / "out"),
        }
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/statistics.json").read_text() == (
        folder / "statistics.json"
    ).read_text()
    assert (tmp_path / "out/constraints.json").read_text() == (
        folder / "good_cases/constraints.json"
    ).read_text()


def test_batch_transform_output_joined_on_generated_inference_ids(tmp_path: Path) -> None:
    """Transform output lines ``value,{SageMakerInferenceId},{start time}`` (GenerateInferenceId),
    staged as the runner does in the job's hour folder; regression labels a day later."""
    rng = np.random.default_rng(3)
    folder = tmp_path / "batch" / "output" / START.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True)
    ids = [str(uuid.uuid4()) for _ in range(60)]
    predictions = rng.normal(10, 2, 60).round(3)
    truth = predictions + rng.normal(0, 1, 60).round(3)
    (folder / "job-manifest-0-data.csv.out").write_text(
        "".join(
            f"{float(p)!r},{i},2024-01-02T03:10:00Z\n"
            for p, i in zip(predictions, ids, strict=True)
        )
    )
    write_ground_truth(
        str(tmp_path / "gt"),
        list(zip(ids[:50], truth[:50].tolist(), strict=True)),
        collected_at=START + timedelta(days=1),
    )
    done = run_job(
        base_env(
            tmp_path,
            problem_type="Regression",
            probability_attribute="",
            probability_threshold_attribute="",
            dataset_format='{"csv": {"header": false}}',
            dataset_source=str(tmp_path / "batch"),
            ground_truth_source=str(tmp_path / "gt"),
            sagemaker_endpoint_name="",
        )
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "output"
    assert read(out / "merge_summary.json")["matched"] == 50
    mae = read(out / "statistics.json")["regression_metrics"]["mae"]
    assert mae["value"] == pytest.approx(skm.mean_absolute_error(truth[:50], predictions[:50]))
    assert mae["standard_deviation"] == "NaN"
    audit = (out / "merge" / "output/2024/01/02/03/merged.jsonl").read_text().splitlines()
    first = json.loads(audit[0])
    assert first["captureData"]["batchTransformOutput"]["data"].endswith(",2024-01-02T03:10:00Z")
    assert float(first["groundTruthData"]["data"]) == truth[0]
    (metrics_file,) = (out / "metrics" / "cloudwatch").glob("model-metrics-*.json")
    dims = json.loads(metrics_file.read_text().splitlines()[0])["Dimensions"]
    assert dims == [{"Name": "MonitoringSchedule", "Value": SCHEDULE}]


def failed(tmp_path: Path, **extra: str) -> str:
    done = run_job(base_env(tmp_path, **extra))
    assert done.returncode == 1, done.stdout + done.stderr
    message = (tmp_path / "output" / "message").read_text()
    assert message.startswith("Failed: ")
    return message


def test_bad_ground_truth_line_fails_naming_file_and_line(
    tmp_path: Path, endpoint_data: dict[str, Any]
) -> None:
    bad = tmp_path / "ground_truth/2024/01/05/00/late.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"groundTruthData": {"data": "1"}, "eventMetadata": {"eventId": "a"}}\n{oops\n')
    assert failed(tmp_path).startswith(f"Failed: {bad}, line 2: not a JSON object")


def test_bad_label_and_probability_fail_naming_file_and_line(tmp_path: Path) -> None:
    (capture,) = write_capture(
        tmp_path / "capture",
        [("e1", START, "0.25", None), ("e2", START + timedelta(seconds=5), "0.75", None)],
    )
    labels, _ = write_ground_truth(
        str(tmp_path / "ground_truth"), [("e1", "maybe"), ("e2", 1)], collected_at=START
    )
    assert failed(tmp_path) == (
        f"Failed: {labels}, line 1, field 'groundTruthData.data': label 'maybe' is not 0 or 1 "
        "(set positive_label for other class names)"
    )
    Path(labels).write_text(Path(labels).read_text().replace('"maybe"', '"0"'))
    capture.write_text(capture.read_text().replace('"0.75"', '"1.75"'))
    assert failed(tmp_path) == (
        f"Failed: {capture}, line 2, field '0': probability 1.75 is outside [0, 1]"
    )


def test_no_label_in_the_window_fails_with_the_counts(tmp_path: Path) -> None:
    write_capture(tmp_path / "capture", [("e1", START, "0.25", None)])
    write_ground_truth(str(tmp_path / "ground_truth"), [("other", 1)], collected_at=START)
    message = failed(tmp_path)
    assert "has ground truth" in message and "No inference in the analysis window" in message
    assert "1 inference(s), 1 label record(s): 0 matched" in message
    assert read(tmp_path / "output" / "merge_summary.json")["unmatched_labels"] == 1


def test_problem_type_is_required(tmp_path: Path) -> None:
    message = failed(tmp_path, problem_type="")
    assert message == (
        "Failed: problem_type must be one of BinaryClassification, MulticlassClassification, "
        "Regression, got not set"
    )


@pytest.mark.parametrize("kind", ["json", "parquet"])
def test_batch_transform_json_and_parquet_output(tmp_path: Path, kind: str) -> None:
    """JSON Lines output carries ``SageMakerInferenceId`` fields; Parquet a column of that name.
    In-process (``container.main``) to keep the suite fast; the subprocess path is above."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelmon.monitoring.container import main

    folder = tmp_path / "batch" / "output" / START.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True)
    ids = [f"id-{i}" for i in range(30)]
    classes = ["a", "b", "c"]
    predicted = [classes[i % 3] for i in range(30)]
    truth = [classes[(i * 7) % 3] if i % 4 else predicted[i] for i in range(30)]
    if kind == "json":
        rows = [
            {
                "SageMakerOutput": {"label": p},
                "SageMakerInferenceId": i,
                "SageMakerInferenceTime": "2024-01-02T03:00:00Z",
            }
            for p, i in zip(predicted, ids, strict=True)
        ]
        (folder / "out.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        attribute, fmt = "$.SageMakerOutput.label", '{"json": {"lines": true}}'
    else:
        table = pa.table({"label": predicted, "SageMakerInferenceId": ids})
        pq.write_table(table, folder / "out.parquet")
        attribute, fmt = "label", '{"parquet": {}}'
    write_ground_truth(str(tmp_path / "gt"), list(zip(ids, truth, strict=True)), collected_at=START)
    env = base_env(
        tmp_path,
        problem_type="MulticlassClassification",
        inference_attribute=attribute,
        probability_attribute="",
        dataset_format=fmt,
        dataset_source=str(tmp_path / "batch"),
        ground_truth_source=str(tmp_path / "gt"),
    )
    assert main(env) == 0, (tmp_path / "output" / "message").read_text()
    out = tmp_path / "output"
    found = read(out / "statistics.json")["multiclass_classification_metrics"]
    assert found["accuracy"]["value"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert found["weighted_f1"]["value"] == pytest.approx(
        skm.f1_score(truth, predicted, average="weighted"), rel=1e-12
    )
    (audit,) = (out / "merge").rglob("merged.jsonl")
    assert len(audit.read_text().splitlines()) == 30
