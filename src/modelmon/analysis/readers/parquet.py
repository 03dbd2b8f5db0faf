"""Parquet: row groups as the unit of splitting; types converted to the readers' contract."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from modelmon.analysis.readers.normalize import normalize, slices
from modelmon.analysis.readers.split import Split
from modelmon.errors import InputError
from modelmon.storage.files import is_gzip, is_local, local_path, open_raw

if TYPE_CHECKING:
    import pyarrow.parquet as pq


def open_parquet(uri: str) -> pq.ParquetFile:
    """A Parquet file by URI (a gzip-compressed one is decompressed into memory)."""
    # Imported here: pyarrow.parquet pulls in pyarrow.fs and ssl (~15 ms), which
    # every CLI run would otherwise pay for whatever its input format.
    import pyarrow.parquet as pq

    handle = open_raw(uri)
    source: object = handle  # remote: Arrow reads the ranges it needs
    try:
        head = handle.read(2)
        handle.seek(0)
        if not head:
            raise InputError("the file is empty", source=uri)
        if is_gzip(uri, head):
            with gzip.GzipFile(fileobj=handle) as unzipped:
                source = pa.BufferReader(unzipped.read())
            handle.close()
        elif is_local(uri):
            handle.close()
            source = local_path(uri)
        return pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as err:
        handle.close()
        raise InputError(f"not a Parquet file: {err}", source=uri) from None
    except BaseException:
        handle.close()
        raise


def parquet_splits(uri: str, size: int, chunk: int) -> list[Split]:
    """The file as one split, or as groups of consecutive row groups of about ``chunk`` bytes."""
    if size <= chunk:
        return [Split(uri, size=size)]
    meta = open_parquet(uri).metadata
    groups: list[list[int]] = [[]]
    weights = [0]
    for index in range(meta.num_row_groups):
        weight = meta.row_group(index).total_byte_size
        if groups[-1] and weights[-1] + weight > chunk:
            groups.append([])
            weights.append(0)
        groups[-1].append(index)
        weights[-1] += weight
    if len(groups) == 1:
        return [Split(uri, size=size)]
    total = sum(weights) or 1
    return [
        Split(uri, row_groups=tuple(g), size=size * w // total)
        for g, w in zip(groups, weights, strict=True)
    ]


def read_parquet(
    split: Split,
    *,
    string_columns: frozenset[str] = frozenset(),
    batch_rows: int = 65536,
) -> Iterator[pa.RecordBatch]:
    """Record batches of a Parquet file or of some of its row groups."""
    file = open_parquet(split.uri)
    if split.row_groups is None and file.metadata.num_rows == 0:
        raise InputError("the file has no rows", source=split.uri)
    groups = list(split.row_groups) if split.row_groups is not None else None
    try:
        for batch in file.iter_batches(batch_size=batch_rows, row_groups=groups, use_threads=False):
            yield from slices(normalize(batch, string_columns), batch_rows)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"cannot read the Parquet file: {err}", source=split.uri) from None
    except UnicodeDecodeError as err:
        raise InputError(f"text that is not UTF-8: {err}", source=split.uri) from None
