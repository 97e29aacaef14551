from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gerbang.app import create_app
from gerbang.config import Settings
from tests.fixtures.secret_scan import SCAN, Recording

AppFactory = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def make_app(settings: Settings) -> AppFactory:
    """Another app (a process of its own, as far as gerbang can tell) on the test database, with changed settings."""

    @asynccontextmanager
    async def make(client_ip: str = "127.0.0.1", **changes: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        application = create_app(settings.model_copy(update=changes))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=Recording(application, SCAN), client=(client_ip, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield application, http

    return make
