"""The analyzer as plain functions: ``baseline`` and ``analyze``.

The analyzer is a pure function of (dataset, baseline) → (statistics,
violations); these functions add reading and writing of SageMaker's files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelmon.analysis.checks import run_checks
from modelmon.analysis.engine import (
    Progress,
    dataset_files,
    peek_columns,
    profile_dataset,
)
from modelmon.analysis.profile import DatasetProfile
from modelmon.analysis.readers import DatasetFormat
from modelmon.analysis.statistics import build_statistics
from modelmon.analysis.suggest import suggest_constraints
from modelmon.errors import InputError
from modelmon.formats.constraints import Constraints, MonitoringConfig
from modelmon.formats.jsonfmt import dumps
from modelmon.formats.statistics import Statistics
from modelmon.formats.violations import Violation, Violations
from modelmon.storage.files import atomic_write_text, open_input

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"

_AUTO_NAME = re.compile(r"^_c\d+$")


@dataclass
class BaselineResult:
    statistics: Statistics
    constraints: Constraints
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class AnalysisResult:
    statistics: Statistics
    violations: list[Violation]
    # feature -> (kind, distance) for every feature compared with the baseline
    drift: dict[str, tuple[str, float]]
    outputs: dict[str, str] = field(default_factory=dict)


def _format(fmt: DatasetFormat | str | None, header: bool | None) -> DatasetFormat:
    if isinstance(fmt, DatasetFormat):
        return fmt
    return DatasetFormat.parse(fmt or "csv", header)


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def load_json(uri: str) -> Any:
    """Read a JSON file from any URI, with errors that name the file and position."""
    try:
        with open_input(uri) as handle:
            raw = handle.read()
    except FileNotFoundError as err:
        raise InputError("no such file", source=uri) from err
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputError("the file is not UTF-8 text", source=uri) from err
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg}", source=uri, line=err.lineno) from err


def load_statistics(uri: str) -> Statistics:
    """A statistics.json file from any URI."""
    return Statistics.from_dict(load_json(uri), source=uri)


def load_constraints(uri: str) -> Constraints:
    """A constraints.json file from any URI (legacy spellings accepted)."""
    return Constraints.from_dict(load_json(uri), source=uri)


def write_json(uri: str, document: dict[str, Any]) -> str:
    """Write a document in the container's JSON style, atomically."""
    atomic_write_text(uri, dumps(document))
    return uri


def baseline(
    dataset: str | Sequence[str],
    output: str | None = None,
    *,
    format: DatasetFormat | str | None = "csv",
    header: bool | None = None,
    workers: int | None = None,
    monitoring_config: MonitoringConfig | None = None,
    progress: Progress | None = None,
) -> BaselineResult:
    """Profile a training dataset into statistics and suggested constraints.

    With ``output`` (a directory or URI) writes statistics.json and
    constraints.json there; each file appears whole or not at all.
    """
    fmt = _format(format, header)
    profile = profile_dataset(dataset_files(dataset), fmt, workers=workers, progress=progress)
    result = BaselineResult(
        statistics=build_statistics(profile),
        constraints=suggest_constraints(profile, monitoring_config),
    )
    if output is not None:
        result.outputs = {
            STATISTICS_FILE: write_json(
                _join(output, STATISTICS_FILE), result.statistics.to_dict()
            ),
            CONSTRAINTS_FILE: write_json(
                _join(output, CONSTRAINTS_FILE), result.constraints.to_dict()
            ),
        }
    return result


def positional_names(current: Sequence[str], baseline_names: Sequence[str]) -> dict[str, str]:
    """Map Spark's default names (``_c0``, ``_c1``, …) onto the baseline's feature names.

    Data without a header (captured CSV traffic, headerless CSV) is matched to
    the baseline by position; columns past the baseline's keep their ``_cN`` name.
    """
    if not current or not all(_AUTO_NAME.match(n) for n in current):
        return {}
    if list(baseline_names[: len(current)]) == list(current[: len(baseline_names)]):
        return {}
    return {name: baseline_names[i] for i, name in enumerate(current) if i < len(baseline_names)}


def _rename(profile: DatasetProfile, mapping: dict[str, str]) -> None:
    if not mapping:
        return
    columns = {}
    for name, column in profile.columns.items():
        column.name = mapping.get(name, name)
        columns[column.name] = column
    profile.columns = columns


def analyze(
    dataset: str | Sequence[str],
    baseline_constraints: Constraints | str,
    baseline_statistics: Statistics | str | None = None,
    output: str | None = None,
    *,
    format: DatasetFormat | str | None = "csv",
    header: bool | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Profile a dataset and check it against a baseline (SPEC §2.4).

    ``baseline_constraints`` / ``baseline_statistics`` are objects or URIs of
    constraints.json / statistics.json (without statistics no drift is
    computed). With ``output`` writes statistics.json and
    constraint_violations.json there, each atomically.
    """
    fmt = _format(format, header)
    constraints = (
        load_constraints(baseline_constraints)
        if isinstance(baseline_constraints, str)
        else baseline_constraints
    )
    base_stats = (
        load_statistics(baseline_statistics)
        if isinstance(baseline_statistics, str)
        else baseline_statistics
    )
    files = dataset_files(dataset)
    mapping = positional_names(peek_columns(files, fmt), [f.name for f in constraints.features])
    by_baseline = {v: k for k, v in mapping.items()}

    def in_file(name: str) -> str:
        return by_baseline.get(name, name)

    text = [in_file(f.name) for f in constraints.features if f.inferred_type == "String"]
    integral = [in_file(f.name) for f in constraints.features if f.inferred_type == "Integral"]
    profile = profile_dataset(
        files,
        fmt,
        workers=workers,
        string_columns=text,
        integral_columns=integral,
        progress=progress,
    )
    _rename(profile, mapping)
    statistics = build_statistics(profile)
    checked = run_checks(constraints, base_stats, profile.columns, statistics)
    result = AnalysisResult(statistics, checked.violations, checked.drift)
    if output is not None:
        result.outputs = {
            STATISTICS_FILE: write_json(_join(output, STATISTICS_FILE), statistics.to_dict()),
            VIOLATIONS_FILE: write_json(
                _join(output, VIOLATIONS_FILE), Violations(checked.violations).to_dict()
            ),
        }
    return result
