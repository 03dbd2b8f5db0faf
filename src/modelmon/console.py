"""Terminal presentation shared by the CLI and the demo: tables and progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from modelmon.analysis.engine import Progress as ProgressCallback
from modelmon.formats.statistics import Statistics
from modelmon.formats.violations import Violation

console = Console()
errors = Console(stderr=True)


@contextmanager
def progress_bar(description: str, *, counts: bool = False) -> Iterator[ProgressCallback]:
    """A progress callback that draws a bar on a terminal (and nothing elsewhere).

    ``done`` and ``total`` are bytes, or plain counts (files...) with ``counts``.
    """
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if counts else DownloadColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def violations_table(violations: list[Violation], title: str = "Violations") -> Table:
    """The violations as a table: feature, check, description."""
    table = Table(title=f"{title} ({len(violations)})", show_lines=False, expand=False)
    table.add_column("feature", style="bold")
    table.add_column("check", style="magenta")
    table.add_column("description", overflow="fold")
    for v in violations:
        table.add_row(v.feature_name, v.constraint_check_type, v.description)
    return table


def statistics_table(statistics: Statistics, title: str = "Baseline statistics") -> Table:
    """One line per feature: type, completeness and the main numbers."""
    table = Table(title=f"{title} ({statistics.item_count} records)")
    for name in ("feature", "type", "present", "missing", "mean", "std", "min", "max", "distinct"):
        table.add_column(name, justify="left" if name in ("feature", "type") else "right")
    for f in statistics.features:
        if f.numerical is not None:
            n = f.numerical
            row = [f"{n.mean:.4g}", f"{n.std_dev:.4g}", f"{n.min:.4g}", f"{n.max:.4g}", ""]
        else:
            distinct = f.string.distinct_count if f.string else 0
            row = ["", "", "", "", f"{distinct:.0f}"]
        table.add_row(f.name, f.inferred_type, str(f.num_present), str(f.num_missing), *row)
    return table
