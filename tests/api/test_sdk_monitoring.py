"""SPEC §0's data-quality snippet, run as written with the modelmon SDK and a real server."""

from __future__ import annotations

import json
import time

import joblib
import numpy as np
import pyarrow.csv as pacsv
import pytest
from sklearn.linear_model import LogisticRegression

from modelmon.sdk import (
    CronExpressionGenerator,
    CSVSerializer,
    DataCaptureConfig,
    DatasetFormat,
    DefaultModelMonitor,
    EndpointInput,
    Model,
    ModelmonClientError,
    Predictor,
    Session,
)
from modelmon.synthetic import DRIFTED_FEATURES, LABEL, churn_table

NUMERIC = ["Account Length", "VMail Message", "Day Mins", "Day Calls", "CustServ Calls"]


def _csv_rows(table) -> list[str]:
    rows = table.select(NUMERIC).to_pylist()
    return [",".join("" if v is None else str(v) for v in r.values()) for r in rows]


def test_data_quality_snippet_end_to_end(tmp_path, server_type) -> None:
    train = churn_table(3000, seed=1).select([LABEL, *NUMERIC])
    x = np.nan_to_num(np.column_stack([train[c].to_numpy(zero_copy_only=False) for c in NUMERIC]))
    model_file = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression(max_iter=500).fit(x, train[LABEL].to_numpy()), model_file)
    training_csv = tmp_path / "training-dataset-with-header.csv"
    pacsv.write_csv(train, training_csv, pacsv.WriteOptions(quoting_style="none"))

    server = server_type(tmp_path / "data").start()
    try:
        session = Session(server.url)
        bucket = session.default_bucket()
        model = Model(image_uri="sklearn", model_data=str(model_file), sagemaker_session=session)
        capture = DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=f"s3://{bucket}/capture",
            capture_options=["REQUEST", "RESPONSE"],
        )
        model.deploy(
            initial_instance_count=1,
            instance_type="ml.m5.xlarge",
            endpoint_name="churn",
            data_capture_config=capture,
        )
        predictor = Predictor(
            endpoint_name="churn", sagemaker_session=session, serializer=CSVSerializer()
        )
        drifted = churn_table(600, seed=2, drift=True)
        for row in _csv_rows(drifted):
            int(predictor.predict(row))
        assert session.flush_capture()

        monitor = DefaultModelMonitor(
            role="arn:aws:iam::000000000000:role/monitor",
            instance_count=1,
            instance_type="ml.m5.xlarge",
            volume_size_in_gb=20,
            max_runtime_in_seconds=3600,
            sagemaker_session=session,
        )
        baseline_uri = session.upload_data(str(training_csv), key_prefix="baselining/data")
        monitor.suggest_baseline(
            baseline_dataset=baseline_uri,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=f"s3://{bucket}/baselining/results",
            wait=True,
        )
        constraints = monitor.suggested_constraints()
        assert [f["name"] for f in constraints.body_dict["features"]] == [LABEL, *NUMERIC]
        assert monitor.baseline_statistics().body_dict["dataset"]["item_count"] == 3000

        monitor.create_monitoring_schedule(
            monitor_schedule_name="churn-now",
            endpoint_input=EndpointInput(
                endpoint_name="churn", destination="/opt/ml/processing/input/endpoint"
            ),
            output_s3_uri=f"s3://{bucket}/reports",
            statistics=monitor.baseline_statistics(),
            constraints=monitor.suggested_constraints(),
            schedule_cron_expression=CronExpressionGenerator.now(),
            data_analysis_start_time="-PT1H",
            data_analysis_end_time="-PT0H",
            enable_cloudwatch_metrics=True,
        )
        assert monitor.describe_schedule()["MonitoringScheduleStatus"] in ("Pending", "Scheduled")
        executions = []
        for _ in range(600):
            executions = monitor.list_executions()
            if executions and executions[-1].describe()["MonitoringExecutionStatus"] not in (
                "Pending",
                "InProgress",
            ):
                break
            time.sleep(0.1)
        (execution,) = executions
        description = execution.describe()
        assert description["MonitoringExecutionStatus"] == "CompletedWithViolations", description
        violations = monitor.latest_monitoring_violations().body_dict["violations"]
        drifted_features = {
            v["feature_name"]
            for v in violations
            if v["constraint_check_type"] == "baseline_drift_check"
        }
        assert {"Day Mins", "CustServ Calls"} <= drifted_features
        assert drifted_features <= {*DRIFTED_FEATURES, LABEL}
        statistics = monitor.latest_monitoring_statistics().body_dict
        assert statistics["dataset"]["item_count"] == 600
        assert "Day Mins" in json.dumps(statistics)
        assert "execution ended: CompletedWithViolations" in execution.logs()

        with pytest.raises(ModelmonClientError) as err:
            monitor.suggest_baseline(
                baseline_dataset=f"s3://{bucket}/missing/data.csv",
                dataset_format=DatasetFormat.csv(header=True),
                wait=True,
            )
        assert "s3://" in err.value.message and "BaselineDatasetUri" in err.value.message
        monitor.stop_monitoring_schedule()
        assert monitor.describe_schedule()["MonitoringScheduleStatus"] == "Stopped"
        monitor.update_monitoring_schedule(
            schedule_cron_expression=CronExpressionGenerator.daily_every_x_hours(6),
            data_analysis_start_time="-PT6H",
            data_analysis_end_time="-PT0H",
            max_runtime_in_seconds=1800,
        )
        config = monitor.describe_schedule()["MonitoringScheduleConfig"]
        assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 0/6 ? * * *)"
        definition = config["MonitoringJobDefinition"]
        assert definition["StoppingCondition"]["MaxRuntimeInSeconds"] == 1800
        monitor.delete_monitoring_schedule()
        session.close()
    finally:
        assert server.stop() == 0
