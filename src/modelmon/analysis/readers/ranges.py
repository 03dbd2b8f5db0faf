"""Cutting a large local CSV file into byte ranges that start on a record.

A cut goes just after a newline that is outside quotes: the number of quote
characters before it is even (a doubled ``""`` inside a quoted field counts
twice, so it keeps the parity). Files without any quote character are cut at the
first newline after each nominal position.
"""

from __future__ import annotations

import io
import mmap
from itertools import pairwise

import pyarrow as pa
import pyarrow.csv as pcsv

from modelmon.analysis.readers.csv import check_header, parse_options, positional_names
from modelmon.analysis.readers.format import DatasetFormat
from modelmon.analysis.readers.split import Split
from modelmon.errors import InputError
from modelmon.storage.files import GZIP_MAGIC, local_path

_SCAN = 16 << 20


def _quotes(view: mmap.mmap, start: int, end: int) -> int:
    count = 0
    for at in range(start, end, _SCAN):
        count += view[at : min(end, at + _SCAN)].count(b'"')
    return count


class _Cutter:
    """Finds record boundaries in a mapped file, keeping a running quote count."""

    def __init__(self, view: mmap.mmap) -> None:
        self.view = view
        self.quoted = view.find(b'"') >= 0
        self.position = 0  # quotes are counted up to here
        self.count = 0

    def boundary(self, at: int) -> int:
        """The first record start at or after ``at`` > 0 (the file size if there is none)."""
        newline = self.view.find(b"\n", at - 1)
        while newline >= 0:
            if not self.quoted:
                return newline + 1
            self.count += _quotes(self.view, self.position, newline)
            self.position = newline
            if self.count % 2 == 0:
                return newline + 1
            newline = self.view.find(b"\n", newline + 1)
        return len(self.view)


def _first_record(view: mmap.mmap) -> int:
    """Offset of the first non-blank line."""
    at = 0
    while at < len(view) and view[at : at + 1] in (b"\n", b"\r"):
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
        try:
            view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return None
        with view:
            size = len(view)
            if size <= chunk or view[:2] == GZIP_MAGIC:
                return None
            cutter = _Cutter(view)
            first = _first_record(view)
            cutter.position = first
            first_end = cutter.boundary(first + 1)
            names = _names(uri, fmt, view[first:first_end])
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
    return [Split(uri, start=a, end=b, column_names=columns, size=b - a) for a, b in pairwise(cuts)]
