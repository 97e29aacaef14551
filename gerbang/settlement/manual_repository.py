"""All of manual settlement's SQL. The settling statement itself is the checker's (`repository.settling`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text

from gerbang.kit.sql import Connection, Query
from gerbang.kit.time import jakarta_days
from gerbang.settlement import repository
from gerbang.settlement.manual_schemas import ManualSettlementFilters, Mode

_LOCAL_PAID_AT = "(o.paid_at AT TIME ZONE 'Asia/Jakarta')"
_NET = "(o.amount - o.fee)"


@dataclass(frozen=True)
class Selection:
    """The SQL condition on `orders o` that a manual settlement's filters make, with its parameters."""

    where: str
    values: dict[str, Any]


def _listed(column: str, parameter: str, cast: str, mode: Mode) -> str:
    listed = f"{column} = ANY(CAST(:{parameter} AS {cast}[]))"
    # A null column (an order without a method) is in no list: an exclusion keeps it.
    return listed if mode is Mode.include else f"NOT coalesce({listed}, false)"


def selection(filters: ManualSettlementFilters, paid_before: datetime) -> Selection:
    """The one translation of filters into SQL: preview, start and every batch of the run select with it.
    PAID orders paid in `[dateFrom, dateTo]` (Jakarta days) and before `paid_before`, then the rest."""
    paid_from, until = jakarta_days(filters.date_from, filters.date_to)
    conditions = ["o.status = 'PAID'", "o.paid_at >= :paid_from", "o.paid_at < :paid_until"]
    values: dict[str, Any] = {
        "paid_from": paid_from,
        "paid_until": min(until, paid_before),
    }
    if len(set(filters.days_of_week)) < 7:
        conditions.append(f"CAST(EXTRACT(DOW FROM {_LOCAL_PAID_AT}) AS int) = ANY(CAST(:days AS int[]))")
        values["days"] = sorted(set(filters.days_of_week))
    if (filters.hour_start, filters.hour_end) != (0, 23):
        hour = f"CAST(EXTRACT(HOUR FROM {_LOCAL_PAID_AT}) AS int)"
        conditions.append(f"{hour} BETWEEN CAST(:hour_start AS int) AND CAST(:hour_end AS int)")
        values |= {"hour_start": filters.hour_start, "hour_end": filters.hour_end}
    if filters.partner_ids is not None:
        conditions.append(_listed("o.partner_id", "partner_ids", "uuid", filters.partner_mode))
        values["partner_ids"] = filters.partner_ids
    if filters.provider_account_ids is not None:
        conditions.append(_listed("o.provider_account_id", "account_ids", "uuid", filters.provider_account_mode))
        values["account_ids"] = filters.provider_account_ids
    if filters.methods is not None:
        conditions.append(_listed("o.method", "methods", "text", filters.method_mode))
        values["methods"] = [method.value for method in filters.methods]
    if filters.min_net is not None:
        conditions.append(f"{_NET} >= CAST(:min_net AS bigint)")
        values["min_net"] = filters.min_net
    if filters.max_net is not None:
        conditions.append(f"{_NET} <= CAST(:max_net AS bigint)")
        values["max_net"] = filters.max_net
    if not filters.include_zero:
        conditions.append(f"{_NET} > 0")
    return Selection(" AND ".join(conditions), values)


async def totals(connection: Connection, chosen: Selection) -> asyncpg.Record:
    query = Query(
        text(
            f"""
            SELECT count(*) AS orders, CAST(coalesce(sum(o.amount), 0) AS bigint) AS gross,
                   CAST(coalesce(sum(o.fee), 0) AS bigint) AS fee, CAST(coalesce(sum({_NET}), 0) AS bigint) AS net
            FROM orders o WHERE {chosen.where}
            """
        )
    )
    row = await query.fetchrow(connection, **chosen.values)
    assert row is not None  # noqa: S101 (an aggregate always has its row)
    return row


