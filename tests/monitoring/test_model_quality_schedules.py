"""Model-quality job definitions and schedules on a real SQLite database: what is refused at
creation (naming the field), MaxRuntimeInSeconds against the cadence, and a scheduled run
(injected clock) that stages the capture of the offset window and the ground truth collected
up to the run, for a real analyzer process (a stand-in program recording what it got)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelmon.errors import ConflictError, InputError, NotFoundError
from modelmon.monitoring.inputs import ground_truth_window_files
from modelmon.monitoring.registry import Monitoring, model_quality_runtime_limit
from modelmon.monitoring.runner import Runner
from modelmon.monitoring.schedule import ScheduleExpression
from modelmon.monitoring.scheduler import Scheduler
from modelmon.monitoring.shapes import (
    CreateDataQualityJobDefinitionRequest,
    CreateModelQualityJobDefinitionRequest,
    CreateMonitoringScheduleRequest,
    PutGroundTruthRequest,
)
from modelmon.serving.shapes import (
    parse,
)

UTC = dt.UTC
ENDPOINT = "churn"
CAPTURE = "s3://bucket/capture"
GROUND_TRUTH = "s3://bucket/ground-truth"

# a stand-in analyzer: records its environment and the files it was given, then completes
RECORDER = textwrap.dedent(
    """
    import json, os, pathlib
    out = pathlib.Path(os.environ["output_path"])
    def files(variable):
        root = pathlib.Path(os.environ.get(variable, "/nonexistent"))
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    record = {
        "env": {k: v for k, v in os.environ.items() if k.islower() or k.startswith("MODELMON")},
        "dataset": files("dataset_source"),
        "ground_truth": files("ground_truth_source"),
    }
    (out / "seen.json").write_text(json.dumps(record))
    pathlib.Path(os.environ["MODELMON_MESSAGE_FILE"]).write_text(
        "Completed: Job completed successfully with no violations.")
    """
)


class Clock:
    """A settable time source."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def set(self, *args: int) -> None:
        with self._lock:
            self.now = dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path, capturing_endpoint: Any) -> Iterator[dict[str, Any]]:
    """Settings, a database, an endpoint capturing to CAPTURE, a recorder analyzer script."""
    settings, db, hosting = capturing_endpoint
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    yield {
        "settings": settings,
        "db": db,
        "hosting": hosting,
        "objects": tmp_path / "objects",
        "recorder": recorder,
    }


def monitoring(world: dict[str, Any], clock: Clock | None = None) -> Monitoring:
    clock = clock or Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    return Monitoring(world["db"], world["settings"], world["hosting"], clock=clock)


