"""What every List* call shares: pages, sort orders and time filters over rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from modelmon.errors import InputError


def paginate(
    items: Sequence[Any], next_token: str | None, max_results: int | None
) -> tuple[Sequence[Any], str | None]:
    """One page of ``items``; tokens are offsets (opaque to clients)."""
    try:
        start = int(next_token) if next_token else 0
    except ValueError as err:
        raise InputError("NextToken is not a token this server gave", field="NextToken") from err
    size = max_results or 100
    if not 1 <= size <= 100:
        raise InputError("MaxResults must be between 1 and 100", field="MaxResults")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def sort_rows(
    rows: list[Any],
    sort_by: str | None,
    sort_order: str | None,
    extra_keys: dict[str, Callable[[Any], Any]] | None = None,
) -> list[Any]:
    """``rows`` in a list call's order: by Name or CreationTime (or an ``extra_keys`` key),
    Descending unless told otherwise."""
    keys: dict[str, Callable[[Any], Any]] = {
        "Name": lambda r: r.name,
        "CreationTime": lambda r: r.creation_time,
        **(extra_keys or {}),
    }
    key = keys.get(sort_by or "CreationTime")
    if key is None:
        raise InputError(f"SortBy must be {' or '.join(keys)}", field="SortBy")
    if sort_order not in (None, "Ascending", "Descending"):
        raise InputError("SortOrder must be Ascending or Descending", field="SortOrder")
    return sorted(rows, key=key, reverse=(sort_order or "Descending") == "Descending")


def filter_time(value: Any, member: str) -> dt.datetime | None:
    """A list filter's time: epoch seconds (AWS JSON) or ISO-8601 (REST); None when absent."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
            return dt.datetime.fromtimestamp(float(value), dt.UTC)
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"expected epoch seconds or an ISO-8601 time, got {value!r}", field=member
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
