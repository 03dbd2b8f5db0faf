"""``make demo``: the whole system on embedded defaults, end to end.

1. generates a churn-like training table (modelmon's own generator, no
   downloads) and baselines it: statistics.json + constraints.json;
2. trains a scikit-learn model and starts ``modelmon serve`` (SQLite and a local
   object directory under the output folder);
3. deploys the model with the SageMaker-style SDK behind a real-time endpoint
   with 100% data capture, using SageMaker's inference handler contract;
4. sends real HTTP traffic whose distribution has drifted;
5. stops the server gracefully (every captured record is published) and
   analyzes the captured traffic against the baseline: constraint_violations.json.

Run as ``python -m modelmon.demo [--rows N] [--requests N] [--output DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from modelmon.analysis.api import analyze, baseline
from modelmon.console import console, errors, progress_bar, statistics_table, violations_table
from modelmon.errors import ModelmonError
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


def run(rows: int, requests: int, output: Path) -> int:
    """The demo; returns the number of violations found in the captured traffic."""
    from modelmon.sdk import CSVSerializer, DataCaptureConfig, Model, Session

    if output.exists():
        shutil.rmtree(output / "server", ignore_errors=True)
    data = output / "data"
    data.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]modelmon demo: hosting, data capture and data-quality monitoring")
    train = write_csv(data / "training-dataset-with-header.csv", rows, seed=1)
    console.print(f"training data : {train} ({rows:,} rows, 70 columns)", highlight=False)

    started = time.perf_counter()
    with progress_bar("baselining") as progress:
        base = baseline(str(train), str(output / "baseline"), progress=progress)
    console.print(
        f"\n[bold]1. Baseline[/] in {time.perf_counter() - started:.2f}s → "
        f"{base.outputs['statistics.json']}, {base.outputs['constraints.json']}",
        highlight=False,
    )
    first = replace(base.statistics, features=base.statistics.features[:12])
    console.print(statistics_table(first, "Baseline statistics (first 12 of 70 features)"))

    archive = _train(churn_table(min(rows, 50_000), seed=1), output / "model")
    process, url, log = _start_server(output / "server")
    try:
        console.print(f"\n[bold]2. Server[/] {url} (log {log})", highlight=False)
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
            console.print("   deployed endpoint 'churn' (InService), capturing 100%")
            bodies = _traffic(churn_table(requests * ROWS_PER_REQUEST, seed=2, drift=True))
            shown = [f for f in DRIFTED_FEATURES if not f.startswith("State_")]
            started = time.perf_counter()
            with progress_bar("sending traffic") as progress:
                for i, body in enumerate(bodies):
                    predictor.predict(body)
                    if i % 50 == 0:
                        progress(i, len(bodies))
            elapsed = time.perf_counter() - started
            console.print(
                f"\n[bold]3. Traffic[/] {len(bodies):,} requests ({len(bodies) / elapsed:,.0f}/s, "
                f"{ROWS_PER_REQUEST} rows each), drifted on purpose: {', '.join(shown)}",
                highlight=False,
            )
    finally:
        _stop_server(process)
    capture = output / "server" / "objects" / "demo" / "data-capture" / "churn"
    files = sorted(capture.rglob("*.jsonl"))
    console.print(
        f"   server stopped; {len(files)} capture file(s) under {capture}", highlight=False
    )

    started = time.perf_counter()
    with progress_bar("analyzing") as progress:
        result = analyze(
            str(capture),
            base.outputs["constraints.json"],
            base.outputs["statistics.json"],
            str(output / "report"),
            format="capture",
            progress=progress,
        )
    console.print(
        f"\n[bold]4. Monitoring[/] of the captured traffic in "
        f"{time.perf_counter() - started:.2f}s → {result.outputs['constraint_violations.json']}",
        highlight=False,
    )
    console.print(violations_table(result.violations, "Violations in the captured traffic"))
    flagged = sorted(
        {
            v.feature_name
            for v in result.violations
            if v.constraint_check_type == "baseline_drift_check"
        }
    )
    console.print(f"drift flagged on: {', '.join(flagged) or 'nothing'}", highlight=False)
    return len(result.violations)


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
