"""Monitoring benchmark: one execution over 1M captured records, and 1,000 hourly schedules.

    .venv/bin/python bench/monitoring.py [--rows 1000000] [--repeat 3]
                                         [--schedules 1000] [--concurrency 2 100 1000]
                                         [--rounds 3] [--only execution schedules]

Part 1 (execution): the same 1M churn-like rows as a headerless CSV file and as
data-capture files in 24 hourly folders of one endpoint; every measured command
is its own process (wall time and peak memory as in bench/analyzer.py), run
round-robin; the medians are printed. ``modelmon analyze`` on the CSV is the
analyzer alone; the execution is the built-in analyzer container program
(``python -m modelmon.monitoring.container``, SPEC §5.1 environment) over the
capture window, and, beside it, a whole execution through
``modelmon.monitoring.runner.Runner`` (staging, container, report upload).

Part 2 (schedules): 1,000 endpoints with data capture, each with an hourly
schedule, in a real SQLite database; a real Scheduler (its own process, its
``run_forever`` loop, the real Runner with a no-op analyzer) on a clock running at
real speed from 10 s before a top of the hour. For every run: how long after its
scheduled time it was recorded (Pending), claimed (InProgress) and its analyzer
process started, at several ``max_concurrent`` values.

Results go to bench/RESULTS.md under "## Monitoring (issue 4)". See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from results import write_section  # bench/results.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from analyzer import Run, measure  # noqa: E402 - the analyzer benchmark's way of measuring

WORK = BENCH / ".work" / "monitoring"
RESULTS = BENCH / "RESULTS.md"
SECTION = "## Monitoring (issue 4)"
GENERATOR = ROOT / "src" / "modelmon" / "synthetic.py"
CAPTURE_FORMAT = ROOT / "src" / "modelmon" / "formats" / "capture.py"
MODELMON = Path(sys.executable).with_name("modelmon")
PACKAGES = ("modelmon", "pyarrow", "numpy", "datasketches", "orjson", "SQLAlchemy")
UTC = dt.UTC

# part 1: the data
DATA_VERSION = 1  # bump when the layout of the generated data changes
ENDPOINT = "churn"
VARIANT = "AllTraffic"
CAPTURE_START = dt.datetime(2024, 1, 15, tzinfo=UTC)  # first hour folder
HOURS = 24
LAYOUTS = (60, 1)  # files per hour: one a minute (the server's 60 s rotation), one an hour
BATCH_ROWS = 50_000
CAPTURE_DATASET_FORMAT = (
    '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}'
)
# One record as capture_line writes it for a one-row CSV request answered in CSV
# (modelmon's serving answers text/csv; charset=utf-8); checked against capture_line.
RECORD = (
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
    '"data":"%s","encoding":"CSV"},"endpointOutput":{"observedContentType":'
    '"text/csv; charset=utf-8","mode":"OUTPUT","data":"%s","encoding":"CSV"}},'
    '"eventMetadata":{"eventId":"%s","inferenceTime":"%s"},"eventVersion":"0"}\n'
)
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x09\x0b-\x1f]')

# part 2: the schedules
SCHEDULED = dt.datetime(2024, 3, 1, 12, tzinfo=UTC)  # the top of the hour measured
NOOP_IMAGE = "bench-noop"
NOOP_COMMAND = ["true"]
SCHEDULE_CAPTURE = "s3://bench/capture"
ENDED = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
TARGET_START_SECONDS = 5.0
TARGET_RATIO = 1.5


# ---------------------------------------------------------------- part 1: data


@dataclass(frozen=True)
class Data:
    """The generated files of one --rows setting."""

    rows: int
    csv: Path  # the monitored rows, no header
    train: Path  # the training rows (baseline), no header
    capture: dict[int, Path]  # files per hour -> capture destination (holds ENDPOINT/...)
    baseline: Path  # statistics.json, constraints.json
    start: dt.datetime
    end: dt.datetime

    def capture_bytes(self, per_hour: int) -> int:
        return sum(p.stat().st_size for p in self.capture[per_hour].rglob("*.jsonl"))

    def capture_files(self, per_hour: int) -> int:
        return sum(1 for _ in self.capture[per_hour].rglob("*.jsonl"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class _EventIds:
    """Random version-4 UUIDs, from one os.urandom call per 4,096 (as the capture writer)."""

    def __init__(self) -> None:
        self._pool: list[str] = []

    def next(self) -> str:
        if not self._pool:
            raw = os.urandom(16 * 4096)
            self._pool = [
                str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, len(raw), 16)
            ]
        return self._pool.pop()


class _Layout:
    """One capture layout being written: ``per_hour`` files an hour, one open at a time."""

    def __init__(self, destination: Path, per_hour: int) -> None:
        self.destination = destination
        self.seconds = 3600 / per_hour
        self.index = -1
        self.handle: Any = None
        self.files = 0

    def write(self, offset: float, line: str, start: dt.datetime) -> None:
        index = int(offset // self.seconds)
        if index != self.index:
            self.close()
            from modelmon.formats.capture import capture_key

            opened = start + dt.timedelta(seconds=offset)
            path = Path(capture_key(str(self.destination), ENDPOINT, VARIANT, opened))
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = path.open("w", encoding="utf-8", buffering=1 << 20)
            self.index = index
            self.files += 1
        self.handle.write(line)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _check_record_format() -> None:
    """RECORD formats a record byte for byte as modelmon.formats.capture.capture_line."""
    from modelmon.formats.capture import CaptureContentTypes, capture_line, encode_part

    types = CaptureContentTypes()
    moment = dt.datetime(2024, 1, 15, 3, 4, 5, 678000, tzinfo=UTC)
    features, label, event = "1,2.5,,CA,no", "0", str(uuid.uuid4())
    expected = capture_line(
        input_part=encode_part(features.encode(), "text/csv", "INPUT", types),
        output_part=encode_part(label.encode(), "text/csv; charset=utf-8", "OUTPUT", types),
        event_id=event,
        inference_time=moment,
    )
    ours = RECORD % (features, label, event, "2024-01-15T03:04:05Z")
    if ours.encode() != expected:
        raise SystemExit(f"the record template drifted from capture_line:\n{ours}\n{expected!r}")


def _write_data(rows: int, paths: dict[str, Path], start: dt.datetime) -> dict[int, int]:
    """The monitored rows as CSV and as capture files; files written per layout."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from modelmon.formats.capture import inference_time_text
    from modelmon.synthetic import churn_batches

    _check_record_format()
    layouts = {n: _Layout(paths[f"capture-{n}"], n) for n in LAYOUTS}
    ids = _EventIds()
    step = HOURS * 3600 / rows  # seconds between records: spread evenly over the hours
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=16_384)
    done, last_second, stamp = 0, -1, ""
    with paths["csv"].open("wb") as csv_out:
        for batch in churn_batches(rows, seed=1, drift=True, batch_rows=BATCH_ROWS):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(batch, sink, options)
            raw = sink.getvalue().to_pybytes()
            csv_out.write(raw)
            text = raw.decode("utf-8")
            if _NEEDS_ESCAPE.search(text):
                raise SystemExit("the generated rows need JSON escaping: use capture_line")
            lines = text.split("\n")
            lines.pop()  # after the last line break
            for line in lines:
                label, _, features = line.partition(",")  # label first: the model's output
                offset = done * step
                second = int(offset)
                if second != last_second:
                    stamp = inference_time_text(start + dt.timedelta(seconds=second))
                    last_second = second
                record = RECORD % (features, label, ids.next(), stamp)
                for layout in layouts.values():
                    layout.write(offset, record, start)
                done += 1
    for layout in layouts.values():
        layout.close()
    return {n: layout.files for n, layout in layouts.items()}


