"""Opening inputs as Arrow streams, and the error path's line counting.

Readers never count lines while all goes well; when something is wrong they
re-scan the input here to name the offending line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.json as pj

from modelmon.errors import InputError
from modelmon.storage.files import is_gzip, is_local, local_path, open_input, open_raw

_CHUNK = 16 << 20


def open_arrow(uri: str) -> pa.NativeFile:
    """``uri`` as a readable Arrow stream, gunzipped when it is gzip-compressed."""
    if is_local(uri):
        path = local_path(uri)
        if not os.path.isfile(path):
            raise InputError("no such file or directory", source=uri)
        raw: pa.NativeFile = pa.OSFile(path)
    else:
        raw = pa.PythonFile(open_raw(uri), mode="r")
    try:
        head = raw.read(2)
        raw.seek(0)
        if is_gzip(uri, head):
            return pa.CompressedInputStream(raw, "gzip")
    except BaseException:
        raw.close()
        raise
    return raw


def json_batches(
    uri: str, read_options: pj.ReadOptions, parse_options: pj.ParseOptions
) -> Iterator[pa.RecordBatch]:
    """Arrow's streaming JSON Lines reader over ``uri``.

    With a pyarrow older than ``pyarrow.json.open_json``, whole lines are read in
    blocks and each block parsed on its own.
    """
    if hasattr(pj, "open_json"):
        yield from pj.open_json(
            open_arrow(uri), read_options=read_options, parse_options=parse_options
        )
        return
    with open_input(uri) as handle:
        while block := handle.read(read_options.block_size):
            block += handle.readline()
            if block.strip():
                table = pj.read_json(pa.BufferReader(block), read_options, parse_options)
                yield from table.to_batches()


def open_range(uri: str, start: int, end: int) -> pa.NativeFile:
    """Bytes ``[start, end)`` of a local, uncompressed file as an Arrow stream."""
    return pa.OSFile(local_path(uri)).get_stream(start, end - start)


def iter_lines(uri: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Lines of ``uri`` (decompressed), or of bytes ``[start, end)`` of a local file."""
    handle: BinaryIO
    if start or end is not None:
        handle = open(local_path(uri), "rb")  # noqa: SIM115 - closed below
        handle.seek(start)
    else:
        handle = open_input(uri)
    with handle:
        position = start
        for line in handle:
            if end is not None and position >= end:
                return
            position += len(line)
            yield line


def count_newlines(uri: str, end: int) -> int:
    """Newlines in bytes ``[0, end)`` of a local file."""
    count = 0
    with open(local_path(uri), "rb") as handle:
        while end > 0:
            chunk = handle.read(min(_CHUNK, end))
            if not chunk:
                break
            count += chunk.count(b"\n")
            end -= len(chunk)
    return count


def quoted_at_end(line: bytes, in_quotes: bool, delimiter: bytes = b",") -> bool:
    """Whether a CSV line ends inside a quoted field, given whether it starts in one.

    As Arrow parses: a quote opens a quoted field only at the start of a field;
    ``""`` inside one is a quote; elsewhere a quote is an ordinary character.
    """
    if not in_quotes and b'"' not in line:
        return False
    at, end = 0, len(line)
    while at < end:
        if in_quotes:
            close = line.find(b'"', at)
            if close < 0:
                return True
            if line[close + 1 : close + 2] == b'"':
                at = close + 2
                continue
            in_quotes, at = False, close + 1
        elif line[at : at + 1] == b'"':
            in_quotes, at = True, at + 1
            continue
        following = line.find(delimiter, at)  # the rest of this field is plain text
        if following < 0:
            return False
        at = following + 1
    return in_quotes


def row_start_line(lines: Iterable[bytes], number: int, delimiter: str = ",") -> int | None:
    """The 1-based line on which the ``number``-th CSV row (1-based) starts.

    Counts rows as Arrow does: blank lines are skipped and a quoted field may
    span lines.
    """
    row, in_quotes, sep = 0, False, delimiter.encode()
    for lineno, line in enumerate(lines, 1):
        if not in_quotes and line.strip(b"\r\n"):
            row += 1
            if row == number:
                return lineno
        in_quotes = quoted_at_end(line, in_quotes, sep)
    return None


def first_non_utf8_line(lines: Iterable[bytes]) -> int | None:
    """The 1-based number of the first line that is not UTF-8 text, if any."""
    for lineno, line in enumerate(lines, 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return lineno
    return None
