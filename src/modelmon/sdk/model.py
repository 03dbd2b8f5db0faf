"""``Model``: an artifact and a runtime, deployable to an endpoint (SageMaker SDK names)."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelmon.sdk.async_inference import AsyncInferenceConfig, AsyncPredictor
from modelmon.sdk.data_capture import DataCaptureConfig
from modelmon.sdk.predictor import Predictor
from modelmon.sdk.serializers import BaseDeserializer, BaseSerializer
from modelmon.sdk.session import ModelmonClientError, Session
from modelmon.sdk.transformer import Transformer, timestamped


class Model:
    """A model to deploy.

    ``image_uri`` names the runtime (``sklearn``, ``xgboost``, ``onnx``, ``python``
    or a SageMaker image URI; empty: detected from the artifact). ``model_data``
    is a model.tar.gz, model file or prefix (``s3://`` or a local path, which is
    uploaded). ``entry_point`` (and ``source_dir``) give a script with
    SageMaker's handler functions (``model_fn``, ``input_fn``, ``predict_fn``,
    ``output_fn``); they are uploaded as ``sourcedir.tar.gz``.
    """

    def __init__(
        self,
        image_uri: str | None = None,
        model_data: str | None = None,
        role: str | None = None,
        predictor_cls: Callable[..., Predictor] | None = Predictor,
        env: dict[str, str] | None = None,
        name: str | None = None,
        sagemaker_session: Session | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        **_kwargs: Any,
    ) -> None:
        self.image_uri = image_uri
        self.model_data = model_data
        self.role = role
        self.predictor_cls = predictor_cls
        self.env = dict(env or {})
        self.name = name
        self.sagemaker_session = sagemaker_session
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.endpoint_name: str | None = None

    def _session(self) -> Session:
        if self.sagemaker_session is None:
            self.sagemaker_session = Session()
        return self.sagemaker_session

    def _upload_code(self, session: Session, name: str) -> None:
        assert self.entry_point is not None
        root = Path(self.source_dir) if self.source_dir else Path(self.entry_point).parent
        entry = Path(self.entry_point)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            if self.source_dir:
                for file in sorted(root.rglob("*")):
                    if file.is_file() and "__pycache__" not in file.parts:
                        tar.add(file, arcname=file.relative_to(root).as_posix())
            else:
                tar.add(entry, arcname=entry.name)
        uri = f"s3://{session.default_bucket()}/{name}/sourcedir.tar.gz"
        session.upload_bytes(buffer.getvalue(), uri)
        self.env["SAGEMAKER_PROGRAM"] = entry.name
        self.env["SAGEMAKER_SUBMIT_DIRECTORY"] = uri

    def create(self, instance_type: str | None = None) -> str:
        """Register the model on the server; returns its name."""
        session = self._session()
        name = self.name or timestamped(_base_name(self.image_uri))
        if self.model_data and not self.model_data.startswith("s3://"):
            self.model_data = session.upload_data(self.model_data, key_prefix=f"{name}/model")
        if self.entry_point:
            self._upload_code(session, name)
        container: dict[str, Any] = {"Environment": self.env}
        if self.image_uri:
            container["Image"] = self.image_uri
        if self.model_data:
            container["ModelDataUrl"] = self.model_data
        request: dict[str, Any] = {"ModelName": name, "PrimaryContainer": container}
        if self.role:
            request["ExecutionRoleArn"] = self.role
        session.create_model(**request)
        self.name = name
        return name

    def deploy(
        self,
        initial_instance_count: int | None = 1,
        instance_type: str | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        endpoint_name: str | None = None,
        tags: list[dict[str, str]] | None = None,
        wait: bool = True,
        data_capture_config: DataCaptureConfig | None = None,
        variant_name: str = "AllTraffic",
        async_inference_config: AsyncInferenceConfig | None = None,
        **_kwargs: Any,
    ) -> Predictor | AsyncPredictor | None:
        """Create the model, an endpoint config and the endpoint; wait for InService.

        With ``async_inference_config`` the endpoint is asynchronous and an
        :class:`AsyncPredictor` is returned; its output (failure) path defaults to
        ``s3://{default bucket}/async-endpoint-outputs/{endpoint}``
        (``async-endpoint-failures``), as SageMaker's SDK does.
        """
        session = self._session()
        model_name = self.create(instance_type)
        endpoint_name = endpoint_name or model_name
        variant: dict[str, Any] = {
            "VariantName": variant_name,
            "ModelName": model_name,
            "InitialVariantWeight": 1.0,
        }
        if initial_instance_count:
            variant["InitialInstanceCount"] = initial_instance_count
        if instance_type:
            variant["InstanceType"] = instance_type
        config: dict[str, Any] = {
            "EndpointConfigName": endpoint_name,
            "ProductionVariants": [variant],
            "Tags": tags or [],
        }
        if data_capture_config is not None:
            config["DataCaptureConfig"] = data_capture_config._to_request_dict(session)
        if async_inference_config is not None:
            bucket = f"s3://{session.default_bucket()}"
            async_inference_config = dataclasses.replace(
                async_inference_config,
                output_path=async_inference_config.output_path
                or f"{bucket}/async-endpoint-outputs/{endpoint_name}",
                failure_path=async_inference_config.failure_path
                or f"{bucket}/async-endpoint-failures/{endpoint_name}",
            )
            config["AsyncInferenceConfig"] = async_inference_config._to_request_dict()
        session.create_endpoint_config(**config)
        session.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=endpoint_name)
        self.endpoint_name = endpoint_name
        if wait:
            session.wait_for_endpoint(endpoint_name)
        if self.predictor_cls is None:
            return None
        predictor = self.predictor_cls(endpoint_name, session)
        if serializer is not None:
            predictor.serializer = serializer
        if deserializer is not None:
            predictor.deserializer = deserializer
        if async_inference_config is not None:
            return AsyncPredictor(predictor, name=endpoint_name)
        return predictor

    def transformer(
        self,
        instance_count: int = 1,
        instance_type: str | None = None,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        output_kms_key: str | None = None,
        accept: str | None = None,
        env: dict[str, str] | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        tags: list[dict[str, str]] | None = None,
        volume_kms_key: str | None = None,
    ) -> Transformer:
        """A Transformer for this model (registered on the server first if it is not yet)."""
        session = self._session()
        if self.name is None or not self._registered(session):
            self.create(instance_type)
        assert self.name is not None
        return Transformer(
            self.name,
            instance_count,
            instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            output_kms_key=output_kms_key,
            accept=accept,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            tags=tags,
            env=env,
            sagemaker_session=session,
            volume_kms_key=volume_kms_key,
        )

    def _registered(self, session: Session) -> bool:
        try:
            session.call("GET", f"/api/models/{self.name}")
        except ModelmonClientError as err:
            if err.status == 404:
                return False
            raise
        return True

    def delete_model(self) -> None:
        if self.name:
            self._session().delete_model(self.name)


def _base_name(image: str | None) -> str:
    if not image:
        return "model"
    tail = image.rsplit("/", 1)[-1].split(":", 1)[0]
    cleaned = "".join(c if c.isalnum() else "-" for c in tail).strip("-")
    return cleaned or "model"
