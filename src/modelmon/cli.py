"""``modelmon``: the command line.

Exit codes: 0 success, 1 bad input or failure (the message names the file,
line or field), 2 bad usage, 3 violations found with ``--fail-on-violation``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from modelmon.analysis.api import VIOLATIONS_FILE, analyze, baseline
from modelmon.analysis.readers import DatasetFormat
from modelmon.console import console, errors, progress_bar, statistics_table, violations_table
from modelmon.errors import ModelmonError

if TYPE_CHECKING:
    from modelmon.sdk import Session

T = TypeVar("T")

app = typer.Typer(
    name="modelmon",
    help="Self-hosted model monitor with SageMaker Model Monitor compatible files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_ERROR = 1
EXIT_VIOLATIONS = 3

DatasetOpt = Annotated[
    str, typer.Option("--dataset", "-d", help="File, directory, prefix or s3:// URI of the data.")
]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="Directory or s3:// URI to write.")]
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="csv | json (JSON Lines) | parquet | capture.")
]
HeaderOpt = Annotated[
    bool | None,
    typer.Option(
        "--header/--no-header", help="CSV: the first line names the columns (default: yes)."
    ),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Processes to use (default: all cores).")
]
PositionOpt = Annotated[
    str,
    typer.Option(
        "--output-columns-position", help="capture: model outputs START or END of the row."
    ),
]
FeaturesOpt = Annotated[
    str | None, typer.Option("--features-attribute", help="capture: JSONPath of the features.")
]
InferenceOpt = Annotated[
    str | None,
    typer.Option("--inference-attribute", help="capture: JSONPath of the prediction."),
]


def _dataset_format(
    fmt: str, header: bool | None, position: str, features: str | None, inference: str | None
) -> DatasetFormat:
    base = DatasetFormat.parse(fmt, header)
    if base.kind != "capture":
        return base
    return DatasetFormat(
        kind="capture",
        output_columns_position=position.upper(),  # type: ignore[arg-type]
        features_attribute=features,
        inference_attribute=inference,
    )


def _fail(err: Exception) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {err}", markup=True, highlight=False)
    return typer.Exit(EXIT_ERROR)


@app.command("baseline")
def baseline_command(
    dataset: DatasetOpt,
    output: OutputOpt,
    fmt: FormatOpt = "csv",
    header: HeaderOpt = None,
    workers: WorkersOpt = None,
    position: PositionOpt = "START",
    features: FeaturesOpt = None,
    inference: InferenceOpt = None,
) -> None:
    """Profile a training dataset: write statistics.json and constraints.json."""
    try:
        data_format = _dataset_format(fmt, header, position, features, inference)
        with progress_bar("baselining") as progress:
            result = baseline(
                dataset, output, format=data_format, workers=workers, progress=progress
            )
    except ModelmonError as err:
        raise _fail(err) from None
    console.print(statistics_table(result.statistics))
    for path in result.outputs.values():
        console.print(f"wrote {path}", highlight=False)


@app.command("analyze")
def analyze_command(
    dataset: DatasetOpt,
    baseline_constraints: Annotated[
        str, typer.Option("--baseline-constraints", help="constraints.json of the baseline.")
    ],
    output: OutputOpt,
    baseline_statistics: Annotated[
        str | None,
        typer.Option(
            "--baseline-statistics", help="statistics.json of the baseline (drift needs it)."
        ),
    ] = None,
    fmt: FormatOpt = "csv",
    header: HeaderOpt = None,
    workers: WorkersOpt = None,
    position: PositionOpt = "START",
    features: FeaturesOpt = None,
    inference: InferenceOpt = None,
    fail_on_violation: Annotated[
        bool,
        typer.Option("--fail-on-violation", help=f"Exit {EXIT_VIOLATIONS} if any violation."),
    ] = False,
) -> None:
    """Check a dataset against a baseline: write statistics.json and constraint_violations.json."""
    try:
        data_format = _dataset_format(fmt, header, position, features, inference)
        with progress_bar("analyzing") as progress:
            result = analyze(
                dataset,
                baseline_constraints,
                baseline_statistics,
                output,
                format=data_format,
                workers=workers,
                progress=progress,
            )
    except ModelmonError as err:
        raise _fail(err) from None
    if result.violations:
        console.print(violations_table(result.violations))
    else:
        console.print("[green]No violations.[/]")
    for path in result.outputs.values():
        console.print(f"wrote {path}", highlight=False)
    if fail_on_violation and result.violations:
        where = result.outputs.get(VIOLATIONS_FILE, "")
        errors.print(f"{len(result.violations)} violation(s) {where}", highlight=False)
        raise typer.Exit(EXIT_VIOLATIONS)


@app.command("serve")
def serve_command(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="MODELMON_DATA_DIR",
            help="Where the database, objects, model cache and capture spool live.",
        ),
    ] = Path("modelmon-data"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8080,
    port_file: Annotated[
        Path | None, typer.Option("--port-file", help="Write the bound port to this file.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log")] = False,
) -> None:
    """Start the server: API, endpoints, data capture, monitoring scheduler (SQLite + local
    objects by default)."""
    from modelmon.api.server import serve
    from modelmon.config import Settings

    try:
        settings = Settings(data_dir=data_dir)
    except ValueError as err:
        raise _fail(err) from None
    serve(
        settings,
        host=host,
        port=port,
        port_file=port_file,
        log_level=log_level,
        access_log=access_log,
    )


UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="MODELMON_URL", help="The server (default http://127.0.0.1:8080)."
    ),
]


def _session(url: str | None) -> Session:
    from modelmon.sdk import Session  # imported here: keeps the analyzer commands light

    return Session(url)


def _client_call(call: Callable[[], T]) -> T:
    """Run a client call; server refusals and connection errors exit 1 with the message."""
    import httpx

    from modelmon.sdk import ModelmonClientError

    try:
        return call()
    except ModelmonClientError as err:
        raise _fail(err) from None
    except httpx.HTTPError as err:
        raise _fail(f"cannot reach the server: {err}") from None


@app.command("endpoints")
def endpoints_command(url: UrlOpt = None) -> None:
    """List endpoints with their status and capture settings."""
    from rich.table import Table

    with _session(url) as session:
        listed = _client_call(lambda: session.list_endpoints(MaxResults=100))["Endpoints"]
        table = Table(title=f"Endpoints ({len(listed)})")
        for column in ("name", "status", "config", "variants", "capture", "modified"):
            table.add_column(column)
        for item in listed:
            d = _client_call(lambda item=item: session.describe_endpoint(item["EndpointName"]))
            capture = d.get("DataCaptureConfig")
            table.add_row(
                d["EndpointName"],
                d["EndpointStatus"]
                + (f" ({d['FailureReason']})" if d.get("FailureReason") else ""),
                d["EndpointConfigName"],
                ", ".join(
                    f"{v['VariantName']} {v['TrafficShare']:.0%}" for v in d["ProductionVariants"]
                ),
                f"{capture['CurrentSamplingPercentage']}% → {capture['DestinationS3Uri']}"
                if capture and capture["EnableCapture"]
                else "off",
                str(d["LastModifiedTime"]),
            )
    console.print(table)


@app.command("capture")
def capture_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many files.")] = 10,
    show: Annotated[bool, typer.Option("--show", help="Print the newest file's records.")] = False,
    url: UrlOpt = None,
) -> None:
    """The latest capture files of an endpoint (newest last), and the server's counters."""
    with _session(url) as session:
        description = _client_call(lambda: session.describe_endpoint(endpoint))
        capture = description.get("DataCaptureConfig")
        if not capture:
            raise _fail(f"endpoint {endpoint} has no DataCaptureConfig")
        prefix = f"{capture['DestinationS3Uri'].rstrip('/')}/{endpoint}/"
        files = _client_call(lambda: session.list_objects(prefix))
        for uri in files[-limit:]:
            typer.echo(uri)
        if not files:
            console.print(f"no capture files under {prefix} yet", highlight=False)
        counters = _client_call(lambda: session.call("GET", "/api/capture"))
        console.print(
            "  ".join(f"{k}={v}" for k, v in counters.items()), style="dim", highlight=False
        )
        if show and files:
            text = _client_call(lambda: session.read_bytes(files[-1])).decode("utf-8")
            typer.echo(text.rstrip("\n"))  # records as they are: no wrapping, no markup


