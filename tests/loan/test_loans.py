"""Advances and loan-settled orders by id: grant -> mark -> revert puts every balance back exactly, the
settlement checker leaves loan-settled orders alone, duplicates repay once, a late callback changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from gerbang.auth.sessions import PartnerRole
from gerbang.db import Database
from gerbang.kit.time import utcnow
from gerbang.sandbox.protocol import SIGNATURE_HEADER, sign
from gerbang.settlement.jobs import check
from tests.auth.people import Tenant, tenant
from tests.loan.conftest import NET, Books, LoanApi, World, books, paid_in_order, repayment_postings
from tests.order.conftest import Post
from tests.withdrawal.conftest import Send

CALLBACK = "/api/v1/transaction/callback/sandbox"
SANDBOX_KEY = "sbx_merchant_key_0123456789"


async def _statuses(database: Database, ids: list[uuid.UUID]) -> list[str]:
    async with database.connection() as connection:
        rows = await connection.fetch("SELECT id, status FROM orders WHERE id = ANY($1)", ids)
    found = {row["id"]: row["status"] for row in rows}
    return [found[order_id] for order_id in ids]


async def _audit_actions(database: Database) -> list[str]:
    async with database.connection() as connection:
        return [row["action"] for row in await connection.fetch("SELECT action FROM audit_events ORDER BY id")]


async def test_grant_mark_revert_returns_every_balance_exactly(
    world: World, loans: LoanApi, database: Database
) -> None:
    partner, other = await world.partner("Toko Pinjam"), await world.partner("Toko Lain")
    account = await world.account()
    orders = await paid_in_order(world, partner, account, 3)
    foreign = (await world.paid(other, account, 1))[0]
    before_grant = await books(database, partner)
    assert before_grant == Books(available=0, pending=3 * NET, held=0, advances=0, reconciled=True)

    key = uuid.uuid4().hex
    granted = await loans.grant(partner, 200_000, key)
    assert granted.status_code == 201, granted.text
    again = await loans.grant(partner, 200_000, key)  # the double click
    assert (again.status_code, again.json()["id"]) == (201, granted.json()["id"])
    reused = await loans.grant(partner, 300_000, key)
    assert (reused.status_code, reused.json()["error"]) == (409, "advance_key_reused")
    after_grant = await books(database, partner)
    assert after_grant == Books(available=200_000, pending=3 * NET, held=0, advances=200_000, reconciled=True)

    missing = uuid.uuid4()
    marked = await loans.mark(partner, [*orders, foreign, missing, orders[0]])
    assert marked.status_code == 200, marked.text
    result = marked.json()
    assert result["ok"] == [str(orders[0]), str(orders[1])]  # two nets fit in 200,000; the third does not
    assert result["failed"] == [
        {"orderId": str(orders[2]), "reason": "exceeds_outstanding_advance", "status": None},
        {"orderId": str(foreign), "reason": "other_partner", "status": None},
        {"orderId": str(missing), "reason": "not_found", "status": None},
    ]
    assert (result["amount"], result["outstanding"]) == (2 * NET, 200_000 - 2 * NET)
    assert await _statuses(database, orders) == ["LOAN_SETTLED", "LOAN_SETTLED", "PAID"]
    assert await books(database, partner) == Books(
        available=200_000, pending=NET, held=0, advances=200_000 - 2 * NET, reconciled=True
    )
    summary = (await loans.call("GET", f"/partners/{partner}/advances")).json()
    assert (summary["granted"], summary["repaid"], summary["reverted"], summary["outstanding"]) == (
        200_000, 2 * NET, 0, 200_000 - 2 * NET,
    )  # fmt: skip
    assert len(summary["advances"]) == 1
    balances = await loans.client.get(f"/api/v1/admin/partners/{partner}/balances", headers=loans.headers)
    assert balances.json()["advance_outstanding"] == 200_000 - 2 * NET

    reverted = await loans.revert(partner, orderIds=[str(i) for i in orders], note="marked by mistake")
    assert reverted.status_code == 200, reverted.text
    body = reverted.json()
    assert body["reverted"] == [str(orders[0]), str(orders[1])]
    assert body["failed"] == [{"orderId": str(orders[2]), "reason": "not_loan_settled", "status": "PAID"}]
    assert (body["amount"], body["outstanding"]) == (2 * NET, 200_000)
    assert await _statuses(database, orders) == ["PAID", "PAID", "PAID"]
    assert await books(database, partner) == after_grant  # exactly where it was before marking
    again_reverted = await loans.revert(partner, orderIds=[str(orders[0])])
    assert again_reverted.json()["reverted"] == []
    assert await books(database, partner) == after_grant

    export = await loans.call(
        "GET", "/repayments/export", params={"partnerId": str(partner), "revertId": body["revertId"]}
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(row["order_id"] for row in rows) == sorted(str(i) for i in orders[:2])
    assert all(row["net"] == str(NET) and row["loan_settled_at"] and row["reverted_at"] for row in rows)

    # Loan-settled again after the revert: a second round, its own posting.
    assert (await loans.mark(partner, [orders[0]])).json()["ok"] == [str(orders[0])]
    assert await repayment_postings(database, orders) == {orders[0]: 2, orders[1]: 1, orders[2]: 0}
    assert await _audit_actions(database) == [
        "advance.granted", "loan.marked_settled", "loan.reverted", "loan.reverted", "loan.marked_settled",
    ]  # fmt: skip


async def test_the_settlement_checker_skips_loan_settled_orders(
    world: World, loans: LoanApi, database: Database
) -> None:
    partner, account = await world.partner("Toko Cek"), await world.account(settlement_days=0)
    orders = await paid_in_order(world, partner, account, 2)
    await loans.grant(partner, NET)
    assert (await loans.mark(partner, [orders[0]])).json()["ok"] == [str(orders[0])]
    await check(world.context())
    assert await _statuses(database, orders) == ["LOAN_SETTLED", "SETTLED"]
    # Available: the advance and the one settled order; the loan-settled net repaid the advance instead.
    assert await books(database, partner) == Books(available=2 * NET, pending=0, held=0, advances=0, reconciled=True)
    assert await world.settlement_postings(orders) == {orders[0]: 0, orders[1]: 1}


async def test_concurrent_duplicate_marks_repay_once(world: World, loans: LoanApi, database: Database) -> None:
    partner, account = await world.partner("Toko Ramai"), await world.account()
    orders = await world.paid(partner, account, 4)
    await loans.grant(partner, 10 * NET)
    responses = await asyncio.gather(*(loans.mark(partner, orders) for _ in range(6)))
    assert all(response.status_code == 200 for response in responses), [r.text for r in responses]
    settled = [order_id for response in responses for order_id in response.json()["ok"]]
    assert sorted(settled) == sorted(str(i) for i in orders)  # each order once, across all six requests
    assert all(failure["reason"] == "already_loan_settled" for r in responses for failure in r.json()["failed"])
    assert await repayment_postings(database, orders) == dict.fromkeys(orders, 1)
    assert await books(database, partner) == Books(
        available=10 * NET, pending=0, held=0, advances=6 * NET, reconciled=True
    )


async def test_refusals_change_nothing(world: World, loans: LoanApi, database: Database) -> None:
    partner, account = await world.partner("Toko Tolak"), await world.account()
    orders = await world.paid(partner, account, 1)
    start = await books(database, partner)
    for amount in (-5, 0, 1.5, "100", 10_000_000_001):
        response = await loans.call(
            "POST", "/advances", json={"partnerId": str(partner), "amount": amount},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
        assert (response.status_code, response.json()["error"]) == (422, "validation_error"), amount
    no_key = await loans.call("POST", "/advances", json={"partnerId": str(partner), "amount": 1000})
    assert no_key.status_code == 422
    unknown = await loans.grant(uuid.uuid4(), 1000)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "partner_not_found")
    nothing_owed = await loans.mark(partner, orders)  # no advance: nothing to repay
    assert nothing_owed.json()["failed"][0]["reason"] == "exceeds_outstanding_advance"
    both = await loans.revert(partner, orderIds=[str(orders[0])], jobId=str(uuid.uuid4()))
    assert (both.status_code, both.json()["error"]) == (422, "validation_error")
    assert await books(database, partner) == start
    assert await _statuses(database, orders) == ["PAID"]


AddAccount = Callable[..., Awaitable[dict[str, Any]]]


def _callback(order_id: str, status: str) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({
        "event_id": f"evt:{status}:late", "charge_id": "sbx_x", "merchant_ref": order_id, "status": status,
        "amount": 200_000, "paid_at": utcnow().isoformat() if status == "PAID" else None,
    })  # fmt: skip
    return body, {SIGNATURE_HEADER: sign(SANDBOX_KEY, body), "Content-Type": "application/json"}


async def test_a_late_callback_does_not_change_a_loan_settled_order(
    client: httpx.AsyncClient, post: Post, shop: Tenant, add_account: AddAccount, loans: LoanApi, database: Database
) -> None:
    await add_account()
    created = await post(shop, "/api/v1/payments", {"amount": 200_000, "reference": "LOAN-1"})
    assert created.status_code == 201, created.text
    order_id = created.json()["result"]["orderId"]
    body, headers = _callback(order_id, "PAID")
    assert (await client.post(CALLBACK, content=body, headers=headers)).status_code == 200
    await loans.grant(shop.id, 1_000_000)
    assert (await loans.mark(shop.id, [uuid.UUID(order_id)])).json()["ok"] == [order_id]
    settled = await books(database, shop.id)
    async with database.connection() as connection:
        postings = await connection.fetchval("SELECT count(*) FROM ledger_transactions")
    for status in ("PAID", "FAILED", "EXPIRED"):
        body, headers = _callback(order_id, status)
        assert (await client.post(CALLBACK, content=body, headers=headers)).status_code == 200
    assert await _statuses(database, [uuid.UUID(order_id)]) == ["LOAN_SETTLED"]
    assert await books(database, shop.id) == settled
    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM ledger_transactions") == postings
        outcomes = await connection.fetch(
            "SELECT outcome FROM provider_callbacks WHERE order_id = $1 ORDER BY id", uuid.UUID(order_id)
        )
        flagged = await connection.fetchval("SELECT count(*) FROM alerts WHERE kind = 'callback_flagged'")
    # The repeated PAID is the same event (stored once); FAILED and EXPIRED after it contradict and alert.
    assert [row["outcome"] for row in outcomes] == ["applied", "contradicting", "contradicting"]
    assert flagged == 2


async def test_concurrent_grants_with_one_key_grant_once(world: World, loans: LoanApi, database: Database) -> None:
    partner = await world.partner("Toko Klik")
    key = uuid.uuid4().hex
    responses = await asyncio.gather(*(loans.grant(partner, 75_000, key) for _ in range(5)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert await books(database, partner) == Books(
        available=75_000, pending=0, held=0, advances=75_000, reconciled=True
    )
    assert await _audit_actions(database) == ["advance.granted"]


async def test_every_balance_view_shows_the_outstanding_advance(
    app: FastAPI, client: httpx.AsyncClient, database: Database, loans: LoanApi, s2s: Send
) -> None:
    owner = await tenant(app, client, database, "Toko Saldo")
    await loans.grant(owner.id, 40_000)
    s2s_balance = await s2s(owner, "GET", "/api/v1/withdrawals/s2s/balance")
    assert s2s_balance.json() == {"available": 40_000, "pending": 0, "held": 0, "advanceOutstanding": 40_000}
    dashboard = await client.get(
        f"/api/v1/client/partners/{owner.id}/balances", headers=owner.headers[PartnerRole.OWNER]
    )
    admin_view = await client.get(f"/api/v1/admin/partners/{owner.id}/balances", headers=loans.headers)
    for response in (dashboard, admin_view):
        assert response.status_code == 200, response.text
        assert (response.json()["available"], response.json()["advance_outstanding"]) == (40_000, 40_000)
