"""SageMaker data-capture JSON Lines -> rows of model output and input columns.

Fast path, for batches where every record has one line of CSV in and out:
Arrow parses the JSON Lines into struct columns, the ``data`` strings are joined
into one CSV text (output first under START, after the input under END) and
Arrow's CSV reader converts it. Other batches (JSON or base64 payloads,
several rows per record, a mix) go record by record through
:mod:`~modelmon.analysis.readers.payload`, whose rows are joined into CSV text
the same way, so every path types values alike. When Arrow cannot parse the JSON
(a bad line, a huge record) the rest of the file is read line by line in Python.

Columns are named ``_c0``, ``_c1``, … by position across the whole row, except
columns named by a JSON payload's keys. Records with
``eventMetadata.invocationSource == "ShadowExperiment"`` are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from modelmon.analysis.readers.csv import CONVERSION_ERROR, convert_options
from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.jsonl import parse_object
from modelmon.analysis.readers.normalize import is_allowed, slices
from modelmon.analysis.readers.payload import Cells, RecordError, csv_rows, record_rows
from modelmon.analysis.readers.signals import SchemaChange
from modelmon.analysis.readers.source import json_batches
from modelmon.analysis.readers.split import Split
from modelmon.errors import InputError
from modelmon.storage.files import open_input

BLOCK_SIZE = 8 << 20
METADATA_COLUMNS = ("eventId", "inferenceId", "inferenceTime")
SHADOW = "ShadowExperiment"
_PART = pa.struct(
    [
        ("observedContentType", pa.string()),
        ("mode", pa.string()),
        ("data", pa.string()),
        ("encoding", pa.string()),
    ]
)
CAPTURE_SCHEMA = pa.schema(
    [
        ("captureData", pa.struct([("endpointInput", _PART), ("endpointOutput", _PART)])),
        (
            "eventMetadata",
            pa.struct([(name, pa.string()) for name in (*METADATA_COLUMNS, "invocationSource")]),
        ),
    ]
)


class _NotUtf8(Exception):
    """Captured text that is not UTF-8: the line-by-line path names the line."""


def iter_capture_records(uri: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, parsed record) for every non-blank line of a capture file."""
    with open_input(uri) as handle:
        for lineno, raw in enumerate(handle, 1):
            if raw.strip():
                yield lineno, parse_object(raw, uri, lineno)


def _line_of(uri: str, ordinal: int) -> int | None:
    """Line number of the ``ordinal``-th (0-based) record (error path only)."""
    seen = -1
    with open_input(uri) as handle:
        for lineno, raw in enumerate(handle, 1):
            if raw.strip():
                seen += 1
                if seen == ordinal:
                    return lineno
    return None


def _first_seen(rows: Sequence[dict[str, str]]) -> list[str]:
    order: dict[str, None] = {}
    for row in rows:
        for name in row:
            order.setdefault(name)
    return list(order)


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def _csv_data(part: pa.Array) -> pa.Array | None:
    """The non-empty CSV ``data`` of one side of every record, else None."""
    if part.null_count:
        return None
    encoding = pc.struct_field(part, "encoding")
    if encoding.null_count or not pc.all(pc.equal(encoding, "CSV")).as_py():
        return None
    data = pc.struct_field(part, "data")
    if data.null_count or pc.min(pc.binary_length(data)).as_py() == 0:
        return None
    return data


def _join_lines(parts: list[pa.Array]) -> tuple[str, pa.Buffer] | None:
    """The sides joined by commas into one CSV line per record, as one text buffer.

    None when a side holds a line break or an odd number of quotes (several rows,
    or a quoted field that goes on: the per-record path handles those).
    """
    pieces: list[Any] = []
    for data in parts:
        pieces += [data, ","]
    pieces[-1] = "\n"
    rows = pc.binary_join_element_wise(*pieces, "")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset :][: len(rows) + 1]
    text = rows.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    raw = np.frombuffer(text, dtype=np.uint8)
    if np.count_nonzero(raw == 10) != len(rows) or np.any(raw == 13):
        return None
    if np.any(raw == 34):
        quotes = pc.count_substring(rows, '"')
        if _any(pc.equal(pc.bit_wise_and(quotes, 1), 1)):
            return None
    return rows[0].as_py(), text