async def sample(connection: Connection, chosen: Selection, limit: int) -> list[asyncpg.Record]:
    query = Query(
        text(
            f"""
            SELECT o.id, o.reference, o.partner_id, p.name AS partner_name, o.provider_account_id, o.method, o.amount,
                   o.fee, {_NET} AS net, o.paid_at, o.created_at
            FROM orders o JOIN partners p ON p.id = o.partner_id
            WHERE {chosen.where} ORDER BY o.paid_at, o.id LIMIT :limit
            """
        )
    )
    return await query.fetch(connection, **chosen.values, limit=limit)


async def settle_matching(
    connection: Connection, chosen: Selection, *, settlement_id: uuid.UUID, currency: str, now: datetime,
    after: tuple[datetime, uuid.UUID], limit: int,
) -> list[asyncpg.Record]:  # fmt: skip
    """Up to `limit` of the selected orders after `after` (paid at, id), in payment order, none another run
    holds: settled as the checker settles, in batches whose `run_id` is the manual settlement's id."""
    claimed = f"""
        SELECT {repository.CLAIMED_COLUMNS} FROM orders o
        WHERE {chosen.where} AND (o.paid_at, o.id) > (:after_paid_at, :after_id)
        ORDER BY o.paid_at, o.id LIMIT :limit FOR UPDATE OF o SKIP LOCKED
    """
    return await repository.settling(claimed).fetch(
        connection, **chosen.values, run_id=settlement_id, currency=currency, now=now, after_paid_at=after[0],
        after_id=after[1], limit=limit,
    )  # fmt: skip


_INSERT = Query(
    text(
        """
        INSERT INTO manual_settlements (id, filters, batch_size, paid_before, expected_orders, expected_net,
                                        created_by, created_at, updated_at)
        VALUES (:id, :filters, :batch_size, :paid_before, :expected_orders, :expected_net,
                :created_by, :now, :now)
        RETURNING *
        """
    )
)
_GET = Query(text("SELECT * FROM manual_settlements WHERE id = :id"))
_GET_FOR_UPDATE = Query(text("SELECT * FROM manual_settlements WHERE id = :id FOR UPDATE"))
_LIST = Query(
    text(
        """
        SELECT * FROM manual_settlements
        WHERE (CAST(:status AS text) IS NULL OR status = :status) AND created_at < :before
        ORDER BY created_at DESC, id DESC LIMIT :limit
        """
    )
)
# A run left `running` is resumed first: one runs at a time (the unique index), and the `settlement.manual`
# job that runs them holds its advisory lock, so a running one no job is running is one whose worker died.
_RUNNING = Query(text("SELECT * FROM manual_settlements WHERE status = 'running'"))
_START_NEXT = Query(
    text(
        """
        UPDATE manual_settlements SET status = 'running', started_at = :now, updated_at = :now
        WHERE id = (SELECT id FROM manual_settlements WHERE status = 'queued' ORDER BY created_at, id LIMIT 1
                    FOR UPDATE SKIP LOCKED)
        RETURNING *
        """
    )
)
_PROGRESS = Query(
    text(
        """
        UPDATE manual_settlements SET settled_orders = settled_orders + :settled,
            already_settled = already_settled + :already_settled, gross = gross + :gross, fee = fee + :fee,
            net = net + :net, batches = batches + 1, updated_at = :now
        WHERE id = :id AND status = 'running'
        """
    )
)
_FINISH = Query(
    text(
        """
        UPDATE manual_settlements SET status = :status, error = :error, finished_at = :now, updated_at = :now
        WHERE id = :id AND status = :expected
        RETURNING *
        """
    )
)
# Queued: cancelled now. Running: asked to stop (the first request is the one kept).
_CANCEL = Query(
    text(
        """
        UPDATE manual_settlements SET
            status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
            finished_at = CASE WHEN status = 'queued' THEN :now ELSE finished_at END,
            cancel_requested_at = coalesce(cancel_requested_at, :now),
            cancel_requested_by = coalesce(cancel_requested_by, :by), updated_at = :now
        WHERE id = :id AND status IN ('queued', 'running')
        RETURNING *
        """
    )
)
# The orders a manual settlement moved money for: those of its batches. One pass over the orders (there is
# no index from an order to its batch), streamed through a cursor.
_SETTLED_ORDERS = Query(
    text(
        f"""
        SELECT o.id, o.reference, o.partner_id, p.name AS partner_name, o.amount, o.fee, {_NET} AS net, o.paid_at,
               o.settled_at
        FROM settlement_batches b JOIN orders o ON o.settlement_batch_id = b.id JOIN partners p ON p.id = o.partner_id
        WHERE b.run_id = :id ORDER BY o.settled_at, o.id
        """
    )
)


