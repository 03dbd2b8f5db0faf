"""One monitoring execution as its own process: real analyzers, real files, real signals."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from modelmon.analysis.api import baseline
from modelmon.errors import InputError
from modelmon.formats.capture import capture_line
from modelmon.monitoring.runner import (
    ANALYZER_IMAGES_ENV,
    BUILTIN_COMMAND,
    ExecutionResult,
    ExecutionSpec,
    Runner,
    RunnerPool,
    analyzer_images_from_env,
    resolve_command,
)

ENDPOINT = "churn-endpoint"
SCHEDULE = "hourly-schedule"
CAPTURE = "s3://bucket/datacapture"
REPORTS = "s3://bucket/reports"
H03 = datetime(2024, 1, 2, 3, tzinfo=UTC)
H05 = H03 + timedelta(hours=2)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-analyzer:1"
SAGEMAKER_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


# -- data --------------------------------------------------------------------------------------


def make_frame(n: int, seed: int, *, drift: bool = False) -> pd.DataFrame:
    """label (0/1), x (4 decimals), y (0..19), cat (a/b/c); ``drift`` moves x and cat."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "label": rng.integers(0, 2, n),
            "x": rng.normal(2.5 if drift else 0.0, 1.0, n).round(4),
            "y": rng.integers(0, 20, n),
            "cat": rng.choice(["a", "b", "c"], n, p=[0.1, 0.2, 0.7] if drift else [0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``full/`` (label, x, y, cat: capture data) and ``features/`` (x, y, cat: batch inputs)."""
    folder = tmp_path_factory.mktemp("baselines")
    train = make_frame(1500, seed=1)
    train.to_csv(folder / "train.csv", index=False)
    train.drop(columns="label").to_csv(folder / "features.csv", index=False)
    baseline(str(folder / "train.csv"), str(folder / "full"), format="csv", header=True, workers=1)
    baseline(
        str(folder / "features.csv"), str(folder / "features"), format="csv", header=True, workers=1
    )
    return folder


@pytest.fixture
def objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``s3://`` mapped into a fresh object root (inherited by the analyzer processes)."""
    root = tmp_path / "objects"
    root.mkdir()
    monkeypatch.delenv("MODELMON_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(root))
    return root


def obj(root: Path, uri: str) -> Path:
    return root / uri.split("://", 1)[1]


def put_baseline(root: Path, baselines: Path, kind: str = "full") -> tuple[str, str]:
    uris = (
        f"s3://bucket/baseline/{kind}/constraints.json",
        f"s3://bucket/baseline/{kind}/statistics.json",
    )
    for uri in uris:
        target = obj(root, uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(baselines / kind / target.name, target)
    return uris


def write_capture(
    root: Path, frame: pd.DataFrame, start: datetime, variant: str = "AllTraffic"
) -> Path:
    """A capture file in ``{CAPTURE}/{endpoint}/{variant}/yyyy/mm/dd/hh/``; record i at +i s."""
    folder = obj(root, CAPTURE) / ENDPOINT / variant / start.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{start:%M-%S}-000-{uuid.uuid4()}.jsonl"
    with path.open("wb") as out:
        for i, row in enumerate(frame.itertuples(index=False)):
            out.write(
                capture_line(
                    input_part={
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": f"{row.x:.4f},{row.y},{row.cat}",
                        "encoding": "CSV",
                    },
                    output_part={
                        "observedContentType": "text/csv; charset=utf-8",
                        "mode": "OUTPUT",
                        "data": str(row.label),
                        "encoding": "CSV",
                    },
                    event_id=str(uuid.uuid4()),
                    inference_time=start + timedelta(seconds=i),
                )
            )
    return path


def job_definition(
    *,
    baseline_uris: tuple[str, str] | None = None,
    image: str = "",
    entrypoint: list[str] | None = None,
    arguments: list[str] | None = None,
    max_runtime: int = 120,
    environment: dict[str, str] | None = None,
    endpoint_input: dict[str, Any] | None = None,
    batch_input: dict[str, Any] | None = None,
    app: dict[str, Any] | None = None,
) -> dict[str, Any]:
    app_spec: dict[str, Any] = {"ImageUri": image, **(app or {})}
    if entrypoint is not None:
        app_spec["ContainerEntrypoint"] = entrypoint
    if arguments is not None:
        app_spec["ContainerArguments"] = arguments
    if batch_input is not None:
        monitoring_input = {"BatchTransformInput": batch_input}
    else:
        monitoring_input = {
            "EndpointInput": {
                "EndpointName": ENDPOINT,
                "LocalPath": "/opt/ml/processing/input/endpoint",
                **(endpoint_input or {}),
            }
        }
    definition: dict[str, Any] = {
        "MonitoringInputs": [monitoring_input],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": REPORTS,
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "Continuous",
                    }
                }
            ]
        },
        "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1}},
        "MonitoringAppSpecification": app_spec,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "Environment": {"MODELMON_ANALYZER_WORKERS": "1", **(environment or {})},
        "RoleArn": "arn:aws:iam::000000000000:role/monitor",
    }
    if baseline_uris is not None:
        definition["BaselineConfig"] = {
            "ConstraintsResource": {"S3Uri": baseline_uris[0]},
            "StatisticsResource": {"S3Uri": baseline_uris[1]},
        }
    return definition


