"""A metric series as a small chart of block characters (for the terminal)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` as a timedelta (ValueError otherwise)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def auto_period(span: dt.timedelta, columns: int) -> int:
    """A period (whole minutes, at least 60 s) giving at most ``columns`` periods in ``span``."""
    seconds = span.total_seconds() / max(columns, 1)
    return max(60, math.ceil(seconds / 60) * 60)


def render_chart(
    points: Sequence[tuple[dt.datetime, float]],
    start: dt.datetime,
    end: dt.datetime,
    period: int,
    *,
    height: int = 8,
) -> list[str]:
    """Lines of a column chart: one column per period from ``start`` to ``end`` (blank where
    there is no datapoint), ``height`` rows of eighth-blocks, the value range on the left
    and the first and last time below."""
    count = max(1, math.ceil((end - start).total_seconds() / period))
    columns: list[float | None] = [None] * count
    for stamp, value in points:
        index = int((stamp - start).total_seconds() // period)
        if 0 <= index < count:
            columns[index] = value
    values = [v for v in columns if v is not None]
    if not values:
        return ["(no datapoints in this range)"]
    low, high = min(values), max(values)
    span = high - low
    labels = (f"{high:.4g}", f"{low:.4g}")
    pad = max(len(x) for x in labels)
    lines = []
    for row in range(height, 0, -1):
        cells = []
        for v in columns:
            if v is None:
                cells.append(" ")
                continue
            # the minimum still shows as one eighth, so a datapoint is never invisible
            eighths = 1 + round((v - low) / span * (height * 8 - 1)) if span else height * 4
            fill = eighths - (row - 1) * 8
            cells.append(BLOCKS[max(0, min(8, fill))])
        label = labels[0] if row == height else labels[1] if row == 1 else ""
        lines.append(f"{label:>{pad}} │{''.join(cells)}")
    first = start.strftime("%Y-%m-%d %H:%M")
    last = end.strftime("%Y-%m-%d %H:%M")
    axis = " " * (pad + 2) + first
    gap = pad + 2 + count - len(axis) - len(last)
    lines.append(axis + " " * max(gap, 2) + last)
    return lines
