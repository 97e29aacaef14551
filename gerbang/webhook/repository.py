"""The SQL of webhook delivery: claiming due events, recording what came of their attempts, and reads.

Claims are leases: `claimed_until` marks an attempt in flight, taken with `FOR UPDATE SKIP LOCKED` so two
workers never claim the same event, and a crashed worker's lease simply runs out (the event is then
claimed again and re-sent with the same `webhook-id`). Results are written in batches, each update a
compare-and-set on the lease it was claimed with: a worker whose lease ran out cannot overwrite what the
next one found.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text

from gerbang.kit.sql import Connection, Query

_CLAIM = Query(
    text("""
    WITH due AS (
        SELECT e.id
        FROM webhook_events e JOIN partners p ON p.id = e.partner_id
        WHERE e.status = 'pending' AND e.next_attempt_at <= :now
          AND (e.claimed_until IS NULL OR e.claimed_until < :now)
          AND p.webhook_url IS NOT NULL AND p.webhook_disabled_at IS NULL
          AND (NOT p.webhook_fifo OR NOT EXISTS (
              SELECT 1 FROM webhook_events older
              WHERE older.partner_id = e.partner_id AND older.status = 'pending' AND older.seq < e.seq))
        ORDER BY e.next_attempt_at
        LIMIT :limit
        FOR UPDATE OF e SKIP LOCKED
    )
    UPDATE webhook_events e
    SET claimed_until = :lease_until, attempts = e.attempts + 1, round_attempts = e.round_attempts + 1,
        last_attempt_at = :now
    FROM due, partners p
    WHERE e.id = due.id AND p.id = e.partner_id
    RETURNING e.id, e.partner_id, e.event_type, e.body, e.attempts, e.round_attempts, e.claimed_until,
              p.webhook_url
    """)
)
_RECORD_ATTEMPTS = Query(
    text("""
    INSERT INTO webhook_attempts
        (event_id, partner_id, attempt, url, started_at, duration_ms, status_code, response_body, error, outcome)
    SELECT * FROM unnest(
        CAST(:event_ids AS uuid[]), CAST(:partner_ids AS uuid[]), CAST(:attempts AS int[]), CAST(:urls AS text[]),
        CAST(:started AS timestamptz[]), CAST(:durations AS int[]), CAST(:codes AS int[]),
        CAST(:bodies AS text[]), CAST(:errors AS text[]), CAST(:outcomes AS text[]))
    """)
)
_SETTLE_EVENTS = Query(
    text("""
    UPDATE webhook_events e
    SET status = r.status, next_attempt_at = COALESCE(r.next_at, e.next_attempt_at), claimed_until = NULL,
        last_status_code = r.code, last_error = r.error, delivered_at = r.delivered_at
    FROM unnest(
        CAST(:ids AS uuid[]), CAST(:leases AS timestamptz[]), CAST(:statuses AS text[]),
        CAST(:next_ats AS timestamptz[]), CAST(:codes AS int[]), CAST(:errors AS text[]),
        CAST(:delivered AS timestamptz[])) AS r(id, lease, status, next_at, code, error, delivered_at)
    WHERE e.id = r.id AND e.claimed_until = r.lease
    RETURNING e.id
    """)
)
_RESET_STREAKS = Query(
    text("UPDATE partners SET webhook_dead_streak = 0 WHERE id = ANY(CAST(:ids AS uuid[])) AND webhook_dead_streak > 0")
)
_ADD_TO_STREAK = Query(
    text("""
    UPDATE partners SET webhook_dead_streak = CASE WHEN :reset THEN 0 ELSE webhook_dead_streak END + :dead
    WHERE id = :partner_id
    RETURNING webhook_dead_streak, webhook_disabled_at
    """)
)
_DISABLE = Query(
    text("""
    UPDATE partners SET webhook_disabled_at = :now, webhook_disabled_reason = :reason
    WHERE id = :partner_id AND webhook_disabled_at IS NULL
    RETURNING id
    """)
)
_ALERT = Query(
    text("INSERT INTO alerts (kind, partner_id, message, created_at) VALUES (:kind, :partner_id, :message, :now)")
)
_SECRETS = Query(
    text("""
    SELECT id, webhook_secret_encrypted, previous_webhook_secret_encrypted, previous_webhook_secret_expires_at
    FROM partners WHERE id = ANY(CAST(:ids AS uuid[]))
    """)
)
_QUEUE = Query(
    text("SELECT count(*) AS depth, min(next_attempt_at) AS oldest FROM webhook_events WHERE status = 'pending'")
)


async def claim(connection: Connection, *, now: datetime, limit: int, lease_until: datetime) -> list[asyncpg.Record]:
    return await _CLAIM.fetch(connection, now=now, limit=limit, lease_until=lease_until)


async def secrets_of(connection: Connection, partner_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await _SECRETS.fetch(connection, ids=list(partner_ids))


async def record_attempts(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    def column(name: str) -> list[Any]:
        return [row[name] for row in rows]

    await _RECORD_ATTEMPTS.execute(
        connection, event_ids=column("event_id"), partner_ids=column("partner_id"), attempts=column("attempt"),
        urls=column("url"), started=column("started_at"), durations=column("duration_ms"),
        codes=column("status_code"), bodies=column("response_body"), errors=column("error"),
        outcomes=column("outcome"),
    )  # fmt: skip


async def settle_events(connection: Connection, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Applies each attempt's result to its event if the lease still holds; returns the events updated."""

    def column(name: str) -> list[Any]:
        return [row[name] for row in rows]

    updated = await _SETTLE_EVENTS.fetch(
        connection, ids=column("event_id"), leases=column("lease"), statuses=column("status"),
        next_ats=column("next_at"), codes=column("status_code"), errors=column("error"),
        delivered=column("delivered_at"),
    )  # fmt: skip
    return {row["id"] for row in updated}


async def reset_streaks(connection: Connection, partner_ids: Sequence[uuid.UUID]) -> None:
    await _RESET_STREAKS.execute(connection, ids=list(partner_ids))


async def add_to_streak(connection: Connection, partner_id: uuid.UUID, *, reset: bool, dead: int) -> asyncpg.Record:
    row = await _ADD_TO_STREAK.fetchrow(connection, partner_id=partner_id, reset=reset, dead=dead)
    assert row is not None  # noqa: S101 (events belong to partners, which are never deleted)
    return row


async def disable_endpoint(connection: Connection, partner_id: uuid.UUID, reason: str, now: datetime) -> bool:
    return await _DISABLE.fetchrow(connection, partner_id=partner_id, reason=reason, now=now) is not None


async def raise_alert(
    connection: Connection, *, kind: str, partner_id: uuid.UUID | None, message: str, now: datetime
) -> None:
    await _ALERT.execute(connection, kind=kind, partner_id=partner_id, message=message, now=now)


async def queue_state(connection: Connection) -> asyncpg.Record:
    row = await _QUEUE.fetchrow(connection)
    assert row is not None  # noqa: S101 (an aggregate always has a row)
    return row
