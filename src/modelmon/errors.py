"""Errors that carry a message a user can act on.

Every error raised for bad input names the thing at fault (file, line, field)
so the CLI can print it as is and exit non-zero, and the API can answer 4xx.
"""

from __future__ import annotations


class ModelmonError(Exception):
    """Base class of modelmon's own errors; ``str(err)`` is the user-facing message."""


class InputError(ModelmonError):
    """Bad user input: a dataset, a baseline file, an option.

    ``source`` names the file or URI, ``line`` the 1-based line (when known) and
    ``field`` the column or JSON field (when known).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.line = line
        self.field = field
        where = []
        if source:
            where.append(source)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class NotFoundError(ModelmonError):
    """A named resource (model, endpoint, schedule...) does not exist.

    ``aws_code`` is the error code SageMaker's API answers with for it (it says
    ``ValidationException`` for hosting resources, ``ResourceNotFound`` for
    monitoring ones); the REST API answers 404.
    """

    def __init__(self, message: str, *, aws_code: str = "ValidationException") -> None:
        super().__init__(message)
        self.aws_code = aws_code


class ConflictError(ModelmonError):
    """The request conflicts with the current state (a name in use, a busy endpoint)."""

    def __init__(self, message: str, *, aws_code: str = "ValidationException") -> None:
        super().__init__(message)
        self.aws_code = aws_code
