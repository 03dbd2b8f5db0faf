"""The MODEL_QUALITY branch of the analyzer program (``analysis_type=MODEL_QUALITY``).

:mod:`modelmon.monitoring.container` dispatches here; the message file, window
selection and metric files are the container's. Environment (SPEC §3.3, §5.1):

* ``problem_type``: ``BinaryClassification`` | ``MulticlassClassification`` | ``Regression``.
* ``inference_attribute``, ``probability_attribute``, ``ground_truth_attribute``:
  a CSV column index or name, or a JSONPath (``$.prediction``); see
  :mod:`modelmon.analysis.model_quality.analyze` for which one gives what.
  ``probability_threshold_attribute`` (default 0.5): a probability ``>=`` it is
  class 1. ``positive_label``: the label of class 1 (binary), when not 0/1.
* ``dataset_format``, ``dataset_source``, ``output_path``, ``start_time``,
  ``end_time``, ``metric_time``, ``publish_cloudwatch_metrics``,
  ``sagemaker_endpoint_name``, ``sagemaker_monitoring_schedule_name`` and the
  ``MODELMON_*`` variables: as for data quality.
* ``baseline_constraints`` (optional): a model-quality constraints.json.
* ``ground_truth_source``: a local directory of ground-truth JSON Lines files
  (``yyyy/mm/dd/hh/*.jsonl``; every file under it is read).

Runs:

* **Baselining** (no ``baseline_constraints``, no ``ground_truth_source``):
  ``dataset_source`` is a CSV / JSON / Parquet dataset holding the prediction,
  probability and label the attributes name → statistics.json and the suggested
  constraints.json.
* **Monitoring** (``ground_truth_source`` given): the inferences of the window —
  captured records (``sagemakerCaptureJson``) or batch transform output
  (csv / json / parquet, joined on ``SageMakerInferenceId``; files are chosen by
  their hour folder, the transform job's start, and read whole) — merged with the
  labels (:mod:`modelmon.analysis.model_quality.merge`). The counts are printed and
  written to ``{output_path}/merge_summary.json``, the merged records to
  ``{output_path}/merge/``. No matched record fails the run. Then
  statistics.json, constraints.json (the baseline's, copied) and
  constraint_violations.json (an empty list without baseline constraints), and
  the metric files: one record per scalar metric (name = the metric's), when
  ``publish_cloudwatch_metrics`` is ``Enabled``.
* A labelled dataset with ``baseline_constraints`` and no ``ground_truth_source``
  is checked as is (labels from ``ground_truth_attribute``).

Bad values (a label that does not parse, a probability outside [0, 1], an
attribute naming no column, a bad ground-truth line) fail the run with a
reason naming the file and line; nothing is dropped or counted instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from modelmon.analysis.model_quality import (
    GROUND_TRUTH,
    ModelQualityConfig,
    check,
    label_values,
    merge,
    read_capture,
    read_dataset,
    read_ground_truth,
    suggest_constraints,
    write_merged,
)
from modelmon.analysis.model_quality.merge import MERGE_DIR, MergeSummary
from modelmon.analysis.readers import DatasetFormat
from modelmon.errors import InputError
from modelmon.formats.constraints import DISABLED, ENABLED
from modelmon.formats.model_quality import (
    ModelQualityConstraints,
    ModelQualityStatistics,
    ModelQualityViolations,
    load_json,
)
from modelmon.monitoring.container import (  # the data-quality program's helpers
    METRICS_DIRECTORY_ENV,
    MODELMON_METRICS_DIRECTORY_ENV,
    JobOutcome,
    NoDataError,
    _required,
    _switch,
    _text,
    completion_message,
    parse_time,
    window_files,
)
from modelmon.monitoring.metrics_files import (
    dimensions,
    metric_record,
    metric_timestamp,
    write_metric_file,
)
from modelmon.storage.files import atomic_write_bytes, atomic_write_text, expand, open_input

MODEL_QUALITY = "MODEL_QUALITY"
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
MERGE_SUMMARY_FILE = "merge_summary.json"
MODEL_METRICS_FILE_PREFIX = "model-metrics"

log = logging.getLogger("modelmon.monitoring.model_quality_job")


@dataclass(frozen=True)
class ModelQualityJob:
    """A model-quality job as its environment describes it (see the module docstring)."""

    config: ModelQualityConfig
    dataset_format: DatasetFormat
    dataset_source: str
    output_path: str
    metrics_directory: str
    metric_time: datetime
    ground_truth_source: str | None = None
    baseline_constraints: str | None = None
    publish_cloudwatch_metrics: bool = False
    endpoint_name: str | None = None
    schedule_name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ModelQualityJob:
        """Parse and validate the environment; errors name the variable and what it expects."""
        config = ModelQualityConfig.create(
            environ.get("problem_type"),
            inference_attribute=_text(environ, "inference_attribute"),
            probability_attribute=_text(environ, "probability_attribute"),
            ground_truth_attribute=_text(environ, "ground_truth_attribute"),
            probability_threshold=_text(environ, "probability_threshold_attribute"),
            positive_label=_text(environ, "positive_label"),
        )
        fmt = DatasetFormat.from_sagemaker(
            _required(environ, "dataset_format", 'JSON such as {"csv": {"header": true}}')
        )
        output = _required(environ, "output_path", "the local directory for the results")
        start, end = _text(environ, "start_time"), _text(environ, "end_time")
        start_time = parse_time(start, "start_time") if start else None
        end_time = parse_time(end, "end_time") if end else None
        if start_time and end_time and start_time >= end_time:
            raise InputError(f"start_time {start} is not before end_time {end}")
        metric = _text(environ, "metric_time")
        metric_time = (
            parse_time(metric, "metric_time")
            if metric
            else end_time or datetime.now(UTC).replace(microsecond=0)
        )
        publish = _switch(environ, "publish_cloudwatch_metrics", DISABLED)
        ground_truth = _text(environ, "ground_truth_source")
        if fmt.kind == "capture" and ground_truth is None:
            raise InputError(
                "ground_truth_source is not set: captured inferences need the directory of "
                "ground-truth labels to merge with"
            )
        return cls(
            config=config,
            dataset_format=fmt,
            dataset_source=_required(environ, "dataset_source", "the local directory of data"),
            output_path=output,
            metrics_directory=_text(environ, METRICS_DIRECTORY_ENV)
            or _text(environ, MODELMON_METRICS_DIRECTORY_ENV)
            or f"{output.rstrip('/')}/metrics/cloudwatch",
            metric_time=metric_time,
            ground_truth_source=ground_truth,
            baseline_constraints=_text(environ, "baseline_constraints"),
            publish_cloudwatch_metrics=publish == ENABLED,
            endpoint_name=_text(environ, "sagemaker_endpoint_name"),
            schedule_name=_text(environ, "sagemaker_monitoring_schedule_name"),
            start_time=start_time,
            end_time=end_time,
        )

    @property
    def monitoring(self) -> bool:
        return self.ground_truth_source is not None or self.baseline_constraints is not None

    def window_text(self) -> str:
        start = self.start_time.isoformat() if self.start_time else "the beginning"
        end = self.end_time.isoformat() if self.end_time else "now"
        return f"{start} to {end}"


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def _dataset_files(job: ModelQualityJob) -> tuple[list[str], frozenset[str]]:
    whole, partial = window_files(job.dataset_source, job.start_time, job.end_time)
    files = sorted(whole + partial)
    if not files:
        where = f" in the analysis window {job.window_text()}" if job.start_time else ""
        raise NoDataError(f"No data to analyze in dataset_source {job.dataset_source}{where}")
    return files, frozenset(partial)


def _labels_files(source: str) -> list[str]:
    try:
        return expand(source)
    except InputError:
        return []


def _load_constraints(path: str) -> ModelQualityConstraints:
    with open_input(path) as handle:
        return ModelQualityConstraints.from_dict(load_json(handle.read(), path), path)


def _merged_statistics(job: ModelQualityJob) -> tuple[ModelQualityStatistics, MergeSummary]:
    assert job.ground_truth_source is not None
    config = job.config
    files, partial = _dataset_files(job)
    attributes = config.output_attributes()
    if job.dataset_format.kind == "capture":
        inferences = read_capture(
            files, attributes, start=job.start_time, end=job.end_time, partial=partial
        )
    else:
        inferences = read_dataset(files, job.dataset_format, attributes, with_ids=True)
    labels = read_ground_truth(_labels_files(job.ground_truth_source))
    merged = merge(inferences, labels)
    summary = merged.summary
    atomic_write_text(
        _join(job.output_path, MERGE_SUMMARY_FILE), json.dumps(summary.to_dict(), indent=2)
    )
    print(f"merge: {summary.text()}", flush=True)
    if summary.matched == 0:
        raise NoDataError(
            f"No inference in the analysis window {job.window_text()} has ground truth in "
            f"{job.ground_truth_source} ({summary.text()})"
        )
    written = write_merged(
        inferences, labels, merged, _join(job.output_path, MERGE_DIR), job.dataset_source
    )
    log.info("wrote %d merged file(s) under %s", len(written), _join(job.output_path, MERGE_DIR))
    rows = merged.inference_rows
    values = {role: array.take(pa.array(rows)) for role, array in inferences.values.items()}
    where = inferences.where.take(rows)
    raw_labels = label_values(labels, config.ground_truth, merged.label_rows)
    label_where = labels.where.take(merged.label_rows)
    statistics = config.statistics(
        values, where, raw_labels, label_where, metric_timestamp(job.metric_time)
    )
    return statistics, summary


def _dataset_statistics(job: ModelQualityJob) -> ModelQualityStatistics:
    config = job.config
    if config.ground_truth is None:
        raise InputError(
            "ground_truth_attribute is not set: it names the label column of the dataset"
        )
    files, _ = _dataset_files(job)
    roles = {**config.output_attributes(), GROUND_TRUTH: config.ground_truth}
    found = read_dataset(files, job.dataset_format, roles)
    if len(found.where.line) == 0:
        raise NoDataError(f"No data to analyze in dataset_source {job.dataset_source}")
    labels = found.values.pop(GROUND_TRUTH)
    evaluation = metric_timestamp(job.metric_time) if job.monitoring else None
    return config.statistics(found.values, found.where, labels, found.where, evaluation)


def model_quality_metrics(
    statistics: ModelQualityStatistics,
    *,
    endpoint: str | None,
    schedule: str | None,
    timestamp: datetime | str,
) -> list[dict]:
    """One metric record per finite scalar metric, named as the metric (SPEC §5.5)."""
    stamp = metric_timestamp(timestamp)
    dims = dimensions(endpoint, schedule)
    records = [
        metric_record(name, stamp, dims, value=metric.value)
        for name, metric in statistics.scalars().items()
    ]
    return [r for r in records if r is not None]


def run(job: ModelQualityJob) -> JobOutcome:
    """Run one model-quality job; raises ModelmonError with the failure reason."""
    constraints = _load_constraints(job.baseline_constraints) if job.baseline_constraints else None
    if constraints is not None and constraints.problem_type != job.config.problem_type:
        raise InputError(
            f"the baseline constraints are for {constraints.problem_type}, "
            f"problem_type is {job.config.problem_type}",
            source=job.baseline_constraints,
        )
    if job.ground_truth_source is not None:
        statistics, _ = _merged_statistics(job)
    else:
        statistics = _dataset_statistics(job)
    outcome = JobOutcome(status="", message="")
    outputs = outcome.outputs
    path = _join(job.output_path, STATISTICS_FILE)
    atomic_write_text(path, statistics.to_json())
    outputs[STATISTICS_FILE] = path
    violations = []
    if not job.monitoring:
        path = _join(job.output_path, CONSTRAINTS_FILE)
        atomic_write_text(path, suggest_constraints(statistics).to_json())
        outputs[CONSTRAINTS_FILE] = path
    else:
        if constraints is not None and job.baseline_constraints:
            path = _join(job.output_path, CONSTRAINTS_FILE)
            with open_input(job.baseline_constraints) as handle:
                atomic_write_bytes(path, handle.read())
            outputs[CONSTRAINTS_FILE] = path
            violations = check(statistics, constraints)
        path = _join(job.output_path, VIOLATIONS_FILE)
        atomic_write_text(path, ModelQualityViolations(violations).to_json())
        outputs[VIOLATIONS_FILE] = path
    if job.publish_cloudwatch_metrics:
        records = model_quality_metrics(
            statistics,
            endpoint=job.endpoint_name,
            schedule=job.schedule_name,
            timestamp=job.metric_time,
        )
        outcome.metrics_file = write_metric_file(
            records, job.metrics_directory, prefix=MODEL_METRICS_FILE_PREFIX
        )
    outcome.violations = len(violations)
    outcome.status, outcome.message = completion_message(len(violations))
    return outcome


def run_environment(environ: Mapping[str, str]) -> JobOutcome:
    """Parse the environment and run the job (the container's entry for MODEL_QUALITY)."""
    return run(ModelQualityJob.from_environ(environ))


__all__ = [
    "MODEL_QUALITY",
    "ModelQualityJob",
    "model_quality_metrics",
    "run",
    "run_environment",
]
