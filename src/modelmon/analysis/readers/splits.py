"""Planning splits of a dataset and reading them, in any format."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence

import pyarrow as pa

from modelmon.analysis.readers.capture import read_capture, read_capture_files
from modelmon.analysis.readers.csv import read_csv
from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.jsonl import read_json
from modelmon.analysis.readers.parquet import parquet_splits, read_parquet
from modelmon.analysis.readers.ranges import csv_ranges
from modelmon.analysis.readers.split import Split
from modelmon.errors import InputError
from modelmon.storage.files import expand, file_size, is_local

MIN_SPLIT_BYTES = 32 << 20


def plan_splits(
    uris: Sequence[str],
    fmt: DatasetFormat,
    parts: int,
    *,
    byte_ranges: bool = True,
    min_split_bytes: int = MIN_SPLIT_BYTES,
) -> list[Split]:
    """Splits covering the files ``uris`` (as :func:`expand` gives them), in order.

    Aims at about ``parts`` splits of similar size, none under ``min_split_bytes``:
    a large local uncompressed CSV file becomes byte ranges (unless
    ``byte_ranges`` is False), a large Parquet file groups of row groups; every
    other file is one split.
    """
    sizes = {uri: file_size(uri) for uri in uris if is_local(uri) or fmt.kind == "parquet"}
    total = sum(sizes.values())
    chunk = max(min_split_bytes, math.ceil(total / max(parts, 1)))
    splits: list[Split] = []
    for uri in uris:
        size = sizes.get(uri, 0)
        if fmt.kind == "csv" and byte_ranges and is_local(uri) and size > chunk:
            splits.extend(csv_ranges(uri, fmt, chunk) or [Split(uri, size=size)])
        elif fmt.kind == "parquet":
            splits.extend(parquet_splits(uri, size, chunk))
        else:
            splits.append(Split(uri, size=size))
    return splits


def read_split(
    split: Split,
    fmt: DatasetFormat,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
    metadata_columns: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Record batches of one split, each column int64, float64, string or null.

    ``string_columns`` are read as text. Raises InputError for bad input,
    SchemaChange when a column's type changes after the first block (restart
    with it in ``string_columns``) and SplitUnsafe when a CSV byte range did not
    start on a record (re-plan with ``byte_ranges=False``). ``metadata_columns``
    applies to capture files (see :func:`read_capture`).
    """
    columns = frozenset(string_columns)
    if fmt.kind == "csv":
        batches = read_csv(split, fmt, string_columns=columns, batch_rows=batch_rows)
    elif fmt.kind == "json":
        batches = read_json(split, string_columns=columns, batch_rows=batch_rows)
    elif fmt.kind == "parquet":
        batches = read_parquet(split, string_columns=columns, batch_rows=batch_rows)
    else:
        batches = read_capture(
            split,
            fmt,
            string_columns=columns,
            batch_rows=batch_rows,
            metadata_columns=metadata_columns,
        )
    return _named_errors(split.uri, batches)


def read_splits(
    splits: Sequence[Split],
    fmt: DatasetFormat,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
    metadata_columns: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Record batches of several splits in order (small capture files parsed together,
    see :func:`~modelmon.analysis.readers.capture.read_capture_files`)."""

    def read_one(split: Split) -> Iterator[pa.RecordBatch]:
        return read_split(
            split,
            fmt,
            string_columns=string_columns,
            batch_rows=batch_rows,
            metadata_columns=metadata_columns,
        )

    if fmt.kind != "capture" or len(splits) < 2:
        for split in splits:
            yield from read_one(split)
        return
    yield from read_capture_files(
        splits,
        fmt,
        read_one,
        string_columns=frozenset(string_columns),
        batch_rows=batch_rows,
        metadata_columns=metadata_columns,
    )


def _named_errors(uri: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Storage and decompression failures (a truncated gzip, a dropped connection)
    as InputError naming the file, like every other reading error."""
    try:
        yield from batches
    except FileNotFoundError as err:
        raise InputError("no such file", source=uri) from err
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"could not read the file: {err}", source=uri) from err


def read_batches(
    uri_or_uris: str | Sequence[str],
    fmt: DatasetFormat,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
    metadata_columns: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Record batches of every file a URI (or list of URIs) stands for, in order."""
    uris = [uri_or_uris] if isinstance(uri_or_uris, str) else list(uri_or_uris)
    files = [file for uri in uris for file in expand(uri)]
    for split in plan_splits(files, fmt, 1, byte_ranges=False):
        yield from read_split(
            split,
            fmt,
            string_columns=string_columns,
            batch_rows=batch_rows,
            metadata_columns=metadata_columns,
        )
