"""The peers' side of the analyzer benchmark: one tool, one dataset, one process.

Runs with the peers' own interpreter (``bench/.peers-venv``), never the project's:

    bench/.peers-venv/bin/python bench/peers.py TOOL TRAIN.csv DRIFTED.csv OUTDIR

TOOL is one of ``polars``, ``pandas``, ``whylogs``, ``evidently``. The last line
printed is ``BENCH {json}`` with the seconds of each phase, which the harness
(bench/analyzer.py) shows beside the wall time it measures itself.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

Phases = dict[str, float]


class _Clock:
    """Times named phases: ``with clock("read"): ...``."""

    def __init__(self) -> None:
        self.phases: Phases = {}

    def __call__(self, name: str) -> _Clock:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.phases[self._name] = round(time.perf_counter() - self._start, 4)


def polars_read(train: Path, drifted: Path, out: Path) -> Phases:
    """The parse floor: polars reads the training CSV, nothing more."""
    import polars as pl

    clock = _Clock()
    with clock("read"):
        df = pl.read_csv(train)
    assert df.height > 0
    return clock.phases


def pandas_describe(train: Path, drifted: Path, out: Path) -> Phases:
    """pandas reads the training CSV and describes every column."""
    import pandas as pd

    clock = _Clock()
    with clock("read"):
        df = pd.read_csv(train)
    with clock("describe"):
        summary = df.describe(include="all")
    summary.to_csv(out / "describe.csv")
    return clock.phases


def whylogs_profile(train: Path, drifted: Path, out: Path) -> Phases:
    """whylogs profiles the training CSV read by pandas, and writes the profile."""
    import pandas as pd
    import whylogs as why

    clock = _Clock()
    with clock("read"):
        df = pd.read_csv(train)
    with clock("profile"):
        view = why.log(pandas=df).view()
        (out / "profile.bin").write_bytes(view.serialize())
    return clock.phases


def evidently_drift(train: Path, drifted: Path, out: Path) -> Phases:
    """Evidently's data drift preset, reference = train, current = drifted, saved as JSON."""
    import pandas as pd

    clock = _Clock()
    with clock("read"):
        reference = pd.read_csv(train)
        current = pd.read_csv(drifted)
    try:  # evidently >= 0.7
        from evidently import Report
        from evidently.presets import DataDriftPreset

        with clock("drift"):
            snapshot = Report([DataDriftPreset()]).run(current, reference)
        with clock("save"):
            (out / "drift.json").write_text(snapshot.json())
    except ImportError:  # evidently 0.4 - 0.6
        from evidently.metric_preset import DataDriftPreset
        from evidently.report import Report

        report = Report(metrics=[DataDriftPreset()])
        with clock("drift"):
            report.run(reference_data=reference, current_data=current)
        with clock("save"):
            (out / "drift.json").write_text(report.json())
    return clock.phases


TOOLS: dict[str, Callable[[Path, Path, Path], Phases]] = {
    "polars": polars_read,
    "pandas": pandas_describe,
    "whylogs": whylogs_profile,
    "evidently": evidently_drift,
}


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in TOOLS:
        print(__doc__, file=sys.stderr)
        return 2
    tool, train, drifted, out = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    out.mkdir(parents=True, exist_ok=True)
    phases = TOOLS[tool](train, drifted, out)
    print("BENCH " + json.dumps(phases), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
