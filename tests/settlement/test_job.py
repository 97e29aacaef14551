"""The settlement checker on a real database: what it settles, the money it moves, what partners hear."""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson
import pytest

from gerbang.auth import user_repository
from gerbang.calendar.repository import DAYS_OFF_SETTING
from gerbang.calendar.service import load_calendar
from gerbang.kit.time import JAKARTA, utcnow
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.scheduler.base import JobError
from gerbang.settlement import service
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from gerbang.settlement.schemas import RunTotals
from gerbang.settlement.service import Run
from tests.ledger.helpers import assert_reconciled, balance
from tests.settlement.conftest import AMOUNT, FEE, NET, World


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def pending(partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(AccountKind.partner_pending, partner_id)


def available(partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(AccountKind.partner_available, partner_id)


async def settle_as_of(world: World, now: datetime) -> RunTotals:
    """What a run at `now` settles of the `business_days` accounts, by the job's own calendar."""
    context = world.context()
    run = Run(world.database, context.run_id, context.stop, _ignore, RunTotals())
    async with world.database.connection() as connection:
        calendar = await load_calendar(connection)
    await service.settle_due(run, calendar, now)
    return run.totals


async def _ignore(_: RunTotals) -> None:
    pass


async def test_settles_every_due_order_once_and_moves_exactly_the_net(world: World) -> None:
    shop, other = await world.partner("Toko A"), await world.partner("Toko B")
    account = await world.account()
    ours = await world.paid(shop, account, 7)
    theirs = await world.paid(other, account, 3, amount=250_000, fee=4_000)
    before = {ref: await balance(world.database, ref) for ref in (pending(shop), pending(other))}

    result = await SETTLEMENT_CHECK.run(world.context(batch_size=4))

    assert await world.statuses(ours + theirs) == {"SETTLED": 10}
    assert set((await world.settlement_postings(ours + theirs)).values()) == {1}
    assert await balance(world.database, pending(shop)) == before[pending(shop)] - 7 * NET
    assert await balance(world.database, available(shop)) == 7 * NET
    assert await balance(world.database, pending(other)) == before[pending(other)] - 3 * 246_000
    assert await balance(world.database, available(other)) == 3 * 246_000
    assert result.counts["settled"] == 10
    assert result.counts["partners"] == 2
    assert result.counts["batches"] >= 3  # at most 4 orders a batch
    assert result.amounts == {"gross": 7 * AMOUNT + 750_000, "fee": 7 * FEE + 12_000, "net": 7 * NET + 738_000}
    await assert_reconciled(world.database)
    async with world.database.connection() as connection:
        rows = await connection.fetch("SELECT partner_id, order_count, gross, fee, net FROM settlement_batches")
        alert = await connection.fetchrow("SELECT kind, message FROM alerts WHERE kind = 'settlement_summary'")
    assert sum(row["order_count"] for row in rows if row["partner_id"] == shop) == 7
    assert sum(row["net"] for row in rows) == result.amounts["net"]
    assert alert is not None
    assert "10 orders of 2 partners" in alert["message"]


async def test_a_friday_evening_payment_settles_on_monday(world: World) -> None:
    shop, account = await world.partner("Toko Jumat"), await world.account(settlement_days=1)
    [order] = await world.paid(shop, account, paid_at=wib(2026, 11, 27, 19, 30))
    assert (await settle_as_of(world, wib(2026, 11, 28, 16))).settled == 0  # Saturday
    assert (await settle_as_of(world, wib(2026, 11, 29, 16))).settled == 0  # Sunday
    assert (await settle_as_of(world, wib(2026, 11, 30, 16))).settled == 1  # Monday
    assert await world.statuses([order]) == {"SETTLED": 1}


async def test_or_on_tuesday_when_monday_is_a_public_holiday(world: World) -> None:
    shop, account = await world.partner("Toko Agustus"), await world.account(settlement_days=1)
    [order] = await world.paid(shop, account, paid_at=wib(2026, 8, 14, 19, 30))
    assert (await settle_as_of(world, wib(2026, 8, 17, 16))).settled == 0  # Independence Day
    assert (await settle_as_of(world, wib(2026, 8, 18, 16))).settled == 1
    assert await world.statuses([order]) == {"SETTLED": 1}


async def test_an_admin_day_off_behaves_as_a_holiday(world: World) -> None:
    shop, account = await world.partner("Toko Libur"), await world.account(settlement_days=1)
    [order] = await world.paid(shop, account, paid_at=wib(2026, 11, 27, 19, 30))
    async with world.database.transaction() as connection:
        await user_repository.put_setting(connection, DAYS_OFF_SETTING, ["2026-11-30"], utcnow())
    assert (await settle_as_of(world, wib(2026, 11, 30, 16))).settled == 0
    assert (await settle_as_of(world, wib(2026, 12, 1, 16))).settled == 1
    assert await world.statuses([order]) == {"SETTLED": 1}


async def test_the_cutoff_hour(world: World) -> None:
    shop, account = (
        await world.partner("Toko Cutoff"),
        await world.account(settlement_days=1, settlement_cutoff_hour=15),
    )
    early = await world.paid(shop, account, paid_at=wib(2026, 11, 26, 14, 59))
    late = await world.paid(shop, account, paid_at=wib(2026, 11, 26, 15, 0))
    assert (await settle_as_of(world, wib(2026, 11, 27, 16))).settled == 1  # Friday: the one before the cut-off
    assert await world.statuses(early) == {"SETTLED": 1}
    assert await world.statuses(late) == {"PAID": 1}
    assert (await settle_as_of(world, wib(2026, 11, 30, 16))).settled == 1  # Monday: the late one
    await assert_reconciled(world.database)


async def test_d_plus_0_settles_at_the_next_run_and_later_orders_wait(world: World) -> None:
    shop = await world.partner("Toko Kilat")
    instant, daily = await world.account(settlement_days=0), await world.account(settlement_days=1)
    now = utcnow()
    fresh = await world.paid(shop, instant, 2, paid_at=now)
    waiting = await world.paid(shop, daily, 2, paid_at=now)
    await SETTLEMENT_CHECK.run(world.context())
    assert await world.statuses(fresh) == {"SETTLED": 2}
    assert await world.statuses(waiting) == {"PAID": 2}


async def test_an_order_settled_by_the_per_order_posting_is_not_settled_again(world: World) -> None:
    shop, account = await world.partner("Toko Manual"), await world.account()
    manual, batch = await world.paid(shop, account), await world.paid(shop, account, 2)
    async with world.database.transaction() as connection:
        await ledger.settlement(connection, order_id=manual[0], partner_id=shop, net=NET)
    result = await SETTLEMENT_CHECK.run(world.context())
    assert await world.statuses(manual + batch) == {"SETTLED": 3}  # its status catches up with its money
    assert set((await world.settlement_postings(manual + batch)).values()) == {1}
    assert await balance(world.database, available(shop)) == 3 * NET
    assert (result.counts["settled"], result.counts["already_settled"], result.amounts["net"]) == (2, 1, 2 * NET)
    async with world.database.connection() as connection:
        batch_of = await connection.fetchval("SELECT settlement_batch_id FROM orders WHERE id = $1", manual[0])
        in_batches = await connection.fetchval("SELECT sum(order_count) FROM settlement_batches")
    assert (batch_of, in_batches) == (None, 2)
    await assert_reconciled(world.database)


async def test_the_webhook_and_outbox_event_carry_the_documented_payload(world: World) -> None:
    shop, account = await world.partner("Toko Kabar"), await world.account()
    orders = await world.paid(shop, account, 3)
    context = world.context()
    await SETTLEMENT_CHECK.run(context)
    async with world.database.connection() as connection:
        batch = await connection.fetchrow("SELECT * FROM settlement_batches")
        webhook = await connection.fetchrow("SELECT * FROM webhook_events WHERE event_type = 'settlement.completed'")
        outbox = await connection.fetchrow("SELECT * FROM outbox_events WHERE event = 'settlement.completed'")
        settled_at = await connection.fetchval("SELECT DISTINCT settled_at FROM orders WHERE id = ANY($1)", orders)
    assert batch is not None
    assert webhook is not None
    assert outbox is not None
    assert (batch["run_id"], batch["partner_id"], batch["order_count"]) == (context.run_id, shop, 3)
    assert (batch["gross"], batch["fee"], batch["net"], batch["settled_at"]) == (
        3 * AMOUNT, 3 * FEE, 3 * NET, settled_at)  # fmt: skip
    body = orjson.loads(webhook["body"])
    data = {
        "batchId": str(batch["id"]), "partnerId": str(shop), "currency": "IDR", "orderCount": 3,
        "grossAmount": 3 * AMOUNT, "fee": 3 * FEE, "netAmount": 3 * NET,
        "settledAt": settled_at.astimezone(JAKARTA).isoformat(),
    }  # fmt: skip
    assert {key: body[key] for key in data} == data
    assert sorted(body["orderIds"]) == sorted(str(order) for order in orders)
    assert set(body) == {"event", "id", "timestamp", *data, "orderIds"}
    assert (body["event"], body["id"], webhook["object_id"]) == (
        "settlement.completed",
        str(webhook["id"]),
        batch["id"],
    )
    assert (outbox["topic"], outbox["key"], outbox["data"]) == (
        "settlements.v1",
        str(shop),
        {k: body[k] for k in (*data, "orderIds")},
    )


async def test_a_stopped_run_settles_nothing_more_and_says_so(world: World) -> None:
    shop, account = await world.partner("Toko Berhenti"), await world.account()
    orders = await world.paid(shop, account, 3)
    context = world.context()
    context.stop.set()
    result = await SETTLEMENT_CHECK.run(context)
    assert result.counts["settled"] == 0
    assert await world.statuses(orders) == {"PAID": 3}
    async with world.database.connection() as connection:
        message = await connection.fetchval("SELECT message FROM alerts WHERE kind = 'settlement_summary'")
    assert "stopped early" in message


@pytest.mark.parametrize("size", [0, 50_001, "100", 2.5])
async def test_a_batch_size_out_of_range_is_refused(world: World, size: object) -> None:
    context = world.context()
    context.parameters["batch_size"] = size
    with pytest.raises(JobError, match="batch_size"):
        await SETTLEMENT_CHECK.run(context)
