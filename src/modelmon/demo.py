"""``make demo``: the whole system on embedded defaults, end to end.

1. generates a churn-like training table (modelmon's own generator, no
   downloads) and baselines it: statistics.json + constraints.json;
2. trains a scikit-learn model and starts ``modelmon serve`` (SQLite and a local
   object directory under the output folder);
3. deploys the model with the SageMaker-style SDK behind a real-time endpoint
   with 100% data capture, using SageMaker's inference handler contract;
4. sends real HTTP traffic, normal then drifted, and has the capture published;
5. runs a baselining job (``suggest_baseline``), a NOW monitoring schedule over
   the last hour (statistics.json, constraints.json, constraint_violations.json
   under s3://demo/reports/churn/churn-now/yyyy/mm/dd/hh/) and an hourly
   schedule, whose first run a second scheduler on the same database starts with
   its clock at the next top of the hour; then stops the server gracefully.

Run as ``python -m modelmon.demo [--rows N] [--requests N] [--output DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from modelmon.console import console, errors, progress_bar, statistics_table, violations_table
from modelmon.errors import ModelmonError
from modelmon.formats.statistics import Statistics
from modelmon.formats.violations import Violation
from modelmon.monitoring.schedule import ScheduleExpression, next_time
from modelmon.synthetic import COLUMNS, DRIFTED_FEATURES, LABEL, churn_table, write_csv

ROWS_PER_REQUEST = 5

# SageMaker's handler contract: the endpoint receives whole churn rows (with text
# columns) and this script picks the numeric ones for the model.
INFERENCE_SCRIPT = '''\
"""Inference handlers (SageMaker contract) for the modelmon demo's churn model."""
import csv
import io
import os

import joblib
import numpy as np

NUMERIC = {numeric!r}


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    rows = list(csv.reader(io.StringIO(text)))
    return np.array([[float(r[i]) if r[i] else 0.0 for i in NUMERIC] for r in rows])


def predict_fn(data, model):
    return model.predict(data)


def output_fn(prediction, accept):
    return "\\n".join(str(int(p)) for p in prediction), "text/csv"
