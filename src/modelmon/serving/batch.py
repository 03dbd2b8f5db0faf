"""Batch transform data: input files, records, payloads and assembled outputs.

Pure functions over bytes (no database, no threads), used by the transform
runner (:mod:`modelmon.serving.transform`):

* :func:`list_inputs` — the files of an ``S3Prefix`` or a ``ManifestFile``, each
  with its path relative to the input prefix (which names its output);
* :func:`split_records` and :func:`payloads` — SplitType and BatchStrategy;
* :class:`Assembler` — one piece of an output file per payload answer:
  AssembleWith, DataProcessing.JoinSource and DataCaptureConfig.GenerateInferenceId;
* :func:`capture_manifest` — the manifests of SPEC §4.3.

Choices where SageMaker's documentation is silent or ambiguous (unconfirmed
against the real service):

* BatchStrategy defaults to MultiRecord; MaxPayloadInMB counts MiB (as
  InvokeEndpoint's 6 MB = 6291456 bytes) and 0 means no limit. Records in a
  MultiRecord payload are joined by ``\n`` (no trailing newline).
* AssembleWith Line with SplitType Line: the answer to a payload of n records
  must have n lines (else the job fails naming the file); every output line
  ends in ``\n``, the last one included ("a newline at the end of every
  transformed record"). With SplitType None each answer gets a final newline.
  AssembleWith None concatenates the answers byte for byte, as SageMaker does.
* GenerateInferenceId, CSV: ``,{uuid4},{start time}`` is appended to each output
  line with no space (the SPEC's example ``0, 1f1d...,2022-08-30T00:49:15Z``
  shows one after the first comma; we write ``0,1f1d...,2022-...Z`` so that the
  id column parses as the id). JSON/JSON Lines: ``SageMakerInferenceId`` and
  ``SageMakerInferenceTime`` are added to each output object; a value that is
  not an object becomes ``{"SageMakerOutput": value, ...}``. The time is the
  job's start (``TransformStartTime``, to the second, UTC) for every record.
* Manifest entries are paths relative to the prefix (``sub/f.csv``) and outputs
  ``sub/f.csv.out``; manifests are compact JSON. The output manifest lists the
  outputs written, also when the job failed or stopped after some files.
* JoinSource Input needs SplitType Line and AssembleWith Line (records joined one
  to one); CSV appends the output to the input line, JSON adds
  ``SageMakerOutput`` to an input object, or writes
  ``{"SageMakerInput": ..., "SageMakerOutput": ...}``. Input/OutputFilter other
  than ``$`` are refused.
"""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from modelmon.errors import InputError
from modelmon.serving.runtimes import Prediction
from modelmon.serving.runtimes.codecs import CSV, JSON, JSONLINES, known_media, media_type
from modelmon.storage.files import expand, open_raw, read_bytes

INPUT_URI = "TransformInput.DataSource.S3DataSource.S3Uri"
OUTPUT_SUFFIX = ".out"
INFERENCE_ID = "SageMakerInferenceId"
INFERENCE_TIME = "SageMakerInferenceTime"
OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"
_JSON_MEDIA = frozenset({JSON, JSONLINES, "application/x-jsonlines", "application/jsonl"})


class BatchError(Exception):
    """A file cannot be transformed as asked; ``str(err)`` says why (the runner names the file)."""


