"""The two ways a model fails: it cannot be loaded, or one invocation fails."""

from __future__ import annotations

from modelmon.errors import ModelmonError


class ModelLoadError(ModelmonError):
    """The model could not be loaded; ``str(err)`` names the artifact and the reason.

    The server shows it as the endpoint's ``FailureReason``.
    """


class NoModelFileError(ModelLoadError):
    """No file a runtime can load is in the model directory (internal refinement)."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(f"{name}: no model file found; expected one of {expected}")
        self.name = name
        self.expected = expected


class InvocationError(Exception):
    """One invocation failed, as the model container would answer it.

    ``status`` is the HTTP status the container answers: 400 malformed payload,
    415 unsupported Content-Type, 406 unsupported Accept, 500 the model (or the
    user's inference script) raised. ``message`` names what is at fault.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"InvocationError({self.status}, {self.message!r})"


def model_raised(err: BaseException, where: str = "the model") -> InvocationError:
    """The 500 error for an exception raised by model code (``where`` names that code)."""
    message = str(err).split("\nStack trace:", 1)[0].strip()  # XGBoost appends one
    return InvocationError(500, f"{where} raised {type(err).__name__}: {message}")
