"""Cutting a large local CSV file into byte ranges that start on a record.

A cut goes just after a newline that is outside quotes: the number of quote
characters before it is even (a doubled ``""`` inside a quoted field counts
twice, so it keeps the parity). Files without any quote character are cut at the
first newline after each nominal position.
"""

from __future__ import annotations

import io
import os
from itertools import pairwise

import pyarrow as pa
import pyarrow.csv as pcsv

from modelmon.analysis.readers.csv import check_header, parse_options, positional_names
from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.split import Split
from modelmon.errors import InputError
from modelmon.storage.files import GZIP_MAGIC, local_path

_SCAN = 4 << 20


class _File:
    """Positional reads of a local file in bounded chunks.

    (Not mmap: scanning a mapped file leaves every page resident and counted in
    the process's memory, which for a multi-GB file defeats streaming.)
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size
        # One reused buffer: a fresh 4 MiB bytes object per read costs more in page
        # faults than the search itself.
        self._buffer = bytearray(_SCAN)

    def read(self, start: int, end: int) -> bytes:
        return os.pread(self.fd, max(0, end - start), start)

    def find(self, needle: bytes, start: int) -> int:
        """Offset of the first ``needle`` (one byte) at or after ``start``, or -1."""
        at = max(start, 0)
        while at < self.size:
            length = os.preadv(self.fd, [self._buffer], at)
            if length == 0:
                break
            found = self._buffer.find(needle, 0, length)
            if found >= 0:
                return at + found
            at += length
        return -1

    def count(self, needle: bytes, start: int, end: int) -> int:
        total = 0
        view = memoryview(self._buffer)
        for at in range(start, end, _SCAN):
            length = os.preadv(self.fd, [view[: min(_SCAN, end - at)]], at)
            total += self._buffer.count(needle, 0, length)
        return total


class _Cutter:
    """Finds record boundaries in a file, keeping a running quote count."""

    def __init__(self, file: _File) -> None:
        self.file = file
        self.quoted = file.find(b'"', 0) >= 0
        self.position = 0  # quotes are counted up to here
        self.count = 0

    def boundary(self, at: int) -> int:
        """The first record start at or after ``at`` > 0 (the file size if there is none)."""
        newline = self.file.find(b"\n", at - 1)
        while newline >= 0:
            if not self.quoted:
                return newline + 1
            self.count += self.file.count(b'"', self.position, newline)
            self.position = newline
            if self.count % 2 == 0:
                return newline + 1
            newline = self.file.find(b"\n", newline + 1)
        return self.file.size


def _first_record(file: _File) -> int:
    """Offset of the first non-blank line."""
    at = 0
    while at < file.size and file.read(at, at + 1) in (b"\n", b"\r"):
        at += 1
    return at


def _names(uri: str, fmt: DatasetFormat, first_row: bytes) -> list[str]:
    read = pcsv.ReadOptions(use_threads=False, autogenerate_column_names=not fmt.header)
    try:
        table = pcsv.read_csv(io.BytesIO(first_row), read, parse_options(fmt))
        names = table.schema.names
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the first line: {err}", source=uri, line=1) from None
    return check_header(names, uri) if fmt.header else positional_names(len(names))


def csv_ranges(uri: str, fmt: DatasetFormat, chunk: int) -> list[Split] | None:
    """Byte-range splits of a local uncompressed CSV file, about ``chunk`` bytes each.

    None when the file is compressed, smaller than ``chunk`` or has one record.
    """
    with open(local_path(uri), "rb") as handle:
        file = _File(handle.fileno())
        size = file.size
        if size == 0 or size <= chunk or file.read(0, 2) == GZIP_MAGIC:
            return None
        cutter = _Cutter(file)
        first = _first_record(file)
        cutter.position = first
        first_end = cutter.boundary(first + 1)
        names = _names(uri, fmt, file.read(first, first_end))
        start = first_end if fmt.header else first
        if start >= size:
            raise InputError("the file has a header but no data rows", source=uri)
        cuts = [start]
        while cuts[-1] + chunk < size:
            cut = cutter.boundary(cuts[-1] + chunk)
            if cut >= size:
                break
            cuts.append(cut)
        cuts.append(size)
    if len(cuts) < 3:
        return None
    columns = tuple(names)
    return [
        Split(uri, start=a, end=b, column_names=columns, size=b - a, quoted=cutter.quoted)
        for a, b in pairwise(cuts)
    ]
