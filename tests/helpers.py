"""Helpers for tests that run gerbang as real processes over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
GERBANG = [sys.executable, "-m", "gerbang"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any GERBANG_* setting of the developer's, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GERBANG_")}
    return env | extra


def wait_until_ready(url: str, timeout_s: float) -> float:
    """Seconds until `url` answered 200; fails the test after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} was not ready within {timeout_s} s")


@asynccontextmanager
async def live_server(app: Any) -> AsyncIterator[str]:
    """`app` served over real HTTP on 127.0.0.1 in this event loop (its lifespan already running)."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), lifespan="off", log_config=None, access_log=False,
        proxy_headers=False,
    )  # fmt: skip
    async with served(config) as url:
        yield url


@asynccontextmanager
async def served(config: Any) -> AsyncIterator[str]:
    """A uvicorn server with `config` (on 127.0.0.1), in this event loop, until the block ends."""
    import uvicorn

    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await task


def app_routes(app: Any) -> list[tuple[str, Any]]:
    """Every `APIRoute` of `app` with its full path (`RoutedApp.routes` is the flat list)."""
    from fastapi.routing import APIRoute

    return [(route.path, route) for route in app.routes if isinstance(route, APIRoute)]


@asynccontextmanager
async def changed_behind_the_apps_back(app: Any) -> AsyncIterator[None]:
    """For a test that changes partners, API keys or provider accounts straight in the database, as another
    process would: on leaving, wait until the app's `RowChanges` has heard the trigger, so its caches forget the
    old rows (in production that takes the notification's few milliseconds; a test's next request can be
    quicker)."""
    changes = app.state.row_changes
    generation = changes.generation
    yield
    for _ in range(500):
        if not changes.live or changes.generation != generation:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the change was never notified")


async def create_house_shards(database: Any, provider_account_id: uuid.UUID) -> None:
    """Every shard of the house accounts a payment or a payout posts to (the provider account's balance, the
    platform's fees), as a busy gateway has them: which shard a posting takes follows from its business id,
    and one-statement fast paths refuse, for the careful path to create it, a shard not created yet."""
    from gerbang.ledger import service as ledger
    from gerbang.ledger.schemas import HOUSE_SHARDS, PLATFORM, AccountKind, house

    owners = {AccountKind.provider_balance: provider_account_id, AccountKind.platform_fees: PLATFORM}
    houses = [house(kind, owner, uuid.UUID(int=n)) for kind, owner in owners.items() for n in range(HOUSE_SHARDS)]
    async with database.transaction() as connection:
        await ledger.create_accounts(connection, houses)
