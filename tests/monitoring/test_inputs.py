"""Finding an analysis window's data (capture files, batch manifests) and staging it."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import orjson
import pytest

from modelmon.errors import InputError
from modelmon.monitoring import inputs
from modelmon.monitoring.inputs import (
    batch_dataset_format,
    batch_window_files,
    endpoint_window_files,
    hours_overlapping,
    stage_dataset,
)

H03 = datetime(2024, 1, 2, 3, tzinfo=UTC)
H05 = H03 + timedelta(hours=2)


@pytest.fixture
def objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``s3://`` mapped into a fresh object root."""
    root = tmp_path / "objects"
    root.mkdir()
    monkeypatch.delenv("MODELMON_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(root))
    return root


@pytest.fixture
def memory() -> Iterator[str]:
    """A fresh folder of fsspec's in-memory filesystem (a store that is not local)."""
    base = f"memory://t{uuid.uuid4().hex}"
    yield base
    fs = fsspec.filesystem("memory")
    if fs.exists(base):
        fs.rm(base, recursive=True)


def put(root: Path, key: str, data: bytes = b'{"x":1}\n') -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def capture_layout(write, prefix: str = "bucket/capture") -> list[str]:
    """Capture files around the window [03:00, 05:00); the relative paths expected inside it."""
    inside = [
        "ep/AllTraffic/2024/01/02/03/05-00-000-a.jsonl",
        "ep/AllTraffic/2024/01/02/03/59-59-999-b.jsonl",
        "ep/AllTraffic/2024/01/02/04/00-00-000-c.jsonl.gz",
        "ep/Canary/2024/01/02/04/10-00-000-d.jsonl",
    ]
    outside = [
        "ep/AllTraffic/2024/01/02/02/59-59-999-e.jsonl",  # the hour before
        "ep/AllTraffic/2024/01/02/05/00-00-000-f.jsonl",  # the end hour (exclusive)
        "ep/AllTraffic/2024/01/01/03/00-00-000-g.jsonl",  # a day earlier
        "ep/AllTraffic/2024/01/02/03/.05-00-000-h.jsonl.tmp",  # a writer's temporary file
        "ep/AllTraffic/2024/01/02/03/notes.txt",  # not capture
        "ep/_scratch/2024/01/02/03/00-00-000-i.jsonl",  # hidden folder
        "other-ep/AllTraffic/2024/01/02/03/00-00-000-j.jsonl",  # another endpoint
        "epx/AllTraffic/2024/01/02/03/00-00-000-k.jsonl",  # a name that extends it
    ]
    for key in inside + outside:
        write(f"{prefix}/{key}")
    return inside


def test_hours_overlapping_the_window() -> None:
    assert hours_overlapping(H03, H05) == [H03, H03 + timedelta(hours=1)]
    half = H03 + timedelta(minutes=30)
    assert hours_overlapping(half, half + timedelta(minutes=10)) == [H03]
    assert hours_overlapping(H03, H05 + timedelta(seconds=1)) == [
        H03,
        H03 + timedelta(hours=1),
        H05,
    ]
    assert len(hours_overlapping(H03 - timedelta(days=8), H03 - timedelta(days=1))) == 168
    with pytest.raises(ValueError, match="timezone-aware"):
        hours_overlapping(datetime(2024, 1, 2), H05)


def test_endpoint_files_of_the_window_through_the_object_root(objects: Path) -> None:
    inside = capture_layout(lambda key: put(objects, key))
    found = endpoint_window_files("s3://bucket/capture/", "ep", H03, H05)
    assert [rel for _, rel in found] == sorted(inside)
    assert [uri for uri, _ in found] == [f"s3://bucket/capture/{rel}" for rel in sorted(inside)]
    # a window inside one hour still takes that hour's files whole
    minutes = endpoint_window_files(
        "s3://bucket/capture", "ep", H03 + timedelta(minutes=40), H03 + timedelta(minutes=50)
    )
    assert [rel for _, rel in minutes] == sorted(inside)[:2]


def test_endpoint_files_of_a_plain_directory(tmp_path: Path) -> None:
    inside = capture_layout(lambda key: put(tmp_path, key), prefix="capture")
    found = endpoint_window_files(str(tmp_path / "capture"), "ep", H03, H05)
    assert found == [(str(tmp_path / "capture" / rel), rel) for rel in sorted(inside)]


def test_endpoint_files_of_a_remote_store(memory: str) -> None:
    fs = fsspec.filesystem("memory")
    base = memory.split("://", 1)[1]
    inside = capture_layout(lambda key: fs.pipe_file(f"/{key}", b"{}\n"), prefix=base)
    found = endpoint_window_files(memory, "ep", H03, H05)
    assert found == [(f"{memory}/{rel}", rel) for rel in sorted(inside)]


def test_endpoint_files_only_list_the_window_hours(
    objects: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture_layout(lambda key: put(objects, key))
    listed: list[str] = []
    real = inputs._list

    def spy(uri: str, *, directories: bool) -> list[str]:
        listed.append(uri)
        return real(uri, directories=directories)

    monkeypatch.setattr(inputs, "_list", spy)
    endpoint_window_files("s3://bucket/capture", "ep", H03, H05)
    hours = [u for u in listed if u.count("/") > 5]
    assert listed[0] == "s3://bucket/capture/ep"
    assert sorted(hours) == sorted(
        f"s3://bucket/capture/ep/{variant}/2024/01/02/{hour}"
        for variant in ("AllTraffic", "Canary")
        for hour in ("03", "04")
    )


def test_no_capture_is_an_empty_list(objects: Path) -> None:
    assert endpoint_window_files("s3://bucket/none", "ep", H03, H05) == []
    with pytest.raises(InputError, match="not an endpoint name"):
        endpoint_window_files("s3://bucket/none", "a/b", H03, H05)


def manifest(root: Path, key: str, prefix: str, names: list[str]) -> None:
    put(root, key, orjson.dumps([{"prefix": prefix}, *names]))


def test_batch_files_from_the_window_manifests(objects: Path) -> None:
    for name in ("part-0.csv", "sub/part-1.csv", "late.csv", "part-0.csv.out"):
        put(objects, f"bucket/data/{name}", b"1,2\n")
    dest = "s3://bucket/batch-capture"
    manifest(
        objects,
        "bucket/batch-capture/input/2024/01/02/03/job1.manifest",
        "s3://bucket/data/",
        ["part-0.csv", "sub/part-1.csv", "part-0.csv"],
    )
    manifest(
        objects,
        "bucket/batch-capture/input/2024/01/02/04/job2.manifest",
        "s3://bucket/data",
        ["late.csv"],
    )
    manifest(
        objects,
        "bucket/batch-capture/output/2024/01/02/03/job1.manifest",
        "s3://bucket/data/",
        ["part-0.csv.out"],
    )
    # outside the window: never read (it names a file that does not exist)
    manifest(
        objects,
        "bucket/batch-capture/input/2024/01/02/05/job3.manifest",
        "s3://bucket/data/",
        ["gone.csv"],
    )
    put(objects, "bucket/batch-capture/input/2024/01/02/03/readme.txt", b"not a manifest")

    found = batch_window_files(dest, H03, H05, {"Csv": {"Header": True}})
    assert found == [
        ("s3://bucket/data/part-0.csv", "input/2024/01/02/03/job1-00000-part-0.csv"),
        ("s3://bucket/data/sub/part-1.csv", "input/2024/01/02/03/job1-00001-part-1.csv"),
        ("s3://bucket/data/late.csv", "input/2024/01/02/04/job2-00000-late.csv"),
    ]
    outputs = batch_window_files(dest, H03, H05, side="output")
    assert outputs == [
        ("s3://bucket/data/part-0.csv.out", "output/2024/01/02/03/job1-00000-part-0.csv.out")
    ]
    assert batch_window_files(dest, H03 - timedelta(hours=3), H03) == []


def test_batch_manifest_errors_name_the_manifest(objects: Path) -> None:
    dest = "s3://bucket/bc"
    key = "bucket/bc/input/2024/01/02/03/job.manifest"
    manifest(objects, key, "s3://bucket/data/", ["missing.csv"])
    with pytest.raises(InputError) as err:
        batch_window_files(dest, H03, H05)
    assert str(err.value) == (
        f"s3://{key}: the batch capture manifest lists s3://bucket/data/missing.csv, "
        "which does not exist"
    )
    put(objects, key, b"{not json")
    with pytest.raises(InputError, match=rf"^s3://{key}: the manifest is not JSON"):
        batch_window_files(dest, H03, H05)
    put(objects, key, b'["no-prefix.csv"]')
    with pytest.raises(InputError, match=r"must be a JSON array \[\{\"prefix\""):
        batch_window_files(dest, H03, H05)
    with pytest.raises(ValueError, match="side"):
        batch_window_files(dest, H03, H05, side="both")  # type: ignore[arg-type]


def test_batch_dataset_format_maps_to_the_container_format() -> None:
    assert batch_dataset_format({"Csv": {"Header": True}}) == {"csv": {"header": True}}
    assert batch_dataset_format({"Csv": {}}) == {"csv": {"header": False}}
    assert batch_dataset_format({"Json": {"Line": True}}) == {"json": {"lines": True}}
    assert batch_dataset_format({"Parquet": {}}) == {"parquet": {}}
    for bad in ({}, {"Csv": {}, "Json": {}}, {"Avro": {}}, {"Csv": {"Header": "yes"}}, "csv"):
        with pytest.raises(InputError, match=r"BatchTransformInput\.DatasetFormat"):
            batch_dataset_format(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        batch_window_files("s3://bucket/x", H03, H05, {"Avro": {}})


def test_stage_links_local_files_and_downloads_remote_ones(
    objects: Path, memory: str, tmp_path: Path
) -> None:
    put(objects, "bucket/cap/ep/v/2024/01/02/03/a.jsonl", b"local\n")
    fsspec.filesystem("memory").pipe_file(f"{memory.split('://', 1)[1]}/b.jsonl", b"remote\n")
    files = [
        ("s3://bucket/cap/ep/v/2024/01/02/03/a.jsonl", "ep/v/2024/01/02/03/a.jsonl"),
        (f"{memory}/b.jsonl", "ep/w/2024/01/02/03/b.jsonl"),
    ]
    dataset = tmp_path / "work" / "dataset"
    assert stage_dataset(files, dataset) == 2
    staged = dataset / "ep/v/2024/01/02/03/a.jsonl"
    assert staged.read_bytes() == b"local\n"
    assert staged.stat().st_ino == (objects / "bucket/cap/ep/v/2024/01/02/03/a.jsonl").stat().st_ino
    assert (dataset / "ep/w/2024/01/02/03/b.jsonl").read_bytes() == b"remote\n"
    with pytest.raises(ValueError, match="two files"):
        stage_dataset(files[:1], dataset)
    with pytest.raises(ValueError, match="not a relative path"):
        stage_dataset([(files[0][0], "../escape.jsonl")], tmp_path / "other")


def test_stage_copies_when_a_link_is_impossible(
    objects: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(objects, "bucket/cap/a.jsonl", b"data\n")

    def no_link(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    assert stage_dataset([("s3://bucket/cap/a.jsonl", "x/a.jsonl")], tmp_path / "d") == 1
    copy = tmp_path / "d" / "x" / "a.jsonl"
    assert copy.read_bytes() == b"data\n"
    assert copy.stat().st_ino != (objects / "bucket/cap/a.jsonl").stat().st_ino
    with pytest.raises(InputError, match="no such file"):
        stage_dataset([("s3://bucket/cap/gone.jsonl", "x/g.jsonl")], tmp_path / "d")
