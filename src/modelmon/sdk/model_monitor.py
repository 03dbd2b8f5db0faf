"""``sagemaker.model_monitor`` names: DefaultModelMonitor, ModelQualityMonitor, EndpointInput,
schedules.

The monitoring snippets of SageMaker's documentation run with only the imports
and the session changed; every call goes to the modelmon server's REST API.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from modelmon.monitoring.schedule import CronExpressionGenerator
from modelmon.sdk.alerting import MonitoringAlerts
from modelmon.sdk.session import ModelmonClientError, Session

__all__ = [
    "BatchTransformInput",
    "ConstraintViolations",
    "Constraints",
    "CronExpressionGenerator",
    "DatasetFormat",
    "DefaultModelMonitor",
    "EndpointInput",
    "ModelQualityMonitor",
    "MonitoringDatasetFormat",
    "MonitoringExecution",
    "Statistics",
    "read_ground_truth_pairs",
]

ANALYZER_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
_ENDPOINT_PATH = "/opt/ml/processing/input/endpoint"
_OUTPUT_PATH = "/opt/ml/processing/output"


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]


class DatasetFormat:
    """The analyzer's ``dataset_format`` (SageMaker SDK ``DatasetFormat``)."""

    @staticmethod
    def csv(header: bool = True, output_columns_position: str = "START") -> dict[str, Any]:
        return {"csv": {"header": header, "output_columns_position": output_columns_position}}

    @staticmethod
    def json(lines: bool = True) -> dict[str, Any]:
        return {"json": {"lines": lines}}

    @staticmethod
    def sagemaker_capture_json() -> dict[str, Any]:
        return {"sagemakerCaptureJson": {}}


class MonitoringDatasetFormat:
    """``BatchTransformInput.DatasetFormat`` (SageMaker SDK ``MonitoringDatasetFormat``)."""

    @staticmethod
    def csv(header: bool = True) -> dict[str, Any]:
        return {"Csv": {"Header": header}}

    @staticmethod
    def json(lines: bool = True) -> dict[str, Any]:
        return {"Json": {"Line": lines}}

    @staticmethod
    def parquet() -> dict[str, Any]:
        return {"Parquet": {}}


def _input_members(
    start_time_offset: str | None,
    end_time_offset: str | None,
    features_attribute: str | None,
    inference_attribute: str | None,
    probability_attribute: str | None,
    probability_threshold_attribute: float | None,
    exclude_features_attribute: str | None,
) -> dict[str, Any]:
    members = {
        "StartTimeOffset": start_time_offset,
        "EndTimeOffset": end_time_offset,
        "FeaturesAttribute": features_attribute,
        "InferenceAttribute": inference_attribute,
        "ProbabilityAttribute": probability_attribute,
        "ProbabilityThresholdAttribute": probability_threshold_attribute,
        "ExcludeFeaturesAttribute": exclude_features_attribute,
    }
    return {k: v for k, v in members.items() if v is not None}


