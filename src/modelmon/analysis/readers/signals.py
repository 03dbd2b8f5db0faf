"""Exceptions a reader raises to ask its caller to restart the read differently."""

from __future__ import annotations

from collections.abc import Iterable

from modelmon.errors import ModelmonError


class SchemaChange(ModelmonError):
    """Values of ``columns`` stopped converting to the type inferred from the first block.

    Arrow fixes a column's type after the first block it reads. The caller
    restarts the whole read with these columns in ``string_columns``, so every
    value of a column is classified the same way.
    """

    def __init__(self, columns: Iterable[str], source: str | None = None) -> None:
        self.columns = sorted(set(columns))
        self.source = source
        where = f"{source}: " if source else ""
        names = ", ".join(repr(c) for c in self.columns)
        super().__init__(f"{where}the type of column(s) {names} changes after the first block")


class SplitUnsafe(ModelmonError):
    """A byte range of a CSV file did not start on a record boundary.

    Ranges are cut at a newline outside quotes, found by counting quote
    characters; a stray quote inside an unquoted field can fool that count. The
    caller re-plans with ``plan_splits(..., byte_ranges=False)`` and restarts.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(
            f"{source}: a byte range of this file starts inside a quoted field; "
            "read it as one split"
        )
