"""Errors with an HTTP status and a stable code, rendered by one handler as `{"error", "detail"}`.

Domain modules declare their own subclasses at the top of their `service.py`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class GerbangError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    commits_transaction: ClassVar[bool] = False
    """True for refusals whose writes must stand (the request's transaction commits, then the error is sent)."""

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}


class BadRequest(GerbangError):
    status_code = 400
    code = "bad_request"


class Unauthorized(GerbangError):
    status_code = 401
    code = "unauthorized"


class Forbidden(GerbangError):
    status_code = 403
    code = "forbidden"


class NotFound(GerbangError):
    status_code = 404
    code = "not_found"


class Conflict(GerbangError):
    status_code = 409
    code = "conflict"


class UnprocessableEntity(GerbangError):
    status_code = 422
    code = "unprocessable"


class ServiceUnavailable(GerbangError):
    status_code = 503
    code = "service_unavailable"


class FieldError(BaseModel):
    field: str
    location: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str
    detail: str
    fields: list[FieldError] | None = None
    request_id: str | None = None
