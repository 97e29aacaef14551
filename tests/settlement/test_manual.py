"""Manual settlement on a real database: each filter narrows the selection, the run settles what the preview
counted, exactly once, batch by batch, however it is cancelled, killed or raced by the checker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gerbang.kit.time import JAKARTA, to_jakarta, utcnow
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.scheduler.base import JobResult
from gerbang.settlement import manual
from gerbang.settlement.jobs import SETTLEMENT_CHECK
from gerbang.settlement.manual_job import SETTLEMENT_MANUAL
from gerbang.settlement.manual_schemas import ManualSettlementRequest, PreviewResponse
from tests.ledger.helpers import assert_reconciled, balance
from tests.settlement.conftest import AMOUNT, FEE, NET, World


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def request(batch_size: int = 1_500, **filters: Any) -> ManualSettlementRequest:
    """Filters over the last 30 Jakarta days unless given."""
    today = to_jakarta(utcnow()).date()
    body = {"dateFrom": str(today - timedelta(days=30)), "dateTo": str(today)} | filters
    return ManualSettlementRequest.model_validate({"filters": body, "batchSize": batch_size})


async def preview(world: World, body: ManualSettlementRequest) -> PreviewResponse:
    async with world.database.connection() as connection:
        return await manual.preview(connection, body, utcnow())


async def selected(world: World, **filters: Any) -> set[uuid.UUID]:
    """The ids a preview with these filters counts (every one: the tests select fewer than its sample)."""
    found = (await preview(world, request(**filters))).preview
    assert found.total_orders == len(found.sample)
    return {order.id for order in found.sample}


async def start(world: World, body: ManualSettlementRequest) -> uuid.UUID:
    async with world.database.transaction() as connection:
        return (await manual.start(connection, body, created_by="admin:test", now=utcnow())).id


async def run_job(world: World, after_batch: Any = None) -> JobResult:
    context = world.context()
    context.report_progress = after_batch
    return await SETTLEMENT_MANUAL.run(context)


async def row(world: World, settlement_id: uuid.UUID) -> asyncpg.Record:
    async with world.database.connection() as connection:
        found = await connection.fetchrow("SELECT * FROM manual_settlements WHERE id = $1", settlement_id)
    assert found is not None
    return found


def available(partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(AccountKind.partner_available, partner_id)


def pending(partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(AccountKind.partner_pending, partner_id)


async def test_the_run_settles_what_the_preview_counted_and_moves_exactly_the_net(world: World) -> None:
    shop, other = await world.partner("Toko Manual A"), await world.partner("Toko Manual B")
    account = await world.account()
    ours = await world.paid(shop, account, 3)
    theirs = await world.paid(other, account, 2, amount=250_000, fee=4_000)
    outside = await world.paid(shop, account, paid_at=utcnow() - timedelta(days=60))
    before = await balance(world.database, pending(shop))

    shown = (await preview(world, request(batch_size=2))).preview
    assert (shown.total_orders, shown.gross_amount, shown.fee_amount, shown.total_net_amount) == (
        5, 3 * AMOUNT + 500_000, 3 * FEE + 8_000, 3 * NET + 492_000)  # fmt: skip
    assert (shown.batch_size, shown.estimated_batches) == (2, 3)
    assert {order.id for order in shown.sample} == set(ours + theirs)

    settlement_id = await start(world, request(batch_size=2))
    assert (await row(world, settlement_id))["status"] == "queued"
    result = await run_job(world)

    done = await row(world, settlement_id)
    assert done["status"] == "completed"
    assert (done["settled_orders"], done["gross"], done["fee"], done["net"]) == (
        shown.total_orders, shown.gross_amount, shown.fee_amount, shown.total_net_amount)  # fmt: skip
    assert (done["expected_orders"], done["expected_net"], done["batches"]) == (5, shown.total_net_amount, 3)
    assert done["finished_at"] is not None
    assert result.counts["settled"] == 5
    assert result.amounts["net"] == shown.total_net_amount
    assert await world.statuses(ours + theirs) == {"SETTLED": 5}
    assert await world.statuses(outside) == {"PAID": 1}
    assert set((await world.settlement_postings(ours + theirs)).values()) == {1}
    assert await balance(world.database, available(shop)) == 3 * NET
    assert await balance(world.database, pending(shop)) == before - 3 * NET
    assert await balance(world.database, available(other)) == 2 * 246_000
    await assert_reconciled(world.database)
    async with world.database.connection() as connection:
        batches = await connection.fetch("SELECT * FROM settlement_batches WHERE run_id = $1", settlement_id)
        webhooks = await connection.fetchval(
            "SELECT count(*) FROM webhook_events WHERE event_type = 'settlement.completed' AND object_id = ANY($1)",
            [batch["id"] for batch in batches],
        )
        outbox = await connection.fetchval("SELECT count(*) FROM outbox_events WHERE event = 'settlement.completed'")
        audit = await connection.fetch(
            "SELECT action, actor_type FROM audit_events WHERE target_id = $1", str(settlement_id)
        )
        alert = await connection.fetchval("SELECT message FROM alerts WHERE kind = 'settlement_summary'")
    assert sum(batch["order_count"] for batch in batches) == 5
    assert sum(batch["net"] for batch in batches) == shown.total_net_amount
    assert webhooks == outbox == len(batches)
    assert [tuple(entry) for entry in audit] == [("manual_settlement.completed", "system")]
    assert f"Manual settlement {settlement_id} completed" in alert


async def test_the_date_range_is_of_jakarta_payment_days_inclusive(world: World) -> None:
    shop, account = await world.partner("Toko Tanggal"), await world.account()
    [before] = await world.paid(shop, account, paid_at=wib(2026, 11, 9, 23, 59))
    [first] = await world.paid(shop, account, paid_at=wib(2026, 11, 10, 0, 0))
    [last] = await world.paid(shop, account, paid_at=wib(2026, 11, 12, 23, 59))
    [after] = await world.paid(shop, account, paid_at=wib(2026, 11, 13, 0, 0))
    assert await selected(world, dateFrom="2026-11-10", dateTo="2026-11-12") == {first, last}
    assert await selected(world, dateFrom="2026-11-13", dateTo="2026-11-13") == {after}
    assert before not in await selected(world, dateFrom="2026-11-10", dateTo="2026-11-30")


async def test_days_of_week_and_the_hour_window_are_jakarta_days_and_hours(world: World) -> None:
    shop, account = await world.partner("Toko Jam"), await world.account()
    [sunday_morning] = await world.paid(shop, account, paid_at=wib(2026, 11, 8, 7, 30))
    [monday_noon] = await world.paid(shop, account, paid_at=wib(2026, 11, 9, 12, 0))
    [monday_night] = await world.paid(shop, account, paid_at=wib(2026, 11, 9, 23, 10))
    [saturday_early] = await world.paid(shop, account, paid_at=wib(2026, 11, 14, 0, 20))  # Friday 17:20 UTC
    week = {"dateFrom": "2026-11-08", "dateTo": "2026-11-14"}
    assert await selected(world, **week, daysOfWeek=[0]) == {sunday_morning}
    assert await selected(world, **week, daysOfWeek=[1]) == {monday_noon, monday_night}
    assert await selected(world, **week, daysOfWeek=[6]) == {saturday_early}
    assert await selected(world, **week, daysOfWeek=[5]) == set()
    assert await selected(world, **week, hourStart=7, hourEnd=12) == {sunday_morning, monday_noon}
    assert await selected(world, **week, hourStart=23, hourEnd=23) == {monday_night}
    assert await selected(world, **week, hourStart=0, hourEnd=0) == {saturday_early}
    assert await selected(world, **week, daysOfWeek=[1], hourStart=13) == {monday_night}


async def test_partners_and_provider_accounts_are_included_or_excluded(world: World) -> None:
    shop, other = await world.partner("Toko Satu"), await world.partner("Toko Dua")
    account, second = await world.account(), await world.account()
    [shop_first] = await world.paid(shop, account)
    [shop_second] = await world.paid(shop, second)
    [other_first] = await world.paid(other, account)
    assert await selected(world, partnerIds=[str(shop)]) == {shop_first, shop_second}
    assert await selected(world, partnerIds=[str(shop)], partnerMode="exclude") == {other_first}
    assert await selected(world, providerAccountIds=[str(second)]) == {shop_second}
    assert await selected(world, providerAccountIds=[str(second)], providerAccountMode="exclude") == {
        shop_first, other_first}  # fmt: skip
    assert await selected(world, partnerIds=[str(shop)], providerAccountIds=[str(account)]) == {shop_first}
    assert await selected(world, partnerIds=[str(uuid.uuid4())]) == set()


async def test_methods_are_included_or_excluded(world: World) -> None:
    shop, account = await world.partner("Toko Metode"), await world.account()
    [qris] = await world.paid(shop, account)
    [va] = await world.paid(shop, account)
    async with world.database.transaction() as connection:
        await connection.execute("UPDATE orders SET method = 'va' WHERE id = $1", va)
    assert await selected(world, methods=["va"]) == {va}
    assert await selected(world, methods=["va", "qris"]) == {qris, va}
    assert await selected(world, methods=["va"], methodMode="exclude") == {qris}
    assert await selected(world, methods=["ewallet"]) == set()


async def test_net_bounds_and_orders_without_a_net(world: World) -> None:
    shop, account = await world.partner("Toko Neto"), await world.account()
    [small] = await world.paid(shop, account, amount=10_000, fee=500)  # net 9,500
    [large] = await world.paid(shop, account, amount=1_000_000, fee=10_000)  # net 990,000
    # A fee adjusted up to the whole amount: nothing to move (order_paid itself refuses such a fee).
    [zero] = await world.paid(shop, account, amount=20_000, fee=1_000)
    async with world.database.transaction() as connection:
        await connection.execute("UPDATE orders SET fee = amount WHERE id = $1", zero)
    assert await selected(world) == {small, large}
    assert await selected(world, minNet=9_500, maxNet=9_500) == {small}
    assert await selected(world, minNet=9_501) == {large}
    assert await selected(world, maxNet=989_999) == {small}
    assert await selected(world, includeZero=True) == {small, large, zero}
    assert await selected(world, includeZero=True, maxNet=0) == {zero}

    settlement_id = await start(world, request(includeZero=True))
    await run_job(world)
    done = await row(world, settlement_id)
    assert (done["status"], done["settled_orders"], done["already_settled"], done["net"]) == (
        "completed", 2, 1, 9_500 + 990_000)  # fmt: skip
    assert await world.statuses([small, large, zero]) == {"SETTLED": 3}
    assert (await world.settlement_postings([zero]))[zero] == 0
    assert await balance(world.database, available(shop)) == 9_500 + 990_000
    await assert_reconciled(world.database)


async def test_a_cancel_between_batches_stops_at_the_batch_boundary(world: World) -> None:
    shop, account = await world.partner("Toko Batal"), await world.account()
    orders = await world.paid(shop, account, 5)
    settlement_id = await start(world, request(batch_size=2))

    async def cancel_after_the_first_batch(_: JobResult) -> None:
        async with world.database.transaction() as connection:
            await manual.cancel(connection, settlement_id, by="admin:test", now=utcnow())
        assert (await row(world, settlement_id))["status"] == "running"  # it stops itself, at its next batch

    await run_job(world, cancel_after_the_first_batch)

    done = await row(world, settlement_id)
    assert (done["status"], done["batches"], done["settled_orders"], done["net"]) == ("cancelled", 1, 2, 2 * NET)
    assert (done["cancel_requested_by"], done["finished_at"] is not None) == ("admin:test", True)
    assert await world.statuses(orders) == {"SETTLED": 2, "PAID": 3}
    assert await balance(world.database, available(shop)) == 2 * NET
    await assert_reconciled(world.database)
    async with world.database.transaction() as connection:
        with pytest.raises(manual.ManualSettlementFinished):
            await manual.cancel(connection, settlement_id, by="admin:test", now=utcnow())


async def test_a_queued_one_cancelled_settles_nothing(world: World) -> None:
    shop, account = await world.partner("Toko Antri"), await world.account()
    orders = await world.paid(shop, account, 2)
    settlement_id = await start(world, request())
    async with world.database.transaction() as connection:
        before, after = await manual.cancel(connection, settlement_id, by="admin:test", now=utcnow())
    assert (before.status, after.status, after.cancel_requested) == ("queued", "cancelled", True)
    result = await run_job(world)
    assert result.counts["settled"] == 0
    assert await world.statuses(orders) == {"PAID": 2}


async def test_a_run_killed_half_way_is_resumed_and_settles_every_order_once(world: World) -> None:
    shop, account = await world.partner("Toko Mati"), await world.account()
    orders = await world.paid(shop, account, 5)
    settlement_id = await start(world, request(batch_size=2))

    async def die(_: JobResult) -> None:
        raise asyncio.CancelledError  # the worker is gone after its first batch committed

    with pytest.raises(asyncio.CancelledError):
        await run_job(world, die)
    killed = await row(world, settlement_id)
    assert (killed["status"], killed["batches"], killed["settled_orders"]) == ("running", 1, 2)

    result = await run_job(world)

    done = await row(world, settlement_id)
    assert (done["status"], done["batches"], done["settled_orders"], done["net"]) == ("completed", 3, 5, 5 * NET)
    assert result.counts["settled"] == 3
    assert await world.statuses(orders) == {"SETTLED": 5}
    assert set((await world.settlement_postings(orders)).values()) == {1}
    assert await balance(world.database, available(shop)) == 5 * NET
    await assert_reconciled(world.database)


async def test_orders_the_checker_settled_while_it_was_queued_are_not_settled_again(world: World) -> None:
    shop, account = await world.partner("Toko Balapan"), await world.account()
    not_due = await world.account(settlement_days=30)  # the checker leaves its orders alone
    checked = await world.paid(shop, account, 3)
    by_hand = await world.paid(shop, not_due)  # its money moved by the per-order posting, its status not yet
    async with world.database.transaction() as connection:
        await ledger.settlement(connection, order_id=by_hand[0], partner_id=shop, net=NET)
    settlement_id = await start(world, request())
    assert (await row(world, settlement_id))["expected_orders"] == 4

    await SETTLEMENT_CHECK.run(world.context())
    assert await world.statuses(checked + by_hand) == {"SETTLED": 3, "PAID": 1}

    await run_job(world)
    done = await row(world, settlement_id)
    assert (done["status"], done["settled_orders"], done["already_settled"], done["net"]) == ("completed", 0, 1, 0)
    assert await world.statuses(checked + by_hand) == {"SETTLED": 4}
    assert set((await world.settlement_postings(checked + by_hand)).values()) == {1}
    assert await balance(world.database, available(shop)) == 4 * NET
    await assert_reconciled(world.database)


async def test_one_runs_at_a_time_in_the_order_they_were_started(world: World) -> None:
    shop, account = await world.partner("Toko Giliran"), await world.account()
    await world.paid(shop, account, 3)
    first = await start(world, request(batch_size=1, dateFrom=str(date(2020, 1, 1))))
    second = await start(world, request())
    async with world.database.transaction() as connection:  # as its worker left it when it died
        await connection.execute("UPDATE manual_settlements SET status = 'running' WHERE id = $1", first)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with world.database.transaction() as connection:
            await connection.execute("UPDATE manual_settlements SET status = 'running' WHERE id = $1", second)

    await run_job(world)

    one, two = await row(world, first), await row(world, second)
    assert (one["status"], one["settled_orders"], two["status"], two["settled_orders"]) == (
        "completed",
        3,
        "completed",
        0,
    )
    assert two["started_at"] >= one["finished_at"]
