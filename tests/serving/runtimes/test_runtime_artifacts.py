"""Model artifacts: model.tar.gz, a single file, a directory, object-store prefixes."""

from __future__ import annotations

import io
import os
import tarfile

import fsspec
import joblib
import numpy as np
import pytest

from modelmon.serving.runtimes import ModelLoadError, fetch_model, load_runtime

SCRIPT = "def predict_fn(data, model):\n    return model.predict(data) + 1000\n"


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def pickled(model) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def make_tar(path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            add(tar, name, data)
    return str(path)


def test_model_tar_gz_with_code(tmp_path, regressor, rows, helpers):
    archive = make_tar(
        tmp_path / "model.tar.gz",
        {"model.joblib": pickled(regressor), "code/inference.py": SCRIPT.encode()},
    )
    cache = tmp_path / "cache"
    directory = fetch_model(archive, cache)
    assert directory.parent == cache
    assert sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*.*")) == [
        "code/inference.py",
        "model.joblib",
    ]
    assert fetch_model(archive, cache) == directory  # reused, not extracted again
    assert [p for p in cache.iterdir() if p.name.startswith(".")] == []  # no temporaries left

    runtime = load_runtime(
        "sklearn", directory, {"SAGEMAKER_PROGRAM": "inference.py"}, source=archive
    )
    answer = runtime.invoke(helpers.csv_body(rows), "text/csv", None)
    assert np.array_equal(helpers.csv_values(answer.body), regressor.predict(rows) + 1000)

    os.utime(archive, ns=(1, 1))  # a changed archive is extracted afresh
    assert fetch_model(archive, cache) != directory


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../evil", "path with '..'"),
        ("code/../../evil", "path with '..'"),
        ("/etc/evil", "absolute path"),
    ],
)
def test_unsafe_archives_are_refused(tmp_path, member, reason):
    archive = make_tar(tmp_path / "model.tar.gz", {"model.joblib": b"x", member: b"boom"})
    with pytest.raises(ModelLoadError) as caught:
        fetch_model(archive, tmp_path / "cache")
    assert str(caught.value) == (
        f"{archive}: refusing to extract archive member {member!r} ({reason})"
    )
    assert not (tmp_path / "evil").exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_links_out_of_the_archive_are_refused(tmp_path):
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("model.joblib")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../secret"
        tar.addfile(link)
    with pytest.raises(ModelLoadError, match="link leading out of the archive"):
        fetch_model(str(archive), tmp_path / "cache")


def test_not_an_archive(tmp_path):
    bad = tmp_path / "model.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(ModelLoadError, match=r"model\.tar\.gz: not a valid tar archive"):
        fetch_model(str(bad), tmp_path / "cache")


def test_single_file_and_directory(tmp_path, classifier, rows, helpers):
    model_file = tmp_path / "models" / "clf.joblib"
    model_file.parent.mkdir()
    joblib.dump(classifier, model_file)
    directory = fetch_model(str(model_file), tmp_path / "cache")
    assert [p.name for p in directory.iterdir()] == ["clf.joblib"]
    assert fetch_model(f"file://{model_file}", tmp_path / "cache") == directory
    runtime = load_runtime("", directory, {})
    answer = runtime.invoke(helpers.csv_body(rows), "text/csv", None)
    assert answer.body.decode() == "\n".join(str(v) for v in classifier.predict(rows))

    assert fetch_model(str(model_file.parent), tmp_path / "cache") == model_file.parent


def test_missing_artifact_names_it(tmp_path):
    missing = str(tmp_path / "nope" / "model.tar.gz")
    with pytest.raises(ModelLoadError, match=f"^{missing}: no such file or directory$"):
        fetch_model(missing, tmp_path / "cache")
    with pytest.raises(ModelLoadError, match="memory://nothing/here"):
        fetch_model("memory://nothing/here", tmp_path / "cache")


def test_s3_uri_mapped_to_the_object_root(tmp_path, monkeypatch, classifier):
    monkeypatch.delenv("MODELMON_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MODELMON_OBJECT_ROOT", str(tmp_path / "objects"))
    (tmp_path / "objects" / "bucket" / "m").mkdir(parents=True)
    make_tar(tmp_path / "objects/bucket/m/model.tar.gz", {"model.joblib": pickled(classifier)})
    directory = fetch_model("s3://bucket/m/model.tar.gz", tmp_path / "cache")
    assert (directory / "model.joblib").is_file()


def test_remote_prefix_and_archive(tmp_path, classifier):
    fs = fsspec.filesystem("memory")
    fs.pipe("/remote-art/prefix/model.joblib", pickled(classifier))
    fs.pipe("/remote-art/prefix/code/inference.py", SCRIPT.encode())
    archive = make_tar(tmp_path / "m.tar.gz", {"model.joblib": pickled(classifier)})
    with open(archive, "rb") as handle:
        fs.pipe("/remote-art/model.tar.gz", handle.read())
    try:
        cache = tmp_path / "cache"
        prefix = fetch_model("memory://remote-art/prefix", cache)
        assert (prefix / "model.joblib").is_file()
        assert (prefix / "code" / "inference.py").read_text() == SCRIPT
        assert fetch_model("memory://remote-art/prefix/", cache) == prefix

        extracted = fetch_model("memory://remote-art/model.tar.gz", cache)
        assert [p.name for p in extracted.iterdir()] == ["model.joblib"]
        assert [p for p in cache.iterdir() if p.name.startswith(".")] == []
    finally:
        fs.rm("/remote-art", recursive=True)
