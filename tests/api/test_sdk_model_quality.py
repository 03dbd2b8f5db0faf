"""SPEC §0's model-quality snippet, run as written with the modelmon SDK and a real server:
a real binary classifier behind an endpoint capturing every request with its inference id,
labels that arrive a day late through the ground-truth API, and an hourly schedule with
-PT2D/-PT1D offsets whose run is driven by a scheduler on the server's database with an
injected clock (a day later). Metrics are checked against scikit-learn on the same pairs."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.monitoring.registry import Monitoring
from modelmon.monitoring.runner import Runner
from modelmon.monitoring.scheduler import Scheduler
from modelmon.sdk import (
    BatchDataCaptureConfig,
    BatchTransformInput,
    CronExpressionGenerator,
    CSVSerializer,
    DataCaptureConfig,
    DatasetFormat,
    EndpointInput,
    Model,
    ModelmonClientError,
    ModelQualityMonitor,
    MonitoringDatasetFormat,
    Predictor,
    Session,
)
from modelmon.serving.registry import Hosting

UTC = dt.UTC
ROLE = "arn:aws:iam::000000000000:role/monitor"
N_LIVE = 300
UNLABELLED = 10  # live inferences whose label never comes
UNKNOWN = 5  # labels for ids no inference has


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(4)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.7, size=n) > 0).astype(int)
    return x, y


def _row(features: np.ndarray) -> str:
    return ",".join(f"{v:.4f}" for v in features)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mq-model")
    x, y = _data(1000, seed=1)
    joblib.dump(LogisticRegression().fit(x, y), folder / "model.joblib")
    return folder / "model.joblib"


def _deploy(session: Session, model_file: Path, name: str) -> None:
    model = Model(
        image_uri="sklearn",
        model_data=str(model_file),
        env={"MODELMON_PREDICT_METHOD": "predict_proba"},
        sagemaker_session=session,
    )
    capture = DataCaptureConfig(
        enable_capture=True,
        sampling_percentage=100,
        destination_s3_uri=f"s3://{session.default_bucket()}/capture",
        capture_options=["REQUEST", "RESPONSE"],
    )
    model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.xlarge",
        endpoint_name=name,
        data_capture_config=capture,
    )


def _scheduler_on(server: Any, at: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> Scheduler:
    """A scheduler in this process on the server's database and objects, its clock at ``at``."""

    def clock() -> dt.datetime:
        return at

    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(server.objects))
    monkeypatch.delenv("MODELMON_DATABASE_URL", raising=False)
    settings = Settings(data_dir=server.data_dir)
    settings.prepare()
    db = Database(settings.database_url)
    monitoring = Monitoring(db, settings, Hosting(db, settings), clock=clock)
    return Scheduler(db, settings, monitoring, Runner(), clock=clock)


def _run(scheduler: Scheduler, timeout: float = 120) -> None:
    """One scheduler pass, then wait until what it started has ended."""
    scheduler.tick()
    deadline = time.monotonic() + timeout
    while scheduler.running():
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)


def _counts(document: Any) -> dict[str, Any]:
    """The object of merge_summary.json holding the merge's counts (``matched``...)."""
    if isinstance(document, dict):
        if "matched" in document:
            return document
        for value in document.values():
            found = _counts(value)
            if found:
                return found
    return {}


