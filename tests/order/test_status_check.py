"""A status read asks the provider about a stale PENDING order, so a lost callback does not leave a paid
order pending; at most once per order per 30 seconds, however many reads arrive."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger_service
from tests.auth.people import Tenant
from tests.order.conftest import signed_headers

AddAccount = Callable[..., Awaitable[dict[str, Any]]]
Post = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def order_id(post: Post, shop: Tenant, add_account: AddAccount) -> uuid.UUID:
    await add_account()
    response = await post(shop, "/api/v1/payments", {"amount": 100_000, "reference": "ST-1"})
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["result"]["orderId"])


async def _read_status(client: httpx.AsyncClient, shop: Tenant, order_id: uuid.UUID) -> str:
    path = f"/api/v1/payments/order/{order_id}/status"
    response = await client.get(path, headers=signed_headers(shop, "GET", path, b""))
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["status"])


async def _provider_moves(database: Database, order_id: uuid.UUID, status: str) -> None:
    """The customer pays at the provider, and the provider's callback never reaches us."""
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE sandbox_charges SET status = $2, paid_at = now() WHERE merchant_ref = $1", order_id, status
        )


async def _age_last_check(database: Database, order_id: uuid.UUID) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET last_status_check_at = $2 WHERE id = $1", order_id, utcnow() - timedelta(seconds=31)
        )


async def test_a_lost_payment_callback_is_recovered_by_a_status_read(
    client: httpx.AsyncClient, shop: Tenant, order_id: uuid.UUID, database: Database
) -> None:
    assert await _read_status(client, shop, order_id) == "PENDING"  # asked; the provider says pending
    await _provider_moves(database, order_id, "PAID")
    # Checked a moment ago: reads do not reach the provider again for 30 seconds.
    assert await _read_status(client, shop, order_id) == "PENDING"
    await _age_last_check(database, order_id)
    statuses = await asyncio.gather(*(_read_status(client, shop, order_id) for _ in range(10)))
    async with database.transaction() as connection:
        balances = await ledger_service.partner_balances(connection, shop.id)
        postings = await connection.fetchval("SELECT count(*) FROM ledger_transactions")
        webhooks = await connection.fetchval("SELECT count(*) FROM webhook_events WHERE event_type = 'payment.paid'")
        fee = await connection.fetchval("SELECT fee FROM orders WHERE id = $1", order_id)
    assert "PAID" in statuses
    assert await _read_status(client, shop, order_id) == "PAID"
    assert (postings, webhooks) == (1, 1)
    assert balances.pending == 100_000 - fee


async def test_a_failure_the_provider_reports_closes_the_order_without_money(
    client: httpx.AsyncClient, shop: Tenant, order_id: uuid.UUID, database: Database
) -> None:
    await _provider_moves(database, order_id, "FAILED")
    assert await _read_status(client, shop, order_id) == "FAILED"
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM ledger_transactions") == 0
        assert await connection.fetchval("SELECT event_type FROM webhook_events") == "payment.failed"


async def test_a_provider_amount_other_than_the_order_moves_nothing(
    client: httpx.AsyncClient, shop: Tenant, order_id: uuid.UUID, database: Database
) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE sandbox_charges SET status = 'PAID', paid_at = now(), amount = 1000 WHERE merchant_ref = $1",
            order_id,
        )
    assert await _read_status(client, shop, order_id) == "PENDING"
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT count(*) FROM ledger_transactions") == 0


async def test_the_checkout_page_poll_recovers_a_lost_callback(
    client: httpx.AsyncClient, order_id: uuid.UUID, database: Database
) -> None:
    assert (await client.get(f"/pay/{order_id}/status")).json()["status"] == "PENDING"
    await _provider_moves(database, order_id, "PAID")
    await _age_last_check(database, order_id)
    assert (await client.get(f"/pay/{order_id}/status")).json()["status"] == "PAID"
