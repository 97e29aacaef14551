"""Runs at once, runs cut short, runs replayed: every order settles exactly once and the ledger stays clean."""

from __future__ import annotations

import asyncio
import uuid

from gerbang.config import Settings
from gerbang.db import Database
from gerbang.ledger import batch as ledger_batch
from gerbang.ledger import service as ledger
from gerbang.ledger.schemas import AccountKind, AccountRef
from gerbang.scheduler.base import JobResult
from gerbang.settlement.jobs import SETTLEMENT_CHECK, check
from tests.ledger.helpers import assert_reconciled, balance, snapshot
from tests.settlement.conftest import NET, World


async def _balances(world: World, partners: list[uuid.UUID]) -> dict[tuple[AccountKind, uuid.UUID], int]:
    return {
        (kind, partner): await balance(world.database, AccountRef(kind, partner))
        for kind in (AccountKind.partner_pending, AccountKind.partner_available)
        for partner in partners
    }


async def _assert_each_order_settled_once_or_not_at_all(world: World, orders: list[uuid.UUID]) -> None:
    postings = await world.settlement_postings(orders)
    async with world.database.connection() as connection:
        rows = await connection.fetch("SELECT id, status FROM orders WHERE id = ANY($1)", orders)
    for row in rows:
        assert (row["status"], postings[row["id"]]) in (("PAID", 0), ("SETTLED", 1)), row


async def test_two_runs_at_once_settle_each_order_exactly_once(
    world: World, database_url: str, settings: Settings
) -> None:
    partners = [await world.partner(f"Toko {n}") for n in range(3)]
    account = await world.account()
    orders = [order for partner in partners for order in await world.paid(partner, account, 150)]
    before = await _balances(world, partners)
    other = await Database.connect(database_url, settings)  # another worker: its own pool, its own connections
    try:
        other_world = World(other, world.settings, world.key_ring)
        first, second = await asyncio.gather(
            SETTLEMENT_CHECK.run(world.context(batch_size=20)), SETTLEMENT_CHECK.run(other_world.context(batch_size=20))
        )
    finally:
        await other.dispose()
    assert first.counts["settled"] + second.counts["settled"] == 450
    assert first.counts["settled"] > 0
    assert second.counts["settled"] > 0  # both really worked, on different orders
    assert await world.statuses(orders) == {"SETTLED": 450}
    assert set((await world.settlement_postings(orders)).values()) == {1}
    after = await _balances(world, partners)
    for partner in partners:
        assert (
            after[(AccountKind.partner_pending, partner)] == before[(AccountKind.partner_pending, partner)] - 150 * NET
        )
        assert (
            after[(AccountKind.partner_available, partner)]
            == before[(AccountKind.partner_available, partner)] + 150 * NET
        )
    async with world.database.connection() as connection:
        in_batches = await connection.fetchval("SELECT sum(order_count) FROM settlement_batches")
        webhooks = await connection.fetchval(
            "SELECT count(*) FROM webhook_events WHERE event_type = 'settlement.completed'"
        )
        batches = await connection.fetchval("SELECT count(*) FROM settlement_batches")
    assert in_batches == 450
    assert webhooks == batches
    await assert_reconciled(world.database)


async def _wait_for_a_lock_wait(database: Database) -> None:
    for _ in range(500):
        async with database.connection() as connection:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the run never waited for the lock")


async def test_a_run_cancelled_inside_a_batch_leaves_each_order_settled_once_or_not_at_all(world: World) -> None:
    """The first batch commits; the second is cancelled while it waits for a ledger account (so after it took
    and updated its orders, before its posting); the next run finishes the rest."""
    shop, account = await world.partner("Toko Batal"), await world.account()
    orders = await world.paid(shop, account, 30)
    pending_before = await balance(world.database, AccountRef(AccountKind.partner_pending, shop))
    holder = await world.database.pool.acquire()
    held = holder.transaction()
    batches = []

    async def after_the_first_batch(so_far: JobResult) -> None:
        batches.append(so_far)
        if len(batches) == 1:  # the next batch's posting will wait for this lock
            await held.start()
            await holder.execute(
                "SELECT 1 FROM ledger_accounts WHERE kind = 'partner_pending' AND owner_id = $1 FOR UPDATE", shop
            )

    context = world.context(batch_size=10)
    context.report_progress = after_the_first_batch
    task = asyncio.create_task(check(context))
    try:
        await _wait_for_a_lock_wait(world.database)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await held.rollback()
        await world.database.pool.release(holder)
    assert task.cancelled()
    assert await world.statuses(orders) == {"SETTLED": 10, "PAID": 20}
    await _assert_each_order_settled_once_or_not_at_all(world, orders)
    assert await balance(world.database, AccountRef(AccountKind.partner_available, shop)) == 10 * NET
    await assert_reconciled(world.database)

    result = await SETTLEMENT_CHECK.run(world.context(batch_size=10))
    assert result.counts["settled"] == 20
    assert await world.statuses(orders) == {"SETTLED": 30}
    assert set((await world.settlement_postings(orders)).values()) == {1}
    assert await balance(world.database, AccountRef(AccountKind.partner_pending, shop)) == pending_before - 30 * NET
    await assert_reconciled(world.database)


async def test_a_run_stopped_between_batches_is_finished_by_the_next(world: World) -> None:
    shop, account = await world.partner("Toko Henti"), await world.account()
    orders = await world.paid(shop, account, 25)
    context = world.context(batch_size=10)

    async def stop_after_one(_: JobResult) -> None:
        context.stop.set()

    context.report_progress = stop_after_one
    first = await SETTLEMENT_CHECK.run(context)
    assert first.counts["settled"] == 10
    await _assert_each_order_settled_once_or_not_at_all(world, orders)
    second = await SETTLEMENT_CHECK.run(world.context(batch_size=10))
    assert second.counts["settled"] == 15
    assert await world.statuses(orders) == {"SETTLED": 25}
    await assert_reconciled(world.database)


async def test_a_replayed_batch_moves_no_money(world: World) -> None:
    shop, account = await world.partner("Toko Ulang"), await world.account()
    orders = await world.paid(shop, account, 5)
    nets = [(order, shop, NET) for order in orders]
    async with world.database.transaction() as connection:
        first = await ledger_batch.settlements(connection, nets)
    assert (first.posted, first.replayed) == ([0, 1, 2, 3, 4], [])
    before = await snapshot(world.database)
    async with world.database.transaction() as connection:
        again = await ledger_batch.settlements(connection, nets)
        single = await ledger.settlement(connection, order_id=orders[0], partner_id=shop, net=NET)
    assert (again.posted, again.replayed) == ([], [0, 1, 2, 3, 4])
    assert single.replayed  # the per-order posting shares the key: it finds the batch's transaction
    assert await snapshot(world.database) == before
    await assert_reconciled(world.database)
