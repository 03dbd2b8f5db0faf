"""CSV: a streaming Arrow reader per split, with errors that name the line.

Values convert as SageMaker's analyzer sees them: an unquoted empty field is
missing, a quoted ``""`` is an empty string, numbers become int64 or float64 and
everything else (booleans, dates included) text. Arrow infers each column's type
from the first block; when a later block does not convert, :class:`SchemaChange`
asks the caller to restart with that column read as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.csv as pcsv

from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.normalize import is_allowed, slices
from modelmon.analysis.readers.signals import SchemaChange, SplitUnsafe
from modelmon.analysis.readers.source import (
    count_newlines,
    first_non_utf8_line,
    iter_lines,
    open_arrow,
    open_range,
    row_start_line,
)
from modelmon.analysis.readers.split import Split
from modelmon.errors import InputError

BLOCK_SIZE = 1 << 20  # larger blocks parse no faster and Arrow reads several ahead
CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+)")
_POSITIONAL = re.compile(r"_c(\d+)")


def convert_options(types: dict[str, pa.DataType] | None = None) -> pcsv.ConvertOptions:
    """Arrow conversion as the readers' contract wants it (see the module docstring)."""
    return pcsv.ConvertOptions(
        column_types=types or {},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=[],
        false_values=[],
        timestamp_parsers=[],
    )


def parse_options(
    fmt: DatasetFormat, handler: object = None, *, quoted: bool = True
) -> pcsv.ParseOptions:
    """Arrow parsing: the format's delimiter, quoted newlines allowed.

    ``quoted=False`` (the file holds no quote character at all) turns quote
    handling off, which parses about 15% faster.
    """
    if not quoted:
        return pcsv.ParseOptions(
            delimiter=fmt.delimiter, quote_char=False, invalid_row_handler=handler
        )
    return pcsv.ParseOptions(
        delimiter=fmt.delimiter, newlines_in_values=True, invalid_row_handler=handler
    )


def positional_names(width: int) -> list[str]:
    """Spark's names for the columns of a CSV file without a header: ``_c0``, ``_c1``, …"""
    return [f"_c{i}" for i in range(width)]