@app.command("ground-truth")
def ground_truth_command(
    file: Annotated[
        Path, typer.Argument(help="CSV rows 'inference_id,label' or JSON Lines objects.")
    ],
    uri: Annotated[
        str, typer.Option("--uri", help="The GroundTruthS3Input URI, e.g. s3://bucket/gt.")
    ],
    collection_time: Annotated[
        str | None,
        typer.Option("--collection-time", help="ISO-8601 time the labels were collected."),
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Upload ground-truth labels: one file {uri}/yyyy/mm/dd/hh/{uuid}.jsonl of the hour."""
    from modelmon.sdk.model_monitor import read_ground_truth_pairs

    try:
        pairs = read_ground_truth_pairs(file)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _fail(err) from None
    if not pairs:
        raise _fail(f"{file}: no labels")
    with _session(url) as session:
        written = _client_call(lambda: session.upload_ground_truth(pairs, uri, collection_time))
    console.print(f"{len(pairs)} label(s) → {written['Uri']}", highlight=False)


@app.command("transform")
def transform_command(
    model: Annotated[str, typer.Option("--model", help="The model's name (on the server).")],
    input_uri: Annotated[
        str, typer.Option("--input", help="s3:// prefix of the input files (or a manifest).")
    ],
    output: Annotated[str, typer.Option("--output", help="s3:// prefix for the .out files.")],
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="e.g. text/csv, application/jsonlines.")
    ] = None,
    split_type: Annotated[
        str | None, typer.Option("--split-type", help="None (a file per request) or Line.")
    ] = None,
    accept: Annotated[str | None, typer.Option("--accept", help="Accept of the requests.")] = None,
    assemble_with: Annotated[
        str | None, typer.Option("--assemble-with", help="None (concatenate) or Line.")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="MultiRecord or SingleRecord.")
    ] = None,
    max_payload: Annotated[
        int | None, typer.Option("--max-payload", help="MaxPayloadInMB (default 6).")
    ] = None,
    compression: Annotated[str | None, typer.Option("--compression", help="None or Gzip.")] = None,
    manifest: Annotated[
        bool, typer.Option("--manifest", help="--input is a manifest file (ManifestFile).")
    ] = False,
    capture_destination: Annotated[
        str | None,
        typer.Option("--capture-destination", help="s3:// prefix for the capture manifests."),
    ] = None,
    generate_inference_id: Annotated[
        bool,
        typer.Option(
            "--generate-inference-id", help="Append an inference id and time to every output."
        ),
    ] = False,
    job_name: Annotated[
        str | None, typer.Option("--job-name", help="Default: the model name and a timestamp.")
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Start the job and return at once.")
    ] = False,
    url: UrlOpt = None,
) -> None:
    """Run a batch transform job: the model over every file under --input, outputs as
    <file>.out under --output. Exit 1 with the reason when the job fails."""
    from modelmon.sdk import BatchDataCaptureConfig, Transformer

    if generate_inference_id and not capture_destination:
        raise _fail("--generate-inference-id needs --capture-destination")
    capture = None
    if capture_destination:
        capture = BatchDataCaptureConfig(
            capture_destination, generate_inference_id=generate_inference_id or None
        )
    with _session(url) as session:
        transformer = Transformer(
            model,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output,
            accept=accept,
            max_payload=max_payload,
            sagemaker_session=session,
        )
        _client_call(
            lambda: transformer.transform(
                input_uri,
                data_type="ManifestFile" if manifest else "S3Prefix",
                content_type=content_type,
                compression_type=compression,
                split_type=split_type,
                job_name=job_name,
                batch_data_capture_config=capture,
                wait=False,
            )
        )
        assert transformer.latest_transform_job is not None
        name = transformer.latest_transform_job.name
        if no_wait:
            console.print(f"started transform job {name}", highlight=False)
            return
        try:
            with progress_bar(f"transform {name}", counts=True) as update:

                def show(description: dict[str, Any]) -> None:
                    progress = description.get("Progress") or {}
                    update(progress.get("FilesDone", 0), progress.get("FilesTotal") or 0)

                final = _client_call(lambda: _wait_for_end(session, name, show))
        except KeyboardInterrupt:
            errors.print(f"stopped waiting; transform job {name} keeps running", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
    status = final["TransformJobStatus"]
    progress = final.get("Progress") or {}
    if status != "Completed":
        reason = final.get("FailureReason") or "stopped"
        raise _fail(f"transform job {name} {status}: {reason}")
    console.print(
        f"transform job {name} Completed: {progress.get('FilesDone', 0)} file(s), "
        f"{progress.get('RecordsDone', 0)} record(s) → {output.rstrip('/')}/",
        highlight=False,
    )


def _wait_for_end(
    session: Session, name: str, show: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Wait for a transform job to end; its final description, whether it Completed or not."""
    from modelmon.sdk import ModelmonClientError

    try:
        return session.wait_for_transform_job(name, progress=show)
    except ModelmonClientError as err:
        if not err.code.startswith("TransformJob"):
            raise
        return session.describe_transform_job(name)


@app.command("transform-jobs")
def transform_jobs_command(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many (newest first).")] = 20,
    url: UrlOpt = None,
) -> None:
    """List transform jobs with their status and progress."""
    from rich.table import Table

    with _session(url) as session:
        listed = _client_call(lambda: session.list_transform_jobs(MaxResults=min(limit, 100)))
        summaries = listed["TransformJobSummaries"]
        table = Table(title=f"Transform jobs ({len(summaries)})")
        for column in ("name", "status", "model", "files", "records", "output", "created"):
            table.add_column(column)
        for item in summaries:
            d = _client_call(
                lambda item=item: session.describe_transform_job(item["TransformJobName"])
            )
            progress = d.get("Progress") or {}
            table.add_row(
                d["TransformJobName"],
                d["TransformJobStatus"]
                + (f" ({d['FailureReason']})" if d.get("FailureReason") else ""),
                d["ModelName"],
                f"{progress.get('FilesDone', 0)}/{progress.get('FilesTotal', 0)}",
                str(progress.get("RecordsDone", 0)),
                d["TransformOutput"]["S3OutputPath"],
                str(d["CreationTime"]),
            )
    console.print(table)


@app.command("worker")
def worker_command(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="MODELMON_DATA_DIR",
            help="The data directory (database, objects) of the server it works for.",
        ),
    ] = Path("modelmon-data"),
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    parent_fd: Annotated[
        int | None,
        typer.Option("--parent-fd", hidden=True, help="Socket to the `modelmon serve` parent."),
    ] = None,
) -> None:
    """Run asynchronous inference workers alone (same database and objects as `modelmon serve`;
    set MODELMON_ASYNC_WORKERS=off there to leave the queue to workers like this one).

    Each worker process serves the async endpoints' models and takes at most
    MaxConcurrentInvocationsPerInstance requests per endpoint at once. SIGTERM/SIGINT:
    no new requests; those in flight get 30 s, the rest go back to the queue.
    """
    import logging
    import signal
    import threading

    from modelmon.alerting.topics import Topics
    from modelmon.config import Settings
    from modelmon.serving.async_worker import AsyncWorker, run_worker

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings(data_dir=data_dir)
    except ValueError as err:
        raise _fail(err) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    endpoints_changed = threading.Event()
    running: list[AsyncWorker] = []  # the worker, once it runs
    parent = None
    if parent_fd is not None:  # a child of `modelmon serve` (modelmon.serving.worker_process)
        from modelmon.serving.worker_process import ParentLink

        def flush() -> bool:
            writer = running[0].writer if running else None
            return writer.flush() if writer is not None else False

        parent = ParentLink(
            parent_fd,
            on_queued=lambda: running and running[0].wake(),
            on_endpoints=endpoints_changed.set,
            on_flush=flush,
            on_gone=stop.set,
        ).start()

    def make_publish(db: Any) -> Callable[[str, str, str], object]:
        topics = Topics(db, settings, on_publish=parent.published if parent else None)
        return lambda arn, message, key: topics.publish(arn, message, dedupe_key=key)

    def started(worker: AsyncWorker) -> None:
        running.append(worker)
        worker.wake()  # requests queued while it started
        console.print(
            f"asynchronous inference worker {worker.instance_id} on {settings.database_url}",
            highlight=False,
        )

    try:
        run_worker(
            settings,
            stop,
            make_publish=make_publish,
            on_started=started,
            endpoints_changed=endpoints_changed,
        )
    except (ModelmonError, ValueError) as err:
        raise _fail(err) from None