def spec(tmp_path: Path, definition: dict[str, Any], **extra: Any) -> ExecutionSpec:
    values: dict[str, Any] = {
        "execution_id": f"exec-{uuid.uuid4().hex[:8]}",
        "schedule_name": SCHEDULE,
        "scheduled_time": H05,
        "window_start": H03,
        "window_end": H05,
        "job_definition": definition,
        "capture_destination": CAPTURE,
        "work_dir": tmp_path / "work",
    }
    values.update(extra)
    return ExecutionSpec(**values)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


# -- the built-in analyzer ---------------------------------------------------------------------


def test_endpoint_execution_with_drift_completes_with_violations(
    tmp_path: Path, objects: Path, baselines: Path
) -> None:
    write_capture(objects, make_frame(300, 10, drift=True), H03 + timedelta(minutes=5))
    write_capture(objects, make_frame(200, 11, drift=True), H03 + timedelta(hours=1, minutes=1))
    write_capture(objects, make_frame(100, 12, drift=True), H03 + timedelta(minutes=7), "Canary")
    write_capture(objects, make_frame(50, 13), H03 - timedelta(minutes=30))  # before the window
    write_capture(objects, make_frame(50, 14), H05 + timedelta(minutes=1))  # after the window
    post = script(
        tmp_path,
        "post.py",
        """
        import os

        def postprocess_handler():
            with open(os.path.join(os.environ["output_path"], "post.txt"), "w") as out:
                out.write("post-analytics ran for " + os.environ["sagemaker_endpoint_name"])
        """,
    )
    post_uri = "s3://bucket/code/post.py"
    obj(objects, post_uri).parent.mkdir(parents=True)
    shutil.copyfile(post, obj(objects, post_uri))
    definition = job_definition(
        baseline_uris=put_baseline(objects, baselines),
        image=SAGEMAKER_IMAGE,
        app={"PostAnalyticsProcessorSourceUri": post_uri},
    )
    work = tmp_path / "work"

    result = Runner({}).run(spec(tmp_path, definition))

    assert result.status == "CompletedWithViolations", result.failure_reason
    assert result.failure_reason is None
    assert result.exit_message.startswith(
        "CompletedWithViolations: Job completed successfully with "
    )
    assert result.staged_files == 3
    assert result.exit_code == 0 and result.pid is not None
    prefix = f"{REPORTS}/{ENDPOINT}/{SCHEDULE}/2024/01/02/05/"
    assert result.report_uri == prefix
    reports = obj(objects, prefix)
    assert sorted(p.name for p in reports.iterdir()) == [
        "constraint_violations.json",
        "constraints.json",
        "post.txt",
        "statistics.json",
    ]
    assert result.reports[-1] == prefix + "constraint_violations.json"
    assert (reports / "post.txt").read_text() == f"post-analytics ran for {ENDPOINT}"
    statistics = read_json(reports / "statistics.json")
    assert statistics["dataset"]["item_count"] == 600  # only the window's records
    violations = read_json(reports / "constraint_violations.json")["violations"]
    assert {("x", "baseline_drift_check"), ("cat", "baseline_drift_check")} <= {
        (v["feature_name"], v["constraint_check_type"]) for v in violations
    }
    assert result.exit_message.endswith(f"with {len(violations)} violations.")
    # metrics (publishing enabled by default), the log, the work directory
    assert result.metrics_file is not None
    assert result.metrics_file.parent == work / "opt/ml/output/metrics/cloudwatch"
    first = json.loads(result.metrics_file.read_text().splitlines()[0])
    assert first["Timestamp"] == "2024-01-02T05:00:00Z"
    assert result.log_path == work / "log.txt"
    log = result.log_path.read_text()
    assert "staged 3 file(s)" in log
    assert "modelmon.monitoring.container" in log  # the command line
    assert result.exit_message in log  # the analyzer's own output
    assert "execution ended: CompletedWithViolations" in log
    assert not (work / "opt/ml/processing/input/endpoint").exists()  # staged data removed
    assert (work / "opt/ml/processing/baseline/constraints/constraints.json").is_file()
    assert result.started_at <= result.ended_at


