"""Ground-truth files in the object store: written in a batch, read record by record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from modelmon.formats.ground_truth import (
    GroundTruthRecord,
    encode_pairs,
    ground_truth_key,
    parse_line,
)
from modelmon.storage.files import atomic_write_bytes, open_input


def iter_records(uri: str) -> Iterator[tuple[int, GroundTruthRecord]]:
    """(1-based line number, record) of every non-blank line of a ground-truth file."""
    with open_input(uri) as handle:
        for lineno, raw in enumerate(handle, 1):
            if raw.strip():
                yield lineno, parse_line(raw, uri, lineno)


def write_ground_truth(
    uri: str,
    pairs: Iterable[tuple[str, Any]],
    *,
    collected_at: datetime | None = None,
) -> tuple[str, int]:
    """Write (inference id, label) pairs as one ground-truth file; (its URI, records written).

    The file is ``{uri}/yyyy/mm/dd/hh/{uuid4}.jsonl`` for the hour of
    ``collected_at`` (default: now, UTC) and appears whole (written, then renamed);
    bad pairs are refused before anything is written (see
    :func:`~modelmon.formats.ground_truth.encode_pairs`).
    """
    data, count = encode_pairs(pairs)
    target = ground_truth_key(uri, collected_at or datetime.now(UTC))
    atomic_write_bytes(target, data)
    return target, count
