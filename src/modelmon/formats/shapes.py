"""The building blocks of SageMaker's API shapes, shared by every registry.

Request shapes are pydantic models with SageMaker's member names; :func:`parse`
validates a document against one and names the member at fault.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelmon.errors import InputError

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
S3Uri = Annotated[str, Field(max_length=1024)]
Tag = dict[str, str]
ShapeT = TypeVar("ShapeT", bound=BaseModel)


class Shape(BaseModel):
    """A request shape: unknown members are kept, members by name or alias."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def parse(shape: type[ShapeT], document: Any) -> ShapeT:
    """Validate ``document`` as ``shape``; errors name the member at fault (InputError)."""
    if not isinstance(document, dict):
        raise InputError(f"the request body must be a JSON object for {shape.__name__}")
    try:
        return shape.model_validate(document)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or shape.__name__
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise InputError(f"{first['msg']}{more}", field=where) from None
