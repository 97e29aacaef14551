"""Provider callbacks: a verified PAID moves the order and the money once; duplicates, forgeries, wrong
amounts, unknown orders and contradictions move nothing and are kept, flagged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.ledger import service as ledger_service
from gerbang.order.expiry import expire_due_orders
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign
from tests.auth.people import Tenant
from tests.order.conftest import Post

KEY = "sbx_merchant_key_0123456789"
CALLBACK = "/api/v1/transaction/callback/sandbox"
AddAccount = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def order(
    post: Post, shop: Tenant, add_account: AddAccount, client: httpx.AsyncClient, admin: dict[str, str]
) -> dict[str, Any]:
    await add_account()
    fees = {
        "fees": {
            "payinWeekdayPercent": "1.5",
            "payinWeekdayFlat": 1000,
            "payinWeekendPercent": "2",
            "payinWeekendFlat": 1000,
        }
    }
    assert (await client.patch(f"/api/v1/admin/partners/{shop.id}", json=fees, headers=admin)).status_code == 200
    response = await post(shop, "/api/v1/payments", {"amount": 200_000, "reference": "CB-1"})
    assert response.status_code == 201, response.text
    return dict(response.json()["result"])


def _event(order: dict[str, Any], status: str = "PAID", amount: int = 200_000, event_id: str | None = None) -> bytes:
    return orjson.dumps({
        "event_id": event_id or f"evt:{status}", "charge_id": "sbx_x", "merchant_ref": order["orderId"],
        "status": status, "amount": amount, "paid_at": utcnow().isoformat() if status == "PAID" else None,
    })  # fmt: skip


def _signed(body: bytes, key: str = KEY) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(key, body), "Content-Type": "application/json"}


async def _state(database: Database, order_id: str) -> tuple[Any, ...]:
    async with database.transaction() as connection:
        row = await connection.fetchrow("SELECT status, fee, paid_at FROM orders WHERE id = $1", uuid.UUID(order_id))
        postings = await connection.fetchval("SELECT count(*) FROM ledger_transactions")
        webhooks = await connection.fetchval("SELECT count(*) FROM webhook_events")
        outbox = await connection.fetchval("SELECT count(*) FROM outbox_events")
    return row["status"], row["fee"], postings, webhooks, outbox


async def test_the_sandbox_pays_and_the_partner_is_credited_once(
    client: httpx.AsyncClient, live: str, order: dict[str, Any], shop: Tenant, database: Database
) -> None:
    async with httpx.AsyncClient(base_url=live) as http:
        paid = await http.post(f"/sandbox/orders/{order['orderId']}/pay")
        assert paid.json()["callback"]["status_code"] == 200, paid.text
        again = await http.post(f"/sandbox/orders/{order['orderId']}/pay")  # the provider retries
        assert again.json()["callback"]["status_code"] == 200
    status, fee, postings, webhooks, outbox = await _state(database, order["orderId"])
    assert status == "PAID"
    assert fee in (4000, 5000)  # 1.5% + 1000 on a weekday, 2% + 1000 on a weekend-rate day
    assert (postings, webhooks, outbox) == (1, 1, 2)  # outbox: payment.created, payment.completed
    async with database.transaction() as connection:
        balances = await ledger_service.partner_balances(connection, shop.id)
        payload = await connection.fetchval("SELECT body::jsonb FROM webhook_events")
        outcomes = [r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks ORDER BY id")]
    assert balances.pending == 200_000 - fee
    assert outcomes == ["applied"]  # the retry was recognised by its event id and not stored twice
    assert (payload["event"], payload["orderId"], payload["grossAmount"], payload["netAmount"]) == (
        "payment.paid", order["orderId"], 200_000, 200_000 - fee)  # fmt: skip
    assert payload["timestamp"].endswith("+07:00")


async def test_fifty_concurrent_duplicates_credit_once(
    client: httpx.AsyncClient, order: dict[str, Any], database: Database
) -> None:
    body = _event(order)
    responses = await asyncio.gather(*(client.post(CALLBACK, content=body, headers=_signed(body)) for _ in range(50)))
    assert {r.status_code for r in responses} == {200}
    status, _, postings, webhooks, _ = await _state(database, order["orderId"])
    assert (status, postings, webhooks) == ("PAID", 1, 1)
    # Another notification id claiming the same payment is a duplicate too.
    other = _event(order, event_id="evt:again")
    assert (await client.post(CALLBACK, content=other, headers=_signed(other))).status_code == 200
    assert (await _state(database, order["orderId"]))[2] == 1


async def test_a_paid_claim_reusing_a_stored_notification_id_moves_nothing(
    client: httpx.AsyncClient, order: dict[str, Any], database: Database
) -> None:
    # A PAID callback is stored and acted on in one statement; a notification id already stored (here by a
    # verified PENDING notice) is a retry, so the order, the ledger and the events stay as they were.
    pending = _event(order, status="PENDING", event_id="evt:1")
    assert (await client.post(CALLBACK, content=pending, headers=_signed(pending))).status_code == 200
    before = await _state(database, order["orderId"])
    assert before[0] == "PENDING"
    paid = _event(order, event_id="evt:1")
    assert (await client.post(CALLBACK, content=paid, headers=_signed(paid))).status_code == 200
    assert await _state(database, order["orderId"]) == before
    async with database.transaction() as connection:
        assert [r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks")] == ["ignored"]
    # The control: a new notification id pays the order, stored with its outcome.
    fresh = _event(order, event_id="evt:2")
    assert (await client.post(CALLBACK, content=fresh, headers=_signed(fresh))).status_code == 200
    status, _, postings, webhooks, outbox = await _state(database, order["orderId"])
    assert (status, postings, webhooks - before[3], outbox - before[4]) == ("PAID", 1, 1, 1)
    async with database.transaction() as connection:
        outcomes = [r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks ORDER BY id")]
    assert outcomes == ["ignored", "applied"]


def _bad(kind: str, order: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = _event(order)
    match kind:
        case "bad_signature":
            return body, {SIGNATURE_HEADER: "00" * 32}
        case "other_merchant":
            return body, _signed(body, "sbx_another_merchant_key_00")
        case "unsigned":
            return body, {}
        case "wrong_amount":
            body = _event(order, amount=1_000)
        case "unknown_order":
            body = _event({**order, "orderId": str(uuid.uuid4())})
        case "not_json":
            body = b"{not json"
    return body, _signed(body)


@pytest.mark.parametrize(
    ("kind", "status_code", "outcome"),
    [
        ("bad_signature", 401, "unverified"),
        ("other_merchant", 401, "unverified"),
        ("unsigned", 401, "unverified"),
        ("wrong_amount", 200, "amount_mismatch"),
        ("unknown_order", 200, "unknown_order"),
        ("not_json", 401, "unparseable"),
    ],
)
async def test_bad_callbacks_change_nothing_and_are_kept(
    client: httpx.AsyncClient, order: dict[str, Any], database: Database, kind: str, status_code: int, outcome: str
) -> None:
    before = await _state(database, order["orderId"])
    body, headers = _bad(kind, order)
    response = await client.post(CALLBACK, content=body, headers=headers)
    assert response.status_code == status_code, response.text
    assert await _state(database, order["orderId"]) == before
    async with database.transaction() as connection:
        assert [r["outcome"] for r in await connection.fetch("SELECT outcome FROM provider_callbacks")] == [outcome]
        flagged = await connection.fetchval("SELECT count(*) FROM alerts WHERE kind = 'callback_flagged'")
    assert flagged == (1 if outcome == "amount_mismatch" else 0)  # a verified callback people should look at


async def test_a_forged_callback_does_not_block_the_real_one(
    client: httpx.AsyncClient, order: dict[str, Any], database: Database
) -> None:
    body = _event(order)
    assert (await client.post(CALLBACK, content=body, headers={SIGNATURE_HEADER: "ab" * 32})).status_code == 401
    assert (await client.post(CALLBACK, content=body, headers=_signed(body))).status_code == 200
    assert (await _state(database, order["orderId"]))[0] == "PAID"


async def test_failure_after_paid_is_flagged_and_moves_nothing(
    client: httpx.AsyncClient, order: dict[str, Any], database: Database
) -> None:
    paid = _event(order)
    await client.post(CALLBACK, content=paid, headers=_signed(paid))
    failed = _event(order, status="FAILED")
    assert (await client.post(CALLBACK, content=failed, headers=_signed(failed))).status_code == 200
    status, _, postings, webhooks, _ = await _state(database, order["orderId"])
    assert (status, postings, webhooks) == ("PAID", 1, 1)
    async with database.transaction() as connection:
        assert (
            await connection.fetchval("SELECT outcome FROM provider_callbacks WHERE status = 'FAILED'")
            == "contradicting"
        )
        assert await connection.fetchval("SELECT message FROM alerts WHERE kind = 'callback_flagged'") == (
            f"sandbox callback for order {order['orderId']}: contradicting; nothing moved but what the ledger shows"
        )


async def test_expiry_and_a_late_payment_the_provider_confirms(
    app: FastAPI, client: httpx.AsyncClient, live: str, order: dict[str, Any], database: Database
) -> None:
    assert await expire_due_orders(database, utcnow()) == 0
    assert await expire_due_orders(database, utcnow() + timedelta(minutes=16)) == 1
    status, _, postings, webhooks, outbox = await _state(database, order["orderId"])
    assert (status, postings, webhooks, outbox) == ("EXPIRED", 0, 1, 2)  # outbox: payment.created, .failed
    async with httpx.AsyncClient(base_url=live) as http:  # the customer paid at the last second after all
        await http.post(f"/sandbox/orders/{order['orderId']}/pay")
    status, _, postings, _, _ = await _state(database, order["orderId"])
    assert (status, postings) == ("PAID", 1)
    async with database.transaction() as connection:
        assert await connection.fetchval("SELECT outcome FROM provider_callbacks") == "late_payment"
        assert await connection.fetchval("SELECT count(*) FROM alerts WHERE kind = 'callback_flagged'") == 1


async def test_a_late_success_the_provider_denies_is_not_honoured(
    client: httpx.AsyncClient, order: dict[str, Any], database: Database
) -> None:
    await expire_due_orders(database, utcnow() + timedelta(minutes=16))
    body = _event(order)  # the sandbox still has the charge PENDING: it will not confirm
    assert (await client.post(CALLBACK, content=body, headers=_signed(body))).status_code == 200
    assert (await _state(database, order["orderId"]))[:3] == ("EXPIRED", None, 0)


async def test_unknown_providers_are_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/transaction/callback/nope", content=b"{}")
    assert (response.status_code, response.json()["error"]) == (404, "provider_not_found")
