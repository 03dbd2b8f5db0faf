"""Model-quality job definitions, schedules and ground-truth ingestion through a real server:
REST, boto3's ``sagemaker`` client and the CLI, and the 400s of bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import joblib
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelmon.cli import app as cli_app
from modelmon.sdk import DataCaptureConfig, Model, Session

ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
GROUND_TRUTH = "s3://bucket/ground-truth"
ROLE = "arn:aws:iam::000000000000:role/monitor"


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type):
    """A server with an endpoint capturing to s3://bucket/capture (the scheduler is off: these
    tests create schedules, they do not run them)."""
    folder = tmp_path_factory.mktemp("model-quality-api")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), folder / "model.joblib")
    srv = server_type(folder / "data", {"MODELMON_SCHEDULER": "off"}).start()
    with Session(srv.url) as session:
        Model(
            image_uri="sklearn",
            model_data=str(folder / "model.joblib"),
            name="mq-model",
            sagemaker_session=session,
        ).deploy(
            endpoint_name="scored",
            data_capture_config=DataCaptureConfig(
                enable_capture=True,
                sampling_percentage=100,
                destination_s3_uri="s3://bucket/capture",
            ),
        )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def session(server) -> Session:
    with Session(server.url) as session:
        yield session


def definition(name: str) -> dict[str, Any]:
    """A CreateModelQualityJobDefinition request as boto3 takes it."""
    return {
        "JobDefinitionName": name,
        "ModelQualityAppSpecification": {
            "ImageUri": ANALYZER,
            "ProblemType": "BinaryClassification",
        },
        "ModelQualityJobInput": {
            "EndpointInput": {
                "EndpointName": "scored",
                "LocalPath": "/opt/ml/processing/input/endpoint",
                "InferenceAttribute": "0",
                "ProbabilityAttribute": "0",
                "ProbabilityThresholdAttribute": 0.5,
                "StartTimeOffset": "-PT2D",
                "EndTimeOffset": "-PT1D",
            },
            "GroundTruthS3Input": {"S3Uri": GROUND_TRUTH},
        },
        "ModelQualityJobOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": "s3://bucket/mq-reports",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 20,
            }
        },
        "RoleArn": ROLE,
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
    }


def schedule(name: str, job: str, expression: str = "cron(0 * ? * * *)") -> dict[str, Any]:
    return {
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinitionName": job,
            "MonitoringType": "ModelQuality",
        },
    }


def _error(response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["message"]


# -- REST -----------------------------------------------------------------------------------


def test_model_quality_job_definitions_and_schedules_over_rest(session) -> None:
    http = session.http
    assert (
        http.post("/api/model-quality-job-definitions", json=definition("rest-mq")).status_code
        == 201
    )
    described = session.call("GET", "/api/model-quality-job-definitions/rest-mq")
    assert described["JobDefinitionArn"].endswith(":model-quality-job-definition/rest-mq")
    assert described["ModelQualityJobInput"] == definition("rest-mq")["ModelQualityJobInput"]
    assert described["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"
    listed = session.call(
        "GET", "/api/model-quality-job-definitions", params={"NameContains": "rest-mq"}
    )["JobDefinitionSummaries"]
    assert [(d["MonitoringJobDefinitionName"], d["EndpointName"]) for d in listed] == [
        ("rest-mq", "scored")
    ]
    assert http.get("/api/data-quality-job-definitions/rest-mq").status_code == 404

    assert (
        http.post("/api/monitoring-schedules", json=schedule("rest-hourly", "rest-mq")).status_code
        == 201
    )
    described = session.call("GET", "/api/monitoring-schedules/rest-hourly")
    assert described["MonitoringType"] == "ModelQuality"
    assert described["EndpointName"] == "scored"
    assert described["MonitoringScheduleStatus"] == "Pending"
    typed = session.call(
        "GET", "/api/monitoring-schedules", params={"MonitoringTypeEquals": "ModelQuality"}
    )["MonitoringScheduleSummaries"]
    assert "rest-hourly" in [s["MonitoringScheduleName"] for s in typed]

    in_use = http.delete("/api/model-quality-job-definitions/rest-mq")
    assert in_use.status_code == 409 and "rest-hourly" in in_use.json()["message"]
    assert http.delete("/api/monitoring-schedules/rest-hourly").status_code == 204
    assert http.delete("/api/model-quality-job-definitions/rest-mq").status_code == 204
    assert http.get("/api/model-quality-job-definitions/rest-mq").status_code == 404


INPUT = "ModelQualityJobInput"
BAD_DEFINITIONS = [
    ("both inputs", lambda d: d[INPUT].update(BatchTransformInput={
        "DataCapturedDestinationS3Uri": "s3://bucket/tc", "DatasetFormat": {"Csv": {}}}),
     INPUT, "exactly one of EndpointInput or BatchTransformInput is required (got both)"),
    ("neither input", lambda d: d[INPUT].pop("EndpointInput"),
     INPUT, "exactly one of EndpointInput or BatchTransformInput is required (got neither)"),
    ("no GroundTruthS3Input", lambda d: d[INPUT].pop("GroundTruthS3Input"),
     f"{INPUT}.GroundTruthS3Input", "GroundTruthS3Input is required for model quality"),
    ("a bad StartTimeOffset", lambda d: d[INPUT]["EndpointInput"].update(StartTimeOffset="P2X"),
     f"{INPUT}.EndpointInput.StartTimeOffset", "not an ISO-8601 duration"),
    ("offsets that end after the run", lambda d: d[INPUT]["EndpointInput"].update(
        EndTimeOffset="PT1H"),
     f"{INPUT}.EndpointInput.StartTimeOffset/EndTimeOffset", "must end at or before"),
    ("a bad InferenceAttribute", lambda d: d[INPUT]["EndpointInput"].update(
        InferenceAttribute="$.predictions[?(@.score)]"),
     f"{INPUT}.EndpointInput.InferenceAttribute", "is not a JSONPath"),
    ("a threshold outside [0, 1]", lambda d: d[INPUT]["EndpointInput"].update(
        ProbabilityThresholdAttribute=-0.1),
     f"{INPUT}.EndpointInput.ProbabilityThresholdAttribute", "probability in [0, 1]"),
    ("no ProblemType", lambda d: d["ModelQualityAppSpecification"].pop("ProblemType"),
     "ModelQualityAppSpecification.ProblemType", "ProblemType is required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [case[1:] for case in BAD_DEFINITIONS],
    ids=[case[0] for case in BAD_DEFINITIONS],
)
def test_bad_definitions_are_a_400_naming_the_field(session, change, field, message) -> None:
    body = definition("bad-mq")
    change(body)
    response = session.http.post("/api/model-quality-job-definitions", json=body)
    text = _error(response)
    assert f"field '{field}'" in text, text
    assert message in text, text
    assert session.http.get("/api/model-quality-job-definitions/bad-mq").status_code == 404


def test_max_runtime_too_long_for_the_cadence_is_a_400_with_the_reason(session) -> None:
    slow = definition("slow-mq")
    slow["StoppingCondition"]["MaxRuntimeInSeconds"] = 3600
    assert session.http.post("/api/model-quality-job-definitions", json=slow).status_code == 201
    text = _error(
        session.http.post("/api/monitoring-schedules", json=schedule("slow-hourly", "slow-mq"))
    )
    assert "field 'StoppingCondition.MaxRuntimeInSeconds'" in text, text
    assert "MaxRuntimeInSeconds 3600 (job definition slow-mq) is too long" in text
    assert "at most 1800 seconds" in text
    assert session.http.get("/api/monitoring-schedules/slow-hourly").status_code == 404
    every_two = schedule("slow-two-hourly", "slow-mq", "cron(0 0/2 ? * * *)")
    assert session.http.post("/api/monitoring-schedules", json=every_two).status_code == 201
    # the same rule for an inline definition (modelmon's extension)
    body = definition("unused")
    inline = {
        "MonitoringInputs": [body[INPUT]],
        "MonitoringOutputConfig": body["ModelQualityJobOutputConfig"],
        "MonitoringAppSpecification": body["ModelQualityAppSpecification"],
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    request = {
        "MonitoringScheduleName": "inline-slow",
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": inline,
            "MonitoringType": "ModelQuality",
        },
    }
    text = _error(session.http.post("/api/monitoring-schedules", json=request))
    assert (
        "field 'MonitoringScheduleConfig.MonitoringJobDefinition.StoppingCondition."
        "MaxRuntimeInSeconds'" in text
    ), text
    inline["StoppingCondition"]["MaxRuntimeInSeconds"] = 1800
    assert session.http.post("/api/monitoring-schedules", json=request).status_code == 201
    for name in ("slow-two-hourly", "inline-slow"):
        session.call("DELETE", f"/api/monitoring-schedules/{name}")


def test_ground_truth_ingestion(session, server) -> None:
    body = {
        "GroundTruthS3Uri": GROUND_TRUTH,
        "CollectionTime": "2024-05-06T07:08:09Z",
        "Records": [{"InferenceId": "id-1", "Label": 1}, {"InferenceId": "id-2", "Label": "0"}],
    }
    written = session.call("POST", "/api/ground-truth", json=body)
    assert written["Count"] == 2
    assert written["Uri"].startswith(f"{GROUND_TRUTH}/2024/05/06/07/")
    assert written["Uri"].endswith(".jsonl")
    path = server.objects / written["Uri"].removeprefix("s3://")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records == [
        {
            "groundTruthData": {"data": "1", "encoding": "CSV"},
            "eventMetadata": {"eventId": "id-1"},
            "eventVersion": "0",
        },
        {
            "groundTruthData": {"data": "0", "encoding": "CSV"},
            "eventMetadata": {"eventId": "id-2"},
            "eventVersion": "0",
        },
    ]
    bad = copy.deepcopy(body)
    bad["Records"][1]["Label"] = None
    assert "field 'Records.1.Label'" in _error(session.http.post("/api/ground-truth", json=bad))
    bad["Records"][1] = {"Label": "1"}
    assert "field 'Records.1.InferenceId'" in _error(
        session.http.post("/api/ground-truth", json=bad)
    )
    bad = {**body, "CollectionTime": "last tuesday"}
    assert "field 'CollectionTime'" in _error(session.http.post("/api/ground-truth", json=bad))

    # the SDK and the CLI write the same files
    sdk = session.upload_ground_truth([("id-3", 1)], GROUND_TRUTH, "2024-05-06T08:00:00Z")
    assert sdk["Uri"].startswith(f"{GROUND_TRUTH}/2024/05/06/08/")


def test_the_ground_truth_command(session, server, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("inference_id,label\nid-7,1\nid-8,0\n")
    runner = CliRunner()
    uri = "s3://bucket/cli-ground-truth"
    done = runner.invoke(
        cli_app,
        ["ground-truth", str(labels), "--uri", uri, "--collection-time", "2024-05-07T01:30:00Z",
         "--url", server.url],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "2 label(s)" in done.output
    (written,) = session.list_objects(f"{uri}/2024/05/07/01/")
    events = [
        json.loads(line)["eventMetadata"]["eventId"]
        for line in session.read_bytes(written).decode().splitlines()
    ]
    assert events == ["id-7", "id-8"]

    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text('{"inference_id": "id-9", "label": 1}\n{"label": 0}\n')
    failed = runner.invoke(cli_app, ["ground-truth", str(jsonl), "--uri", uri, "--url", server.url])
    assert failed.exit_code == 1
    assert f"{jsonl}:2" in " ".join(failed.output.split())


# -- boto3 --------------------------------------------------------------------------------------


@pytest.fixture
def sm(server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    return boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def test_boto3_model_quality_control_plane(sm) -> None:
    arn = sm.create_model_quality_job_definition(**definition("boto-mq"))["JobDefinitionArn"]
    assert arn.endswith(":model-quality-job-definition/boto-mq")
    described = sm.describe_model_quality_job_definition(JobDefinitionName="boto-mq")
    assert described["CreationTime"].year >= 2024
    assert described["ModelQualityJobInput"]["GroundTruthS3Input"]["S3Uri"] == GROUND_TRUTH
    endpoint_input = described["ModelQualityJobInput"]["EndpointInput"]
    assert endpoint_input["ProbabilityThresholdAttribute"] == 0.5
    assert endpoint_input["StartTimeOffset"] == "-PT2D"
    listed = sm.list_model_quality_job_definitions(NameContains="boto")["JobDefinitionSummaries"]
    assert [d["MonitoringJobDefinitionName"] for d in listed] == ["boto-mq"]
    with pytest.raises(ClientError) as err:
        sm.create_model_quality_job_definition(**definition("boto-mq"))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"

    sm.create_monitoring_schedule(**schedule("boto-mq-hourly", "boto-mq"))
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="boto-mq-hourly")
    assert described["MonitoringType"] == "ModelQuality"
    assert described["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "boto-mq"
    summaries = sm.list_monitoring_schedules(MonitoringTypeEquals="ModelQuality")[
        "MonitoringScheduleSummaries"
    ]
    assert "boto-mq-hourly" in [s["MonitoringScheduleName"] for s in summaries]

    slow = definition("boto-slow")
    slow["StoppingCondition"]["MaxRuntimeInSeconds"] = 3600
    sm.create_model_quality_job_definition(**slow)
    with pytest.raises(ClientError) as err:
        sm.create_monitoring_schedule(**schedule("boto-slow-hourly", "boto-slow"))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "at most 1800 seconds" in err.value.response["Error"]["Message"]

    bad = definition("boto-bad")
    del bad["ModelQualityJobInput"]["GroundTruthS3Input"]["S3Uri"]
    with pytest.raises(ClientError) as err:
        sm.create_model_quality_job_definition(**bad)
    assert "GroundTruthS3Input.S3Uri" in err.value.response["Error"]["Message"]

    sm.delete_monitoring_schedule(MonitoringScheduleName="boto-mq-hourly")
    sm.delete_model_quality_job_definition(JobDefinitionName="boto-mq")
    sm.delete_model_quality_job_definition(JobDefinitionName="boto-slow")
    with pytest.raises(ClientError) as err:
        sm.describe_model_quality_job_definition(JobDefinitionName="boto-mq")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


BASELINE = {
    "BaseliningJobName": "mq-baseline-bad",
    "BaselineDatasetUri": "s3://bucket/validation/data.csv",
    "DatasetFormat": {"csv": {"header": True}},
    "OutputS3Uri": "s3://bucket/mq-baseline-bad",
    "MonitoringType": "ModelQuality",
    "ProblemType": "Regression",
    "InferenceAttribute": "prediction",
    "GroundTruthAttribute": "label",
}
BAD_BASELINES = [
    ("no ProblemType", {"ProblemType": None}, "ProblemType", "ProblemType is required"),
    ("no GroundTruthAttribute", {"GroundTruthAttribute": None}, "GroundTruthAttribute",
     "GroundTruthAttribute is required"),
    ("no InferenceAttribute", {"InferenceAttribute": None}, "InferenceAttribute",
     "the column of the predictions"),
    ("a threshold outside [0, 1]", {"ProblemType": "BinaryClassification",
                                    "ProbabilityThresholdAttribute": 2},
     "ProbabilityThresholdAttribute", "probability in [0, 1]"),
    ("model-quality members for data quality", {"MonitoringType": "DataQuality"},
     "ProblemType", "set MonitoringType to ModelQuality"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [case[1:] for case in BAD_BASELINES],
    ids=[case[0] for case in BAD_BASELINES],
)
def test_bad_model_quality_baselining_jobs_are_a_400(session, change, field, message) -> None:
    session.upload_bytes(b"prediction,label\n1.0,1.5\n", "s3://bucket/validation/data.csv")
    body = {k: v for k, v in {**BASELINE, **change}.items() if v is not None}
    text = _error(session.http.post("/api/baselining-jobs", json=body))
    assert f"field '{field}'" in text, text
    assert message in text, text
