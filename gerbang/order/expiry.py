"""Orders nobody paid: PENDING past `expires_at` becomes EXPIRED, with its events. Claimed in batches
with SKIP LOCKED, so any number of workers share the work without doing it twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select

from gerbang.db import Database
from gerbang.kit.sql import Query
from gerbang.models import Order
from gerbang.order.callbacks import close

BATCH = 500

_DUE = Query(
    select(Order.id, Order.partner_id, Order.reference, Order.amount, Order.qr_payload)
    .where(Order.status == "PENDING", Order.expires_at < bindparam("now"))
    .order_by(Order.expires_at)
    .limit(BATCH)
    .with_for_update(skip_locked=True)
)


async def expire_due_orders(database: Database, now: datetime) -> int:
    """One batch; returns how many orders expired (call again while it returns a full batch)."""
    async with database.transaction() as connection:
        rows = await _DUE.fetch(connection, now=now)
        expired = 0
        for row in rows:
            expired += await close(connection, dict(row), "EXPIRED")
    return expired
