"""Run one monitoring execution as its own process, under SageMaker's container contract.

:meth:`Runner.run` takes an :class:`ExecutionSpec` (a schedule's job definition,
its analysis window and a fresh work directory) and blocks until the execution
ended, returning an :class:`ExecutionResult`. The scheduler calls it from a
worker thread; :class:`RunnerPool` bounds how many run at once.

One execution:

1. Finds the window's data (:mod:`modelmon.monitoring.inputs`) and lays it out
   as ``dataset_source``: capture files of an ``EndpointInput`` as
   ``{endpoint}/{variant}/yyyy/mm/dd/hh/{file}``; for a ``BatchTransformInput``
   the files its capture manifests list, the ``input`` side for data quality
   (the features), the ``output`` side for model quality (the predictions). No
   data: the execution is ``Failed`` ("No captured data for endpoint X in the
   analysis window ...") and no process is started. Model quality also stages
   the ground truth (``GroundTruthS3Input``) of the collection hours from the
   window's start (offsets applied) to the scheduled time as
   ``ground_truth_source`` (``{work_dir}/opt/ml/processing/groundtruth/
   yyyy/mm/dd/hh/*.jsonl``); none: ``Failed`` ("No ground truth under ...").
   Its default MaxRuntimeInSeconds is 1800 (merge and analysis in an hour).
2. Downloads ``BaselineConfig`` files and the record preprocessor and
   post-analytics scripts into the work directory (missing: ``Failed``, naming
   the field and the URI).
3. Starts the analyzer with the environment of SPEC §5.1 (below), in its own
   process group, stdout and stderr appended to ``{work_dir}/log.txt`` (after
   the runner's own lines saying what it staged and started).
4. Ends the whole process group after ``StoppingCondition.MaxRuntimeInSeconds``
   (default 3600) or when the ``stop`` event is set: SIGTERM, then SIGKILL after
   a grace period; the execution is ``Stopped``. Processes the analyzer left
   behind when it exited are ended the same way. (A process that starts a new
   session of its own escapes the group and is not tracked.)
5. Reads the exit message (``Completed: ...``, ``CompletedWithViolations: ...``,
   ``Failed: reason``). Without one, exit code 0 is ``Completed``, or
   ``CompletedWithViolations`` when ``constraint_violations.json`` lists any;
   another exit code is ``Failed`` with the last lines of the analyzer's output.
6. Uploads everything ``output_path`` holds, each file written atomically, to
   ``{S3Uri}/{endpoint}/{schedule}/yyyy/mm/dd/hh/`` (SageMaker's layout; the
   hour is the scheduled time's) for endpoint inputs and
   ``{S3Uri}/{schedule}/yyyy/mm/dd/hh/`` for batch transform inputs (which have
   no endpoint), whatever the status. ``S3UploadMode`` Continuous is treated
   as EndOfJob.

The analyzer program (Docker semantics: the image's command, overridden by
``ContainerEntrypoint``, followed by ``ContainerArguments``):

* ``ImageUri`` empty, ``modelmon`` or a SageMaker model-monitor analyzer image
  (``...sagemaker-model-monitor-analyzer...``): the built-in analyzer,
  ``python -m modelmon.monitoring.container``;
* an ``ImageUri`` mapped to a command (``analyzer_images``, by default from
  ``MODELMON_ANALYZER_IMAGES``, JSON ``{"image-uri": ["cmd", "arg"]}``): that command;
* any other image: ``ContainerEntrypoint`` is required and run as a plain command.

Paths are SageMaker's container paths rooted at the work directory: data under
``{work_dir}/opt/ml/processing/input/endpoint`` (the input's ``LocalPath``),
output in ``{work_dir}/opt/ml/processing/output`` (the output's ``LocalPath``),
baselines in ``{work_dir}/opt/ml/processing/baseline/{constraints,stats}/``,
scripts in ``{work_dir}/opt/ml/processing/input/{record_preprocessor,
post_analytics_processor}_script_input/``, the message in
``{work_dir}/opt/ml/output/message`` and metric files in
``{work_dir}/opt/ml/output/metrics/cloudwatch``. The analyzer runs in the work
directory. Staged data is removed after the run (``keep_dataset=True`` keeps it);
the log, the baselines and the output stay.

Environment of the analyzer: the runner's own environment (so ``PATH``,
``MODELMON_OBJECT_ROOT`` and credentials reach it) without any variable of the
contract, then

* set by the runner unless the job definition's ``Environment`` sets them:
  ``publish_cloudwatch_metrics`` (``Enabled``/``Disabled`` from the spec's
  flag; SageMaker clients put it in ``Environment``, which wins),
  ``analysis_type`` (``DATA_QUALITY``, ``MODEL_QUALITY``), ``problem_type``
  (model quality: the app specification's ``ProblemType``), and from the input
  ``features_attribute``, ``inference_attribute``, ``probability_attribute``,
  ``probability_threshold_attribute``, ``exclude_features_attribute``;
* the job definition's ``Environment``;
* always set by the runner: ``dataset_format``, ``dataset_source``,
  ``output_path``, ``sagemaker_monitoring_schedule_name``,
  ``sagemaker_endpoint_name`` and ``sagemaker_endpoint_datacapture_prefix``
  (the endpoint's ``DataCaptureConfig.DestinationS3Uri``; endpoints only),
  ``start_time``, ``end_time``, ``metric_time`` (the window's end),
  ``baseline_constraints``, ``baseline_statistics``,
  ``record_preprocessor_script``, ``post_analytics_processor_script`` (when
  given), ``ground_truth_source`` (model quality), ``monitoring_input_type`` (``ENDPOINT_INPUT`` /
  ``BATCH_TRANSFORM_INPUT``), ``MODELMON_MESSAGE_FILE``,
  ``CLOUDWATCH_METRICS_DIRECTORY`` and ``MODELMON_EXECUTION_ID``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelmon.errors import InputError, ModelmonError
from modelmon.formats.cloudwatch import METRICS_PATH, metrics_namespace
from modelmon.monitoring.container import (
    COMPLETED,
    COMPLETED_WITH_VIOLATIONS,
    FAILED,
    MAX_MESSAGE_CHARS,
    MESSAGE_FILE_ENV,
    METRICS_DIRECTORY_ENV,
    completion_message,
)
from modelmon.monitoring.inputs import (
    Side,
    batch_dataset_format,
    batch_window_files,
    endpoint_window_files,
    ground_truth_window_files,
    stage_dataset,
)
from modelmon.monitoring.schedule import format_time, report_hour_path
from modelmon.storage.files import exists, expand, filesystem, is_local, local_path, open_raw

__all__ = [
    "ANALYZER_IMAGES_ENV",
    "BUILTIN_COMMAND",
    "LOG_FILE",
    "STOPPED",
    "ExecutionResult",
    "ExecutionSpec",
    "Runner",
    "RunnerPool",
    "analyzer_images_from_env",
    "is_builtin_image",
    "metrics_namespace",
    "resolve_command",
]

STOPPED = "Stopped"
ANALYZER_IMAGES_ENV = "MODELMON_ANALYZER_IMAGES"
EXECUTION_ID_ENV = "MODELMON_EXECUTION_ID"
BUILTIN_COMMAND: tuple[str, ...] = (sys.executable, "-m", "modelmon.monitoring.container")
BUILTIN_IMAGES = frozenset({"", "modelmon"})
SAGEMAKER_ANALYZER_REPOSITORY = "sagemaker-model-monitor-analyzer"

DEFAULT_MAX_RUNTIME = 3600
MODEL_QUALITY_MAX_RUNTIME = 1800  # merge and analysis within an hourly schedule's hour
DEFAULT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
DEFAULT_OUTPUT_PATH = "/opt/ml/processing/output"
BASELINE_CONSTRAINTS_DIR = "opt/ml/processing/baseline/constraints"
BASELINE_STATISTICS_DIR = "opt/ml/processing/baseline/stats"
PREPROCESSOR_DIR = "opt/ml/processing/input/record_preprocessor_script_input"
POSTPROCESSOR_DIR = "opt/ml/processing/input/post_analytics_processor_script_input"
MESSAGE_PATH = "opt/ml/output/message"
GROUND_TRUTH_PATH = "opt/ml/processing/groundtruth"
LOG_FILE = "log.txt"
VIOLATIONS_FILE = "constraint_violations.json"

ENDPOINT_INPUT = "ENDPOINT_INPUT"
BATCH_TRANSFORM_INPUT = "BATCH_TRANSFORM_INPUT"
CAPTURE_DATASET_FORMAT = {
    "sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}
}
ANALYSIS_TYPES = {"DataQuality": "DATA_QUALITY", "ModelQuality": "MODEL_QUALITY"}
# the side of a batch transform's capture each monitoring type analyzes
BATCH_SIDES: dict[str, Side] = {"DataQuality": "input", "ModelQuality": "output"}
INPUT_ATTRIBUTES = {
    "FeaturesAttribute": "features_attribute",
    "InferenceAttribute": "inference_attribute",
    "ProbabilityAttribute": "probability_attribute",
    "ProbabilityThresholdAttribute": "probability_threshold_attribute",
    "ExcludeFeaturesAttribute": "exclude_features_attribute",
}
# Every variable of the container contract: never inherited from the runner's environment.
CONTRACT_VARIABLES = frozenset(
    {
        "dataset_format",
        "dataset_source",
        "output_path",
        "publish_cloudwatch_metrics",
        "sagemaker_endpoint_name",
        "sagemaker_monitoring_schedule_name",
        "sagemaker_endpoint_datacapture_prefix",
        "start_time",
        "end_time",
        "metric_time",
        "baseline_constraints",
        "baseline_statistics",
        "record_preprocessor_script",
        "post_analytics_processor_script",
        "analysis_type",
        "problem_type",
        "ground_truth_attribute",
        "ground_truth_source",
        "positive_label",
        "categorical_drift_method",
        "monitoring_input_type",
        *INPUT_ATTRIBUTES.values(),
        MESSAGE_FILE_ENV,
        METRICS_DIRECTORY_ENV,
        "MODELMON_METRICS_DIRECTORY",
        EXECUTION_ID_ENV,
    }
)
LOG_TAIL_LINES = 5
POLL_INTERVAL = 0.25  # how late a stop request or MaxRuntimeInSeconds is noticed
KILL_GRACE = 5.0

log = logging.getLogger("modelmon.monitoring.runner")


def _now() -> datetime:
    return datetime.now(UTC)


# -- the execution and its result ----------------------------------------------------------


@dataclass(kw_only=True)
class ExecutionSpec:
    """One execution to run.

    ``job_definition`` has SageMaker's ``MonitoringJobDefinition`` shape
    (``BaselineConfig``, ``MonitoringInputs``, ``MonitoringOutputConfig``,
    ``MonitoringAppSpecification``, ``StoppingCondition``, ``Environment``).
    ``capture_destination`` is the endpoint's ``DataCaptureConfig.DestinationS3Uri``
    (endpoint inputs). Times are aware UTC datetimes; the window is
    [window_start, window_end). ``work_dir`` is a directory for this execution
    only (created when missing).
    """

    execution_id: str
    schedule_name: str
    scheduled_time: datetime
    window_start: datetime
    window_end: datetime
    job_definition: Mapping[str, Any]
    work_dir: Path
    monitoring_type: str = "DataQuality"
    capture_destination: str | None = None
    publish_cloudwatch_metrics: bool = True


@dataclass(kw_only=True)
class ExecutionResult:
    """How an execution ended.

    ``status``: ``Completed``, ``CompletedWithViolations``, ``Failed`` or
    ``Stopped``; ``failure_reason`` is set for the last two (at most 1024
    characters). ``exit_message`` is the analyzer's message line (or one the
    runner wrote for it). ``report_uri`` is the prefix the reports were uploaded
    to (None when nothing was), ``reports`` the uploaded URIs. ``metrics_files``
    are the metric files of a completed execution (none otherwise).
    ``exit_code``/``pid`` are None when no process was started.
    """

    status: str
    failure_reason: str | None
    exit_message: str
    report_uri: str | None
    log_path: Path
    started_at: datetime
    ended_at: datetime
    metrics_files: list[Path] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    staged_files: int = 0
    exit_code: int | None = None
    pid: int | None = None

    @property
    def metrics_file(self) -> Path | None:
        """The (first) metric file, if any."""
        return self.metrics_files[0] if self.metrics_files else None


class _Failed(Exception):
    """The execution cannot run; ``str(err)`` is the FailureReason."""


def _reason(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"


# -- the analyzer command --------------------------------------------------------------------


def analyzer_images_from_env(environ: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The image-to-command map of ``MODELMON_ANALYZER_IMAGES`` (empty when unset).

    JSON ``{"image-uri": ["cmd", "arg", ...]}``; anything else raises
    :class:`InputError` naming the variable.
    """
    raw = (os.environ if environ is None else environ).get(ANALYZER_IMAGES_ENV, "").strip()
    if not raw:
        return {}
    example = '{"123.dkr.ecr.us-east-1.amazonaws.com/my-analyzer:1": ["python", "analyze.py"]}'
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{ANALYZER_IMAGES_ENV} is not valid JSON ({err.msg}); expected e.g. {example}"
        ) from None
    if not isinstance(document, dict) or not all(
        isinstance(image, str)
        and isinstance(command, list)
        and command
        and all(isinstance(part, str) and part for part in command)
        for image, command in document.items()
    ):
        raise InputError(
            f"{ANALYZER_IMAGES_ENV} must map image URIs to non-empty lists of strings, "
            f"e.g. {example}"
        )
    return {image: list(command) for image, command in document.items()}


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _Failed(f"{where} must be a list of strings, got {value!r}")
    return list(value)