def _expected(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predictions = (probabilities >= 0.5).astype(int)
    return {
        "accuracy": accuracy_score(labels, predictions),
        "precision": precision_score(labels, predictions),
        "recall": recall_score(labels, predictions),
        "f1": f1_score(labels, predictions),
        "auc": roc_auc_score(labels, probabilities),
    }


def _validation(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """validation_with_predictions.csv (probability, prediction, label) in ``folder``."""
    x_val, y_val = _data(400, seed=2)
    probability = LogisticRegression().fit(*_data(1000, seed=1)).predict_proba(x_val)[:, 1]
    pd.DataFrame(
        {"probability": probability, "prediction": (probability >= 0.5).astype(int), "label": y_val}
    ).to_csv(folder / "validation_with_predictions.csv", index=False)
    return probability, y_val


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type):
    """A server that runs no schedules itself: the tests drive the runs with their clocks."""
    srv = server_type(tmp_path_factory.mktemp("mq-sdk") / "data", {"MODELMON_SCHEDULER": "off"})
    srv.start()
    yield srv
    assert srv.stop() == 0


@pytest.mark.slow
def test_model_quality_snippet_end_to_end(tmp_path, server, model_file, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    probability, y_val = _validation(tmp_path)
    scheduler = None
    try:
        session = Session(server.url)
        bucket = session.default_bucket()
        endpoint_name, mq_name = "scored", "mq-hourly"
        _deploy(session, model_file, endpoint_name)
        predictor = Predictor(
            endpoint_name=endpoint_name, sagemaker_session=session, serializer=CSVSerializer()
        )
        x_live, y_live = _data(N_LIVE, seed=3)
        served = np.array(
            [
                float(predictor.predict(_row(row), inference_id=f"inf-{i:04d}"))
                for i, row in enumerate(x_live)
            ]
        )
        invoked_at = dt.datetime.now(UTC)
        assert session.flush_capture()

        # labels arrive a day late; a quarter are flipped, so quality drops below the baseline
        rng = np.random.default_rng(4)
        labels = np.where(rng.random(N_LIVE) < 0.25, 1 - y_live, y_live)
        labelled = N_LIVE - UNLABELLED
        pairs = [(f"inf-{i:04d}", int(labels[i])) for i in range(labelled)]
        pairs += [(f"ghost-{i}", 1) for i in range(UNKNOWN)]
        day_later = invoked_at + dt.timedelta(days=1)
        session.upload_ground_truth(pairs[:150], "s3://bucket/ground-truth", day_later)
        session.upload_ground_truth(
            pairs[150:], "s3://bucket/ground-truth", day_later + dt.timedelta(hours=1)
        )

        # -- SPEC §0, as written (session aside) --------------------------------------------
        mq = ModelQualityMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                                 volume_size_in_gb=20, max_runtime_in_seconds=1800,
                                 sagemaker_session=session)  # fmt: skip
        mq.suggest_baseline(baseline_dataset="validation_with_predictions.csv",
                            dataset_format=DatasetFormat.csv(header=True),
                            problem_type="BinaryClassification",
                            inference_attribute="prediction", probability_attribute="probability",
                            ground_truth_attribute="label",
                            output_s3_uri="s3://bucket/mq-baseline")  # fmt: skip
        mq.create_monitoring_schedule(
            monitor_schedule_name=mq_name,
            endpoint_input=EndpointInput(endpoint_name=endpoint_name,
                destination="/opt/ml/processing/input/endpoint",
                inference_attribute="0", probability_attribute="0", probability_threshold_attribute=0.5,  # noqa: E501
                start_time_offset="-PT2D", end_time_offset="-PT1D"),
            ground_truth_input="s3://bucket/ground-truth",
            problem_type="BinaryClassification",
            output_s3_uri="s3://bucket/mq-reports",
            constraints=mq.suggested_constraints(),
            schedule_cron_expression=CronExpressionGenerator.hourly(),
            enable_cloudwatch_metrics=True)  # fmt: skip
        print(mq.describe_schedule()["MonitoringScheduleStatus"])
        # ------------------------------------------------------------------------------------

        baseline = mq.baseline_statistics().body_dict
        expected_baseline = _expected(probability, y_val)
        metrics = baseline["binary_classification_metrics"]
        assert baseline["dataset"]["item_count"] == 400
        for name, value in expected_baseline.items():
            assert metrics[name]["value"] == pytest.approx(value, abs=1e-9), name
        constraints = mq.suggested_constraints().body_dict["binary_classification_constraints"]
        assert constraints["accuracy"]["threshold"] == pytest.approx(
            expected_baseline["accuracy"], abs=1e-9
        )
        described = mq.describe_job_definition()
        assert described["ModelQualityJobInput"]["GroundTruthS3Input"] == {
            "S3Uri": "s3://bucket/ground-truth"
        }
        assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 1800
        assert bucket  # the default bucket exists even when unused by the snippet

        # the run a day and two hours later analyzes the inferences of [t - 2 d, t - 1 d)
        hour = invoked_at.replace(minute=0, second=0, microsecond=0)
        run_at = hour + dt.timedelta(days=1, hours=2)
        scheduler = _scheduler_on(server, run_at, monkeypatch)
        _run(scheduler)
        executions = mq.list_executions()
        execution = executions[-1]
        description = execution.describe()
        assert description["ScheduledTime"].startswith(run_at.strftime("%Y-%m-%dT%H:%M:%S"))
        assert description["MonitoringExecutionStatus"] == "CompletedWithViolations", (
            description,
            execution.logs()[-3000:],
        )
        assert all(e.describe()["FailureReason"].startswith("Skipped:") for e in executions[:-1])

        statistics = mq.latest_monitoring_statistics().body_dict
        assert statistics["dataset"]["item_count"] == labelled
        expected = _expected(served[:labelled], labels[:labelled])
        observed = statistics["binary_classification_metrics"]
        for name, value in expected.items():
            assert observed[name]["value"] == pytest.approx(value, abs=1e-9), name
        assert isinstance(observed["accuracy"]["standard_deviation"], float)  # >= 200 samples
        matrix = confusion_matrix(labels[:labelled], (served[:labelled] >= 0.5).astype(int))
        assert observed["confusion_matrix"]["1"]["0"] == matrix[1][0]
        assert observed["confusion_matrix"]["0"]["1"] == matrix[0][1]

        violations = mq.latest_monitoring_violations().body_dict["violations"]
        violated = {v["metric_name"]: v for v in violations}
        assert "accuracy" in violated, violations
        assert violated["accuracy"]["constraint_check_type"] == "LessThanThreshold"
        for v in violations:
            threshold = constraints[v["metric_name"]]["threshold"]
            value = observed[v["metric_name"]]["value"]
            assert (
                value < threshold
                if v["constraint_check_type"] == "LessThanThreshold"
                else (value > threshold)
            )

        report = execution.describe()["ReportUri"]
        summary = _counts(json.loads(session.read_bytes(f"{report}merge_summary.json")))
        assert summary["inferences"] == N_LIVE, summary
        assert summary["labels"] == labelled + UNKNOWN
        assert summary["matched"] == labelled
        assert summary["unmatched_inferences"] == UNLABELLED
        assert summary["unmatched_labels"] == UNKNOWN
        log = execution.logs()
        assert "staged 2 ground-truth file(s)" in log
        assert "analysis_type=MODEL_QUALITY" in log
        assert "metrics namespace aws/sagemaker/Endpoints/model-metrics" in log
        emitted = [
            json.loads(line)
            for line in Path(execution.describe()["MetricsUri"]).read_text().splitlines()
        ]
        accuracy = next(m for m in emitted if m["MetricName"] == "accuracy")
        assert accuracy["Value"] == pytest.approx(expected["accuracy"], abs=1e-9)
        assert {"Name": "Endpoint", "Value": endpoint_name} in accuracy["Dimensions"]

        mq.delete_monitoring_schedule()
        assert session.http.get(f"/api/monitoring-schedules/{mq_name}").status_code == 404
        assert (
            session.call("GET", "/api/model-quality-job-definitions")["JobDefinitionSummaries"]
            == []
        )

        # bad input through the SDK: refused before anything is left behind
        with pytest.raises(ValueError, match="exactly one of endpoint_input"):
            mq.create_monitoring_schedule(
                ground_truth_input="s3://bucket/ground-truth",
                problem_type="BinaryClassification",
            )
        slow = ModelQualityMonitor(
            role=ROLE, max_runtime_in_seconds=3600, sagemaker_session=session
        )
        with pytest.raises(ModelmonClientError, match="at most 1800 seconds"):
            slow.create_monitoring_schedule(
                endpoint_input=EndpointInput(endpoint_name, probability_attribute="0",
                                             probability_threshold_attribute=0.5),
                ground_truth_input="s3://bucket/ground-truth",
                problem_type="BinaryClassification",
                schedule_cron_expression=CronExpressionGenerator.hourly(),
            )  # fmt: skip
        assert (
            session.call("GET", "/api/model-quality-job-definitions")["JobDefinitionSummaries"]
            == []
        )
        session.close()
    finally:
        if scheduler is not None:
            scheduler.shutdown()
            scheduler.db.dispose()


@pytest.mark.slow
def test_the_batch_transform_variant(tmp_path, server, model_file, monkeypatch) -> None:
    """SPEC §0's batch variant: the transform's output manifests with generated inference ids,
    probabilities turned into classes by the threshold, labels collected an hour later."""
    session = Session(server.url)
    _validation(tmp_path)
    model = Model(
        image_uri="sklearn",
        model_data=str(model_file),
        env={"MODELMON_PREDICT_METHOD": "predict_proba"},
        name="batch-scorer",
        sagemaker_session=session,
    )
    x, y = _data(240, seed=5)
    folder = tmp_path / "batch-input"
    folder.mkdir()
    (folder / "rows.csv").write_text("".join(_row(r) + "\n" for r in x))
    transformer = model.transformer(
        instance_type="ml.m5.large", assemble_with="Line", accept="text/csv"
    )
    started = dt.datetime.now(UTC)
    transformer.transform(
        str(folder),
        content_type="text/csv",
        split_type="Line",
        job_name="mq-batch",
        batch_data_capture_config=BatchDataCaptureConfig(
            "s3://bucket/transform-capture", generate_inference_id=True
        ),
    )
    output = transformer.describe()["TransformOutput"]["S3OutputPath"]
    rows = [
        line.split(",")
        for line in session.read_bytes(f"{output}/rows.csv.out").decode().splitlines()
    ]
    probabilities = np.array([float(r[0]) for r in rows])
    ids = [r[1] for r in rows]
    assert len(ids) == len(set(ids)) == len(x)
    labels = np.where(np.random.default_rng(6).random(len(x)) < 0.3, 1 - y, y)
    session.upload_ground_truth(
        zip(ids, labels.tolist(), strict=True),
        "s3://bucket/batch-ground-truth",
        started + dt.timedelta(hours=1),
    )

    mq = ModelQualityMonitor(role=ROLE, max_runtime_in_seconds=1800, sagemaker_session=session)
    mq.suggest_baseline(
        baseline_dataset=str(tmp_path / "validation_with_predictions.csv"),
        dataset_format=DatasetFormat.csv(header=True),
        problem_type="BinaryClassification",
        inference_attribute="prediction",
        probability_attribute="probability",
        ground_truth_attribute="label",
        output_s3_uri="s3://bucket/mq-batch-baseline",
    )
    mq.create_monitoring_schedule(
        monitor_schedule_name="mq-batch-hourly",
        batch_transform_input=BatchTransformInput(
            data_captured_destination_s3_uri="s3://bucket/transform-capture",
            destination="/opt/ml/processing/input",
            dataset_format=MonitoringDatasetFormat.csv(header=False),
            probability_attribute="0",
            probability_threshold_attribute=0.5,
            start_time_offset="-PT6H",
            end_time_offset="-PT0H",
        ),
        ground_truth_input="s3://bucket/batch-ground-truth",
        problem_type="BinaryClassification",
        output_s3_uri="s3://bucket/mq-batch-reports",
        constraints=mq.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.hourly(),
    )
    run_at = started.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2)
    scheduler = _scheduler_on(server, run_at, monkeypatch)
    try:
        _run(scheduler)
    finally:
        scheduler.shutdown()
        scheduler.db.dispose()
    execution = mq.list_executions()[-1]
    description = execution.describe()
    assert description["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), (
        description,
        execution.logs()[-3000:],
    )
    assert description["ReportUri"].startswith("s3://bucket/mq-batch-reports/mq-batch-hourly/")
    statistics = mq.latest_monitoring_statistics().body_dict
    assert statistics["dataset"]["item_count"] == len(x)
    observed = statistics["binary_classification_metrics"]
    for name, value in _expected(probabilities, labels).items():
        assert observed[name]["value"] == pytest.approx(value, abs=1e-9), name
    assert "batch transform output manifests" in execution.logs()
    mq.delete_monitoring_schedule()
    session.close()
