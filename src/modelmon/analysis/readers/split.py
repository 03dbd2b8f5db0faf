"""Split: the unit of reading that one worker process handles."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Split:
    """One file, or a part of one: a byte range of a local uncompressed CSV file
    (``start``/``end``, cut just after a newline, header excluded, every range
    sharing ``column_names``) or some row groups of a Parquet file.

    ``size`` is the number of bytes the split covers (0 when unknown), a weight
    for progress and scheduling. ``quoted`` is False only for a CSV file known to
    hold no quote character (its ranges are then parsed without quote handling).
    """

    uri: str
    start: int | None = None
    end: int | None = None
    column_names: tuple[str, ...] | None = None
    row_groups: tuple[int, ...] | None = None
    size: int = 0
    quoted: bool = True

    @property
    def is_range(self) -> bool:
        """Whether this split is a byte range of a larger CSV file."""
        return self.start is not None