class EndpointInput:
    """The endpoint whose captured traffic a schedule analyzes."""

    def __init__(
        self,
        endpoint_name: str,
        destination: str = _ENDPOINT_PATH,
        s3_input_mode: str = "File",
        s3_data_distribution_type: str = "FullyReplicated",
        start_time_offset: str | None = None,
        end_time_offset: str | None = None,
        features_attribute: str | None = None,
        inference_attribute: str | None = None,
        probability_attribute: str | None = None,
        probability_threshold_attribute: float | None = None,
        exclude_features_attribute: str | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.destination = destination
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type
        self._members = _input_members(
            start_time_offset,
            end_time_offset,
            features_attribute,
            inference_attribute,
            probability_attribute,
            probability_threshold_attribute,
            exclude_features_attribute,
        )

    def _to_request_dict(self) -> dict[str, Any]:
        return {
            "EndpointInput": {
                "EndpointName": self.endpoint_name,
                "LocalPath": self.destination,
                "S3InputMode": self.s3_input_mode,
                "S3DataDistributionType": self.s3_data_distribution_type,
                **self._members,
            }
        }


class BatchTransformInput:
    """The capture of batch transform jobs a schedule analyzes."""

    def __init__(
        self,
        data_captured_destination_s3_uri: str,
        destination: str,
        dataset_format: dict[str, Any],
        s3_input_mode: str = "File",
        s3_data_distribution_type: str = "FullyReplicated",
        start_time_offset: str | None = None,
        end_time_offset: str | None = None,
        features_attribute: str | None = None,
        inference_attribute: str | None = None,
        probability_attribute: str | None = None,
        probability_threshold_attribute: float | None = None,
        exclude_features_attribute: str | None = None,
    ) -> None:
        self.data_captured_destination_s3_uri = data_captured_destination_s3_uri
        self.destination = destination
        self.dataset_format = dataset_format
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type
        self._members = _input_members(
            start_time_offset,
            end_time_offset,
            features_attribute,
            inference_attribute,
            probability_attribute,
            probability_threshold_attribute,
            exclude_features_attribute,
        )

    def _to_request_dict(self) -> dict[str, Any]:
        return {
            "BatchTransformInput": {
                "DataCapturedDestinationS3Uri": self.data_captured_destination_s3_uri,
                "DatasetFormat": self.dataset_format,
                "LocalPath": self.destination,
                "S3InputMode": self.s3_input_mode,
                "S3DataDistributionType": self.s3_data_distribution_type,
                **self._members,
            }
        }


class _JsonFile:
    """A JSON file in the object store (statistics, constraints, violations)."""

    file_name = "file.json"

    def __init__(
        self, body_dict: dict[str, Any], file_s3_uri: str | None, session: Session | None
    ) -> None:
        self.body_dict = body_dict
        self.file_s3_uri = file_s3_uri
        self.sagemaker_session = session

    @classmethod
    def from_s3_uri(
        cls, uri: str, kms_key: str | None = None, sagemaker_session: Session | None = None
    ) -> Any:
        """Load the file at ``uri`` (a file, or a folder holding ``file_name``)."""
        session = sagemaker_session or Session()
        target = uri if uri.endswith(".json") else f"{uri.rstrip('/')}/{cls.file_name}"
        return cls(json.loads(session.read_bytes(target)), target, session)

    @classmethod
    def from_string(
        cls, string: str, file_name: str | None = None, sagemaker_session: Session | None = None
    ) -> Any:
        return cls(json.loads(string), None, sagemaker_session)

    @classmethod
    def from_file_path(cls, path: str, sagemaker_session: Session | None = None) -> Any:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), None, sagemaker_session)

    def save(self, new_save_location_s3_uri: str | None = None) -> str:
        """Write the (possibly edited) document back, or to a new location; returns its URI."""
        from modelmon.formats.jsonfmt import dumps

        target = new_save_location_s3_uri or self.file_s3_uri
        if target is None:
            raise ValueError("no location to save to: give new_save_location_s3_uri")
        if not target.endswith(".json"):
            target = f"{target.rstrip('/')}/{self.file_name}"
        session = self.sagemaker_session or Session()
        session.upload_bytes(dumps(self.body_dict).encode("utf-8"), target)
        self.file_s3_uri = target
        return target


class Statistics(_JsonFile):
    file_name = "statistics.json"


class Constraints(_JsonFile):
    file_name = "constraints.json"

    def set_monitoring(self, enable_monitoring: bool, feature_name: str | None = None) -> None:
        """Turn checks on or off, for every feature or for one (``evaluate_constraints``)."""
        value = "Enabled" if enable_monitoring else "Disabled"
        if feature_name is None:
            self.body_dict.setdefault("monitoring_config", {})["evaluate_constraints"] = value
            return
        for feature in self.body_dict.get("features", []):
            if feature.get("name") == feature_name:
                overrides = feature.setdefault("monitoringConfigOverrides", {})
                overrides["evaluate_constraints"] = value
                return
        raise ValueError(f"no feature named {feature_name!r} in the constraints")


class ConstraintViolations(_JsonFile):
    file_name = "constraint_violations.json"