def is_builtin_image(image: str) -> bool:
    """Whether ``image`` stands for the built-in analyzer."""
    return image.strip() in BUILTIN_IMAGES or SAGEMAKER_ANALYZER_REPOSITORY in image


def resolve_command(
    app: Mapping[str, Any], analyzer_images: Mapping[str, Sequence[str]]
) -> list[str]:
    """The command line of ``MonitoringAppSpecification`` ``app`` (see the module doc).

    Raises :class:`InputError` for an unknown image without ``ContainerEntrypoint``.
    """
    try:
        entrypoint = _strings(app.get("ContainerEntrypoint"), "ContainerEntrypoint")
        arguments = _strings(app.get("ContainerArguments"), "ContainerArguments")
    except _Failed as err:
        raise InputError(str(err), field="MonitoringAppSpecification") from None
    image = app.get("ImageUri") or ""
    if not isinstance(image, str):
        raise InputError(f"must be a string, got {image!r}", field="ImageUri")
    if entrypoint:
        return entrypoint + arguments
    if image in analyzer_images:
        return [*analyzer_images[image], *arguments]
    if is_builtin_image(image):
        return [*BUILTIN_COMMAND, *arguments]
    raise InputError(
        f"ImageUri {image} is not a known analyzer image and no ContainerEntrypoint is given; "
        f"map the image to a command with {ANALYZER_IMAGES_ENV}, JSON such as "
        f'{{"{image}": ["python", "/path/to/analyze.py"]}}, or give a ContainerEntrypoint'
    )


