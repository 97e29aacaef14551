"""All of settlement adjustments' SQL (the ledger's is in `gerbang.ledger.batch.fee_adjustments`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import text

from gerbang.kit.sql import Connection, Query

# Adjustable orders are PAID or SETTLED: their net is in the partner's pending or available balance (a
# LOAN_SETTLED order's net repaid an advance; the others moved no money).
# What a preview needs of each order: its fee now, and the partner's pay-in rates for `partner_fees`.
_ORDER_COLUMNS = """
    o.id, o.partner_id, o.status, o.amount, o.fee, o.paid_at, p.payin_weekday_percent, p.payin_weekday_flat,
    p.payin_weekend_percent, p.payin_weekend_flat
    FROM orders o JOIN partners p ON p.id = o.partner_id
"""
_BY_IDS = Query(text(f"SELECT {_ORDER_COLUMNS} WHERE o.id = ANY(CAST(:ids AS uuid[])) ORDER BY o.paid_at, o.id"))
# A provider account's orders paid (PAID or SETTLED) or settled in [start, end), optionally of one partner.
_PAID_BETWEEN = Query(
    text(
        f"""
        SELECT {_ORDER_COLUMNS}
        WHERE o.provider_account_id = :account_id AND o.status IN ('PAID', 'SETTLED')
          AND o.paid_at >= :start AND o.paid_at < :end
          AND (CAST(:partner_id AS uuid) IS NULL OR o.partner_id = :partner_id)
        ORDER BY o.paid_at, o.id LIMIT :limit
        """
    )
)
_SETTLED_BETWEEN = Query(
    text(
        f"""
        SELECT {_ORDER_COLUMNS}
        WHERE o.provider_account_id = :account_id AND o.status = 'SETTLED'
          AND o.settled_at >= :start AND o.settled_at < :end
          AND (CAST(:partner_id AS uuid) IS NULL OR o.partner_id = :partner_id)
        ORDER BY o.paid_at, o.id LIMIT :limit
        """
    )
)
_INSERT = Query(
    text(
        """
        WITH adjustment AS (
            INSERT INTO settlement_adjustments (id, status, selection, fee_basis, fee_percent, fee_flat, order_count,
                                                old_fee, new_fee, difference, created_by, created_at)
            SELECT :id, 'previewed', :selection, :fee_basis, :fee_percent, :fee_flat, count(*), sum(old_fee),
                   sum(new_fee), sum(new_fee) - sum(old_fee), :created_by, :now
            FROM unnest(CAST(:old_fees AS bigint[]), CAST(:new_fees AS bigint[])) AS item(old_fee, new_fee)
            RETURNING id
        )
        INSERT INTO settlement_adjustment_items (adjustment_id, order_id, partner_id, order_status, amount, old_fee,
                                                 new_fee)
        SELECT adjustment.id, item.* FROM adjustment, unnest(
            CAST(:order_ids AS uuid[]), CAST(:partner_ids AS uuid[]), CAST(:statuses AS text[]),
            CAST(:amounts AS bigint[]), CAST(:old_fees AS bigint[]), CAST(:new_fees AS bigint[])
        ) AS item
        """
    )
)
_ADJUSTMENT_COLUMNS = (
    "id, status, selection, fee_basis, fee_percent, fee_flat, order_count, old_fee, new_fee, difference, created_by, "
    "created_at, applied_by, applied_at"
)
_GET = Query(text(f"SELECT {_ADJUSTMENT_COLUMNS} FROM settlement_adjustments WHERE id = :id"))
_LOCK = Query(text(f"SELECT {_ADJUSTMENT_COLUMNS} FROM settlement_adjustments WHERE id = :id FOR UPDATE"))
_LIST = Query(
    text(
        f"""
        SELECT {_ADJUSTMENT_COLUMNS} FROM settlement_adjustments
        WHERE (CAST(:status AS text) IS NULL OR status = :status) AND created_at < :before
        ORDER BY created_at DESC, id DESC LIMIT :limit
        """
    )
)
_ITEMS = Query(
    text(
        "SELECT order_id, partner_id, order_status, amount, old_fee, new_fee FROM settlement_adjustment_items "
        "WHERE adjustment_id = :id ORDER BY order_id"
    )
)
# The adjustment's orders as they are now, locked in id order (as every order lock is taken here): a settlement
# batch skips them until the commit, and one that holds one of them is waited for.
_LOCK_ORDERS = Query(
    text(
        """
        SELECT i.order_id, i.partner_id, i.old_fee, i.new_fee, o.status, o.fee FROM settlement_adjustment_items i
        JOIN orders o ON o.id = i.order_id WHERE i.adjustment_id = :id ORDER BY o.id FOR UPDATE OF o
        """
    )
)
# Compare-and-set: each fee changes only from the fee the adjustment was previewed with, on an adjustable order.
_SET_FEES = Query(
    text(
        """
        UPDATE orders o SET fee = change.new_fee, updated_at = :now
        FROM unnest(CAST(:ids AS uuid[]), CAST(:old_fees AS bigint[]), CAST(:new_fees AS bigint[]))
            AS change(id, old_fee, new_fee)
        WHERE o.id = change.id AND o.fee = change.old_fee AND o.status IN ('PAID', 'SETTLED')
        RETURNING o.id
        """
    )
)
_MARK_APPLIED = Query(
    text(
        f"""
        WITH items AS (
            UPDATE settlement_adjustment_items i SET order_status = o.status FROM orders o
            WHERE i.adjustment_id = :id AND o.id = i.order_id
        )
        UPDATE settlement_adjustments SET status = 'applied', applied_by = :applied_by, applied_at = :now
        WHERE id = :id AND status = 'previewed' RETURNING {_ADJUSTMENT_COLUMNS}
        """
    )
)


async def orders_by_ids(connection: Connection, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await _BY_IDS.fetch(connection, ids=ids)


async def orders_between(
    connection: Connection, *, by_settlement: bool, account_id: uuid.UUID, partner_id: uuid.UUID | None,
    start: datetime, end: datetime, limit: int,
) -> list[asyncpg.Record]:  # fmt: skip
    """A provider account's adjustable orders paid (or, `by_settlement`, settled) in [start, end), in payment
    order, at most `limit`."""
    query = _SETTLED_BETWEEN if by_settlement else _PAID_BETWEEN
    return await query.fetch(
        connection, account_id=account_id, partner_id=partner_id, start=start, end=end, limit=limit
    )


async def insert(
    connection: Connection, *, id: uuid.UUID, selection: dict[str, Any], fee_basis: str, fee_percent: Decimal | None,
    fee_flat: int | None, created_by: uuid.UUID, now: datetime, items: list[tuple[asyncpg.Record, int]],
) -> None:  # fmt: skip
    """The adjustment and its orders, each (order row, new fee)."""
    await _INSERT.execute(
        connection, id=id, selection=selection, fee_basis=fee_basis, fee_percent=fee_percent, fee_flat=fee_flat,
        created_by=created_by, now=now, order_ids=[o["id"] for o, _ in items],
        partner_ids=[o["partner_id"] for o, _ in items], statuses=[o["status"] for o, _ in items],
        amounts=[o["amount"] for o, _ in items], old_fees=[o["fee"] for o, _ in items],
        new_fees=[fee for _, fee in items],
    )  # fmt: skip


async def get(connection: Connection, adjustment_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await (_LOCK if lock else _GET).fetchrow(connection, id=adjustment_id)


async def list_adjustments(
    connection: Connection, *, status: str | None, before: datetime, limit: int
) -> list[asyncpg.Record]:
    return await _LIST.fetch(connection, status=status, before=before, limit=limit)


async def items(connection: Connection, adjustment_id: uuid.UUID) -> list[asyncpg.Record]:
    return await _ITEMS.fetch(connection, id=adjustment_id)


async def lock_orders(connection: Connection, adjustment_id: uuid.UUID) -> list[asyncpg.Record]:
    return await _LOCK_ORDERS.fetch(connection, id=adjustment_id)


async def set_fees(connection: Connection, changes: list[tuple[uuid.UUID, int, int]], now: datetime) -> list[uuid.UUID]:
    """Each (order id, old fee, new fee): the ids whose fee changed."""
    rows = await _SET_FEES.fetch(
        connection, ids=[c[0] for c in changes], old_fees=[c[1] for c in changes], new_fees=[c[2] for c in changes],
        now=now,
    )  # fmt: skip
    return [row["id"] for row in rows]


async def mark_applied(
    connection: Connection, adjustment_id: uuid.UUID, applied_by: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    """previewed -> applied, each order with the status it had when its difference was posted."""
    return await _MARK_APPLIED.fetchrow(connection, id=adjustment_id, applied_by=applied_by, now=now)
