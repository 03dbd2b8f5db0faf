"""Running the server: uvicorn on the app, with the bound address reported."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from modelmon.api.app import create_app
from modelmon.config import Settings


def invocations_first(app: FastAPI) -> ASGIApp:
    """``app`` with ``/endpoints/...`` answered by a bare Starlette app in front of it.

    FastAPI wraps every request in several middlewares and a telemetry check; the
    runtime routes do not need them and the hot path is ~10% faster without.
    Lifespan and everything else go to ``app``.
    """
    invoker = app.state.services.invoker
    async_invoker = app.state.services.async_invoker
    runtime = Starlette(
        routes=[
            Route("/endpoints/{name}/invocations", invoker.handle, methods=["POST"]),
            Route("/endpoints/{name}/async-invocations", async_invoker.handle, methods=["POST"]),
        ]
    )

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/endpoints/"):
            await runtime(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


async def _report_address(server: uvicorn.Server, port_file: Path | None) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    print(f"modelmon serving on http://{host}:{port} (API docs at /docs)", flush=True)
    if port_file is not None:
        temp = port_file.with_name(f".{port_file.name}.tmp")
        temp.write_text(str(port))
        os.replace(temp, port_file)


async def _serve(server: uvicorn.Server, port_file: Path | None) -> None:
    reporter = asyncio.create_task(_report_address(server, port_file))
    try:
        await server.serve()
    finally:
        reporter.cancel()


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    port_file: Path | None = None,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM; ``port`` 0 picks a free port (written to ``port_file``)."""
    config = uvicorn.Config(
        invocations_first(create_app(settings, log_level=log_level)),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=30,
    )
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal
    # to the handler that was in place before: make that one a clean exit.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    # The libraries loaded so far (numpy, scikit-learn, SQLAlchemy, ...) are hundreds of
    # thousands of long-lived objects: out of the collector's sight, its full passes over
    # request garbage stay cheap.
    gc.freeze()
    # the loop uvicorn would pick (uvloop when installed): uvicorn.run does the same
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(uvicorn.Server(config), port_file))


def _exit_cleanly(_signum: int, _frame: object) -> None:
    sys.exit(0)