# -- the job definition ------------------------------------------------------------------------


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Failed(f"{where} must be an object, got {value!r}")
    return value


def _local_dir(work: Path, local: Any, default: str, where: str) -> Path:
    """A container path (``/opt/ml/processing/...``) rooted at the work directory."""
    text = default if local is None or local == "" else local
    if not isinstance(text, str):
        raise _Failed(f"{where} must be a string, got {text!r}")
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise _Failed(f"{where} must be a directory path such as {default}, got {text!r}")
    return work.joinpath(*parts)


@dataclass
class _Input:
    kind: str  # ENDPOINT_INPUT | BATCH_TRANSFORM_INPUT
    member: Mapping[str, Any]
    endpoint: str | None = None


def _monitoring_input(definition: Mapping[str, Any]) -> _Input:
    inputs = definition.get("MonitoringInputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], Mapping):
        raise _Failed(
            "MonitoringInputs must hold exactly one {EndpointInput} or {BatchTransformInput}"
        )
    entry = inputs[0]
    endpoint = entry.get("EndpointInput")
    batch = entry.get("BatchTransformInput")
    if (endpoint is None) == (batch is None):
        raise _Failed("MonitoringInputs[0] must hold either EndpointInput or BatchTransformInput")
    if endpoint is not None:
        member = _object(endpoint, "EndpointInput")
        name = member.get("EndpointName")
        if not isinstance(name, str) or not name:
            raise _Failed("EndpointInput.EndpointName is required")
        return _Input(ENDPOINT_INPUT, member, name)
    member = _object(batch, "BatchTransformInput")
    destination = member.get("DataCapturedDestinationS3Uri")
    if not isinstance(destination, str) or not destination:
        raise _Failed("BatchTransformInput.DataCapturedDestinationS3Uri is required")
    if member.get("DatasetFormat") is None:
        raise _Failed("BatchTransformInput.DatasetFormat is required")
    return _Input(BATCH_TRANSFORM_INPUT, member)


def _output(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    config = _object(definition.get("MonitoringOutputConfig"), "MonitoringOutputConfig")
    outputs = config.get("MonitoringOutputs")
    if not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], Mapping):
        raise _Failed("MonitoringOutputConfig.MonitoringOutputs must hold exactly one S3Output")
    s3 = _object(outputs[0].get("S3Output"), "MonitoringOutputs[0].S3Output")
    uri = s3.get("S3Uri")
    if not isinstance(uri, str) or not uri:
        raise _Failed("MonitoringOutputs[0].S3Output.S3Uri is required")
    return s3


