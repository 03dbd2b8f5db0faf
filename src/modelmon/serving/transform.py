"""Batch transform jobs: CreateTransformJob and friends, run inside the server.

:class:`TransformJobs` is the control plane (create, describe, list, stop) over
``transform_jobs`` rows; :class:`TransformRunner` runs each job in a background
thread of ``modelmon serve``: every input file (sorted) is read, split into
records, grouped into payloads, sent to the model, and its answers assembled
(:mod:`modelmon.serving.batch`) into ``{S3OutputPath}/{relative path}.out``,
written atomically once the whole file succeeded.

Status: ``InProgress`` from creation, then ``Completed``, ``Failed`` (the first
file that fails stops the job; its reason names the file, and the outputs of
the files before it stay), or ``Stopping`` → ``Stopped`` (after the payload in
flight; no partial output file is written). Files run one after the other;
``MaxConcurrentTransforms`` requests of one file are in flight at once (default
1; 0: up to 4). ``ModelClientConfig`` and ``TransformResources`` are accepted
and ignored; the job's ``Environment`` is laid over the model's. A job a server left ``InProgress``
(stopped or killed meanwhile) runs again from its first file when a server
starts: outputs and capture manifests are rewritten in place (manifest names
derive from the job's ARN, its start time is kept), so a re-run leaves the same
files — only fresh inference ids where GenerateInferenceId is on. Jobs are not
leased: with several server replicas on one database, run transforms on one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import filter_time, paginate, sort_rows
from modelmon.db.models import TransformJobRow, utcnow
from modelmon.errors import ConflictError, InputError, ModelmonError, NotFoundError
from modelmon.serving.batch import (
    OUTPUT_SUFFIX,
    Assembler,
    BatchError,
    InputFile,
    Stamp,
    capture_manifest,
    list_inputs,
    output_uri,
    payloads,
    read_input,
    split_records,
)
from modelmon.serving.registry import Hosting
from modelmon.serving.runtimes import InvocationError, Prediction, Runtime, load_container
from modelmon.serving.shapes import CreateTransformJobRequest
from modelmon.storage.files import atomic_write_bytes

log = logging.getLogger("modelmon.transform")

STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
RUNNING = ("InProgress", "Stopping")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PROGRESS_INTERVAL = 1.0  # seconds between progress writes within one file
DEFAULT_CONCURRENCY = 4  # MaxConcurrentTransforms 0: "the server decides"


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(
        f"Could not find requested job with name {name}", aws_code="ResourceNotFound"
    )


class TransformJobs:
    """Create, describe, list and stop transform jobs (SageMaker's shapes)."""

    def __init__(
        self, db: Database, settings: Settings, hosting: Hosting, runner: TransformRunner
    ) -> None:
        self.db = db
        self.settings = settings
        self.hosting = hosting
        self.runner = runner

    def create(self, request: CreateTransformJobRequest) -> dict[str, Any]:
        request.check_supported()
        arn = self.settings.arn("transform-job", request.TransformJobName)
        try:
            self.hosting.model_container(request.ModelName)
        except NotFoundError:
            model_arn = self.settings.arn("model", request.ModelName)
            raise InputError(f'Could not find model "{model_arn}".', field="ModelName") from None
        with self.db.session() as session:
            if session.get(TransformJobRow, request.TransformJobName) is not None:
                raise self._in_use(request.TransformJobName, arn)
        source = request.TransformInput.DataSource.S3DataSource
        list_inputs(source.S3DataType, source.S3Uri, _own_prefixes(request))  # or InputError
        request.BatchStrategy = request.strategy  # describe answers the strategy in effect
        document = request.model_dump(mode="json", exclude_none=True)
        now = utcnow()
        try:
            with self.db.session() as session:
                session.add(
                    TransformJobRow(
                        name=request.TransformJobName,
                        arn=arn,
                        model_name=request.ModelName,
                        request=document,
                        status="InProgress",
                        creation_time=now,
                        last_modified_time=now,
                    )
                )
        except IntegrityError:  # created meanwhile by another request
            raise self._in_use(request.TransformJobName, arn) from None
        self.runner.submit(request.TransformJobName)
        return {"TransformJobArn": arn}

    @staticmethod
    def _in_use(name: str, arn: str) -> ConflictError:
        return ConflictError(
            f"TransformJobName {name!r} is in use: a transform job with this name already "
            f'exists ("{arn}"). Job names must be unique within an account and region.',
            aws_code="ResourceInUse",
        )

    def describe(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(TransformJobRow, name)
            if row is None:
                raise _not_found(name)
            return _describe_document(row)

    def list(
        self,
        *,
        name_contains: str | None = None,
        status_equals: str | None = None,
        creation_time_after: Any = None,
        creation_time_before: Any = None,
        last_modified_time_after: Any = None,
        last_modified_time_before: Any = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        if status_equals and status_equals not in STATUSES:
            raise InputError(
                f"StatusEquals must be one of {', '.join(STATUSES)}", field="StatusEquals"
            )
        bounds = [
            (filter_time(value, member), column, sign)
            for value, member, column, sign in (
                (creation_time_after, "CreationTimeAfter", "creation_time", 1),
                (creation_time_before, "CreationTimeBefore", "creation_time", -1),
                (last_modified_time_after, "LastModifiedTimeAfter", "last_modified_time", 1),
                (last_modified_time_before, "LastModifiedTimeBefore", "last_modified_time", -1),
            )
        ]
        with self.db.session() as session:
            rows = list(session.scalars(select(TransformJobRow)))
        rows = [
            r
            for r in rows
            if (not name_contains or name_contains in r.name)
            and (not status_equals or r.status == status_equals)
            and all(
                bound is None
                or (getattr(r, column) > bound if sign > 0 else getattr(r, column) < bound)
                for bound, column, sign in bounds
            )
        ]
        ordered = sort_rows(rows, sort_by, sort_order, {"Status": lambda r: r.status})
        page, token = paginate(ordered, next_token, max_results)
        summaries = []
        for r in page:
            summary: dict[str, Any] = {
                "TransformJobName": r.name,
                "TransformJobArn": r.arn,
                "CreationTime": r.creation_time,
            }
            if r.end_time is not None:
                summary["TransformEndTime"] = r.end_time
            summary["LastModifiedTime"] = r.last_modified_time
            summary["TransformJobStatus"] = r.status
            if r.failure_reason:
                summary["FailureReason"] = r.failure_reason
            summaries.append(summary)
        return {"TransformJobSummaries": summaries, **({"NextToken": token} if token else {})}

    def stop(self, name: str) -> None:
        """StopTransformJob: InProgress → Stopping (the runner makes it Stopped)."""
        with self.db.session() as session:
            row = session.get(TransformJobRow, name)
            if row is None:
                raise _not_found(name)
            if row.status in ("Stopping", "Stopped"):
                return
            if row.status != "InProgress":
                raise ConflictError(
                    f"Transform job {name} is {row.status}; only an InProgress job can be stopped."
                )
            row.status = "Stopping"
            row.last_modified_time = utcnow()
        self.runner.cancel(name)


def _describe_document(row: TransformJobRow) -> dict[str, Any]:
    request = row.request
    document: dict[str, Any] = {
        "TransformJobName": row.name,
        "TransformJobArn": row.arn,
        "TransformJobStatus": row.status,
    }
    if row.failure_reason:
        document["FailureReason"] = row.failure_reason
    document["ModelName"] = row.model_name
    for member in (
        "MaxConcurrentTransforms",
        "ModelClientConfig",
        "MaxPayloadInMB",
        "BatchStrategy",
        "Environment",
        "TransformInput",
        "TransformOutput",
        "DataCaptureConfig",
    ):
        if member in request:
            document[member] = request[member]
    document["TransformResources"] = request.get("TransformResources") or {"InstanceCount": 1}
    document["CreationTime"] = row.creation_time
    if row.start_time is not None:
        document["TransformStartTime"] = row.start_time
    if row.end_time is not None:
        document["TransformEndTime"] = row.end_time
    if "DataProcessing" in request:
        document["DataProcessing"] = request["DataProcessing"]
    document["LastModifiedTime"] = row.last_modified_time
    document["Progress"] = {  # modelmon's own member
        "FilesDone": row.files_done,
        "FilesTotal": row.files_total,
        "RecordsDone": row.records_done,
    }
    return document


# ---------------------------------------------------------------- the runner


class _Stopped(Exception):
    """The job was asked to stop (StopTransformJob)."""


class _Interrupted(Exception):
    """The server is shutting down: the job stays InProgress and runs again at the next start."""


class _JobFailed(Exception):
    """The job failed; ``str(err)`` is its FailureReason."""


class TransformRunner:
    """Runs transform jobs in background threads of this server process."""

    def __init__(self, db: Database, settings: Settings, hosting: Hosting) -> None:
        self.db = db
        self.settings = settings
        self.hosting = hosting
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(
            max_workers=settings.transform_jobs, thread_name_prefix="transform"
        )
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._futures: list[Future[None]] = []

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Resume the jobs a previous server left running; finish those left Stopping."""
        with self.db.session() as session:
            rows = list(
                session.scalars(select(TransformJobRow).where(TransformJobRow.status.in_(RUNNING)))
            )
            pending = sorted((r.creation_time, r.name, r.status) for r in rows)
        for _, name, status in pending:
            if status == "Stopping":
                self._finish(name, "Stopped", None)
            else:
                log.info("transform job %s: resuming", name)
                self.submit(name)

    def submit(self, name: str) -> None:
        """Run the job ``name`` (queued when every worker is busy)."""
        if self._closing.is_set():
            return
        with self._lock:
            self._stops.setdefault(name, threading.Event())
            self._futures = [f for f in self._futures if not f.done()]
            self._futures.append(self._pool.submit(self._run, name))

    def cancel(self, name: str) -> None:
        """Ask a running job to stop after the payload in flight."""
        with self._lock:
            event = self._stops.get(name)
        if event is not None:
            event.set()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop taking work; running jobs pause after their payload and stay InProgress."""
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for future in list(self._futures):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with suppress(Exception):  # cancelled, or already logged
                future.result(timeout=remaining)

    # -- the database -----------------------------------------------------------------

    def _claim(self, name: str) -> tuple[CreateTransformJobRequest, str, dt.datetime] | None:
        """Mark the job started by this process: (request, ARN, start time); None if the job
        is no longer InProgress (finished, deleted, or Stopping → made Stopped here)."""
        with self.db.session() as session:
            row = session.get(TransformJobRow, name)
            if row is None or row.status not in RUNNING:
                return None
            status = row.status
            if status == "InProgress":
                now = utcnow()
                if row.start_time is None:
                    row.start_time = now
                row.owner = self.owner
                row.files_done = row.files_total = row.records_done = 0
                row.last_modified_time = now
                request = CreateTransformJobRequest.model_validate(row.request)
                arn, started = row.arn, row.start_time
        if status == "Stopping":
            self._finish(name, "Stopped", None)
            return None
        return request, arn, started

    def _progress(self, name: str, total: int, files: int, records: int) -> None:
        with self.db.session() as session:
            session.execute(
                update(TransformJobRow)
                .where(TransformJobRow.name == name)
                .values(
                    files_total=total,
                    files_done=files,
                    records_done=records,
                    last_modified_time=utcnow(),
                )
            )

    def _status(self, name: str) -> str | None:
        with self.db.session() as session:
            row = session.get(TransformJobRow, name)
            return row.status if row is not None else None

    def _finish(self, name: str, status: str, reason: str | None) -> None:
        now = utcnow()
        with self.db.session() as session:
            session.execute(
                update(TransformJobRow)
                .where(TransformJobRow.name == name, TransformJobRow.status.in_(RUNNING))
                .values(status=status, failure_reason=reason, end_time=now, last_modified_time=now)
            )

    # -- running one job -----------------------------------------------------------------

    def _run(self, name: str) -> None:
        try:
            claimed = self._claim(name)
            if claimed is None:
                return
            request, arn, started = claimed
            stop = self._stops.setdefault(name, threading.Event())
            try:
                self._transform(name, request, arn, started, stop)
            except _Interrupted:
                log.info("transform job %s: paused by shutdown; it resumes at the next start", name)
                return
            except _Stopped:
                self._finish(name, "Stopped", None)
            except _JobFailed as err:
                log.warning("transform job %s failed: %s", name, err)
                self._finish(name, "Failed", str(err))
            except Exception as err:  # a bug must fail the job, not hang it InProgress
                log.exception("transform job %s crashed", name)
                self._finish(name, "Failed", f"InternalFailure: {type(err).__name__}: {err}")
            else:
                self._finish(name, "Completed", None)
        finally:
            with self._lock:
                self._stops.pop(name, None)

    def _check(self, name: str, stop: threading.Event, *, ask_db: bool = False) -> None:
        if self._closing.is_set():
            raise _Interrupted
        if stop.is_set() or (ask_db and self._status(name) == "Stopping"):
            raise _Stopped

    def _transform(
        self,
        name: str,
        request: CreateTransformJobRequest,
        arn: str,
        started: dt.datetime,
        stop: threading.Event,
    ) -> None:
        source = request.TransformInput.DataSource.S3DataSource
        capture = request.DataCaptureConfig
        try:
            prefix, inputs = list_inputs(source.S3DataType, source.S3Uri, _own_prefixes(request))
        except InputError as err:
            raise _JobFailed(f"ClientError: {err}") from None
        self._progress(name, len(inputs), 0, 0)
        if capture is not None:
            input_manifest, output_manifest = _manifest_uris(capture.DestinationS3Uri, arn, started)
            names = [f.relative for f in inputs]
            atomic_write_bytes(input_manifest, capture_manifest(prefix, names))
        runtime = self._runtime(request)
        stamp = None
        if capture is not None and capture.GenerateInferenceId:
            stamp = Stamp(started.strftime(TIME_FORMAT))
        assembler = Assembler.for_job(request, stamp)
        concurrency = request.MaxConcurrentTransforms
        if concurrency is None:
            concurrency = 1
        elif concurrency == 0:
            concurrency = min(DEFAULT_CONCURRENCY, os.cpu_count() or 1)
        written: list[str] = []
        records_done = 0
        try:
            for index, file in enumerate(inputs):
                self._check(name, stop, ask_db=True)
                counted = self._reporter(name, len(inputs), index, records_done)
                count = self._transform_file(
                    name, request, file, runtime, assembler, concurrency, stop, counted
                )
                written.append(file.relative)
                records_done += count
                self._progress(name, len(inputs), index + 1, records_done)
        finally:
            if capture is not None and written:
                output_prefix = request.TransformOutput.S3OutputPath.rstrip("/") + "/"
                outputs = [f"{relative}{OUTPUT_SUFFIX}" for relative in written]
                atomic_write_bytes(output_manifest, capture_manifest(output_prefix, outputs))

    def _reporter(
        self, name: str, total: int, files_done: int, records_before: int
    ) -> Callable[[int], None]:
        """A callback for the records done within a file: progress at most once a second."""
        last = time.monotonic()

        def counted(records: int) -> None:
            nonlocal last
            if time.monotonic() - last >= PROGRESS_INTERVAL:
                last = time.monotonic()
                self._progress(name, total, files_done, records_before + records)

        return counted

    def _runtime(self, request: CreateTransformJobRequest) -> Runtime:
        try:
            container = self.hosting.model_container(request.ModelName)
            container.pop("_version", None)
            return load_container(
                container,
                self.settings.model_cache_dir,
                name=request.ModelName,
                environment=request.Environment,
            )
        except ModelmonError as err:
            raise _JobFailed(f"ClientError: model {request.ModelName}: {err}") from None

    def _transform_file(
        self,
        name: str,
        request: CreateTransformJobRequest,
        file: InputFile,
        runtime: Runtime,
        assembler: Assembler,
        concurrency: int,
        stop: threading.Event,
        counted: Callable[[int], None],
    ) -> int:
        """Transform one file and write its output; returns its number of records."""
        try:
            data = read_input(file.uri, request.TransformInput.CompressionType)
            records = split_records(data, request.TransformInput.SplitType)
            groups = list(payloads(records, request.strategy, request.max_payload_bytes))
        except (BatchError, InputError) as err:
            raise _JobFailed(f"ClientError: {file.uri}: {err}") from None
        content_type = request.TransformInput.ContentType
        accept = request.TransformOutput.Accept

        def invoke(group: list[bytes]) -> Prediction:
            self._check(name, stop)
            body = group[0] if len(group) == 1 else b"\n".join(group)
            try:
                return runtime.invoke(body, content_type, accept)
            except InvocationError as err:
                raise _model_failure(file.uri, err) from None
            except Exception as err:  # a runtime bug is the model's failure, not the server's
                failure = InvocationError(500, f"{type(err).__name__}: {err}")
                raise _model_failure(file.uri, failure) from err

        pieces = []
        done = 0
        for group, answer in zip(groups, _ordered(invoke, groups, concurrency), strict=True):
            try:
                pieces.append(assembler.piece(group, answer))
            except BatchError as err:
                raise _JobFailed(f"ClientError: {file.uri}: {err}") from None
            done += len(group)
            counted(done)
        atomic_write_bytes(output_uri(request.TransformOutput.S3OutputPath, file), b"".join(pieces))
        return len(records)


def _ordered(
    invoke: Callable[[list[bytes]], Prediction], groups: list[list[bytes]], concurrency: int
) -> Iterator[Prediction]:
    """``invoke`` over ``groups`` in order, with up to ``concurrency`` requests in flight."""
    if concurrency <= 1 or len(groups) <= 1:
        for group in groups:
            yield invoke(group)
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="transform-call") as pool:
        window: deque[Future[Prediction]] = deque()
        pending = iter(groups)
        try:
            for group in pending:
                window.append(pool.submit(invoke, group))
                if len(window) >= concurrency:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


def _own_prefixes(request: CreateTransformJobRequest) -> tuple[str, ...]:
    """Where the job writes (never read as its input, when under the input prefix)."""
    capture = request.DataCaptureConfig
    own = (request.TransformOutput.S3OutputPath,)
    return own + ((capture.DestinationS3Uri,) if capture is not None else ())


def _model_failure(uri: str, err: InvocationError) -> _JobFailed:
    kind = "client" if 400 <= err.status < 500 else "server"
    return _JobFailed(
        f"ModelError: {uri}: Received {kind} error ({err.status}) from the model with message "
        f'"{err.message}".'
    )


def _manifest_uris(destination: str, arn: str, started: dt.datetime) -> tuple[str, str]:
    """The input and output manifests of a job with DataCaptureConfig (SPEC §4.3):
    ``{destination}/{input|output}/yyyy/mm/dd/hh/{uuid}.manifest``, hour of the job's start
    (UTC), uuid derived from the job's ARN so that a resumed job rewrites the same files."""
    hour = started.astimezone(dt.UTC).strftime("%Y/%m/%d/%H")
    base = destination.rstrip("/")
    return tuple(  # type: ignore[return-value]
        f"{base}/{kind}/{hour}/{uuid.uuid5(uuid.NAMESPACE_URL, f'{arn}/{kind}')}.manifest"
        for kind in ("input", "output")
    )