def ensure_data(rows: int, train_rows: int) -> Data:
    """The CSV, capture files and baseline of ``rows`` rows, generated unless already there.

    Reused while the stamp (rows, layout, generator and capture-format sources) matches.
    """
    base = WORK / f"data-{rows}"
    paths = _paths(base)
    start, end = CAPTURE_START, CAPTURE_START + dt.timedelta(hours=HOURS)
    data = Data(
        rows,
        paths["csv"],
        paths["train"],
        {n: paths[f"capture-{n}"] for n in LAYOUTS},
        paths["baseline"],
        start,
        end,
    )
    stamp = base / "stamp.json"
    wanted = {
        "version": DATA_VERSION,
        "rows": rows,
        "train_rows": train_rows,
        "hours": HOURS,
        "layouts": list(LAYOUTS),
        "start": start.isoformat(),
        "generator": _digest(GENERATOR),
        "capture_format": _digest(CAPTURE_FORMAT),
    }
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return data
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    began = time.perf_counter()
    print(f"generating {base.relative_to(ROOT)} ...", flush=True)
    # In a process of its own: a child's ru_maxrss starts at its parent's peak RSS (Linux
    # keeps the old image's high-water mark across exec), so the harness must stay small.
    argv = [sys.executable, str(Path(__file__).resolve()), "_generate", str(base), str(rows)]
    done = subprocess.run([*argv, str(train_rows)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"generating the data failed: {done.stderr[-2000:]}")
    files = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    baseline = [str(MODELMON), "baseline", "--dataset", str(paths["train"]), "--no-header"]
    baseline += ["--format", "csv", "--output", str(paths["baseline"])]
    done = subprocess.run(
        baseline,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"modelmon baseline failed: {done.stderr[-2000:]}")
    stamp.write_text(json.dumps(wanted))
    print(
        f"  {rows:,} rows: CSV {paths['csv'].stat().st_size / 2**20:.0f} MB; capture "
        + ", ".join(f"{files[n]:,} files ({data.capture_bytes(n) / 2**20:.0f} MB)" for n in LAYOUTS)
        + f"; training CSV {train_rows:,} rows and its baseline; "
        f"{time.perf_counter() - began:.0f} s",
        flush=True,
    )
    return data


def _paths(base: Path) -> dict[str, Path]:
    return {
        "csv": base / "monitored.csv",
        "train": base / "train.csv",
        "baseline": base / "baseline",
        **{f"capture-{n}": base / f"capture-{n}-per-hour" for n in LAYOUTS},
    }


def _generate_main(argv: Sequence[str]) -> int:
    """Write the training CSV, the monitored CSV and the capture files (its own process)."""
    base, rows, train_rows = Path(argv[0]), int(argv[1]), int(argv[2])
    from modelmon.synthetic import write_csv

    paths = _paths(base)
    write_csv(paths["train"], train_rows, seed=0, header=False)
    files = _write_data(rows, paths, CAPTURE_START)
    print(json.dumps(files))
    return 0


def _warm(paths: Sequence[Path]) -> None:
    """Read files once so that every run finds them in the page cache."""
    for root in paths:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file():
                with path.open("rb") as f:
                    while f.read(1 << 24):
                        pass


# ---------------------------------------------------------------- part 1: the commands


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    kind: str  # "reference", "execution", "diagnostic"


TOOLS = (
    Tool("csv", "modelmon analyze, CSV (the analyzer alone)", "reference"),
    Tool("container", "container over capture, 60 files/h (the execution)", "execution"),
    Tool("container-hourly", "container over capture, 1 file/h", "diagnostic"),
    Tool("runner", "Runner.run: stage + container + upload, 60 files/h", "diagnostic"),
    Tool("analyze-capture", "modelmon analyze --format capture, 60 files/h", "diagnostic"),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)


def _clean_env() -> dict[str, str]:
    """This environment without the container contract's variables and modelmon overrides."""
    drop = {
        "dataset_format",
        "dataset_source",
        "output_path",
        "start_time",
        "end_time",
        "baseline_constraints",
        "baseline_statistics",
        "MODELMON_ANALYZER_IMAGES",
        "MODELMON_ANALYZER_WORKERS",
        "MODELMON_DATABASE_URL",
    }
    return {k: v for k, v in os.environ.items() if k not in drop}


def command(tool: str, data: Data, out: Path) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of one measured run writing into ``out``."""
    env = _clean_env()
    stats, cons = data.baseline / "statistics.json", data.baseline / "constraints.json"
    if tool == "csv":
        argv = [str(MODELMON), "analyze", "--dataset", str(data.csv), "--no-header"]
        argv += ["--baseline-statistics", str(stats), "--baseline-constraints", str(cons)]
        argv += ["--output", str(out)]
        return argv, env
    if tool == "analyze-capture":
        argv = [str(MODELMON), "analyze", "--dataset", str(data.capture[60]), "--format"]
        argv += ["capture", "--baseline-statistics", str(stats), "--baseline-constraints"]
        argv += [str(cons), "--output", str(out)]
        return argv, env
    if tool in ("container", "container-hourly"):
        per_hour = 60 if tool == "container" else 1
        env.update(
            dataset_format=CAPTURE_DATASET_FORMAT,
            dataset_source=str(data.capture[per_hour]),
            output_path=str(out),
            baseline_constraints=str(cons),
            baseline_statistics=str(stats),
            start_time=data.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end_time=data.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            sagemaker_endpoint_name=ENDPOINT,
            sagemaker_monitoring_schedule_name="bench",
            publish_cloudwatch_metrics="Disabled",
            MODELMON_MESSAGE_FILE=str(out / "message"),
        )
        return [sys.executable, "-m", "modelmon.monitoring.container"], env
    if tool == "runner":
        argv = [sys.executable, str(Path(__file__).resolve()), "_execution", str(data.capture[60])]
        argv += [str(data.baseline), str(out), data.start.isoformat(), data.end.isoformat()]
        return argv, env
    raise ValueError(tool)


def _statistics_file(tool: str, out: Path) -> Path | None:
    if tool == "runner":
        found = sorted((out / "reports").rglob("statistics.json"))
        return found[0] if found else None
    return out / "statistics.json"


def _violations_file(tool: str, out: Path) -> Path | None:
    if tool == "runner":
        found = sorted((out / "reports").rglob("constraint_violations.json"))
        return found[0] if found else None
    return out / "constraint_violations.json"


def _outputs(tool: str, out: Path) -> tuple[int | None, int | None]:
    """(rows analyzed, violations) read from what a run wrote."""
    rows = violations = None
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        found = _statistics_file(tool, out)
        if found:
            rows = int(json.loads(found.read_text())["dataset"]["item_count"])
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        found = _violations_file(tool, out)
        if found:
            violations = len(json.loads(found.read_text())["violations"])
    return rows, violations


def _log_time(line: str) -> float:
    stamp = line.split(" ", 1)[0]  # 2024-01-01T00:00:00.12Z
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def _execution_main(argv: Sequence[str]) -> int:
    """One whole execution through Runner.run (its own process); prints BENCH phases."""
    capture, baseline, out, start, end = argv
    from modelmon.monitoring.runner import ExecutionSpec, Runner

    work, reports = Path(out) / "work", Path(out) / "reports"
    definition = {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{baseline}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{baseline}/statistics.json"},
        },
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": ENDPOINT}}],
        "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": str(reports)}}]},
        "MonitoringAppSpecification": {"ImageUri": "modelmon"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    window_end = dt.datetime.fromisoformat(end)
    spec = ExecutionSpec(
        execution_id="bench-execution",
        schedule_name="bench",
        scheduled_time=window_end,
        window_start=dt.datetime.fromisoformat(start),
        window_end=window_end,
        job_definition=definition,
        work_dir=work,
        capture_destination=capture,
        publish_cloudwatch_metrics=False,
    )
    result = Runner({}).run(spec)
    lines = result.log_path.read_text().splitlines()
    runner_lines = [ln for ln in lines if " modelmon-runner: " in ln]

    def at(prefix: str) -> float | None:
        for line in runner_lines:
            if line.split(" modelmon-runner: ", 1)[1].startswith(prefix):
                return _log_time(line)
        return None

    began, staged, ended = _log_time(runner_lines[0]), at("staged "), _log_time(runner_lines[-1])
    launched, exited = at("analyzer output follows"), at("analyzer process ")
    phases = {}
    if staged is not None and launched is not None and exited is not None:
        phases = {
            "stage": staged - began,
            "container": exited - launched,
            "upload": ended - exited,
        }
    print("BENCH " + json.dumps(phases), flush=True)
    if result.status not in ("Completed", "CompletedWithViolations"):
        print(f"execution {result.status}: {result.failure_reason}", file=sys.stderr)
        return 1
    return 0


@dataclass
class Outcome:
    tool: Tool
    runs: list[Run] = field(default_factory=list)
    rows: set[int | None] = field(default_factory=set)
    violations: set[int | None] = field(default_factory=set)
    error: str | None = None

    @property
    def ok(self) -> list[Run]:
        return [r for r in self.runs if r.error is None]

    def median(self, phase: str | None = None) -> float | None:
        values = [r.phases.get(phase) if phase else r.seconds for r in self.ok]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None


def bench_execution(
    data: Data, tools: Sequence[Tool], repeat: int, limits: dict[str, float]
) -> dict[str, Outcome]:
    """Round-robin ``repeat`` runs of every tool."""
    _warm([data.csv, data.baseline, *data.capture.values()])
    outcomes = {t.name: Outcome(t) for t in tools}
    for round_ in range(1, repeat + 1):
        for tool in tools:
            outcome = outcomes[tool.name]
            if outcome.error:
                continue
            out = WORK / "out" / tool.name
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            argv, env = command(tool.name, data, out)
            run = measure(argv, env=env, **limits)
            outcome.runs.append(run)
            rows, violations = _outputs(tool.name, out)
            if run.error is None:
                outcome.rows.add(rows)
                outcome.violations.add(violations)
            shown = run.error or (
                f"{run.seconds:.2f} s, {run.peak_mb:.0f} MB, {rows:,} rows, {violations} violations"
                if rows is not None
                else f"{run.seconds:.2f} s, {run.peak_mb:.0f} MB, no statistics.json"
            )
            print(f"  [round {round_}/{repeat}] {tool.label}: {shown}", flush=True)
            if run.error:
                outcome.error = run.error
    return outcomes


# ---------------------------------------------------------------- part 2: schedules


class ShiftedClock:
    """Real-speed time that reads ``origin`` when started (and until then)."""

    def __init__(self, origin: dt.datetime) -> None:
        self.origin = origin
        self.started: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> dt.datetime:
        if self.started is None:
            return self.origin
        return self.origin + dt.timedelta(seconds=time.monotonic() - self.started)


def _definition(endpoint: str) -> dict[str, Any]:
    return {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": "s3://bench/baseline/constraints.json"}
        },
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": endpoint}}],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bench/reports"}}]
        },
        "MonitoringAppSpecification": {"ImageUri": NOOP_IMAGE},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _schedule_env(objects: Path) -> dict[str, str]:
    env = _clean_env()
    env["MODELMON_OBJECT_ROOT"] = str(objects)
    env["MODELMON_ANALYZER_IMAGES"] = json.dumps({NOOP_IMAGE: NOOP_COMMAND})
    env["MODELMON_SCHEDULER"] = "off"
    return env


def _prepare_main(argv: Sequence[str]) -> int:
    """The template: N endpoints with data capture and N hourly schedules (its own process)."""
    data_dir, count = Path(argv[0]), int(argv[1])
    from modelmon.config import Settings
    from modelmon.db import Database
    from modelmon.formats.capture import CaptureContentTypes, capture_key, capture_line, encode_part
    from modelmon.monitoring.registry import Monitoring
    from modelmon.monitoring.runner import Runner
    from modelmon.monitoring.scheduler import Scheduler
    from modelmon.monitoring.shapes import CreateMonitoringScheduleRequest
    from modelmon.serving.registry import Hosting
    from modelmon.serving.shapes import (
        CreateEndpointConfigRequest,
        CreateEndpointRequest,
        CreateModelRequest,
        parse,
    )
    from modelmon.storage.files import local_path

    settings = Settings(data_dir=data_dir)
    settings.prepare()
    db = Database(settings.database_url)
    hosting = Hosting(db, settings)
    created = SCHEDULED - dt.timedelta(minutes=30)
    monitoring = Monitoring(db, settings, hosting, clock=lambda: created)
    artifact = data_dir / "model.joblib"
    artifact.write_bytes(b"never loaded: the endpoints are not served in this benchmark")
    hosting.create_model(
        parse(
            CreateModelRequest,
            {"ModelName": "bench", "PrimaryContainer": {"ModelDataUrl": str(artifact)}},
        )
    )
    hosting.create_endpoint_config(
        parse(
            CreateEndpointConfigRequest,
            {
                "EndpointConfigName": "bench",
                "ProductionVariants": [{"VariantName": VARIANT, "ModelName": "bench"}],
                "DataCaptureConfig": {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": SCHEDULE_CAPTURE,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
                },
            },
        )
    )
    constraints = Path(local_path("s3://bench/baseline/constraints.json"))
    constraints.parent.mkdir(parents=True, exist_ok=True)
    constraints.write_text(json.dumps({"version": 0.0, "features": []}))
    types = CaptureContentTypes()
    hour_before = SCHEDULED - dt.timedelta(hours=1)
    for i in range(count):
        endpoint = f"ep-{i:04d}"
        hosting.create_endpoint(
            parse(CreateEndpointRequest, {"EndpointName": endpoint, "EndpointConfigName": "bench"})
        )
        # a little capture in the window [scheduled - 1 h, scheduled) so that the run stages data
        opened = hour_before + dt.timedelta(minutes=i % 60)
        key = Path(local_path(capture_key(SCHEDULE_CAPTURE, endpoint, VARIANT, opened)))
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(
            b"".join(
                capture_line(
                    input_part=encode_part(b"1,2,3", "text/csv", "INPUT", types),
                    output_part=encode_part(b"0.5", "text/csv", "OUTPUT", types),
                    event_id=str(uuid.uuid4()),
                    inference_time=opened + dt.timedelta(seconds=s),
                )
                for s in range(3)
            )
        )
        monitoring.create_monitoring_schedule(
            parse(
                CreateMonitoringScheduleRequest,
                {
                    "MonitoringScheduleName": f"hourly-{i:04d}",
                    "MonitoringScheduleConfig": {
                        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                        "MonitoringJobDefinition": _definition(endpoint),
                    },
                },
            )
        )
    # One tick at creation time turns the schedules from Pending to Scheduled (one update
    # each), as a running server would have long before the measured top of the hour.
    scheduler = Scheduler(db, settings, monitoring, Runner({}), clock=lambda: created)
    scheduler.tick()
    scheduler.shutdown()
    db.dispose()
    return 0


def _schedules_main(argv: Sequence[str]) -> int:
    """One scheduler over the template's copy, from ``lead`` s before SCHEDULED (own process).

    Writes a JSON document of every run's delays to ``out``.
    """
    data_dir, count, concurrency = Path(argv[0]), int(argv[1]), int(argv[2])
    lead, timeout, out = float(argv[3]), float(argv[4]), Path(argv[5])
    from sqlalchemy import func, select

    from modelmon.config import Settings
    from modelmon.db import Database
    from modelmon.db.models import MonitoringExecutionRow as Execution
    from modelmon.monitoring.registry import Monitoring
    from modelmon.monitoring.runner import EXECUTION_ID_ENV, Runner
    from modelmon.monitoring.scheduler import Scheduler
    from modelmon.serving.registry import Hosting

    class Warnings(logging.Handler):
        """Counts what modelmon logs at WARNING and above, by message template."""

        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.counts: dict[str, int] = {}

        def emit(self, record: logging.LogRecord) -> None:
            key = str(record.msg)
            self.counts[key] = self.counts.get(key, 0) + 1

    warnings = Warnings()
    logging.getLogger("modelmon").addHandler(warnings)
    clock = ShiftedClock(SCHEDULED - dt.timedelta(seconds=lead))
    marks: dict[str, dict[str, float]] = {"recorded": {}, "claimed": {}, "launched": {}}
    lock = threading.Lock()

    def mark(kind: str, key: str) -> None:
        delay = (clock() - SCHEDULED).total_seconds()
        with lock:
            marks[kind][key] = delay

    class TimedRunner(Runner):
        def _supervise(self, command: list[str], env: dict[str, str], *rest: Any) -> Any:
            mark("launched", env[EXECUTION_ID_ENV])  # the analyzer process starts now
            return super()._supervise(command, env, *rest)

    class TimedScheduler(Scheduler):
        def _record(self, row: Any, expression: Any, run: Any, skipped: Any, now: Any) -> bool:
            recorded = super()._record(row, expression, run, skipped, now)
            if recorded and run == SCHEDULED:
                mark("recorded", row.name)  # committed: the run is Pending
            return recorded

        def _claim(self, ids: Any, now: Any) -> set[str]:
            claimed = super()._claim(ids, now)
            for identifier in claimed:
                mark("claimed", identifier)  # the claim (InProgress) is committed
            return claimed

        def _claim_taken(self, row: Any, now: Any) -> bool:
            claimed = super()._claim_taken(row, now)
            if claimed:
                mark("claimed", row.id)
            return claimed

    settings = Settings(data_dir=data_dir, max_executions=concurrency)
    settings.prepare()
    db = Database(settings.database_url)
    hosting = Hosting(db, settings)
    monitoring = Monitoring(db, settings, hosting, clock=clock)
    scheduler = TimedScheduler(
        db, settings, monitoring, TimedRunner(clock=clock), clock=clock, max_concurrent=concurrency
    )
    clock.start()
    began = time.monotonic()
    scheduler.start()
    ended_after = None
    deadline = began + lead + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        with db.session() as session:
            ended = session.scalar(
                select(func.count()).select_from(Execution).where(Execution.status.in_(ENDED))
            )
        if ended >= count:
            ended_after = (clock() - SCHEDULED).total_seconds()
            break
    scheduler.stop()
    with db.session() as session:
        rows = session.execute(
            select(
                Execution.id,
                Execution.schedule_name,
                Execution.scheduled_time,
                Execution.status,
                Execution.failure_reason,
                Execution.creation_time,
                Execution.start_time,
            )
        ).all()
    db.dispose()
    runs = []
    for identifier, schedule, scheduled, status, reason, created, started in rows:
        runs.append(
            {
                "id": identifier,
                "scheduled": scheduled.isoformat(),
                "status": status,
                "reason": reason,
                "recorded": marks["recorded"].get(schedule),
                "claimed": marks["claimed"].get(identifier),
                "launched": marks["launched"].get(identifier),
                "db_created": (created - SCHEDULED).total_seconds(),
                "db_started": (started - SCHEDULED).total_seconds() if started else None,
            }
        )
    document = {"ended_after": ended_after, "runs": runs, "warnings": warnings.counts}
    out.write_text(json.dumps(document))
    return 0


STAGES = (
    ("recorded", "recorded Pending"),
    ("claimed", "claimed InProgress"),
    ("launched", "analyzer process started"),
    ("db_started", "StartTime as stored (tick's clock)"),
)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Round:
    """One scheduler run at one concurrency."""

    run: Run
    ended_after: float | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def delays(self, stage: str) -> list[float]:
        return [r[stage] for r in self.runs if r.get(stage) is not None]

    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.runs:
            if r["status"] == "Failed":
                counts[r["reason"]] = counts.get(r["reason"], 0) + 1
        return counts

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.runs:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return counts


def prepare_schedules(count: int) -> Path:
    """The template data directory (database, objects) of ``count`` schedules."""
    template = WORK / f"schedules-{count}" / "template"
    shutil.rmtree(template.parent, ignore_errors=True)
    template.mkdir(parents=True)
    objects = template.parent / "objects"
    print(f"creating {count:,} endpoints and hourly schedules ...", end=" ", flush=True)
    began = time.perf_counter()
    argv = [sys.executable, str(Path(__file__).resolve()), "_prepare", str(template), str(count)]
    done = subprocess.run(argv, env=_schedule_env(objects), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"preparing the schedules failed:\n{done.stderr[-3000:]}")
    print(f"{time.perf_counter() - began:.1f} s", flush=True)
    return template


def bench_schedules(
    count: int, levels: Sequence[int], rounds: int, lead: float, timeout: float
) -> tuple[dict[int, list[Round]], float]:
    began = time.perf_counter()
    template = prepare_schedules(count)
    setup = time.perf_counter() - began
    objects = template.parent / "objects"
    results: dict[int, list[Round]] = {c: [] for c in levels}
    for round_ in range(1, rounds + 1):
        for level in levels:
            run_dir = template.parent / f"run-{level}"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir()
            for db_file in template.glob("modelmon.db*"):
                shutil.copy2(db_file, run_dir / db_file.name)
            shutil.rmtree(objects / "bench" / "reports", ignore_errors=True)
            out = run_dir / "delays.json"
            argv = [sys.executable, str(Path(__file__).resolve()), "_schedules", str(run_dir)]
            argv += [str(count), str(level), str(lead), str(timeout), str(out)]
            run = measure(argv, env=_schedule_env(objects), timeout=lead + timeout + 120)
            result = Round(run)
            if run.error is None and out.exists():
                document = json.loads(out.read_text())
                result.ended_after, result.runs = document["ended_after"], document["runs"]
                result.warnings = document.get("warnings", {})
                if result.ended_after is None:
                    result.error = f"not every run ended within {timeout:.0f} s"
            else:
                result.error = run.error or "no delays written"
            results[level].append(result)
            claimed = result.delays("claimed")
            shown = result.error or (
                f"{len(result.runs):,} runs {result.statuses()}, recorded max "
                f"{max(result.delays('recorded'), default=math.nan):.2f} s, InProgress p50 "
                f"{statistics.median(claimed) if claimed else math.nan:.2f} s max "
                f"{max(claimed, default=math.nan):.2f} s, all ended after "
                f"{result.ended_after:.1f} s"
            )
            print(
                f"  [round {round_}/{rounds}] max_concurrent {level}: {shown}; "
                f"{run.seconds:.0f} s, {run.peak_mb:.0f} MB",
                flush=True,
            )
            for reason, n in result.reasons().items():
                print(f"    {n:,} Failed: {reason}", flush=True)
            shutil.rmtree(run_dir / "executions", ignore_errors=True)
    return results, setup


# ---------------------------------------------------------------- reporting


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


EXEC_HEADER = ["run", "median s", "min s", "max s", "peak MB", "× CSV", "rows", "violations",
               "runs", "notes"]  # fmt: skip
SCHED_HEADER = ["max_concurrent", "delay after the scheduled time", "p50 s", "p99 s", "max s",
                "runs"]  # fmt: skip
SCHED_SUMMARY_HEADER = ["max_concurrent", "all ended after s", "completed", "failed",
                        "scheduler peak MB", "rounds"]  # fmt: skip


def execution_table(outcomes: dict[str, Outcome]) -> list[list[str]]:
    ref = outcomes["csv"].median() if "csv" in outcomes else None
    rows = []
    for o in outcomes.values():
        med, ok = o.median(), o.ok
        phases = ok[0].phases.keys() if ok else ()
        notes = ", ".join(f"{p} {_fmt(o.median(p))} s" for p in phases)
        if o.error:
            notes = (notes + "; " if notes else "") + o.error
        counts = sorted(o.rows, key=lambda v: -1 if v is None else v)
        found = sorted(o.violations, key=lambda v: -1 if v is None else v)
        rows.append(
            [
                o.tool.label,
                _fmt(med),
                _fmt(min((r.seconds for r in ok), default=None)),
                _fmt(max((r.seconds for r in ok), default=None)),
                _fmt(max((r.peak_mb for r in ok), default=None), 0),
                _fmt(med / ref) if med is not None and ref else "–",
                "/".join("?" if v is None else f"{v:,}" for v in counts) or "–",
                "/".join("?" if v is None else str(v) for v in found) or "–",
                str(len(ok)),
                notes,
            ]
        )
    return rows


def schedule_tables(results: dict[int, list[Round]]) -> tuple[list[list[str]], list[list[str]]]:
    delays, summary = [], []
    for level, rounds in results.items():
        good = [r for r in rounds if r.runs]
        for stage, label in STAGES:
            per_round = [r.delays(stage) for r in good if r.delays(stage)]
            p50 = [statistics.median(d) for d in per_round]
            p99 = [_percentile(d, 0.99) for d in per_round]
            worst = [max(d) for d in per_round]
            delays.append(
                [
                    f"{level:,}",
                    label,
                    _fmt(statistics.median(p50) if p50 else None),
                    _fmt(statistics.median(p99) if p99 else None),
                    _fmt(max(worst) if worst else None),
                    "/".join(f"{len(d):,}" for d in per_round) or "–",
                ]
            )
        ended = [r.ended_after for r in good if r.ended_after is not None]
        statuses = [r.statuses() for r in good]
        errors = sorted({r.error for r in rounds if r.error})
        summary.append(
            [
                f"{level:,}",
                _fmt(statistics.median(ended) if ended else None, 1)
                + (f" ({'; '.join(errors)})" if errors else ""),
                "/".join(f"{s.get('Completed', 0):,}" for s in statuses) or "–",
                "/".join(f"{s.get('Failed', 0):,}" for s in statuses) or "–",
                _fmt(max((r.run.peak_mb for r in rounds), default=None), 0),
                str(len(good)),
            ]
        )
    return delays, summary


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]


def _text(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    ]


def _check(lines: list[str], label: str, ok: bool | None, detail: str) -> None:
    verdict = "n/a " if ok is None else ("PASS" if ok else "FAIL")
    lines.append(f"{verdict}  {label} ({detail})")


def execution_targets(outcomes: dict[str, Outcome], rows: int) -> list[str]:
    lines: list[str] = []

    def med(name: str) -> float | None:
        return outcomes[name].median() if name in outcomes else None

    ref, run = med("csv"), med("container")
    label = f"one execution ≤ {TARGET_RATIO}× the analyzer alone on the same rows as CSV, {rows:,}"
    if ref and run:
        detail = f"container {run:.2f} s vs analyze CSV {ref:.2f} s: {run / ref:.2f}×"
        _check(lines, label, run <= TARGET_RATIO * ref, detail)
    else:
        _check(lines, label, None, "missing figures")
    for name, what in (
        ("runner", "whole execution through Runner (staging, upload)"),
        ("container-hourly", "container over one file an hour"),
        ("analyze-capture", "modelmon analyze --format capture"),
    ):
        if ref and (other := med(name)):
            lines.append(f"      {what}: {other:.2f} s, {other / ref:.2f}×")
    return lines


def schedule_targets(results: dict[int, list[Round]], count: int) -> list[str]:
    lines: list[str] = []
    for level, rounds in results.items():
        label = (
            f"every run starts (InProgress) within {TARGET_START_SECONDS:g} s, {count:,} hourly "
            f"schedules, max_concurrent {level:,}"
        )
        if level < count:  # runs beyond the limit wait for a slot: not what the target is about
            label = f"(for reference: {level:,} slots, later runs wait for one) {label}"
        incomplete = [r for r in rounds if r.error or len(r.delays("claimed")) < count]
        claimed = [d for r in rounds for d in r.delays("claimed")]
        if not claimed:
            _check(lines, label, None, "no figures")
            continue
        worst = max(claimed)
        detail = f"worst {worst:.2f} s over {len(rounds)} round(s)"
        if incomplete:
            detail += f"; {len(incomplete)} round(s) did not start every run"
        _check(lines, label, worst <= TARGET_START_SECONDS and not incomplete, detail)
    recorded = [d for rounds in results.values() for r in rounds for d in r.delays("recorded")]
    if recorded:
        worst = max(recorded)
        _check(
            lines,
            f"(for reference) every run recorded Pending within {TARGET_START_SECONDS:g} s",
            worst <= TARGET_START_SECONDS,
            f"worst {worst:.2f} s",
        )
    return lines


def _harness_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        ram = int(f.readline().split()[1]) / 2**20
    versions = [f"python {platform.python_version()}"]
    versions += [f"{n} {v}" for n in PACKAGES if (v := _version(n))]
    return [
        f"- date: {dt.datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu}, {ram:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        "- versions: " + ", ".join(versions),
    ]


def write_results(body: list[str]) -> None:
    """Replace (or add) this benchmark's section of bench/RESULTS.md."""
    write_section(SECTION, body, RESULTS)


# ---------------------------------------------------------------- main


def _execution_section(
    data: Data, outcomes: dict[str, Outcome], repeat: int
) -> tuple[list[str], list[str]]:
    rows = execution_table(outcomes)
    checks = execution_targets(outcomes, data.rows)
    print(f"\nexecution over {data.rows:,} rows, median of {repeat}:")
    print("\n".join(_text(EXEC_HEADER, rows, left=(0, len(EXEC_HEADER) - 1))))
    rel = {n: data.capture[n].relative_to(ROOT) for n in LAYOUTS}
    minute, hourly = data.capture_files(60), data.capture_files(1)
    body = [
        f"### One execution over {data.rows:,} captured records (median of {repeat} runs)",
        "",
        f"Data: the churn-like rows (`churn_batches(seed=1, drift=True)`, 70 columns, the "
        f"label first) as a headerless CSV ({data.csv.stat().st_size / 2**20:.0f} MB) and as "
        f"{data.rows:,} capture records (one row each, CSV in and out, label = endpointOutput) "
        f"in {HOURS} hourly folders of `{ENDPOINT}/{VARIANT}`: {minute:,} files of one minute "
        f"each ({data.capture_bytes(60) / 2**20:.0f} MB, what the server's 60 s rotation "
        f"publishes) and, for comparison, {hourly:,} files of one hour. Baseline: "
        "`modelmon baseline --no-header` of a separate training CSV (seed 0, no drift).",
        "",
        *_markdown(EXEC_HEADER, rows),
        "",
        "Commands (each its own process, run round-robin; wall time of the whole process, "
        "peak memory of its process tree; the harness's own peak RSS, "
        f"{_harness_mb():.0f} MB, is a floor under every peak since a child's ru_maxrss "
        "starts at its parent's):",
        "",
        f"- analyze CSV: `modelmon analyze --dataset {data.csv.relative_to(ROOT)} --no-header "
        "--baseline-statistics .../statistics.json --baseline-constraints "
        ".../constraints.json --output OUT`",
        "- container: `python -m modelmon.monitoring.container` with "
        f"`dataset_format='{CAPTURE_DATASET_FORMAT}'`, `dataset_source={rel[60]}` "
        f"(or `{rel[1]}`), `start_time={data.start:%Y-%m-%dT%H:%M:%SZ}`, "
        f"`end_time={data.end:%Y-%m-%dT%H:%M:%SZ}`, `baseline_constraints`, "
        "`baseline_statistics`, `output_path`, `MODELMON_MESSAGE_FILE`",
        "- Runner.run: `bench/monitoring.py _execution ...`: `Runner().run(ExecutionSpec(...))` "
        "of an EndpointInput schedule over the same window: lists and hard-links the window's "
        "files into its work directory, runs the built-in container, uploads the reports; the "
        "notes split it by the runner log's time stamps (1/100 s)",
        "- analyze capture: `modelmon analyze --dataset "
        f"{rel[60]} --format capture ...` (the reader without the container)",
        "",
    ]
    return body, checks


def _schedules_section(
    results: dict[int, list[Round]], count: int, rounds: int, lead: float, setup: float
) -> tuple[list[str], list[str]]:
    delays, summary = schedule_tables(results)
    checks = schedule_targets(results, count)
    noop = " ".join(NOOP_COMMAND)
    print(f"\n{count:,} hourly schedules, {rounds} round(s) per max_concurrent:")
    print("\n".join(_text(SCHED_HEADER, delays, left=(0, 1))))
    print()
    print("\n".join(_text(SCHED_SUMMARY_HEADER, summary)))
    body = [
        f"### {count:,} hourly schedules ({rounds} round(s) per max_concurrent)",
        "",
        f"Setup ({setup:.0f} s, untimed): one SQLite database (WAL) with {count:,} endpoints "
        "(one model, one endpoint config with data capture; created through `Hosting`, never "
        f"served) and {count:,} `cron(0 * ? * * *)` schedules created through `Monitoring` "
        "half an hour before the measured top of the hour, each endpoint with a small capture "
        "file in the hour before it. Each round copies that database and runs a real "
        "`Scheduler` in its own process (`bench/monitoring.py _schedules`): `start()` "
        f"(its `run_forever` loop, 1 s tick), a clock at real speed from {lead:g} s before the "
        f"top of the hour, the real `Runner` with the analyzer image mapped to `{noop}` "
        "through `MODELMON_ANALYZER_IMAGES` (each execution still lists and stages its window, "
        "starts a process and waits for its exit on a pidfd), until every run has ended. Rounds go "
        "round-robin over the max_concurrent values.",
        "",
        "Delays are measured in that clock by a subclass of `Scheduler`/`Runner` (no source "
        "change): *recorded Pending* when `_record` has committed the run, *claimed "
        "InProgress* when the claim is committed (`_claim`, one statement for all the runs "
        "this instance recorded), *analyzer process started* "
        "when `Runner._supervise` starts the process; *StartTime as stored* is the row's "
        "`start_time`, the time the tick began. p50/p99: medians over the rounds; max: over "
        "all rounds. The target's \"starts\" is InProgress (the execution's status, what "
        "DescribeMonitoringExecution shows).",
        "",
        *_markdown(SCHED_HEADER, delays),
        "",
        *_markdown(SCHED_SUMMARY_HEADER, summary),
        "",
    ]
    warned = _warnings(results)
    if warned:
        print("\n".join(["", "warnings the scheduler logged:", *warned]))
        body += ["Warnings the scheduler process logged (count per round):", "", *warned, ""]
    return body, checks


def _warnings(results: dict[int, list[Round]]) -> list[str]:
    lines = []
    for level, rounds in results.items():
        messages = sorted({m for r in rounds for m in r.warnings})
        for message in messages:
            counts = "/".join(f"{r.warnings.get(message, 0):,}" for r in rounds)
            lines.append(f"- max_concurrent {level:,}: `{message}` × {counts}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    internal: dict[str, Callable[[Sequence[str]], int]] = {
        "_execution": _execution_main,
        "_generate": _generate_main,
        "_prepare": _prepare_main,
        "_schedules": _schedules_main,
    }
    if argv[:1] and argv[0] in internal:  # a measured process
        return internal[argv[0]](argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="captured records")
    parser.add_argument("--train-rows", type=int, default=1_000_000, help="baseline rows")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (median)")
    parser.add_argument(
        "--tools",
        nargs="+",
        choices=TOOL_NAMES,
        default=list(TOOL_NAMES),
        metavar="NAME",
        help=f"part 1 commands: {', '.join(TOOL_NAMES)}",
    )
    parser.add_argument("--schedules", type=int, default=1000, help="hourly schedules")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[2, 100, 1000],
        help="scheduler max_concurrent values (2 is MODELMON_MAX_EXECUTIONS' default)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="scheduler runs per max_concurrent")
    parser.add_argument("--lead", type=float, default=10, help="seconds before the top of hour")
    parser.add_argument(
        "--schedule-timeout", type=float, default=900, help="seconds for every run to end"
    )
    parser.add_argument(
        "--only", nargs="+", choices=("execution", "schedules"), default=["execution", "schedules"]
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per part 1 run")
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    if min(args.rows, args.train_rows, args.repeat, args.schedules, args.rounds) < 1:
        parser.error("--rows, --train-rows, --repeat, --schedules and --rounds must be positive")
    if min(args.concurrency) < 1:
        parser.error("--concurrency values must be positive")
    if not MODELMON.exists():
        raise SystemExit(f"no {MODELMON}: run `make install` first")

    body = machine()
    command_line = (
        f"bench/monitoring.py --rows {args.rows} --repeat {args.repeat} --schedules "
        f"{args.schedules} --concurrency {' '.join(map(str, args.concurrency))} "
        f"--rounds {args.rounds} --only {' '.join(args.only)}"
    )
    body += [f"- command: `{command_line}`", ""]
    checks: list[str] = []
    if "execution" in args.only:
        print(f"\n== one execution over {args.rows:,} captured records ==", flush=True)
        data = ensure_data(args.rows, args.train_rows)
        tools = [t for t in TOOLS if t.name in args.tools]
        outcomes = bench_execution(data, tools, args.repeat, {"timeout": args.timeout})
        part, found = _execution_section(data, outcomes, args.repeat)
        body += part
        checks += found
    if "schedules" in args.only:
        print(f"\n== {args.schedules:,} hourly schedules ==", flush=True)
        results, setup = bench_schedules(
            args.schedules, args.concurrency, args.rounds, args.lead, args.schedule_timeout
        )
        part, found = _schedules_section(results, args.schedules, args.rounds, args.lead, setup)
        body += part
        checks += found
    print("\ntargets:\n" + "\n".join(checks))
    body += ["### Targets", "", "```", *checks, "```"]
    if not args.no_results:
        write_results(body)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
