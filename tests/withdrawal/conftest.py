"""A partner with money to withdraw, a sandbox provider account that pays out over real HTTP, and signed
S2S requests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.auth.signing import sign
from gerbang.db import Database
from gerbang.ledger import service as ledger
from tests.auth.people import Tenant, tenant
from tests.order.conftest import add_account, admin, live

__all__ = ["add_account", "admin", "live"]

MERCHANT_KEY = "sbx_merchant_key_0123456789"
Send = Callable[..., Awaitable[httpx.Response]]
_stamps = [0]


def _signed(shop: Tenant, method: str, path: str, body: bytes) -> dict[str, str]:
    stamp = max(int(time.time() * 1000), _stamps[0] + 1)  # a new signature for every request
    _stamps[0] = stamp
    signature = sign(shop.partner.signing_secret, method, path, str(stamp), body)
    return {"X-API-Key": shop.partner.api_key, "X-Timestamp": str(stamp), "X-Signature": signature,
            "Content-Type": "application/json"}  # fmt: skip


@pytest.fixture
def s2s(client: httpx.AsyncClient) -> Send:
    async def send(
        shop: Tenant, method: str, path: str, body: Any = None, params: dict[str, str] | None = None, **headers: str
    ) -> httpx.Response:
        raw = b"" if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        signed = _signed(shop, method, path, raw) | headers  # the signature covers the path, not the query
        return await client.request(method, path, content=raw, params=params, headers=signed)

    return send


@pytest.fixture
async def sandbox_account(add_account: Callable[..., Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    return await add_account(key=MERCHANT_KEY)


Fund = Callable[..., Awaitable[None]]


@pytest.fixture
def fund(database: Database, sandbox_account: dict[str, Any]) -> Fund:
    """Money in the partner's available balance, the way it gets there: a paid order, then settled."""

    async def add(shop: Tenant, amount: int) -> None:
        order_id = uuid.uuid4()
        async with database.transaction() as connection:
            await ledger.order_paid(
                connection, order_id=order_id, partner_id=shop.id,
                provider_account_id=uuid.UUID(sandbox_account["id"]), amount_paid=amount, fee=0,
            )  # fmt: skip
            await ledger.settlement(connection, order_id=order_id, partner_id=shop.id, net=amount)

    return add


@pytest.fixture
async def shop(app: FastAPI, client: httpx.AsyncClient, database: Database) -> Tenant:
    created = await tenant(app, client, database, "Toko Tarik", roles=())
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET withdrawal_min_amount = 1000 WHERE id = $1", created.id)
    return created


async def balances(database: Database, shop: Tenant) -> tuple[int, int, int]:
    async with database.transaction() as connection:
        found = await ledger.partner_balances(connection, shop.id)
    return found.available, found.pending, found.held


async def reconcile_clean(database: Database) -> bool:
    async with database.transaction() as connection:
        return (await ledger.reconcile(connection)).clean