class _CaptureReader:
    """Reads one capture file; keeps the column names and types it has given out."""

    def __init__(
        self,
        uri: str,
        fmt: DatasetFormat,
        string_columns: frozenset[str],
        metadata_columns: bool,
    ) -> None:
        self.uri, self.fmt = uri, fmt
        self.string_columns = string_columns
        self.metadata_columns = metadata_columns
        self.width: int | None = None  # of rows with positional columns only
        self.names: list[str] = []
        self.types: dict[str, pa.DataType] = {}

    # -- errors ---------------------------------------------------------------

    def error(self, ordinal: int, reason: str, field: str | None = None) -> InputError:
        return InputError(reason, source=self.uri, line=_line_of(self.uri, ordinal), field=field)

    # -- CSV text -> typed batch ----------------------------------------------

    def parse(self, text: pa.Buffer, names: list[str], ordinals: Sequence[int]) -> pa.Table:
        forced = {n: pa.string() for n in names if n in self.string_columns}
        while True:
            types = {n: t for n, t in self.types.items() if n in names} | forced
            table = self._read(text, names, types, ordinals)
            odd = {f.name for f in table.schema if not is_allowed(f.type)}
            if any(pa.types.is_binary(table.schema.field(n).type) for n in odd):
                raise _NotUtf8
            if not odd:
                break
            forced |= {n: pa.string() for n in odd}  # dates, times: as text
        if table.num_rows != len(ordinals):
            raise AssertionError("capture rows and records out of step")
        for field in table.schema:
            if not pa.types.is_null(field.type):
                self.types.setdefault(field.name, field.type)
        return table

    def _read(
        self, text: pa.Buffer, names: list[str], types: dict, ordinals: Sequence[int]
    ) -> pa.Table:
        bad: list[pcsv.InvalidRow] = []

        def handler(row: pcsv.InvalidRow) -> str:
            bad.append(row)
            return "error"

        read = pcsv.ReadOptions(
            use_threads=False, column_names=names, block_size=max(text.size + 1, 1 << 16)
        )
        parse = pcsv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=handler
        )
        try:
            return pcsv.read_csv(pa.BufferReader(text), read, parse, convert_options(types))
        except pa.ArrowInvalid as err:
            message = str(err)
            if bad and bad[0].number is not None:
                row = bad[0]
                raise self.error(
                    ordinals[row.number - 1],
                    f"expected {row.expected_columns} fields, found {row.actual_columns}",
                ) from None
            if "UTF8" in message:
                raise _NotUtf8 from None
            match = CONVERSION_ERROR.search(message)
            if match and int(match[1]) < len(names):
                raise SchemaChange([names[int(match[1])]], source=self.uri) from None
            raise InputError(f"cannot read captured data: {message}", source=self.uri) from None

    def with_metadata(self, table: pa.Table, metadata: dict[str, pa.Array]) -> pa.RecordBatch:
        batch = table.combine_chunks().to_batches()
        arrays = batch[0].columns if batch else [c.combine_chunks() for c in table.columns]
        names = table.schema.names
        if self.metadata_columns:
            arrays = [*arrays, *(metadata[m] for m in METADATA_COLUMNS)]
            names = [*names, *METADATA_COLUMNS]
        return pa.RecordBatch.from_arrays(list(arrays), names=names)

    # -- fast path --------------------------------------------------------------

    def fast(self, batch: pa.RecordBatch, first: int) -> pa.RecordBatch | None:
        """The batch's rows, or None when a record needs the per-record path."""
        capture, meta = batch.column("captureData"), batch.column("eventMetadata")
        if capture.null_count:
            return None
        ordinals = np.arange(first, first + batch.num_rows)
        source = pc.struct_field(meta, "invocationSource")
        if source.null_count < len(source):
            shadow = pc.fill_null(pc.equal(source, SHADOW), False)
            if _any(shadow):
                keep = pc.invert(shadow)
                capture, meta = capture.filter(keep), meta.filter(keep)
                ordinals = ordinals[np.asarray(keep)]
        if not len(ordinals):
            return None
        order = ("endpointOutput", "endpointInput")
        if self.fmt.output_columns_position == "END":
            order = order[::-1]
        parts = []
        for name in order:
            part = pc.struct_field(capture, name)
            if part.null_count == len(part):
                continue
            data = _csv_data(part)
            if data is None:
                return None
            parts.append(data)
        if not parts:
            return None
        joined = _join_lines(parts)
        if joined is None:
            joined = _join_lines([pc.replace_substring_regex(p, r"[\r\n]+$", "") for p in parts])
            if joined is None:
                return None
        first_row, text = joined
        if self.width is None:
            self.width = len(csv_rows(first_row)[0])
        names = [f"_c{i}" for i in range(self.width)]
        table = self.parse(text, names, ordinals)
        metadata = {m: pc.struct_field(meta, m) for m in METADATA_COLUMNS}
        return self.with_metadata(table, metadata)

    # -- per-record path --------------------------------------------------------

    def slow(self, records: Sequence[tuple[int, Any]]) -> pa.RecordBatch | None:
        """The rows of ``records`` ((ordinal, record) pairs) built one record at a time."""
        rows: list[dict[str, str]] = []
        ordinals: list[int] = []
        metadata: dict[str, list[Any]] = {m: [] for m in METADATA_COLUMNS}
        for ordinal, record in records:
            event = record.get("eventMetadata") if isinstance(record, dict) else None
            event = event if isinstance(event, dict) else {}
            if event.get("invocationSource") == SHADOW:
                continue
            try:
                cells_of_rows = record_rows(record, self.fmt)
            except RecordError as err:
                raise self.error(ordinal, err.reason, err.field) from None
            for cells in cells_of_rows:
                rows.append(self._named(cells, ordinal))
                ordinals.append(ordinal)
                for m in METADATA_COLUMNS:
                    value = event.get(m)
                    metadata[m].append(None if value is None else str(value))
        if not rows:
            return None
        present: set[str] = set()
        for row in rows:
            present.update(row)
        self.names += [n for n in _first_seen(rows) if n not in self.names]
        names = [n for n in self.names if n in present]
        text = "".join(",".join(row.get(n, "") for n in names) + "\n" for row in rows)
        table = self.parse(pa.py_buffer(text.encode("utf-8")), names, ordinals)
        arrays = {m: pa.array(v, pa.string()) for m, v in metadata.items()}
        return self.with_metadata(table, arrays)

    def _named(self, cells: Cells, ordinal: int) -> dict[str, str]:
        if all(name is None for name, _ in cells):
            if self.width is None:
                self.width = len(cells)
            elif len(cells) != self.width:
                raise self.error(ordinal, f"expected {self.width} fields, found {len(cells)}")
        return {name or f"_c{i}": value for i, (name, value) in enumerate(cells)}

    # -- the file -------------------------------------------------------------

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        done = 0
        try:
            read = pj.ReadOptions(use_threads=False, block_size=BLOCK_SIZE)
            parse = pj.ParseOptions(
                explicit_schema=CAPTURE_SCHEMA, unexpected_field_behavior="ignore"
            )
            for batch in json_batches(self.uri, read, parse):
                out = self.fast(batch, done)
                if out is None:
                    out = self.slow(list(enumerate(batch.to_pylist(), done)))
                done += batch.num_rows
                if out is not None:
                    yield from slices(out, batch_rows)
        except pa.ArrowInvalid as err:
            if "Empty JSON file" in str(err):
                raise InputError("the file is empty", source=self.uri) from None
            done = yield from self._line_by_line(done, batch_rows)
        except _NotUtf8:
            done = yield from self._line_by_line(done, batch_rows)
        if done == 0:
            raise InputError("the file is empty", source=self.uri)

    def _line_by_line(self, skip: int, batch_rows: int) -> Generator[pa.RecordBatch, None, int]:
        chunk: list[tuple[int, Any]] = []
        ordinal = -1
        with open_input(self.uri) as handle:
            for lineno, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                ordinal += 1
                if ordinal < skip:
                    continue
                chunk.append((ordinal, parse_object(raw, self.uri, lineno)))
                if len(chunk) >= batch_rows:
                    out, chunk = self.slow(chunk), []
                    if out is not None:
                        yield from slices(out, batch_rows)
        if chunk and (out := self.slow(chunk)) is not None:
            yield from slices(out, batch_rows)
        return ordinal + 1


