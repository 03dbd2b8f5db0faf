"""Alerting benchmark: metric ingestion through the API, 1,000 alarms evaluated when an
execution ends, and notification delivery latency on loopback.

    .venv/bin/python bench/alerting.py [--rounds 3] [--datapoints 100000] [--alarms 1000]
                                       [--messages 300] [--no-results]

1. **Ingestion.** A real ``modelmon serve`` (SQLite, scheduler off); one client sends
   PutMetricData bodies of 1,000 datapoints (CloudWatch's limit per call) over 100
   series, one call after the other, bodies serialised before the clock starts.
   Datapoints per second = datapoints / wall time of all calls. Target ≥ 10,000/s.
2. **Alarms.** In process, the path the scheduler takes when an execution ends
   (``Alerting.on_finished``): an execution row and its SPEC §5.5 metric file (20
   features × drift, non-null and data metrics = 60 series), 1,000 alarms spread over
   those series, each with an action on a topic with one webhook subscription. Timed:
   reading the file, storing the datapoints, evaluating the 1,000 alarms, recording
   transitions and publishing their notifications. Each round flips every value across
   every threshold, so all 1,000 alarms change state and publish (the worst case); a
   round that changes nothing is timed too. Target: ≤ 1 s.
3. **Delivery.** The server of part 1, a topic with one webhook on a loopback HTTP
   receiver (a thread per request); messages published through the API at ~50/s;
   latency = the receiver's arrival time − the message's ``Timestamp`` (the publish
   time the server records). Target: p99 < 100 ms.

Medians of ``--rounds`` rounds are reported (and every round's figure).
Results go to bench/RESULTS.md under "## Alerting (issue 5)".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from results import write_section  # noqa: E402 - bench/results.py, beside this file

from monitoring import machine  # noqa: E402 - the monitoring benchmark's machine lines

WORK = BENCH / ".work" / "alerting"
SECTION = "## Alerting (issue 5)"
UTC = dt.UTC


# -- a server ------------------------------------------------------------------------------


@contextmanager
def server(data_dir: Path) -> Iterator[str]:
    """A ``modelmon serve`` subprocess (the demo's way of starting one), scheduler off."""
    from modelmon.demo import _start_server, _stop_server

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    os.environ["MODELMON_SCHEDULER"] = "off"  # inherited by the server only
    process, url, _log = _start_server(data_dir)
    try:
        yield url
    finally:
        _stop_server(process)


# -- part 1: ingestion ---------------------------------------------------------------------


def ingestion(url: str, datapoints: int, round_index: int) -> float:
    """Datapoints per second through PutMetricData (1,000 a call, sequential calls)."""
    start = dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(days=round_index)
    bodies = []
    for call in range(datapoints // 1000):
        data = []
        for i in range(1000):
            n = call * 1000 + i
            data.append(
                {
                    "MetricName": f"metric_{n % 10}",
                    "Dimensions": [{"Name": "Endpoint", "Value": f"endpoint-{(n // 10) % 10}"}],
                    "Timestamp": (start + dt.timedelta(seconds=n)).isoformat(),
                    "Value": float(n % 97),
                }
            )
        bodies.append(orjson.dumps({"Namespace": "bench/ingest", "MetricData": data}))
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/ping")
        began = time.perf_counter()
        for body in bodies:
            response = client.post("/api/metrics/data", content=body, headers=headers)
            response.raise_for_status()
        elapsed = time.perf_counter() - began
    return len(bodies) * 1000 / elapsed


# -- part 2: alarms ------------------------------------------------------------------------


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def alarms(work: Path, count: int, rounds: int) -> tuple[list[float], list[float], int]:
    """Seconds of ``on_finished`` per round: (every alarm changes state, nothing changes),
    and how many alarms changed in the last flipping round."""
    from modelmon.alerting import Alerting, AlertingSettings
    from modelmon.config import Settings
    from modelmon.db import Database
    from modelmon.db.models import MonitoringExecutionRow, MonitoringScheduleRow
    from modelmon.db.models_alerting import AlarmRow
    from modelmon.formats.cloudwatch import METRICS_PATH
    from modelmon.monitoring.metrics_files import dimensions, metric_record, write_metric_file

    shutil.rmtree(work, ignore_errors=True)
    settings = Settings(data_dir=work)
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    clock = _Clock(dt.datetime(2024, 3, 1, tzinfo=UTC))
    alerting = Alerting(db, settings, AlertingSettings(), clock=clock, deliver=False)
    topic = alerting.topics.create_topic("bench")["TopicArn"]
    alerting.topics.subscribe(topic, "http", "http://127.0.0.1:9/hook")
    namespace = "aws/sagemaker/Endpoints/data-metrics"
    dims = dimensions("churn", "hourly")
    features = [f"f{i}" for i in range(20)]
    names = [f"feature_{kind}_{f}" for f in features for kind in ("baseline_drift", "non_null")]
    names += [f"feature_data_{f}" for f in features]
    with db.session() as session:
        session.add(
            MonitoringScheduleRow(
                name="hourly",
                arn="arn",
                status="Scheduled",
                monitoring_type="DataQuality",
                schedule_expression="cron(0 * ? * * *)",
                config={},
                endpoint_name="churn",
            )
        )
    for i in range(count):
        alerting.alarms.put_metric_alarm(
            {
                "AlarmName": f"alarm-{i:04d}",
                "Namespace": namespace,
                "MetricName": names[i % len(names)],
                "Dimensions": dims,
                "Statistic": "Average",
                "Period": 3600,
                "EvaluationPeriods": 1,
                "Threshold": 0.5 + (i % 7) * 0.01,
                "ComparisonOperator": "GreaterThanThreshold",
                "AlarmActions": [topic],
                "OKActions": [topic],
            }
        )

    def execution(value: float) -> str:
        clock.now += dt.timedelta(hours=1)
        identifier = f"exec-{uuid.uuid4().hex[:12]}"
        stamp = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        records = []
        for name in names:
            if name.startswith("feature_data_"):
                stats = {"SampleCount": 100, "Sum": 100 * value, "Minimum": 0, "Maximum": 2}
                records.append(metric_record(name, stamp, dims, statistic_values=stats))
            else:
                records.append(metric_record(name, stamp, dims, value=value))
        directory = settings.executions_dir / identifier / METRICS_PATH
        directory.mkdir(parents=True)
        path = write_metric_file(records, str(directory))
        with db.session() as session:
            session.add(
                MonitoringExecutionRow(
                    id=identifier,
                    arn=f"arn:{identifier}",
                    schedule_name="hourly",
                    scheduled_time=clock.now,
                    monitoring_type="DataQuality",
                    endpoint_name="churn",
                    status="Completed",
                    metrics_uri=path,
                    window_end=clock.now,
                )
            )
        return identifier

    def changed() -> int:
        with db.session() as session:
            return sum(1 for r in session.query(AlarmRow) if r.state_updated_time == clock.now)

    alerting.on_finished(execution(0.1))  # every alarm leaves INSUFFICIENT_DATA (warm-up)
    flips, steady, last_changed = [], [], 0
    for r in range(rounds):
        began = time.perf_counter()
        alerting.on_finished(execution(0.9 if r % 2 == 0 else 0.1))  # every alarm flips
        flips.append(time.perf_counter() - began)
        last_changed = changed()
        began = time.perf_counter()
        alerting.on_finished(execution(0.9 if r % 2 == 0 else 0.1))  # same side: no change
        steady.append(time.perf_counter() - began)
    db.dispose()
    return flips, steady, last_changed


# -- part 3: delivery latency --------------------------------------------------------------


class _Receiver:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                published = dt.datetime.fromisoformat(body["Timestamp"].replace("Z", "+00:00"))
                receiver.latencies.append(arrived - published.timestamp())
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def delivery(url: str, messages: int, round_index: int) -> tuple[float, float, float]:
    """(p50, p99, max) seconds from publish to arrival."""
    receiver = _Receiver()
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            topic = client.post("/api/topics", json={"Name": f"latency-{round_index}"}).json()
            client.post(
                f"/api/topics/{topic['TopicArn']}/subscriptions",
                json={"Protocol": "http", "Endpoint": receiver.url},
            ).raise_for_status()
            for i in range(messages):
                client.post(
                    f"/api/topics/{topic['TopicArn']}/messages", json={"Message": f"m{i}"}
                ).raise_for_status()
                time.sleep(0.02)
            deadline = time.monotonic() + 30
            while len(receiver.latencies) < messages and time.monotonic() < deadline:
                time.sleep(0.05)
        got = sorted(receiver.latencies)
        if len(got) < messages:
            raise RuntimeError(f"only {len(got)} of {messages} messages arrived")
        return got[len(got) // 2], got[min(len(got) - 1, int(len(got) * 0.99))], got[-1]
    finally:
        receiver.close()


# -- main ----------------------------------------------------------------------------------


def _row(measure: str, median: str, rounds: list[str]) -> str:
    """One line of the results table: the measure, its median, every round."""
    return f"| {measure} | {median} | {', '.join(rounds)} |"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--datapoints", type=int, default=100_000)
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)

    rates, latencies = [], []
    with server(WORK / "server") as url:
        for r in range(args.rounds):
            rates.append(ingestion(url, args.datapoints, r))
            print(f"ingestion round {r + 1}: {rates[-1]:,.0f} datapoints/s", flush=True)
        for r in range(args.rounds):
            latencies.append(delivery(url, args.messages, r))
            p50, p99, worst = latencies[-1]
            print(
                f"delivery round {r + 1}: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                f"max {worst * 1000:.1f} ms",
                flush=True,
            )
    flips, steady, changed = alarms(WORK / "alarms", args.alarms, args.rounds)
    for r, (f, s) in enumerate(zip(flips, steady, strict=True)):
        print(f"alarms round {r + 1}: {f:.3f} s (all change), {s:.3f} s (none change)", flush=True)

    rate = statistics.median(rates)
    p50 = statistics.median(x[0] for x in latencies)
    p99 = statistics.median(x[1] for x in latencies)
    flip, still = statistics.median(flips), statistics.median(steady)
    targets = [
        f"{_verdict(rate >= 10_000)}  ingestion ≥ 10,000 datapoints/s through the API "
        f"({rate:,.0f}/s)",
        f"{_verdict(flip <= 1.0)}  {args.alarms:,} alarms evaluated ≤ 1 s after an execution "
        f"ends, all changing state and notifying ({flip:.3f} s; {changed} changed)",
        f"{_verdict(still <= 1.0)}  the same, no alarm changing ({still:.3f} s)",
        f"{_verdict(p99 < 0.1)}  notification delivery p99 < 100 ms on loopback "
        f"({p99 * 1000:.1f} ms; p50 {p50 * 1000:.1f} ms)",
    ]
    print("\n".join(targets))
    body = [
        *machine(),
        f"- command: `bench/alerting.py --rounds {args.rounds} --datapoints {args.datapoints} "
        f"--alarms {args.alarms} --messages {args.messages}`",
        "",
        f"Medians of {args.rounds} rounds (every round in parentheses).",
        "",
        "| measure | median | rounds |",
        "|---|---|---|",
        _row(
            "PutMetricData through the API, 1,000 a call",
            f"{rate:,.0f} datapoints/s",
            [f"{x:,.0f}" for x in rates],
        ),
        _row(
            f"on_finished: {args.alarms:,} alarms, all change state + publish",
            f"{flip:.3f} s",
            [f"{x:.3f}" for x in flips],
        ),
        _row(
            f"on_finished: {args.alarms:,} alarms, none changes",
            f"{still:.3f} s",
            [f"{x:.3f}" for x in steady],
        ),
        _row(
            f"delivery latency p50 ({args.messages} messages at ~50/s)",
            f"{p50 * 1000:.1f} ms",
            [f"{x[0] * 1000:.1f}" for x in latencies],
        ),
        _row(
            "delivery latency p99",
            f"{p99 * 1000:.1f} ms",
            [f"{x[1] * 1000:.1f}" for x in latencies],
        ),
        "",
        "### Targets",
        "",
        "```",
        *targets,
        "```",
        "",
        "Ingestion is one client and one server process on the same 2 cores (the client's "
        "HTTP time counts). The alarm figure is measured in process on the scheduler's "
        "`on_finished` path (file read, datapoints stored, alarms evaluated, transitions, "
        "history and notification rows committed); the delivery latency is the server's "
        "publish time to the receiver's arrival, both on this machine's clock.",
    ]
    if not args.no_results:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
