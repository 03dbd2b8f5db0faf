"""Events from the request path carry epoch seconds and no event id: the writer fills both."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from modelmon.serving.capture import CaptureWriter


def test_writer_fills_event_ids_and_times(objects, tmp_path, make_event, published) -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    with CaptureWriter(tmp_path / "spool") as writer:
        for i in range(2100):  # more than one pool of ids
            writer.submit(make_event(i, event_id=None, inference_time=moment.timestamp()))
    records = [r for file_records in published().values() for r in file_records]
    assert len(records) == 2100
    ids = [r["eventMetadata"]["eventId"] for r in records]
    assert len(set(ids)) == 2100
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert {r["eventMetadata"]["inferenceTime"] for r in records} == {"2024-05-06T07:08:09Z"}
