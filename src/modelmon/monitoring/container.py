"""The built-in data-quality analyzer as a program honouring SageMaker's container contract.

``python -m modelmon.monitoring.container`` reads its job from the environment
(SPEC §5.1), analyzes ``dataset_source``, writes SageMaker's files into
``output_path`` and a one-line exit message, and exits 0 (``Completed``,
``CompletedWithViolations``) or 1 (``Failed``). A job runner starts it exactly
as SageMaker starts its analyzer image; a user's own analyzer honouring the
same contract can take its place.

Environment (SageMaker's names, except the ``MODELMON_*`` ones):

* ``dataset_format`` (required): JSON, ``{"sagemakerCaptureJson": {...}}``,
  ``{"csv": {"header": true, "output_columns_position": "START"}}``,
  ``{"json": {"lines": true}}`` or ``{"parquet": {}}``. (``captureIndexNames``
  is not honoured yet: both sides of a captured record are analyzed.)
* ``dataset_source`` (required): a local directory (or file). Empty files are
  skipped; files under ``…/yyyy/mm/dd/hh/`` folders are selected by the window.
* ``output_path`` (required): the local output directory.
* ``baseline_constraints``, ``baseline_statistics`` (optional local paths).
  Neither: a baselining run, writing statistics.json and the suggested
  constraints.json. Constraints: a monitoring run, writing statistics.json,
  constraints.json (the baseline's as given; regenerated when
  ``categorical_drift_method`` overrides it) and constraint_violations.json.
  Statistics alone: drift and column checks against them, no constraints.json.
* ``start_time``, ``end_time`` (optional, ISO-8601): the analysis window
  [start, end). Hour folders outside it are not read; from an hour folder it
  covers only in part, captured records are kept by ``eventMetadata.inferenceTime``.
* ``metric_time``: the metrics' Timestamp; default ``end_time``, else now.
* ``publish_cloudwatch_metrics``: ``Enabled`` / ``Disabled`` (default ``Disabled``).
* ``sagemaker_endpoint_name``, ``sagemaker_monitoring_schedule_name``: the
  metrics' ``Endpoint`` and ``MonitoringSchedule`` dimensions.
* ``record_preprocessor_script``, ``post_analytics_processor_script``: local
  paths of user scripts (:mod:`modelmon.monitoring.scripts`).
* ``analysis_type``: ``DATA_QUALITY`` (the default) or ``MODEL_QUALITY``; anything
  else fails. ``MODEL_QUALITY`` runs :mod:`modelmon.monitoring.model_quality_job`,
  which also reads ``problem_type``, ``inference_attribute``,
  ``probability_attribute``, ``probability_threshold_attribute``,
  ``ground_truth_attribute``, ``positive_label`` and ``ground_truth_source`` (the
  local directory of ground-truth files) and writes ``merge_summary.json`` and
  ``merge/`` beside the three files; see that module.
* ``categorical_drift_method``: ``LInfinity`` / ``ChiSquared``, overriding the
  constraints' monitoring config (or set in the suggested one).
* ``exclude_features_attribute``: comma-separated feature names left out of
  statistics, violations (column counts recounted without them) and metrics.
* ``features_attribute``, ``inference_attribute``: JSONPath (or key) of the
  features / the prediction in JSON capture payloads.
* ``CLOUDWATCH_METRICS_DIRECTORY``, else ``MODELMON_METRICS_DIRECTORY``, else
  ``{output_path}/metrics/cloudwatch``: where metric files go (SageMaker's
  ``/opt/ml/output/metrics/cloudwatch`` is not writable for an unprivileged job).
* ``MODELMON_MESSAGE_FILE``: the exit message file; default
  ``{output_path}/message`` (SageMaker's is ``/opt/ml/output/message``).
* ``MODELMON_ANALYZER_WORKERS``: worker processes (default: the usable cores).

Every variable is also visible to the user scripts (they run in this process,
whose ``os.environ`` holds the job's environment).

The message file holds one line, without a line break:
``Completed: Job completed successfully with no violations.``,
``CompletedWithViolations: Job completed successfully with 3 violations.``
(``1 violation.``) or
``Failed: <reason>``, the reason naming file, line and field where it can.
Metric files are written when ``publish_cloudwatch_metrics`` is ``Enabled`` and
the constraints' ``monitoring_config.emit_metrics`` is ``Enabled`` (features
whose override disables it are left out); see
:mod:`modelmon.monitoring.metrics_files`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmon.analysis.api import (
    CONSTRAINTS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    analyze,
    baseline,
    load_constraints,
    load_statistics,
    write_json,
)
from modelmon.analysis.checks import extra_column_violation, missing_column_violation
from modelmon.analysis.readers import DatasetFormat
from modelmon.analysis.readers.jsonl import parse_object
from modelmon.errors import InputError, ModelmonError
from modelmon.formats.constraints import (
    CATEGORICAL_DRIFT_METHODS,
    DISABLED,
    ENABLED,
    Constraints,
    FeatureConstraints,
    MonitoringConfig,
)
from modelmon.formats.statistics import Statistics
from modelmon.formats.violations import Violation, Violations
from modelmon.monitoring import scripts
from modelmon.monitoring.metrics_files import data_quality_metrics, write_metric_file
from modelmon.storage.files import (
    atomic_write_bytes,
    atomic_write_text,
    expand,
    file_size,
    open_input,
)

DATA_QUALITY = "DATA_QUALITY"
MODEL_QUALITY = "MODEL_QUALITY"
MESSAGE_FILE_ENV = "MODELMON_MESSAGE_FILE"
METRICS_DIRECTORY_ENV = "CLOUDWATCH_METRICS_DIRECTORY"
MODELMON_METRICS_DIRECTORY_ENV = "MODELMON_METRICS_DIRECTORY"
WORKERS_ENV = "MODELMON_ANALYZER_WORKERS"
MAX_MESSAGE_CHARS = 1024  # SageMaker's ExitMessage / FailureReason limit

COMPLETED = "Completed"
COMPLETED_WITH_VIOLATIONS = "CompletedWithViolations"
FAILED = "Failed"

NO_RECORDS = "the dataset holds no records"  # modelmon.analysis.engine's reason
_HOUR_FOLDER = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
_HOUR = timedelta(hours=1)

log = logging.getLogger("modelmon.monitoring.container")


class NoDataError(ModelmonError):
    """Nothing to analyze: no files, no records in the window, every record dropped."""


# -- the job's environment ---------------------------------------------------------


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _required(environ: Mapping[str, str], name: str, example: str) -> str:
    value = _text(environ, name)
    if value is None:
        raise InputError(f"the environment variable {name} is not set (expected {example})")
    return value


def parse_time(value: str, name: str) -> datetime:
    """An ISO-8601 time (``2020-02-20T05:00:00Z``) as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{name} must be an ISO-8601 time such as 2020-02-20T05:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _switch(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _text(environ, name)
    if value is None:
        return default
    for choice in (ENABLED, DISABLED):
        if value.lower() == choice.lower():
            return choice
    raise InputError(f"{name} must be Enabled or Disabled, got {value!r}")


def message_file_path(environ: Mapping[str, str]) -> str | None:
    """Where the exit message goes: ``MODELMON_MESSAGE_FILE``, else ``{output_path}/message``."""
    explicit = _text(environ, MESSAGE_FILE_ENV)
    if explicit:
        return explicit
    output = _text(environ, "output_path")
    return f"{output.rstrip('/')}/message" if output else None


@dataclass(frozen=True)
class JobEnvironment:
    """A data-quality job as its environment describes it (see the module docstring)."""

    dataset_format: DatasetFormat
    format_name: str
    dataset_source: str
    output_path: str
    metrics_directory: str
    metric_time: datetime
    baseline_constraints: str | None = None
    baseline_statistics: str | None = None
    record_preprocessor_script: str | None = None
    post_analytics_processor_script: str | None = None
    publish_cloudwatch_metrics: bool = False
    endpoint_name: str | None = None
    schedule_name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    analysis_type: str = DATA_QUALITY
    categorical_drift_method: str | None = None
    exclude_features: tuple[str, ...] = ()
    workers: int | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> JobEnvironment:
        """Parse and validate the environment; errors name the variable and what it expects."""
        analysis_type = (_text(environ, "analysis_type") or DATA_QUALITY).upper()
        if analysis_type != DATA_QUALITY:
            raise InputError(
                f"analysis_type {environ.get('analysis_type', '').strip()} is not supported "
                "by the data-quality analyzer"
            )
        raw_format = _required(environ, "dataset_format", 'JSON such as {"csv": {"header": true}}')
        fmt = DatasetFormat.from_sagemaker(
            raw_format,
            features_attribute=_text(environ, "features_attribute"),
            inference_attribute=_text(environ, "inference_attribute"),
        )
        format_name = next(iter(json.loads(raw_format)))
        source = _required(environ, "dataset_source", "the local directory holding the data")
        output = _required(environ, "output_path", "the local directory for the results")
        start = _text(environ, "start_time")
        end = _text(environ, "end_time")
        start_time = parse_time(start, "start_time") if start else None
        end_time = parse_time(end, "end_time") if end else None
        if start_time and end_time and start_time >= end_time:
            raise InputError(
                f"start_time {_iso(start_time)} is not before end_time {_iso(end_time)}"
            )
        metric = _text(environ, "metric_time")
        metric_time = (
            parse_time(metric, "metric_time")
            if metric
            else end_time or datetime.now(UTC).replace(microsecond=0)
        )
        method = _text(environ, "categorical_drift_method")
        if method is not None and method not in CATEGORICAL_DRIFT_METHODS:
            raise InputError(
                f"categorical_drift_method must be one of {', '.join(CATEGORICAL_DRIFT_METHODS)}, "
                f"got {method!r}"
            )
        excluded = tuple(
            name.strip()
            for name in (_text(environ, "exclude_features_attribute") or "").split(",")
            if name.strip()
        )
        metrics_dir = (
            _text(environ, METRICS_DIRECTORY_ENV)
            or _text(environ, MODELMON_METRICS_DIRECTORY_ENV)
            or f"{output.rstrip('/')}/metrics/cloudwatch"
        )
        workers_text = _text(environ, WORKERS_ENV)
        workers = None
        if workers_text is not None:
            try:
                workers = int(workers_text)
            except ValueError:
                workers = 0
            if workers < 1:
                raise InputError(f"{WORKERS_ENV} must be a positive integer, got {workers_text!r}")
        return cls(
            dataset_format=fmt,
            format_name=format_name,
            dataset_source=source,
            output_path=output,
            metrics_directory=metrics_dir,
            metric_time=metric_time,
            baseline_constraints=_text(environ, "baseline_constraints"),
            baseline_statistics=_text(environ, "baseline_statistics"),
            record_preprocessor_script=_text(environ, "record_preprocessor_script"),
            post_analytics_processor_script=_text(environ, "post_analytics_processor_script"),
            publish_cloudwatch_metrics=_switch(environ, "publish_cloudwatch_metrics", DISABLED)
            == ENABLED,
            endpoint_name=_text(environ, "sagemaker_endpoint_name"),
            schedule_name=_text(environ, "sagemaker_monitoring_schedule_name"),
            start_time=start_time,
            end_time=end_time,
            analysis_type=analysis_type,
            categorical_drift_method=method,
            exclude_features=excluded,
            workers=workers,
        )

    @property
    def windowed(self) -> bool:
        return self.start_time is not None or self.end_time is not None

    def window_text(self) -> str:
        start = _iso(self.start_time) if self.start_time else "the beginning"
        end = _iso(self.end_time) if self.end_time else "now"
        return f"{start} to {end}"


# -- choosing the files of the analysis window ---------------------------------------


def folder_hour(relative: str) -> datetime | None:
    """The UTC hour of a file under ``…/yyyy/mm/dd/hh/``, or None for other layouts."""
    match = _HOUR_FOLDER.search(relative.replace(os.sep, "/"))
    if match is None:
        return None
    year, month, day, hour = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def window_files(
    source: str, start: datetime | None, end: datetime | None
) -> tuple[list[str], list[str]]:
    """(files wholly in the window, files in an hour folder the window covers in part).

    Files outside an hour-folder layout are always selected; empty files never.
    """
    try:
        found = expand(source)
    except InputError:
        return [], []
    whole: list[str] = []
    partial: list[str] = []
    root = source.rstrip("/")
    for uri in found:
        if file_size(uri) == 0:
            continue
        relative = uri[len(root) :].lstrip("/") if uri.startswith(root) else uri
        hour = folder_hour(relative)
        if hour is None or (start is None and end is None):
            whole.append(uri)
            continue
        if (end is not None and hour >= end) or (start is not None and hour + _HOUR <= start):
            continue
        inside = (start is None or hour >= start) and (end is None or hour + _HOUR <= end)
        (whole if inside else partial).append(uri)
    return whole, partial


def _in_window(record: dict[str, Any], start: datetime | None, end: datetime | None) -> bool:
    meta = record.get("eventMetadata")
    text = meta.get("inferenceTime") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return True  # no time to judge by: keep (the hour folder said it belongs)
    try:
        moment = parse_time(text, "inferenceTime")
    except InputError:
        return True
    return (start is None or moment >= start) and (end is None or moment < end)


def window_copy(
    uri: str, start: datetime | None, end: datetime | None, target: str
) -> tuple[int, int]:
    """Copy the captured records of ``uri`` inside [start, end) to ``target``, line for line.

    Returns (records kept, records read). Bad lines fail naming ``uri`` and the line.
    """
    kept = read = 0
    with open_input(uri) as handle, open(target, "wb") as out:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            read += 1
            if _in_window(parse_object(raw, uri, lineno), start, end):
                out.write(raw if raw.endswith(b"\n") else raw + b"\n")
                kept += 1
    return kept, read


# -- the run ---------------------------------------------------------------------------


@dataclass
class JobOutcome:
    """How a run ended: its status, exit message and what it wrote."""

    status: str
    message: str
    violations: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    metrics_file: str | None = None


def completion_message(violations: int) -> tuple[str, str]:
    """(status, message line) of a run that completed with ``violations`` violations."""
    if violations == 0:
        return COMPLETED, f"{COMPLETED}: Job completed successfully with no violations."
    noun = "violation" if violations == 1 else "violations"
    return (
        COMPLETED_WITH_VIOLATIONS,
        f"{COMPLETED_WITH_VIOLATIONS}: Job completed successfully with {violations} {noun}.",
    )


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def _no_data(job: JobEnvironment, why: str | None = None) -> NoDataError:
    if why is None:
        why = (
            f"no captured records in the analysis window {job.window_text()}"
            if job.windowed
            else "no records"
        )
    return NoDataError(f"No data to analyze in dataset_source {job.dataset_source} ({why})")


def _dataset(job: JobEnvironment, work: str) -> list[str]:
    """The files to analyze: the window's, partial hours cut to the window (capture data)."""
    whole, partial = window_files(job.dataset_source, job.start_time, job.end_time)
    files = list(whole)
    if job.dataset_format.kind != "capture":
        files += partial
    else:
        for i, uri in enumerate(partial):
            target = os.path.join(work, f"window-{i:05d}.jsonl")
            kept, _ = window_copy(uri, job.start_time, job.end_time, target)
            if kept:
                files.append(target)
    if not files:
        raise _no_data(job)
    return sorted(files)


def _statistics_without(statistics: Statistics, excluded: set[str]) -> Statistics:
    return replace(statistics, features=[f for f in statistics.features if f.name not in excluded])


def _constraints_without(constraints: Constraints, excluded: set[str]) -> Constraints:
    return replace(
        constraints, features=[f for f in constraints.features if f.name not in excluded]
    )


def _violations_without(
    violations: Sequence[Violation], excluded: set[str], n_current: int, n_baseline: int
) -> list[Violation]:
    """Violations of features not excluded; column-count sentences recounted without them."""
    out = []
    for violation in violations:
        if violation.feature_name in excluded:
            continue
        if violation.constraint_check_type == "missing_column_check":
            violation = missing_column_violation(violation.feature_name, n_current, n_baseline)
        elif violation.constraint_check_type == "extra_column_check":
            violation = extra_column_violation(violation.feature_name, n_current, n_baseline)
        out.append(violation)
    return out


def _constraints_from_statistics(statistics: Statistics) -> Constraints:
    """Constraints that only name the baseline's features: drift and column checks only."""
    return Constraints(
        features=[FeatureConstraints(f.name, "Unknown") for f in statistics.features]
    )


def _copy(source: str, target: str) -> str:
    with open_input(source) as handle:
        atomic_write_bytes(target, handle.read())
    return target


@contextmanager
def _exported(environ: Mapping[str, str] | None) -> Iterator[None]:
    """``environ`` in ``os.environ`` while the job runs (user scripts read it there)."""
    if environ is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in environ}
    os.environ.update({k: str(v) for k, v in environ.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class _Analyzed:
    """What a run found, excluded features left out."""

    statistics: Statistics
    checked: Constraints  # the constraints checked (suggested ones when baselining)
    violations: list[Violation] = field(default_factory=list)
    drift: dict[str, tuple[str, float]] = field(default_factory=dict)


def _preprocessed(
    job: JobEnvironment, preprocessor: scripts.Preprocessor, files: list[str], work: str
) -> list[str]:
    """The preprocessor's rows of ``files`` as one JSON Lines file."""
    rows = os.path.join(work, "preprocessed.jsonl")
    counts = scripts.preprocess_dataset(
        preprocessor, files, job.dataset_format, rows, format_name=job.format_name
    )
    log.info(
        "preprocessor: %d record(s) in, %d dropped, %d shadow skipped, %d row(s) out",
        counts.records,
        counts.dropped,
        counts.shadow,
        counts.rows,
    )
    if counts.rows == 0:
        dropped = "the record preprocessor dropped every record" if counts.records else None
        raise _no_data(job, dropped)
    return [rows]


def _baselining(job: JobEnvironment, files: list[str], fmt: DatasetFormat) -> _Analyzed:
    excluded = set(job.exclude_features)
    config = None
    if job.categorical_drift_method:
        config = MonitoringConfig(categorical_drift_method=job.categorical_drift_method)
    result = baseline(files, format=fmt, workers=job.workers, monitoring_config=config)
    return _Analyzed(
        _statistics_without(result.statistics, excluded),
        _constraints_without(result.constraints, excluded),
    )


def _monitoring(
    job: JobEnvironment,
    files: list[str],
    fmt: DatasetFormat,
    constraints: Constraints,
    base_stats: Statistics | None,
) -> _Analyzed:
    excluded = set(job.exclude_features)
    result = analyze(files, constraints, base_stats, format=fmt, workers=job.workers)
    statistics = _statistics_without(result.statistics, excluded)
    violations = result.violations
    if excluded:
        n_baseline = sum(1 for f in constraints.features if f.name not in excluded)
        violations = _violations_without(violations, excluded, len(statistics.features), n_baseline)
    drift = {k: v for k, v in result.drift.items() if k not in excluded}
    return _Analyzed(statistics, constraints, violations, drift)


def run(job: JobEnvironment) -> JobOutcome:
    """Run one data-quality job; raises :class:`ModelmonError` with the failure reason."""
    constraints = load_constraints(job.baseline_constraints) if job.baseline_constraints else None
    base_stats = load_statistics(job.baseline_statistics) if job.baseline_statistics else None
    overridden = constraints is not None and job.categorical_drift_method is not None
    if constraints is not None and overridden:
        constraints.monitoring_config = replace(
            constraints.monitoring_config, categorical_drift_method=job.categorical_drift_method
        )
    preprocessor = None
    if job.record_preprocessor_script:
        scripts.check_supported(job.dataset_format, job.format_name)
        preprocessor = scripts.load_preprocessor(job.record_preprocessor_script)
    monitoring = constraints is not None or base_stats is not None
    with tempfile.TemporaryDirectory(prefix="modelmon-analyzer-") as work:
        files = _dataset(job, work)
        log.info("analyzing %d file(s) from %s", len(files), job.dataset_source)
        fmt = job.dataset_format
        if preprocessor is not None:
            files, fmt = _preprocessed(job, preprocessor, files, work), DatasetFormat("json")
        try:
            if not monitoring:
                found = _baselining(job, files, fmt)
            else:
                checked = constraints
                if checked is None:
                    assert base_stats is not None
                    checked = _constraints_from_statistics(base_stats)
                found = _monitoring(job, files, fmt, checked, base_stats)
        except InputError as err:
            if err.reason == NO_RECORDS:
                raise _no_data(job) from err
            raise
    outcome = JobOutcome(status=COMPLETED, message="")
    outputs = outcome.outputs
    outputs[STATISTICS_FILE] = write_json(
        _join(job.output_path, STATISTICS_FILE), found.statistics.to_dict()
    )
    constraints_file = _join(job.output_path, CONSTRAINTS_FILE)
    if not monitoring:
        outputs[CONSTRAINTS_FILE] = write_json(constraints_file, found.checked.to_dict())
    elif constraints is not None and overridden:
        outputs[CONSTRAINTS_FILE] = write_json(constraints_file, constraints.to_dict())
    elif constraints is not None and job.baseline_constraints:
        outputs[CONSTRAINTS_FILE] = _copy(job.baseline_constraints, constraints_file)
    if monitoring:
        outputs[VIOLATIONS_FILE] = write_json(
            _join(job.output_path, VIOLATIONS_FILE), Violations(found.violations).to_dict()
        )
    checked = found.checked
    if job.publish_cloudwatch_metrics and checked.monitoring_config.emit_metrics == ENABLED:
        skip = {f.name for f in checked.features if checked.config_for(f).emit_metrics == DISABLED}
        records = data_quality_metrics(
            found.statistics,
            found.drift,
            endpoint=job.endpoint_name,
            schedule=job.schedule_name,
            timestamp=job.metric_time,
            skip=skip,
        )
        outcome.metrics_file = write_metric_file(records, job.metrics_directory)
    if job.post_analytics_processor_script:
        scripts.run_postprocessor(job.post_analytics_processor_script)
    outcome.violations = len(found.violations)
    outcome.status, outcome.message = completion_message(outcome.violations)
    return outcome


def _run_environment(env: Mapping[str, str]) -> JobOutcome:
    """Run the job of the environment's ``analysis_type``."""
    if (_text(env, "analysis_type") or DATA_QUALITY).upper() == MODEL_QUALITY:
        from modelmon.monitoring import model_quality_job  # it imports this module

        return model_quality_job.run_environment(env)
    return run(JobEnvironment.from_environ(env))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the job the environment describes (``os.environ`` by default); the exit code.

    Writes the exit message file and prints the message; 0 when the job
    completed (with or without violations), 1 when it failed.
    """
    env = dict(os.environ if environ is None else environ)
    message_path = message_file_path(env)
    code = 0
    try:
        with _exported(None if environ is None else env):
            outcome = _run_environment(env)
        line = outcome.message
    except ModelmonError as err:
        line, code = f"{FAILED}: {err}", 1
    except Exception as err:
        log.exception("the analyzer failed")
        line, code = f"{FAILED}: {type(err).__name__}: {err}", 1
    line = _one_line(line)
    print(line, flush=True)
    if message_path is None:
        log.error("no output_path or %s: the exit message is not written", MESSAGE_FILE_ENV)
        return 1
    try:
        atomic_write_text(message_path, line)
    except (OSError, ModelmonError) as err:
        log.error("cannot write the exit message to %s: %s", message_path, err)
        return 1
    return code


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(main())