def test_batch_transform_input_reads_the_window_manifests(
    tmp_path: Path, objects: Path, baselines: Path
) -> None:
    frames = [make_frame(250, 20, drift=True), make_frame(150, 21, drift=True)]
    names = []
    for i, frame in enumerate(frames):
        name = f"part-{i}.csv"
        path = obj(objects, f"s3://bucket/transform-input/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.drop(columns="label").to_csv(path, index=False)
        names.append(name)
    dest = "s3://bucket/batch-capture"

    def manifest(side: str, hour: str, prefix: str, entries: list[str]) -> None:
        path = obj(objects, f"{dest}/{side}/2024/01/02/{hour}/{uuid.uuid4()}.manifest")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps([{"prefix": prefix}, *entries]))

    manifest("input", "03", "s3://bucket/transform-input/", names)
    manifest("output", "03", "s3://bucket/transform-output/", [n + ".out" for n in names])
    manifest("input", "01", "s3://bucket/transform-input/", ["gone.csv"])  # outside: not read
    definition = job_definition(
        baseline_uris=put_baseline(objects, baselines, "features"),
        batch_input={
            "DataCapturedDestinationS3Uri": dest,
            "DatasetFormat": {"Csv": {"Header": True}},
            "LocalPath": "/opt/ml/processing/input",
        },
    )

    result = Runner({}).run(spec(tmp_path, definition, capture_destination=None))

    assert result.status == "CompletedWithViolations", result.failure_reason
    assert result.staged_files == 2
    prefix = f"{REPORTS}/{SCHEDULE}/2024/01/02/05/"
    assert result.report_uri == prefix
    statistics = read_json(obj(objects, prefix) / "statistics.json")
    assert statistics["dataset"]["item_count"] == 400
    assert [f["name"] for f in statistics["features"]] == ["x", "y", "cat"]
    assert "batch transform input manifests" in result.log_path.read_text()


# -- the container contract with a user's analyzer -----------------------------------------------

DUMP_ENV = """
import json, os, sys

out = os.environ["output_path"]
source = os.environ["dataset_source"]
files = sorted(
    os.path.relpath(os.path.join(d, f), source) for d, _, fs in os.walk(source) for f in fs
)
with open(os.path.join(out, "env.json"), "w") as handle:
    json.dump({"env": dict(os.environ), "argv": sys.argv[1:], "cwd": os.getcwd(),
               "files": files}, handle)
with open(os.path.join(out, "constraint_violations.json"), "w") as handle:
    json.dump({"violations": VIOLATIONS}, handle)
print("user analyzer saw", len(files), "files")
"""


def dump_env_script(tmp_path: Path, violations: int = 0) -> Path:
    listed = [
        {
            "feature_name": f"f{i}",
            "constraint_check_type": "baseline_drift_check",
            "description": "",
        }
        for i in range(violations)
    ]
    return script(tmp_path, "analyzer.py", DUMP_ENV.replace("VIOLATIONS", repr(listed)))


