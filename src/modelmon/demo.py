"""``make demo``: the analyzer end to end on generated churn-like data.

Generates a training table and a drifted copy (modelmon's own generator, no
downloads), baselines the first, analyzes the second and prints what it found.
Run as ``python -m modelmon.demo [--rows N] [--output DIR]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from modelmon.analysis.api import analyze, baseline
from modelmon.console import console, errors, progress_bar, statistics_table, violations_table
from modelmon.errors import ModelmonError
from modelmon.synthetic import DRIFTED_FEATURES, write_csv


def run(rows: int, output: Path) -> int:
    """Generate, baseline, analyze; returns the number of violations found."""
    data = output / "data"
    data.mkdir(parents=True, exist_ok=True)
    train = write_csv(data / "training-dataset-with-header.csv", rows, seed=1)
    current = write_csv(data / "drifted-traffic.csv", rows // 5, seed=2, drift=True)
    console.rule("[bold]modelmon demo: data-quality monitoring")
    console.print(f"training data : {train} ({rows} rows, 70 columns)", highlight=False)
    console.print(f"current data  : {current} ({rows // 5} rows, drifted)", highlight=False)
    shown = [f for f in DRIFTED_FEATURES if not f.startswith("State_")]
    console.print(
        f"drifted on purpose: {', '.join(shown)} (and the State_* one-hot flags)",
        highlight=False,
    )

    started = time.perf_counter()
    with progress_bar("baselining") as progress:
        base = baseline(str(train), str(output / "baseline"), progress=progress)
    console.print(
        f"\n[bold]1. Baseline[/] in {time.perf_counter() - started:.2f}s → "
        f"{base.outputs['statistics.json']}, {base.outputs['constraints.json']}",
        highlight=False,
    )
    first = replace(base.statistics, features=base.statistics.features[:16])
    console.print(statistics_table(first, "Baseline statistics (first 16 of 70 features)"))

    started = time.perf_counter()
    with progress_bar("analyzing") as progress:
        result = analyze(
            str(current),
            base.outputs["constraints.json"],
            base.outputs["statistics.json"],
            str(output / "report"),
            progress=progress,
        )
    console.print(
        f"\n[bold]2. Analysis[/] in {time.perf_counter() - started:.2f}s → "
        f"{result.outputs['statistics.json']}, {result.outputs['constraint_violations.json']}",
        highlight=False,
    )
    console.print(violations_table(result.violations, "Violations in the drifted traffic"))
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
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    args = parser.parse_args(argv)
    try:
        run(args.rows, args.output)
    except ModelmonError as err:
        errors.print(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
