"""``Predictor``: invoke a deployed endpoint, as the SageMaker SDK's Predictor."""

from __future__ import annotations

from typing import Any

from modelmon.sdk.async_inference import AsyncInferenceResponse, AsyncPredictor
from modelmon.sdk.serializers import (
    BaseDeserializer,
    BaseSerializer,
    BytesDeserializer,
    IdentitySerializer,
)
from modelmon.sdk.session import Session


class Predictor:
    """Real-time predictions from an endpoint."""

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        **_kwargs: Any,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.sagemaker_session = sagemaker_session or Session()
        self.serializer = serializer or IdentitySerializer()
        self.deserializer = deserializer or BytesDeserializer()

    @property
    def content_type(self) -> str:
        return self.serializer.content_type

    @property
    def accept(self) -> tuple[str, ...]:
        return self.deserializer.accept

    def predict(
        self,
        data: Any,
        initial_args: dict[str, str] | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
    ) -> Any:
        """Serialize ``data``, invoke the endpoint, deserialize the answer."""
        args: dict[str, Any] = dict(initial_args or {})
        args.setdefault("ContentType", self.content_type)
        args.setdefault("Accept", ", ".join(self.accept))
        if target_variant is not None:
            args["TargetVariant"] = target_variant
        if inference_id is not None:
            args["InferenceId"] = inference_id
        if custom_attributes is not None:
            args["CustomAttributes"] = custom_attributes
        response = self.sagemaker_session.invoke_endpoint(
            EndpointName=self.endpoint_name, Body=self.serializer.serialize(data), **args
        )
        return self.deserializer.deserialize(response["Body"], response["ContentType"])

    def predict_async(
        self,
        data: Any = None,
        input_path: str | None = None,
        initial_args: dict[str, Any] | None = None,
        inference_id: str | None = None,
    ) -> AsyncInferenceResponse:
        """Queue an asynchronous request (see :class:`~modelmon.sdk.AsyncPredictor`)."""
        return AsyncPredictor(self).predict_async(data, input_path, initial_args, inference_id)

    def endpoint_context(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_endpoint(self.endpoint_name)

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        """Delete the endpoint (and its config)."""
        description = self.sagemaker_session.describe_endpoint(self.endpoint_name)
        self.sagemaker_session.delete_endpoint(self.endpoint_name)
        if delete_endpoint_config:
            self.sagemaker_session.delete_endpoint_config(description["EndpointConfigName"])

    def delete_model(self) -> None:
        """Delete the models behind the endpoint's config."""
        description = self.sagemaker_session.describe_endpoint(self.endpoint_name)
        config = self.sagemaker_session.call(
            "GET", f"/api/endpoint-configs/{description['EndpointConfigName']}"
        )
        for variant in config["ProductionVariants"]:
            self.sagemaker_session.delete_model(variant["ModelName"])
