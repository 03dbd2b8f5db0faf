"""The serving floor: a bare Starlette app that answers one model's predictions.

    .venv/bin/python bench/bare_app.py --model MODEL.joblib --port-file FILE [--port 0]

One route, the same URL shape as modelmon's runtime
(``POST /endpoints/{name}/invocations``): the CSV body parsed with numpy,
``predict_proba(...)[:, 1]``, the probability answered as ``text/csv``. No
validation, no capture, no routing table beyond the one route: what serving a
scikit-learn model over HTTP costs at the least with this stack. It runs under
uvicorn with modelmon's settings (one process, ``loop``/``http`` auto, so uvloop
and httptools when installed; access log off; log level warning). The bound port
is written to ``--port-file`` before serving starts (connections made before
then wait in the listen backlog); SIGTERM stops it gracefully.

Used by bench/serving.py; see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import joblib
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(model_path: str) -> Starlette:
    model = joblib.load(model_path)
    predict_proba = model.predict_proba

    async def invoke(request: Request) -> Response:
        body = await request.body()
        row = np.array(body.split(b","), dtype=float).reshape(1, -1)
        probability = float(predict_proba(row)[:, 1][0])
        return Response(repr(probability), media_type="text/csv")

    return Starlette(routes=[Route("/endpoints/{name}/invocations", invoke, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a joblib file with predict_proba")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()

    app = create_app(args.model)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)  # uvicorn's default backlog
    sock.set_inheritable(True)
    if args.port_file is not None:
        temp = args.port_file.with_name(f".{args.port_file.name}.tmp")
        temp.write_text(str(sock.getsockname()[1]))
        os.replace(temp, args.port_file)
    config = uvicorn.Config(
        app,
        loop="auto",
        http="auto",
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=30,
    )
    # Server.run picks the event loop from config (uvloop under "auto" when installed)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