def test_the_environment_contract(
    tmp_path: Path, objects: Path, baselines: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = [
        write_capture(objects, make_frame(5, 30), H03 + timedelta(minutes=59)),
        write_capture(objects, make_frame(5, 31), H03 + timedelta(hours=1, minutes=59)),
        write_capture(objects, make_frame(5, 32), H03 + timedelta(minutes=1), "Canary"),
    ]
    write_capture(objects, make_frame(5, 33), H03 - timedelta(seconds=1))
    write_capture(objects, make_frame(5, 34), H05)
    for name, text in (("pre.py", "def preprocess_handler(r):\n    return r\n"), ("post.py", "")):
        target = obj(objects, f"s3://bucket/code/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    # contract variables of the runner's own environment never leak into the job
    monkeypatch.setenv("categorical_drift_method", "ChiSquared")
    monkeypatch.setenv("dataset_source", "/leaked")
    monkeypatch.setenv("SOME_RUNNER_SETTING", "inherited")
    analyzer = dump_env_script(tmp_path)
    definition = job_definition(
        baseline_uris=put_baseline(objects, baselines),
        image=IMAGE,
        entrypoint=[sys.executable, str(analyzer)],
        arguments=["--mode", "check"],
        app={
            "RecordPreprocessorSourceUri": "s3://bucket/code/pre.py",
            "PostAnalyticsProcessorSourceUri": "s3://bucket/code/post.py",
        },
        endpoint_input={
            "FeaturesAttribute": "$.features",
            "InferenceAttribute": "$.prediction",
            "ProbabilityAttribute": "$.probability",
            "ProbabilityThresholdAttribute": 0.7,
            "ExcludeFeaturesAttribute": "x,y",
        },
        environment={
            "custom_setting": "42",
            "publish_cloudwatch_metrics": "Disabled",  # the job's Environment wins here
            "dataset_source": "/not/honoured",  # but never over the runner's paths
            "start_time": "2000-01-01T00:00:00Z",
        },
    )
    execution = spec(tmp_path, definition, execution_id="exec-env")

    result = Runner({}).run(execution)

    assert result.status == "Completed", result.failure_reason
    assert result.exit_message == "Completed: Job completed successfully with no violations."
    prefix = obj(objects, f"{REPORTS}/{ENDPOINT}/{SCHEDULE}/2024/01/02/05")
    dumped = read_json(prefix / "env.json")
    env, work = dumped["env"], tmp_path / "work"
    base = work / "opt/ml/processing"
    assert dumped["argv"] == ["--mode", "check"]
    assert dumped["cwd"] == str(work)
    assert dumped["files"] == sorted(  # the window's hours only, all variants
        f"{ENDPOINT}/{p.relative_to(p.parents[5]).as_posix()}" for p in inside
    )
    expected = {
        "dataset_format": '{"sagemakerCaptureJson":{"captureIndexNames":'
        '["endpointInput","endpointOutput"]}}',
        "dataset_source": str(base / "input/endpoint"),
        "output_path": str(base / "output"),
        "publish_cloudwatch_metrics": "Disabled",
        "sagemaker_endpoint_name": ENDPOINT,
        "sagemaker_monitoring_schedule_name": SCHEDULE,
        "sagemaker_endpoint_datacapture_prefix": CAPTURE,
        "start_time": "2024-01-02T03:00:00Z",
        "end_time": "2024-01-02T05:00:00Z",
        "metric_time": "2024-01-02T05:00:00Z",
        "baseline_constraints": str(base / "baseline/constraints/constraints.json"),
        "baseline_statistics": str(base / "baseline/stats/statistics.json"),
        "record_preprocessor_script": str(base / "input/record_preprocessor_script_input/pre.py"),
        "post_analytics_processor_script": str(
            base / "input/post_analytics_processor_script_input/post.py"
        ),
        "analysis_type": "DATA_QUALITY",
        "features_attribute": "$.features",
        "inference_attribute": "$.prediction",
        "probability_attribute": "$.probability",
        "probability_threshold_attribute": "0.7",
        "exclude_features_attribute": "x,y",
        "monitoring_input_type": "ENDPOINT_INPUT",
        "MODELMON_MESSAGE_FILE": str(work / "opt/ml/output/message"),
        "CLOUDWATCH_METRICS_DIRECTORY": str(work / "opt/ml/output/metrics/cloudwatch"),
        "MODELMON_EXECUTION_ID": "exec-env",
        "custom_setting": "42",
        "MODELMON_ANALYZER_WORKERS": "1",
        "SOME_RUNNER_SETTING": "inherited",
        "MODELMON_OBJECT_ROOT": str(objects),
    }
    assert {name: env.get(name) for name in expected} == expected
    assert "categorical_drift_method" not in env
    for name in ("baseline_constraints", "record_preprocessor_script"):
        assert Path(env[name]).is_file()
    assert (
        Path(env["baseline_constraints"]).read_bytes()
        == (baselines / "full" / "constraints.json").read_bytes()
    )
    assert "user analyzer saw 3 files" in result.log_path.read_text()
    assert result.metrics_files == []


def test_batch_environment_and_model_quality_side(tmp_path: Path, objects: Path) -> None:
    data = obj(objects, "s3://bucket/out/p.csv.out")
    data.parent.mkdir(parents=True)
    data.write_text("0.5\n")
    manifest = obj(objects, "s3://bucket/bc/output/2024/01/02/04/job.manifest")
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(orjson.dumps([{"prefix": "s3://bucket/out/"}, "p.csv.out"]))
    definition = job_definition(
        entrypoint=[sys.executable, str(dump_env_script(tmp_path, violations=2))],
        batch_input={
            "DataCapturedDestinationS3Uri": "s3://bucket/bc",
            "DatasetFormat": {"Json": {"Line": True}},
            "LocalPath": "/opt/ml/processing/input/batch",
            "InferenceAttribute": "0",
        },
    )
    execution = spec(tmp_path, definition, monitoring_type="ModelQuality", capture_destination=None)
    execution.publish_cloudwatch_metrics = False

    result = Runner({}).run(execution)

    assert result.status == "CompletedWithViolations"
    assert result.exit_message == (
        "CompletedWithViolations: Job completed successfully with 2 violations."
    )
    dumped = read_json(obj(objects, f"{REPORTS}/{SCHEDULE}/2024/01/02/05") / "env.json")
    env = dumped["env"]
    assert env["dataset_format"] == '{"json":{"lines":true}}'
    assert env["monitoring_input_type"] == "BATCH_TRANSFORM_INPUT"
    assert env["analysis_type"] == "MODEL_QUALITY"
    assert env["inference_attribute"] == "0"
    assert env["publish_cloudwatch_metrics"] == "Disabled"
    assert "sagemaker_endpoint_name" not in env
    assert "sagemaker_endpoint_datacapture_prefix" not in env
    assert "baseline_constraints" not in env
    assert dumped["files"] == ["output/2024/01/02/04/job-00000-p.csv.out"]


def test_an_image_mapped_to_a_command(
    tmp_path: Path, objects: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_capture(objects, make_frame(5, 40), H03)
    analyzer = dump_env_script(tmp_path, violations=1)
    definition = job_definition(image=IMAGE, arguments=["extra"])
    result = Runner({IMAGE: [sys.executable, str(analyzer)]}).run(spec(tmp_path, definition))
    assert result.status == "CompletedWithViolations"
    assert result.exit_message.endswith("with 1 violation.")
    env_json = obj(objects, f"{REPORTS}/{ENDPOINT}/{SCHEDULE}/2024/01/02/05/env.json")
    assert read_json(env_json)["argv"] == ["extra"]

    # the same map from MODELMON_ANALYZER_IMAGES
    monkeypatch.setenv(ANALYZER_IMAGES_ENV, json.dumps({IMAGE: [sys.executable, str(analyzer)]}))
    again = Runner().run(spec(tmp_path, definition, work_dir=tmp_path / "again"))
    assert again.status == "CompletedWithViolations"


def test_which_command_an_app_specification_runs() -> None:
    images = {IMAGE: ["my-analyzer", "--fast"]}
    builtin = list(BUILTIN_COMMAND)
    assert resolve_command({"ImageUri": ""}, images) == builtin
    assert resolve_command({"ImageUri": "modelmon"}, images) == builtin
    assert resolve_command({"ImageUri": SAGEMAKER_IMAGE + ":latest"}, images) == builtin
    assert resolve_command({"ImageUri": IMAGE, "ContainerArguments": ["a"]}, images) == [
        "my-analyzer",
        "--fast",
        "a",
    ]
    # ContainerEntrypoint overrides the image's command, as in Docker
    assert resolve_command(
        {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "x.py"],
            "ContainerArguments": ["b"],
        },
        images,
    ) == ["python3", "x.py", "b"]
    assert resolve_command({"ImageUri": "other:1", "ContainerEntrypoint": ["run"]}, {}) == ["run"]
    with pytest.raises(InputError) as err:
        resolve_command({"ImageUri": "other:1"}, images)
    assert "ImageUri other:1" in str(err.value) and ANALYZER_IMAGES_ENV in str(err.value)


def test_analyzer_images_from_the_environment() -> None:
    assert analyzer_images_from_env({}) == {}
    assert analyzer_images_from_env({ANALYZER_IMAGES_ENV: '{"img:1": ["python", "a.py"]}'}) == {
        "img:1": ["python", "a.py"]
    }
    for bad in ("{nope", '["python"]', '{"img": "python a.py"}', '{"img": []}'):
        with pytest.raises(InputError, match=ANALYZER_IMAGES_ENV):
            analyzer_images_from_env({ANALYZER_IMAGES_ENV: bad})


# -- failures that start no process ----------------------------------------------------------------


def test_no_captured_data_fails_without_starting_a_process(
    tmp_path: Path, objects: Path, baselines: Path
) -> None:
    write_capture(objects, make_frame(5, 50), H03 - timedelta(hours=2))  # outside the window
    marker = tmp_path / "started"
    definition = job_definition(
        baseline_uris=put_baseline(objects, baselines),
        entrypoint=[sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
    )
    result = Runner({}).run(spec(tmp_path, definition))
    reason = (
        f"No captured data for endpoint {ENDPOINT} in the analysis window "
        "2024-01-02T03:00:00Z to 2024-01-02T05:00:00Z"
    )
    assert (result.status, result.failure_reason) == ("Failed", reason)
    assert result.exit_message == f"Failed: {reason}"
    assert (result.pid, result.exit_code, result.report_uri) == (None, None, None)
    assert not marker.exists()
    assert reason in result.log_path.read_text()

    batch = job_definition(
        entrypoint=[sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
        batch_input={
            "DataCapturedDestinationS3Uri": "s3://bucket/empty-batch",
            "DatasetFormat": {"Parquet": {}},
            "LocalPath": "/opt/ml/processing/input",
        },
    )
    result = Runner({}).run(spec(tmp_path, batch, work_dir=tmp_path / "batch"))
    assert result.status == "Failed"
    assert result.failure_reason == (
        "No batch transform capture in s3://bucket/empty-batch (input manifests) in the "
        "analysis window 2024-01-02T03:00:00Z to 2024-01-02T05:00:00Z"
    )
    assert not marker.exists()

    no_capture = Runner({}).run(spec(tmp_path, definition, capture_destination=None))
    assert no_capture.status == "Failed"
    assert "has no data capture destination" in (no_capture.failure_reason or "")


@pytest.mark.parametrize(
    ("member", "field"),
    [
        ("constraints", "BaselineConfig.ConstraintsResource.S3Uri"),
        ("statistics", "BaselineConfig.StatisticsResource.S3Uri"),
        ("preprocessor", "MonitoringAppSpecification.RecordPreprocessorSourceUri"),
    ],
)
def test_a_missing_baseline_or_script_fails_naming_the_uri(
    tmp_path: Path, objects: Path, baselines: Path, member: str, field: str
) -> None:
    write_capture(objects, make_frame(5, 60), H03)
    constraints, statistics = put_baseline(objects, baselines)
    missing = "s3://bucket/nowhere/file.json"
    if member == "constraints":
        constraints = missing
    elif member == "statistics":
        statistics = missing
    app = {"RecordPreprocessorSourceUri": missing} if member == "preprocessor" else None
    definition = job_definition(baseline_uris=(constraints, statistics), app=app)
    result = Runner({}).run(spec(tmp_path, definition))
    assert result.status == "Failed"
    assert result.failure_reason == f"{field} {missing} does not exist"
    assert result.pid is None


def test_an_unknown_image_without_entrypoint_fails(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 70), H03)
    result = Runner({}).run(spec(tmp_path, job_definition(image="unknown/analyzer:2")))
    assert result.status == "Failed"
    assert "ImageUri unknown/analyzer:2" in (result.failure_reason or "")
    assert ANALYZER_IMAGES_ENV in (result.failure_reason or "")
    assert result.pid is None


def test_bad_job_definitions_fail_with_a_reason(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 71), H03)
    two_inputs = job_definition()
    two_inputs["MonitoringInputs"].append(two_inputs["MonitoringInputs"][0])
    escaping = job_definition(endpoint_input={"LocalPath": "/opt/../../etc"})
    nested = job_definition(endpoint_input={"LocalPath": "/opt/ml/processing/output/in"})
    missing_command = job_definition(entrypoint=["/no/such/analyzer"])
    cases = [
        (two_inputs, "MonitoringInputs must hold exactly one"),
        (escaping, "must be a directory path"),
        (nested, "must not be inside the output's LocalPath"),
        (missing_command, "the analyzer command '/no/such/analyzer' cannot be started"),
    ]
    for i, (definition, reason) in enumerate(cases):
        result = Runner({}).run(spec(tmp_path, definition, work_dir=tmp_path / f"w{i}"))
        assert result.status == "Failed"
        assert reason in (result.failure_reason or ""), result.failure_reason
    with pytest.raises(ValueError, match="timezone-aware"):
        Runner({}).run(spec(tmp_path, job_definition(), window_start=datetime(2024, 1, 2, 3)))


# -- how the analyzer ended ---------------------------------------------------------------------


def test_exit_codes_and_messages(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 80), H03)
    cases = {
        "crash": (
            "import sys, os\n"
            "open(os.path.join(os.environ['output_path'], 'statistics.json'), 'w').write('{}')\n"
            "print('step 1'); print('boom: the model file is corrupt', file=sys.stderr)\n"
            "sys.exit(3)\n",
            "Failed",
            "AlgorithmError: the analyzer exited with code 3: step 1 | "
            "boom: the model file is corrupt",
        ),
        "failed-message": (
            "import os, sys\n"
            "open(os.environ['MODELMON_MESSAGE_FILE'], 'w').write('Failed: the baseline is bad')\n"
            "sys.exit(1)\n",
            "Failed",
            "the baseline is bad",
        ),
        "completed-message": (
            "import os\n"
            "open(os.environ['MODELMON_MESSAGE_FILE'], 'w').write("
            "'CompletedWithViolations: Job completed successfully with 4 violations.')\n",
            "CompletedWithViolations",
            None,
        ),
        "nonzero-after-completed": (
            "import os, sys\n"
            "open(os.environ['MODELMON_MESSAGE_FILE'], 'w').write('Completed: fine')\n"
            "sys.exit(2)\n",
            "Failed",
            "AlgorithmError: the analyzer exited with code 2",
        ),
        "killed": (
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
            "Failed",
            "AlgorithmError: the analyzer was killed by SIGKILL",
        ),
        "bad-violations": (
            "import os\n"
            "open(os.path.join(os.environ['output_path'], 'constraint_violations.json'), 'w')"
            ".write('[1, 2')\n",
            "Failed",
            "the analyzer wrote an unreadable constraint_violations.json",
        ),
    }
    runner = Runner({})
    for name, (code, status, reason) in cases.items():
        path = script(tmp_path, f"{name}.py", code)
        definition = job_definition(entrypoint=[sys.executable, str(path)])
        result = runner.run(spec(tmp_path, definition, work_dir=tmp_path / name))
        assert result.status == status, (name, result.failure_reason)
        if reason is None:
            assert result.failure_reason is None
        else:
            assert (result.failure_reason or "").startswith(reason), (name, result.failure_reason)
        if name == "crash":
            # whatever the failed analyzer wrote is uploaded, the log keeps its output
            assert result.report_uri == f"{REPORTS}/{ENDPOINT}/{SCHEDULE}/2024/01/02/05/"
            assert result.reports == [result.report_uri + "statistics.json"]
            assert "boom: the model file is corrupt" in result.log_path.read_text()
        if name == "completed-message":
            assert result.exit_message == (
                "CompletedWithViolations: Job completed successfully with 4 violations."
            )


SPAWNER = """
import os, signal, subprocess, sys, time

if IGNORE_TERM:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child_code = "import signal, time\\n"
if IGNORE_TERM:
    child_code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
child_code += "time.sleep(120)\\n"
child = subprocess.Popen([sys.executable, "-c", child_code])
pids = os.path.join(os.environ["output_path"], "pids.txt")
with open(pids + ".tmp", "w") as out:
    out.write(f"{os.getpid()} {child.pid}")
os.replace(pids + ".tmp", pids)
if not EXIT_AT_ONCE:
    time.sleep(120)
"""


def spawner(tmp_path: Path, *, ignore_term: bool = False, exit_at_once: bool = False) -> Path:
    code = SPAWNER.replace("IGNORE_TERM", repr(ignore_term)).replace(
        "EXIT_AT_ONCE", repr(exit_at_once)
    )
    return script(tmp_path, f"spawner-{ignore_term}-{exit_at_once}.py", code)


def pids_of(work: Path) -> list[int]:
    return [int(p) for p in (work / "opt/ml/processing/output/pids.txt").read_text().split()]


def test_max_runtime_stops_the_whole_process_group(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 90), H03)
    definition = job_definition(entrypoint=[sys.executable, str(spawner(tmp_path))], max_runtime=2)
    began = time.monotonic()
    result = Runner({}, kill_grace=2).run(spec(tmp_path, definition))
    took = time.monotonic() - began
    assert result.status == "Stopped"
    assert result.failure_reason == (
        "Stopped: the execution ran longer than MaxRuntimeInSeconds (2 s)"
    )
    assert 2 <= took < 5
    leader, child = pids_of(tmp_path / "work")
    assert leader == result.pid
    assert not alive(leader) and not alive(child)
    assert "execution ended: Stopped" in result.log_path.read_text()