def check_header(names: Sequence[str], uri: str) -> list[str]:
    """The header's names, or InputError for an empty or repeated one."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if not name.strip():
            raise InputError(f"column {position} of the header has no name", source=uri, line=1)
        if name in seen:
            raise InputError(
                f"column {position} of the header repeats the name {name!r} of column {seen[name]}",
                source=uri,
                line=1,
            )
        seen[name] = position
    return list(names)


class _Bad:
    """Records the first row with the wrong number of fields."""

    def __init__(self) -> None:
        self.row: pcsv.InvalidRow | None = None

    def __call__(self, row: pcsv.InvalidRow) -> str:
        if self.row is None:
            self.row = row
        return "error"


class _CsvSplit:
    """Reads one split; knows how to name what went wrong in it."""

    def __init__(self, split: Split, fmt: DatasetFormat) -> None:
        self.split, self.fmt, self.uri = split, fmt, split.uri
        self.autogenerate = not split.is_range and not fmt.header
        self.bad = _Bad()

    def _arrow_name(self, name: str) -> str | None:
        if not self.autogenerate:
            return name
        match = _POSITIONAL.fullmatch(name)
        return f"f{match[1]}" if match else None

    def open(self, text: set[str], inferred: pa.Schema | None = None) -> pcsv.CSVStreamingReader:
        """A streaming reader; ``text`` columns read as strings and, with
        ``inferred`` (a first read's schema), every other column fixed to the
        type Arrow inferred for it then."""
        types: dict[str, pa.DataType] = {}
        if inferred is not None:
            types = {f.name: f.type for f in inferred if not pa.types.is_null(f.type)}
        types.update({key: pa.string() for name in text if (key := self._arrow_name(name))})
        self.bad = _Bad()
        split = self.split
        if split.is_range:
            assert split.start is not None and split.end is not None
            stream = open_range(self.uri, split.start, split.end)
            names = list(split.column_names or ())
        else:
            stream = open_arrow(self.uri)
            names = None
        read = pcsv.ReadOptions(
            use_threads=False,  # one core per split; and Arrow numbers bad rows only so
            block_size=BLOCK_SIZE,
            column_names=names,
            autogenerate_column_names=self.autogenerate,
        )
        try:
            return pcsv.open_csv(
                stream,
                read,
                parse_options(self.fmt, self.bad, quoted=split.quoted),
                convert_options(types),
            )
        except pa.ArrowInvalid as err:
            raise self.failure(err, names or []) from None

    def names(self, schema: pa.Schema) -> list[str]:
        if self.split.is_range:
            return list(self.split.column_names or ())
        if self.autogenerate:
            return positional_names(len(schema))
        try:
            names = schema.names
        except UnicodeDecodeError:
            raise InputError("the header is not UTF-8 text", source=self.uri, line=1) from None
        return check_header(names, self.uri)

    def failure(self, err: pa.ArrowInvalid, names: Sequence[str]) -> Exception:
        message = str(err)
        if self.bad.row is not None:
            return self.ragged(self.bad.row)
        if "Empty CSV file" in message:
            return InputError("the file is empty", source=self.uri)
        if "UTF8" in message or "UTF-8" in message:
            return self.not_utf8()
        match = CONVERSION_ERROR.search(message)
        if match and int(match[1]) < len(names):
            return SchemaChange([names[int(match[1])]], source=self.uri)
        return InputError(f"cannot read the CSV file: {message}", source=self.uri)

    def _lines(self) -> Iterator[bytes]:
        return iter_lines(self.uri, self.split.start or 0, self.split.end)

    def _first_line(self) -> int:
        start = self.split.start or 0
        return 1 + count_newlines(self.uri, start) if start else 1

    def not_utf8(self) -> InputError:
        line = first_non_utf8_line(self._lines())
        return InputError(
            "not UTF-8 text",
            source=self.uri,
            line=None if line is None else self._first_line() + line - 1,
        )

    def ragged(self, row: pcsv.InvalidRow) -> Exception:
        line = None
        if row.number is not None:
            found = row_start_line(self._lines(), row.number, self.fmt.delimiter)
            line = None if found is None else self._first_line() + found - 1
        error = InputError(
            f"expected {row.expected_columns} fields, found {row.actual_columns}",
            source=self.uri,
            line=line,
        )
        if not self.split.is_range:
            return error
        # A range is cut by counting quotes; make sure the error is the file's own.
        first = self._first_ragged_line_of_file()
        if first is not None and (line is None or first <= line):
            if first == line:
                return error
            return InputError(error.reason, source=self.uri, line=first)
        return SplitUnsafe(self.uri)

    def _first_ragged_line_of_file(self) -> int | None:
        names = list(self.split.column_names or ())
        bad = _Bad()
        read = pcsv.ReadOptions(
            use_threads=False,
            block_size=BLOCK_SIZE,
            column_names=names,
            skip_rows=1 if self.fmt.header else 0,
        )
        convert = pcsv.ConvertOptions(column_types={n: pa.binary() for n in names})
        try:
            for _ in pcsv.open_csv(
                open_arrow(self.uri), read, parse_options(self.fmt, bad), convert
            ):
                pass
        except pa.ArrowInvalid:
            if bad.row is not None and bad.row.number is not None:
                return row_start_line(iter_lines(self.uri), bad.row.number, self.fmt.delimiter)
        return None


def _open_quote_at_end(batch: pa.RecordBatch) -> bool:
    """Whether the last field of a range swallowed its final newline.

    A range cut inside a quoted field ends in that field's unterminated quote,
    which Arrow closes at the end of the range: the value then ends with a newline.
    """
    value = batch.column(batch.num_columns - 1)[batch.num_rows - 1].as_py()
    return isinstance(value, str) and value.endswith("\n")


def read_csv(
    split: Split,
    fmt: DatasetFormat,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
) -> Iterator[pa.RecordBatch]:
    """Record batches of one CSV split (see the module docstring)."""
    reader_of = _CsvSplit(split, fmt)
    text = set(string_columns)
    reader = reader_of.open(text)
    names = reader_of.names(reader.schema)
    types = [field.type for field in reader.schema]
    if any(pa.types.is_binary(t) for t in types):
        raise reader_of.not_utf8()
    # dates, times, timestamps: read them as text
    text |= {name for name, t in zip(names, types, strict=True) if not is_allowed(t)}
    # Arrow converts a column of a given type about a third faster than one whose
    # type it is inferring (which it fixes after the first block anyway): read
    # again with the types just inferred. The first block is parsed twice.
    reader = reader_of.open(text, reader.schema)
    rows, last = 0, None
    try:
        for batch in reader:
            rows += batch.num_rows
            last = batch if batch.num_rows else last
            yield from slices(pa.RecordBatch.from_arrays(batch.columns, names=names), batch_rows)
    except pa.ArrowInvalid as err:
        raise reader_of.failure(err, names) from None
    if split.is_range and last is not None and _open_quote_at_end(last):
        raise SplitUnsafe(split.uri)
    if rows == 0 and not split.is_range:
        if fmt.header:
            raise InputError("the file has a header but no data rows", source=split.uri)
        raise InputError("the file is empty", source=split.uri)
