"""The FastAPI application factory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import asyncpg
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.staticfiles import StaticFiles

from gerbang import __version__, api
from gerbang.access.allow_lists import AllowLists, AllowListSync
from gerbang.access.middleware import AccessMiddleware, Limits
from gerbang.access.request_log import RequestLogBuffer
from gerbang.calendar.service import CalendarCache
from gerbang.checkout import endpoints as checkout_endpoints
from gerbang.config import ConfigurationError, Settings
from gerbang.db import Database, RowCache, RowChanges, asyncpg_dsn
from gerbang.exception_handlers import add_exception_handlers
from gerbang.kit.crypto import KeyRing
from gerbang.kit.http import client_session
from gerbang.kit.netaccess import AllowList
from gerbang.kit.routes import RoutedApp
from gerbang.middleware import RequestContextMiddleware
from gerbang.migration import head_revision
from gerbang.ops import endpoints as ops_endpoints
from gerbang.ops.metrics import HttpMetrics
from gerbang.order.service import PayIn
from gerbang.partner.schemas import Partner
from gerbang.provider.registry import apply_timeouts
from gerbang.routing import router
from gerbang.sandbox import endpoints as sandbox_endpoints
from gerbang.sandbox import merchant as sandbox_merchant
from gerbang.scheduler import endpoints as scheduler_endpoints
from gerbang.web.pages import STATIC_DIR, STATIC_PREFIX

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

    allow_lists = AllowLists()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = database = await Database.connect(url, settings)
        apply_timeouts(settings)
        sync = AllowListSync(database, asyncpg_dsn(url), allow_lists, settings.allow_list_refresh)
        row_changes = app.state.row_changes
        app.state.api_key_cache = RowCache[str, asyncpg.Record](row_changes)
        request_log.database = database
        await sync.start()
        await row_changes.start()
        await request_log.start()
        # One connection pool for every provider call of this process.
        session = client_session(connector=aiohttp.TCPConnector(limit=200))
        app.state.pay_in = PayIn(
            database, app.state.key_ring, session, app.state.calendar, settings.public_base_url,
            partners=RowCache[uuid.UUID, Partner](row_changes), provider_accounts=router.EnabledAccounts(row_changes),
        )  # fmt: skip
        try:
            yield
        finally:
            await sync.stop()
            await row_changes.stop()
            await request_log.stop()
            await session.close()
            await sandbox_merchant.callbacks.close()
            await database.dispose()

    # FastAPI's native OpenTelemetry asks the global providers on every request whether anyone listens
    # (an environment lookup each time: 2% of a pay-in's CPU); we export our own metrics at /metrics.
    no_telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = RoutedApp(
        title="gerbang", version=__version__, description=DESCRIPTION, lifespan=lifespan, telemetry=no_telemetry
    )
    app.state.settings = settings
    app.state.metrics = HttpMetrics()
    app.state.head_revision = head_revision()
    app.state.key_ring = KeyRing(settings.secret_keys)
    app.state.row_changes = row_changes = RowChanges(asyncpg_dsn(url))
    app.state.calendar = CalendarCache(row_changes)
    app.state.allow_lists = allow_lists
    app.state.request_log = request_log = RequestLogBuffer()
    add_exception_handlers(app)
    # Added first, so it runs inside the request context (request id, access log, last-resort 500).
    app.add_middleware(
        AccessMiddleware,
        lists=allow_lists,
        trusted_proxies=AllowList.parse(settings.trusted_proxy_entries),
        limits=Limits(
            per_ip=settings.rate_limit_per_ip, per_api_key=settings.rate_limit_per_api_key,
            login_per_ip=settings.rate_limit_login_per_ip,
        ),
        request_log=request_log,
    )  # fmt: skip
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics, access_log=settings.access_log)
    # Routes are tried in include order (one prefix check per `RouteGroup`): the sandbox, when on, is a
    # provider and is asked as often as the API.
    if settings.sandbox_enabled:
        app.include_router(sandbox_endpoints.router)
    app.include_router(ops_endpoints.router)
    app.include_router(scheduler_endpoints.ops_router)
    app.include_router(api.router)
    app.include_router(checkout_endpoints.api_router)
    app.include_router(checkout_endpoints.router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    return app
