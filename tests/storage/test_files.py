"""storage.files: listing, opening, sizing and atomic writes, locally and on S3 (moto)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelmon.errors import InputError
from modelmon.storage import files
from modelmon.storage.files import (
    atomic_write_bytes,
    atomic_write_text,
    expand,
    file_size,
    filesystem,
    is_local,
    open_input,
)


def _touch(path, data: bytes = b"x\n") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


# -- local ---------------------------------------------------------------------


def test_is_local():
    assert is_local("/tmp/x.csv")
    assert is_local("relative/x.csv")
    assert is_local("file:///tmp/x.csv")
    assert not is_local("s3://bucket/key")


def test_filesystem_maps_local_and_file_urls(tmp_path):
    fs, path = filesystem(f"file://{tmp_path}/a.csv")
    assert path == f"{tmp_path}/a.csv"
    assert fs.protocol[0] in ("file", "local")


def test_expand_file_directory_and_glob(tmp_path):
    a = _touch(tmp_path / "d" / "b.csv")
    b = _touch(tmp_path / "d" / "a.csv")
    c = _touch(tmp_path / "d" / "sub" / "c.csv")
    _touch(tmp_path / "d" / ".hidden.csv")
    _touch(tmp_path / "d" / "_SUCCESS")
    _touch(tmp_path / "d" / ".git" / "x.csv")
    _touch(tmp_path / "d" / "_tmp" / "y.csv")
    assert expand(a) == [a]
    assert expand(str(tmp_path / "d")) == [b, a, c]
    assert expand(str(tmp_path / "d" / "*.csv")) == [b, a]
    assert expand(str(tmp_path / "d" / "**" / "*.csv")) == [b, a, c]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("missing.csv", "no such file or directory"), ("empty-dir", "no files under")],
)
def test_expand_nothing_found_names_the_uri(tmp_path, name, reason):
    (tmp_path / "empty-dir").mkdir()
    uri = str(tmp_path / name)
    with pytest.raises(InputError, match=reason) as err:
        expand(uri)
    assert uri in str(err.value)


def test_expand_glob_without_matches(tmp_path):
    with pytest.raises(InputError, match="no files match"):
        expand(str(tmp_path / "*.csv"))


def test_open_input_plain_and_gzip(tmp_path):
    plain = _touch(tmp_path / "a.csv", b"a,b\n1,2\n")
    by_suffix = _touch(tmp_path / "a.csv.gz", gzip.compress(b"a,b\n1,2\n"))
    by_magic = _touch(tmp_path / "noext", gzip.compress(b"a,b\n1,2\n") + gzip.compress(b"3,4\n"))
    with open_input(plain) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    with open_input(by_suffix) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    with open_input(by_magic) as handle:
        assert handle.read() == b"a,b\n1,2\n3,4\n"  # concatenated members too


def test_open_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file") as err:
        open_input(str(tmp_path / "nope.csv"))
    assert "nope.csv" in str(err.value)
    fake = _touch(tmp_path / "fake.csv.gz", b"a,b\n")
    with pytest.raises(InputError, match="not gzip-compressed"):
        open_input(fake)


def test_file_size(tmp_path):
    path = _touch(tmp_path / "a.bin", b"12345")
    assert file_size(path) == 5
    with pytest.raises(InputError, match="no such file"):
        file_size(str(tmp_path / "b.bin"))


def test_atomic_write_creates_parents_and_replaces(tmp_path):
    target = tmp_path / "out" / "deep" / "statistics.json"
    atomic_write_text(str(target), "first")
    assert target.read_text() == "first"
    atomic_write_bytes(str(target), b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["statistics.json"]  # no temporary left


def test_atomic_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    target.write_text("old")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(str(target), "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.json"]


def test_atomic_write_many_writes_each_and_reports_what_failed(tmp_path, monkeypatch):
    (tmp_path / "blocked").write_text("a file where a directory is wanted")
    items = [
        (str(tmp_path / "out" / "a.out"), b"A"),
        (str(tmp_path / "blocked" / "b.out"), b"B"),  # its directory cannot be made
        (f"file://{tmp_path}/out/c.out", b"C" * 300_000),
        (str(tmp_path / "other" / "d.out"), b""),
    ]
    synced: list[str] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", counting_fsync)
    errors = files.atomic_write_many(items)
    assert [type(e) for e in errors] == [type(None), FileExistsError, type(None), type(None)]
    assert (tmp_path / "out" / "a.out").read_bytes() == b"A"
    assert (tmp_path / "out" / "c.out").read_bytes() == b"C" * 300_000
    assert (tmp_path / "other" / "d.out").read_bytes() == b""
    assert sorted(os.listdir(tmp_path / "out")) == ["a.out", "c.out"]  # no temporary left
    # each file's data, then each directory once for all its renames
    assert synced.count(str(tmp_path / "out")) == 1
    assert synced.count(str(tmp_path / "other")) == 1
    assert len(synced) == 3 + 2


@pytest.mark.skipif(files._SYNCFS is None, reason="syncfs(2) is Linux-only")
@pytest.mark.parametrize("syncfs_works", [True, False])
def test_atomic_write_many_syncs_a_large_batch_with_one_syncfs(tmp_path, monkeypatch, syncfs_works):
    items = [(str(tmp_path / "out" / f"{i}.out"), f"{i}".encode() * i) for i in range(20)]
    calls: list[str] = []
    fsynced: list[str] = []
    real_syncfs, real_fsync = files._SYNCFS, os.fsync

    def syncfs(fd: int) -> int:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_syncfs(fd) if syncfs_works else -1

    def fsync(fd: int) -> None:
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(files, "_SYNCFS", syncfs)
    monkeypatch.setattr(files.os, "fsync", fsync)
    assert files.atomic_write_many(items) == [None] * 20
    assert calls == [str(tmp_path / "out")]  # one filesystem: one syncfs
    for uri, data in items:
        assert Path(uri).read_bytes() == data
    assert sorted(os.listdir(tmp_path / "out")) == sorted(f"{i}.out" for i in range(20))
    # the directory once; each temporary file too when syncfs failed
    assert fsynced.count(str(tmp_path / "out")) == 1
    assert len(fsynced) == (1 if syncfs_works else 21)


@pytest.mark.skipif(files._SYNCFS is None, reason="syncfs(2) is Linux-only")
def test_atomic_write_many_fallback_fsync_failure_fails_that_file_alone(tmp_path, monkeypatch):
    items = [(str(tmp_path / f"{i}.out"), b"x%d" % i) for i in range(10)]
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path / ".3.out.")):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(files, "_SYNCFS", lambda fd: -1)  # syncfs fails: fsync each file
    monkeypatch.setattr(files.os, "fsync", fsync)
    errors = files.atomic_write_many(items)
    assert isinstance(errors[3], OSError)
    assert errors[:3] + errors[4:] == [None] * 9
    assert sorted(os.listdir(tmp_path)) == sorted(f"{i}.out" for i in range(10) if i != 3)


def test_atomic_write_many_failed_rename_leaves_no_temporary(tmp_path, monkeypatch):
    real_replace = os.replace

    def replace(source, target):
        if str(target).endswith("bad.out"):
            raise OSError("no")
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", replace)
    good, bad = str(tmp_path / "good.out"), str(tmp_path / "bad.out")
    errors = files.atomic_write_many([(bad, b"1"), (good, b"2")])
    assert isinstance(errors[0], OSError) and errors[1] is None
    assert os.listdir(tmp_path) == ["good.out"]


def test_read_bytes(tmp_path):
    small = _touch(tmp_path / "a.bin", b"abc")
    large = _touch(tmp_path / "b.bin", os.urandom(3 << 20))
    assert files.read_bytes(small) == b"abc"
    assert files.read_bytes(f"file://{large}") == (tmp_path / "b.bin").read_bytes()
    assert files.read_bytes(_touch(tmp_path / "empty", b"")) == b""
    with pytest.raises(InputError, match="no such file") as err:
        files.read_bytes(str(tmp_path / "missing"))
    assert str(tmp_path / "missing") in str(err.value)
    with pytest.raises(InputError, match="is a directory"):
        files.read_bytes(str(tmp_path))


# -- S3 through a real S3-compatible server (moto) --------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    monkeypatch.setenv("MODELMON_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fs, _ = filesystem("s3://files-test")
    if not fs.exists("files-test"):
        fs.mkdir("files-test")
    return "s3://files-test"


def test_s3_write_list_open_size(bucket):
    atomic_write_text(f"{bucket}/data/b.csv", "a,b\n1,2\n")
    atomic_write_bytes(f"{bucket}/data/a.csv.gz", gzip.compress(b"a,b\n3,4\n"))
    atomic_write_text(f"{bucket}/data/sub/c.csv", "a,b\n5,6\n")
    atomic_write_text(f"{bucket}/data/_SUCCESS", "")
    atomic_write_text(f"{bucket}/data/.hidden", "")
    atomic_write_text(f"{bucket}/database/x.csv", "a,b\n")
    listed = [f"{bucket}/data/a.csv.gz", f"{bucket}/data/b.csv", f"{bucket}/data/sub/c.csv"]
    assert expand(f"{bucket}/data") == listed
    assert expand(f"{bucket}/data/") == listed
    assert expand(f"{bucket}/data/b.csv") == [f"{bucket}/data/b.csv"]
    assert expand(f"{bucket}/data/*.csv") == [f"{bucket}/data/b.csv"]
    # a prefix that is not a "directory" still selects the keys that start with it
    assert expand(f"{bucket}/data/sub/c") == [f"{bucket}/data/sub/c.csv"]
    with open_input(f"{bucket}/data/a.csv.gz") as handle:
        assert handle.read() == b"a,b\n3,4\n"
    assert file_size(f"{bucket}/data/b.csv") == len("a,b\n1,2\n")


def test_s3_sees_objects_written_by_others(bucket):
    atomic_write_text(f"{bucket}/live/1.jsonl", "{}\n")
    assert expand(f"{bucket}/live") == [f"{bucket}/live/1.jsonl"]
    fs, _ = filesystem(bucket)
    other = type(fs)(client_kwargs=fs.client_kwargs, skip_instance_cache=True)
    other.pipe_file("files-test/live/2.jsonl", b"{}\n")  # another writer, another client
    assert expand(f"{bucket}/live") == [f"{bucket}/live/1.jsonl", f"{bucket}/live/2.jsonl"]


def test_s3_missing(bucket):
    with pytest.raises(InputError, match="no files under prefix") as err:
        expand(f"{bucket}/nothing-here")
    assert "s3://files-test/nothing-here" in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        open_input(f"{bucket}/nothing-here.csv")
    with pytest.raises(InputError, match="no such file"):
        files.read_bytes(f"{bucket}/nothing-here.csv")


def test_s3_read_bytes_and_write_many(bucket):
    errors = files.atomic_write_many([(f"{bucket}/many/a", b"1"), (f"{bucket}/many/b", b"22")])
    assert errors == [None, None]
    assert files.read_bytes(f"{bucket}/many/b") == b"22"
    assert expand(f"{bucket}/many") == [f"{bucket}/many/a", f"{bucket}/many/b"]


def test_s3_uris_map_into_the_object_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELMON_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv(files.OBJECT_ROOT_ENV, str(tmp_path / "objects"))
    files.atomic_write_text("s3://bucket/data/a.csv", "x\n1\n")
    files.atomic_write_text("s3://bucket/data/sub/b.csv", "x\n2\n")
    assert (tmp_path / "objects" / "bucket" / "data" / "a.csv").read_text() == "x\n1\n"
    assert files.expand("s3://bucket/data") == [
        "s3://bucket/data/a.csv",
        "s3://bucket/data/sub/b.csv",
    ]
    assert files.expand("s3://bucket/data/a.csv") == ["s3://bucket/data/a.csv"]
    with files.open_input("s3://bucket/data/sub/b.csv") as handle:
        assert handle.read() == b"x\n2\n"
    assert files.exists("s3://bucket/data/a.csv")
    assert not files.exists("s3://bucket/data/none.csv")
    staged = tmp_path / "staged.jsonl"
    staged.write_text("{}\n")
    files.publish_file(staged, "s3://bucket/capture/ep/x.jsonl")
    assert not staged.exists()
    assert files.exists("s3://bucket/capture/ep/x.jsonl")
    with pytest.raises(InputError, match="not a valid object URI"):
        files.local_path("s3://bucket/../../etc/passwd")
