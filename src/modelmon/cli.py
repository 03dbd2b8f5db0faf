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
        scheduler = Scheduler(db, settings, Monitoring(db, settings, hosting), Runner())
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


def main() -> None:
    """Entry point of the ``modelmon`` console script."""
    app()


if __name__ == "__main__":
    main()
