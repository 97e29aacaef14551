"""Real provider adapters against their fakes over real HTTP: provider accounts pointing at
`<live>/sandbox/<provider>`, a partner that pays in and withdraws, and a way to fund it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any

import aiohttp
import httpx
import pytest

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.ledger import service as ledger
from gerbang.scheduler.base import JobContext, JobResult
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from tests.auth.people import Tenant
from tests.ledger.helpers import assert_reconciled
from tests.order.conftest import Post, admin, live, post, shop
from tests.withdrawal.conftest import balances, s2s

__all__ = ["admin", "live", "post", "s2s", "shop"]

AddAccount = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def session(live: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for calling an adapter directly against its fake (which `live` serves)."""
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def add_provider_account(client: httpx.AsyncClient, admin: dict[str, str], live: str) -> AddAccount:
    async def add(provider: str, credentials: dict[str, str], name: str | None = None, **rules: Any) -> dict[str, Any]:
        """`rules`: more fields of the account, as the admin API spells them (`settlementRule=...`)."""
        body = {"provider": provider, "name": name or provider, "baseUrl": f"{live}/sandbox/{provider}",
                "credentials": credentials, "methods": ["qris"], **rules}  # fmt: skip
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


async def paid_order(post: Post, shop: Tenant, live: str, reference: str, amount: int = 150_000) -> str:
    """An order created through the partner API and paid at whichever provider's fake it was routed to (the
    fake's own callback, or its status answer, makes it PAID)."""
    response = await post(shop, "/api/v1/payments", {"amount": amount, "reference": reference})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["result"]["orderId"]
    async with httpx.AsyncClient(base_url=live) as http:
        paid = await http.post(f"/sandbox/orders/{order_id}/pay")
    assert paid.json()["callback"]["status_code"] == 200, paid.text
    return order_id


async def qr_order(post: Post, shop: Tenant, reference: str, amount: int = 150_000) -> dict[str, Any]:
    """An order created through the partner API, routed to whichever provider account is set up, with its QR."""
    response = await post(shop, "/api/v1/payments", {"amount": amount, "reference": reference})
    assert response.status_code == 201, response.text
    result = dict(response.json()["result"])
    assert result["qrPayload"]
    return result


async def paid_twice_credited_once(
    live: str, database: Database, shop: Tenant, order_id: str, amount: int = 150_000
) -> httpx.Response:
    """The order paid at its provider's fake, then the provider's word once more (its retry), each answered 200:
    PAID once, with one posting and one webhook, and `amount - fee` in the partner's pending balance (nothing
    available, nothing held). Returns the fake's first answer."""
    async with httpx.AsyncClient(base_url=live) as http:
        paid = await http.post(f"/sandbox/orders/{order_id}/pay")
        assert paid.json()["callback"]["status_code"] == 200, paid.text
        again = await http.post(f"/sandbox/orders/{order_id}/pay")
        assert again.json()["callback"]["status_code"] == 200
    assert await order_state(database, order_id) == ("PAID", 1, 1)
    fee = await fetch(database, "SELECT fee FROM orders WHERE id = $1", uuid.UUID(order_id))
    assert await balances(database, shop) == (0, amount - fee, 0)
    return paid


async def paid_yet_pending_ignored_and_flagged(live: str, database: Database, unknown: str, wrong_amount: str) -> None:
    """Two orders whose provider's status answer was set at its fake to an unknown status (`unknown`) and to a
    wrong amount (`wrong_amount`), each paid at the fake (its callback answered 200): neither moves, and their
    callbacks are stored ignored and flagged, in that order."""
    async with httpx.AsyncClient(base_url=live) as http:
        for order_id in (unknown, wrong_amount):
            paid = await http.post(f"/sandbox/orders/{order_id}/pay")
            assert paid.json()["callback"]["status_code"] == 200
    assert await order_state(database, unknown) == ("PENDING", 0, 0)
    assert await order_state(database, wrong_amount) == ("PENDING", 0, 0)
    outcomes = await fetch(database, "SELECT array_agg(outcome ORDER BY id) FROM provider_callbacks")
    assert outcomes == ["ignored", "amount_mismatch"]


