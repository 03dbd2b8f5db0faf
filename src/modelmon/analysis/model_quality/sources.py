"""Reading model-quality inputs into Arrow columns with their file and line.

* :func:`read_ground_truth` — every ground-truth file under a directory, one
  label per inference id (the latest collected wins: files in path order, which
  is hour order, and lines in file order).
* :func:`read_capture` — captured records of an endpoint: the join id
  (``inferenceId``, else ``eventId``) and the values the attributes select in
  ``endpointOutput``; shadow-traffic records are skipped (as for data quality).
* :func:`read_dataset` — a plain CSV / JSON / Parquet dataset (a baseline
  dataset, or batch transform output with its ``SageMakerInferenceId``).

Files are parsed by Arrow's JSON/CSV readers; a file Arrow cannot take (a bad
line, unusual values) is read again line by line in Python, which names the
line at fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from modelmon.analysis.model_quality.attributes import Attribute, payload_value, scalar_text
from modelmon.analysis.model_quality.values import Locations
from modelmon.analysis.readers import DatasetFormat, Split, read_split
from modelmon.analysis.readers.capture import _PART, SHADOW
from modelmon.analysis.readers.jsonl import iter_json_records, parse_object
from modelmon.analysis.readers.payload import RecordError
from modelmon.analysis.readers.source import iter_lines, row_start_line
from modelmon.errors import InputError
from modelmon.formats.ground_truth import parse_line
from modelmon.storage.files import open_input

BATCH_ID = "SageMakerInferenceId"
_META = pa.struct(
    [(n, pa.string()) for n in ("eventId", "inferenceId", "inferenceTime", "invocationSource")]
)
CAPTURE_SCHEMA = pa.schema(
    [("captureData", pa.struct([("endpointOutput", _PART)])), ("eventMetadata", _META)]
)
GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("groundTruthData", pa.struct([("data", pa.string()), ("encoding", pa.string())])),
        ("eventMetadata", pa.struct([("eventId", pa.string())])),
    ]
)
_JSON_READ = pj.ReadOptions(use_threads=True, block_size=8 << 20)
CHUNK_BYTES = 32 << 20


def _lines_of(data: bytes, rows: int) -> np.ndarray:
    """1-based line numbers of the ``rows`` non-blank lines of ``data``."""
    newlines = data.count(b"\n")
    if rows in (newlines, newlines + 1) and b"\n\n" not in data and not data.startswith(b"\n"):
        return np.arange(1, rows + 1, dtype=np.int64)  # no blank line
    found = [i for i, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    return np.asarray(found[:rows], dtype=np.int64)


def _read_json_table(data: bytes, schema: pa.Schema) -> pa.Table | None:
    try:
        return pj.read_json(
            pa.py_buffer(data),
            read_options=_JSON_READ,
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _first(mask: Any) -> int:
    return int(np.argmax(np.asarray(mask)))


# -- ground truth -----------------------------------------------------------------------


@dataclass
class Labels:
    """One label per id: ``ids``, raw ``data`` and ``encoding`` with their Locations."""

    ids: pa.Array
    data: pa.Array
    encoding: pa.Array
    where: Locations
    records: int = 0
    duplicates: int = 0
    files: list[str] = field(default_factory=list)


def _ground_truth_file(uri: str, file_index: int) -> tuple[pa.Table, np.ndarray]:
    with open_input(uri) as handle:
        data = handle.read()
    if not data.strip():
        return pa.table({"id": pa.array([], pa.string())}), np.zeros(0, np.int64)
    table = _read_json_table(data, GROUND_TRUTH_SCHEMA)
    if table is not None:
        truth = table.column("groundTruthData").combine_chunks()
        meta = table.column("eventMetadata").combine_chunks()
        ids = pc.struct_field(meta, "eventId")
        values = pc.struct_field(truth, "data")
        encoding = pc.fill_null(pc.utf8_upper(pc.struct_field(truth, "encoding")), "CSV")
        ok = (
            truth.null_count == 0
            and values.null_count == 0
            and ids.null_count == 0
            and not pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py()
            and pc.all(pc.is_in(encoding, pa.array(["CSV", "JSON"]))).as_py()
        )
        if ok:
            lines = _lines_of(data, table.num_rows)
            return pa.table({"id": ids, "data": values, "encoding": encoding}), lines
    # the slow path names the first bad line (or reads what Arrow would not type)
    records, lines = [], []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        if raw.strip():
            records.append(parse_line(raw, uri, lineno))
            lines.append(lineno)
    return (
        pa.table(
            {
                "id": pa.array([r.event_id for r in records], pa.string()),
                "data": pa.array([r.data for r in records], pa.string()),
                "encoding": pa.array([r.encoding for r in records], pa.string()),
            }
        ),
        np.asarray(lines, dtype=np.int64),
    )


def read_ground_truth(files: Sequence[str]) -> Labels:
    """The labels of ``files`` (read in the order given), the latest per id kept."""
    tables, file_index, lines = [], [], []
    for i, uri in enumerate(files):
        table, numbers = _ground_truth_file(uri, i)
        if table.num_rows:
            tables.append(table.select(["id", "data", "encoding"]))
            file_index.append(np.full(table.num_rows, i, dtype=np.int32))
            lines.append(numbers)
    if not tables:
        empty = pa.array([], pa.string())
        where = Locations(list(files), np.zeros(0, np.int32), np.zeros(0, np.int64))
        return Labels(empty, empty, empty, where, 0, 0, list(files))
    table = pa.concat_tables(tables).combine_chunks()
    count = table.num_rows
    ordinal = pa.array(np.arange(count, dtype=np.int64))
    latest = (
        table.select(["id"])
        .append_column("ordinal", ordinal)
        .group_by("id", use_threads=False)
        .aggregate([("ordinal", "max")])
    )
    keep = np.sort(latest.column("ordinal_max").to_numpy())
    table = table.take(pa.array(keep))
    where = Locations(list(files), np.concatenate(file_index)[keep], np.concatenate(lines)[keep])
    return Labels(
        table.column("id").combine_chunks(),
        table.column("data").combine_chunks(),
        table.column("encoding").combine_chunks(),
        where,
        count,
        count - len(keep),
        list(files),
    )


def label_values(labels: Labels, attribute: Attribute | None, indices: np.ndarray) -> pa.Array:
    """The label text of ``labels`` rows ``indices``.

    CSV ``groundTruthData`` is the label itself ("we assume data only consists of
    label"), or the column ``attribute`` names by index; JSON data is read at the
    JSONPath (or key) ``attribute``. A column *name* (the baseline dataset's label
    column, which the job may pass on) does not apply to CSV labels: the whole data is used.
    """
    data = labels.data.take(pa.array(indices))
    encoding = labels.encoding.take(pa.array(indices))
    by_name = attribute is not None and attribute.index is None and not attribute.is_path
    csv_attribute = None if by_name else attribute
    if (
        (csv_attribute is None or (csv_attribute.index == 0 and not csv_attribute.is_path))
        and pc.all(pc.equal(encoding, "CSV")).as_py()
        and not pc.any(pc.match_substring_regex(data, '[,"\\n]')).as_py()
    ):
        return pc.utf8_trim_whitespace(data)
    out = []
    where = labels.where.take(indices)
    for i, (text, enc) in enumerate(zip(data.to_pylist(), encoding.to_pylist(), strict=True)):
        chosen = csv_attribute if enc == "CSV" else attribute
        try:
            out.append(payload_value({"data": text, "encoding": enc}, chosen, "groundTruthData"))
        except RecordError as err:
            raise where.error(i, err.reason, err.field) from None
    return pa.array(out, pa.string())


# -- captured inferences ------------------------------------------------------------------


@dataclass
class Inferences:
    """Rows of inferences: the join ``ids`` and raw values per role, with Locations."""

    ids: pa.Array | None
    values: dict[str, pa.Array]
    where: Locations
    read: int = 0  # records read before the window and shadow filters
    raw_kind: str = "capture"  # how audit records are rebuilt: capture, csv, json, parquet
    header_lines: int = 0  # lines before the first row (CSV rows -> lines for audit records)


def _window_mask(times: pa.Array, start: datetime | None, end: datetime | None) -> np.ndarray:
    """Records whose inferenceTime is in [start, end); no or unreadable time: kept."""
    parsed = pc.strptime(times, format="%Y-%m-%dT%H:%M:%SZ", unit="s", error_is_null=True)
    keep = np.ones(len(times), dtype=bool)
    moments = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
    valid = ~np.asarray(parsed.is_null())
    if start is not None:
        keep &= ~valid | (moments >= int(start.timestamp()))
    if end is not None:
        keep &= ~valid | (moments < int(end.timestamp()))
    return keep


def _csv_column(text: pa.Array, attribute: Attribute | None) -> pa.Array | None:
    """Column ``attribute`` of one-line CSV texts, or None when the slow path must decide."""
    if attribute is not None and (attribute.is_path or attribute.index is None):
        return None
    index = 0 if attribute is None else attribute.index
    assert index is not None
    if pc.any(pc.match_substring(text, '"')).as_py():
        return None
    if index == 0 and not pc.any(pc.match_substring(text, ",")).as_py():
        return pc.utf8_trim_whitespace(text)
    parts = pc.split_pattern(text, ",")
    if pc.any(pc.less_equal(pc.list_value_length(parts), index)).as_py():
        return None
    return pc.utf8_trim_whitespace(pc.list_element(parts, index))


def _capture_values(
    output: pa.Array, attributes: Mapping[str, Attribute | None], where: Locations
) -> dict[str, pa.Array]:
    values: dict[str, pa.Array] = {}
    fast = output.null_count == 0
    if fast:
        data = pc.struct_field(output, "data")
        encoding = pc.struct_field(output, "encoding")
        fast = (
            data.null_count == 0
            and encoding.null_count == 0
            and pc.all(pc.equal(encoding, "CSV")).as_py()
        )
    if fast:
        text = pc.utf8_rtrim(data, characters="\r\n")
        fast = not pc.any(pc.match_substring(text, "\n")).as_py()
    for role, attribute in attributes.items():
        column = _csv_column(text, attribute) if fast else None
        if column is None:
            parts = output.to_pylist()
            found = []
            for i, part in enumerate(parts):
                try:
                    found.append(payload_value(part, attribute, "endpointOutput"))
                except RecordError as err:
                    raise where.error(i, err.reason, err.field or role) from None
            column = pa.array(found, pa.string())
        values[role] = column
    return values


def _capture_slow(uri: str, data: bytes) -> tuple[pa.Table, np.ndarray]:
    """The capture table of a file Arrow would not read, line by line (names bad lines)."""
    rows, lines = [], []
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        record = parse_object(raw, uri, lineno)
        capture = record.get("captureData")
        meta = record.get("eventMetadata")
        if not isinstance(capture, dict) or not isinstance(meta, dict):
            raise InputError(
                "a captured record needs captureData and eventMetadata objects",
                source=uri,
                line=lineno,
            )
        output = capture.get("endpointOutput")
        part = None
        if isinstance(output, dict):
            part = {k: _text_or_none(output.get(k)) for k in _PART.names}
            if isinstance(output.get("data"), dict | list):
                part["data"] = json.dumps(output["data"])
        rows.append(
            {
                "captureData": {"endpointOutput": part},
                "eventMetadata": {k: _text_or_none(meta.get(k)) for k in _META.names},
            }
        )
        lines.append(lineno)
    return pa.Table.from_pylist(rows, schema=CAPTURE_SCHEMA), np.asarray(lines, np.int64)


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _nonblank_lines(data: bytes) -> np.ndarray:
    """1-based numbers of the lines of ``data`` that hold something."""
    if b"\n\n" not in data and not data.startswith(b"\n") and b"\n " not in data:
        return np.arange(1, data.count(b"\n") + 1 + (not data.endswith(b"\n")), dtype=np.int64)
    return np.asarray(
        [i for i, line in enumerate(data.split(b"\n"), 1) if line.strip()], dtype=np.int64
    )


def _capture_chunks(
    files: Sequence[str],
) -> Iterator[list[tuple[int, bytes, np.ndarray]]]:
    """Consecutive non-empty capture files, about :data:`CHUNK_BYTES` at a time:
    (file index, bytes ending in a line break, numbers of the record lines)."""
    chunk: list[tuple[int, bytes, np.ndarray]] = []
    size = 0
    for file_index, uri in enumerate(files):
        with open_input(uri) as handle:
            data = handle.read()
        if not data.strip():
            continue
        if not data.endswith(b"\n"):
            data += b"\n"
        chunk.append((file_index, data, _nonblank_lines(data)))
        size += len(data)
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _chunk_table(
    files: Sequence[str], chunk: list[tuple[int, bytes, np.ndarray]]
) -> list[tuple[pa.Table, np.ndarray, np.ndarray]]:
    """(table, file index per row, line per row) of a chunk: one Arrow parse of all its
    files, or, when that fails or miscounts, each file alone (line by line if need be)."""
    expected = sum(len(lines) for _, _, lines in chunk)
    table = _read_json_table(b"".join(data for _, data, _ in chunk), CAPTURE_SCHEMA)
    if table is not None and table.num_rows == expected:
        file_index = np.concatenate([np.full(len(lines), i, np.int32) for i, _, lines in chunk])
        return [(table, file_index, np.concatenate([lines for _, _, lines in chunk]))]
    if len(chunk) > 1:
        return [part for one in chunk for part in _chunk_table(files, [one])]
    ((i, data, lines),) = chunk
    if table is None:
        table, lines = _capture_slow(files[i], data)
    else:
        lines = _lines_of(data, table.num_rows)
    return [(table, np.full(table.num_rows, i, np.int32), lines)]


def read_capture(
    files: Sequence[str],
    attributes: Mapping[str, Attribute | None],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    partial: frozenset[str] = frozenset(),
) -> Inferences:
    """Captured inferences of ``files``; records of the ``partial`` files kept by the window.

    Files are parsed by Arrow several at a time (about :data:`CHUNK_BYTES`).
    """
    ids_parts, value_parts, file_parts, line_parts = [], [], [], []
    read = 0
    partial_index = np.array([i for i, uri in enumerate(files) if uri in partial], np.int32)
    for chunk in _capture_chunks(files):
        for table, file_index, lines in _chunk_table(files, chunk):
            read += table.num_rows
            capture = table.column("captureData").combine_chunks()
            meta = table.column("eventMetadata").combine_chunks()
            keep = np.ones(table.num_rows, dtype=bool)
            source = pc.struct_field(meta, "invocationSource")
            if source.null_count < len(source):
                keep &= ~np.asarray(pc.fill_null(pc.equal(source, SHADOW), False))
            windowed = np.isin(file_index, partial_index)
            if windowed.any():
                inside = _window_mask(pc.struct_field(meta, "inferenceTime"), start, end)
                keep &= inside | ~windowed
            if not keep.all():
                selection = pa.array(keep)
                capture, meta = capture.filter(selection), meta.filter(selection)
                file_index, lines = file_index[keep], lines[keep]
            if not len(lines):
                continue
            where = Locations(files, file_index, lines)
            ids = pc.coalesce(
                pc.struct_field(meta, "inferenceId"), pc.struct_field(meta, "eventId")
            )
            if ids.null_count:
                raise where.error(
                    _first(ids.is_null()),
                    "the record has neither eventMetadata.inferenceId nor eventMetadata.eventId",
                    "eventMetadata",
                )
            output = pc.struct_field(capture, "endpointOutput")
            if output.null_count:
                raise where.error(
                    _first(output.is_null()),
                    "the record has no captureData.endpointOutput (capture mode Output is "
                    "needed for model quality)",
                    "captureData.endpointOutput",
                )
            value_parts.append(_capture_values(output, attributes, where))
            ids_parts.append(ids)
            file_parts.append(file_index)
            line_parts.append(lines)
    where = Locations(
        files,
        np.concatenate(file_parts) if file_parts else np.zeros(0, np.int32),
        np.concatenate(line_parts) if line_parts else np.zeros(0, np.int64),
    )
    values = {
        role: pa.concat_arrays([part[role] for part in value_parts])
        if value_parts
        else pa.array([], pa.string())
        for role in attributes
    }
    ids = pa.concat_arrays(ids_parts) if ids_parts else pa.array([], pa.string())
    return Inferences(ids, values, where, read, "capture")


# -- plain datasets -----------------------------------------------------------------------


def _csv_line_of(
    files: Sequence[str], header: bool, delimiter: str
) -> Callable[[int, int], int | None]:
    def line_of(file_index: int, row: int) -> int | None:
        uri = files[file_index]
        return row_start_line(iter_lines(uri), row + (1 if header else 0), delimiter)

    return line_of


def _table_of(uri: str, fmt: DatasetFormat) -> pa.Table:
    batches = list(read_split(Split(uri), fmt))
    if not batches:
        return pa.table({})
    return pa.Table.from_batches(batches)


def _json_rows(
    uri: str, attributes: Mapping[str, Attribute | None], id_attribute: Attribute | None
) -> tuple[dict[str, list[str | None]], list[int]]:
    out: dict[str, list[str | None]] = {role: [] for role in attributes}
    out["id"] = []
    lines: list[int] = []
    wanted = {**attributes, "id": id_attribute}
    for number, (lineno, record) in enumerate(iter_json_records(uri), 1):
        for role, attribute in wanted.items():
            if attribute is None:
                out[role].append(None)
                continue
            try:
                out[role].append(scalar_text(attribute.value(record), str(attribute)))
            except RecordError as err:
                raise InputError(
                    err.reason, source=uri, line=lineno, field=err.field or role
                ) from None
        lines.append(lineno if lineno is not None else number)
    return out, lines


def read_dataset(
    files: Sequence[str],
    fmt: DatasetFormat,
    attributes: Mapping[str, Attribute | None],
    *,
    with_ids: bool = False,
) -> Inferences:
    """The columns ``attributes`` name in a CSV / JSON / Parquet dataset.

    ``with_ids``: also the batch transform's inference id, the
    ``SageMakerInferenceId`` column or field (CSV without it: the next-to-last
    column, which GenerateInferenceId appends before the start time).
    """
    values: dict[str, list[pa.Array]] = {role: [] for role in attributes}
    ids: list[pa.Array] = []
    file_parts, line_parts = [], []
    id_path = Attribute(f"$.{BATCH_ID}", "inference id") if with_ids else None
    for file_index, uri in enumerate(files):
        if fmt.kind == "json":
            rows, lines = _json_rows(uri, attributes, id_path)
            for role in attributes:
                values[role].append(pa.array(rows[role], pa.string()))
            ids.append(pa.array(rows["id"], pa.string()))
            numbers = np.asarray(lines, np.int64)
        else:
            table = _table_of(uri, fmt)
            if table.num_rows == 0:
                continue
            for role, attribute in attributes.items():
                if attribute is None:
                    values[role].append(pa.nulls(table.num_rows, pa.string()))
                else:
                    values[role].append(attribute.column(table, uri))
            if with_ids:
                if BATCH_ID in table.column_names:
                    column = table.column(BATCH_ID)
                elif table.num_columns >= 3:
                    column = table.column(table.num_columns - 2)
                else:
                    raise InputError(
                        "batch transform output has no inference id column (enable "
                        "DataCaptureConfig.GenerateInferenceId on the transform job)",
                        source=uri,
                    )
                ids.append(pc.cast(column.combine_chunks(), pa.string()))
            numbers = np.arange(1, table.num_rows + 1, dtype=np.int64)
        file_parts.append(np.full(len(numbers), file_index, np.int32))
        line_parts.append(numbers)
    row_based = fmt.kind != "json"
    where = Locations(
        list(files),
        np.concatenate(file_parts) if file_parts else np.zeros(0, np.int32),
        np.concatenate(line_parts) if line_parts else np.zeros(0, np.int64),
        _csv_line_of(files, fmt.header, fmt.delimiter) if fmt.kind == "csv" else None,
        row_based,
    )
    merged = {
        role: _concat(parts) if parts else pa.array([], pa.string())
        for role, parts in values.items()
    }
    return Inferences(
        _concat(ids) if with_ids and ids else None,
        merged,
        where,
        len(where.line),
        fmt.kind,
        1 if fmt.kind == "csv" and fmt.header else 0,
    )


def _concat(parts: list[pa.Array]) -> pa.Array:
    types = {p.type for p in parts if not pa.types.is_null(p.type)}
    if len(types) > 1:
        parts = [pc.cast(p, pa.string()) for p in parts]
    elif types:
        (only,) = types
        parts = [p.cast(only) if pa.types.is_null(p.type) else p for p in parts]
    return pa.concat_arrays(parts)


def read_raw_lines(uri: str) -> list[bytes]:
    """The lines of a file without their breaks (line n is item n - 1), for audit records."""
    with open_input(uri) as handle:
        return handle.read().split(b"\n")
