"""``DataCaptureConfig`` as in ``sagemaker.model_monitor``; ``BatchDataCaptureConfig`` as in
``sagemaker.inputs``."""

from __future__ import annotations

from typing import Any

from modelmon.sdk.session import Session

_MODES = {"REQUEST": "Input", "RESPONSE": "Output", "INPUT": "Input", "OUTPUT": "Output"}


class DataCaptureConfig:
    """What an endpoint captures: sampling percentage, destination, request/response."""

    def __init__(
        self,
        enable_capture: bool,
        sampling_percentage: int = 20,
        destination_s3_uri: str | None = None,
        kms_key_id: str | None = None,
        capture_options: list[str | dict[str, str]] | None = None,
        csv_content_types: list[str] | None = None,
        json_content_types: list[str] | None = None,
        sagemaker_session: Session | None = None,
    ) -> None:
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri
        self.kms_key_id = kms_key_id
        self.capture_options = capture_options or ["REQUEST", "RESPONSE"]
        self.csv_content_types = csv_content_types or ["text/csv"]
        self.json_content_types = json_content_types or ["application/json"]
        self.sagemaker_session = sagemaker_session

    def _to_request_dict(self, session: Session | None = None) -> dict[str, Any]:
        """The DataCaptureConfig member of CreateEndpointConfig."""
        destination = self.destination_s3_uri
        if destination is None:
            session = session or self.sagemaker_session or Session()
            destination = f"s3://{session.default_bucket()}/model-monitor/data-capture"
        options = []
        for option in self.capture_options:
            # "REQUEST", or {"CaptureMode": "REQUEST"} as SageMaker's examples write it
            value = option.get("CaptureMode") if isinstance(option, dict) else option
            mode = _MODES.get(str(value).upper())
            if mode is None:
                raise ValueError(
                    "capture option must be REQUEST or RESPONSE (or "
                    f'{{"CaptureMode": "REQUEST"}}), got {option!r}'
                )
            options.append({"CaptureMode": mode})
        request: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": destination,
            "CaptureOptions": options,
            "CaptureContentTypeHeader": {
                "CsvContentTypes": self.csv_content_types,
                "JsonContentTypes": self.json_content_types,
            },
        }
        if self.kms_key_id is not None:
            request["KmsKeyId"] = self.kms_key_id
        return request


class BatchDataCaptureConfig:
    """What a batch transform job captures (SPEC §4.3): manifests of its input and output
    files under ``destination_s3_uri``; ``generate_inference_id`` adds an inference id and
    time to every output record."""

    def __init__(
        self,
        destination_s3_uri: str,
        kms_key_id: str | None = None,
        generate_inference_id: bool | None = None,
    ) -> None:
        self.destination_s3_uri = destination_s3_uri
        self.kms_key_id = kms_key_id
        self.generate_inference_id = generate_inference_id

    def _to_request_dict(self) -> dict[str, Any]:
        """The DataCaptureConfig member of CreateTransformJob."""
        request: dict[str, Any] = {"DestinationS3Uri": self.destination_s3_uri}
        if self.kms_key_id is not None:
            request["KmsKeyId"] = self.kms_key_id
        if self.generate_inference_id is not None:
            request["GenerateInferenceId"] = self.generate_inference_id
        return request
