"""The worker asks providers about PENDING pay-ins nobody reads (`status_check.poll_pending`), so a paid
order whose callback was lost becomes PAID, once, before it would expire unpaid."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from gerbang.config import Settings
from gerbang.db import Database, asyncpg_dsn
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger_service
from gerbang.order.status_check import poll_pending
from gerbang.worker.main import worker_loops
from tests.auth.people import Tenant

AddAccount = Callable[..., Awaitable[dict[str, Any]]]
Post = Callable[..., Awaitable[httpx.Response]]
EVERY = timedelta(minutes=2)


async def _order(post: Post, shop: Tenant, reference: str) -> uuid.UUID:
    response = await post(shop, "/api/v1/payments", {"amount": 100_000, "reference": reference})
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["result"]["orderId"])


async def _paid_at_the_provider_and_aged(database: Database, order_id: uuid.UUID) -> None:
    """The customer paid, the callback never came, and the order has waited longer than `EVERY`."""
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE sandbox_charges SET status = 'PAID', paid_at = now() WHERE merchant_ref = $1", order_id
        )
        await connection.execute(
            "UPDATE orders SET created_at = $2, last_status_check_at = NULL WHERE id = $1",
            order_id, utcnow() - EVERY - timedelta(seconds=5),
        )  # fmt: skip


async def _status(database: Database, order_id: uuid.UUID) -> str:
    async with database.connection() as connection:
        return str(await connection.fetchval("SELECT status FROM orders WHERE id = $1", order_id))


async def test_a_lost_callback_is_recovered_without_anyone_reading_the_order(
    app: FastAPI, post: Post, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    await add_account()
    lost = await _order(post, shop, "POLL-LOST")
    fresh = await _order(post, shop, "POLL-FRESH")
    await _paid_at_the_provider_and_aged(database, lost)
    async with database.transaction() as connection:  # paid too, but only just created: not asked yet
        await connection.execute("UPDATE sandbox_charges SET status = 'PAID' WHERE merchant_ref = $1", fresh)

    # Two workers at once: the order is claimed by one of them, asked once, paid once.
    asked = await asyncio.gather(*(poll_pending(app.state.pay_in, utcnow(), EVERY) for _ in range(2)))
    assert sum(asked) == 1
    assert (await _status(database, lost), await _status(database, fresh)) == ("PAID", "PENDING")
    async with database.transaction() as connection:
        balances = await ledger_service.partner_balances(connection, shop.id)
        postings = await connection.fetchval("SELECT count(*) FROM ledger_transactions")
        fee = await connection.fetchval("SELECT fee FROM orders WHERE id = $1", lost)
    assert postings == 1
    assert balances.pending == 100_000 - fee
    assert await poll_pending(app.state.pay_in, utcnow(), EVERY) == 0, "a PAID order is not asked again"


async def test_an_order_the_provider_still_calls_pending_is_asked_again_only_after_the_interval(
    app: FastAPI, post: Post, shop: Tenant, add_account: AddAccount, database: Database
) -> None:
    await add_account()
    order_id = await _order(post, shop, "POLL-WAIT")
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET created_at = $2, last_status_check_at = NULL WHERE id = $1",
            order_id, utcnow() - EVERY - timedelta(seconds=5),
        )  # fmt: skip
    assert await poll_pending(app.state.pay_in, utcnow(), EVERY) == 1
    assert await _status(database, order_id) == "PENDING"
    assert await poll_pending(app.state.pay_in, utcnow(), EVERY) == 0, "just asked"
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE orders SET last_status_check_at = $2 WHERE id = $1",
            order_id,
            utcnow() - EVERY - timedelta(seconds=1),
        )
    assert await poll_pending(app.state.pay_in, utcnow(), EVERY) == 1, "asked again once the interval passed"


def test_the_worker_runs_the_poller(database: Database, database_url: str, settings: Settings) -> None:
    loops = worker_loops(database, settings, asyncpg_dsn(database_url), CollectorRegistry())
    assert "orders.poll_pending" in [loop.name for loop in loops]