def test_the_stop_event_stops_processes_that_ignore_sigterm(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 91), H03)
    analyzer = spawner(tmp_path, ignore_term=True)
    definition = job_definition(entrypoint=[sys.executable, str(analyzer)])
    work = tmp_path / "work"
    stop = threading.Event()
    results: list[ExecutionResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            Runner({}, kill_grace=0.5).run(spec(tmp_path, definition), stop)
        )
    )
    thread.start()
    wait_for(work / "opt/ml/processing/output/pids.txt")
    leader, child = pids_of(work)
    assert alive(leader) and alive(child)
    stop.set()
    thread.join(20)
    assert not thread.is_alive()
    (result,) = results
    assert (result.status, result.failure_reason) == ("Stopped", "Stopped by the user")
    assert not alive(leader) and not alive(child)
    # whatever the stopped analyzer wrote is uploaded
    assert result.reports == [f"{REPORTS}/{ENDPOINT}/{SCHEDULE}/2024/01/02/05/pids.txt"]


def test_processes_left_behind_are_ended(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 92), H03)
    analyzer = spawner(tmp_path, exit_at_once=True)
    definition = job_definition(entrypoint=[sys.executable, str(analyzer)])
    result = Runner({}, kill_grace=2).run(spec(tmp_path, definition))
    assert result.status == "Completed"
    leader, child = pids_of(tmp_path / "work")
    assert not alive(leader) and not alive(child)


