"""Settlement adjustments over the admin API on a real database: the differences posted once, balances after an
adjustment and settlement equal to a fresh order's with the new fee, refusals that change nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from gerbang.auth.sessions import AdminRole
from gerbang.db import Database
from gerbang.kit.time import JAKARTA
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import PLATFORM, AccountKind, AccountRef
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from tests.auth.people import admin_headers
from tests.ledger.helpers import assert_reconciled, balance, snapshot
from tests.settlement.conftest import AMOUNT, FEE, World

URL = "/api/v1/admin/settlement/adjustments"
FEES = AccountRef(AccountKind.platform_fees, PLATFORM)


def pending(partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(AccountKind.partner_pending, partner_id)


def available(partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(AccountKind.partner_available, partner_id)


@pytest.fixture
async def finance(client: httpx.AsyncClient, database: Database) -> dict[str, str]:
    return await admin_headers(client, database, AdminRole.FINANCE)


async def _preview(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{URL}/preview", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _apply(client: httpx.AsyncClient, headers: dict[str, str], adjustment_id: str) -> httpx.Response:
    return await client.post(f"{URL}/{adjustment_id}/apply", json={}, headers=headers)


async def _balances(world: World, *partners: uuid.UUID) -> list[int]:
    refs = [ref for partner in partners for ref in (pending(partner), available(partner))]
    return [await balance(world.database, ref) for ref in refs]


async def _fees_of(database: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    async with database.connection() as connection:
        rows = await connection.fetch("SELECT id, fee FROM orders WHERE id = ANY($1)", ids)
    return {row["id"]: row["fee"] for row in rows}


async def test_an_adjusted_order_settles_like_a_fresh_order_with_the_new_fee(
    world: World, client: httpx.AsyncClient, finance: dict[str, str]
) -> None:
    adjusted, fresh = await world.partner("Toko Lama"), await world.partner("Toko Baru")
    account = await world.account()
    lowered = await world.paid(adjusted, account, 2)  # fee 1,500 each
    await world.paid(fresh, account, 2, fee=1_000)  # what 1% makes of 100,000
    fees_before = await balance(world.database, FEES)

    previewed = await _preview(client, finance, {"orderIds": [str(i) for i in lowered], "fee": {"percent": "1"}})
    assert (previewed["status"], previewed["orderCount"], previewed["feeBasis"]) == ("previewed", 2, "rate")
    assert (previewed["oldFee"], previewed["newFee"], previewed["difference"]) == (3_000, 2_000, -1_000)
    assert sorted((i["orderStatus"], i["oldFee"], i["newFee"], i["difference"]) for i in previewed["items"]) == [
        ("PAID", FEE, 1_000, -500), ("PAID", FEE, 1_000, -500)
    ]  # fmt: skip
    assert await _balances(world, adjusted) == [2 * (AMOUNT - FEE), 0]  # a preview moves nothing
    assert set((await _fees_of(world.database, lowered)).values()) == {FEE}

    applied = await _apply(client, finance, previewed["id"])
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    assert applied.json()["appliedAt"] is not None
    assert set((await _fees_of(world.database, lowered)).values()) == {1_000}
    assert await _balances(world, adjusted) == await _balances(world, fresh) == [2 * (AMOUNT - 1_000), 0]

    await SETTLEMENT_CHECK.run(world.context())
    assert await _balances(world, adjusted) == await _balances(world, fresh) == [0, 2 * (AMOUNT - 1_000)]
    assert await balance(world.database, FEES) == fees_before - 2 * 500 == 4 * 1_000  # as if all were 1%
    await assert_reconciled(world.database)


async def test_a_settled_order_fee_rise_comes_from_available_and_applying_again_posts_nothing(
    world: World, client: httpx.AsyncClient, finance: dict[str, str], database: Database
) -> None:
    shop = await world.partner("Toko Naik")
    account = await world.account()
    ids = await world.paid(shop, account, 3)
    await SETTLEMENT_CHECK.run(world.context())
    assert await _balances(world, shop) == [0, 3 * (AMOUNT - FEE)]

    previewed = await _preview(
        client, finance, {"orderIds": [str(i) for i in ids], "fee": {"percent": "2", "flat": 500}}
    )
    assert previewed["difference"] == 3 * (2_500 - FEE)
    # Five applies at once, then one more: the differences are posted once.
    answers = await asyncio.gather(*(_apply(client, finance, previewed["id"]) for _ in range(5)))
    assert [answer.status_code for answer in answers] == [200] * 5
    again = await _apply(client, finance, previewed["id"])
    assert again.json() == answers[0].json()
    assert await _balances(world, shop) == [0, 3 * (AMOUNT - 2_500)]
    assert set((await _fees_of(database, ids)).values()) == {2_500}
    async with database.connection() as connection:
        postings = await connection.fetchval("SELECT count(*) FROM ledger_transactions WHERE kind = 'fee_adjustment'")
        audited = await connection.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = 'settlement_adjustment.applied' AND target_id = $1",
            previewed["id"],
        )
    assert (postings, audited) == (3, 1)
    await assert_reconciled(database)


async def test_the_partners_own_rates_by_payment_day_over_a_range(
    world: World, client: httpx.AsyncClient, finance: dict[str, str], admin: dict[str, str]
) -> None:
    shop = await world.partner("Toko Tarif")
    account, other_account = await world.account(), await world.account()
    rates = {"payinWeekdayPercent": "1", "payinWeekdayFlat": 0, "payinWeekendPercent": "3", "payinWeekendFlat": 100}
    changed = await client.patch(f"/api/v1/admin/partners/{shop}", json={"fees": rates}, headers=admin)
    assert changed.status_code == 200, changed.text
    tuesday, saturday = datetime(2026, 11, 24, 10, tzinfo=JAKARTA), datetime(2026, 11, 28, 10, tzinfo=JAKARTA)
    weekday = await world.paid(shop, account, paid_at=tuesday)
    weekend = await world.paid(shop, account, paid_at=saturday)
    await world.paid(shop, other_account, paid_at=tuesday)  # another account: not selected
    await world.paid(shop, account, paid_at=datetime(2026, 11, 30, 10, tzinfo=JAKARTA))  # after the range

    span = {"providerAccountId": str(account), "by": "paid", "dateFrom": "2026-11-24", "dateTo": "2026-11-29"}
    previewed = await _preview(client, finance, {"range": span, "fee": {"partnerFees": True}})
    assert {i["orderId"]: i["newFee"] for i in previewed["items"]} == {
        str(weekday[0]): 1_000, str(weekend[0]): 3_100
    }  # fmt: skip
    assert (previewed["feeBasis"], previewed["feePercent"], previewed["selection"]["range"]["dateTo"]) == (
        "partner_fees", None, "2026-11-29")  # fmt: skip
    assert (await _apply(client, finance, previewed["id"])).status_code == 200
    assert await _balances(world, shop) == [4 * AMOUNT - 2 * FEE - 1_000 - 3_100, 0]
    listed = await client.get(URL, params={"status": "applied"}, headers=finance)
    assert [(a["id"], a["items"]) for a in listed.json()] == [(previewed["id"], None)]
    await assert_reconciled(world.database)


async def test_an_order_changed_since_the_preview_refuses_the_apply(
    world: World, client: httpx.AsyncClient, finance: dict[str, str]
) -> None:
    shop = await world.partner("Toko Basi")
    ids = [str(i) for i in await world.paid(shop, await world.account(), 2)]
    first = await _preview(client, finance, {"orderIds": ids, "fee": {"flat": 2_000}})
    second = await _preview(client, finance, {"orderIds": ids[:1], "fee": {"flat": 1_000}})
    assert (await _apply(client, finance, second["id"])).status_code == 200
    before = await snapshot(world.database)

    stale = await _apply(client, finance, first["id"])
    assert (stale.status_code, stale.json()["error"]) == (409, "adjustment_stale")
    assert ids[0] in stale.json()["detail"]
    assert await snapshot(world.database) == before
    assert (await client.get(f"{URL}/{first['id']}", headers=finance)).json()["status"] == "previewed"


async def test_a_rise_the_partner_cannot_pay_is_refused_whole(
    world: World, client: httpx.AsyncClient, finance: dict[str, str], database: Database
) -> None:
    shop = await world.partner("Toko Tarik")
    ids = await world.paid(shop, await world.account(), 2)
    await SETTLEMENT_CHECK.run(world.context())
    async with database.transaction() as connection:  # the partner is withdrawing nearly everything
        await ledger.withdrawal_hold(
            connection, withdrawal_id=uuid.uuid4(), partner_id=shop, gross=2 * (AMOUNT - FEE) - 1_000
        )
    before = await snapshot(database)
    previewed = await _preview(client, finance, {"orderIds": [str(i) for i in ids], "fee": {"percent": "5"}})
    refused = await _apply(client, finance, previewed["id"])
    assert (refused.status_code, refused.json()["error"]) == (422, "insufficient_funds")
    assert await snapshot(database) == before
    assert set((await _fees_of(database, ids)).values()) == {FEE}
    assert await _balances(world, shop) == [0, 1_000]
    await assert_reconciled(database)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"fee": {"percent": "1"}}, 422, "invalid_adjustment"),  # no selection
        ({"orderIds": ["ORDER"], "range": "RANGE", "fee": {"percent": "1"}}, 422, "invalid_adjustment"),
        ({"orderIds": ["ORDER"], "fee": {}}, 422, "invalid_adjustment"),  # no fee
        ({"orderIds": ["ORDER"], "fee": {"percent": "1", "partnerFees": True}}, 422, "invalid_adjustment"),
        ({"orderIds": ["ORDER", "ORDER"], "fee": {"percent": "1"}}, 422, "invalid_adjustment"),
        ({"orderIds": ["ORDER", str(uuid.uuid4())], "fee": {"percent": "1"}}, 422, "orders_not_adjustable"),
        ({"orderIds": ["ORDER"], "fee": {"percent": "101"}}, 422, "validation_error"),
        ({"orderIds": ["ORDER"], "fee": {"flat": -1}}, 422, "validation_error"),
        ({"orderIds": ["ORDER"], "fee": {"percent": 1.5}}, 422, "validation_error"),
        ({"orderIds": [], "fee": {"percent": "1"}}, 422, "validation_error"),
        ({"range": {"dateFrom": "2026-11-30", "dateTo": "2026-11-01"}, "fee": {"flat": 1}}, 422, "invalid_adjustment"),
        ({"range": {"dateFrom": "2026-01-01", "dateTo": "2026-12-01"}, "fee": {"flat": 1}}, 422, "invalid_adjustment"),
        ({"range": {"dateFrom": "2020-01-01", "dateTo": "2020-01-02"}, "fee": {"flat": 1}}, 422, "no_orders_selected"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    world: World, client: httpx.AsyncClient, finance: dict[str, str], body: dict[str, Any], status: int, code: str
) -> None:
    shop = await world.partner("Toko Salah")
    account = await world.account()
    (order,) = await world.paid(shop, account)
    ids = [str(order) if i == "ORDER" else i for i in body.get("orderIds") or []]
    if "orderIds" in body:
        body = body | {"orderIds": ids}
    if body.get("range") == "RANGE" or isinstance(body.get("range"), dict):
        given = body["range"] if isinstance(body["range"], dict) else {"dateFrom": "2026-11-01", "dateTo": "2026-11-02"}
        body = body | {"range": {"providerAccountId": str(account)} | given}
    before = await snapshot(world.database)

    response = await client.post(f"{URL}/preview", json=body, headers=finance)
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert await snapshot(world.database) == before
    async with world.database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM settlement_adjustments") == 0
    unknown = await _apply(client, finance, str(uuid.uuid4()))
    assert (unknown.status_code, unknown.json()["error"]) == (404, "adjustment_not_found")
