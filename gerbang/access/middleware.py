"""The API's perimeter, in front of every route: the client's address (trusting `X-Forwarded-For` only
from configured proxies), the global and admin allow-lists, rate limits, and the partner request log.

Pure ASGI (no `BaseHTTPMiddleware`): it runs on every request. Paths outside `/api/v1` (health,
metrics, docs) pass untouched; provider callbacks get only the client address.
"""

from __future__ import annotations

import time

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gerbang.access.allow_lists import ADMIN, GLOBAL, AllowLists
from gerbang.access.request_log import PartnerRequest, RequestLogBuffer
from gerbang.kit.crypto import api_key_public_id
from gerbang.kit.netaccess import AllowList, client_address
from gerbang.kit.ratelimit import RateLimit, RateLimiter
from gerbang.kit.time import utcnow

API_PREFIX = "/api/v1/"
# Providers call these from their own networks on their own schedule: never limited, never allow-listed
# here (each provider adapter verifies its callback's signature instead).
EXEMPT_PREFIXES = ("/api/v1/transaction/callback", "/api/v1/transactions/callback", "/api/v1/withdrawals/callback")
ADMIN_PREFIXES = ("/api/v1/admin/", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/me",
                  "/api/v1/auth/logout", "/api/v1/auth/password", "/api/v1/auth/2fa/")  # fmt: skip
LOGIN_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/client/login"})


class Limits:
    """The process's rate limiters; a limit of 0 per minute turns that limiter off."""

    def __init__(self, *, per_ip: int, per_api_key: int, login_per_ip: int) -> None:
        self.ip = RateLimiter(RateLimit(per_ip, 60.0)) if per_ip else None
        self.api_key = RateLimiter(RateLimit(per_api_key, 60.0)) if per_api_key else None
        self.login = RateLimiter(RateLimit(login_per_ip, 60.0)) if login_per_ip else None


def _header(scope: Scope, name: bytes) -> str | None:
    values = [bytes(value).decode("latin-1") for key, value in scope["headers"] if key == name]
    return ", ".join(values) if values else None


async def _refuse(send: Send, status: int, code: str, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"error": code, "detail": detail})
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        lists: AllowLists,
        trusted_proxies: AllowList,
        limits: Limits,
        request_log: RequestLogBuffer,
    ) -> None:
        self.app = app
        self.lists = lists
        self.trusted_proxies = trusted_proxies
        self.limits = limits
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        # Health checks, metrics and docs skip everything: they must stay cheap and always answer.
        if scope["type"] != "http" or not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = _header(scope, b"x-forwarded-for") if not self.trusted_proxies.is_empty else None
        ip = client_address(peer, forwarded, self.trusted_proxies)
        state = scope.setdefault("state", {})
        state["client_ip"] = ip
        if path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return

        refusal = self._check(scope, path, ip)
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        await self._call_and_log(scope, receive, send, state, ip)

    def _check(self, scope: Scope, path: str, ip: str | None) -> tuple[int, str, str, list[tuple[bytes, bytes]]] | None:
        if not self.lists.loaded:
            return 503, "access_lists_unavailable", "the allow-lists could not be read yet; retry shortly", []
        if not self._allowed(GLOBAL, ip) or (path.startswith(ADMIN_PREFIXES) and not self._allowed(ADMIN, ip)):
            return 403, "ip_not_allowed", f"requests from {ip} are not allowed here", []
        checks = [(self.limits.ip, f"ip:{ip}")]
        if path in LOGIN_PATHS:
            checks.append((self.limits.login, f"login:{ip}"))
        api_key = _header(scope, b"x-api-key")
        public_id = api_key_public_id(api_key) if api_key else None
        if public_id:  # a malformed key is refused by authentication without a lookup; the IP limit covers it
            checks.append((self.limits.api_key, f"key:{public_id}"))
        for limiter, key in checks:
            if limiter is None:
                continue
            decision = limiter.check(key)
            if not decision.allowed:
                headers = [(b"retry-after", str(decision.retry_after).encode()),
                           (b"x-ratelimit-limit", str(decision.limit).encode())]  # fmt: skip
                return 429, "rate_limited", f"too many requests; retry in {decision.retry_after} s", headers
        return None

    def _allowed(self, scope_name: str, ip: str | None) -> bool:
        allow_list = self.lists.scope(scope_name)
        return allow_list.is_empty or (ip is not None and allow_list.allows(ip))

    async def _call_and_log(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, object], ip: str | None
    ) -> None:
        started = time.perf_counter()
        status = 500
        error_body = b""

        async def capture(message: Message) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and len(error_body) < 4096:
                error_body += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            partner_request = state.get("partner_request")
            if isinstance(partner_request, PartnerRequest):
                self.request_log.add(
                    at=utcnow(), request=partner_request, method=scope["method"], path=scope["path"], status=status,
                    latency_us=int((time.perf_counter() - started) * 1_000_000), error_code=_error_code(error_body),
                    ip=ip, request_id=structlog.contextvars.get_contextvars().get("request_id"),
                )  # fmt: skip


def _error_code(body: bytes) -> str | None:
    if not body:
        return None
    try:
        code = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(code)[:64] if code else None