# ---------------------------------------------------------------- input files


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input object: its URI and its path under the input prefix."""

    uri: str
    relative: str


def list_inputs(
    data_type: str, uri: str, exclude: tuple[str, ...] = ()
) -> tuple[str, list[InputFile]]:
    """(the input prefix ending in ``/``, the input files sorted) of a transform's S3DataSource.

    ``S3Prefix``: every file under ``uri`` (a folder-like prefix, a key prefix, or
    one object) except those under an ``exclude`` prefix that lies within
    ``uri`` (the job's own outputs and capture); ``ManifestFile``: ``uri`` is a
    JSON array ``[{"prefix": "s3://bucket/p/"}, "relative/key", ...]``. Raises
    InputError naming ``TransformInput.DataSource.S3DataSource.S3Uri``.
    """
    if data_type == "ManifestFile":
        return _manifest_inputs(uri)
    try:
        found = expand(uri)
    except InputError as err:
        raise InputError(f"{uri}: {err.reason}", field=INPUT_URI) from None
    base = uri.rstrip("/")
    inside = tuple(e.rstrip("/") + "/" for e in exclude if e.rstrip("/").startswith(base + "/"))
    found = [f for f in found if not f.startswith(inside)] if inside else found
    if not found:
        raise InputError(f"{uri}: no input files (only this job's outputs)", field=INPUT_URI)
    if all(f.startswith(base + "/") for f in found):
        prefix = base + "/"
    else:  # a key prefix ("s3://b/data/part-") or a single object
        prefix = base.rsplit("/", 1)[0] + "/"
    return prefix, [InputFile(f, f[len(prefix) :]) for f in found]


def _manifest_inputs(uri: str) -> tuple[str, list[InputFile]]:
    try:
        document = orjson.loads(read_bytes(uri))
    except InputError as err:
        raise InputError(f"manifest {uri}: {err.reason}", field=INPUT_URI) from None
    except orjson.JSONDecodeError as err:
        raise InputError(f"manifest {uri} is not JSON: {err}", field=INPUT_URI) from None
    shape = '[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'
    if (
        not isinstance(document, list)
        or not document
        or not isinstance(document[0], dict)
        or not isinstance(document[0].get("prefix"), str)
        or not all(isinstance(k, str) and k for k in document[1:])
    ):
        raise InputError(f"manifest {uri} must be a JSON array {shape}", field=INPUT_URI)
    if len(document) == 1:
        raise InputError(f"manifest {uri} lists no files", field=INPUT_URI)
    prefix = document[0]["prefix"]
    keys = sorted(set(document[1:]))
    return prefix, [InputFile(prefix + key, key) for key in keys]


def output_uri(output_path: str, file: InputFile) -> str:
    """``{S3OutputPath}/{path under the input prefix}.out``."""
    return f"{output_path.rstrip('/')}/{file.relative}{OUTPUT_SUFFIX}"


def read_input(uri: str, compression: str) -> bytes:
    """The bytes of an input file, gunzipped when CompressionType is Gzip."""
    with open_raw(uri) as handle:
        data = handle.read()
    if compression != "Gzip":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise BatchError(f"CompressionType is Gzip but the file is not gzip data ({err})") from None


# ---------------------------------------------------------------- records and payloads


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """SplitType None: the file is one record (none when empty); Line: each non-blank line."""
    if split_type != "Line":
        return [data] if data.strip() else []
    records = []
    for line in data.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            records.append(line)
    return records


def payloads(records: list[bytes], strategy: str, limit: int | None) -> Iterator[list[bytes]]:
    """Records grouped into requests: one each (SingleRecord), or as many as fit in ``limit``
    bytes joined by newlines (MultiRecord). A record larger than ``limit`` is a BatchError."""
    group: list[bytes] = []
    size = 0
    for number, record in enumerate(records, 1):
        if limit is not None and len(record) > limit:
            raise BatchError(
                f"record {number} is {len(record)} bytes, more than MaxPayloadInMB "
                f"({limit // (1024 * 1024)} MB); split the file (SplitType Line) or raise "
                "MaxPayloadInMB"
            )
        if strategy == "SingleRecord":
            yield [record]
            continue
        added = len(record) + (1 if group else 0)
        if group and limit is not None and size + added > limit:
            yield group
            group, size = [], 0
            added = len(record)
        group.append(record)
        size += added
    if group:
        yield group


# ---------------------------------------------------------------- outputs


def _is_json(media: str) -> bool:
    return media in _JSON_MEDIA or media.endswith("+json")


def _lines(body: bytes) -> list[bytes]:
    """An answer's lines (one trailing newline ignored, CR LF accepted)."""
    if body.endswith(b"\n"):
        body = body[:-1]
    return [line[:-1] if line.endswith(b"\r") else line for line in body.split(b"\n")]


def _json_value(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Stamp:
    """GenerateInferenceId: a fresh uuid4 per output record, and the job's start time."""

    time: str  # %Y-%m-%dT%H:%M:%SZ
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())

    def csv(self, line: bytes) -> bytes:
        """``line`` with two columns appended: ``,{inference id},{time}``."""
        return b"%s,%s,%s" % (line, self.new_id().encode(), self.time.encode())

    def json(self, line: bytes) -> bytes:
        """``line`` (a JSON value) with SageMakerInferenceId/Time added; a value that is
        not an object is wrapped as ``{"SageMakerOutput": value, ...}``."""
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            raise BatchError(
                f"cannot add {INFERENCE_ID}: the output {line[:80]!r} is not JSON ({err})"
            ) from None
        return self.json_value(value)

    def json_value(self, value: Any) -> bytes:
        document = dict(value) if isinstance(value, dict) else {OUTPUT_KEY: value}
        document[INFERENCE_ID] = self.new_id()
        document[INFERENCE_TIME] = self.time
        return orjson.dumps(document)


@dataclass(frozen=True, slots=True)
class Assembler:
    """Turns each payload's answer into its piece of the output file.

    ``per_record`` (SplitType Line with AssembleWith Line): the answer must have
    one line per record; each becomes an output line ending in a newline, after
    JoinSource Input (``join``) and GenerateInferenceId (``stamp``). Otherwise
    the answer is kept whole (AssembleWith None concatenates answers;
    AssembleWith Line ends each with a newline), with ``stamp`` applied to each
    of its lines (CSV) or JSON values.
    """

    per_record: bool
    line_ending: bool
    join: bool = False
    input_content_type: str | None = None
    stamp: Stamp | None = None

    @classmethod
    def for_job(cls, request: Any, stamp: Stamp | None) -> Assembler:
        """The assembler a CreateTransformJobRequest asks for."""
        split = request.TransformInput.SplitType == "Line"
        line = request.TransformOutput.AssembleWith == "Line"
        processing = request.DataProcessing
        return cls(
            per_record=split and line,
            line_ending=line,
            join=bool(processing and processing.JoinSource == "Input"),
            input_content_type=request.TransformInput.ContentType,
            stamp=stamp,
        )

    def piece(self, records: list[bytes], answer: Prediction) -> bytes:
        """The output bytes for one payload (``records``) and the model's ``answer``."""
        answer_is_json = _is_json(media_type(answer.content_type))
        if self.per_record:
            lines = _lines(answer.body)
            if len(lines) != len(records):
                raise BatchError(
                    f"the model answered {len(lines)} line(s) for a payload of "
                    f"{len(records)} record(s); AssembleWith Line needs one line per record "
                    "(answer CSV or JSON Lines, or use BatchStrategy SingleRecord)"
                )
            out = [self._record(r, o, answer_is_json) for r, o in zip(records, lines, strict=True)]
            return b"".join(line + b"\n" for line in out)
        body = answer.body
        if self.stamp is not None:
            body = self._stamp_whole(body, answer_is_json)
        if self.line_ending and not body.endswith(b"\n"):
            body += b"\n"
        return body

    def _record(self, record: bytes, output: bytes, answer_is_json: bool) -> bytes:
        if not self.join:
            if self.stamp is None:
                return output
            return self.stamp.json(output) if answer_is_json else self.stamp.csv(output)
        if self._input_is_json(record):
            source = _json_value(record)
            value = _json_value(output)
            if isinstance(source, dict):
                joined = {**source, OUTPUT_KEY: value}
            else:
                joined = {INPUT_KEY: source, OUTPUT_KEY: value}
            if self.stamp is not None:
                return self.stamp.json_value(joined)
            return orjson.dumps(joined)
        joined_line = record + b"," + output
        return self.stamp.csv(joined_line) if self.stamp is not None else joined_line

    def _input_is_json(self, record: bytes) -> bool:
        media = known_media(self.input_content_type)
        if media is not None:
            return media != CSV
        return record.lstrip()[:1] in (b"{", b"[")

    def _stamp_whole(self, body: bytes, answer_is_json: bool) -> bytes:
        assert self.stamp is not None
        if not body.strip():
            return body
        trailing = b"\n" if body.endswith(b"\n") else b""
        if answer_is_json:
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # JSON Lines: one value per line
            else:
                return self.stamp.json_value(value) + trailing
            lines = [self.stamp.json(line) if line.strip() else line for line in _lines(body)]
        else:
            lines = [self.stamp.csv(line) if line.strip() else line for line in _lines(body)]
        return b"\n".join(lines) + trailing


# ---------------------------------------------------------------- data capture


def capture_manifest(prefix: str, names: list[str]) -> bytes:
    """A manifest of SPEC §4.3: ``[{"prefix": "s3://.../"}, "name", ...]``."""
    return orjson.dumps([{"prefix": prefix}, *names])
