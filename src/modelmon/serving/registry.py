"""The hosting control plane: models, endpoint configs and endpoints in the database.

Operations take SageMaker's request shapes (:mod:`modelmon.serving.shapes`) and
answer SageMaker's response shapes as dicts (datetimes left as objects for the
API layer to render). Loading models is not done here: an endpoint is written
``Creating`` and the host (:mod:`modelmon.serving.host`) brings it to
``InService`` or ``Failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import paginate, sort_rows
from modelmon.db.models import EndpointConfigRow, EndpointRow, ModelRow, utcnow
from modelmon.errors import ConflictError, InputError, NotFoundError
from modelmon.serving.async_request import AsyncConfig
from modelmon.serving.shapes import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    UpdateEndpointRequest,
)
from modelmon.storage.files import expand

CAPTURE_PREFIX = "model-monitor/data-capture"
LIVE_STATUSES = ("Creating", "Updating", "InService")


class Hosting:
    """Create, describe, list, update and delete hosting resources."""

    def __init__(
        self, db: Database, settings: Settings, on_change: Callable[[], None] | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.on_change = on_change or (lambda: None)

    # -- models ------------------------------------------------------------------

    def create_model(self, request: CreateModelRequest) -> dict[str, Any]:
        container = request.container()
        if container.ModelDataUrl:
            try:
                expand(container.ModelDataUrl)
            except InputError as err:
                raise InputError(
                    f"model artifact {container.ModelDataUrl} not found ({err.reason})",
                    field="PrimaryContainer.ModelDataUrl",
                ) from None
        elif not (container.Environment or {}).get("SAGEMAKER_PROGRAM"):
            raise InputError(
                "ModelDataUrl is required (or SAGEMAKER_PROGRAM for a script model)",
                field="PrimaryContainer.ModelDataUrl",
            )
        arn = self.settings.arn("model", request.ModelName)
        with self.db.session() as session:
            if session.get(ModelRow, request.ModelName) is not None:
                raise ConflictError(f'Cannot create already existing model "{arn}".')
            session.add(
                ModelRow(
                    name=request.ModelName,
                    arn=arn,
                    primary_container=container.model_dump(exclude_none=True),
                    execution_role_arn=request.ExecutionRoleArn,
                    tags=request.Tags,
                )
            )
        return {"ModelArn": arn}

    def _model(self, session: Session, name: str) -> ModelRow:
        row = session.get(ModelRow, name)
        if row is None:
            raise NotFoundError(f'Could not find model "{self.settings.arn("model", name)}".')
        return row

    def describe_model(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._model(session, name)
            return {
                "ModelName": row.name,
                "PrimaryContainer": row.primary_container,
                "ExecutionRoleArn": row.execution_role_arn,
                "CreationTime": row.creation_time,
                "ModelArn": row.arn,
            }

    def list_models(
        self,
        *,
        name_contains: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        with self.db.session() as session:
            rows = list(session.scalars(select(ModelRow)))
        rows = [r for r in rows if not name_contains or name_contains in r.name]
        page, token = paginate(sort_rows(rows, sort_by, sort_order), next_token, max_results)
        return {
            "Models": [
                {"ModelName": r.name, "ModelArn": r.arn, "CreationTime": r.creation_time}
                for r in page
            ],
            **({"NextToken": token} if token else {}),
        }

    def delete_model(self, name: str) -> None:
        with self.db.session() as session:
            session.delete(self._model(session, name))

    def model_container(self, name: str) -> dict[str, Any]:
        """The stored container definition of a model (for loading it)."""
        with self.db.session() as session:
            row = self._model(session, name)
            return {**row.primary_container, "_version": row.creation_time.isoformat()}

    # -- endpoint configs ----------------------------------------------------------

    def create_endpoint_config(self, request: CreateEndpointConfigRequest) -> dict[str, Any]:
        arn = self.settings.arn("endpoint-config", request.EndpointConfigName)
        capture = None
        if request.DataCaptureConfig is not None:
            capture = request.DataCaptureConfig.model_dump(exclude_none=True)
            capture.setdefault(
                "DestinationS3Uri", f"s3://{self.settings.default_bucket}/{CAPTURE_PREFIX}"
            )
        _check_async_config(request.AsyncInferenceConfig)
        with self.db.session() as session:
            for i, variant in enumerate(request.ProductionVariants):
                if session.get(ModelRow, variant.ModelName) is None:
                    raise InputError(
                        f"model {variant.ModelName!r} does not exist",
                        field=f"ProductionVariants.{i}.ModelName",
                    )
            if session.get(EndpointConfigRow, request.EndpointConfigName) is not None:
                raise ConflictError(
                    f'Cannot create already existing endpoint configuration "{arn}".'
                )
            session.add(
                EndpointConfigRow(
                    name=request.EndpointConfigName,
                    arn=arn,
                    production_variants=[
                        v.model_dump(exclude_none=True) for v in request.ProductionVariants
                    ],
                    data_capture_config=capture,
                    async_inference_config=request.AsyncInferenceConfig,
                    tags=request.Tags,
                )
            )
        return {"EndpointConfigArn": arn}

    def _config(self, session: Session, name: str) -> EndpointConfigRow:
        row = session.get(EndpointConfigRow, name)
        if row is None:
            arn = self.settings.arn("endpoint-config", name)
            raise NotFoundError(f'Could not find endpoint configuration "{arn}".')
        return row

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._config(session, name)
            return _config_document(row)

    def list_endpoint_configs(
        self,
        *,
        name_contains: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        with self.db.session() as session:
            rows = list(session.scalars(select(EndpointConfigRow)))
        rows = [r for r in rows if not name_contains or name_contains in r.name]
        page, token = paginate(sort_rows(rows, sort_by, sort_order), next_token, max_results)
        return {
            "EndpointConfigs": [
                {
                    "EndpointConfigName": r.name,
                    "EndpointConfigArn": r.arn,
                    "CreationTime": r.creation_time,
                }
                for r in page
            ],
            **({"NextToken": token} if token else {}),
        }

    def delete_endpoint_config(self, name: str) -> None:
        with self.db.session() as session:
            session.delete(self._config(session, name))

    def endpoint_config(self, name: str) -> dict[str, Any]:
        """A stored endpoint config as its describe document."""
        return self.describe_endpoint_config(name)

    # -- endpoints ------------------------------------------------------------------

    def create_endpoint(self, request: CreateEndpointRequest) -> dict[str, Any]:
        arn = self.settings.arn("endpoint", request.EndpointName)
        with self.db.session() as session:
            self._config(session, request.EndpointConfigName)
            if session.get(EndpointRow, request.EndpointName) is not None:
                raise ConflictError(f'Cannot create already existing endpoint "{arn}".')
            now = utcnow()
            session.add(
                EndpointRow(
                    name=request.EndpointName,
                    arn=arn,
                    config_name=request.EndpointConfigName,
                    status="Creating",
                    generation=1,
                    tags=request.Tags,
                    creation_time=now,
                    last_modified_time=now,
                )
            )
        self.on_change()
        return {"EndpointArn": arn}

    def _endpoint(self, session: Session, name: str) -> EndpointRow:
        row = session.get(EndpointRow, name)
        if row is None:
            arn = self.settings.arn("endpoint", name)
            raise NotFoundError(f'Could not find endpoint "{arn}".')
        return row

    def update_endpoint(self, request: UpdateEndpointRequest) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._endpoint(session, request.EndpointName)
            self._config(session, request.EndpointConfigName)
            if row.status != "InService":
                raise ConflictError(
                    f"Cannot update endpoint {row.name!r} while it is {row.status}; "
                    "wait until it is InService."
                )
            row.pending_config_name = request.EndpointConfigName
            row.status = "Updating"
            row.failure_reason = None
            row.generation += 1
            row.last_modified_time = utcnow()
            arn = row.arn
        self.on_change()
        return {"EndpointArn": arn}

    def delete_endpoint(self, name: str) -> None:
        with self.db.session() as session:
            session.delete(self._endpoint(session, name))
        self.on_change()

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._endpoint(session, name)
            config = self._config(session, row.config_name)
            return _endpoint_document(row, config)

    def capture_destinations(self, names: Iterable[str]) -> dict[str, str | None]:
        """Each named endpoint's capture destination (None when its capture is off), in
        one query; endpoints that do not exist are left out."""
        wanted = set(names)
        if not wanted:
            return {}
        with self.db.session() as session:
            rows = session.execute(
                select(EndpointRow.name, EndpointConfigRow.data_capture_config)
                .join(EndpointConfigRow, EndpointConfigRow.name == EndpointRow.config_name)
                .where(EndpointRow.name.in_(wanted))
            ).all()
        return {
            name: capture["DestinationS3Uri"]
            if capture and capture.get("EnableCapture", True)
            else None
            for name, capture in rows
        }

    def list_endpoints(
        self,
        *,
        name_contains: str | None = None,
        status_equals: str | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        with self.db.session() as session:
            rows = list(session.scalars(select(EndpointRow)))
        rows = [
            r
            for r in rows
            if (not name_contains or name_contains in r.name)
            and (not status_equals or r.status == status_equals)
        ]
        page, token = paginate(sort_rows(rows, sort_by, sort_order), next_token, max_results)
        return {
            "Endpoints": [
                {
                    "EndpointName": r.name,
                    "EndpointArn": r.arn,
                    "CreationTime": r.creation_time,
                    "LastModifiedTime": r.last_modified_time,
                    "EndpointStatus": r.status,
                }
                for r in page
            ],
            **({"NextToken": token} if token else {}),
        }

    # -- for the host -----------------------------------------------------------------

    def live_endpoints(self) -> list[tuple[str, str, str | None, str, int]]:
        """(name, config, pending config, status, generation) of endpoints to serve."""
        with self.db.session() as session:
            rows = session.scalars(select(EndpointRow).where(EndpointRow.status.in_(LIVE_STATUSES)))
            return [
                (r.name, r.config_name, r.pending_config_name, r.status, r.generation) for r in rows
            ]

    def finish_deployment(
        self, name: str, generation: int, *, config_name: str, failure: str | None
    ) -> bool:
        """Record the outcome of loading ``generation`` of an endpoint.

        Creating → InService, or Failed with the reason; Updating → InService on
        the new config, or back on the old one with the reason (a rollback); an
        InService endpoint whose model no longer loads (at a restart) → Failed.
        Returns False when the endpoint changed meanwhile (another update, a delete).
        """
        with self.db.session() as session:
            row = session.get(EndpointRow, name)
            if row is None or row.generation != generation:
                return False
            values: dict[str, Any] = {"last_modified_time": utcnow(), "failure_reason": failure}
            if row.status == "Creating":
                values["status"] = "Failed" if failure else "InService"
            elif row.status == "InService" and failure:
                values["status"] = "Failed"  # its model can no longer be loaded
            elif row.status == "Updating":
                values["status"] = "InService"
                values["pending_config_name"] = None
                if not failure:
                    values["config_name"] = config_name
            else:
                return False
            done = session.execute(
                update(EndpointRow)
                .where(EndpointRow.name == name, EndpointRow.generation == generation)
                .values(**values)
            )
            return bool(done.rowcount)


def _check_async_config(config: dict[str, Any] | None) -> None:
    """Refuse a malformed AsyncInferenceConfig at creation (400 naming the member)."""
    try:
        AsyncConfig.from_config(config)
    except InputError as err:
        field = err.field or ""
        if not field.startswith("AsyncInferenceConfig"):
            field = f"AsyncInferenceConfig.{field}" if field else "AsyncInferenceConfig"
        raise InputError(err.reason, field=field) from None


def _config_document(row: EndpointConfigRow) -> dict[str, Any]:
    document: dict[str, Any] = {
        "EndpointConfigName": row.name,
        "EndpointConfigArn": row.arn,
        "ProductionVariants": row.production_variants,
    }
    if row.data_capture_config:
        document["DataCaptureConfig"] = row.data_capture_config
    if row.async_inference_config:
        document["AsyncInferenceConfig"] = row.async_inference_config
    document["CreationTime"] = row.creation_time
    return document


def _endpoint_document(row: EndpointRow, config: EndpointConfigRow) -> dict[str, Any]:
    variants = config.production_variants
    total = sum(v.get("InitialVariantWeight", 1.0) for v in variants) or 1.0
    document: dict[str, Any] = {
        "EndpointName": row.name,
        "EndpointArn": row.arn,
        "EndpointConfigName": row.config_name,
        "ProductionVariants": [
            {
                "VariantName": v["VariantName"],
                "CurrentWeight": v.get("InitialVariantWeight", 1.0),
                "DesiredWeight": v.get("InitialVariantWeight", 1.0),
                "CurrentInstanceCount": v.get("InitialInstanceCount", 1),
                "DesiredInstanceCount": v.get("InitialInstanceCount", 1),
                "TrafficShare": v.get("InitialVariantWeight", 1.0) / total,
            }
            for v in variants
        ],
    }
    capture = config.data_capture_config
    if capture:
        document["DataCaptureConfig"] = {
            "EnableCapture": capture.get("EnableCapture", True),
            "CaptureStatus": "Started" if capture.get("EnableCapture", True) else "Stopped",
            "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage", 20),
            "DestinationS3Uri": capture["DestinationS3Uri"],
        }
    if config.async_inference_config:
        document["AsyncInferenceConfig"] = config.async_inference_config
    document["EndpointStatus"] = row.status
    if row.failure_reason:
        document["FailureReason"] = row.failure_reason
    if row.pending_config_name:
        document["PendingDeploymentSummary"] = {"EndpointConfigName": row.pending_config_name}
    document["CreationTime"] = row.creation_time
    document["LastModifiedTime"] = row.last_modified_time
    return document
