"""``modelmon``: the command line.

Exit codes: 0 success, 1 bad input or failure (the message names the file,
line or field), 2 bad usage, 3 violations found with ``--fail-on-violation``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelmon.analysis.api import VIOLATIONS_FILE, analyze, baseline
from modelmon.analysis.readers import DatasetFormat
from modelmon.console import console, errors, progress_bar, statistics_table, violations_table
from modelmon.errors import ModelmonError

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


def main() -> None:
    """Entry point of the ``modelmon`` console script."""
    app()


if __name__ == "__main__":
    main()