def definition_request(name: str = "mq", **changes: Any) -> dict[str, Any]:
    """A CreateModelQualityJobDefinition request as boto3 sends it (SPEC §6)."""
    body: dict[str, Any] = {
        "JobDefinitionName": name,
        "ModelQualityAppSpecification": {
            "ImageUri": "modelmon",
            "ProblemType": "BinaryClassification",
            "Environment": {"publish_cloudwatch_metrics": "Disabled"},
        },
        "ModelQualityJobInput": {
            "EndpointInput": {
                "EndpointName": ENDPOINT,
                "LocalPath": "/opt/ml/processing/input/endpoint",
                "InferenceAttribute": "0",
                "ProbabilityAttribute": "0",
                "ProbabilityThresholdAttribute": 0.5,
                "StartTimeOffset": "-P8D",
                "EndTimeOffset": "-P1D",
            },
            "GroundTruthS3Input": {"S3Uri": GROUND_TRUTH},
        },
        "ModelQualityJobOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/mq-reports"}}]
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 20,
            }
        },
        "RoleArn": "arn:aws:iam::000000000000:role/monitor",
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
    }
    for path, value in changes.items():
        _put(body, path, value)
    return body


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, with ``...``, delete) the member at a dotted path."""
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value


def inline_schedule(
    name: str, expression: str = "cron(0 * ? * * *)", **changes: Any
) -> dict[str, Any]:
    """A ModelQuality schedule with an inline definition (the modelmon extension)."""
    job = definition_request()
    definition = {
        "MonitoringInputs": [job["ModelQualityJobInput"]],
        "MonitoringOutputConfig": job["ModelQualityJobOutputConfig"],
        "MonitoringAppSpecification": {
            k: v for k, v in job["ModelQualityAppSpecification"].items() if k != "Environment"
        },
        "Environment": job["ModelQualityAppSpecification"]["Environment"],
        "StoppingCondition": job["StoppingCondition"],
    }
    body: dict[str, Any] = {
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": definition,
            "MonitoringType": "ModelQuality",
        },
    }
    for path, value in changes.items():
        _put(body, path, value)
    return body


def create_definition(m: Monitoring, body: dict[str, Any]) -> dict[str, Any]:
    return m.create_model_quality_job_definition(
        parse(CreateModelQualityJobDefinitionRequest, body)
    )


def create_schedule(m: Monitoring, body: dict[str, Any]) -> dict[str, Any]:
    return m.create_monitoring_schedule(parse(CreateMonitoringScheduleRequest, body))


# -- job definitions -------------------------------------------------------------------------


def test_model_quality_job_definitions_create_describe_list_delete(world) -> None:
    m = monitoring(world)
    arn = create_definition(m, definition_request("mq-a"))["JobDefinitionArn"]
    assert arn.endswith(":model-quality-job-definition/mq-a")
    create_definition(m, definition_request("mq-b"))
    m.create_data_quality_job_definition(
        parse(
            CreateDataQualityJobDefinitionRequest,
            {
                "JobDefinitionName": "dq",
                "DataQualityJobInput": {"EndpointInput": {"EndpointName": ENDPOINT}},
                "DataQualityJobOutputConfig": {
                    "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/dq"}}]
                },
            },
        )
    )
    described = m.describe_model_quality_job_definition("mq-a")
    body = definition_request("mq-a")
    for member in (
        "ModelQualityAppSpecification",
        "ModelQualityJobInput",
        "JobResources",
        "RoleArn",
        "StoppingCondition",
    ):
        assert described[member] == body[member], member
    (output,) = described["ModelQualityJobOutputConfig"]["MonitoringOutputs"]
    assert output["S3Output"] == {  # SageMaker's default LocalPath filled in
        "S3Uri": "s3://bucket/mq-reports",
        "LocalPath": "/opt/ml/processing/output",
    }
    assert described["ModelQualityJobInput"]["GroundTruthS3Input"] == {"S3Uri": GROUND_TRUTH}
    listed = m.list_model_quality_job_definitions(sort_by="Name", sort_order="Ascending")
    assert [s["MonitoringJobDefinitionName"] for s in listed["JobDefinitionSummaries"]] == [
        "mq-a",
        "mq-b",
    ]
    assert listed["JobDefinitionSummaries"][0]["EndpointName"] == ENDPOINT
    dq = m.list_data_quality_job_definitions()["JobDefinitionSummaries"]
    assert [s["MonitoringJobDefinitionName"] for s in dq] == ["dq"]
    with pytest.raises(NotFoundError, match="Model quality job definition"):
        m.describe_model_quality_job_definition("dq")
    with pytest.raises(ConflictError, match="already exists"):
        create_definition(m, definition_request("mq-a"))

    create_schedule(
        m,
        {
            "MonitoringScheduleName": "by-name",
            "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": "mq-a",
                "MonitoringType": "ModelQuality",
            },
        },
    )
    assert m.describe_monitoring_schedule("by-name")["MonitoringType"] == "ModelQuality"
    with pytest.raises(ConflictError, match="by-name"):
        m.delete_model_quality_job_definition("mq-a")
    m.delete_monitoring_schedule("by-name")
    m.delete_model_quality_job_definition("mq-a")
    with pytest.raises(NotFoundError):
        m.describe_model_quality_job_definition("mq-a")


INPUT = "ModelQualityJobInput"
ENDPOINT_INPUT = f"{INPUT}.EndpointInput"
BAD_DEFINITIONS = [
    ("both inputs", {f"{INPUT}.BatchTransformInput": {
        "DataCapturedDestinationS3Uri": "s3://bucket/tc", "DatasetFormat": {"Csv": {}}}},
     INPUT, "exactly one of EndpointInput or BatchTransformInput is required (got both)"),
    ("neither input", {ENDPOINT_INPUT: ...},
     INPUT, "exactly one of EndpointInput or BatchTransformInput is required (got neither)"),
    ("no ground truth", {f"{INPUT}.GroundTruthS3Input": ...},
     f"{INPUT}.GroundTruthS3Input", "GroundTruthS3Input is required for model quality"),
    ("no problem type", {"ModelQualityAppSpecification.ProblemType": ...},
     "ModelQualityAppSpecification.ProblemType", "ProblemType is required"),
    ("an unknown problem type", {"ModelQualityAppSpecification.ProblemType": "Ranking"},
     "ModelQualityAppSpecification.ProblemType", "BinaryClassification"),
    ("a contradicting problem_type",
     {"ModelQualityAppSpecification.Environment": {"problem_type": "Regression"}},
     "ModelQualityAppSpecification.Environment.problem_type", "contradicts ProblemType"),
    ("a JSONPath modelmon cannot read", {f"{ENDPOINT_INPUT}.InferenceAttribute": "$.a[?(@.x)]"},
     f"{ENDPOINT_INPUT}.InferenceAttribute", "is not a JSONPath"),
    ("an empty attribute", {f"{ENDPOINT_INPUT}.ProbabilityAttribute": " "},
     f"{ENDPOINT_INPUT}.ProbabilityAttribute", "must not be empty"),
    ("a negative column", {f"{ENDPOINT_INPUT}.InferenceAttribute": "-1"},
     f"{ENDPOINT_INPUT}.InferenceAttribute", "is negative"),
    ("a threshold over 1", {f"{ENDPOINT_INPUT}.ProbabilityThresholdAttribute": 1.5},
     f"{ENDPOINT_INPUT}.ProbabilityThresholdAttribute", "probability in [0, 1]"),
    ("a threshold without probabilities", {f"{ENDPOINT_INPUT}.ProbabilityAttribute": ...},
     f"{ENDPOINT_INPUT}.ProbabilityThresholdAttribute", "give ProbabilityAttribute too"),
    ("probabilities of a regression",
     {"ModelQualityAppSpecification.ProblemType": "Regression",
      f"{ENDPOINT_INPUT}.ProbabilityThresholdAttribute": ...},
     f"{ENDPOINT_INPUT}.ProbabilityAttribute", "Regression model has no class probabilities"),
    ("an offset that is not ISO-8601", {f"{ENDPOINT_INPUT}.StartTimeOffset": "8 days ago"},
     f"{ENDPOINT_INPUT}.StartTimeOffset", "not an ISO-8601 duration"),
    ("an unknown endpoint", {f"{ENDPOINT_INPUT}.EndpointName": "nowhere"},
     f"{ENDPOINT_INPUT}.EndpointName", "Could not find endpoint"),
    ("MaxRuntimeInSeconds over a day", {"StoppingCondition.MaxRuntimeInSeconds": 86401},
     "StoppingCondition.MaxRuntimeInSeconds", "less than or equal to 86400"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [case[1:] for case in BAD_DEFINITIONS],
    ids=[case[0] for case in BAD_DEFINITIONS],
)
def test_bad_model_quality_definitions_are_refused_naming_the_field(
    world, changes, field, message
) -> None:
    m = monitoring(world)
    with pytest.raises(InputError) as err:
        create_definition(m, definition_request("bad", **changes))
    assert err.value.field == field, str(err.value)
    assert message in str(err.value)
    assert m.list_model_quality_job_definitions()["JobDefinitionSummaries"] == []


def test_an_inline_model_quality_schedule_is_checked_the_same_way(world) -> None:
    m = monitoring(world)
    prefix = "MonitoringScheduleConfig.MonitoringJobDefinition"
    gt = f"{prefix}.MonitoringInputs.0.GroundTruthS3Input"
    body = inline_schedule("no-gt")
    del body["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["MonitoringInputs"][0][
        "GroundTruthS3Input"
    ]
    with pytest.raises(InputError, match="GroundTruthS3Input is required") as err:
        create_schedule(m, body)
    assert err.value.field == gt
    create_schedule(m, inline_schedule("inline"))
    assert m.describe_monitoring_schedule("inline")["MonitoringType"] == "ModelQuality"


@pytest.mark.parametrize(
    ("expression", "limit"),
    [
        ("cron(0 * ? * * *)", 1800),
        ("cron(0 0/4 ? * * *)", 7200),
        ("cron(0 0/5 ? * * *)", 7200),  # 0, 5, 10, 15, 20: the shortest gap is 20 -> 0, 4 h
        ("cron(0 17/12 ? * * *)", 43200),
        ("cron(0 12 ? * * *)", 43200),
        ("NOW", 86400),
    ],
)
def test_max_runtime_must_fit_the_cadence(world, expression, limit) -> None:
    assert model_quality_runtime_limit(ScheduleExpression.parse(expression)) == limit
    m = monitoring(world)
    window = (
        {"DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"}
        if expression == "NOW"
        else {}
    )
    config = "MonitoringScheduleConfig"
    runtime = f"{config}.MonitoringJobDefinition.StoppingCondition.MaxRuntimeInSeconds"
    create_schedule(
        m,
        inline_schedule(
            "fits",
            expression,
            **{
                runtime: limit,
                f"{config}.ScheduleConfig": {"ScheduleExpression": expression, **window},
            },
        ),
    )
    if limit == 86400:
        return  # the API's own limit
    with pytest.raises(InputError) as err:
        create_schedule(
            m,
            inline_schedule(
                "too-long",
                expression,
                **{
                    runtime: limit + 1,
                    f"{config}.ScheduleConfig": {"ScheduleExpression": expression, **window},
                },
            ),
        )
    assert err.value.field == runtime
    assert f"must be at most {limit} seconds" in str(err.value)
    assert "the ground-truth merge and the analysis share the time between runs" in str(err.value)


def test_hourly_3600_is_refused_by_name_too_and_data_quality_is_unchanged(world) -> None:
    m = monitoring(world)
    create_definition(
        m, definition_request("slow", **{"StoppingCondition.MaxRuntimeInSeconds": 3600})
    )
    body = {
        "MonitoringScheduleName": "hourly-slow",
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": "slow",
            "MonitoringType": "ModelQuality",
        },
    }
    with pytest.raises(
        InputError, match=r"MaxRuntimeInSeconds 3600 \(job definition slow\) is too long"
    ) as err:
        create_schedule(m, body)
    assert err.value.field == "StoppingCondition.MaxRuntimeInSeconds"
    body["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] = "cron(0 0/2 ? * * *)"
    create_schedule(m, body)  # every 2 hours: up to 3600 s
    # a data-quality job may take the whole hour
    dq = inline_schedule(
        "dq-hourly",
        **{
            "MonitoringScheduleConfig.MonitoringType": "DataQuality",
            "MonitoringScheduleConfig.MonitoringJobDefinition.StoppingCondition": {
                "MaxRuntimeInSeconds": 3600
            },
        },
    )
    create_schedule(m, dq)
    # ... and a job definition's type must match the schedule's
    body["MonitoringScheduleName"] = "mismatch"
    body["MonitoringScheduleConfig"]["MonitoringType"] = "DataQuality"
    with pytest.raises(InputError, match="is a ModelQuality job definition"):
        create_schedule(m, body)


# -- ground truth ------------------------------------------------------------------------------


def test_put_ground_truth_writes_one_file_in_the_collection_hour(world) -> None:
    m = monitoring(world)
    written = m.put_ground_truth(
        PutGroundTruthRequest.model_validate(
            {
                "GroundTruthS3Uri": GROUND_TRUTH,
                "CollectionTime": "2020-01-02T13:45:00Z",
                "Records": [{"InferenceId": "a", "Label": 1}, {"InferenceId": "b", "Label": "0"}],
            }
        )
    )
    assert written["Count"] == 2
    assert written["Uri"].startswith(f"{GROUND_TRUTH}/2020/01/02/13/")
    path = world["objects"] / written["Uri"].split("://", 1)[1]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["eventMetadata"]["eventId"], r["groundTruthData"]["data"]) for r in lines] == [
        ("a", "1"),
        ("b", "0"),
    ]
    assert lines[0]["groundTruthData"]["encoding"] == "CSV"
    files = ground_truth_window_files(
        GROUND_TRUTH,
        dt.datetime(2020, 1, 2, 13, 59, tzinfo=UTC),
        dt.datetime(2020, 1, 2, 14, tzinfo=UTC),
    )
    assert [uri for uri, _ in files] == [written["Uri"]]
    for bad, field in (
        ({"Records": [{"InferenceId": "a", "Label": " "}]}, "Records.0.Label"),
        ({"Records": [{"InferenceId": "a", "Label": 1}, {"Label": 1}]}, "Records.1.InferenceId"),
        ({"Records": []}, "Records"),
        ({"Records": [{"InferenceId": "a", "Label": 1}], "CollectionTime": "yesterday"},
         "CollectionTime"),
    ):  # fmt: skip
        with pytest.raises(InputError) as err:
            m.put_ground_truth(
                parse(PutGroundTruthRequest, {"GroundTruthS3Uri": GROUND_TRUTH, **bad})
            )
        assert err.value.field == field, str(err.value)


# -- a scheduled run ---------------------------------------------------------------------------


def _touch(root: Path, uri: str, text: str = "{}\n") -> None:
    path = root / uri.split("://", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _settle(scheduler: Scheduler, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while scheduler.running():
        assert time.monotonic() < deadline, "executions did not end"
        time.sleep(0.02)


def test_a_scheduled_run_stages_the_offset_window_and_the_ground_truth_up_to_the_run(
    world,
) -> None:
    """SPEC §0: with -P8D/-P1D a run scheduled at 2020-01-09T13:00 analyzes the inferences of
    2020-01-01T13:00 to 2020-01-08T13:00, with the labels collected from 2020-01-01T13:00 to
    the run."""
    objects = world["objects"]
    capture = f"{CAPTURE}/{ENDPOINT}/AllTraffic"
    for hour in ("2020/01/01/12", "2020/01/01/13", "2020/01/05/00", "2020/01/08/12",
                 "2020/01/08/13"):  # fmt: skip
        _touch(objects, f"{capture}/{hour}/00-00-000-x.jsonl")
    for hour in ("2020/01/01/12", "2020/01/01/13", "2020/01/08/20", "2020/01/09/12",
                 "2020/01/09/13"):  # fmt: skip
        _touch(objects, f"{GROUND_TRUTH}/{hour}/labels.jsonl")
    _touch(objects, f"{GROUND_TRUTH}/2020/01/09/12/.partial.jsonl")  # a writer's temporary file

    clock = Clock(dt.datetime(2020, 1, 9, 12, 30, tzinfo=UTC))
    m = monitoring(world, clock)
    entrypoint = [sys.executable, str(world["recorder"])]
    body = inline_schedule(
        "hourly-mq",
        **{
            "MonitoringScheduleConfig.MonitoringJobDefinition.MonitoringAppSpecification."
            "ContainerEntrypoint": entrypoint,
            "MonitoringScheduleConfig.MonitoringJobDefinition.StoppingCondition": ...,
        },
    )
    create_schedule(m, body)
    scheduler = Scheduler(world["db"], world["settings"], m, Runner(), clock=clock)
    scheduler.tick()
    clock.set(2020, 1, 9, 13, 0, 0)
    scheduler.tick()
    _settle(scheduler)
    (summary,) = m.list_monitoring_executions()["MonitoringExecutionSummaries"]
    execution = m.describe_monitoring_execution(summary["MonitoringExecutionId"])
    assert execution["MonitoringExecutionStatus"] == "Completed", execution
    assert execution["MonitoringType"] == "ModelQuality"
    assert execution["WindowStart"] == dt.datetime(2020, 1, 1, 13, tzinfo=UTC)
    assert execution["WindowEnd"] == dt.datetime(2020, 1, 8, 13, tzinfo=UTC)
    report = execution["ReportUri"]
    assert report == f"s3://bucket/mq-reports/{ENDPOINT}/hourly-mq/2020/01/09/13/"
    seen = json.loads((objects / report.split("://", 1)[1] / "seen.json").read_text())
    assert seen["dataset"] == [
        f"{ENDPOINT}/AllTraffic/{hour}/00-00-000-x.jsonl"
        for hour in ("2020/01/01/13", "2020/01/05/00", "2020/01/08/12")
    ]
    assert seen["ground_truth"] == [
        f"{hour}/labels.jsonl" for hour in ("2020/01/01/13", "2020/01/08/20", "2020/01/09/12")
    ]
    env = seen["env"]
    assert env["analysis_type"] == "MODEL_QUALITY"
    assert env["problem_type"] == "BinaryClassification"
    assert (env["inference_attribute"], env["probability_attribute"]) == ("0", "0")
    assert float(env["probability_threshold_attribute"]) == 0.5
    assert (env["start_time"], env["end_time"]) == ("2020-01-01T13:00:00Z", "2020-01-08T13:00:00Z")
    assert env["ground_truth_source"].endswith("opt/ml/processing/groundtruth")
    assert env["sagemaker_endpoint_name"] == ENDPOINT
    assert env["publish_cloudwatch_metrics"] == "Disabled"
    log = m.execution_logs(execution["MonitoringExecutionId"])
    assert "staged 3 ground-truth file(s)" in log
    assert "MaxRuntimeInSeconds 1800" in log  # the model-quality default

    # no labels collected for the next run's hours: Failed, saying where it looked
    for path in (objects / GROUND_TRUTH.split("://", 1)[1]).rglob("*.jsonl"):
        path.unlink()
    clock.set(2020, 1, 9, 14, 0, 0)
    scheduler.tick()
    _settle(scheduler)
    latest = m.list_monitoring_executions()["MonitoringExecutionSummaries"][0]
    assert latest["MonitoringExecutionStatus"] == "Failed"
    assert latest["FailureReason"].startswith(f"No ground truth under {GROUND_TRUTH}")
    assert "2020-01-01T14:00:00Z to 2020-01-09T14:00:00Z" in latest["FailureReason"]
    scheduler.shutdown()


def test_a_batch_transform_model_quality_run_reads_the_output_manifests(world) -> None:
    objects = world["objects"]
    _touch(objects, "s3://bucket/transform-out/part-0.csv.out", "0.9\n0.2\n")
    _touch(objects, "s3://bucket/transform-in/part-0.csv", "1,2\n3,4\n")
    for side, key, prefix in (
        ("output", "part-0.csv.out", "s3://bucket/transform-out/"),
        ("input", "part-0.csv", "s3://bucket/transform-in/"),
    ):
        _touch(
            objects,
            f"s3://bucket/transform-capture/{side}/2020/01/09/07/job.manifest",
            json.dumps([{"prefix": prefix}, key]),
        )
    _touch(objects, f"{GROUND_TRUTH}/2020/01/09/12/labels.jsonl")
    clock = Clock(dt.datetime(2020, 1, 9, 13, 0, 5, tzinfo=UTC))
    m = monitoring(world, clock)
    body = inline_schedule(
        "batch-mq",
        "NOW",
        **{
            "MonitoringScheduleConfig.ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT6H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringScheduleConfig.MonitoringJobDefinition.MonitoringAppSpecification."
            "ContainerEntrypoint": [sys.executable, str(world["recorder"])],
        },
    )
    job = body["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    job["MonitoringInputs"][0] = {
        "BatchTransformInput": {
            "DataCapturedDestinationS3Uri": "s3://bucket/transform-capture",
            "DatasetFormat": {"Csv": {"Header": False}},
            "ProbabilityAttribute": "0",
            "ProbabilityThresholdAttribute": 0.5,
        },
        "GroundTruthS3Input": {"S3Uri": GROUND_TRUTH},
    }
    create_schedule(m, copy.deepcopy(body))
    scheduler = Scheduler(world["db"], world["settings"], m, Runner(), clock=clock)
    scheduler.tick()
    _settle(scheduler)
    (summary,) = m.list_monitoring_executions()["MonitoringExecutionSummaries"]
    execution = m.describe_monitoring_execution(summary["MonitoringExecutionId"])
    assert execution["MonitoringExecutionStatus"] == "Completed", execution
    report = execution["ReportUri"]
    assert report == "s3://bucket/mq-reports/batch-mq/2020/01/09/13/"
    seen = json.loads((objects / report.split("://", 1)[1] / "seen.json").read_text())
    assert seen["dataset"] == ["output/2020/01/09/07/job-00000-part-0.csv.out"]
    assert seen["ground_truth"] == ["2020/01/09/12/labels.jsonl"]
    assert seen["env"]["monitoring_input_type"] == "BATCH_TRANSFORM_INPUT"
    assert json.loads(seen["env"]["dataset_format"]) == {"csv": {"header": False}}
    assert "inference_attribute" not in seen["env"]
    scheduler.shutdown()
