"""Monitoring schedules, job definitions and executions through a real server: REST and boto3,
the 400s of bad input, and a NOW schedule over captured drifted traffic end to end."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import boto3
import joblib
import numpy as np
import pandas as pd
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelmon.analysis.api import baseline
from modelmon.cli import app as cli_app
from modelmon.sdk import CSVSerializer, DataCaptureConfig, Model, Session

N_FEATURES = 3
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
BASELINE = "s3://bucket/baseline"
GOOD_SCRIPT = "def preprocess_handler(inference_record):\n    return inference_record\n"
POST_SCRIPT = "def postprocess_handler():\n    pass\n"
NO_HANDLER = "def handler(inference_record):\n    return inference_record\n"
ENDED = ("Completed", "CompletedWithViolations", "Failed", "Stopped")


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Path]:
    """A classifier on 3 features and the baseline of its training data (label first)."""
    folder = tmp_path_factory.mktemp("monitoring-assets")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1000, N_FEATURES))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = LogisticRegression().fit(x, y)
    joblib.dump(model, folder / "model.joblib")
    frame = pd.DataFrame(x.round(4), columns=[f"x{i}" for i in range(N_FEATURES)])
    frame.insert(0, "label", model.predict(x))
    frame.to_csv(folder / "train.csv", index=False)
    baseline(str(folder / "train.csv"), str(folder / "baseline"), format="csv", header=True)
    return {
        "model": folder / "model.joblib",
        "statistics": folder / "baseline" / "statistics.json",
        "constraints": folder / "baseline" / "constraints.json",
    }


def _deploy(session: Session, artifact: Path, name: str, *, capture: bool) -> Any:
    config = None
    if capture:
        config = DataCaptureConfig(
            enable_capture=True, sampling_percentage=100, destination_s3_uri="s3://bucket/capture"
        )
    return Model(
        image_uri="sklearn",
        model_data=str(artifact),
        name=f"{name}-model",
        sagemaker_session=session,
    ).deploy(endpoint_name=name, data_capture_config=config, serializer=CSVSerializer())


def _upload_assets(session: Session, assets: dict[str, Path]) -> None:
    for name in ("statistics", "constraints"):
        session.upload_bytes(assets[name].read_bytes(), f"{BASELINE}/{name}.json")
    session.upload_bytes(GOOD_SCRIPT.encode(), "s3://bucket/scripts/pre.py")
    session.upload_bytes(POST_SCRIPT.encode(), "s3://bucket/scripts/post.py")
    session.upload_bytes(NO_HANDLER.encode(), "s3://bucket/scripts/no-handler.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_type, assets):
    srv = server_type(tmp_path_factory.mktemp("monitoring") / "data").start()
    with Session(srv.url) as session:
        _deploy(session, assets["model"], "monitored", capture=True)
        _deploy(session, assets["model"], "uncaptured", capture=False)
        _upload_assets(session, assets)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def session(server) -> Session:
    with Session(server.url) as session:
        yield session


def definition(endpoint: str = "monitored") -> dict[str, Any]:
    """An inline MonitoringJobDefinition as the SageMaker SDK sends it."""
    return {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{BASELINE}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{BASELINE}/statistics.json"},
        },
        "MonitoringInputs": [
            {
                "EndpointInput": {
                    "EndpointName": endpoint,
                    "LocalPath": "/opt/ml/processing/input/endpoint",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                }
            }
        ],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": "s3://bucket/reports",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "Continuous",
                    }
                }
            ]
        },
        "MonitoringResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            }
        },
        "MonitoringAppSpecification": {"ImageUri": ANALYZER},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        "RoleArn": "arn:aws:iam::000000000000:role/monitor",
    }


def schedule_body(name: str, expression: str = "cron(0 * ? * * *)", **schedule: str) -> dict:
    return {
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression, **schedule},
            "MonitoringJobDefinition": definition(),
            "MonitoringType": "DataQuality",
        },
    }


def _job(body: dict) -> dict[str, Any]:
    return body["MonitoringScheduleConfig"]["MonitoringJobDefinition"]


def _input(body: dict) -> dict[str, Any]:
    return _job(body)["MonitoringInputs"][0]


# -- bad input --------------------------------------------------------------------------------


def _set(path: str, value: Any):
    def change(body: dict) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


def _drop(path: str):
    def change(body: dict) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


JOB = "MonitoringScheduleConfig.MonitoringJobDefinition"
SCHEDULE = "MonitoringScheduleConfig.ScheduleConfig"
ENDPOINT_INPUT = f"{JOB}.MonitoringInputs.0.EndpointInput"
BAD_INPUT = [
    ("invalid cron", _set(f"{SCHEDULE}.ScheduleExpression", "cron(5 * ? * * *)"),
     f"{SCHEDULE}.ScheduleExpression", "minute field must be 0"),
    ("rate expression", _set(f"{SCHEDULE}.ScheduleExpression", "rate(1 hour)"),
     f"{SCHEDULE}.ScheduleExpression", "rate() expressions are not supported"),
    ("NOW without the window", _set(f"{SCHEDULE}.ScheduleExpression", "NOW"),
     f"{SCHEDULE}.DataAnalysisStartTime", "Both data_analysis_start_time and"),
    ("a window over 24 h", lambda b: b["MonitoringScheduleConfig"]["ScheduleConfig"].update(
        ScheduleExpression="NOW", DataAnalysisStartTime="-PT25H", DataAnalysisEndTime="-PT0H"),
     f"{SCHEDULE}.DataAnalysisStartTime/DataAnalysisEndTime", "longer than 24 hours"),
    ("an offset that is not ISO-8601", _set(f"{ENDPOINT_INPUT}.StartTimeOffset", "1 hour ago"),
     f"{ENDPOINT_INPUT}.StartTimeOffset", "not an ISO-8601 duration"),
    ("an offset window that ends after the run", lambda b: _input(b)["EndpointInput"].update(
        StartTimeOffset="-PT1H", EndTimeOffset="PT1H"),
     f"{ENDPOINT_INPUT}.StartTimeOffset/EndTimeOffset", "must end at or before"),
    ("a missing baseline file",
     _set(f"{JOB}.BaselineConfig.ConstraintsResource.S3Uri", f"{BASELINE}/missing.json"),
     f"{JOB}.BaselineConfig.ConstraintsResource.S3Uri", "does not exist"),
    ("a script without the handler",
     _set(f"{JOB}.MonitoringAppSpecification.RecordPreprocessorSourceUri",
          "s3://bucket/scripts/no-handler.py"),
     f"{JOB}.MonitoringAppSpecification.RecordPreprocessorSourceUri",
     "Preprocess Handler not implemented correctly in customer script."),
    ("a post-analytics script that is missing",
     _set(f"{JOB}.MonitoringAppSpecification.PostAnalyticsProcessorSourceUri",
          "s3://bucket/scripts/absent.py"),
     f"{JOB}.MonitoringAppSpecification.PostAnalyticsProcessorSourceUri", "does not exist"),
    ("an endpoint that does not exist", _set(f"{ENDPOINT_INPUT}.EndpointName", "nowhere"),
     f"{ENDPOINT_INPUT}.EndpointName", "Could not find endpoint"),
    ("an endpoint without data capture", _set(f"{ENDPOINT_INPUT}.EndpointName", "uncaptured"),
     f"{ENDPOINT_INPUT}.EndpointName", "does not capture data"),
    ("both inputs", lambda b: _input(b).update(BatchTransformInput={
        "DataCapturedDestinationS3Uri": "s3://bucket/transform-capture",
        "DatasetFormat": {"Csv": {"Header": False}}}),
     f"{JOB}.MonitoringInputs.0", "exactly one of EndpointInput or BatchTransformInput"),
    ("neither input", _set(f"{JOB}.MonitoringInputs", [{}]),
     f"{JOB}.MonitoringInputs.0", "exactly one of EndpointInput or BatchTransformInput"),
    ("two inputs", lambda b: _job(b)["MonitoringInputs"].append(_input(b)),
     f"{JOB}.MonitoringInputs", "at most 1 item"),
    ("MaxRuntimeInSeconds 0", _set(f"{JOB}.StoppingCondition.MaxRuntimeInSeconds", 0),
     f"{JOB}.StoppingCondition.MaxRuntimeInSeconds", "greater than or equal to 1"),
    ("MaxRuntimeInSeconds over a day",
     _set(f"{JOB}.StoppingCondition.MaxRuntimeInSeconds", 86401),
     f"{JOB}.StoppingCondition.MaxRuntimeInSeconds", "less than or equal to 86400"),
    ("an unknown analyzer image", _set(f"{JOB}.MonitoringAppSpecification.ImageUri", "acme/x:1"),
     f"{JOB}.MonitoringAppSpecification.ImageUri", "not a known analyzer image"),
    ("model bias", _set("MonitoringScheduleConfig.MonitoringType", "ModelBias"),
     "MonitoringScheduleConfig.MonitoringType", "ModelBias schedules are not supported yet"),
    ("a bad name", _set("MonitoringScheduleName", "no_underscores"),
     "MonitoringScheduleName", "pattern"),
    ("no job definition", _drop("MonitoringScheduleConfig.MonitoringJobDefinition"),
     "MonitoringScheduleConfig", "exactly one of MonitoringJobDefinition or"),
    ("an unknown job definition",
     lambda b: b["MonitoringScheduleConfig"].update(
         MonitoringJobDefinition=None, MonitoringJobDefinitionName="nothing-here"),
     "MonitoringScheduleConfig.MonitoringJobDefinitionName", "does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_is_a_400_naming_the_field(session, change, field, message) -> None:
    body = schedule_body("bad-input")
    change(body)
    response = session.http.post("/api/monitoring-schedules", json=body)
    assert response.status_code == 400, response.text
    text = response.json()["message"]
    assert f"field '{field}'" in text, text
    assert message in text, text
    assert session.http.get("/api/monitoring-schedules/bad-input").status_code == 404


def test_a_job_definition_is_checked_like_an_inline_one(session) -> None:
    body = {
        "JobDefinitionName": "bad-definition",
        "DataQualityBaselineConfig": {"StatisticsResource": {"S3Uri": f"{BASELINE}/gone.json"}},
        "DataQualityAppSpecification": {"ImageUri": ANALYZER},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "monitored"}},
        "DataQualityJobOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/reports"}}]
        },
    }
    response = session.http.post("/api/data-quality-job-definitions", json=body)
    assert response.status_code == 400
    assert (
        "field 'DataQualityBaselineConfig.StatisticsResource.S3Uri'" in response.json()["message"]
    )
    body["DataQualityBaselineConfig"] = {}
    body["DataQualityJobInput"]["EndpointInput"]["EndTimeOffset"] = "-P1M"
    response = session.http.post("/api/data-quality-job-definitions", json=body)
    assert response.status_code == 400
    text = response.json()["message"]
    assert "field 'DataQualityJobInput.EndpointInput.EndTimeOffset'" in text
    assert "years and months are not supported" in text


# -- the control plane over REST -------------------------------------------------------------


def test_schedules_over_rest(session) -> None:
    created = session.call("POST", "/api/monitoring-schedules", json=schedule_body("rest-hourly"))
    assert created["MonitoringScheduleArn"].endswith(":monitoring-schedule/rest-hourly")
    daily = schedule_body("rest-daily", "cron(0 12 ? * * *)")
    _job(daily)["MonitoringAppSpecification"].update(
        RecordPreprocessorSourceUri="s3://bucket/scripts/pre.py",
        PostAnalyticsProcessorSourceUri="s3://bucket/scripts/post.py",
    )
    session.call("POST", "/api/monitoring-schedules", json=daily)
    again = session.http.post("/api/monitoring-schedules", json=schedule_body("rest-hourly"))
    assert again.status_code == 409
    assert "already exists" in again.json()["message"]

    described = session.call("GET", "/api/monitoring-schedules/rest-hourly")
    assert described["MonitoringScheduleStatus"] in ("Pending", "Scheduled")
    assert described["MonitoringType"] == "DataQuality"
    assert described["EndpointName"] == "monitored"
    config = described["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}
    assert config["MonitoringJobDefinition"]["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    deadline = time.monotonic() + 10
    while described["MonitoringScheduleStatus"] == "Pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        described = session.call("GET", "/api/monitoring-schedules/rest-hourly")
    assert described["MonitoringScheduleStatus"] == "Scheduled"

    def names(**params: Any) -> list[str]:
        listed = session.call("GET", "/api/monitoring-schedules", params=params)
        return [s["MonitoringScheduleName"] for s in listed["MonitoringScheduleSummaries"]]

    assert names(NameContains="rest-", SortBy="Name", SortOrder="Ascending") == [
        "rest-daily",
        "rest-hourly",
    ]
    assert "rest-daily" in names(EndpointName="monitored")
    assert names(EndpointName="uncaptured") == []
    assert names(NameContains="rest-", MonitoringTypeEquals="ModelQuality") == []
    first = session.call(
        "GET",
        "/api/monitoring-schedules",
        params={"NameContains": "rest-", "MaxResults": 1, "SortBy": "Name"},
    )
    assert [s["MonitoringScheduleName"] for s in first["MonitoringScheduleSummaries"]] == [
        "rest-hourly"
    ]
    second = session.call(
        "GET",
        "/api/monitoring-schedules",
        params={
            "NameContains": "rest-",
            "MaxResults": 1,
            "SortBy": "Name",
            "NextToken": first["NextToken"],
        },
    )
    assert [s["MonitoringScheduleName"] for s in second["MonitoringScheduleSummaries"]] == [
        "rest-daily"
    ]
    assert "NextToken" not in second
    bad = session.http.get("/api/monitoring-schedules", params={"StatusEquals": "Running"})
    assert bad.status_code == 400 and "StatusEquals" in bad.json()["message"]

    assert session.call("POST", "/api/monitoring-schedules/rest-hourly/stop") == {}
    assert names(NameContains="rest-", StatusEquals="Stopped") == ["rest-hourly"]
    session.call("POST", "/api/monitoring-schedules/rest-hourly/start")
    assert (
        session.call("GET", "/api/monitoring-schedules/rest-hourly")["MonitoringScheduleStatus"]
        == "Scheduled"
    )

    updated = copy.deepcopy(
        schedule_body("rest-hourly", "cron(0 0/6 ? * * *)")["MonitoringScheduleConfig"]
    )
    bad_update = copy.deepcopy(updated)
    bad_update["ScheduleConfig"]["ScheduleExpression"] = "cron(0 0/25 ? * * *)"
    response = session.http.put(
        "/api/monitoring-schedules/rest-hourly", json={"MonitoringScheduleConfig": bad_update}
    )
    assert response.status_code == 400 and "interval 25 hours" in response.json()["message"]
    session.call(
        "PUT", "/api/monitoring-schedules/rest-hourly", json={"MonitoringScheduleConfig": updated}
    )
    described = session.call("GET", "/api/monitoring-schedules/rest-hourly")
    assert described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == (
        "cron(0 0/6 ? * * *)"
    )

    for name in ("rest-hourly", "rest-daily"):
        assert session.http.delete(f"/api/monitoring-schedules/{name}").status_code == 204
    missing = session.http.get("/api/monitoring-schedules/rest-hourly")
    assert missing.status_code == 404
    assert session.http.post("/api/monitoring-schedules/rest-hourly/start").status_code == 404


def test_data_quality_job_definitions_over_rest(session) -> None:
    job = definition()
    body = {
        "JobDefinitionName": "dq-definition",
        "DataQualityBaselineConfig": job["BaselineConfig"],
        "DataQualityAppSpecification": {
            **job["MonitoringAppSpecification"],
            "Environment": job["Environment"],
        },
        "DataQualityJobInput": job["MonitoringInputs"][0],
        "DataQualityJobOutputConfig": job["MonitoringOutputConfig"],
        "JobResources": job["MonitoringResources"],
        "RoleArn": job["RoleArn"],
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }
    created = session.call("POST", "/api/data-quality-job-definitions", json=body)
    assert created["JobDefinitionArn"].endswith(":data-quality-job-definition/dq-definition")
    conflict = session.http.post("/api/data-quality-job-definitions", json=body)
    assert conflict.status_code == 409
    described = session.call("GET", "/api/data-quality-job-definitions/dq-definition")
    assert described["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "monitored"
    assert described["DataQualityAppSpecification"]["Environment"] == job["Environment"]
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 900}
    listed = session.call(
        "GET", "/api/data-quality-job-definitions", params={"EndpointName": "monitored"}
    )["JobDefinitionSummaries"]
    assert [d["MonitoringJobDefinitionName"] for d in listed] == ["dq-definition"]
    assert listed[0]["EndpointName"] == "monitored"

    schedule = {
        "MonitoringScheduleName": "by-name",
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": "dq-definition",
            "MonitoringType": "DataQuality",
        },
    }
    session.call("POST", "/api/monitoring-schedules", json=schedule)
    described = session.call("GET", "/api/monitoring-schedules/by-name")
    assert described["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "dq-definition"
    assert described["EndpointName"] == "monitored"
    listed = session.call(
        "GET",
        "/api/monitoring-schedules",
        params={"MonitoringJobDefinitionName": "dq-definition"},
    )["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in listed] == ["by-name"]
    assert listed[0]["MonitoringJobDefinitionName"] == "dq-definition"

    in_use = session.http.delete("/api/data-quality-job-definitions/dq-definition")
    assert in_use.status_code == 409 and "by-name" in in_use.json()["message"]
    session.call("DELETE", "/api/monitoring-schedules/by-name")
    session.call("DELETE", "/api/data-quality-job-definitions/dq-definition")
    assert session.http.get("/api/data-quality-job-definitions/dq-definition").status_code == 404


# -- boto3 -----------------------------------------------------------------------------------


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


def test_boto3_control_plane(sm) -> None:
    job = definition()
    sm.create_data_quality_job_definition(
        JobDefinitionName="boto-definition",
        DataQualityBaselineConfig=job["BaselineConfig"],
        DataQualityAppSpecification={"ImageUri": ANALYZER},
        DataQualityJobInput=job["MonitoringInputs"][0],
        DataQualityJobOutputConfig=job["MonitoringOutputConfig"],
        JobResources=job["MonitoringResources"],
        RoleArn=job["RoleArn"],
    )
    described = sm.describe_data_quality_job_definition(JobDefinitionName="boto-definition")
    assert described["CreationTime"].year >= 2024
    listed = sm.list_data_quality_job_definitions(NameContains="boto")["JobDefinitionSummaries"]
    assert [d["MonitoringJobDefinitionName"] for d in listed] == ["boto-definition"]

    for i in range(3):
        arn = sm.create_monitoring_schedule(
            MonitoringScheduleName=f"boto-{i}",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinition": job,
                "MonitoringType": "DataQuality",
            },
            Tags=[{"Key": "team", "Value": "ml"}],
        )["MonitoringScheduleArn"]
        assert arn.endswith(f"monitoring-schedule/boto-{i}")
    with pytest.raises(ClientError) as caught:
        sm.create_monitoring_schedule(
            MonitoringScheduleName="boto-0",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinition": job,
            },
        )
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError) as caught:
        sm.create_monitoring_schedule(
            MonitoringScheduleName="boto-bad",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "NOW"},
                "MonitoringJobDefinition": job,
            },
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "DataAnalysisStartTime" in error["Message"]

    described = sm.describe_monitoring_schedule(MonitoringScheduleName="boto-0")
    assert described["MonitoringScheduleStatus"] in ("Pending", "Scheduled")
    assert (
        described["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["RoleArn"]
        == (job["RoleArn"])
    )
    assert described["CreationTime"].tzinfo is not None

    paginator = sm.get_paginator("list_monitoring_schedules")
    pages = list(
        paginator.paginate(
            NameContains="boto-",
            SortBy="Name",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [len(p["MonitoringScheduleSummaries"]) for p in pages] == [2, 1]
    assert [
        s["MonitoringScheduleName"] for p in pages for s in p["MonitoringScheduleSummaries"]
    ] == ["boto-0", "boto-1", "boto-2"]

    sm.update_monitoring_schedule(
        MonitoringScheduleName="boto-1",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 6 ? * * *)"},
            "MonitoringJobDefinitionName": "boto-definition",
            "MonitoringType": "DataQuality",
        },
    )
    listed = sm.list_monitoring_schedules(MonitoringJobDefinitionName="boto-definition")
    assert [s["MonitoringScheduleName"] for s in listed["MonitoringScheduleSummaries"]] == [
        "boto-1"
    ]
    sm.stop_monitoring_schedule(MonitoringScheduleName="boto-2")
    stopped = sm.list_monitoring_schedules(StatusEquals="Stopped")["MonitoringScheduleSummaries"]
    assert "boto-2" in [s["MonitoringScheduleName"] for s in stopped]
    sm.start_monitoring_schedule(MonitoringScheduleName="boto-2")
    executions = sm.list_monitoring_executions(
        MonitoringScheduleName="boto-0", SortBy="ScheduledTime", MaxResults=10
    )
    assert isinstance(executions["MonitoringExecutionSummaries"], list)

    for i in range(3):
        sm.delete_monitoring_schedule(MonitoringScheduleName=f"boto-{i}")
    sm.delete_data_quality_job_definition(JobDefinitionName="boto-definition")
    for call, member in (
        (sm.describe_monitoring_schedule, "MonitoringScheduleName"),
        (sm.delete_monitoring_schedule, "MonitoringScheduleName"),
        (sm.start_monitoring_schedule, "MonitoringScheduleName"),
        (sm.stop_monitoring_schedule, "MonitoringScheduleName"),
        (sm.describe_data_quality_job_definition, "JobDefinitionName"),
    ):
        with pytest.raises(ClientError) as caught:
            call(**{member: "boto-0"})
        assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


# -- end to end: a NOW schedule over captured drifted traffic --------------------------------


def _wait_for_end(session: Session, schedule: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        summaries = session.call(
            "GET", "/api/monitoring-executions", params={"MonitoringScheduleName": schedule}
        )["MonitoringExecutionSummaries"]
        if summaries and summaries[0]["MonitoringExecutionStatus"] in ENDED:
            return session.call(
                "GET", f"/api/monitoring-executions/{summaries[0]['MonitoringExecutionId']}"
            )
        assert time.monotonic() < deadline, f"execution of {schedule} did not end: {summaries}"
        time.sleep(0.2)


def test_a_now_schedule_over_captured_traffic_finds_the_drift(
    tmp_path_factory, server_type, assets, monkeypatch
) -> None:
    server = server_type(tmp_path_factory.mktemp("monitoring-e2e") / "data").start()
    try:
        with Session(server.url) as session:
            predictor = _deploy(session, assets["model"], "drifted", capture=True)
            rng = np.random.default_rng(9)
            drifted = rng.normal(loc=3.0, size=(200, N_FEATURES)).round(4)
            for row in drifted:
                predictor.predict(",".join(str(v) for v in row))
        server.stop()  # every captured record is published
        server.start()
        with Session(server.url) as session:
            _upload_assets(session, assets)
            body = schedule_body(
                "drift-now", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"
            )
            _input(body)["EndpointInput"]["EndpointName"] = "drifted"
            session.call("POST", "/api/monitoring-schedules", json=body)
            described = _wait_for_end(session, "drift-now")
            assert described["MonitoringExecutionStatus"] == "CompletedWithViolations", described
            assert described["ExitMessage"].startswith("CompletedWithViolations: ")
            assert described["ProcessingJobArn"].endswith(described["MonitoringExecutionId"])
            scheduled = described["ScheduledTime"]
            report = described["ReportUri"]
            hour = time.strftime("%Y/%m/%d/%H", time.gmtime(_epoch(scheduled)))
            assert report == f"s3://bucket/reports/drifted/drift-now/{hour}/"
            folder = server.objects / "bucket" / "reports" / "drifted" / "drift-now" / hour
            assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
                "constraint_violations.json",
                "constraints.json",
                "statistics.json",
            ]
            violations = json.loads((folder / "constraint_violations.json").read_text())
            drifted_features = {
                v["feature_name"]
                for v in violations["violations"]
                if v["constraint_check_type"] == "baseline_drift_check"
            }
            assert {"x0", "x1", "x2"} <= drifted_features, violations
            statistics = json.loads((folder / "statistics.json").read_text())
            assert statistics["dataset"]["item_count"] == 200

            logs = session.http.get(
                f"/api/monitoring-executions/{described['MonitoringExecutionId']}/logs"
            )
            assert logs.status_code == 200
            assert logs.headers["content-type"].startswith("text/plain")
            assert "staged" in logs.text and "execution ended: CompletedWithViolations" in logs.text

            schedule = session.call("GET", "/api/monitoring-schedules/drift-now")
            assert schedule["MonitoringScheduleStatus"] == "Scheduled"
            last = schedule["LastMonitoringExecutionSummary"]
            assert last["MonitoringExecutionStatus"] == "CompletedWithViolations"

            # the CLI shows the execution and its log
            runner = CliRunner()
            shown = runner.invoke(
                cli_app, ["executions", "--schedule", "drift-now", "--url", server.url]
            )
            assert shown.exit_code == 0, shown.output
            assert "CompletedWithViolations" in shown.output
            shown = runner.invoke(
                cli_app, ["execution-logs", described["MonitoringExecutionId"], "--url", server.url]
            )
            assert shown.exit_code == 0 and "analyzer" in shown.output
            shown = runner.invoke(cli_app, ["schedules", "--url", server.url])
            assert shown.exit_code == 0 and "drift-now" in shown.output

            # boto3 sees the execution too
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
            client = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1")
            listed = client.list_monitoring_executions(
                MonitoringScheduleName="drift-now", StatusEquals="CompletedWithViolations"
            )["MonitoringExecutionSummaries"]
            assert len(listed) == 1 and listed[0]["EndpointName"] == "drifted"

            # a window with no captured data: Failed with that reason
            body = schedule_body(
                "too-early", "NOW", DataAnalysisStartTime="-PT26H", DataAnalysisEndTime="-PT25H"
            )
            _input(body)["EndpointInput"]["EndpointName"] = "drifted"
            session.call("POST", "/api/monitoring-schedules", json=body)
            failed = _wait_for_end(session, "too-early")
            assert failed["MonitoringExecutionStatus"] == "Failed"
            assert "No captured data for endpoint drifted" in failed["FailureReason"]
    finally:
        server.stop()


def _epoch(value: Any) -> float:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
