"""Builders of captured records and ground-truth files for the model-quality tests (real files)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ENDPOINT = "mq-endpoint"


def capture_record(
    event_id: str,
    moment: datetime,
    output: str,
    *,
    inference_id: str | None = None,
    encoding: str = "CSV",
    content_type: str = "text/csv",
) -> dict[str, Any]:
    meta = {"eventId": event_id, "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id is not None:
        meta["inferenceId"] = inference_id
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1.5,2,abc",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": content_type,
                "mode": "OUTPUT",
                "data": output,
                "encoding": encoding,
            },
        },
        "eventMetadata": meta,
        "eventVersion": "0",
    }


def write_capture(root: Path, hour: datetime, records: Sequence[dict[str, Any]]) -> Path:
    """One capture file of ``records`` under ``{root}/{ENDPOINT}/AllTraffic/yyyy/mm/dd/hh/``."""
    folder = root / ENDPOINT / "AllTraffic" / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hour:%M-%S}-000-{uuid.uuid4()}.jsonl"
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    return path


def write_labels(
    root: Path, collected: datetime, pairs: Iterable[tuple[str, str]], name: str | None = None
) -> Path:
    """A ground-truth file of (id, label) pairs in the hour folder of ``collected``."""
    folder = root / collected.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{uuid.uuid4()}.jsonl")
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": label, "encoding": "CSV"},
                "eventMetadata": {"eventId": event_id},
                "eventVersion": "0",
            }
        )
        + "\n"
        for event_id, label in pairs
    ]
    path.write_text("".join(lines))
    return path


def seconds(start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(seconds=7 * i) for i in range(n)]