def test_a_stop_before_the_start_starts_nothing(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 93), H03)
    stop = threading.Event()
    stop.set()
    result = Runner({}).run(spec(tmp_path, job_definition()), stop)
    assert (result.status, result.failure_reason, result.pid) == (
        "Stopped",
        "Stopped by the user",
        None,
    )


def test_the_pool_bounds_concurrent_executions(tmp_path: Path, objects: Path) -> None:
    write_capture(objects, make_frame(5, 94), H03)
    times = tmp_path / "times"
    times.mkdir()
    analyzer = script(
        tmp_path,
        "slow.py",
        f"""
        import os, time
        began = time.time()
        time.sleep(0.6)
        with open(os.path.join({str(times)!r}, os.environ["MODELMON_EXECUTION_ID"]), "w") as out:
            out.write(f"{{began}} {{time.time()}}")
        """,
    )
    definition = job_definition(entrypoint=[sys.executable, str(analyzer)])
    pool = RunnerPool(Runner({}), max_concurrent=2)
    try:
        futures = {
            f"e{i}": pool.submit(
                spec(tmp_path, definition, execution_id=f"e{i}", work_dir=tmp_path / f"e{i}")
            )
            for i in range(5)
        }
        assert pool.stop("e4")  # still queued: ends Stopped without a process
        assert not pool.stop("unknown")
        results = {name: future.result(timeout=60) for name, future in futures.items()}
    finally:
        pool.shutdown(stop_running=True)
    assert results["e4"].status == "Stopped" and results["e4"].pid is None
    assert all(results[f"e{i}"].status == "Completed" for i in range(4))
    assert pool.active() == []
    spans = [tuple(map(float, p.read_text().split())) for p in times.iterdir()]
    assert len(spans) == 4
    for began, _ in spans:
        running = sum(1 for b, e in spans if b <= began < e)
        assert running <= 2
    with pytest.raises(ValueError):
        RunnerPool(Runner({}), max_concurrent=0)
