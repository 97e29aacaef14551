"""Manual settlement: an admin settles the PAID orders their filters select, as a persisted job that the
`settlement.manual` scheduler job runs in batches (docs/settlement.md, "Manual settlement").

Every batch is the checker's own (`service.settle_batch` over `repository.settling`): the same compare-and-set
PAID -> SETTLED, the same `settlement_batches` rows, webhooks and outbox events, the same ledger posting under
the same key `order:{id}:settled`, so an order settled by both is settled once. The batch's progress is added
to the `manual_settlements` row in the batch's transaction, so the figures are exactly what committed, and a
run killed anywhere is resumed by the next run of the job without settling anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import asyncpg

from gerbang.audit import service as audit
from gerbang.db import Database
from gerbang.events.alerts import Severity, raise_alert
from gerbang.exceptions import Conflict, GerbangError, NotFound, UnprocessableEntity
from gerbang.kit.log import get_logger
from gerbang.kit.money import IDR, format_idr
from gerbang.kit.sql import Connection
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.scheduler import service as scheduler
from gerbang.scheduler.runner import describe_failure
from gerbang.settlement import manual_repository as repository
from gerbang.settlement.manual_schemas import (
    FINISHED,
    ManualSettlement,
    ManualSettlementFilters,
    ManualSettlementRequest,
    Preview,
    PreviewResponse,
    SampleOrder,
)
from gerbang.settlement.schemas import BatchOutcome, RunTotals
from gerbang.settlement.service import START, settle_batch

log = get_logger("gerbang.settlement.manual")

JOB_NAME = "settlement.manual"
SAMPLE_SIZE = 20
TARGET = "manual_settlement"
"""Its audit entries' target type."""


class InvalidDateRange(UnprocessableEntity):
    code = "invalid_date_range"


class InvalidHourRange(UnprocessableEntity):
    code = "invalid_hour_range"


class InvalidNetRange(UnprocessableEntity):
    code = "invalid_net_range"


class ManualSettlementNotFound(NotFound):
    code = "manual_settlement_not_found"


class ManualSettlementFinished(Conflict):
    code = "manual_settlement_finished"


def check(filters: ManualSettlementFilters) -> None:
    """The rules between fields (each field's own range is the schema's)."""
    if filters.date_from > filters.date_to:
        raise InvalidDateRange("`dateFrom` must not be after `dateTo`")
    if filters.hour_start > filters.hour_end:
        raise InvalidHourRange("`hourStart` must not be after `hourEnd`")
    if filters.min_net is not None and filters.max_net is not None and filters.min_net > filters.max_net:
        raise InvalidNetRange("`minNet` must not be more than `maxNet`")


async def preview(connection: Connection, request: ManualSettlementRequest, now: datetime) -> PreviewResponse:
    """What a start now would settle: counts, totals and the first orders, by the run's own selection."""
    check(request.filters)
    chosen = repository.selection(request.filters, now)
    totals = await repository.totals(connection, chosen)
    sample = [_sample_order(row) for row in await repository.sample(connection, chosen, SAMPLE_SIZE)]
    return PreviewResponse(
        filters=request.filters,
        preview=Preview(
            total_orders=totals["orders"], gross_amount=totals["gross"], fee_amount=totals["fee"],
            total_net_amount=totals["net"], paid_before=now, batch_size=request.batch_size,
            estimated_batches=math.ceil(totals["orders"] / request.batch_size), sample=sample,
        ),
    )  # fmt: skip


def _sample_order(row: asyncpg.Record) -> SampleOrder:
    return SampleOrder(
        id=row["id"], reference=row["reference"], partner_id=row["partner_id"], partner_name=row["partner_name"],
        provider_account_id=row["provider_account_id"], method=row["method"], amount=row["amount"], fee=row["fee"],
        net=row["net"], paid_at=to_jakarta(row["paid_at"]), created_at=to_jakarta(row["created_at"]),
    )  # fmt: skip


async def start(
    connection: Connection, request: ManualSettlementRequest, *, created_by: str, now: datetime
) -> ManualSettlement:
    """Queued, with what matches now; the `settlement.manual` job is asked to run at once (when a worker has
    registered it and no manual run of it is open: a running one takes the queued ones in turn)."""
    check(request.filters)
    totals = await repository.totals(connection, repository.selection(request.filters, now))
    row = await repository.insert(
        connection, settlement_id=uuid.uuid4(), filters=request.filters.model_dump(mode="json", by_alias=True),
        batch_size=request.batch_size, paid_before=now, expected_orders=totals["orders"],
        expected_net=totals["net"], created_by=created_by, now=now,
    )  # fmt: skip
    # Not found: no worker has registered the job yet (its cron takes this one when one has). Conflict: a run
    # is open, and it takes the queued ones in turn.
    with contextlib.suppress(scheduler.JobNotFound, Conflict):
        await scheduler.request_run(connection, JOB_NAME, {}, requested_by=created_by, now=now)
    return ManualSettlement.of(row)


async def get(connection: Connection, settlement_id: uuid.UUID) -> ManualSettlement:
    return ManualSettlement.of(await _row(connection, settlement_id))


