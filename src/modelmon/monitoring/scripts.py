"""User scripts of a monitoring job: the record preprocessor and the post-analytics processor.

The contracts are SageMaker's (SPEC §5.2–5.3):

* A record preprocessor defines ``preprocess_handler(inference_record)`` or
  ``preprocess_handler(inference_record, logger)`` (chosen by whether a parameter
  named ``logger`` exists). It is called once per record: with a
  :class:`CapturedData` for ``sagemakerCaptureJson`` data, the raw line (a
  ``str`` without its line break) for ``csv`` and the parsed object for
  ``json``. It returns a flat dict ``{column: value}`` (one row; key order is
  column order), ``[]`` to drop the record, or, as an extension, a list of
  dicts (several rows). Captured records whose ``eventMetadata.invocationSource``
  is ``ShadowExperiment`` never reach the handler. The rows are streamed to a
  JSON Lines file, which is what gets analyzed.
* A post-analytics processor defines ``postprocess_handler()`` without
  arguments; it runs after the analysis files are written.

Error messages begin with SageMaker's own strings (the constants below);
details a user needs to find the problem (the record's file and line, the
original exception) follow in parentheses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any

import orjson

from modelmon.analysis.readers import DatasetFormat, iter_capture_records
from modelmon.analysis.readers.jsonl import iter_json_records
from modelmon.errors import InputError, ModelmonError
from modelmon.storage.files import open_input

PREPROCESS_HANDLER_INVALID = "Preprocess Handler not implemented correctly in customer script."
PREPROCESS_RAISED = (
    "There is an exception raised in preprocessor script. "
    "Please double check the preprocessor script."
)
PREPROCESS_FORMAT_UNSUPPORTED = "Preprocessor script not supported for format {}"
POSTPROCESS_HANDLER_INVALID = (
    "PostProcess Handler not implemented correctly in customer analysis script."
)
POSTPROCESS_RAISED = "There is an exception raised in post-analytics processor script."

PREPROCESS_HANDLER = "preprocess_handler"
POSTPROCESS_HANDLER = "postprocess_handler"
SHADOW = "ShadowExperiment"

log = logging.getLogger("modelmon.monitoring.scripts")
script_logger = logging.getLogger("modelmon.monitoring.preprocessor")
"""The ``logger`` a two-parameter ``preprocess_handler`` receives."""

# -- SageMaker's inference_record classes (key names as in the developer guide) -------

KEY_EVENT_METADATA = "eventMetadata"
KEY_EVENT_METADATA_EVENT_ID = "eventId"
KEY_EVENT_METADATA_INFERENCE_ID = "inferenceId"
KEY_EVENT_METADATA_EVENT_TIME = "inferenceTime"
KEY_EVENT_METADATA_CUSTOM_ATTR = "customAttributes"
KEY_EVENT_METADATA_INVOCATION_SOURCE = "invocationSource"
KEY_EVENTDATA_ENCODING = "encoding"
KEY_EVENTDATA_DATA = "data"
KEY_GROUND_TRUTH_DATA = "groundTruthData"
KEY_EVENTDATA = "captureData"
KEY_EVENTDATA_ENDPOINT_INPUT = "endpointInput"
KEY_EVENTDATA_ENDPOINT_OUTPUT = "endpointOutput"
KEY_EVENTDATA_BATCH_OUTPUT = "batchTransformOutput"
KEY_EVENTDATA_OBSERVED_CONTENT_TYPE = "observedContentType"
KEY_EVENTDATA_MODE = "mode"
KEY_EVENT_VERSION = "eventVersion"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class EventMetadata:
    """``eventMetadata`` of a captured record."""

    def __init__(self, event_metadata_dict: dict[str, Any]) -> None:
        self.event_id = event_metadata_dict.get(KEY_EVENT_METADATA_EVENT_ID)
        self.event_time = event_metadata_dict.get(KEY_EVENT_METADATA_EVENT_TIME)
        self.custom_attribute = event_metadata_dict.get(KEY_EVENT_METADATA_CUSTOM_ATTR)
        self.inference_id = event_metadata_dict.get(KEY_EVENT_METADATA_INFERENCE_ID)
        self.invocation_source = event_metadata_dict.get(KEY_EVENT_METADATA_INVOCATION_SOURCE)


class EventData:
    """One side of a captured record (``data`` is the text as captured: CSV, JSON or base64)."""

    def __init__(self, data_dict: dict[str, Any]) -> None:
        self.encoding = data_dict.get(KEY_EVENTDATA_ENCODING)
        self.data = data_dict.get(KEY_EVENTDATA_DATA)
        self.observedContentType = data_dict.get(KEY_EVENTDATA_OBSERVED_CONTENT_TYPE)
        self.mode = data_dict.get(KEY_EVENTDATA_MODE)

    def as_dict(self) -> dict[str, Any]:
        return {
            KEY_EVENTDATA_ENCODING: self.encoding,
            KEY_EVENTDATA_DATA: self.data,
            KEY_EVENTDATA_OBSERVED_CONTENT_TYPE: self.observedContentType,
            KEY_EVENTDATA_MODE: self.mode,
        }


class CapturedData:
    """A captured record as a preprocessor sees it (SageMaker's ``inference_record``)."""

    def __init__(self, event_dict: dict[str, Any]) -> None:
        self.event_metadata: EventMetadata | None = None
        self.endpoint_input: EventData | None = None
        self.endpoint_output: EventData | None = None
        self.batch_transform_output: EventData | None = None
        self.ground_truth: EventData | None = None
        self.event_version: Any = None
        self.event_dict = event_dict
        if KEY_EVENT_METADATA in event_dict:
            self.event_metadata = EventMetadata(_mapping(event_dict[KEY_EVENT_METADATA]))
        capture = _mapping(event_dict.get(KEY_EVENTDATA))
        if KEY_EVENTDATA_ENDPOINT_INPUT in capture:
            self.endpoint_input = EventData(_mapping(capture[KEY_EVENTDATA_ENDPOINT_INPUT]))
        if KEY_EVENTDATA_ENDPOINT_OUTPUT in capture:
            self.endpoint_output = EventData(_mapping(capture[KEY_EVENTDATA_ENDPOINT_OUTPUT]))
        if KEY_EVENTDATA_BATCH_OUTPUT in capture:
            self.batch_transform_output = EventData(_mapping(capture[KEY_EVENTDATA_BATCH_OUTPUT]))
        if KEY_GROUND_TRUTH_DATA in event_dict:
            self.ground_truth = EventData(_mapping(event_dict[KEY_GROUND_TRUTH_DATA]))
        if KEY_EVENT_VERSION in event_dict:
            self.event_version = event_dict[KEY_EVENT_VERSION]

    def as_dict(self) -> dict[str, Any]:
        return self.event_dict

    def __str__(self) -> str:
        return str(self.as_dict())


# -- loading scripts ---------------------------------------------------------------


class ScriptError(ModelmonError):
    """A user script that cannot be loaded or run; ``str(err)`` is the failure reason."""


def _detail(message: str, detail: str | None) -> str:
    return f"{message} ({detail})" if detail else message


def _error_text(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def load_module(path: str, *, raised: str) -> ModuleType:
    """Import the script at ``path`` under a fresh module name.

    Its directory is on ``sys.path`` while it is imported (so it may import
    modules beside it). An exception in the script becomes a :class:`ScriptError`
    that starts with ``raised``.
    """
    if not os.path.isfile(path):
        raise InputError("no such script", source=path)
    name = f"modelmon_user_script_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError("cannot be imported as a Python script", source=path)
    module = importlib.util.module_from_spec(spec)
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(name, None)
        log.error("importing %s failed", path, exc_info=True)
        raise ScriptError(_detail(raised, f"{path}: {_error_text(err)}")) from err
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
    return module


def _parameters(handler: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(handler).parameters)
    except ValueError:  # no signature (some builtins)
        return set()


def _accepts(handler: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    try:
        inspect.signature(handler).bind(*args, **kwargs)
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume it fits
        return True
    return True


class Preprocessor:
    """A loaded ``preprocess_handler``: call it with one record."""

    def __init__(
        self, handler: Callable[..., Any], *, path: str, logger: logging.Logger | None = None
    ) -> None:
        self.handler = handler
        self.path = path
        self.logger = logger or script_logger
        self.wants_logger = "logger" in _parameters(handler)

    def __call__(self, record: Any, where: str | None = None) -> Any:
        """The handler's result for ``record``; ``where`` names the record in errors."""
        try:
            if self.wants_logger:
                return self.handler(record, logger=self.logger)
            return self.handler(record)
        except Exception as err:
            log.error("preprocess_handler raised for the record at %s", where or "?", exc_info=True)
            detail = f"{where}: {_error_text(err)}" if where else _error_text(err)
            raise ScriptError(_detail(PREPROCESS_RAISED, detail)) from err


def load_preprocessor(path: str, logger: logging.Logger | None = None) -> Preprocessor:
    """The ``preprocess_handler`` of the script at ``path``, ready to call with a record."""
    module = load_module(path, raised=PREPROCESS_RAISED)
    handler = getattr(module, PREPROCESS_HANDLER, None)
    expected = (
        f"{path} must define preprocess_handler(inference_record) or "
        "preprocess_handler(inference_record, logger)"
    )
    if not callable(handler):
        raise ScriptError(_detail(PREPROCESS_HANDLER_INVALID, expected))
    wants_logger = "logger" in _parameters(handler)
    fits = _accepts(handler, None, logger=None) if wants_logger else _accepts(handler, None)
    if not fits:
        raise ScriptError(_detail(PREPROCESS_HANDLER_INVALID, expected))
    return Preprocessor(handler, path=path, logger=logger)


def run_postprocessor(path: str) -> None:
    """Import the script at ``path`` and call its ``postprocess_handler()``."""
    module = load_module(path, raised=POSTPROCESS_RAISED)
    handler = getattr(module, POSTPROCESS_HANDLER, None)
    if not callable(handler) or not _accepts(handler):
        raise ScriptError(
            _detail(
                POSTPROCESS_HANDLER_INVALID,
                f"{path} must define postprocess_handler() taking no arguments",
            )
        )
    try:
        handler()
    except Exception as err:
        log.error("postprocess_handler raised", exc_info=True)
        raise ScriptError(_detail(POSTPROCESS_RAISED, f"{path}: {_error_text(err)}")) from err


# -- running a preprocessor over a dataset -------------------------------------------


@dataclass
class PreprocessCounts:
    """What a preprocessing pass saw and wrote."""

    records: int = 0  # records given to the handler
    shadow: int = 0  # captured records skipped as ShadowExperiment traffic
    dropped: int = 0  # records for which the handler returned []
    rows: int = 0  # rows written


def _csv_lines(uri: str, header: bool) -> Iterator[tuple[str, str]]:
    with open_input(uri) as handle:
        first = True
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("not UTF-8 text", source=uri, line=lineno) from None
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if first and header:
                first = False
                continue
            first = False
            yield f"{uri}, line {lineno}", line


def _records(
    files: Sequence[str], fmt: DatasetFormat, format_name: str, counts: PreprocessCounts
) -> Iterator[tuple[str, Any]]:
    """(where, inference_record) for every record the handler is to see."""
    for uri in files:
        if fmt.kind == "capture":
            for lineno, record in iter_capture_records(uri):
                event = _mapping(record.get(KEY_EVENT_METADATA))
                if event.get(KEY_EVENT_METADATA_INVOCATION_SOURCE) == SHADOW:
                    counts.shadow += 1
                    continue
                yield f"{uri}, line {lineno}", CapturedData(record)
        elif fmt.kind == "csv":
            yield from _csv_lines(uri, fmt.header)
        elif fmt.kind == "json":
            for index, (lineno, obj) in enumerate(iter_json_records(uri)):
                where = f"{uri}, line {lineno}" if lineno is not None else f"{uri}, item {index}"
                yield where, obj
        else:
            raise ScriptError(PREPROCESS_FORMAT_UNSUPPORTED.format(format_name))


def _default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars without OPT_SERIALIZE_NUMPY cover
    if callable(item):
        return item()
    return str(value)


_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


def _write_row(out: IO[bytes], row: dict[Any, Any], where: str) -> None:
    try:
        out.write(orjson.dumps(row, default=_default, option=_OPTIONS))
    except (TypeError, orjson.JSONEncodeError) as err:
        raise ScriptError(
            f"preprocess_handler returned a row that cannot be written as JSON for the record "
            f"at {where}: {err}"
        ) from err


def check_supported(fmt: DatasetFormat, format_name: str) -> None:
    """Raise the SageMaker error when a preprocessor cannot read this format (Parquet)."""
    if fmt.kind not in ("capture", "csv", "json"):
        raise ScriptError(PREPROCESS_FORMAT_UNSUPPORTED.format(format_name))


def preprocess_dataset(
    preprocessor: Callable[[Any, str], Any],
    files: Sequence[str],
    fmt: DatasetFormat,
    output: str,
    *,
    format_name: str | None = None,
) -> PreprocessCounts:
    """Run ``preprocessor`` over every record of ``files``; write its rows to ``output``.

    ``output`` (a local path) becomes a JSON Lines file, one object per row, in
    the handler's key order. Records stream through: memory stays bounded
    whatever the dataset's size.
    """
    name = format_name or fmt.kind
    check_supported(fmt, name)
    counts = PreprocessCounts()
    with open(output, "wb") as out:
        for where, record in _records(files, fmt, name, counts):
            counts.records += 1
            result = preprocessor(record, where)
            if isinstance(result, dict):
                _write_row(out, result, where)
                counts.rows += 1
            elif isinstance(result, list) and all(isinstance(r, dict) for r in result):
                if not result:
                    counts.dropped += 1
                for row in result:
                    _write_row(out, row, where)
                    counts.rows += 1
            else:
                raise ScriptError(
                    f"preprocess_handler returned {type(result).__name__} for the record at "
                    f"{where}; expected a flat dict of column values, or [] to drop the record"
                )
    return counts
