"""The asynchronous inference queue's table (InvokeEndpointAsync requests).

One row per accepted request; ``(endpoint_name, inference_id)`` is unique, so
the same inference id sent twice is queued (and processed) once. ``id`` is the
UUID of the result objects, fixed when the request is queued. ``status`` moves
``Pending`` → ``InProgress`` (``owner`` holds it until ``lease_expires_at``; a
crashed owner's row is taken again) → ``Completed`` or ``Failed``, recorded once
the output (or failure) object is written and the notification published.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from modelmon.db.models import Base, UtcDateTime, utcnow


class AsyncInvocationRow(Base):
    """One InvokeEndpointAsync request in the queue."""

    __tablename__ = "async_invocations"
    __table_args__ = (
        UniqueConstraint("endpoint_name", "inference_id", name="uq_async_invocations_inference"),
        Index("ix_async_invocations_work", "status", "endpoint_name", "received_time"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_name: Mapped[str] = mapped_column(String(63))
    inference_id: Mapped[str] = mapped_column(String(64))
    input_location: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    accept: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    custom_attributes: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    output_location: Mapped[str] = mapped_column(Text)
    failure_location: Mapped[str] = mapped_column(Text)
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    received_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="Pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    response_content_type: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
