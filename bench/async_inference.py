"""Async inference benchmark: sustained InvokeEndpointAsync throughput next to InvokeEndpoint,
and the delay from an output written to its notification delivered.

    .venv/bin/python bench/async_inference.py [--rounds 3] [--duration 10] [--connections 16]

One ``modelmon serve`` process hosts the serving benchmark's scikit-learn model
(bench/serving.py ``ensure_model``) twice: a real-time endpoint and an async one
(``AsyncInferenceConfig`` with the default MaxConcurrentInvocationsPerInstance,
its input one object of the same one-row CSV). Each round, wrk (bench/serving.py)
loads the real-time route for ``--duration`` seconds, then the async route for as
long: the async figure is **sustained** throughput, requests accepted during the
run divided by the time from the run's start until the last of them has its
output written (the queue drained), so a queue that only grows does not count.
No topic is configured during the throughput runs.

Then the notification delay: a topic with a webhook subscription to a receiver
in this process (loopback), ``--notify`` requests at about ``--notify-rate`` per
second; each delay is the receiver's arrival time minus the output object's
modification time (the moment it was written). Results go to bench/RESULTS.md
under "## Async inference (issue 7)".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from results import write_section

import serving  # bench/serving.py, beside this file

ROOT = serving.ROOT
WORK = serving.BENCH / ".work" / "async"
SECTION = "## Async inference (issue 7)"
INPUT = "s3://bench/async-in/body.csv"
OUTPUT = "s3://bench/async-out"
NAN = float("nan")


def start_server(data_dir: Path) -> serving.Server:
    argv = [str(serving.MODELMON), "serve", "--data-dir", str(data_dir), "--port", "0"]
    argv += ["--port-file", str(WORK / "modelmon.port"), "--log-level", "warning"]
    return serving.Server.start(
        "modelmon serve", argv, WORK / "modelmon.port", WORK / "modelmon.log"
    )


def deploy(server: serving.Server, model: Path, body: bytes) -> None:
    from modelmon.sdk import Model, Session

    with Session(server.base) as session:
        session.upload_bytes(body, INPUT)
        models = {
            name: Model(
                image_uri="sklearn",
                model_data=str(model),
                env={"MODELMON_PREDICT_METHOD": "predict_proba"},
                name=name,
                sagemaker_session=session,
            )
            for name in ("m-rt", "m-async")
        }
        models["m-rt"].deploy(endpoint_name="rt")
        models["m-async"].create()
        session.create_endpoint_config(
            EndpointConfigName="async",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m-async"}],
            AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": OUTPUT}},
        )
        session.create_endpoint(EndpointName="async", EndpointConfigName="async")
        session.wait_for_endpoint("async")


class Wrk:
    """wrk with a POST script (body and headers)."""

    def __init__(self, name: str, body: bytes, headers: dict[str, str], connections: int) -> None:
        self.wrk = shutil.which("wrk")
        if self.wrk is None:
            raise SystemExit("wrk is not installed (apt-get install -y wrk)")
        self.connections = connections
        self.script = WORK / f"{name}.lua"
        lines = ['wrk.method = "POST"', f"wrk.body = {serving._lua_string(body)}"]
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        self.script.write_text("\n".join(lines) + "\n")
        self.version = serving._wrk_version(self.wrk)

    def run(self, url: str, seconds: float) -> serving.Load:
        argv = [self.wrk, "-t1", f"-c{self.connections}", f"-d{seconds:g}s", "--latency"]
        argv += ["--timeout", "10s", "-s", str(self.script), url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
        return serving.parse_wrk(done.stdout)


def queue_of(server: serving.Server, endpoint: str) -> dict:
    for entry in serving.get_json(f"{server.base}/api/async-queue"):
        if entry["EndpointName"] == endpoint:
            return entry
    return {}


def count_outputs(data_dir: Path) -> int:
    folder = data_dir / "objects" / "bench" / "async-out"
    return sum(1 for _ in folder.glob("*.out")) if folder.exists() else 0


def async_round(
    server: serving.Server, wrk: Wrk, data_dir: Path, seconds: float
) -> tuple[float, int, float, int]:
    """(sustained req/s, accepted, seconds to drain after the load stopped, errors)."""
    before = count_outputs(data_dir)
    started = time.monotonic()
    load = wrk.run(f"{server.base}/endpoints/async/async-invocations", seconds)
    load_end = time.monotonic()
    deadline = load_end + 600
    while queue_of(server, "async"):
        if time.monotonic() > deadline:
            raise server.fail("the async queue did not drain within 10 minutes")
        time.sleep(0.05)
    drained = time.monotonic()
    written = count_outputs(data_dir) - before
    accepted = load.requests - load.errors
    if written != accepted:
        print(f"  note: {accepted} accepted, {written} outputs written", flush=True)
    return written / (drained - started), accepted, drained - load_end, load.errors


# ---------------------------------------------------------------- notification delay


class Receiver:
    """A webhook receiver on loopback: arrival time (epoch s) and body of each POST."""

    def __init__(self) -> None:
        self.got: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                at = time.time()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                with outer.lock:
                    outer.got.append((at, json.loads(body)))

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def results(self) -> list[tuple[float, dict]]:
        """The inference results received (not the endpoint's TestNotification)."""
        with self.lock:
            return [
                (at, body)
                for at, body in self.got
                if json.loads(body["Message"]).get("eventName") != "TestNotification"
            ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def notification_delays(
    server: serving.Server, data_dir: Path, model: Path, count: int, rate: float
) -> tuple[list[float], int]:
    """Delays (ms) from output written to notification received; and duplicates seen."""
    from modelmon.sdk import Session

    receiver = Receiver()
    try:
        with Session(server.base) as session:
            topic = session.call("POST", "/api/topics", json={"Name": "async-done"})["TopicArn"]
            session.call(
                "POST",
                "/api/subscriptions",
                json={"TopicArn": topic, "Protocol": "http", "Endpoint": receiver.url},
            )
            session.create_endpoint_config(
                EndpointConfigName="notified",
                ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m-async"}],
                AsyncInferenceConfig={
                    "OutputConfig": {
                        "S3OutputPath": f"{OUTPUT}-notified",
                        "NotificationConfig": {"SuccessTopic": topic, "ErrorTopic": topic},
                    }
                },
            )
            session.create_endpoint(EndpointName="notified", EndpointConfigName="notified")
            session.wait_for_endpoint("notified")
            outputs = []
            for index in range(count):
                next_at = time.monotonic() + 1.0 / rate
                answer = session.invoke_endpoint_async(
                    EndpointName="notified", InputLocation=INPUT, ContentType="text/csv"
                )
                outputs.append(answer["OutputLocation"])
                if index % 100 == 0:
                    print(f"  notified requests: {index}/{count}", flush=True)
                time.sleep(max(0.0, next_at - time.monotonic()))
        deadline = time.monotonic() + 120
        while len({b["MessageId"] for _, b in receiver.results()}) < count:
            if time.monotonic() > deadline:
                raise server.fail(f"only {len(receiver.got)} of {count} notifications arrived")
            time.sleep(0.05)
        got = receiver.results()
    finally:
        receiver.close()
    objects = data_dir / "objects"
    first: dict[str, float] = {}
    for at, body in got:
        first.setdefault(body["MessageId"], at)
    delays = []
    for at, body in got:
        if first[body["MessageId"]] != at:
            continue
        message = json.loads(body["Message"])
        output = objects / message["responseParameters"]["outputLocation"].removeprefix("s3://")
        delays.append((at - output.stat().st_mtime) * 1000.0)
    return delays, len(got) - len(first)


# ---------------------------------------------------------------- main


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run(args: argparse.Namespace) -> int:
    model, body = serving.ensure_model()
    data_dir = WORK / "data"
    # The last run's tens of thousands of output files are moved aside now and deleted
    # only after measuring: on a journal-less ext4 (as on the machine of RESULTS.md),
    # every file created in the 30 s after a mass delete scans the deleted inodes,
    # which would charge the first async round for the clean-up.
    trash = WORK / f"data.old-{os.getpid()}"
    if data_dir.exists():
        data_dir.rename(trash)
    server = start_server(data_dir)
    rt_rps: list[float] = []
    async_rps: list[float] = []
    drains: list[float] = []
    accepted_per_round: list[int] = []
    accepted_total = errors_total = 0
    try:
        deploy(server, model, body)
        realtime = Wrk("rt", body, {"Content-Type": "text/csv"}, args.connections)
        queued = Wrk(
            "async",
            b"",
            {
                "X-Amzn-SageMaker-InputLocation": INPUT,
                "X-Amzn-SageMaker-Content-Type": "text/csv",
            },
            args.connections,
        )
        realtime.run(f"{server.base}/endpoints/rt/invocations", 1)  # warm-up
        for round_ in range(1, args.rounds + 1):
            load = realtime.run(f"{server.base}/endpoints/rt/invocations", args.duration)
            rt_rps.append(load.rps)
            errors_total += load.errors
            rps, accepted, drain, errors = async_round(server, queued, data_dir, args.duration)
            async_rps.append(rps)
            drains.append(drain)
            accepted_total += accepted
            accepted_per_round.append(accepted)
            errors_total += errors
            print(
                f"round {round_}: real-time {load.rps:,.0f} req/s; async sustained {rps:,.0f} "
                f"req/s ({accepted:,} accepted, drained {drain:.2f} s after the load)",
                flush=True,
            )
        delays, duplicates = [], 0
        if args.notify:
            delays, duplicates = notification_delays(
                server, data_dir, model, args.notify, args.notify_rate
            )
    finally:
        code = server.stop()
        shutil.rmtree(trash, ignore_errors=True)
    rt, asy = statistics.median(rt_rps), statistics.median(async_rps)
    p50, p99 = (percentile(delays, 50), percentile(delays, 99)) if delays else (NAN, NAN)
    ratio = rt / asy if asy else float("inf")
    checks = [
        (
            ratio <= 2.0,
            f"async sustained throughput within 2x of real-time ({asy:,.0f} vs {rt:,.0f} "
            f"req/s: real-time is {ratio:.2f}x)",
        ),
        (
            p99 < 100.0,
            f"p99 output written -> notification delivered < 100 ms ({p99:.1f} ms; "
            f"p50 {p50:.1f} ms; {len(delays)} notifications)",
        ),
        (errors_total == 0, f"no failed requests ({errors_total} errors; server exit {code})"),
    ]
    versions = ", ".join(
        f"{name} {serving._version(name)}" for name in ("modelmon", "uvicorn", "SQLAlchemy")
    )
    lines = [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores (nproc), {platform.processor() or platform.machine()},"
        f" {serving._ram_gib():.1f} GiB RAM, Linux {platform.release()}",
        f"- versions: python {platform.python_version()}, {versions}, wrk {realtime.version}",
        f"- command: `bench/async_inference.py --rounds {args.rounds} --duration "
        f"{args.duration:g} --connections {args.connections} --notify {args.notify} "
        f"--notify-rate {args.notify_rate:g}`",
        "- one `modelmon serve` (SQLite, local objects), the serving benchmark's model; async "
        "endpoint with the default MaxConcurrentInvocationsPerInstance (8); wrk -t1 "
        f"-c{args.connections}, rounds alternate real-time then async",
        "",
        "| round | real-time req/s | async sustained req/s | async accepted | drain after load s |",
        "|---|---|---|---|---|",
    ]
    rows = zip(rt_rps, async_rps, accepted_per_round, drains, strict=True)
    for index, (a, b, n, d) in enumerate(rows, 1):
        lines.append(f"| {index} | {a:,.0f} | {b:,.0f} | {n:,} | {d:.2f} |")
    lines += [
        f"| median | {rt:,.0f} | {asy:,.0f} | {accepted_total:,} total | "
        f"{statistics.median(drains):.2f} |",
        "",
        "Sustained: outputs written during a round / seconds from the round's start until the "
        "queue drained.",
        "",
        f"Notification delay (output object's mtime → webhook received, {len(delays)} requests "
        f"at ~{args.notify_rate:g}/s): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max "
        f"{max(delays, default=NAN):.1f} ms; duplicate deliveries seen: {duplicates}.",
        "",
        "```",
        *[f"{'PASS' if ok else 'FAIL'}  {text}" for ok, text in checks],
        "```",
    ]
    print("\n".join(lines))
    if not args.no_results:
        write_section(SECTION, lines)
    return 0 if all(ok for ok, _ in checks) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--notify", type=int, default=300, help="requests with notifications")
    parser.add_argument("--notify-rate", type=float, default=20.0, help="their rate per second")
    parser.add_argument("--no-results", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