class MonitoringExecution:
    """One execution of a schedule (SageMaker SDK ``MonitoringExecution``)."""

    def __init__(self, summary: dict[str, Any], session: Session) -> None:
        self.summary = summary
        self.sagemaker_session = session
        self.execution_id = summary.get("MonitoringExecutionId") or summary.get("ExecutionId")

    def describe(self) -> dict[str, Any]:
        if self.execution_id is None:
            return self.summary
        return self.sagemaker_session.call("GET", f"/api/monitoring-executions/{self.execution_id}")

    @property
    def report_uri(self) -> str | None:
        return self.describe().get("ReportUri")

    def statistics(self) -> Statistics | None:
        uri = self.report_uri
        return (
            Statistics.from_s3_uri(uri, sagemaker_session=self.sagemaker_session) if uri else None
        )

    def constraint_violations(self) -> ConstraintViolations | None:
        uri = self.report_uri
        if not uri:
            return None
        return ConstraintViolations.from_s3_uri(uri, sagemaker_session=self.sagemaker_session)

    def logs(self) -> str:
        response = self.sagemaker_session.http.get(
            f"/api/monitoring-executions/{self.execution_id}/logs"
        )
        return response.text

    def wait(self, timeout: float = 3600, poll: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            description = self.describe()
            if description["MonitoringExecutionStatus"] not in (
                "Pending",
                "InProgress",
                "Stopping",
            ):
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {self.execution_id} still running after {timeout} s")
            time.sleep(poll)


class DefaultModelMonitor(MonitoringAlerts):
    """Data-quality monitoring with the built-in analyzer (SageMaker SDK names)."""

    monitoring_type = "DataQuality"

    def __init__(
        self,
        role: str | None = None,
        instance_count: int = 1,
        instance_type: str = "ml.m5.xlarge",
        volume_size_in_gb: int = 30,
        volume_kms_key: str | None = None,
        output_kms_key: str | None = None,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: Any = None,
        image_uri: str | None = None,
    ) -> None:
        self.role = role
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.volume_size_in_gb = volume_size_in_gb
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.base_job_name = base_job_name or "default-model-monitor"
        self.sagemaker_session = sagemaker_session or Session()
        self.env = dict(env or {})
        self.tags = tags or []
        self.image_uri = image_uri or ANALYZER_IMAGE
        self.monitoring_schedule_name: str | None = None
        self.latest_baselining_job: dict[str, Any] | None = None
        self.latest_baselining_job_name: str | None = None
        self._baseline_output: str | None = None

    # -- baselining -------------------------------------------------------------------

    def _upload_script(self, path: str | None, kind: str) -> str | None:
        if path is None or path.startswith("s3://"):
            return path
        session = self.sagemaker_session
        uri = f"s3://{session.default_bucket()}/{self.base_job_name}/code/{kind}/{Path(path).name}"
        return session.upload_bytes(Path(path).read_bytes(), uri)

    def suggest_baseline(
        self,
        baseline_dataset: str,
        dataset_format: dict[str, Any],
        record_preprocessor_script: str | None = None,
        post_analytics_processor_script: str | None = None,
        output_s3_uri: str | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> dict[str, Any]:
        """Run the analyzer over a training dataset as a tracked job on the server.

        ``baseline_dataset`` is an ``s3://`` URI or a local file/folder (uploaded).
        The job writes statistics.json and constraints.json to ``output_s3_uri``.
        """
        return self._suggest_baseline(
            baseline_dataset,
            dataset_format,
            {},
            record_preprocessor_script,
            post_analytics_processor_script,
            output_s3_uri,
            wait,
            job_name,
        )

    def _suggest_baseline(
        self,
        baseline_dataset: str,
        dataset_format: dict[str, Any],
        members: dict[str, Any],
        record_preprocessor_script: str | None,
        post_analytics_processor_script: str | None,
        output_s3_uri: str | None,
        wait: bool,
        job_name: str | None,
    ) -> dict[str, Any]:
        session = self.sagemaker_session
        name = job_name or f"baseline-suggestion-job-{_stamp()}"
        if not baseline_dataset.startswith("s3://"):
            baseline_dataset = session.upload_data(
                baseline_dataset, key_prefix=f"{self.base_job_name}/{name}/input"
            )
        output = output_s3_uri or (
            f"s3://{session.default_bucket()}/{self.base_job_name}/{name}/output"
        )
        request: dict[str, Any] = {
            "BaseliningJobName": name,
            "BaselineDatasetUri": baseline_dataset,
            "DatasetFormat": dataset_format,
            "OutputS3Uri": output,
            "Environment": self.env,
            **members,
        }
        for key, value in (
            ("RecordPreprocessorSourceUri", self._upload_script(record_preprocessor_script, "pre")),
            (
                "PostAnalyticsProcessorSourceUri",
                self._upload_script(post_analytics_processor_script, "post"),
            ),
        ):
            if value:
                request[key] = value
        if self.max_runtime_in_seconds:
            request["StoppingCondition"] = {"MaxRuntimeInSeconds": self.max_runtime_in_seconds}
        session.call("POST", "/api/baselining-jobs", json=request)
        self.latest_baselining_job_name = name
        self._baseline_output = output
        description = session.call("GET", f"/api/baselining-jobs/{name}")
        if wait:
            description = self._wait_baselining(name)
        self.latest_baselining_job = description
        return description

    def _wait_baselining(self, name: str, timeout: float = 86400) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            description = self.sagemaker_session.call("GET", f"/api/baselining-jobs/{name}")
            status = description["ProcessingJobStatus"]
            if status not in ("InProgress", "Stopping"):
                if status != "Completed":
                    raise ModelmonClientError(
                        400, "BaseliningFailed", description.get("FailureReason") or status
                    )
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"baselining job {name} still {status}")
            time.sleep(0.5)

    def baseline_statistics(self) -> Statistics:
        """statistics.json of the latest baselining job."""
        if self._baseline_output is None:
            raise ValueError("no baselining job has run: call suggest_baseline first")
        return Statistics.from_s3_uri(
            self._baseline_output, sagemaker_session=self.sagemaker_session
        )

    def suggested_constraints(self) -> Constraints:
        """constraints.json of the latest baselining job."""
        if self._baseline_output is None:
            raise ValueError("no baselining job has run: call suggest_baseline first")
        return Constraints.from_s3_uri(
            self._baseline_output, sagemaker_session=self.sagemaker_session
        )

    # -- schedules ----------------------------------------------------------------------

    def _job_definition(
        self,
        monitoring_input: dict[str, Any],
        output_s3_uri: str | None,
        statistics: Statistics | str | None,
        constraints: Constraints | str | None,
        record_preprocessor_script: str | None,
        post_analytics_processor_script: str | None,
        enable_cloudwatch_metrics: bool,
        schedule_name: str,
    ) -> dict[str, Any]:
        session = self.sagemaker_session
        baseline: dict[str, Any] = {}
        constraints = constraints if constraints is not None else self._default("constraints")
        statistics = statistics if statistics is not None else self._default("statistics")
        if constraints is not None:
            uri = constraints if isinstance(constraints, str) else constraints.file_s3_uri
            baseline["ConstraintsResource"] = {"S3Uri": uri}
        if statistics is not None:
            uri = statistics if isinstance(statistics, str) else statistics.file_s3_uri
            baseline["StatisticsResource"] = {"S3Uri": uri}
        app: dict[str, Any] = {"ImageUri": self.image_uri}
        pre = self._upload_script(record_preprocessor_script, "pre")
        post = self._upload_script(post_analytics_processor_script, "post")
        if pre:
            app["RecordPreprocessorSourceUri"] = pre
        if post:
            app["PostAnalyticsProcessorSourceUri"] = post
        output = output_s3_uri or (
            f"s3://{session.default_bucket()}/{self.base_job_name}/{schedule_name}/output"
        )
        definition: dict[str, Any] = {
            "MonitoringInputs": [monitoring_input],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri": output,
                            "LocalPath": _OUTPUT_PATH,
                            "S3UploadMode": "Continuous",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {
                    "InstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_in_gb,
                }
            },
            "MonitoringAppSpecification": app,
            "Environment": {
                **self.env,
                "publish_cloudwatch_metrics": "Enabled"
                if enable_cloudwatch_metrics
                else "Disabled",
            },
        }
        if baseline:
            definition["BaselineConfig"] = baseline
        if self.max_runtime_in_seconds:
            definition["StoppingCondition"] = {"MaxRuntimeInSeconds": self.max_runtime_in_seconds}
        if self.role:
            definition["RoleArn"] = self.role
        return definition

    def _default(self, which: str) -> Any:
        if self._baseline_output is None:
            return None
        return (
            self.suggested_constraints() if which == "constraints" else self.baseline_statistics()
        )

    def create_monitoring_schedule(
        self,
        endpoint_input: EndpointInput | str | None = None,
        record_preprocessor_script: str | None = None,
        post_analytics_processor_script: str | None = None,
        output_s3_uri: str | None = None,
        constraints: Constraints | str | None = None,
        statistics: Statistics | str | None = None,
        monitor_schedule_name: str | None = None,
        schedule_cron_expression: str | None = None,
        enable_cloudwatch_metrics: bool = True,
        batch_transform_input: BatchTransformInput | None = None,
        data_analysis_start_time: str | None = None,
        data_analysis_end_time: str | None = None,
    ) -> dict[str, Any]:
        """Create a data-quality monitoring schedule on an endpoint or batch transform output."""
        source = _one_source(endpoint_input, batch_transform_input)
        name = monitor_schedule_name or f"monitoring-schedule-{_stamp()}"
        schedule = _schedule_config(
            schedule_cron_expression, data_analysis_start_time, data_analysis_end_time
        )
        request = {
            "MonitoringScheduleName": name,
            "MonitoringScheduleConfig": {
                "ScheduleConfig": schedule,
                "MonitoringJobDefinition": self._job_definition(
                    source._to_request_dict(),
                    output_s3_uri,
                    statistics,
                    constraints,
                    record_preprocessor_script,
                    post_analytics_processor_script,
                    enable_cloudwatch_metrics,
                    name,
                ),
                "MonitoringType": self.monitoring_type,
            },
            "Tags": self.tags,
        }
        response = self.sagemaker_session.call("POST", "/api/monitoring-schedules", json=request)
        self.monitoring_schedule_name = name
        return response

    def update_monitoring_schedule(
        self,
        endpoint_input: EndpointInput | str | None = None,
        record_preprocessor_script: str | None = None,
        post_analytics_processor_script: str | None = None,
        output_s3_uri: str | None = None,
        statistics: Statistics | str | None = None,
        constraints: Constraints | str | None = None,
        schedule_cron_expression: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        volume_size_in_gb: int | None = None,
        max_runtime_in_seconds: int | None = None,
        env: dict[str, str] | None = None,
        enable_cloudwatch_metrics: bool | None = None,
        batch_transform_input: BatchTransformInput | None = None,
        data_analysis_start_time: str | None = None,
        data_analysis_end_time: str | None = None,
    ) -> dict[str, Any]:
        """Change what is given of the schedule's config; the rest stays as it is."""
        config = self.describe_schedule()["MonitoringScheduleConfig"]
        definition = config.get("MonitoringJobDefinition")
        if definition is None:
            raise ValueError("this schedule uses a named job definition: update that instead")
        schedule = config.setdefault("ScheduleConfig", {})
        if schedule_cron_expression is not None:
            schedule["ScheduleExpression"] = schedule_cron_expression
        if data_analysis_start_time is not None:
            schedule["DataAnalysisStartTime"] = data_analysis_start_time
        if data_analysis_end_time is not None:
            schedule["DataAnalysisEndTime"] = data_analysis_end_time
        if isinstance(endpoint_input, str):
            endpoint_input = EndpointInput(endpoint_input)
        source = endpoint_input or batch_transform_input
        if source is not None:
            definition["MonitoringInputs"] = [source._to_request_dict()]
        baseline = definition.setdefault("BaselineConfig", {})
        if constraints is not None:
            uri = constraints if isinstance(constraints, str) else constraints.file_s3_uri
            baseline["ConstraintsResource"] = {"S3Uri": uri}
        if statistics is not None:
            uri = statistics if isinstance(statistics, str) else statistics.file_s3_uri
            baseline["StatisticsResource"] = {"S3Uri": uri}
        app = definition.setdefault("MonitoringAppSpecification", {"ImageUri": self.image_uri})
        pre = self._upload_script(record_preprocessor_script, "pre")
        post = self._upload_script(post_analytics_processor_script, "post")
        if pre:
            app["RecordPreprocessorSourceUri"] = pre
        if post:
            app["PostAnalyticsProcessorSourceUri"] = post
        if output_s3_uri is not None:
            outputs = definition["MonitoringOutputConfig"]["MonitoringOutputs"]
            outputs[0]["S3Output"]["S3Uri"] = output_s3_uri
        cluster = definition.setdefault("MonitoringResources", {}).setdefault("ClusterConfig", {})
        for key, value in (
            ("InstanceCount", instance_count),
            ("InstanceType", instance_type),
            ("VolumeSizeInGB", volume_size_in_gb),
        ):
            if value is not None:
                cluster[key] = value
        if max_runtime_in_seconds is not None:
            definition["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime_in_seconds}
        environment = definition.setdefault("Environment", {})
        if env is not None:
            environment.update(env)
        if enable_cloudwatch_metrics is not None:
            environment["publish_cloudwatch_metrics"] = (
                "Enabled" if enable_cloudwatch_metrics else "Disabled"
            )
        return self.sagemaker_session.call(
            "PUT",
            f"/api/monitoring-schedules/{self._schedule()}",
            json={"MonitoringScheduleConfig": config},
        )

    def _schedule(self) -> str:
        if self.monitoring_schedule_name is None:
            raise ValueError("no monitoring schedule: call create_monitoring_schedule first")
        return self.monitoring_schedule_name

    def describe_schedule(self) -> dict[str, Any]:
        return self.sagemaker_session.call("GET", f"/api/monitoring-schedules/{self._schedule()}")

    def stop_monitoring_schedule(self) -> None:
        self.sagemaker_session.call("POST", f"/api/monitoring-schedules/{self._schedule()}/stop")

    def start_monitoring_schedule(self) -> None:
        self.sagemaker_session.call("POST", f"/api/monitoring-schedules/{self._schedule()}/start")

    def delete_monitoring_schedule(self) -> None:
        self.sagemaker_session.call("DELETE", f"/api/monitoring-schedules/{self._schedule()}")
        self.monitoring_schedule_name = None

    def list_executions(self) -> list[MonitoringExecution]:
        """Executions of this schedule, oldest first (as the SageMaker SDK returns them)."""
        summaries: list[dict[str, Any]] = []
        token = None
        while True:
            params = {
                "MonitoringScheduleName": self._schedule(),
                "SortBy": "ScheduledTime",
                "SortOrder": "Ascending",
                "MaxResults": 100,
            }
            if token:
                params["NextToken"] = token
            page = self.sagemaker_session.call("GET", "/api/monitoring-executions", params=params)
            summaries.extend(page["MonitoringExecutionSummaries"])
            token = page.get("NextToken")
            if not token:
                break
        return [MonitoringExecution(s, self.sagemaker_session) for s in summaries]

    def _latest(self) -> MonitoringExecution | None:
        executions = self.list_executions()
        return executions[-1] if executions else None

    def latest_monitoring_statistics(self) -> Statistics | None:
        latest = self._latest()
        return latest.statistics() if latest else None

    def latest_monitoring_violations(self) -> ConstraintViolations | None:
        latest = self._latest()
        return latest.constraint_violations() if latest else None


class ModelQualityMonitor(DefaultModelMonitor):
    """Model-quality monitoring: predictions joined with delayed ground-truth labels
    (SageMaker SDK ``ModelQualityMonitor``; same constructor as DefaultModelMonitor).

    ``create_monitoring_schedule`` creates a model-quality job definition
    (``model-quality-job-definition-{time}``) and a schedule that names it, as the
    SageMaker SDK does; ``delete_monitoring_schedule`` deletes both.
    """

    monitoring_type = "ModelQuality"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.base_job_name == "default-model-monitor":
            self.base_job_name = "model-quality-monitor"
        self.job_definition_name: str | None = None

    def suggest_baseline(  # type: ignore[override]
        self,
        baseline_dataset: str,
        dataset_format: dict[str, Any],
        problem_type: str,
        inference_attribute: str | None = None,
        probability_attribute: str | None = None,
        ground_truth_attribute: str | None = None,
        probability_threshold_attribute: float | None = None,
        post_analytics_processor_script: str | None = None,
        output_s3_uri: str | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
    ) -> dict[str, Any]:
        """Compute the model-quality metrics of a dataset holding predictions, probabilities
        and labels: statistics.json and the suggested constraints.json."""
        members: dict[str, Any] = {"MonitoringType": "ModelQuality", "ProblemType": problem_type}
        for key, value in (
            ("InferenceAttribute", inference_attribute),
            ("ProbabilityAttribute", probability_attribute),
            ("GroundTruthAttribute", ground_truth_attribute),
            ("ProbabilityThresholdAttribute", probability_threshold_attribute),
        ):
            if value is not None:
                members[key] = value
        return self._suggest_baseline(
            baseline_dataset,
            dataset_format,
            members,
            None,
            post_analytics_processor_script,
            output_s3_uri,
            wait,
            job_name,
        )

    def create_monitoring_schedule(  # type: ignore[override]
        self,
        endpoint_input: EndpointInput | str | None = None,
        ground_truth_input: str | None = None,
        problem_type: str | None = None,
        record_preprocessor_script: str | None = None,
        post_analytics_processor_script: str | None = None,
        output_s3_uri: str | None = None,
        constraints: Constraints | str | None = None,
        monitor_schedule_name: str | None = None,
        schedule_cron_expression: str | None = None,
        enable_cloudwatch_metrics: bool = True,
        batch_transform_input: BatchTransformInput | None = None,
        data_analysis_start_time: str | None = None,
        data_analysis_end_time: str | None = None,
    ) -> dict[str, Any]:
        """Create a model-quality job definition and a schedule running it."""
        source = _one_source(endpoint_input, batch_transform_input)
        if not ground_truth_input:
            raise ValueError(
                "ground_truth_input (the S3 URI of the ground-truth labels) is required"
            )
        if not problem_type:
            raise ValueError(
                "problem_type is required: BinaryClassification, MulticlassClassification or "
                "Regression"
            )
        session = self.sagemaker_session
        stamp = _stamp()
        name = monitor_schedule_name or f"monitoring-schedule-{stamp}"
        definition_name = f"model-quality-job-definition-{stamp}"
        inline = self._job_definition(
            source._to_request_dict(),
            output_s3_uri,
            None,
            constraints,
            record_preprocessor_script,
            post_analytics_processor_script,
            enable_cloudwatch_metrics,
            name,
        )
        request = _model_quality_definition(
            definition_name, inline, ground_truth_input, problem_type
        )
        session.call("POST", "/api/model-quality-job-definitions", json=request)
        schedule = _schedule_config(
            schedule_cron_expression, data_analysis_start_time, data_analysis_end_time
        )
        try:
            response = session.call(
                "POST",
                "/api/monitoring-schedules",
                json={
                    "MonitoringScheduleName": name,
                    "MonitoringScheduleConfig": {
                        "ScheduleConfig": schedule,
                        "MonitoringJobDefinitionName": definition_name,
                        "MonitoringType": self.monitoring_type,
                    },
                    "Tags": self.tags,
                },
            )
        except ModelmonClientError:
            session.call("DELETE", f"/api/model-quality-job-definitions/{definition_name}")
            raise
        self.monitoring_schedule_name = name
        self.job_definition_name = definition_name
        return response

    def update_monitoring_schedule(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Not supported for model quality: delete the schedule and create a new one."""
        raise NotImplementedError(
            "update_monitoring_schedule is not supported for model quality yet: delete the "
            "schedule and create it again"
        )

    def describe_job_definition(self) -> dict[str, Any]:
        """DescribeModelQualityJobDefinition of this monitor's schedule."""
        if self.job_definition_name is None:
            raise ValueError("no job definition: call create_monitoring_schedule first")
        return self.sagemaker_session.call(
            "GET", f"/api/model-quality-job-definitions/{self.job_definition_name}"
        )

    def delete_monitoring_schedule(self) -> None:
        """Delete the schedule, then its job definition."""
        super().delete_monitoring_schedule()
        if self.job_definition_name is not None:
            self.sagemaker_session.call(
                "DELETE", f"/api/model-quality-job-definitions/{self.job_definition_name}"
            )
            self.job_definition_name = None


def _one_source(
    endpoint_input: EndpointInput | str | None, batch_transform_input: BatchTransformInput | None
) -> EndpointInput | BatchTransformInput:
    """The one input of a schedule (an endpoint name stands for its EndpointInput)."""
    if (endpoint_input is None) == (batch_transform_input is None):
        raise ValueError("give exactly one of endpoint_input and batch_transform_input")
    if isinstance(endpoint_input, str):
        return EndpointInput(endpoint_input)
    source = endpoint_input or batch_transform_input
    assert source is not None
    return source


def _schedule_config(expression: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    """A ScheduleConfig (hourly when no expression is given)."""
    schedule: dict[str, Any] = {
        "ScheduleExpression": expression or CronExpressionGenerator.hourly()
    }
    if start is not None:
        schedule["DataAnalysisStartTime"] = start
    if end is not None:
        schedule["DataAnalysisEndTime"] = end
    return schedule


def _model_quality_definition(
    name: str, inline: dict[str, Any], ground_truth_input: str, problem_type: str
) -> dict[str, Any]:
    """A CreateModelQualityJobDefinition request from an inline MonitoringJobDefinition."""
    app = dict(inline["MonitoringAppSpecification"])
    app["ProblemType"] = problem_type
    app["Environment"] = inline.get("Environment", {})
    request: dict[str, Any] = {
        "JobDefinitionName": name,
        "ModelQualityAppSpecification": app,
        "ModelQualityJobInput": {
            **inline["MonitoringInputs"][0],
            "GroundTruthS3Input": {"S3Uri": ground_truth_input},
        },
        "ModelQualityJobOutputConfig": inline["MonitoringOutputConfig"],
        "JobResources": inline["MonitoringResources"],
    }
    constraints = (inline.get("BaselineConfig") or {}).get("ConstraintsResource")
    if constraints is not None:
        request["ModelQualityBaselineConfig"] = {"ConstraintsResource": constraints}
    for member in ("StoppingCondition", "RoleArn"):
        if member in inline:
            request[member] = inline[member]
    return request


_ID_NAMES = ("inference_id", "inferenceid", "event_id", "eventid", "id")


def read_ground_truth_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(inference id, label) pairs of a local file: CSV ``id,label`` rows (a header row whose
    first cell is ``inference_id``/``id``... is skipped) or JSON Lines objects with
    ``inference_id`` (or ``inferenceId``, ``InferenceId``) and ``label`` (or ``Label``).
    A bad line raises ValueError naming the file and line."""
    import csv

    source = Path(path)
    text = source.read_text(encoding="utf-8")
    pairs: list[tuple[str, str]] = []
    if source.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{source}:{number}: not JSON ({err.msg})") from None
            ident = _first(item, ("inference_id", "inferenceId", "InferenceId"))
            label = _first(item, ("label", "Label"))
            if ident is None or label is None:
                raise ValueError(
                    f"{source}:{number}: expected an object with inference_id and label, "
                    f"got {line.strip()[:80]!r}"
                )
            pairs.append((str(ident), str(label)))
        return pairs
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() in _ID_NAMES:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(
                f"{source}:{number}: expected two columns 'inference_id,label', got {row!r}"
            )
        pairs.append((row[0].strip(), row[1].strip()))
    return pairs


def _first(item: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return None
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return None