@app.command("invoke-async")
def invoke_async_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name (with an AsyncInferenceConfig).")],
    input_uri: Annotated[str, typer.Option("--input", help="s3:// URI of the request payload.")],
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="Content-Type of the payload.")
    ] = None,
    accept: Annotated[str | None, typer.Option("--accept", help="Accept of the request.")] = None,
    inference_id: Annotated[
        str | None, typer.Option("--inference-id", help="Default: a new UUID.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the result and print it (exit 1 on failure).")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait at most.")] = 900,
    url: UrlOpt = None,
) -> None:
    """Queue an asynchronous request (InvokeEndpointAsync); prints the output and failure
    locations, or with --wait the result."""
    import math
    import sys

    from modelmon.sdk import AsyncInferenceModelError, PollingTimeoutError, Predictor, WaiterConfig

    with _session(url) as session:
        answer = _client_call(
            lambda: session.invoke_endpoint_async(
                EndpointName=endpoint,
                InputLocation=input_uri,
                ContentType=content_type,
                Accept=accept,
                InferenceId=inference_id,
            )
        )
        (errors if wait else console).print(  # with --wait, stdout is the result alone
            f"inference {answer['InferenceId']} queued\n"
            f"  output:  {answer['OutputLocation']}\n  failure: {answer['FailureLocation']}",
            highlight=False,
            markup=False,
        )
        if not wait:
            return
        from modelmon.sdk.async_inference import AsyncInferenceResponse, AsyncPredictor

        response = AsyncInferenceResponse(
            AsyncPredictor(Predictor(endpoint, session)),
            answer["OutputLocation"],
            answer["FailureLocation"],
            answer["InferenceId"],
        )
        delay = 0.2
        waiter = WaiterConfig(max_attempts=max(1, math.ceil(timeout / delay)), delay=delay)
        try:
            result = _client_call(lambda: response.get_result(waiter))
        except (AsyncInferenceModelError, PollingTimeoutError) as err:
            raise _fail(err) from None
        sys.stdout.buffer.write(result)
        if not result.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")


