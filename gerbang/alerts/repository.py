"""The SQL of alerts: the admin API's reads, and the sender's claims and results.

Claims are leases, as for webhooks: `claimed_until` marks an attempt in flight, taken with `FOR UPDATE
SKIP LOCKED` so two senders never claim the same alert, and a crashed sender's lease simply runs out.
Every later write is a compare-and-set on the lease it was claimed with, so a sender whose lease ran out
cannot overwrite what the next one did.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import ARRAY, String, any_, bindparam, select, text

from gerbang.kit.sql import Connection, Query
from gerbang.models import Alert

_CLAIM = Query(
    text("""
    WITH due AS (
        SELECT id FROM alerts
        WHERE status = 'pending' AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)
        ORDER BY next_attempt_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE alerts a SET claimed_until = :lease_until
    FROM due WHERE a.id = due.id
    RETURNING a.id, a.kind, a.severity, a.partner_id, a.message, a.created_at, a.attempts, a.parts_sent,
              a.last_error, a.claimed_until
    """)
)
_PROGRESS = Query(
    text("""
    UPDATE alerts SET parts_sent = :parts_sent, claimed_until = :lease_until
    WHERE id = :id AND claimed_until = :lease
    RETURNING claimed_until
    """)
)
_SETTLE = Query(
    text("""
    UPDATE alerts
    SET status = :status, attempts = attempts + :tried, parts_sent = :parts_sent,
        next_attempt_at = COALESCE(:next_at, next_attempt_at), last_error = COALESCE(:error, last_error),
        delivered_at = :delivered_at, claimed_until = NULL
    WHERE id = :id AND claimed_until = :lease
    RETURNING id
    """)
)
_UNDELIVERED = Query(text("SELECT count(*) FROM alerts WHERE status = 'pending'"))
_ONE = Query(select(Alert).where(Alert.id == bindparam("id")))


async def claim(connection: Connection, *, now: datetime, limit: int, lease_until: datetime) -> list[asyncpg.Record]:
    """Due pending alerts, oldest first, leased to the caller until `lease_until`."""
    rows = await _CLAIM.fetch(connection, now=now, limit=limit, lease_until=lease_until)
    return sorted(rows, key=lambda row: row["id"])


async def progress(
    connection: Connection, alert_id: int, *, lease: datetime, parts_sent: int, lease_until: datetime
) -> datetime | None:
    """Records the parts sent so far and extends the lease; None if the lease was lost."""
    value: datetime | None = await _PROGRESS.fetchval(
        connection, id=alert_id, lease=lease, parts_sent=parts_sent, lease_until=lease_until
    )
    return value


async def settle(
    connection: Connection, alert_id: int, *, lease: datetime, status: str, tried: int, parts_sent: int,
    next_at: datetime | None, error: str | None, delivered_at: datetime | None,
) -> bool:  # fmt: skip
    """Ends the claim with its result; False if the lease was lost (another sender has the alert now)."""
    row = await _SETTLE.fetchrow(
        connection, id=alert_id, lease=lease, status=status, tried=tried, parts_sent=parts_sent, next_at=next_at,
        error=error, delivered_at=delivered_at,
    )  # fmt: skip
    return row is not None


async def undelivered(connection: Connection) -> int:
    count: int = await _UNDELIVERED.fetchval(connection)
    return count


async def one(connection: Connection, alert_id: int) -> asyncpg.Record | None:
    return await _ONE.fetchrow(connection, id=alert_id)


def list_query(
    *, kind: str | None, severity: str | None, partner_id: uuid.UUID | None, statuses: Sequence[str] | None,
    since: datetime | None, until: datetime | None, before_id: int | None, limit: int,
) -> tuple[Query, dict[str, Any]]:  # fmt: skip
    """A filtered page of alerts, newest first; `before_id` continues from the last page's last `id`."""
    statement = select(Alert)
    values: dict[str, Any] = {"limit": limit}
    filters: dict[str, tuple[object, Any]] = {
        "kind": (kind, Alert.kind == bindparam("kind")),
        "severity": (severity, Alert.severity == bindparam("severity")),
        "partner_id": (partner_id, Alert.partner_id == bindparam("partner_id")),
        "since": (since, Alert.created_at >= bindparam("since")),
        "until": (until, Alert.created_at < bindparam("until")),
        "before_id": (before_id, Alert.id < bindparam("before_id")),
    }
    for name, (value, condition) in filters.items():
        if value is not None:
            statement = statement.where(condition)
            values[name] = value
    if statuses is not None:
        statement = statement.where(Alert.status == any_(bindparam("statuses", type_=ARRAY(String))))
        values["statuses"] = list(statuses)
    return Query(statement.order_by(Alert.id.desc()).limit(bindparam("limit"))), values
