"""JSON text exactly as SageMaker's analyzer container writes it.

The container serialises with Jackson's default pretty printer: ``"key" : value``,
two-space indentation for object members, arrays inline (``[ 1.0, 2.0 ]``,
``[ {`` … ``}, {`` … ``} ]``), no trailing newline, and doubles printed the way
Java's ``Double.toString`` prints them (``2048.0``, ``1.0E-4``, ``1.2345678E7``).
Python ``int`` values print as JSON integers and ``float`` values as Java doubles,
so callers choose the JSON number type by the Python type they store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def java_double(value: float) -> str:
    """Format a float as Java's ``Double.toString`` does (shortest round-trip digits).

    Plain notation for magnitudes in [1e-3, 1e7), otherwise ``d.dddE±n``;
    always at least one digit after the point. NaN and infinities follow Java's
    spelling (``NaN``, ``Infinity``, ``-Infinity``).
    """
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        # Python's repr has the same shortest digits and, in this range, the same
        # plain notation with at least one decimal.
        return repr(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    # decimal point position relative to the start of `text` (scientific exponent + 1)
    point = len(digits) + int(exponent)
    prefix = "-" if sign else ""
    mantissa = f"{text[0]}.{text[1:] or '0'}"
    return f"{prefix}{mantissa}E{point - 1}"


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


def _string(value: str) -> str:
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'
    out = ['"']
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Jackson quotes non-numeric doubles by default (QUOTE_NON_NUMERIC_NUMBERS).
        text = java_double(value)
        return f'"{text}"' if not math.isfinite(value) else text
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _write(value: Any, level: int, out: list[str]) -> None:
    if type(value) in _SCALARS:  # the cheap check first
        out.append(_scalar(value))
        return
    if isinstance(value, Mapping):
        if not value:
            out.append("{ }")
            return
        out.append("{")
        first = True
        for key, item in value.items():
            out.append("\n" if first else ",\n")
            first = False
            out.append("  " * (level + 1))
            out.append(_string(str(key)))
            out.append(" : ")
            _write(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if not value:
            out.append("[ ]")
            return
        out.append("[ ")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _write(item, level, out)
        out.append(" ]")
    else:
        out.append(_scalar(value))


def dumps(value: Any) -> str:
    """Serialise ``value`` in the container's pretty-printed JSON (no trailing newline)."""
    out: list[str] = []
    _write(value, 0, out)
    return "".join(out)
