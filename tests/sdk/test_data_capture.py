"""DataCaptureConfig's request, as SageMaker's SDK builds it."""

from __future__ import annotations

import pytest

from modelmon.sdk import DataCaptureConfig


@pytest.mark.parametrize(
    "options",
    [
        ["REQUEST", "RESPONSE"],
        [{"CaptureMode": "REQUEST"}, {"CaptureMode": "RESPONSE"}],  # SPEC §0's spelling
        [{"CaptureMode": "Input"}, "output"],
    ],
)
def test_capture_options_in_every_spelling(options) -> None:
    config = DataCaptureConfig(
        enable_capture=True,
        sampling_percentage=30,
        destination_s3_uri="s3://bucket/capture",
        capture_options=options,
    )
    request = config._to_request_dict()
    assert request["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert request["InitialSamplingPercentage"] == 30
    assert request["DestinationS3Uri"] == "s3://bucket/capture"


def test_an_unknown_capture_mode_names_itself() -> None:
    config = DataCaptureConfig(
        enable_capture=True, destination_s3_uri="s3://b/c", capture_options=["BOTH"]
    )
    with pytest.raises(ValueError, match="'BOTH'"):
        config._to_request_dict()
