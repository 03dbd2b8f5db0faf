"""The data of one monitoring execution: finding the window's files and staging them.

A monitoring execution analyzes the data of its analysis window [start, end):

* real-time endpoints: the capture files ``{destination}/{endpoint}/{variant}/
  yyyy/mm/dd/hh/*.jsonl`` (SPEC §4.2) of every hour folder the window overlaps,
  all variants (:func:`endpoint_window_files`). Only those hour folders are
  listed, never the whole destination. Files of an hour the window covers in
  part are taken whole; the analyzer keeps the records inside the window by
  their ``inferenceTime`` ("we sometimes download more than what is specified
  by the start and end times", SPEC §5.1).
* batch transform jobs: the manifests ``{DataCapturedDestinationS3Uri}/{side}/
  yyyy/mm/dd/hh/*.manifest`` (SPEC §4.3, the hour being the job's start) of the
  hours the window overlaps, each a JSON array ``[{"prefix": "s3://.../"},
  "relative/key", ...]`` naming the files (:func:`batch_window_files`). Data
  quality reads the ``input`` side (the features sent to the model), model
  quality the ``output`` side (its predictions).

:func:`stage_dataset` lays the files out in a local directory, the container's
``dataset_source``: capture files as ``{endpoint}/{variant}/yyyy/mm/dd/hh/{name}``
(SageMaker's layout), batch files as ``{side}/yyyy/mm/dd/hh/{manifest}-{n}-{name}``:
directly in the manifest's hour folder, so that an analyzer selecting files by
hour folder sees the transform job's hour, and flattened, so that folders of the
transform's own input prefix are never mistaken for hour folders.

Model quality also reads ground truth: the label files ``{GroundTruthS3Input}/
yyyy/mm/dd/hh/*.jsonl`` of the collection hours from the (offset) window's start
to the run's scheduled time (:func:`ground_truth_window_files`), since a label
is collected after its inference, up to the run. They are staged as
``yyyy/mm/dd/hh/{name}`` in the container's ``ground_truth_source``.

Every file is a pair ``(uri, relative path)``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import orjson

from modelmon.errors import InputError
from modelmon.storage.files import (
    exists,
    filesystem,
    is_local,
    local_path,
    open_raw,
    read_bytes,
)

__all__ = [
    "CAPTURE_SUFFIXES",
    "MANIFEST_SUFFIX",
    "Side",
    "batch_dataset_format",
    "batch_window_files",
    "endpoint_window_files",
    "ground_truth_window_files",
    "hours_overlapping",
    "stage_dataset",
]

Side = Literal["input", "output"]

CAPTURE_SUFFIXES = (".jsonl", ".jsonl.gz")
MANIFEST_SUFFIX = ".manifest"
HOUR = timedelta(hours=1)
MANIFEST_SHAPE = '[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'
_COPY_BUFFER = 1 << 20


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def hours_overlapping(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hours ``h`` whose folder [h, h + 1 h) overlaps [start, end), oldest first."""
    start, end = _utc(start, "start"), _utc(end, "end")
    hour = start.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def _hour_folder(hour: datetime) -> str:
    return hour.strftime("%Y/%m/%d/%H")


def _hidden(name: str) -> bool:
    return name[:1] in (".", "_")


