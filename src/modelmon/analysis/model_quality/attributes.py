"""Attributes: where a prediction, probability, label or id is found.

An attribute is a CSV column index (``"0"``), a column name (``"probability"``,
Spark's ``"_c1"``) or a JSONPath into a JSON payload or record
(``"$.prediction"``, ``"$.probabilities[1]"``; a plain key is ``$.key``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from modelmon.analysis.readers.payload import _MISSING, RecordError, csv_rows, select
from modelmon.errors import InputError


@dataclass(frozen=True)
class Attribute:
    """A parsed attribute; ``role`` names the variable it came from, for messages."""

    text: str
    role: str

    @classmethod
    def parse(cls, text: str | None, role: str) -> Attribute | None:
        """None when ``text`` is unset or blank."""
        if text is None or not str(text).strip():
            return None
        return cls(str(text).strip(), role)

    @property
    def is_path(self) -> bool:
        return self.text.startswith("$")

    @property
    def index(self) -> int | None:
        """The column index (``"3"`` and ``"_c3"``), else None."""
        if self.text.isdigit():
            return int(self.text)
        if self.text.startswith("_c") and self.text[2:].isdigit():
            return int(self.text[2:])
        return None

    def __str__(self) -> str:
        return f"{self.role} {self.text!r}"

    def column(self, table: pa.Table, source: str) -> pa.Array:
        """The column of ``table`` this attribute names; InputError naming the columns there are."""
        names = table.column_names
        if self.is_path:
            key = self.text[1:].lstrip(".")
            if key in names:
                return table.column(key).combine_chunks()
        elif self.text in names:
            return table.column(self.text).combine_chunks()
        index = self.index
        if index is not None and index < len(names):
            return table.column(index).combine_chunks()
        shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
        raise InputError(f"{self} names no column (the columns are: {shown})", source=source)

    def value(self, document: Any) -> Any:
        """The value this attribute selects in a parsed JSON document (RecordError if none)."""
        found = select(document, self.text)
        if found is _MISSING:
            raise RecordError(f"{self} selects nothing", field=self.text)
        return found


def scalar_text(value: Any, what: str) -> str:
    """A selected JSON value as text: a scalar, or a list holding one scalar."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise RecordError(f"{what} is not a single value: {json.dumps(value)[:80]}")


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
        return cell[1:-1].replace('""', '"')
    return cell


def payload_value(part: Mapping[str, Any] | None, attribute: Attribute | None, what: str) -> str:
    """The value ``attribute`` selects in one captured payload (``endpointOutput``,
    ``groundTruthData``): CSV by column index (default 0), JSON by JSONPath (default: the
    whole payload, which must be a single value). Raises RecordError."""
    if not isinstance(part, Mapping):
        raise RecordError(f"the record has no {what}")
    data = part.get("data")
    if data is None:
        raise RecordError(f"{what} has no data", field=f"{what}.data")
    encoding = str(part.get("encoding") or "CSV").upper()
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, TypeError):
            raise RecordError(f"{what} data is not base64 UTF-8 text") from None
        media = str(part.get("observedContentType") or "").split(";")[0].strip().lower()
        encoding = "JSON" if "json" in media else "CSV"
    if encoding == "JSON":
        try:
            document = json.loads(data) if isinstance(data, str) else data
        except json.JSONDecodeError as err:
            raise RecordError(f"{what} data is not valid JSON: {err.msg}") from None
        if attribute is None:
            return scalar_text(document, what)
        if attribute.index is not None and not attribute.is_path:
            selected = select(document, f"[{attribute.index}]")
        else:
            selected = select(document, attribute.text)
        if selected is _MISSING:
            raise RecordError(f"{attribute} selects nothing in {what}", field=attribute.text)
        return scalar_text(selected, f"the value {attribute} selects in {what}")
    if encoding != "CSV":
        raise RecordError(f"unknown {what} encoding {encoding!r}")
    if not isinstance(data, str):
        raise RecordError(f"{what} CSV data is not a string")
    rows = csv_rows(data)
    if len(rows) != 1:
        raise RecordError(
            f"{what} holds {len(rows)} rows; model quality needs one value per record"
        )
    index = 0 if attribute is None else attribute.index
    if index is None:
        raise RecordError(
            f"{attribute} must be a column index to read CSV {what} (or a JSONPath for JSON)"
        )
    row = rows[0]
    if index >= len(row):
        raise RecordError(f"{what} has {len(row)} column(s); {attribute} names column {index}")
    return _unquote(row[index])
