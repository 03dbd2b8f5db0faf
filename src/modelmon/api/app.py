"""The server application: control plane, runtime routes and background services.

One process serves the REST API (``/api``, OpenAPI at ``/docs``), SageMaker's
control-plane wire protocol (``POST /``), the runtime
(``/endpoints/{name}/invocations`` and ``/async-invocations``), and runs the
host's reconcile loop, the capture writer, the batch transform runner, the
monitoring scheduler (unless ``MODELMON_SCHEDULER=off``: then ``modelmon
scheduler`` runs it); it starts the asynchronous inference worker as a child
process (unless ``MODELMON_ASYNC_WORKERS=off``: then ``modelmon worker`` processes
started alone work the queue).
Stopping it (SIGTERM/SIGINT) finishes requests in flight, publishes every
captured record, pauses transform jobs after their current payload (they
resume at the next start) and gives running monitoring executions
``MODELMON_EXECUTION_GRACE`` seconds to finish (then they are Failed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse
from starlette.routing import Route

import modelmon
from modelmon.alerting import Alerting, Exposition
from modelmon.api import alerting_routes, awsjson, errors, rest
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.errors import ModelmonError
from modelmon.monitoring.baselining import BaseliningJobs
from modelmon.monitoring.registry import Monitoring
from modelmon.monitoring.runner import Runner
from modelmon.monitoring.scheduler import Scheduler
from modelmon.serving.async_invocation import AsyncInvoker
from modelmon.serving.async_queue import AsyncQueue
from modelmon.serving.capture import CaptureWriter
from modelmon.serving.host import Host
from modelmon.serving.invocation import LATENCY_BOUNDS, Invoker
from modelmon.serving.registry import Hosting
from modelmon.serving.transform import TransformJobs, TransformRunner
from modelmon.serving.worker_process import WorkerProcess

log = logging.getLogger("modelmon.server")


class Services:
    """What one server process runs besides HTTP: database, host, capture writer,
    transform runner, monitoring scheduler."""

    def __init__(self, settings: Settings, *, log_level: str = "info") -> None:
        settings.prepare()
        self.settings = settings
        self.db = Database(settings.database_url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self.hosting = Hosting(self.db, settings, on_change=self.wake)
        self.host = Host(self.hosting, settings)
        self.capture = CaptureWriter(
            settings.capture_spool_dir,
            queue_size=settings.capture_queue_size,
            disk_threshold=settings.capture_disk_threshold,
        )
        self.invoker = Invoker(self.host, self.capture, settings.account_id)
        self.async_queue = AsyncQueue(self.db)
        self.async_worker: WorkerProcess | None = None
        if settings.async_workers:
            self.async_worker = WorkerProcess(
                settings.data_dir, log_level=log_level, on_published=self._deliver_now
            )
        self.async_invoker = AsyncInvoker(
            self.host,
            self.async_queue,
            settings.account_id,
            on_queued=self.async_worker.wake if self.async_worker is not None else None,
        )
        self.transform_runner = TransformRunner(self.db, settings, self.hosting)
        self.transforms = TransformJobs(self.db, settings, self.hosting, self.transform_runner)
        self.scheduler: Scheduler | None = None
        self.monitoring = Monitoring(self.db, settings, self.hosting, on_change=self.wake_scheduler)
        runner = Runner()
        # metrics, alarms, topics; ``self.alerting.publish`` is the notification callable
        self.alerting = Alerting(self.db, settings)
        if settings.scheduler:
            self.scheduler = Scheduler(
                self.db, settings, self.monitoring, runner, on_finished=self.alerting.on_finished
            )
        self.baselining = BaseliningJobs(self.db, settings, runner)
        self.exposition = Exposition(
            self.db,
            self.alerting.metrics,
            invocation_stats=self.invoker.stats,
            latency_bounds=LATENCY_BOUNDS,
            capture_counters=self.capture.counters,
            delivery_counters=self.alerting.worker.counters if self.alerting.worker else None,
        )
        self.exposition.add_source("async_queue", self.async_queue.stats)

    def _deliver_now(self) -> None:
        """The worker process published a notification: deliver it now, not at the next poll."""
        if self.alerting.worker is not None:
            self.alerting.worker.wake()

    def wake_scheduler(self) -> None:
        """Ask the scheduler to tick now (a NOW run to start, an execution to stop)."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def wake(self) -> None:
        """Ask the reconcile loops (this process's, the worker's) to run now (any thread)."""
        if self._loop is not None and self._changed is not None:
            self._loop.call_soon_threadsafe(self._changed.set)
        if self.async_worker is not None:
            self.async_worker.endpoints_changed()

    async def reconcile_forever(self) -> None:
        assert self._changed is not None
        while True:
            try:
                await anyio.to_thread.run_sync(self.host.reconcile)
            except Exception:  # keep serving; the next round retries
                log.exception("reconciling endpoints failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait(), timeout=self.settings.reconcile_interval
                )
            self._changed.clear()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self.capture.start()
        await anyio.to_thread.run_sync(self.host.reconcile)  # serve what was InService
        await anyio.to_thread.run_sync(self.transform_runner.start)  # resume transform jobs
        await anyio.to_thread.run_sync(self.baselining.recover)
        task = asyncio.create_task(self.reconcile_forever())
        await anyio.to_thread.run_sync(self.alerting.start)  # pending deliveries resume
        if self.scheduler is not None:
            self.scheduler.start()
        if self.async_worker is not None:
            await anyio.to_thread.run_sync(self.async_worker.start)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if self.scheduler is not None:
                await anyio.to_thread.run_sync(self.scheduler.stop)
            if self.async_worker is not None:
                await anyio.to_thread.run_sync(self.async_worker.stop)
            await anyio.to_thread.run_sync(self.transform_runner.shutdown)
            await anyio.to_thread.run_sync(self.baselining.shutdown)
            await anyio.to_thread.run_sync(self.capture.stop)
            await anyio.to_thread.run_sync(self.alerting.stop)
            self.db.dispose()


def create_app(settings: Settings | None = None, *, log_level: str = "info") -> FastAPI:
    """The modelmon server as an ASGI app (``log_level``: its worker process's)."""
    services = Services(settings or Settings(), log_level=log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with services.running():
            yield

    app = FastAPI(
        title="modelmon",
        version=modelmon.__version__,
        description="Self-hosted model hosting and monitoring with SageMaker's API shapes.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.hosting = services.hosting
    app.state.transforms = services.transforms
    app.state.monitoring = services.monitoring
    app.state.baselining = services.baselining
    app.state.capture_writer = services.capture
    app.state.alerting = services.alerting
    app.state.exposition = services.exposition
    app.add_exception_handler(ModelmonError, errors.modelmon_error)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    # the invocation hot path is a plain Starlette route, first in the table
    app.router.routes.insert(
        0, Route("/endpoints/{name}/invocations", services.invoker.handle, methods=["POST"])
    )
    app.router.routes.insert(
        1,
        Route(
            "/endpoints/{name}/async-invocations", services.async_invoker.handle, methods=["POST"]
        ),
    )
    app.router.routes.insert(2, Route("/", awsjson.dispatch, methods=["POST"]))
    app.include_router(rest.router)
    app.include_router(alerting_routes.router)

    @app.get("/api/async-queue", tags=["async inference"])
    def async_queue_stats() -> list[dict[str, Any]]:
        """Per endpoint: queued async requests, requests in flight, oldest request's age (s)."""
        return services.async_queue.stats()

    @app.get("/ping", tags=["health"])
    def ping() -> JSONResponse:
        """Health check."""
        return JSONResponse({"status": "ok"})

    return app
