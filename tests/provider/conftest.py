"""Real provider adapters against their fakes over real HTTP: provider accounts pointing at
`<live>/sandbox/<provider>`, a partner that pays in and withdraws, and a way to fund it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gerbang.db import Database
from gerbang.ledger import service as ledger
from tests.auth.people import Tenant
from tests.order.conftest import admin, live, post, shop
from tests.withdrawal.conftest import s2s

__all__ = ["admin", "live", "post", "s2s", "shop"]

AddAccount = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def add_provider_account(client: httpx.AsyncClient, admin: dict[str, str], live: str) -> AddAccount:
    async def add(provider: str, credentials: dict[str, str], name: str | None = None) -> dict[str, Any]:
        body = {"provider": provider, "name": name or provider, "baseUrl": f"{live}/sandbox/{provider}",
                "credentials": credentials, "methods": ["qris"]}  # fmt: skip
        response = await client.post("/api/v1/admin/provider-accounts", json=body, headers=admin)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return add


async def fund(database: Database, shop: Tenant, account_id: str, amount: int) -> None:
    """Money in the partner's available balance, the way it gets there: a paid order, then settled."""
    order_id = uuid.uuid4()
    async with database.transaction() as connection:
        await connection.execute("UPDATE partners SET withdrawal_min_amount = 1000 WHERE id = $1", shop.id)
        await ledger.order_paid(
            connection, order_id=order_id, partner_id=shop.id, provider_account_id=uuid.UUID(account_id),
            amount_paid=amount, fee=0,
        )  # fmt: skip
        await ledger.settlement(connection, order_id=order_id, partner_id=shop.id, net=amount)


async def fetch(database: Database, sql: str, *args: object) -> Any:
    async with database.transaction() as connection:
        return await connection.fetchval(sql, *args)


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def order_state(database: Database, order_id: str) -> tuple[str, int, int]:
    """The order's status, ledger postings for it, and its partner webhooks."""
    async with database.transaction() as connection:
        status = await connection.fetchval("SELECT status FROM orders WHERE id = $1", uuid.UUID(order_id))
        postings = await connection.fetchval("SELECT count(*) FROM ledger_transactions")
        webhooks = await connection.fetchval("SELECT count(*) FROM webhook_events")
    return str(status), int(postings), int(webhooks)


async def withdraw_through_callback(
    provider: str, account_id: str, s2s: Any, shop: Tenant, live: str, database: Database, reference: str
) -> None:
    """A withdrawal routed to `provider`'s account: accepted (PROCESSING, with the bank's holder name), then
    completed by the callback its fake sends when told to, applied once."""
    await fund(database, shop, account_id, 200_000)
    body = {"amount": 100_000, "bankCode": "BCA", "accountNumber": "1234567890", "reference": reference}
    created = await s2s(shop, "POST", "/api/v1/withdrawals/s2s/withdrawals", body)
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    assert result["status"] == "PROCESSING"
    assert result["accountHolder"]
    async with httpx.AsyncClient(base_url=live) as http:
        forced = await http.post(f"/sandbox/disbursements/{result['id']}/complete")
    assert forced.status_code == 200, forced.text
    assert forced.json()["callback"]["status_code"] == 200

    async def completed() -> bool:
        status = await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", uuid.UUID(result["id"]))
        return bool(status == "COMPLETED")

    await until(completed)
    rows = await fetch(database, "SELECT array_agg(provider || ':' || outcome) FROM provider_callbacks")
    assert rows == [f"{provider}:applied"]
