"""Fixtures shared by the monitoring tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.serving.registry import Hosting
from modelmon.serving.shapes import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    parse,
)


@pytest.fixture
def capturing_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, Database, Hosting]]:
    """Settings, a fresh database and an endpoint (the test module's ``ENDPOINT``) that
    captures everything to the module's ``CAPTURE`` URI; never served."""
    endpoint, capture = request.module.ENDPOINT, request.module.CAPTURE
    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(tmp_path / "objects"))
    monkeypatch.delenv("MODELMON_DATABASE_URL", raising=False)
    monkeypatch.delenv("MODELMON_ANALYZER_IMAGES", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.prepare()
    db = Database(settings.database_url)
    hosting = Hosting(db, settings)
    artifact = tmp_path / "model.joblib"
    artifact.write_bytes(b"not loaded in these tests")
    hosting.create_model(
        parse(
            CreateModelRequest,
            {"ModelName": "m", "PrimaryContainer": {"ModelDataUrl": str(artifact)}},
        )
    )
    hosting.create_endpoint_config(
        parse(
            CreateEndpointConfigRequest,
            {
                "EndpointConfigName": "c",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
                "DataCaptureConfig": {
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": capture,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                },
            },
        )
    )
    hosting.create_endpoint(
        parse(CreateEndpointRequest, {"EndpointName": endpoint, "EndpointConfigName": "c"})
    )
    yield settings, db, hosting
    db.dispose()
