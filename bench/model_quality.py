"""Model-quality benchmark: merge and metrics for 1M captured inferences and 1M labels.

    .venv/bin/python bench/model_quality.py [--rows 1000000] [--repeat 3] [--files-per-hour 60]
                                            [--no-results]

Generates (once, cached under bench/.work/model_quality/) an endpoint's capture
files over 24 hourly folders (``--files-per-hour`` files each, 60 = the
server's one-a-minute rotation) holding ``--rows`` records with a CSV
probability as output, and ground-truth files one day later (one file per
hour) holding ``--rows`` label records: labels for 95% of the inferences and 5%
for ids no inference has. Then runs the analyzer program
(``python -m modelmon.monitoring.container``, ``analysis_type=MODEL_QUALITY``,
BinaryClassification, window = the 24 hours) as its own process ``--repeat``
times and prints wall time and peak memory (ru_maxrss of the process, as
bench/analyzer.py measures). Target: within 20 s, under 1 GB.

Results go to bench/RESULTS.md under "## Model quality (issue 6)".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import uuid
from pathlib import Path

import numpy as np
from results import write_section  # bench/results.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from analyzer import Run, measure  # noqa: E402 - the analyzer benchmark's way of measuring

WORK = BENCH / ".work" / "model_quality"
SECTION = "## Model quality (issue 6)"
DATA_VERSION = 1
ENDPOINT = "churn"
START = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)
HOURS = 24
TARGET_SECONDS = 20.0
TARGET_MB = 1024.0


def _capture_line(event_id: str, moment: str, probability: float, features: str) -> str:
    return (
        '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
        f'"data":"{features}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":'
        f'"text/csv; charset=utf-8","mode":"OUTPUT","data":"{probability!r}","encoding":"CSV"}}}},'
        f'"eventMetadata":{{"eventId":"{event_id}","inferenceTime":"{moment}"}},"eventVersion":"0"}}\n'
    )


def _label_line(event_id: str, label: int) -> str:
    return (
        f'{{"groundTruthData":{{"data":"{label}","encoding":"CSV"}},'
        f'"eventMetadata":{{"eventId":"{event_id}"}},"eventVersion":"0"}}\n'
    )


def ensure_data(rows: int, files_per_hour: int) -> Path:
    """Generate the capture and ground-truth files (cached by their parameters)."""
    base = WORK / f"v{DATA_VERSION}-{rows}-{files_per_hour}"
    marker = base / "done.json"
    if marker.exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    rng = np.random.default_rng(7)
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(rows)]
    truth = rng.integers(0, 2, rows)
    probability = np.clip(truth * 0.35 + rng.random(rows) * 0.65, 0, 1)
    seconds = np.sort(rng.integers(0, HOURS * 3600, rows))
    features = [
        f"{a},{b},{c:.3f}"
        for a, b, c in zip(
            rng.integers(18, 90, rows),
            rng.integers(0, 200, rows),
            rng.random(rows) * 300,
            strict=True,
        )
    ]
    capture = base / "capture"
    per_file = 3600 // files_per_hour
    handles: dict[tuple[int, int], object] = {}
    file_of = seconds // per_file
    for i in range(rows):
        moment = START + dt.timedelta(seconds=int(seconds[i]))
        key = int(file_of[i])
        handle = handles.get(key)
        if handle is None:
            for old in handles.values():
                old.close()  # type: ignore[attr-defined]
            handles.clear()
            folder = capture / ENDPOINT / "AllTraffic" / moment.strftime("%Y/%m/%d/%H")
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{moment:%M-%S}-000-{uuid.uuid4()}.jsonl"
            handle = handles[key] = open(folder / name, "w")  # noqa: SIM115 - closed above
        handle.write(  # type: ignore[attr-defined]
            _capture_line(
                ids[i], moment.strftime("%Y-%m-%dT%H:%M:%SZ"), float(probability[i]), features[i]
            )
        )
    for old in handles.values():
        old.close()  # type: ignore[attr-defined]
    labelled = rng.random(rows) < 0.95
    unknown = rows - int(labelled.sum())
    label_ids = [ids[i] for i in np.nonzero(labelled)[0]]
    label_values = truth[labelled].tolist()
    label_ids += [str(uuid.uuid4()) for _ in range(unknown)]
    label_values += rng.integers(0, 2, unknown).tolist()
    order = rng.permutation(len(label_ids))
    ground_truth = base / "ground_truth"
    for hour, chunk in enumerate(np.array_split(order, HOURS)):
        moment = START + dt.timedelta(days=1, hours=hour)
        folder = ground_truth / moment.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{uuid.uuid4()}.jsonl", "w") as out:
            out.writelines(_label_line(label_ids[i], label_values[i]) for i in chunk)
    marker.write_text(json.dumps({"rows": rows, "labels": len(label_ids)}))
    return base


def command(data: Path, out: Path) -> tuple[list[str], dict[str, str]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "analysis_type": "MODEL_QUALITY",
        "problem_type": "BinaryClassification",
        "inference_attribute": "0",
        "probability_attribute": "0",
        "probability_threshold_attribute": "0.5",
        "dataset_format": '{"sagemakerCaptureJson": {"captureIndexNames": '
        '["endpointInput", "endpointOutput"]}}',
        "dataset_source": str(data / "capture"),
        "ground_truth_source": str(data / "ground_truth"),
        "output_path": str(out),
        "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": (START + dt.timedelta(hours=HOURS)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": ENDPOINT,
        "sagemaker_monitoring_schedule_name": "mq-hourly",
    }
    return [sys.executable, "-m", "modelmon.monitoring.container"], env


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--files-per-hour", type=int, default=60)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    data = ensure_data(args.rows, args.files_per_hour)
    runs: list[Run] = []
    summary = None
    loads = [os.getloadavg()[0]]
    for i in range(args.repeat):
        out = WORK / "out"
        shutil.rmtree(out, ignore_errors=True)
        argv_, env = command(data, out)
        run = measure(argv_, timeout=300, max_mb=4096, env=env)
        if run.error:
            print(f"run {i + 1}: FAILED {run.error}")
            return 1
        summary = json.loads((out / "merge_summary.json").read_text())
        runs.append(run)
        loads.append(os.getloadavg()[0])
        print(f"run {i + 1}: {run.seconds:.2f} s, peak {run.peak_mb:.0f} MB")
    seconds = [r.seconds for r in runs]
    peaks = [r.peak_mb for r in runs]
    median = statistics.median(seconds)
    peak = max(peaks)
    capture_mb = sum(f.stat().st_size for f in (data / "capture").rglob("*.jsonl")) / 2**20
    labels_mb = sum(f.stat().st_size for f in (data / "ground_truth").rglob("*.jsonl")) / 2**20
    files = sum(1 for _ in (data / "capture").rglob("*.jsonl"))
    verdict_time = "PASS" if median <= TARGET_SECONDS else "FAIL"
    verdict_mem = "PASS" if peak < TARGET_MB else "FAIL"
    body = [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores (os.cpu_count), {platform.machine()}, "
        f"{platform.system()} {platform.release()}",
        f"- versions: python {platform.python_version()}, modelmon {_version('modelmon')}, "
        f"pyarrow {_version('pyarrow')}, numpy {_version('numpy')}, "
        f"scikit-learn {_version('scikit-learn')}",
        f"- command: `bench/model_quality.py --rows {args.rows} --repeat {args.repeat} "
        f"--files-per-hour {args.files_per_hour}`",
        f"- data: {args.rows:,} captured records in {files:,} files over {HOURS} hourly folders "
        f"({capture_mb:.0f} MiB), {summary['labels'] if summary else '?':,} label records in "
        f"{HOURS} files a day later ({labels_mb:.0f} MiB)",
        "- measured: the analyzer program as its own process (BinaryClassification, CSV "
        "probability, threshold 0.5): read + window, ground-truth read + dedup, join, audit "
        "merge files, metrics with 5 resamples, files and metric records",
        f"- merge: `{json.dumps(summary)}`",
        "- 1-minute load average before and after each run (other work shares the 2 cores): "
        + ", ".join(f"{load:.1f}" for load in loads),
        "",
        "| runs | median s | min s | max s | peak MB (max) |",
        "|---|---|---|---|---|",
        f"| {len(runs)} | {median:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | {peak:.0f} |",
        "",
        "```",
        f"{verdict_time}  merge + metrics, {args.rows:,} inferences and labels ≤ "
        f"{TARGET_SECONDS:.0f} s ({median:.2f} s)",
        f"{verdict_mem}  peak memory < {TARGET_MB:.0f} MB ({peak:.0f} MB)",
        "```",
    ]
    print("\n".join(body))
    if not args.no_results:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
