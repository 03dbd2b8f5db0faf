"""``modelmon``: the command line.

Exit codes: 0 success, 1 bad input or failure (the message names the file,
line or field), 2 bad usage, 3 violations found with ``--fail-on-violation``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

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
    """Start the server: API, endpoints, data capture (SQLite + local objects by default)."""
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
            console.print(uri, highlight=False)
        if not files:
            console.print(f"no capture files under {prefix} yet", highlight=False)
        counters = _client_call(lambda: session.call("GET", "/api/capture"))
        console.print(
            "  ".join(f"{k}={v}" for k, v in counters.items()), style="dim", highlight=False
        )
        if show and files:
            text = _client_call(lambda: session.read_bytes(files[-1])).decode("utf-8")
            console.print(text.rstrip("\n"), highlight=False, markup=False)


def main() -> None:
    """Entry point of the ``modelmon`` console script."""
    app()


if __name__ == "__main__":
    main()