'''


def _train(table: pa.Table, folder: Path) -> Path:
    """A logistic regression on the numeric features, packed as SageMaker's model.tar.gz."""
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = [c for c in COLUMNS if c != LABEL]
    numeric = [
        i
        for i, c in enumerate(features)
        if pa.types.is_integer(table.schema.field(c).type)
        or pa.types.is_floating(table.schema.field(c).type)
    ]
    x = np.column_stack(
        [np.nan_to_num(table[features[i]].to_numpy(zero_copy_only=False)) for i in numeric]
    )
    y = table[LABEL].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    (folder / "inference.py").write_text(INFERENCE_SCRIPT.format(numeric=numeric))
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "model.joblib", arcname="model.joblib")
        tar.add(folder / "inference.py", arcname="code/inference.py")
    return archive


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port_file = data_dir.parent / "server.port"
    port_file.unlink(missing_ok=True)
    log = data_dir.parent / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "MODELMON_OBJECT_ROOT"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelmon.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--log-level",
                "warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise ModelmonError(f"the server did not start; see {log}")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text().strip()}", log


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _traffic(table: pa.Table) -> list[str]:
    """CSV request bodies of ROWS_PER_REQUEST rows each, without the label column."""
    features = table.drop_columns([LABEL])
    sink = pa.BufferOutputStream()
    pacsv.write_csv(features, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    lines = sink.getvalue().to_pybytes().decode().splitlines()
    return [
        "\n".join(lines[i : i + ROWS_PER_REQUEST]) for i in range(0, len(lines), ROWS_PER_REQUEST)
    ]


def _send(predictor: Any, bodies: list[str], label: str) -> float:
    started = time.perf_counter()
    with progress_bar(label) as progress:
        for i, body in enumerate(bodies):
            predictor.predict(body)
            if i % 50 == 0:
                progress(i, len(bodies))
    return len(bodies) / (time.perf_counter() - started)


def _violations(document: dict[str, Any]) -> list[Violation]:
    return [
        Violation(v["feature_name"], v["constraint_check_type"], v["description"])
        for v in document.get("violations", [])
    ]


def run(rows: int, requests: int, output: Path) -> int:
    """The demo; returns the number of violations the monitoring execution found."""
    from modelmon.sdk import (
        CronExpressionGenerator,
        CSVSerializer,
        DataCaptureConfig,
        DatasetFormat,
        DefaultModelMonitor,
        EndpointInput,
        Model,
        Session,
    )

    if output.exists():
        shutil.rmtree(output / "server", ignore_errors=True)
    data = output / "data"
    data.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]modelmon demo: hosting, data capture and data-quality monitoring")
    train = write_csv(data / "training-dataset-with-header.csv", rows, seed=1)
    console.print(f"training data : {train} ({rows:,} rows, 70 columns)", highlight=False)
    archive = _train(churn_table(min(rows, 50_000), seed=1), output / "model")
    console.print(f"model         : {archive} (scikit-learn, SageMaker handler script)")

    process, url, log = _start_server(output / "server")
    try:
        console.print(f"\n[bold]1. Server[/] {url} (log {log})", highlight=False)
        with Session(url) as session:
            predictor = Model(
                image_uri="sklearn",
                model_data=str(archive),
                env={"SAGEMAKER_PROGRAM": "inference.py"},
                name="churn-model",
                sagemaker_session=session,
            ).deploy(
                initial_instance_count=1,
                instance_type="ml.m5.xlarge",
                endpoint_name="churn",
                data_capture_config=DataCaptureConfig(
                    enable_capture=True,
                    sampling_percentage=100,
                    destination_s3_uri="s3://demo/data-capture",
                ),
                serializer=CSVSerializer(),
            )
            console.print("   deployed endpoint 'churn' (InService), capturing 100% of requests")

            normal = _traffic(churn_table(requests // 2 * ROWS_PER_REQUEST, seed=2))
            drifted = _traffic(churn_table(requests * ROWS_PER_REQUEST, seed=3, drift=True))
            rate = _send(predictor, normal, "normal traffic")
            rate = (rate + _send(predictor, drifted, "drifted traffic")) / 2
            shown = [f for f in DRIFTED_FEATURES if not f.startswith("State_")]
            session.flush_capture()
            files = session.list_objects("s3://demo/data-capture/churn/")
            console.print(
                f"\n[bold]2. Traffic[/] {len(normal):,} normal then {len(drifted):,} drifted "
                f"requests ({rate:,.0f}/s, {ROWS_PER_REQUEST} rows each); drifted on purpose: "
                f"{', '.join(shown)}; {len(files)} capture file(s), e.g. {files[0]}",
                highlight=False,
            )

            monitor = DefaultModelMonitor(
                role="arn:aws:iam::000000000000:role/demo",
                instance_count=1,
                instance_type="ml.m5.xlarge",
                max_runtime_in_seconds=1800,
                sagemaker_session=session,
            )
            started = time.perf_counter()
            job = monitor.suggest_baseline(
                baseline_dataset=str(train),
                dataset_format=DatasetFormat.csv(header=True),
                output_s3_uri="s3://demo/baselining/results",
                wait=True,
            )
            console.print(
                f"\n[bold]3. Baseline[/] job {job['ProcessingJobName']} "
                f"{job['ProcessingJobStatus']} in {time.perf_counter() - started:.1f}s → "
                f"{job['StatisticsUri']}, {job['ConstraintsUri']}",
                highlight=False,
            )
            statistics = Statistics.from_dict(monitor.baseline_statistics().body_dict)
            first = replace(statistics, features=statistics.features[:12])
            console.print(statistics_table(first, "Baseline statistics (first 12 of 70 features)"))

            monitor.create_monitoring_schedule(
                monitor_schedule_name="churn-now",
                endpoint_input=EndpointInput(endpoint_name="churn"),
                output_s3_uri="s3://demo/reports",
                statistics=monitor.baseline_statistics(),
                constraints=monitor.suggested_constraints(),
                schedule_cron_expression=CronExpressionGenerator.now(),
                data_analysis_start_time="-PT1H",
                data_analysis_end_time="-PT0H",
            )
            execution = _wait_for_execution(monitor)
            description = execution.describe()
            console.print(
                f"\n[bold]4. Monitoring[/] schedule churn-now (NOW, last hour): execution "
                f"{description['MonitoringExecutionStatus']} → {description.get('ReportUri')}",
                highlight=False,
            )
            report = monitor.latest_monitoring_violations()
            violations = _violations(report.body_dict if report else {})
            console.print(violations_table(violations, "Violations in the captured traffic"))
            flagged = sorted(
                {
                    v.feature_name
                    for v in violations
                    if v.constraint_check_type == "baseline_drift_check"
                }
            )
            console.print(f"drift flagged on: {', '.join(flagged) or 'nothing'}", highlight=False)

            hourly = DefaultModelMonitor(
                role="arn:aws:iam::000000000000:role/demo",
                max_runtime_in_seconds=1800,
                sagemaker_session=session,
            )
            hourly.create_monitoring_schedule(
                monitor_schedule_name="churn-hourly",
                endpoint_input=EndpointInput(endpoint_name="churn"),
                output_s3_uri="s3://demo/reports",
                statistics=monitor.baseline_statistics(),
                constraints=monitor.suggested_constraints(),
                schedule_cron_expression=CronExpressionGenerator.hourly(),
            )
            schedule = _wait_scheduled(hourly)
            next_run = next_time(
                ScheduleExpression.parse(CronExpressionGenerator.hourly()), _utcnow()
            )
            console.print(
                "\n[bold]5. Hourly schedule[/] churn-hourly is "
                f"{schedule['MonitoringScheduleStatus']}; its first run is due at "
                f"{next_run:%H:%M} UTC. Not to wait for it, a second scheduler on the same "
                f"database (what `modelmon scheduler` runs) ticks once with its clock at "
                f"{next_run:%H:%M:%S}: it records that run and runs it.",
                highlight=False,
            )
            _tick_at(output / "server", next_run + dt.timedelta(seconds=1))
            runs = hourly.list_executions()
            if not runs:
                raise ModelmonError("the hourly schedule's run was not recorded")
            described = runs[-1].describe()
            found = hourly.latest_monitoring_violations()
            count = len(_violations(found.body_dict if found else {}))
            console.print(
                f"   run scheduled {described['ScheduledTime']}: "
                f"{described['MonitoringExecutionStatus']}"
                + (f" ({described['FailureReason']})" if described.get("FailureReason") else "")
                + f", {count} violation(s) → {described.get('ReportUri')}",
                highlight=False,
            )
    finally:
        _stop_server(process)
    console.print(
        f"\nEverything is under {output}: the server's objects (capture, baseline, reports) in "
        f"{output / 'server' / 'objects' / 'demo'}",
        highlight=False,
    )
    return len(violations)


def _tick_at(data_dir: Path, at: dt.datetime, timeout: float = 600) -> None:
    """One scheduler tick on the server's database with the clock at ``at``; waits for
    the executions it starts to end."""
    from modelmon.config import Settings
    from modelmon.db import Database
    from modelmon.monitoring.registry import Monitoring
    from modelmon.monitoring.runner import Runner
    from modelmon.monitoring.scheduler import Scheduler
    from modelmon.serving.registry import Hosting

    settings = Settings(data_dir=data_dir)
    settings.prepare()
    db = Database(settings.database_url)
    try:

        def clock() -> dt.datetime:
            return at

        monitoring = Monitoring(db, settings, Hosting(db, settings), clock=clock)
        scheduler = Scheduler(db, settings, monitoring, Runner(), clock=clock)
        scheduler.tick()
        deadline = time.monotonic() + timeout
        with progress_bar("hourly execution") as progress:
            while scheduler.running():
                if time.monotonic() > deadline:
                    raise ModelmonError("the hourly execution did not finish in time")
                progress(0, 0)
                time.sleep(0.2)
        scheduler.shutdown()
    finally:
        db.dispose()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _wait_for_execution(monitor: Any, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    with progress_bar("monitoring execution") as progress:
        while True:
            executions = monitor.list_executions()
            if executions:
                status = executions[-1].describe()["MonitoringExecutionStatus"]
                if status not in ("Pending", "InProgress", "Stopping"):
                    return executions[-1]
            if time.monotonic() > deadline:
                raise ModelmonError("the monitoring execution did not finish in time")
            progress(0, 0)
            time.sleep(0.2)


def _wait_scheduled(monitor: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        schedule = monitor.describe_schedule()
        if schedule["MonitoringScheduleStatus"] != "Pending" or time.monotonic() > deadline:
            return schedule
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelmon.demo", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="training rows (default 100000)")
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests sent to the endpoint (default 1000)"
    )
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    args = parser.parse_args(argv)
    if args.rows < 100 or args.requests < 1:
        parser.error("--rows must be at least 100 and --requests at least 1")
    try:
        run(args.rows, args.requests, args.output.resolve())
    except ModelmonError as err:
        errors.print(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
