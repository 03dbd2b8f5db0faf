"""``Transformer``: batch transform jobs, as the SageMaker SDK's ``sagemaker.transformer``."""

from __future__ import annotations

import datetime as dt
from contextlib import suppress
from typing import Any

from modelmon.sdk.data_capture import BatchDataCaptureConfig
from modelmon.sdk.session import ModelmonClientError, Session


def timestamped(base: str) -> str:
    """``base`` with a millisecond timestamp, at most 63 characters (a SageMaker name)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    return f"{base[: 62 - len(stamp)]}-{stamp}"


class TransformJob:
    """One started transform job (the SDK's ``transformer.latest_transform_job``)."""

    def __init__(self, session: Session, name: str) -> None:
        self.sagemaker_session = session
        self.name = name
        self.job_name = name

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_transform_job(self.name)

    def wait(self, logs: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Wait until the job ends; raises ModelmonClientError unless it Completed."""
        return self.sagemaker_session.wait_for_transform_job(self.name, **kwargs)

    def stop(self) -> None:
        self.sagemaker_session.stop_transform_job(self.name)


class Transformer:
    """Runs a model over a dataset in files.

    ``strategy`` is ``MultiRecord`` or ``SingleRecord``; ``assemble_with``
    ``None`` or ``Line``; ``output_path`` defaults to
    ``s3://{default bucket}/{job name}``; ``max_payload`` is MaxPayloadInMB;
    ``env`` the job's Environment (laid over the model's). ``instance_count``
    and ``instance_type`` are accepted and passed on as TransformResources (the
    job runs in the server).
    """

    def __init__(
        self,
        model_name: str,
        instance_count: int = 1,
        instance_type: str | None = None,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        output_kms_key: str | None = None,
        accept: str | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        tags: list[dict[str, str]] | None = None,
        env: dict[str, str] | None = None,
        base_transform_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        volume_kms_key: str | None = None,
        **_kwargs: Any,
    ) -> None:
        self.model_name = model_name
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.strategy = strategy
        self.assemble_with = assemble_with
        self.output_path = output_path
        self.output_kms_key = output_kms_key
        self.accept = accept
        self.max_concurrent_transforms = max_concurrent_transforms
        self.max_payload = max_payload
        self.tags = tags
        self.env = env
        self.base_transform_job_name = base_transform_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.volume_kms_key = volume_kms_key
        self.latest_transform_job: TransformJob | None = None
        self._current_job_name: str | None = None

    def transform(
        self,
        data: str,
        data_type: str = "S3Prefix",
        content_type: str | None = None,
        compression_type: str | None = None,
        split_type: str | None = None,
        job_name: str | None = None,
        input_filter: str | None = None,
        output_filter: str | None = None,
        join_source: str | None = None,
        experiment_config: dict[str, str] | None = None,
        model_client_config: dict[str, int] | None = None,
        batch_data_capture_config: BatchDataCaptureConfig | None = None,
        wait: bool = True,
        logs: bool = True,
        **_kwargs: Any,
    ) -> None:
        """Start a transform job over ``data`` (an ``s3://`` prefix or manifest; a local file
        or directory is uploaded first) and, with ``wait``, wait until it ends."""
        session = self.sagemaker_session
        name = job_name or timestamped(self.base_transform_job_name or self.model_name)
        self._current_job_name = name
        if not data.startswith("s3://"):
            data = session.upload_data(data, key_prefix=f"{name}/input")
        output_path = self.output_path or f"s3://{session.default_bucket()}/{name}"
        transform_input: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": data}}
        }
        for key, value in (
            ("ContentType", content_type),
            ("CompressionType", compression_type),
            ("SplitType", split_type),
        ):
            if value is not None:
                transform_input[key] = value
        transform_output: dict[str, Any] = {"S3OutputPath": output_path}
        for key, value in (
            ("Accept", self.accept),
            ("AssembleWith", self.assemble_with),
            ("KmsKeyId", self.output_kms_key),
        ):
            if value is not None:
                transform_output[key] = value
        resources: dict[str, Any] = {"InstanceCount": self.instance_count}
        if self.instance_type:
            resources["InstanceType"] = self.instance_type
        if self.volume_kms_key:
            resources["VolumeKmsKeyId"] = self.volume_kms_key
        request: dict[str, Any] = {
            "TransformJobName": name,
            "ModelName": self.model_name,
            "TransformInput": transform_input,
            "TransformOutput": transform_output,
            "TransformResources": resources,
        }
        for key, value in (
            ("BatchStrategy", self.strategy),
            ("MaxConcurrentTransforms", self.max_concurrent_transforms),
            ("MaxPayloadInMB", self.max_payload),
            ("Environment", self.env),
            ("Tags", self.tags),
            ("ExperimentConfig", experiment_config),
            ("ModelClientConfig", model_client_config),
        ):
            if value is not None:
                request[key] = value
        processing = {
            k: v
            for k, v in (
                ("InputFilter", input_filter),
                ("OutputFilter", output_filter),
                ("JoinSource", join_source),
            )
            if v is not None
        }
        if processing:
            request["DataProcessing"] = processing
        if batch_data_capture_config is not None:
            request["DataCaptureConfig"] = batch_data_capture_config._to_request_dict()
        session.create_transform_job(**request)
        self.latest_transform_job = TransformJob(session, name)
        self.last_output_path = output_path
        if wait:
            self.latest_transform_job.wait(logs=logs)

    def _job(self) -> TransformJob:
        if self.latest_transform_job is None:
            raise ValueError("No transform job available: call transform() first")
        return self.latest_transform_job

    def wait(self, logs: bool = True) -> dict[str, Any]:
        """Wait for the latest job; raises ModelmonClientError unless it Completed."""
        return self._job().wait(logs=logs)

    def describe(self) -> dict[str, Any]:
        """DescribeTransformJob of the latest job."""
        return self._job().describe()

    def stop_transform_job(self, wait: bool = True) -> None:
        """Stop the latest job (and wait until it has stopped)."""
        job = self._job()
        job.stop()
        if wait:
            with suppress(ModelmonClientError):  # a stopped job ends Stopped: not an error here
                job.wait()