async def run_settlement(database: Database, settings: Settings) -> JobResult:
    """One run of the settlement checker job, as the scheduler would start it."""
    context = JobContext(
        database=database, settings=settings, run_id=uuid.uuid4(), trigger="manual", stop=asyncio.Event(),
        parameters={},
    )  # fmt: skip
    return await SETTLEMENT_CHECK.run(context)


async def settles_only_what_the_provider_reports(
    post: Post, shop: Tenant, live: str, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    fake: ModuleType, prefix: str,
) -> None:  # fmt: skip
    """With the provider's account on `settlementRule="provider_reported"`: of two paid orders, the one its `fake`
    reports settled is settled by the settlement checker, once; the other, not yet reported, stays PAID."""
    monkeypatch.setattr(fake, "SETTLEMENT_DELAY_S", 0)  # the fake reports this one settled at once
    settled_now = await paid_order(post, shop, live, f"{prefix}-S1")
    monkeypatch.setattr(fake, "SETTLEMENT_DELAY_S", 3600)  # and this one an hour after its payment
    settled_later = await paid_order(post, shop, live, f"{prefix}-S2")

    result = await run_settlement(database, settings)

    assert (result.counts["provider_checked"], result.counts["settled"], result.counts["provider_errors"]) == (2, 1, 0)
    # Postings and webhooks of the whole test: two payments, then one settlement posting and its webhook.
    assert await order_state(database, settled_now) == ("SETTLED", 3, 3)
    assert (await order_state(database, settled_later))[0] == "PAID"
    fees = await fetch(database, "SELECT array_agg(fee ORDER BY reference) FROM orders")
    async with database.transaction() as connection:
        found = await ledger.partner_balances(connection, shop.id)
    assert (found.available, found.pending) == (150_000 - fees[0], 150_000 - fees[1])
    again = await run_settlement(database, settings)  # the next run: still not reported, nothing settled twice
    assert (again.counts["provider_checked"], again.counts["settled"]) == (1, 0)
    await assert_reconciled(database)


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


async def withdraw_through_polling(
    provider: str, account_id: str, s2s: Any, shop: Tenant, live: str, database: Database, payouts: Any,
    reference: str,
) -> str:  # fmt: skip
    """For a provider that sends no disbursement callback: a withdrawal routed to `provider`'s account is
    accepted (PROCESSING, with the bank's holder name), completed at its fake, and then completed here by the
    withdrawal module's poll of PROCESSING withdrawals (`payouts`: a `withdrawal.service.Payouts`), once: the
    partner's hold is gone and the ledger reconciles. Returns the withdrawal id."""
    from gerbang.withdrawal import service as withdrawals
    from tests.withdrawal.conftest import reconcile_clean

    await fund(database, shop, account_id, 200_000)
    body = {"amount": 100_000, "bankCode": "BCA", "accountNumber": "1234567890", "reference": reference}
    created = await s2s(shop, "POST", "/api/v1/withdrawals/s2s/withdrawals", body)
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    assert (result["status"], bool(result["accountHolder"])) == ("PROCESSING", True)
    assert await balances(database, shop) == (100_000, 0, 100_000)
    async with httpx.AsyncClient(base_url=live) as http:
        forced = await http.post(f"/sandbox/disbursements/{result['id']}/complete")
    assert forced.status_code == 200, forced.text
    withdrawal_id = uuid.UUID(result["id"])
    assert await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", withdrawal_id) == "PROCESSING"
    for _ in range(2):  # a second poll finds nothing due, and moves nothing twice
        await fetch(database, "UPDATE withdrawals SET next_check_at = now() WHERE id = $1", withdrawal_id)
        await withdrawals.recover_due(payouts)
        assert await fetch(database, "SELECT status FROM withdrawals WHERE id = $1", withdrawal_id) == "COMPLETED"
    assert await balances(database, shop) == (100_000, 0, 0)
    assert await reconcile_clean(database)
    return str(result["id"])