def read_capture(
    split: Split,
    fmt: DatasetFormat,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
    metadata_columns: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Record batches of one capture file (see the module docstring).

    ``metadata_columns`` adds ``eventId``, ``inferenceId`` and ``inferenceTime``
    string columns (repeated on every row a record gives).
    """
    reader = _CaptureReader(split.uri, fmt, string_columns, metadata_columns)
    yield from reader.batches(batch_rows)


GROUP_BYTES = BLOCK_SIZE  # small files are parsed together up to about this many bytes


class _Fallback(Exception):
    """A group of files needs reading file by file (an error to name, a slow record)."""


def read_capture_files(
    splits: Sequence[Split],
    fmt: DatasetFormat,
    read_one: Callable[[Split], Iterator[pa.RecordBatch]],
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
    metadata_columns: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Record batches of several capture files, in order, as :func:`read_capture` gives
    them file by file.

    Small files (a server publishes one a minute) are parsed together: their bytes
    joined and read by one JSON and one CSV parse, which costs what one file of that
    size costs rather than a parse per file. A group whose records need the
    per-record path, or hold an error, is read again file by file, so errors still
    name the file and line. ``read_one`` reads one file (:func:`read_capture` with
    the same options, its errors named).
    """
    group: list[Split] = []
    size = 0
    for split in splits:
        if split.size <= 0 or split.size > GROUP_BYTES or split.uri.endswith(".gz"):
            yield from _read_group(
                group, fmt, read_one, string_columns, batch_rows, metadata_columns
            )
            group, size = [], 0
            yield from read_one(split)
            continue
        if group and size + split.size > GROUP_BYTES:
            yield from _read_group(
                group, fmt, read_one, string_columns, batch_rows, metadata_columns
            )
            group, size = [], 0
        group.append(split)
        size += split.size
    yield from _read_group(group, fmt, read_one, string_columns, batch_rows, metadata_columns)


def _read_group(
    group: list[Split],
    fmt: DatasetFormat,
    read_one: Callable[[Split], Iterator[pa.RecordBatch]],
    string_columns: frozenset[str],
    batch_rows: int,
    metadata_columns: bool,
) -> Iterator[pa.RecordBatch]:
    if not group:
        return
    out: list[pa.RecordBatch] = []
    if len(group) > 1:
        try:
            out = _parse_together(group, fmt, string_columns, metadata_columns)
        except (_Fallback, _NotUtf8, pa.ArrowInvalid, InputError, SchemaChange, OSError):
            out = []
    if out:
        for batch in out:
            yield from slices(batch, batch_rows)
        return
    for split in group:
        yield from read_one(split)


def _parse_together(
    group: list[Split],
    fmt: DatasetFormat,
    string_columns: frozenset[str],
    metadata_columns: bool,
) -> list[pa.RecordBatch]:
    parts = []
    for split in group:
        with open_input(split.uri) as handle:
            data = handle.read()
        if not data.strip():
            raise _Fallback  # an empty file is an error of its own
        parts.append(data if data.endswith(b"\n") else data + b"\n")
    text = b"".join(parts)
    read = pj.ReadOptions(use_threads=False, block_size=len(text) + 1)
    parse = pj.ParseOptions(explicit_schema=CAPTURE_SCHEMA, unexpected_field_behavior="ignore")
    table = pj.read_json(pa.BufferReader(text), read, parse)
    reader = _CaptureReader(group[0].uri, fmt, string_columns, metadata_columns)
    out = []
    done = 0
    for batch in table.to_batches():
        rows = reader.fast(batch, done)
        if rows is None and batch.num_rows:
            raise _Fallback
        done += batch.num_rows
        if rows is not None:
            out.append(rows)
    return out
