"""Ground-truth records (SPEC §3.4): one JSON object per line, under the hour they were collected.

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "aaaa-bbbb-cccc"}, "eventVersion": "0"}

``eventMetadata.eventId`` holds the id of the inference the label belongs to
(the capture's ``inferenceId``, else its ``eventId``). Files live under
``{ground_truth_uri}/yyyy/mm/dd/hh/*.jsonl``, the hour being when the labels were
collected. :func:`encode_pairs` turns a batch of (inference id, label) pairs into
one such file, to be written at :func:`ground_truth_key`
(:mod:`modelmon.storage.ground_truth` reads and writes them).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelmon.errors import InputError

ENCODINGS = ("CSV", "JSON")
EVENT_VERSION = "0"


@dataclass(frozen=True)
class GroundTruthRecord:
    """One label: the inference id it belongs to, its data and encoding."""

    event_id: str
    data: str
    encoding: str = "CSV"
    inference_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"eventId": self.event_id}
        if self.inference_time:
            meta["inferenceTime"] = self.inference_time
        return {
            "groundTruthData": {"data": self.data, "encoding": self.encoding},
            "eventMetadata": meta,
            "eventVersion": EVENT_VERSION,
        }

    def to_line(self) -> str:
        """The record as one compact JSON line (with its line break)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


def label_text(label: Any) -> str:
    """A label as the ``data`` text of a CSV-encoded record (``1``, ``0.5``, ``cat``)."""
    if isinstance(label, bool):
        return "1" if label else "0"
    if isinstance(label, int):
        return str(label)
    if isinstance(label, float):
        if not math.isfinite(label):
            raise InputError(f"a label must be a finite number or a string, got {label!r}")
        return repr(label)
    if isinstance(label, str):
        if not label.strip():
            raise InputError("a label must not be empty")
        return label
    raise InputError(f"a label must be a string or a number, got {type(label).__name__}")


def parse_record(
    value: Any, source: str | None = None, line: int | None = None
) -> GroundTruthRecord:
    """A parsed JSON object as a :class:`GroundTruthRecord`; InputError naming source and line."""

    def fail(reason: str, field: str | None = None) -> InputError:
        return InputError(reason, source=source, line=line, field=field)

    if not isinstance(value, dict):
        raise fail("a ground-truth record must be a JSON object")
    truth = value.get("groundTruthData")
    if not isinstance(truth, dict):
        raise fail("the record has no groundTruthData object", "groundTruthData")
    data = truth.get("data")
    if isinstance(data, bool) or not isinstance(data, str | int | float):
        raise fail("groundTruthData.data must be a string", "groundTruthData.data")
    encoding = truth.get("encoding", "CSV")
    if not isinstance(encoding, str) or encoding.upper() not in ENCODINGS:
        raise fail(
            f"groundTruthData.encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}",
            "groundTruthData.encoding",
        )
    meta = value.get("eventMetadata")
    if not isinstance(meta, dict):
        raise fail("the record has no eventMetadata object", "eventMetadata")
    event_id = meta.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise fail("eventMetadata.eventId must be a non-empty string", "eventMetadata.eventId")
    inference_time = meta.get("inferenceTime")
    return GroundTruthRecord(
        event_id,
        data if isinstance(data, str) else json.dumps(data),
        encoding.upper(),
        inference_time if isinstance(inference_time, str) else None,
    )


def parse_line(
    raw: bytes | str, source: str | None = None, line: int | None = None
) -> GroundTruthRecord:
    """One line of a ground-truth file; InputError naming ``source`` and ``line`` when bad."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = getattr(err, "msg", str(err))
        raise InputError(f"not a JSON object: {reason}", source=source, line=line) from None
    return parse_record(value, source, line)


def hour_uri(uri: str, collected_at: datetime) -> str:
    """``{uri}/yyyy/mm/dd/hh`` of the UTC hour ``collected_at`` falls in."""
    if collected_at.tzinfo is None:
        collected_at = collected_at.replace(tzinfo=UTC)
    return f"{uri.rstrip('/')}/{collected_at.astimezone(UTC):%Y/%m/%d/%H}"


def ground_truth_key(uri: str, collected_at: datetime) -> str:
    """Where a new batch of labels collected at ``collected_at`` goes:
    ``{uri}/yyyy/mm/dd/hh/{uuid4}.jsonl``."""
    return f"{hour_uri(uri, collected_at)}/{uuid.uuid4()}.jsonl"


def encode_pairs(pairs: Iterable[tuple[str, Any]]) -> tuple[bytes, int]:
    """(inference id, label) pairs as ground-truth JSON Lines; (the bytes, records).

    One CSV-encoded record per pair. An empty batch, an empty id or a label that
    is not a string or finite number is refused (InputError naming the pair's
    0-based index).
    """
    lines = []
    for index, pair in enumerate(pairs):
        try:
            event_id, label = pair
        except (TypeError, ValueError):
            raise InputError(
                f"pair {index}: expected (inference id, label), got {pair!r:.80}"
            ) from None
        if not isinstance(event_id, str) or not event_id.strip():
            raise InputError(f"pair {index}: the inference id must be a non-empty string")
        try:
            data = label_text(label)
        except InputError as err:
            raise InputError(f"pair {index}: {err}") from None
        lines.append(GroundTruthRecord(event_id, data).to_line())
    if not lines:
        raise InputError("no (inference id, label) pairs to write")
    return "".join(lines).encode("utf-8"), len(lines)