def _list(uri: str, *, directories: bool) -> list[str]:
    """Names of the sub-folders (or files) directly under ``uri``; none when it does not exist.

    Local (and ``s3://`` mapped into the object root): one ``scandir``. Other
    stores: one fsspec ``ls`` of the prefix. Hidden names (``.``/``_``) are left out.
    """
    if is_local(uri):
        try:
            with os.scandir(local_path(uri)) as entries:
                names = [
                    e.name
                    for e in entries
                    if (e.is_dir() if directories else e.is_file()) and not _hidden(e.name)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(names)
    fs, path = filesystem(uri)
    path = path.rstrip("/")
    fs.invalidate_cache(path)
    try:
        entries = fs.ls(path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    wanted = "directory" if directories else "file"
    names = set()
    for entry in entries:
        name = posixpath.basename(str(entry["name"]).rstrip("/"))
        if entry.get("type") == wanted and name and not _hidden(name):
            names.add(name)
    return sorted(names)


def _join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/"), *(p.strip("/") for p in parts[1:])])


def endpoint_window_files(
    capture_destination: str, endpoint: str, start: datetime, end: datetime
) -> list[tuple[str, str]]:
    """Every capture file of ``endpoint`` in an hour folder that overlaps [start, end).

    Returns ``(uri, "endpoint/variant/yyyy/mm/dd/hh/name")`` pairs sorted by
    relative path, over all variants. Only ``*.jsonl`` (and ``*.jsonl.gz``)
    files count; hidden names (a writer's temporary files) are skipped. Lists
    the variants, then each hour folder of the window per variant.
    """
    if not endpoint or "/" in endpoint:
        raise InputError(f"not an endpoint name: {endpoint!r}", field="EndpointName")
    hours = [_hour_folder(h) for h in hours_overlapping(start, end)]
    base = _join(capture_destination, endpoint)
    found: list[tuple[str, str]] = []
    for variant in _list(base, directories=True):
        for hour in hours:
            folder = _join(base, variant, hour)
            for name in _list(folder, directories=False):
                if name.endswith(CAPTURE_SUFFIXES):
                    found.append((_join(folder, name), f"{endpoint}/{variant}/{hour}/{name}"))
    return sorted(found, key=lambda pair: pair[1])


def ground_truth_window_files(
    ground_truth_uri: str, start: datetime, end: datetime
) -> list[tuple[str, str]]:
    """Every ground-truth file in a collection-hour folder that overlaps [start, end).

    Returns ``(uri, "yyyy/mm/dd/hh/name")`` pairs sorted by relative path; only
    ``*.jsonl`` (and ``*.jsonl.gz``) files count, hidden names are skipped.
    """
    found: list[tuple[str, str]] = []
    for hour_time in hours_overlapping(start, end):
        hour = _hour_folder(hour_time)
        folder = _join(ground_truth_uri, hour)
        for name in _list(folder, directories=False):
            if name.endswith(CAPTURE_SUFFIXES):
                found.append((_join(folder, name), f"{hour}/{name}"))
    return sorted(found, key=lambda pair: pair[1])


def _manifest_files(uri: str) -> list[str]:
    """The file URIs a batch capture manifest lists (prefix + relative key), in its order."""
    try:
        document = orjson.loads(read_bytes(uri))
    except orjson.JSONDecodeError as err:
        raise InputError(f"the manifest is not JSON ({err})", source=uri) from None
    if (
        not isinstance(document, list)
        or not document
        or not isinstance(document[0], dict)
        or not isinstance(document[0].get("prefix"), str)
        or not document[0]["prefix"]
        or not all(isinstance(key, str) and key for key in document[1:])
    ):
        raise InputError(f"a manifest must be a JSON array {MANIFEST_SHAPE}", source=uri)
    prefix = document[0]["prefix"]
    if not prefix.endswith("/"):
        prefix += "/"
    seen: set[str] = set()
    files = []
    for key in document[1:]:
        if key not in seen:
            seen.add(key)
            files.append(prefix + key.lstrip("/"))
    return files


def batch_window_files(
    data_captured_destination: str,
    start: datetime,
    end: datetime,
    dataset_format: Mapping[str, object] | None = None,
    *,
    side: Side = "input",
) -> list[tuple[str, str]]:
    """The files the batch capture manifests of [start, end) list, for ``side``.

    Reads ``{destination}/{side}/yyyy/mm/dd/hh/*.manifest`` of every hour folder
    the window overlaps. Returns ``(file uri, "{side}/yyyy/mm/dd/hh/{manifest}-
    {nnnnn}-{file name}")`` pairs in manifest order (manifests sorted by path).
    A listed file that does not exist raises :class:`InputError` naming the
    manifest and the file. ``dataset_format``, the input's ``DatasetFormat``
    (``{"Csv": {"Header": true}}``...), is checked when given
    (:func:`batch_dataset_format`); the files are staged as they are.
    """
    if dataset_format is not None:
        batch_dataset_format(dataset_format)
    if side not in ("input", "output"):
        raise ValueError(f"side must be 'input' or 'output', got {side!r}")
    base = _join(data_captured_destination, side)
    found: list[tuple[str, str]] = []
    for hour_time in hours_overlapping(start, end):
        hour = _hour_folder(hour_time)
        folder = _join(base, hour)
        for name in _list(folder, directories=False):
            if not name.endswith(MANIFEST_SUFFIX):
                continue
            manifest = _join(folder, name)
            stem = name[: -len(MANIFEST_SUFFIX)] or "manifest"
            for index, uri in enumerate(_manifest_files(manifest)):
                if not exists(uri):
                    raise InputError(
                        f"the batch capture manifest lists {uri}, which does not exist",
                        source=manifest,
                    )
                file_name = posixpath.basename(uri)
                found.append((uri, f"{side}/{hour}/{stem}-{index:05d}-{file_name}"))
    return found


def batch_dataset_format(dataset_format: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """The container's ``dataset_format`` of a BatchTransformInput ``DatasetFormat``.

    ``{"Csv": {"Header": true}}`` -> ``{"csv": {"header": true}}``;
    ``{"Json": {"Line": true}}`` -> ``{"json": {"lines": true}}`` (the SDK's spelling);
    ``{"Parquet": {}}`` -> ``{"parquet": {}}``. Header and Line default to false.
    """
    where = "BatchTransformInput.DatasetFormat"
    expected = 'one of {"Csv": {"Header": true}}, {"Json": {"Line": true}}, {"Parquet": {}}'
    if not isinstance(dataset_format, Mapping) or len(dataset_format) != 1:
        raise InputError(f"must be {expected}, got {dataset_format!r}", field=where)
    ((key, options),) = dataset_format.items()
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise InputError(f"the options of {key!r} must be an object", field=where)

    def flag(name: str) -> bool:
        value = options.get(name, False)
        if not isinstance(value, bool):
            raise InputError(f"{key}.{name} must be true or false, got {value!r}", field=where)
        return value

    if key == "Csv":
        return {"csv": {"header": flag("Header")}}
    if key == "Json":
        return {"json": {"lines": flag("Line")}}
    if key == "Parquet":
        return {"parquet": {}}
    raise InputError(f"must be {expected}, got {dataset_format!r}", field=where)


def _safe_relative(relative: str) -> str:
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"not a relative path inside the dataset: {relative!r}")
    return os.path.join(*parts)


def _copy_stream(uri: str, target: Path) -> None:
    with open_raw(uri) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, _COPY_BUFFER)


def _stage_one(uri: str, target: Path) -> None:
    if is_local(uri):
        source = local_path(uri)
        try:
            os.link(source, target)
            return
        except FileNotFoundError:
            raise InputError("no such file or directory", source=uri) from None
        except OSError:  # another filesystem, or links not allowed: copy
            pass
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            raise InputError("no such file or directory", source=uri) from None
        return
    _copy_stream(uri, target)


def stage_dataset(files: Iterable[tuple[str, str]], dataset_dir: Path) -> int:
    """Lay ``files`` out as ``dataset_dir/<relative path>``; the number of files staged.

    Local files (mapped ``s3://`` included) are hard-linked when on the same
    filesystem and copied otherwise; remote objects are downloaded. A hard link
    shares the file with the capture store: analyzers must treat
    ``dataset_source`` as read-only (SageMaker's own is a download).
    """
    dataset_dir = Path(dataset_dir)
    dataset_dir.mkdir(parents=True, exist_ok=True)
    made: set[Path] = set()
    count = 0
    for uri, relative in files:
        target = dataset_dir / _safe_relative(relative)
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if target.exists():
            raise ValueError(f"two files are staged as {relative!r}")
        _stage_one(uri, target)
        count += 1
    return count
