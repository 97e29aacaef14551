"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gerbang import __version__, api
from gerbang.config import ConfigurationError, Settings
from gerbang.db import Database
from gerbang.exception_handlers import add_exception_handlers
from gerbang.kit.crypto import KeyRing
from gerbang.middleware import RequestContextMiddleware
from gerbang.migration import head_revision
from gerbang.ops import endpoints as ops_endpoints
from gerbang.ops.metrics import HttpMetrics

DESCRIPTION = """
gerbang routes Indonesian payment orders (QRIS, virtual accounts, e-wallets) to upstream providers,
credits partners through a double-entry ledger, and notifies them by signed webhooks.

Every error has the body `{"error": "<stable_code>", "detail": "<message>"}`; every response carries
`X-Request-ID` (send your own to correlate).
"""


def create_app(settings: Settings, database_url: str | None = None) -> FastAPI:
    url = database_url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if url is None:
        raise ConfigurationError("GERBANG_DATABASE_URL is not set (`gerbang serve` starts an embedded server)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = await Database.connect(url, settings)
        try:
            yield
        finally:
            await app.state.database.dispose()

    app = FastAPI(title="gerbang", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = HttpMetrics()
    app.state.head_revision = head_revision()
    app.state.key_ring = KeyRing(settings.secret_keys)
    add_exception_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics, access_log=settings.access_log)
    app.include_router(ops_endpoints.router)
    app.include_router(api.router)
    return app