async def _row(connection: Connection, settlement_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record:
    row = await repository.get(connection, settlement_id, for_update=for_update)
    if row is None:
        raise ManualSettlementNotFound(f"no manual settlement {settlement_id}")
    return row


async def page(
    connection: Connection, *, status: str | None, before: datetime | None, limit: int
) -> list[ManualSettlement]:
    rows = await repository.page(connection, status=status, before=before or utcnow(), limit=limit)
    return [ManualSettlement.of(row) for row in rows]


async def cancel(
    connection: Connection, settlement_id: uuid.UUID, *, by: str, now: datetime
) -> tuple[ManualSettlement, ManualSettlement]:
    """A queued one is cancelled at once; a running one is asked to stop, which it does before its next batch
    (asking again changes nothing). A finished one: `manual_settlement_finished`. Returns (before, after)."""
    row = await _row(connection, settlement_id, for_update=True)  # the job's compare-and-sets wait for us
    before = ManualSettlement.of(row)
    if row["status"] in FINISHED:
        raise ManualSettlementFinished(f"manual settlement {settlement_id} is {row['status']}: it cannot be cancelled")
    return before, ManualSettlement.of(await repository.cancel(connection, settlement_id, by=by, now=now))


async def settled_orders(database: Database, settlement_id: uuid.UUID) -> AsyncIterator[asyncpg.Record]:
    """The orders it moved money for (of its batches), oldest settlement first, from one snapshot."""
    async with database.transaction() as connection:
        async for row in repository.settled_orders(connection, settlement_id):
            yield row


Report = Callable[[RunTotals], Awaitable[None]]


async def run_queued(database: Database, stop: asyncio.Event, report: Report) -> tuple[RunTotals, int]:
    """The job's body: the manual settlement left running (its worker died) first, then each queued one in
    turn, until none is left or `stop` is set (a stopped one stays running: the next run resumes it).
    Returns what was settled and how many manual settlements failed."""
    totals = RunTotals()
    failed = 0
    while not stop.is_set():
        async with database.transaction() as connection:
            row = await repository.running(connection)
            if row is not None:
                log.warning("manual_settlement.resumed", settlement_id=str(row["id"]), batches=row["batches"])
            else:
                row = await repository.start_next(connection, utcnow())
        if row is None:
            break
        if not await _run(database, row, stop, totals, report):
            failed += 1
    return totals, failed


async def _run(database: Database, row: asyncpg.Record, stop: asyncio.Event, totals: RunTotals, report: Report) -> bool:
    """Batches until none is left, a cancel is asked for or `stop`; False if it failed."""
    settlement_id = row["id"]
    chosen = repository.selection(ManualSettlementFilters.model_validate(row["filters"]), row["paid_before"])
    after = START

    async def claim(connection: Connection, now: datetime) -> list[asyncpg.Record]:
        nonlocal after
        orders = await repository.settle_matching(
            connection, chosen, settlement_id=settlement_id, currency=IDR, now=now, after=after,
            limit=row["batch_size"],
        )  # fmt: skip
        if orders:
            after = max((order["paid_at"], order["id"]) for order in orders)
        return orders

    async def record(connection: Connection, outcome: BatchOutcome) -> None:
        batch = RunTotals()
        batch.add(outcome)
        if not await repository.add_progress(
            connection, settlement_id, settled=batch.settled, already_settled=batch.already_settled,
            gross=batch.gross, fee=batch.fee, net=batch.net, now=utcnow(),
        ):  # fmt: skip
            raise RuntimeError(f"manual settlement {settlement_id} stopped running under its own batch")

    while not stop.is_set():
        async with database.connection() as connection:
            current = await _row(connection, settlement_id)
        if current["cancel_requested_at"] is not None:
            await _end(database, settlement_id, "cancelled", None)
            return True
        try:
            outcome = await settle_batch(database, claim, record)
        except Exception as error:
            log.exception("manual_settlement.failed", settlement_id=str(settlement_id))
            reason = (
                f"{error.code}: {error.detail}"
                if isinstance(error, GerbangError)
                else describe_failure(error, settlement_id)
            )
            await _end(database, settlement_id, "failed", reason)
            return False
        if outcome is None:
            await _end(database, settlement_id, "completed", None)
            return True
        totals.add(outcome)
        await report(totals)
    return True


async def _end(database: Database, settlement_id: uuid.UUID, status: str, error: str | None) -> None:
    """running -> `status`, with its audit entry and alert, in one transaction."""
    async with database.transaction() as connection:
        now = utcnow()
        row = await repository.finish(
            connection, settlement_id, expected="running", status=status, error=error, now=now
        )
        if row is None:
            return  # not running any more: whoever ended it recorded it
        await audit.record(
            connection, actor_type="system", actor_id=None, actor_email=None, partner_id=None,
            action=f"{TARGET}.{status}", target_type=TARGET, target_id=str(settlement_id),
            changes={
                "status": ("running", status), "settled_orders": (None, row["settled_orders"]),
                "net": (None, row["net"]), "batches": (None, row["batches"]), "error": (None, error),
            },
            ip=None, request_id=None,
        )  # fmt: skip
        await raise_alert(
            connection, kind="settlement_summary" if status != "failed" else "manual_settlement_failed",
            partner_id=None, now=now, severity=Severity.critical if status == "failed" else None,
            message=_summary(row),
        )  # fmt: skip
    log.info("manual_settlement.ended", settlement_id=str(settlement_id), status=status)


def _summary(row: asyncpg.Record) -> str:
    lines = [
        f"Manual settlement {row['id']} {row['status']} (by {row['created_by']}):",
        f"{row['settled_orders']:,} orders settled in {row['batches']:,} batches (expected {row['expected_orders']:,})",
        f"gross {format_idr(row['gross'])}, fee {format_idr(row['fee'])}, net {format_idr(row['net'])}",
    ]
    if row["already_settled"]:
        lines.append(f"{row['already_settled']:,} orders marked SETTLED with no money moved (moved before, or no net)")
    if row["error"]:
        lines.append(f"error: {row['error']}")
    return "\n".join(lines)
