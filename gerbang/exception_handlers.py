"""One rendering of every error: `{"error": "<stable_code>", "detail": "<message>"}`."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gerbang.exceptions import ErrorBody, FieldError, GerbangError

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def error_response(status: int, body: ErrorBody, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _gerbang_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, GerbangError):  # registered for this type only
        raise exc
    return error_response(exc.status_code, ErrorBody(error=exc.code, detail=exc.detail), exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for this type only
        raise exc
    fields = []
    for error in exc.errors():
        location, *path = error.get("loc", ("body",))
        fields.append(
            FieldError(
                field=".".join(str(p) for p in path) or str(location), location=str(location), message=error["msg"]
            )
        )
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return error_response(422, ErrorBody(error="validation_error", detail=detail, fields=fields))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # registered for this type only
        raise exc
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    return error_response(exc.status_code, ErrorBody(error=code, detail=detail), exc.headers)


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GerbangError, _gerbang_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
