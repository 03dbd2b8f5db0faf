"""Model artifacts: a ``ModelDataUrl`` made into a local directory of model files.

Accepted: a ``.tar.gz``/``.tgz``/``.tar`` archive (SageMaker's model.tar.gz),
extracted once into the cache; a single model file, linked (or copied) into a
directory of its own in the cache; a directory or object-store prefix, used as
it is when local, else downloaded into the cache. Cache entries are named by a
hash of the URI and the artifact's size and modification time (or ETag), so a
second load of the same artifact reuses them; each appears atomically (built
in a temporary directory, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import tarfile
import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from modelmon.errors import InputError
from modelmon.serving.runtimes.errors import ModelLoadError
from modelmon.storage import files

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_INFO_KEYS = ("size", "ETag", "etag", "LastModified", "mtime", "last_modified", "created")


def fetch_model(model_data_url: str, cache_dir: Path) -> Path:
    """A local directory holding the model files of ``model_data_url``.

    Raises :class:`ModelLoadError` naming the URI when the artifact is missing,
    unreadable, or an archive with unsafe members (absolute paths, ``..``,
    links leading out of it, devices).
    """
    uri = str(model_data_url)
    cache_dir = Path(cache_dir)
    try:
        if files.is_local(uri):
            return _fetch_local(uri, cache_dir)
        return _fetch_remote(uri, cache_dir)
    except InputError as err:
        raise ModelLoadError(str(err)) from err
    except OSError as err:
        raise ModelLoadError(f"{uri}: cannot fetch the model: {err}") from err


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _entry(uri: str, fingerprint: Iterable[object]) -> str:
    """The cache directory name for ``uri`` in the state ``fingerprint`` describes."""
    digest = hashlib.sha256("\0".join([uri, *map(str, fingerprint)]).encode()).hexdigest()
    base = re.sub(r"[^A-Za-z0-9._-]", "_", posixpath.basename(uri.rstrip("/")))[:40] or "model"
    return f"{base}-{digest[:24]}"


def _publish(temporary: Path, final: Path) -> Path:
    """Rename the finished ``temporary`` directory to ``final`` (or keep whoever won)."""
    try:
        os.rename(temporary, final)
    except OSError:
        if not final.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        shutil.rmtree(temporary, ignore_errors=True)  # another loader finished first
    return final


def _temporary(cache_dir: Path, entry: str) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f".{entry}.{uuid.uuid4().hex}.tmp"
    path.mkdir()
    return path


def _fetch_local(uri: str, cache_dir: Path) -> Path:
    path = Path(files.local_path(uri))
    if path.is_dir():
        return path
    if not path.is_file():
        raise ModelLoadError(f"{uri}: no such file or directory")
    stat = path.stat()
    entry = _entry(str(path.resolve()), (stat.st_size, stat.st_mtime_ns))
    final = cache_dir / entry
    if final.is_dir():
        return final
    temporary = _temporary(cache_dir, entry)
    try:
        if _is_archive(path.name):
            _extract(path, temporary, uri)
        else:
            target = temporary / path.name
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return _publish(temporary, final)


def _fingerprint(fs: object, path: str) -> list[str]:
    info = fs.info(path)  # type: ignore[attr-defined]
    return [f"{key}={info[key]}" for key in _INFO_KEYS if info.get(key) is not None]


def _download(uri: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with files.open_raw(uri) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _fetch_remote(uri: str, cache_dir: Path) -> Path:
    fs, path = files.filesystem(uri)
    found = files.expand(uri)
    single = found == [uri]
    if single:
        fingerprint = _fingerprint(fs, path)
    else:
        fingerprint = []
        for item in found:
            fingerprint.append(item)
            fingerprint.extend(_fingerprint(*files.filesystem(item)))
    entry = _entry(uri.rstrip("/"), fingerprint)
    final = cache_dir / entry
    if final.is_dir():
        return final
    temporary = _temporary(cache_dir, entry)
    try:
        if single:
            name = posixpath.basename(path.rstrip("/")) or "model"
            if _is_archive(name):
                archive = cache_dir / f".{entry}.{uuid.uuid4().hex}.download"
                try:
                    _download(uri, archive)
                    _extract(archive, temporary, uri)
                finally:
                    archive.unlink(missing_ok=True)
            else:
                _download(uri, temporary / name)
        else:
            prefix = path.rstrip("/")
            for item in found:
                item_path = files.filesystem(item)[1]
                relative = item_path[len(prefix) :] if item_path.startswith(prefix) else item_path
                if not relative.startswith("/"):  # matched by key prefix, not as a folder
                    relative = posixpath.basename(prefix) + relative
                parts = PurePosixPath(relative.lstrip("/")).parts
                if not parts or ".." in parts:
                    raise ModelLoadError(f"{uri}: unsafe object name {item!r}")
                _download(item, temporary.joinpath(*parts))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return _publish(temporary, final)


def _unsafe(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` may not be extracted, or None."""
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in parts:
        return "path with '..'"
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith(("/", "\\")):
            return "link to an absolute path"
        base = PurePosixPath(name).parent if member.issym() else PurePosixPath()
        depth = 0
        for part in (base / target).parts:
            depth += -1 if part == ".." else 0 if part == "." else 1
            if depth < 0:
                return "link leading out of the archive"
    elif not (member.isfile() or member.isdir()):
        return "device or special file"
    return None


def _extract(archive: Path, target: Path, uri: str) -> None:
    """Extract ``archive`` into ``target`` after checking every member is safe."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe(member)
                if reason is not None:
                    raise ModelLoadError(
                        f"{uri}: refusing to extract archive member {member.name!r} ({reason})"
                    )
            tar.extractall(target, members=members, filter="data")
    except tarfile.TarError as err:
        raise ModelLoadError(f"{uri}: not a valid tar archive: {err}") from err
    except EOFError as err:
        raise ModelLoadError(f"{uri}: the archive is truncated: {err}") from err