@app.command("scheduler")
def scheduler_command(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="MODELMON_DATA_DIR",
            help="The data directory (database, objects) of the server it schedules for.",
        ),
    ] = Path("modelmon-data"),
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Run the monitoring scheduler alone (same database and objects as `modelmon serve`).

    Several schedulers (and servers) may share one database: each run starts once.
    SIGTERM/SIGINT: no new executions; running ones get MODELMON_EXECUTION_GRACE
    seconds to finish, then they are stopped and recorded Failed.
    """
    import logging
    import signal
    import threading

    from modelmon.alerting import Alerting
    from modelmon.config import Settings
    from modelmon.db import Database
    from modelmon.monitoring.registry import Monitoring
    from modelmon.monitoring.runner import Runner
    from modelmon.monitoring.scheduler import Scheduler
    from modelmon.serving.registry import Hosting

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings(data_dir=data_dir)
        settings.prepare()
        db = Database(settings.database_url)
        hosting = Hosting(db, settings)
        # metrics and alarms of each ended execution; the server's worker sends notifications
        alerting = Alerting(db, settings, deliver=False)
        scheduler = Scheduler(
            db,
            settings,
            Monitoring(db, settings, hosting),
            Runner(),
            on_finished=alerting.on_finished,
        )
    except (ModelmonError, ValueError) as err:
        raise _fail(err) from None
    stop = threading.Event()

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()
        scheduler.wake()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    console.print(
        f"scheduler {scheduler.instance_id} on {settings.database_url} "
        f"(at most {scheduler.max_concurrent} executions at once)",
        highlight=False,
    )
    try:
        scheduler.run_forever(stop)
    finally:
        db.dispose()


@app.command("schedules")
def schedules_command(
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Only the schedules of this endpoint.")
    ] = None,
    url: UrlOpt = None,
) -> None:
    """List monitoring schedules with their status and last execution."""
    from rich.table import Table

    params = {"MaxResults": 100, **({"EndpointName": endpoint} if endpoint else {})}
    with _session(url) as session:
        listed = _client_call(
            lambda: session.call("GET", "/api/monitoring-schedules", params=params)
        )
        summaries = listed["MonitoringScheduleSummaries"]
        table = Table(title=f"Monitoring schedules ({len(summaries)})")
        for column in ("name", "status", "schedule", "endpoint", "last execution", "created"):
            table.add_column(column)
        for item in summaries:
            name = item["MonitoringScheduleName"]
            d = _client_call(
                lambda name=name: session.call("GET", f"/api/monitoring-schedules/{name}")
            )
            config = d["MonitoringScheduleConfig"].get("ScheduleConfig") or {}
            expression = config.get("ScheduleExpression", "")
            if config.get("DataAnalysisStartTime"):
                expression += (
                    f" [{config['DataAnalysisStartTime']}, {config.get('DataAnalysisEndTime')}]"
                )
            last = d.get("LastMonitoringExecutionSummary")
            table.add_row(
                name,
                d["MonitoringScheduleStatus"]
                + (f" ({d['FailureReason']})" if d.get("FailureReason") else ""),
                expression,
                d.get("EndpointName")
                or d["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName", ""),
                f"{last['MonitoringExecutionStatus']} {last['ScheduledTime']}" if last else "-",
                str(d["CreationTime"]),
            )
    console.print(table)


@app.command("executions")
def executions_command(
    schedule: Annotated[
        str | None, typer.Option("--schedule", "-s", help="Only this schedule's executions.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many (newest first).")] = 20,
    url: UrlOpt = None,
) -> None:
    """List monitoring executions: status, scheduled time, failure reason, report location."""
    from rich.table import Table

    params: dict[str, Any] = {"MaxResults": min(max(limit, 1), 100), "SortBy": "ScheduledTime"}
    if schedule:
        params["MonitoringScheduleName"] = schedule
    with _session(url) as session:
        listed = _client_call(
            lambda: session.call("GET", "/api/monitoring-executions", params=params)
        )
        summaries = listed["MonitoringExecutionSummaries"]
        table = Table(title=f"Monitoring executions ({len(summaries)})")
        table.add_column("id", overflow="fold")
        table.add_column("schedule", overflow="fold")
        table.add_column("status", no_wrap=True)
        table.add_column("scheduled", no_wrap=True)
        table.add_column("failure reason / report", overflow="fold")
        for item in summaries:
            identifier = item["MonitoringExecutionId"]
            d = _client_call(
                lambda identifier=identifier: session.call(
                    "GET", f"/api/monitoring-executions/{identifier}"
                )
            )
            table.add_row(
                identifier,
                d["MonitoringScheduleName"],
                d["MonitoringExecutionStatus"],
                _short_time(d["ScheduledTime"]),
                d.get("FailureReason") or d.get("ReportUri") or "",
            )
    console.print(table)


def _short_time(value: Any) -> str:
    """An ISO-8601 time from the API to the second: ``2024-03-01 05:00:00Z``."""
    text = str(value).replace("T", " ")
    return text[:19] + "Z" if len(text) >= 19 else text


@app.command("execution-logs")
def execution_logs_command(
    execution_id: Annotated[str, typer.Argument(help="The execution's id (see `executions`).")],
    url: UrlOpt = None,
) -> None:
    """Print the log of a monitoring execution (the runner's lines, then the analyzer's)."""
    import httpx

    with _session(url) as session:
        try:
            response = session.http.get(f"/api/monitoring-executions/{execution_id}/logs")
        except httpx.HTTPError as err:
            raise _fail(f"cannot reach the server: {err}") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise _fail(message)
        console.print(response.text.rstrip("\n"), highlight=False, markup=False)


# -- metrics, alarms, topics (modelmon.alerting) -----------------------------------------------

metrics_app = typer.Typer(help="Metric series: list them, chart one.", no_args_is_help=True)
topics_app = typer.Typer(help="Notification topics and their subscriptions.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")
app.add_typer(topics_app, name="topics")

DimensionOpt = Annotated[
    list[str] | None,
    typer.Option("--dimension", "-D", help="Name=Value (repeatable; Name alone: any value)."),
]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", help="Metric namespace.")]


def _dimension_pairs(items: list[str] | None, *, exact: bool) -> list[dict[str, str]]:
    out = []
    for item in items or []:
        name, sep, value = item.partition("=")
        if not name or (exact and not sep):
            raise _fail(f"--dimension {item!r}: expected Name=Value")
        out.append({"Name": name, **({"Value": value} if sep else {})})
    return out


@metrics_app.command("list")
def metrics_list_command(
    namespace: NamespaceOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Metric name.")] = None,
    dimension: DimensionOpt = None,
    url: UrlOpt = None,
) -> None:
    """List stored metric series with their latest value."""
    from rich.table import Table

    from modelmon.sdk import CloudWatch

    dims = _dimension_pairs(dimension, exact=False)
    with _session(url) as session:
        client = CloudWatch(session)
        found: list[dict[str, Any]] = []
        token = None
        while True:
            page = _client_call(
                lambda token=token: client.list_metrics(namespace, name, dims, token)
            )
            found += page["Metrics"]
            token = page.get("NextToken")
            if not token:
                break
    table = Table(title=f"Metrics ({len(found)})")
    for column in ("namespace", "metric", "dimensions", "latest", "at"):
        table.add_column(column, overflow="fold")
    for m in found:
        table.add_row(
            m["Namespace"],
            m["MetricName"],
            ", ".join(f"{d['Name']}={d['Value']}" for d in m["Dimensions"]),
            f"{m['LastValue']:.6g}" if m.get("LastValue") is not None else "-",
            _short_time(m.get("LastTimestamp") or "-"),
        )
    console.print(table)


@metrics_app.command("show")
def metrics_show_command(
    name: Annotated[str, typer.Argument(help="Metric name, e.g. feature_baseline_drift_x.")],
    namespace: Annotated[
        str, typer.Option("--namespace", help="Metric namespace.")
    ] = "aws/sagemaker/Endpoints/data-metrics",
    dimension: DimensionOpt = None,
    since: Annotated[str, typer.Option("--since", help="How far back: 30m, 24h, 7d...")] = "24h",
    period: Annotated[
        int | None, typer.Option("--period", help="Seconds per column (default: fits 60).")
    ] = None,
    statistic: Annotated[
        str, typer.Option("--statistic", help="Average, Sum, Minimum, Maximum, SampleCount.")
    ] = "Average",
    height: Annotated[int, typer.Option("--height", help="Chart rows.")] = 8,
    url: UrlOpt = None,
) -> None:
    """Chart one metric series in the terminal (one column per period)."""
    import datetime as dt

    from modelmon.alerting.chart import auto_period, parse_duration, render_chart
    from modelmon.alerting.metrics import bucket_start
    from modelmon.sdk import CloudWatch

    try:
        span = parse_duration(since)
    except ValueError as err:
        raise _fail(f"--since: {err}") from None
    seconds = period or auto_period(span, 60)
    end = bucket_start(dt.datetime.now(dt.UTC), seconds) + dt.timedelta(seconds=seconds)
    start = bucket_start(end - span, seconds)
    dims = _dimension_pairs(dimension, exact=True)
    with _session(url) as session:
        answer = _client_call(
            lambda: CloudWatch(session).get_metric_statistics(
                namespace, name, start, end, seconds, [statistic], dims
            )
        )
    points = [
        (dt.datetime.fromisoformat(p["Timestamp"].replace("Z", "+00:00")), p[statistic])
        for p in answer["Datapoints"]
    ]
    shown = ", ".join(f"{d['Name']}={d['Value']}" for d in dims)
    console.print(
        f"{name} {statistic} per {seconds}s{f' ({shown})' if shown else ''}, "
        f"{len(points)} period(s) with data",
        highlight=False,
    )
    for line in render_chart(points, start, end, seconds, height=height):
        console.print(line, highlight=False, markup=False)
    if points:
        last_time, last_value = points[-1]
        console.print(f"latest {last_value:.6g} at {last_time:%Y-%m-%d %H:%M:%S}Z", highlight=False)


@app.command("alarms")
def alarms_command(
    state: Annotated[
        str | None, typer.Option("--state", help="Only OK, ALARM or INSUFFICIENT_DATA.")
    ] = None,
    history: Annotated[
        str | None, typer.Option("--history", help="Show this alarm's history instead.")
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Alarms (and monitoring alerts) with their state, or one alarm's history."""
    from rich.table import Table

    from modelmon.sdk import CloudWatch

    styles = {"ALARM": "bold red", "OK": "green", "INSUFFICIENT_DATA": "yellow"}
    with _session(url) as session:
        client = CloudWatch(session)
        if history:
            items = _client_call(lambda: client.describe_alarm_history(history))
            table = Table(title=f"History of {history}")
            for column in ("time", "type", "summary"):
                table.add_column(column, overflow="fold")
            for item in items["AlarmHistoryItems"]:
                table.add_row(
                    _short_time(item["Timestamp"]), item["HistoryItemType"], item["HistorySummary"]
                )
            console.print(table)
            return
        alarms: list[dict[str, Any]] = []
        token = None
        while True:
            page = _client_call(
                lambda token=token: client.describe_alarms(StateValue=state, NextToken=token)
            )
            alarms += page["MetricAlarms"]
            token = page.get("NextToken")
            if not token:
                break
    table = Table(title=f"Alarms ({len(alarms)})")
    table.add_column("name", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for column in ("metric", "condition", "since", "reason"):
        table.add_column(column, overflow="fold")
    ops = {
        "GreaterThanThreshold": ">",
        "GreaterThanOrEqualToThreshold": ">=",
        "LessThanThreshold": "<",
        "LessThanOrEqualToThreshold": "<=",
    }
    for a in alarms:
        dims = ", ".join(f"{d['Name']}={d['Value']}" for d in a["Dimensions"])
        table.add_row(
            a["AlarmName"],
            f"[{styles.get(a['StateValue'], '')}]{a['StateValue']}[/]",
            f"{a['MetricName']}{f' ({dims})' if dims else ''}",
            f"{a['Statistic']} {ops[a['ComparisonOperator']]} {a['Threshold']:g} for "
            f"{a['DatapointsToAlarm']}/{a['EvaluationPeriods']} x {a['Period']}s",
            _short_time(a["StateUpdatedTimestamp"]),
            a["StateReason"],
        )
    console.print(table)


@topics_app.command("list")
def topics_list_command(url: UrlOpt = None) -> None:
    """Topics with their subscriptions."""
    from rich.table import Table

    with _session(url) as session:
        topics = _client_call(lambda: session.call("GET", "/api/topics"))["Topics"]
        table = Table(title=f"Topics ({len(topics)})")
        for column in ("topic", "subscriptions"):
            table.add_column(column, overflow="fold")
        for t in topics:
            subs = _client_call(
                lambda t=t: session.call(
                    "GET", "/api/subscriptions", params={"TopicArn": t["TopicArn"]}
                )
            )["Subscriptions"]
            table.add_row(
                t["TopicArn"],
                "\n".join(
                    f"{s['Protocol']} {s['Endpoint']}{' (signed)' if s['Signed'] else ''}"
                    for s in subs
                )
                or "-",
            )
    console.print(table)


@topics_app.command("create")
def topics_create_command(
    name: Annotated[str, typer.Argument(help="Topic name (letters, digits, - and _).")],
    url: UrlOpt = None,
) -> None:
    """Create a topic (or answer the existing one's ARN)."""
    from modelmon.sdk import SNS

    with _session(url) as session:
        arn = _client_call(lambda: SNS(session).create_topic(Name=name))["TopicArn"]
    console.print(arn, highlight=False)


@topics_app.command("delete")
def topics_delete_command(
    topic: Annotated[str, typer.Argument(help="Topic ARN or name.")], url: UrlOpt = None
) -> None:
    """Delete a topic and its subscriptions."""
    from modelmon.sdk import SNS

    with _session(url) as session:
        _client_call(lambda: SNS(session).delete_topic(topic))


@topics_app.command("subscribe")
def topics_subscribe_command(
    topic: Annotated[str, typer.Argument(help="Topic ARN or name.")],
    endpoint: Annotated[str, typer.Argument(help="http(s) URL or email address.")],
    secret: Annotated[
        str | None, typer.Option("--secret", help="Sign bodies (X-Modelmon-Signature).")
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Subscribe a webhook URL (or an email address, with SMTP configured)."""
    from modelmon.sdk import SNS

    protocol = "email" if "@" in endpoint and "://" not in endpoint else endpoint.split(":", 1)[0]
    with _session(url) as session:
        answer = _client_call(
            lambda: SNS(session).subscribe(topic, protocol, endpoint, Secret=secret)
        )
    console.print(answer["SubscriptionArn"], highlight=False)


@topics_app.command("unsubscribe")
def topics_unsubscribe_command(
    subscription: Annotated[str, typer.Argument(help="Subscription ARN.")], url: UrlOpt = None
) -> None:
    """Remove a subscription."""
    from modelmon.sdk import SNS

    with _session(url) as session:
        _client_call(lambda: SNS(session).unsubscribe(subscription))


@topics_app.command("publish")
def topics_publish_command(
    topic: Annotated[str, typer.Argument(help="Topic ARN or name.")],
    message: Annotated[str, typer.Argument(help="The message.")],
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    url: UrlOpt = None,
) -> None:
    """Publish a message (delivered in the background); prints its id."""
    from modelmon.sdk import SNS

    with _session(url) as session:
        answer = _client_call(lambda: SNS(session).publish(topic, message, Subject=subject))
    console.print(answer["MessageId"], highlight=False)


@topics_app.command("deliveries")
def topics_deliveries_command(
    topic: Annotated[str | None, typer.Option("--topic", help="Only this topic's.")] = None,
    message: Annotated[str | None, typer.Option("--message", help="Only this message's.")] = None,
    url: UrlOpt = None,
) -> None:
    """Deliveries (newest first) with their attempts."""
    from rich.table import Table

    from modelmon.sdk import SNS

    with _session(url) as session:
        found = _client_call(lambda: SNS(session).list_deliveries(message, topic))["Deliveries"]
    table = Table(title=f"Deliveries ({len(found)})")
    for column in ("message", "endpoint", "status", "attempts", "last error"):
        table.add_column(column, overflow="fold")
    for d in found:
        attempts = ", ".join(
            f"{a['StatusCode'] or 'error'} {a['DurationMs']:.0f}ms" for a in d["Attempts"]
        )
        table.add_row(
            d["MessageId"], d["Endpoint"], d["Status"], attempts or "-", d.get("LastError") or ""
        )
    console.print(table)


def main() -> None:
    """Entry point of the ``modelmon`` console script."""
    app()


if __name__ == "__main__":
    main()
