"""Request context: request id, access log, metrics, and the last-resort 500.

A pure ASGI middleware (no `BaseHTTPMiddleware`): it sits on every request, so it must stay cheap.
"""

from __future__ import annotations

import re
import secrets
import time

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gerbang.kit.log import get_logger
from gerbang.ops.metrics import HttpMetrics

REQUEST_ID_HEADER = b"x-request-id"
# A client-sent id is echoed only if it is short and plain, so it is safe in logs and headers.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")

log = get_logger("gerbang.http")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return "unmatched"  # not the raw path: unknown paths must not explode label cardinality
    return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = self._request_id(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            log.exception("http.unhandled_error", method=scope["method"], path=scope["path"])
            if not response_started:
                await self._internal_error(send, request_id)
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            if self.access_log:
                log.info(
                    "http.request",
                    method=scope["method"],
                    route=route,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                if _SANE_REQUEST_ID.fullmatch(value):
                    return bytes(value).decode()
                break
        return secrets.token_hex(16)

    @staticmethod
    async def _internal_error(send: Send, request_id: str) -> None:
        body = orjson.dumps(
            {"error": "internal_error", "detail": "An unexpected error occurred.", "request_id": request_id}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
