"""Settling PAID orders: batch by batch, each batch one transaction, set-based (docs/settlement.md).

A batch takes its orders with `FOR UPDATE SKIP LOCKED` (two runs at once never take the same order) and, in
the same statement, moves them PAID -> SETTLED by compare-and-set and writes one `settlement_batches` row per
partner; then, per row, the partner's `settlement.completed` webhook and the `settlements.v1` outbox event;
last, one set-based ledger posting for the whole batch (`gerbang.ledger.batch.settlements`, under the
per-order key `order:{id}:settled`, so nothing is ever settled twice, whichever way it was settled first).
A run stopped or killed anywhere leaves each order either PAID with no settlement posting or SETTLED with
exactly one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import asyncpg

from gerbang.db import Database
from gerbang.events import service as events
from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.crypto import KeyRing
from gerbang.kit.log import get_logger
from gerbang.kit.money import IDR
from gerbang.kit.sql import Connection
from gerbang.kit.time import utcnow
from gerbang.ledger import batch as ledger_batch
from gerbang.provider.base import PaymentStatus, ProviderError, StatusResult
from gerbang.provider.registry import UnknownProvider, provider
from gerbang.routing import repository as accounts_repository
from gerbang.routing.accounts import adapter_account
from gerbang.settlement import repository
from gerbang.settlement.rules import SettlementRule, due_before
from gerbang.settlement.schemas import BatchOutcome, PartnerBatch, RunTotals

log = get_logger("gerbang.settlement")

BATCH_SIZE = 5_000
LANES = 4
"""Batches in flight at once, each lane over its own share of the partners (`settle_due`)."""
STATUS_PAGE = 500
"""provider_reported: orders asked about per page (then settled in one batch)."""
STATUS_CONCURRENCY = 16
"""provider_reported: status queries in flight at once."""
START = (datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0))
"""Before every order, for keyset pages over (paid_at, id)."""

Claim = Callable[[Connection, datetime], Awaitable[list[asyncpg.Record]]]
"""Takes and settles (in SQL) a batch of orders at the time given: `repository.settle_due` or `settle_ids`."""
Record = Callable[[Connection, BatchOutcome], Awaitable[None]]
"""Writes what a batch did, in its transaction."""


async def settle_batch(database: Database, claim: Claim, record: Record | None = None) -> BatchOutcome | None:
    """One batch in one transaction: the orders `claim` takes, settled; None if it took none. `record`, if
    given, writes what the batch did in the same transaction (a manual settlement's progress).

    The ledger posting comes last: it locks the partners' pending and available accounts (which payments and
    withdrawals lock too) until the commit, so they are held for the shortest time.
    """
    async with database.transaction() as connection:
        now = utcnow()
        orders = await claim(connection, now)
        if not orders:
            return None
        batches = _partner_batches(orders, now)
        for batch in batches:
            await events.webhook_and_outbox(
                connection, partner_id=batch.partner_id, webhook_event="settlement.completed", object_id=batch.id,
                topic="settlements.v1", key=str(batch.partner_id), outbox_event="settlement.completed",
                data=batch.payload(), at=now,
            )  # fmt: skip
        to_post = [order for order in orders if order["settlement_batch_id"] is not None]
        if to_post:
            posting = await ledger_batch.settlements(
                connection, [(order["id"], order["partner_id"], order["amount"] - order["fee"]) for order in to_post]
            )
            if posting.replayed:  # posted since the claim by something that did not lock the order: refuse
                raise RuntimeError(f"{len(posting.replayed)} settlement postings appeared under locked orders")
        outcome = BatchOutcome(partner_batches=batches, already_settled=len(orders) - len(to_post))
        if record is not None:
            await record(connection, outcome)
    return outcome


def _partner_batches(orders: Sequence[asyncpg.Record], now: datetime) -> list[PartnerBatch]:
    by_batch: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for order in orders:
        if order["settlement_batch_id"] is not None:
            by_batch.setdefault(order["settlement_batch_id"], []).append(order)
    batches = []
    for batch_id, own in by_batch.items():
        gross, fee = sum(o["amount"] for o in own), sum(o["fee"] for o in own)
        batches.append(
            PartnerBatch(batch_id, own[0]["partner_id"], [o["id"] for o in own], gross, fee, gross - fee, now)
        )
    return batches


@dataclass(frozen=True)
class Run:
    """One settlement run: what it needs, what it has done so far."""

    database: Database
    run_id: uuid.UUID
    stop: asyncio.Event
    on_batch: Callable[[RunTotals], Awaitable[None]]
    totals: RunTotals
    batch_size: int = BATCH_SIZE

    async def settle(self, claim: Claim) -> bool:
        outcome = await settle_batch(self.database, claim)
        if outcome is None:
            return False
        self.totals.add(outcome)
        await self.on_batch(self.totals)
        return True


async def settle_due(run: Run, calendar: BusinessCalendar, now: datetime) -> None:
    """`business_days` accounts: every order due at `now`, batch by batch, until none is left or `stop`.

    `LANES` batches run at once, each over its own share of the partners: batches of different lanes lock
    different ledger accounts, so none waits for another, and PostgreSQL works on several at once (one
    connection is at most one core; while one waits for its round trips and commit, another computes).
    """
    async with run.database.connection() as connection:
        accounts = await repository.accounts(connection)
    due = [
        (row["id"], before)
        for row in accounts
        if row["settlement_rule"] == SettlementRule.business_days
        and (before := due_before(calendar, now, row["settlement_days"], row["settlement_cutoff_hour"])) is not None
    ]
    if not due:
        return
    async with run.database.connection() as connection:
        partners = await repository.partners(connection)

    async def lane(own: list[uuid.UUID]) -> None:
        for account_id, before in due:
            await _settle_lane(run, account_id, before, own)

    await asyncio.gather(*(lane(partners[number::LANES]) for number in range(min(LANES, len(partners)))))


async def _settle_lane(run: Run, account_id: uuid.UUID, before: datetime, partners: list[uuid.UUID]) -> None:
    """The due orders of an account and some partners, in payment order, batch by batch."""
    after = START

    async def claim(connection: Connection, now: datetime) -> list[asyncpg.Record]:
        nonlocal after
        orders = await repository.settle_due(
            connection, run_id=run.run_id, currency=IDR, now=now, account_id=account_id, before=before, after=after,
            partners=partners, limit=run.batch_size,
        )  # fmt: skip
        if orders:
            after = max((order["paid_at"], order["id"]) for order in orders)
        return orders

    while not run.stop.is_set() and await run.settle(claim):
        pass


async def settle_provider_reported(run: Run, key_ring: KeyRing, session: aiohttp.ClientSession) -> None:
    """`provider_reported` accounts: each PAID order whose provider says it is settled, page by page."""
    async with run.database.connection() as connection:
        accounts = [
            row for row in await repository.accounts(connection)
            if row["settlement_rule"] == SettlementRule.provider_reported
        ]  # fmt: skip
    for account in accounts:
        if run.stop.is_set():
            return
        await _settle_account(run, key_ring, session, account["id"])


async def _settle_account(run: Run, key_ring: KeyRing, session: aiohttp.ClientSession, account_id: uuid.UUID) -> None:
    async with run.database.connection() as connection:
        account = await accounts_repository.get_account(connection, account_id)
    assert account is not None  # noqa: S101 (listed just before; accounts are never deleted)
    try:
        adapter = provider(account["provider"])
    except UnknownProvider:
        log.warning("settlement.unknown_provider", account_id=str(account_id), provider=account["provider"])
        return
    target = adapter_account(account, key_ring)
    gate = asyncio.Semaphore(STATUS_CONCURRENCY)

    async def ask(order: asyncpg.Record) -> StatusResult | None:
        async with gate:
            try:
                return await adapter.payment_status(session, target, order["id"], order["provider_reference"])
            except ProviderError as error:
                log.warning("settlement.status_failed", order_id=str(order["id"]), error=str(error))
                return None

    after = START
    while not run.stop.is_set():
        async with run.database.connection() as connection:
            page = await repository.waiting(connection, account_id, after, STATUS_PAGE)
        if not page:
            return
        after = (page[-1]["paid_at"], page[-1]["id"])
        answers = await asyncio.gather(*(ask(order) for order in page))
        run.totals.provider_checked += len(page)
        run.totals.provider_errors += sum(answer is None for answer in answers)
        settled = [order["id"] for order, answer in zip(page, answers, strict=True) if _settled(order, answer)]
        if settled:

            async def claim(
                connection: Connection, now: datetime, ids: list[uuid.UUID] = settled
            ) -> list[asyncpg.Record]:
                return await repository.settle_ids(connection, run_id=run.run_id, currency=IDR, now=now, ids=ids)

            await run.settle(claim)


def _settled(order: asyncpg.Record, answer: StatusResult | None) -> bool:
    """The provider's word that this order is settled, for the amount we know."""
    return (
        answer is not None and answer.status is PaymentStatus.paid and answer.settled
        and answer.amount == order["amount"]
    )  # fmt: skip
