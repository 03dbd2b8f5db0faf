"""modelmon's errors as HTTP answers: REST status codes and AWS JSON error bodies."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from modelmon.errors import ConflictError, InputError, ModelmonError, NotFoundError


def rest_status(err: ModelmonError) -> tuple[int, str]:
    """(HTTP status, error code) of an error in the REST API."""
    if isinstance(err, NotFoundError):
        return 404, "NotFound"
    if isinstance(err, ConflictError):
        return 409, "Conflict"
    if isinstance(err, InputError):
        return 400, "ValidationError"
    return 500, "InternalFailure"


def aws_code(err: ModelmonError) -> str:
    """The ``__type`` SageMaker's control plane answers for an error."""
    if isinstance(err, NotFoundError | ConflictError):
        return err.aws_code
    if isinstance(err, InputError):
        return "ValidationException"
    return "InternalFailure"


async def modelmon_error(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, ModelmonError)
    status, code = rest_status(err)
    return JSONResponse({"error": code, "message": str(err)}, status_code=status)


async def validation_error(_request: Request, err: Exception) -> JSONResponse:
    """Request bodies that do not fit the shape: 400 naming the member at fault."""
    assert isinstance(err, RequestValidationError)
    problems = err.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    message = f"field {where!r}: {first['msg']}{more}" if where else f"{first['msg']}{more}"
    return JSONResponse({"error": "ValidationError", "message": message}, status_code=400)
