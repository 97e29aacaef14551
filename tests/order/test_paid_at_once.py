"""The common PAID callback in one statement (`callbacks.paid_at_once`): the order paid with its events, the
callback stored and the payment posted, all or nothing; anything it cannot finish is left, untouched, to the
careful path under the order's lock (tests/order/test_callbacks.py tests both through HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.order import callbacks
from gerbang.provider.base import InboundCallback
from gerbang.provider.registry import provider
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign
from tests.auth.people import Tenant
from tests.helpers import create_house_shards
from tests.order.conftest import Post

KEY = "sbx_merchant_key_0123456789"
CALLBACK = "/api/v1/transaction/callback/sandbox"
Order = Callable[[str], Awaitable[str]]


@pytest.fixture
async def new_order(
    post: Post, shop: Tenant, add_account: Callable[..., Awaitable[dict[str, Any]]], database: Database
) -> Order:
    account = await add_account()
    await create_house_shards(database, uuid.UUID(account["id"]))

    async def create(reference: str) -> str:
        response = await post(shop, "/api/v1/payments", {"amount": 100_000, "reference": reference})
        assert response.status_code == 201, response.text
        return str(response.json()["result"]["orderId"])

    return create


def _paid(order_id: str, event_id: str, status: str = "PAID") -> InboundCallback:
    body = orjson.dumps({
        "event_id": event_id, "charge_id": "sbx_x", "merchant_ref": order_id, "status": status, "amount": 100_000,
        "paid_at": utcnow().isoformat(),
    })  # fmt: skip
    return InboundCallback({SIGNATURE_HEADER.lower(): sign(KEY, body)}, body)


async def _at_once(app: FastAPI, callback: InboundCallback) -> bool:
    adapter = provider("sandbox")
    return await callbacks.paid_at_once(app.state.pay_in, adapter, callback, adapter.parse_callback(callback))


async def _after_a_first_payment(client: httpx.AsyncClient, new_order: Order) -> str:
    """A second order, once a first one was paid (which created the partner's pending account)."""
    first = _paid(await new_order("FIRST"), "evt:first")
    assert (await client.post(CALLBACK, content=first.body, headers=dict(first.headers))).status_code == 200
    return await new_order("SECOND")


async def _written(database: Database, order_id: str) -> tuple[str, int, int, int, int]:
    """The order's status, and its stored callbacks, ledger postings, webhooks and outbox events."""
    key = uuid.UUID(order_id)
    async with database.connection() as connection:
        return (
            await connection.fetchval("SELECT status FROM orders WHERE id = $1", key),
            await connection.fetchval("SELECT count(*) FROM provider_callbacks WHERE order_id = $1", key),
            await connection.fetchval(
                "SELECT count(*) FROM ledger_transactions WHERE reference = $1", f"order:{order_id}"
            ),
            await connection.fetchval("SELECT count(*) FROM webhook_events WHERE object_id = $1", key),
            await connection.fetchval("SELECT count(*) FROM outbox_events WHERE key = $1", order_id),
        )


async def test_a_partners_first_payment_is_left_to_the_careful_path_which_creates_its_accounts(
    app: FastAPI, client: httpx.AsyncClient, new_order: Order, database: Database
) -> None:
    order_id = await new_order("FIRST")
    callback = _paid(order_id, "evt:first")
    assert await _at_once(app, callback) is False  # no pending account yet: refused, nothing written
    assert await _written(database, order_id) == ("PENDING", 0, 0, 0, 1)  # outbox: payment.created
    answered = await client.post(CALLBACK, content=callback.body, headers=dict(callback.headers))
    assert answered.status_code == 200
    assert await _written(database, order_id) == ("PAID", 1, 1, 1, 2)


async def test_a_later_payment_is_made_by_one_statement(
    app: FastAPI, client: httpx.AsyncClient, new_order: Order, database: Database
) -> None:
    order_id = await _after_a_first_payment(client, new_order)
    assert await _at_once(app, _paid(order_id, "evt:second")) is True
    assert await _written(database, order_id) == ("PAID", 1, 1, 1, 2)
    async with database.connection() as connection:
        outcome = await connection.fetchval("SELECT outcome FROM provider_callbacks WHERE event_id = 'evt:second'")
    assert outcome == "applied"
    # Paid now, the same notification again moves nothing (and the order is no longer PENDING to try).
    assert await _at_once(app, _paid(order_id, "evt:second")) is False
    assert await _written(database, order_id) == ("PAID", 1, 1, 1, 2)


async def test_a_notification_id_stored_before_refuses_and_moves_nothing(
    app: FastAPI, client: httpx.AsyncClient, new_order: Order, database: Database
) -> None:
    order_id = await _after_a_first_payment(client, new_order)
    notice = _paid(order_id, "evt:reused", status="PENDING")  # stored, verified, moving nothing
    assert (await client.post(CALLBACK, content=notice.body, headers=dict(notice.headers))).status_code == 200
    before = await _written(database, order_id)
    assert before == ("PENDING", 1, 0, 0, 1)
    # The order is PENDING, so the statement pays it, then finds the notification id taken: it refuses whole.
    assert await _at_once(app, _paid(order_id, "evt:reused")) is False
    assert await _written(database, order_id) == before


async def test_a_forged_callback_is_left_to_the_careful_path(
    app: FastAPI, client: httpx.AsyncClient, new_order: Order, database: Database
) -> None:
    order_id = await _after_a_first_payment(client, new_order)
    genuine = _paid(order_id, "evt:forged")
    forged = InboundCallback({SIGNATURE_HEADER.lower(): sign("not_the_merchant_key", genuine.body)}, genuine.body)
    assert await _at_once(app, forged) is False
    assert await _written(database, order_id) == ("PENDING", 0, 0, 0, 1)
