"""Serializers and deserializers with the SageMaker SDK's names and behaviour."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any


class BaseSerializer:
    CONTENT_TYPE = "application/octet-stream"

    @property
    def content_type(self) -> str:
        return self.CONTENT_TYPE

    def serialize(self, data: Any) -> bytes | str:
        raise NotImplementedError


class IdentitySerializer(BaseSerializer):
    """Bytes or text sent as they are."""

    def __init__(self, content_type: str = "application/octet-stream") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> bytes | str:
        return data


def _row(values: Iterable[Any]) -> str:
    return ",".join(str(v) for v in values)


class CSVSerializer(BaseSerializer):
    """A string as is, a row (list/1-D array) as ``1,2,3``, rows as lines."""

    CONTENT_TYPE = "text/csv"

    def __init__(self, content_type: str = "text/csv") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> str:
        if isinstance(data, str | bytes):
            return data.decode() if isinstance(data, bytes) else data
        if hasattr(data, "tolist"):
            data = data.tolist()
        data = list(data)
        if data and isinstance(data[0], list | tuple):
            return "\n".join(_row(r) for r in data)
        return _row(data)


class JSONSerializer(BaseSerializer):
    """Any JSON-able object (numpy arrays through ``tolist``)."""

    CONTENT_TYPE = "application/json"

    def __init__(self, content_type: str = "application/json") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if hasattr(data, "tolist"):
            data = data.tolist()
        return json.dumps(data)


class BaseDeserializer:
    ACCEPT: tuple[str, ...] = ("*/*",)

    @property
    def accept(self) -> tuple[str, ...]:
        return self.ACCEPT

    def deserialize(self, data: bytes, content_type: str | None) -> Any:
        raise NotImplementedError


class BytesDeserializer(BaseDeserializer):
    def deserialize(self, data: bytes, content_type: str | None) -> bytes:
        return data


class StringDeserializer(BaseDeserializer):
    ACCEPT = ("application/json",)

    def __init__(self, encoding: str = "UTF-8", accept: str = "application/json") -> None:
        self.encoding = encoding
        self.ACCEPT = (accept,)

    def deserialize(self, data: bytes, content_type: str | None) -> str:
        return data.decode(self.encoding)


class CSVDeserializer(BaseDeserializer):
    """Rows of strings, as the SageMaker SDK's CSVDeserializer returns."""

    ACCEPT = ("text/csv",)

    def deserialize(self, data: bytes, content_type: str | None) -> list[list[str]]:
        return list(csv.reader(io.StringIO(data.decode("utf-8"))))


class JSONDeserializer(BaseDeserializer):
    ACCEPT = ("application/json",)

    def deserialize(self, data: bytes, content_type: str | None) -> Any:
        return json.loads(data)
