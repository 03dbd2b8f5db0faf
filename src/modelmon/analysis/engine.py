"""The local engine: profile a dataset split by split, across processes, and merge.

Splits (files, byte ranges of large CSV files, Parquet row groups) are grouped
into tasks of similar size (many small files, such as a day of one-minute
capture files, make one task rather than one each), and the tasks profiled
independently — in this process when there is one task or one worker, else in
a pool of worker processes — and their partial profiles merged in order. Within
a task, small record batches of one schema are joined before profiling: the
per-batch cost of a profile update is then paid once per ~64k rows, not once per
file. Memory stays bounded: each worker holds one record batch and its partial
profile.
When a reader finds that a column's type changes after the first block
(``SchemaChange``), the whole read restarts with that column read as text, so
every value is classified the same way; when a CSV byte range turns out not to
start on a record (a quoted newline fooled the planner, ``SplitUnsafe``), the
read restarts with whole files as splits.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from modelmon.analysis.profile import DatasetProfile
from modelmon.analysis.readers import (
    DatasetFormat,
    SchemaChange,
    Split,
    SplitUnsafe,
    plan_splits,
    read_split,
    read_splits,
)
from modelmon.analysis.readers import splits as splits_module
from modelmon.errors import InputError
from modelmon.storage.files import expand

# Splits are at least this large (smaller files are read whole); tests lower it.
MIN_SPLIT_BYTES = splits_module.MIN_SPLIT_BYTES
BATCH_ROWS = 65536  # small batches are joined up to this many rows
SMALL_BATCH_ROWS = 4096  # a batch this large is profiled as it is (joining copies)

Progress = Callable[[int, int], None]
"""Called with (units done, units in all) as splits finish."""


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Task:
    splits: tuple[Split, ...]
    fmt: DatasetFormat
    string_columns: frozenset[str]
    integral_columns: frozenset[str]

    @property
    def size(self) -> int:
        return sum(split.size for split in self.splits)


def group_splits(splits: Sequence[Split], parts: int, min_bytes: int) -> list[tuple[Split, ...]]:
    """Consecutive splits in groups of about ``total / parts`` bytes (at least
    ``min_bytes``), in order; a split is never divided."""
    target = max(min_bytes, math.ceil(sum(s.size for s in splits) / max(parts, 1)), 1)
    groups: list[tuple[Split, ...]] = []
    current: list[Split] = []
    size = 0
    for split in splits:
        if current and size + split.size > target:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(split)
        size += split.size
    if current:
        groups.append(tuple(current))
    return groups


def joined_batches(
    batches: Iterable[pa.RecordBatch], rows: int = BATCH_ROWS, small: int = SMALL_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """``batches`` in order, with consecutive ones under ``small`` rows and of one
    schema joined into batches of at least ``rows`` rows (but the last of a run)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if pending and (batch.num_rows >= small or not batch.schema.equals(pending[0].schema)):
            yield _concat(pending)
            pending, count = [], 0
        if batch.num_rows >= small:
            yield batch
            continue
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _concat(pending)
            pending, count = [], 0
    if pending:
        yield _concat(pending)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)


def _task_batches(task: _Task) -> Iterator[pa.RecordBatch]:
    return read_splits(task.splits, task.fmt, string_columns=task.string_columns)


def _profile_task(task: _Task) -> DatasetProfile:
    profile = DatasetProfile()
    for batch in joined_batches(_task_batches(task)):
        if task.integral_columns:
            # A column the baseline calls Integral must be classified value by value:
            # read as float64 it would count "3" as fractional.
            floats = [
                name
                for name in task.integral_columns & set(batch.schema.names)
                if pa.types.is_floating(batch.schema.field(name).type)
            ]
            if floats:
                raise SchemaChange(sorted(floats))
        profile.update(batch)
    return profile


def _context() -> multiprocessing.context.BaseContext:
    # fork: workers start at once and never re-import the caller's __main__ (spawn
    # and forkserver do, which breaks scripts run from stdin or without a
    # __main__ guard). Nothing runs in Arrow's pools while the pool forks, and
    # Arrow re-creates its thread pools in a forked child.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run(tasks: Sequence[_Task], workers: int, progress: Progress | None) -> DatasetProfile:
    weights = [max(t.size, 1) for t in tasks]
    total, done = sum(weights), 0
    merged = DatasetProfile()
    results: Iterable[DatasetProfile]
    pool = None
    if workers <= 1 or len(tasks) <= 1:
        results = map(_profile_task, tasks)
    else:
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=_context(),
            # The objects a worker inherits stay for its short life: keep the
            # collector from walking them again and again while it profiles.
            initializer=gc.freeze,
        )
        results = pool.map(_profile_task, tasks)
    try:
        for weight, profile in zip(weights, results, strict=True):
            merged.merge(profile)
            done += weight
            if progress:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return merged


def dataset_files(dataset: str | Sequence[str]) -> list[str]:
    """Every file a dataset URI (or list of URIs) stands for."""
    uris = [dataset] if isinstance(dataset, str) else list(dataset)
    files: list[str] = []
    for uri in uris:
        files.extend(expand(uri))
    return files


def peek_columns(files: Sequence[str], fmt: DatasetFormat) -> list[str]:
    """Column names of a dataset, from its first record batch."""
    for split in plan_splits(list(files), fmt, 1):
        for batch in read_split(split, fmt):
            return list(batch.schema.names)
    raise InputError("the dataset holds no records", source=files[0] if files else None)


def profile_dataset(
    files: Sequence[str],
    fmt: DatasetFormat,
    *,
    workers: int | None = None,
    string_columns: Iterable[str] = (),
    integral_columns: Iterable[str] = (),
    progress: Progress | None = None,
) -> DatasetProfile:
    """Profile every record of ``files`` (bounded memory, parallel across splits)."""
    workers = workers or default_workers()
    text = frozenset(string_columns)
    integral = frozenset(integral_columns) - text
    splits = plan_splits(list(files), fmt, workers * 2, min_split_bytes=MIN_SPLIT_BYTES)
    while True:
        tasks = [
            _Task(group, fmt, text, integral)
            for group in group_splits(splits, workers * 2, MIN_SPLIT_BYTES)
        ]
        try:
            profile = _run(tasks, workers, progress)
        except SplitUnsafe:
            if not any(s.is_range for s in splits):
                raise
            splits = plan_splits(
                list(files), fmt, workers * 2, byte_ranges=False, min_split_bytes=MIN_SPLIT_BYTES
            )
            continue
        except SchemaChange as change:
            changed = frozenset(change.columns)
            if changed <= text:  # nothing new to retry with
                raise
            text |= changed
            integral -= changed
            continue
        if profile.rows == 0:
            raise InputError("the dataset holds no records", source=files[0] if files else None)
        return profile