async def insert(
    connection: Connection, *, settlement_id: uuid.UUID, filters: dict[str, Any], batch_size: int,
    paid_before: datetime, expected_orders: int, expected_net: int, created_by: str, now: datetime,
) -> asyncpg.Record:  # fmt: skip
    row = await _INSERT.fetchrow(
        connection, id=settlement_id, filters=filters, batch_size=batch_size,
        paid_before=paid_before, expected_orders=expected_orders, expected_net=expected_net, created_by=created_by,
        now=now,
    )  # fmt: skip
    assert row is not None  # noqa: S101
    return row


async def get(connection: Connection, settlement_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await (_GET_FOR_UPDATE if for_update else _GET).fetchrow(connection, id=settlement_id)


async def page(connection: Connection, *, status: str | None, before: datetime, limit: int) -> list[asyncpg.Record]:
    return await _LIST.fetch(connection, status=status, before=before, limit=limit)


async def running(connection: Connection) -> asyncpg.Record | None:
    return await _RUNNING.fetchrow(connection)


async def start_next(connection: Connection, now: datetime) -> asyncpg.Record | None:
    """The oldest queued one, now running; None if none is queued (or one runs already)."""
    try:
        return await _START_NEXT.fetchrow(connection, now=now)
    except asyncpg.UniqueViolationError:  # another started one first: the one-running index refused ours
        return None


async def add_progress(
    connection: Connection, settlement_id: uuid.UUID, *, settled: int, already_settled: int, gross: int, fee: int,
    net: int, now: datetime,
) -> bool:  # fmt: skip
    """Adds a batch's figures; False if it is no longer running."""
    status = await _PROGRESS.execute(
        connection, id=settlement_id, settled=settled, already_settled=already_settled, gross=gross, fee=fee,
        net=net, now=now,
    )  # fmt: skip
    return status == "UPDATE 1"


async def finish(
    connection: Connection, settlement_id: uuid.UUID, *, expected: str, status: str, error: str | None, now: datetime
) -> asyncpg.Record | None:
    """`expected` -> `status` (compare-and-set); None if it was not `expected`."""
    return await _FINISH.fetchrow(connection, id=settlement_id, expected=expected, status=status, error=error, now=now)


async def cancel(connection: Connection, settlement_id: uuid.UUID, *, by: str, now: datetime) -> asyncpg.Record:
    """Cancels a queued one, or asks a running one to stop; the caller holds its row lock and checked it is
    one of the two."""
    row = await _CANCEL.fetchrow(connection, id=settlement_id, by=by, now=now)
    assert row is not None  # noqa: S101 (locked by the caller, queued or running)
    return row


async def settled_orders(connection: Connection, settlement_id: uuid.UUID) -> AsyncIterator[asyncpg.Record]:
    """Every order whose money it moved, oldest settlement first; `connection` must be in a transaction."""
    async for row in connection.cursor(_SETTLED_ORDERS.text, *_SETTLED_ORDERS.args({"id": settlement_id})):
        yield row
