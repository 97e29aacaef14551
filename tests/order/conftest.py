from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.auth.sessions import AdminRole
from gerbang.auth.signing import sign
from gerbang.db import Database
from tests.auth.people import Tenant, admin_headers, tenant
from tests.helpers import live_server

Post = Callable[..., Awaitable[httpx.Response]]
AddAccount = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[str]:
    async with live_server(app) as url:
        app.state.pay_in = app.state.pay_in.__class__(**{**app.state.pay_in.__dict__, "public_url": url})
        yield url


@pytest.fixture
async def admin(client: httpx.AsyncClient, database: Database) -> dict[str, str]:
    return await admin_headers(client, database, AdminRole.ADMIN)


@pytest.fixture
async def add_account(client: httpx.AsyncClient, admin: dict[str, str], live: str) -> AddAccount:
    async def add(name: str = "Sandbox", key: str = "sbx_merchant_key_0123456789", **rules: Any) -> dict[str, Any]:
        body = {"provider": "sandbox", "name": name, "baseUrl": f"{live}/sandbox", "credentials": {"merchant_key": key},
                "methods": ["qris", "va", "ewallet"]} | rules  # fmt: skip
        response = await client.post("/api/v1/admin/provider-accounts", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return add


@pytest.fixture
async def shop(app: FastAPI, client: httpx.AsyncClient, database: Database) -> Tenant:
    return await tenant(app, client, database, "Toko Bayar", roles=())


_last_stamp = [0]


def signed_headers(shop: Tenant, method: str, path: str, body: bytes, **extra: str) -> dict[str, str]:
    # Distinct timestamps: the same body signed in the same millisecond would be a replay.
    stamp = max(int(time.time() * 1000), _last_stamp[0] + 1)
    _last_stamp[0] = stamp
    signature = sign(shop.partner.signing_secret, method, path, str(stamp), body)
    return {"X-API-Key": shop.partner.api_key, "X-Timestamp": str(stamp), "X-Signature": signature,
            "Content-Type": "application/json", **extra}  # fmt: skip


@pytest.fixture
def post(client: httpx.AsyncClient) -> Post:
    async def send(shop: Tenant, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        raw = orjson.dumps(body)
        return await client.post(path, content=raw, headers=signed_headers(shop, "POST", path, raw, **headers))

    return send