def _max_runtime(definition: Mapping[str, Any], default: float = DEFAULT_MAX_RUNTIME) -> float:
    stopping = _object(definition.get("StoppingCondition"), "StoppingCondition")
    value = stopping.get("MaxRuntimeInSeconds", default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _Failed(
            f"StoppingCondition.MaxRuntimeInSeconds must be a positive number, got {value!r}"
        )
    return float(value)


def _text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- files -----------------------------------------------------------------------------------


def _download(uri: Any, directory: Path, default_name: str, where: str) -> Path:
    """``uri`` copied into ``directory`` under its own name; :class:`_Failed` when missing."""
    if not isinstance(uri, str) or not uri.strip():
        raise _Failed(f"{where} must be a URI, got {uri!r}")
    try:
        found = exists(uri)
    except (ModelmonError, OSError, ValueError) as err:
        raise _Failed(f"{where} {uri} cannot be read: {err}") from None
    if not found:
        raise _Failed(f"{where} {uri} does not exist")
    name = uri.rstrip("/").rsplit("/", 1)[-1] or default_name
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    try:
        with open_raw(uri) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except (ModelmonError, OSError) as err:
        raise _Failed(f"{where} {uri} cannot be read: {err}") from None
    return target


def _upload(source: Path, uri: str) -> None:
    """Copy ``source`` to ``uri`` so that it appears whole (temporary name + rename; one PUT)."""
    if is_local(uri):
        path = Path(local_path(uri))
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return
    fs, path_in_fs = filesystem(uri)
    parent = path_in_fs.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.put_file(str(source), path_in_fs)


def _output_files(directory: Path) -> list[Path]:
    """Files under ``directory``; constraint_violations.json last (it says the run is done)."""
    if not directory.is_dir():
        return []
    files = [p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()]
    return sorted(files, key=lambda p: (p.relative_to(directory).as_posix() == VIOLATIONS_FILE, p))


def _count_violations(path: Path) -> int:
    """How many violations a ``constraint_violations.json`` lists (:class:`_Failed`: unreadable)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _Failed(f"the analyzer wrote an unreadable {VIOLATIONS_FILE}: {err}") from None
    violations = document.get("violations") if isinstance(document, dict) else None
    if not isinstance(violations, list):
        raise _Failed(f'the analyzer\'s {VIOLATIONS_FILE} must be {{"violations": [...]}}')
    return len(violations)


def _read_message(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def _log_tail(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read()[-64_000:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-LOG_TAIL_LINES:])


# -- processes -------------------------------------------------------------------------------


def _exited(pid: int) -> bool:
    """Whether child ``pid`` has exited, without reaping it (its group id stays taken)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class _ExitWatch:
    """Waits for child ``pid`` to exit, without reaping it: on a pidfd where the
    kernel offers one (woken the moment the process exits), else by polling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self._fd = os.pidfd_open(pid)

    def wait(self, timeout: float) -> bool:
        """True once the process has exited; waits at most ``timeout`` seconds."""
        if self._fd is None:
            if _exited(self.pid):
                return True
            time.sleep(timeout)
            return _exited(self.pid)
        ready, _, _ = select.select([self._fd], [], [], max(timeout, 0.0))
        return bool(ready)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _group_exists(pgid: int) -> bool:
    """Whether any process (a zombie too) is in group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of group ``pgid`` exists."""
    try:
        entries = os.listdir("/proc")
    except OSError:  # no procfs: ask the kernel (a zombie leader counts as alive)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


# -- the runner ------------------------------------------------------------------------------


class _Log:
    """The execution's log: the runner's lines, then the analyzer's output."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        with open(self.path, "a", encoding="utf-8") as out:
            for line in text.splitlines() or [""]:
                out.write(f"{stamp} modelmon-runner: {line}\n")

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


@dataclass
class _Exit:
    code: int
    pid: int
    stopped: str | None = None


class Runner:
    """Runs executions as processes (see the module doc); safe to share between threads.

    ``analyzer_images`` maps image URIs to commands (default: from
    ``MODELMON_ANALYZER_IMAGES``). ``clock`` gives the result's times;
    ``kill_grace`` is how long processes get between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        analyzer_images: Mapping[str, Sequence[str]] | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        kill_grace: float = KILL_GRACE,
        poll_interval: float = POLL_INTERVAL,
        keep_dataset: bool = False,
    ) -> None:
        images = analyzer_images_from_env() if analyzer_images is None else analyzer_images
        self.analyzer_images: dict[str, list[str]] = {k: list(v) for k, v in images.items()}
        self._clock = clock
        self._kill_grace = kill_grace
        self._poll = poll_interval
        self._keep_dataset = keep_dataset

    # public ------------------------------------------------------------------

    def run(self, spec: ExecutionSpec, stop: threading.Event | None = None) -> ExecutionResult:
        """Run ``spec`` to its end (blocking); never raises for a failed execution."""
        for name in ("scheduled_time", "window_start", "window_end"):
            moment = getattr(spec, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"ExecutionSpec.{name} must be timezone-aware (UTC)")
        if spec.window_start >= spec.window_end:
            raise ValueError("ExecutionSpec.window_start must be before window_end")
        started = self._clock()
        work = Path(spec.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        logger = _Log(work / LOG_FILE)
        result = ExecutionResult(
            status=FAILED,
            failure_reason=None,
            exit_message="",
            report_uri=None,
            log_path=logger.path,
            started_at=started,
            ended_at=started,
        )
        logger.write(
            f"execution {spec.execution_id} of schedule {spec.schedule_name} "
            f"({spec.monitoring_type}), scheduled {format_time(spec.scheduled_time)}, "
            f"window {format_time(spec.window_start)} to {format_time(spec.window_end)}"
        )
        dataset_dir: Path | None = None
        try:
            dataset_dir = self._execute(spec, stop, work, logger, result)
        except _Failed as err:
            result.status, result.failure_reason = FAILED, _reason(str(err))
        except Exception as err:  # a bug or an unexpected I/O failure: still an ended execution
            log.exception("execution %s failed", spec.execution_id)
            result.status = FAILED
            result.failure_reason = _reason(f"InternalServerError: {type(err).__name__}: {err}")
        if result.status == FAILED and not result.exit_message:
            result.exit_message = _reason(f"{FAILED}: {result.failure_reason}")
        if dataset_dir is not None and not self._keep_dataset:
            shutil.rmtree(dataset_dir, ignore_errors=True)
            shutil.rmtree(work / GROUND_TRUTH_PATH, ignore_errors=True)
        result.ended_at = self._clock()
        logger.write(
            f"execution ended: {result.status}"
            + (f" ({result.failure_reason})" if result.failure_reason else "")
        )
        return result

    # steps -------------------------------------------------------------------

    def _execute(
        self,
        spec: ExecutionSpec,
        stop: threading.Event | None,
        work: Path,
        logger: _Log,
        result: ExecutionResult,
    ) -> Path | None:
        """Stage, start, supervise, interpret and upload; fills ``result``; the dataset dir."""
        definition = _object(spec.job_definition, "MonitoringJobDefinition")
        source = _monitoring_input(definition)
        s3_output = _output(definition)
        app = _object(definition.get("MonitoringAppSpecification"), "MonitoringAppSpecification")
        model_quality = spec.monitoring_type == "ModelQuality"
        max_runtime = _max_runtime(
            definition, MODEL_QUALITY_MAX_RUNTIME if model_quality else DEFAULT_MAX_RUNTIME
        )
        try:
            command = resolve_command(app, self.analyzer_images)
        except InputError as err:
            raise _Failed(str(err)) from None
        dataset_dir = _local_dir(
            work, source.member.get("LocalPath"), DEFAULT_INPUT_PATH, "LocalPath of the input"
        )
        output_dir = _local_dir(
            work,
            s3_output.get("LocalPath"),
            DEFAULT_OUTPUT_PATH,
            "MonitoringOutputs[0].S3Output.LocalPath",
        )
        if dataset_dir == output_dir or output_dir.is_relative_to(dataset_dir):
            raise _Failed("the output's LocalPath must not be inside the input's LocalPath")
        if dataset_dir.is_relative_to(output_dir):
            raise _Failed("the input's LocalPath must not be inside the output's LocalPath")
        message_file = work / MESSAGE_PATH
        metrics_dir = work / METRICS_PATH
        for stale in (dataset_dir, output_dir, metrics_dir):  # a retried execution
            shutil.rmtree(stale, ignore_errors=True)
        message_file.unlink(missing_ok=True)
        output_dir.mkdir(parents=True)
        message_file.parent.mkdir(parents=True, exist_ok=True)
        metrics_dir.mkdir(parents=True)

        contract = self._stage(spec, source, dataset_dir, logger, result)
        if model_quality:
            contract.update(self._stage_ground_truth(spec, definition, work, logger))
        contract.update(self._baseline_and_scripts(definition, app, work))
        contract["output_path"] = str(output_dir)
        contract[MESSAGE_FILE_ENV] = str(message_file)
        contract[METRICS_DIRECTORY_ENV] = str(metrics_dir)
        env, job_env = self._environment(spec, source, definition, contract)
        report_prefix = self._report_prefix(spec, source, s3_output["S3Uri"])

        if stop is not None and stop.is_set():
            result.status, result.failure_reason = STOPPED, "Stopped by the user"
            return dataset_dir
        logger.write(
            "metrics namespace " + metrics_namespace(spec.monitoring_type, source.endpoint)
        )
        logger.write("command: " + " ".join(command))
        for name in sorted(job_env):
            logger.write(f"env {name}={job_env[name]}")
        logger.write(f"analyzer output follows (MaxRuntimeInSeconds {max_runtime:g})")
        offset = logger.size()
        outcome = self._supervise(command, env, work, logger.path, max_runtime, stop)
        result.exit_code, result.pid = outcome.code, outcome.pid
        logger.write(f"analyzer process {outcome.pid} exited with code {outcome.code}")
        message = _read_message(message_file)
        try:
            self._interpret(outcome, message, output_dir, logger, offset, result)
        finally:
            self._upload_reports(output_dir, report_prefix, logger, result)
        if result.status in (COMPLETED, COMPLETED_WITH_VIOLATIONS):
            result.metrics_files = sorted(p for p in metrics_dir.rglob("*") if p.is_file())
        return dataset_dir

    def _stage(
        self,
        spec: ExecutionSpec,
        source: _Input,
        dataset_dir: Path,
        logger: _Log,
        result: ExecutionResult,
    ) -> dict[str, str]:
        """Stage the window's data; the contract variables describing it."""
        window = f"{format_time(spec.window_start)} to {format_time(spec.window_end)}"
        member = source.member
        try:
            if source.kind == ENDPOINT_INPUT:
                assert source.endpoint is not None
                destination = spec.capture_destination
                if not destination:
                    raise _Failed(
                        f"Endpoint {source.endpoint} has no data capture destination "
                        "(DataCaptureConfig.DestinationS3Uri): enable data capture to monitor it"
                    )
                files = endpoint_window_files(
                    destination, source.endpoint, spec.window_start, spec.window_end
                )
                if not files:
                    raise _Failed(
                        f"No captured data for endpoint {source.endpoint} in the analysis "
                        f"window {window}"
                    )
                dataset_format: dict[str, Any] = CAPTURE_DATASET_FORMAT
                described = f"capture of endpoint {source.endpoint} under {destination}"
            else:
                destination = member["DataCapturedDestinationS3Uri"]
                dataset_format = batch_dataset_format(member["DatasetFormat"])
                side = BATCH_SIDES.get(spec.monitoring_type, "input")
                files = batch_window_files(
                    destination,
                    spec.window_start,
                    spec.window_end,
                    member["DatasetFormat"],
                    side=side,
                )
                if not files:
                    raise _Failed(
                        f"No batch transform capture in {destination} ({side} manifests) "
                        f"in the analysis window {window}"
                    )
                described = f"batch transform {side} manifests under {destination}"
            count = stage_dataset(files, dataset_dir)
        except InputError as err:
            raise _Failed(str(err)) from None
        result.staged_files = count
        logger.write(f"staged {count} file(s) of the {described} in {dataset_dir}")
        return {
            "dataset_format": json.dumps(dataset_format, separators=(",", ":")),
            "dataset_source": str(dataset_dir),
        }

    def _stage_ground_truth(
        self, spec: ExecutionSpec, definition: Mapping[str, Any], work: Path, logger: _Log
    ) -> dict[str, str]:
        """Stage the labels collected from the window's start to the scheduled time.

        Without GroundTruthS3Input (the API refuses that; a job given to the runner directly
        may lack it) nothing is staged and ``ground_truth_source`` is not set.
        """
        entry = (definition.get("MonitoringInputs") or [{}])[0]
        ground_truth = _object(entry.get("GroundTruthS3Input"), "GroundTruthS3Input")
        uri = ground_truth.get("S3Uri")
        if uri is None:
            logger.write("no GroundTruthS3Input: ground_truth_source is not set")
            return {}
        if not isinstance(uri, str) or not uri:
            raise _Failed(f"GroundTruthS3Input.S3Uri must be a URI, got {uri!r}")
        target = work / GROUND_TRUTH_PATH
        shutil.rmtree(target, ignore_errors=True)  # a retried execution
        hours = f"{format_time(spec.window_start)} to {format_time(spec.scheduled_time)}"
        try:
            files = ground_truth_window_files(uri, spec.window_start, spec.scheduled_time)
            if not files:
                raise _Failed(
                    f"No ground truth under {uri} for the collection hours {hours} "
                    f"(labels are read from {uri.rstrip('/')}/yyyy/mm/dd/hh/*.jsonl)"
                )
            count = stage_dataset(files, target)
        except InputError as err:
            raise _Failed(str(err)) from None
        logger.write(f"staged {count} ground-truth file(s) of {uri} ({hours}) in {target}")
        return {"ground_truth_source": str(target)}

    def _baseline_and_scripts(
        self, definition: Mapping[str, Any], app: Mapping[str, Any], work: Path
    ) -> dict[str, str]:
        baseline = _object(definition.get("BaselineConfig"), "BaselineConfig")
        env: dict[str, str] = {}
        wanted = (
            ("baseline_constraints", baseline, "ConstraintsResource", BASELINE_CONSTRAINTS_DIR),
            ("baseline_statistics", baseline, "StatisticsResource", BASELINE_STATISTICS_DIR),
        )
        for name, holder, member, directory in wanted:
            resource = _object(holder.get(member), f"BaselineConfig.{member}")
            uri = resource.get("S3Uri")
            if uri is not None:
                where = f"BaselineConfig.{member}.S3Uri"
                env[name] = str(_download(uri, work / directory, f"{name}.json", where))
        scripts = (
            ("record_preprocessor_script", "RecordPreprocessorSourceUri", PREPROCESSOR_DIR),
            (
                "post_analytics_processor_script",
                "PostAnalyticsProcessorSourceUri",
                POSTPROCESSOR_DIR,
            ),
        )
        for name, member, directory in scripts:
            uri = app.get(member)
            if uri is not None:
                where = f"MonitoringAppSpecification.{member}"
                env[name] = str(_download(uri, work / directory, f"{name}.py", where))
        return env

    def _environment(
        self,
        spec: ExecutionSpec,
        source: _Input,
        definition: Mapping[str, Any],
        contract: dict[str, str],
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(the process environment, the job's own variables)."""
        user = _object(definition.get("Environment"), "Environment")
        publish = "Enabled" if spec.publish_cloudwatch_metrics else "Disabled"
        defaults = {"publish_cloudwatch_metrics": publish}
        analysis_type = ANALYSIS_TYPES.get(spec.monitoring_type)
        if analysis_type is not None:
            defaults["analysis_type"] = analysis_type
        for member, name in INPUT_ATTRIBUTES.items():
            value = source.member.get(member)
            if value is not None and value != "":
                defaults[name] = _text_value(value)
        problem_type = _object(
            definition.get("MonitoringAppSpecification"), "MonitoringAppSpecification"
        ).get("ProblemType")
        if spec.monitoring_type == "ModelQuality" and problem_type:
            defaults["problem_type"] = str(problem_type)
        fixed = dict(contract)
        fixed["sagemaker_monitoring_schedule_name"] = spec.schedule_name
        if source.kind == ENDPOINT_INPUT:
            assert source.endpoint is not None
            fixed["sagemaker_endpoint_name"] = source.endpoint
            fixed["sagemaker_endpoint_datacapture_prefix"] = spec.capture_destination or ""
        fixed["start_time"] = format_time(spec.window_start)
        fixed["end_time"] = format_time(spec.window_end)
        fixed["metric_time"] = format_time(spec.window_end)
        fixed["monitoring_input_type"] = source.kind
        fixed[EXECUTION_ID_ENV] = spec.execution_id
        job = {**defaults, **{str(k): _text_value(v) for k, v in user.items()}, **fixed}
        env = {k: v for k, v in os.environ.items() if k not in CONTRACT_VARIABLES}
        env.update(job)
        return env, job

    def _report_prefix(self, spec: ExecutionSpec, source: _Input, s3_uri: str) -> str:
        hour = report_hour_path(spec.scheduled_time)
        base = s3_uri.rstrip("/")
        if source.kind == ENDPOINT_INPUT:
            return f"{base}/{source.endpoint}/{spec.schedule_name}/{hour}"
        return f"{base}/{spec.schedule_name}/{hour}"

    def _supervise(
        self,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        max_runtime: float,
        stop: threading.Event | None,
    ) -> _Exit:
        try:
            with open(log_path, "ab") as out:
                process = subprocess.Popen(
                    command,
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as err:
            raise _Failed(f"the analyzer command {command[0]!r} cannot be started: {err}") from None
        pgid = process.pid
        deadline = time.monotonic() + max_runtime
        stopped = None
        watch = _ExitWatch(process.pid)
        exited = False
        try:
            while not exited:
                if stop is not None and stop.is_set():
                    stopped = "Stopped by the user"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    stopped = (
                        "Stopped: the execution ran longer than MaxRuntimeInSeconds "
                        f"({max_runtime:g} s)"
                    )
                    break
                # an exit wakes the wait at once; the pause only bounds how late a
                # stop request or the deadline is noticed
                exited = watch.wait(min(self._poll, remaining))
        finally:
            watch.close()
            if stopped is not None or not _exited(process.pid):
                # the leader is reaped last so that its group id cannot be reused meanwhile
                self._end_group(pgid)
                code = process.wait()
            else:
                # Exited: reap it, then ask the kernel whether anything it left behind
                # is still in its group (one syscall; the group id stays taken while it is)
                code = process.wait()
                if _group_exists(pgid):
                    self._end_group(pgid)
        return _Exit(code, process.pid, stopped)

    def _end_group(self, pgid: int) -> None:
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self._kill_grace
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                return
            time.sleep(min(0.05, self._poll))
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.01)

    def _interpret(
        self,
        outcome: _Exit,
        message: str,
        output_dir: Path,
        logger: _Log,
        offset: int,
        result: ExecutionResult,
    ) -> None:
        result.exit_message = _reason(message) if message else ""
        if outcome.stopped is not None:
            result.status, result.failure_reason = STOPPED, outcome.stopped
            return
        kind, _, rest = message.partition(":")
        kind, rest = kind.strip(), rest.strip()
        if kind == FAILED:
            result.status = FAILED
            result.failure_reason = _reason(rest or "the analyzer reported a failure")
            return
        if outcome.code != 0:
            if outcome.code < 0:
                try:
                    how = f"was killed by {signal.Signals(-outcome.code).name}"
                except ValueError:
                    how = f"was killed by signal {-outcome.code}"
            else:
                how = f"exited with code {outcome.code}"
            tail = _log_tail(logger.path, offset)
            result.status = FAILED
            result.failure_reason = _reason(
                f"AlgorithmError: the analyzer {how}" + (f": {tail}" if tail else "")
            )
            return
        if kind in (COMPLETED, COMPLETED_WITH_VIOLATIONS):
            result.status = kind
            return
        violations = output_dir / VIOLATIONS_FILE
        count = _count_violations(violations) if violations.is_file() else 0
        result.status, line = completion_message(count)
        if not message:
            result.exit_message = line

    def _upload_reports(
        self, output_dir: Path, prefix: str, logger: _Log, result: ExecutionResult
    ) -> None:
        files = _output_files(output_dir)
        uploaded = []
        try:
            for path in files:
                uri = f"{prefix}/{path.relative_to(output_dir).as_posix()}"
                _upload(path, uri)
                uploaded.append(uri)
        except (ModelmonError, OSError) as err:
            logger.write(f"cannot upload the reports to {prefix}: {err}")
            result.status = FAILED
            result.failure_reason = _reason(f"cannot upload the reports to {prefix}/: {err}")
        result.reports = uploaded
        if uploaded:
            result.report_uri = prefix + "/"
            logger.write(f"uploaded {len(uploaded)} report file(s) to {prefix}/")


@dataclass
class BaseliningSpec:
    """One baselining job: the built-in analyzer over a training dataset, no baseline.

    ``dataset_format`` is the container's form (``{"csv": {"header": true}}``...);
    the job writes statistics.json and constraints.json under ``output_uri``.
    """

    job_name: str
    dataset_uri: str
    dataset_format: Mapping[str, Any]
    output_uri: str
    work_dir: Path
    record_preprocessor_uri: str | None = None
    post_analytics_uri: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    max_runtime: float = DEFAULT_MAX_RUNTIME
    # contract variables of the analysis (analysis_type, problem_type, *_attribute...), set
    # after ``environment``
    analysis_environment: Mapping[str, str] = field(default_factory=dict)


def run_baselining(
    runner: Runner, spec: BaseliningSpec, stop: threading.Event | None = None
) -> ExecutionResult:
    """Run a baselining job to its end (blocking), as :meth:`Runner.run` runs executions."""
    started = runner._clock()
    work = Path(spec.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    logger = _Log(work / LOG_FILE)
    result = ExecutionResult(
        status=FAILED,
        failure_reason=None,
        exit_message="",
        report_uri=None,
        log_path=logger.path,
        started_at=started,
        ended_at=started,
    )
    logger.write(f"baselining job {spec.job_name} over {spec.dataset_uri}")
    dataset_dir = work / DEFAULT_INPUT_PATH.lstrip("/").replace(
        "endpoint", "baseline_dataset_input"
    )
    try:
        output_dir = work / DEFAULT_OUTPUT_PATH.lstrip("/")
        message_file = work / MESSAGE_PATH
        for stale in (dataset_dir, output_dir):
            shutil.rmtree(stale, ignore_errors=True)
        message_file.unlink(missing_ok=True)
        output_dir.mkdir(parents=True)
        message_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            files = expand(spec.dataset_uri)
        except InputError as err:
            raise _Failed(f"the baseline dataset {spec.dataset_uri}: {err.reason}") from None
        root = spec.dataset_uri.rstrip("/")
        staged = []
        for uri in files:
            relative = (
                uri[len(root) + 1 :] if uri.startswith(root + "/") else uri.rsplit("/", 1)[-1]
            )
            staged.append((uri, relative))
        result.staged_files = stage_dataset(staged, dataset_dir)
        contract = {
            "dataset_format": json.dumps(dict(spec.dataset_format)),
            "dataset_source": str(dataset_dir),
            "output_path": str(output_dir),
            "publish_cloudwatch_metrics": "Disabled",
            MESSAGE_FILE_ENV: str(message_file),
            METRICS_DIRECTORY_ENV: str(work / METRICS_PATH),
        }
        if spec.record_preprocessor_uri:
            contract["record_preprocessor_script"] = str(
                _download(
                    spec.record_preprocessor_uri,
                    work / PREPROCESSOR_DIR,
                    "preprocessor.py",
                    "RecordPreprocessorSourceUri",
                )
            )
        if spec.post_analytics_uri:
            contract["post_analytics_processor_script"] = str(
                _download(
                    spec.post_analytics_uri,
                    work / POSTPROCESSOR_DIR,
                    "postprocessor.py",
                    "PostAnalyticsProcessorSourceUri",
                )
            )
        env = {k: v for k, v in os.environ.items() if k not in CONTRACT_VARIABLES}
        env.update(spec.environment)
        env.update(spec.analysis_environment)
        env.update(contract)
        if stop is not None and stop.is_set():
            result.status, result.failure_reason = STOPPED, "Stopped by the user"
        else:
            offset = logger.size()
            outcome = runner._supervise(
                list(BUILTIN_COMMAND), env, work, logger.path, spec.max_runtime, stop
            )
            result.exit_code, result.pid = outcome.code, outcome.pid
            message = _read_message(message_file)
            try:
                runner._interpret(outcome, message, output_dir, logger, offset, result)
            finally:
                runner._upload_reports(output_dir, spec.output_uri.rstrip("/"), logger, result)
    except _Failed as err:
        result.status, result.failure_reason = FAILED, _reason(str(err))
    except Exception as err:
        log.exception("baselining job %s failed", spec.job_name)
        result.status = FAILED
        result.failure_reason = _reason(f"InternalServerError: {type(err).__name__}: {err}")
    if result.status == FAILED and not result.exit_message:
        result.exit_message = _reason(f"{FAILED}: {result.failure_reason}")
    shutil.rmtree(dataset_dir, ignore_errors=True)
    result.ended_at = runner._clock()
    logger.write(f"baselining job ended: {result.status}")
    return result


# -- bounded concurrency ---------------------------------------------------------------------


class RunnerPool:
    """At most ``max_concurrent`` executions at once, each in a worker thread.

    :meth:`submit` queues an execution and returns a future of its result;
    :meth:`stop` stops a queued or running one by id (a queued one ends
    ``Stopped`` without starting a process).
    """

    def __init__(self, runner: Runner, max_concurrent: int) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self.runner = runner
        self.max_concurrent = max_concurrent
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrent, thread_name_prefix="modelmon-execution"
        )
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def submit(
        self, spec: ExecutionSpec, stop: threading.Event | None = None
    ) -> Future[ExecutionResult]:
        event = stop or threading.Event()
        with self._lock:
            if spec.execution_id in self._stops:
                raise ValueError(f"execution {spec.execution_id} is already submitted")
            self._stops[spec.execution_id] = event
        try:
            future = self._executor.submit(self.runner.run, spec, event)
        except BaseException:
            with self._lock:
                self._stops.pop(spec.execution_id, None)
            raise

        def forget(_: Future[ExecutionResult]) -> None:
            with self._lock:
                self._stops.pop(spec.execution_id, None)

        future.add_done_callback(forget)
        return future

    def stop(self, execution_id: str) -> bool:
        """Ask execution ``execution_id`` to stop; False when it is not queued or running."""
        with self._lock:
            event = self._stops.get(execution_id)
        if event is None:
            return False
        event.set()
        return True

    def active(self) -> list[str]:
        """Ids of the executions queued or running."""
        with self._lock:
            return list(self._stops)

    def shutdown(self, *, wait: bool = True, stop_running: bool = False) -> None:
        """No more submissions; with ``stop_running`` every queued or running one is stopped."""
        if stop_running:
            with self._lock:
                events = list(self._stops.values())
            for event in events:
                event.set()
        self._executor.shutdown(wait=wait)
