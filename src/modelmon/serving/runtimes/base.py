"""What every runtime answers and the protocol the server calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer to one invocation: the response body and its Content-Type."""

    body: bytes
    content_type: str


@runtime_checkable
class Runtime(Protocol):
    """A loaded model. ``invoke`` may be called from several threads at once.

    It raises :class:`~modelmon.serving.runtimes.InvocationError` when the
    request cannot be answered.
    """

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Prediction:
        """Answer one request body sent with ``Content-Type`` and ``Accept`` headers."""
        ...
