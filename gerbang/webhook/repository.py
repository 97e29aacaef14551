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
from sqlalchemy import ARRAY, DateTime, Uuid, any_, bindparam, select, text, update

from gerbang.kit.sql import Connection, Query
from gerbang.models import Partner, WebhookAttempt, WebhookEvent

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


async def queue_state(connection: Connection) -> asyncpg.Record:
    row = await _QUEUE.fetchrow(connection)
    assert row is not None  # noqa: S101 (an aggregate always has a row)
    return row


# Reads and the partner-facing changes.

_ENDPOINT = Query(
    select(
        Partner.webhook_url, Partner.webhook_events, Partner.webhook_fifo, Partner.webhook_disabled_at,
        Partner.webhook_disabled_reason, Partner.webhook_dead_streak,
    ).where(Partner.id == bindparam("partner_id"))
)  # fmt: skip
_ATTEMPTS_OF = Query(
    select(WebhookAttempt).where(WebhookAttempt.event_id == bindparam("event_id")).order_by(WebhookAttempt.id)
)
_EVENT = Query(select(WebhookEvent).where(WebhookEvent.id == bindparam("id")))
# Compare-and-set: an event already queued is not queued twice.
_REQUEUE = Query(
    text("""
    UPDATE webhook_events
    SET status = 'pending', skip_reason = NULL, round_attempts = 0, next_attempt_at = :now, claimed_until = NULL
    WHERE id = :id AND status <> 'pending'
    RETURNING id
    """)
)
_REQUEUE_RANGE = Query(
    text("""
    WITH chosen AS (
        SELECT id FROM webhook_events
        WHERE partner_id = :partner_id AND status = ANY(CAST(:statuses AS text[]))
          AND created_at >= :since AND created_at < :until
        ORDER BY seq LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_events e
    SET status = 'pending', skip_reason = NULL, round_attempts = 0, next_attempt_at = :now, claimed_until = NULL
    FROM chosen WHERE e.id = chosen.id
    RETURNING e.id
    """)
)
_NOTIFY = Query(text("SELECT pg_notify('gerbang_webhooks', '')"))
_ATTEMPT_LOG = Query(
    select(
        WebhookAttempt.started_at, WebhookAttempt.status_code, WebhookAttempt.duration_ms, WebhookAttempt.event_id,
        WebhookAttempt.url, WebhookAttempt.outcome, WebhookAttempt.error, WebhookEvent.event_type,
    )
    .join(WebhookEvent, WebhookEvent.id == WebhookAttempt.event_id)
    .where(
        WebhookAttempt.partner_id == any_(bindparam("partner_ids", type_=ARRAY(Uuid))),
        bindparam("before", type_=DateTime(timezone=True)).is_(None)
        | (WebhookAttempt.started_at < bindparam("before")),
    )
    .order_by(WebhookAttempt.started_at.desc())
    .limit(bindparam("limit"))
)  # fmt: skip


async def endpoint(connection: Connection, partner_id: uuid.UUID) -> asyncpg.Record | None:
    return await _ENDPOINT.fetchrow(connection, partner_id=partner_id)


async def change_endpoint(connection: Connection, partner_id: uuid.UUID, values: dict[str, Any]) -> None:
    await Query(update(Partner).where(Partner.id == bindparam("partner_id")).values(**values)).execute(
        connection, partner_id=partner_id
    )


def deliveries_query(
    *, partner_ids: Sequence[uuid.UUID] | None, event_type: str | None, status: str | None, since: datetime | None,
    until: datetime | None, object_id: uuid.UUID | None, before_seq: int | None, limit: int,
) -> tuple[Query, dict[str, Any]]:  # fmt: skip
    """A filtered page of events, newest first; `before_seq` continues from the last page's last `sequence`."""
    statement = select(WebhookEvent)
    values: dict[str, Any] = {"limit": limit}
    if partner_ids is not None:
        statement = statement.where(WebhookEvent.partner_id == any_(bindparam("partner_ids", type_=ARRAY(Uuid))))
        values["partner_ids"] = list(partner_ids)
    filters: dict[str, tuple[object, Any]] = {
        "event_type": (event_type, WebhookEvent.event_type == bindparam("event_type")),
        "status": (status, WebhookEvent.status == bindparam("status")),
        "since": (since, WebhookEvent.created_at >= bindparam("since")),
        "until": (until, WebhookEvent.created_at < bindparam("until")),
        "object_id": (object_id, WebhookEvent.object_id == bindparam("object_id")),
        "before_seq": (before_seq, WebhookEvent.seq < bindparam("before_seq")),
    }
    for name, (value, condition) in filters.items():
        if value is not None:
            statement = statement.where(condition)
            values[name] = value
    return Query(statement.order_by(WebhookEvent.seq.desc()).limit(bindparam("limit"))), values


async def event(connection: Connection, event_id: uuid.UUID) -> asyncpg.Record | None:
    return await _EVENT.fetchrow(connection, id=event_id)


async def attempts_of(connection: Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    return await _ATTEMPTS_OF.fetch(connection, event_id=event_id)


async def requeue(connection: Connection, event_id: uuid.UUID, now: datetime) -> bool:
    queued = await _REQUEUE.fetchrow(connection, id=event_id, now=now) is not None
    if queued:
        await _NOTIFY.execute(connection)
    return queued


async def requeue_range(
    connection: Connection, *, partner_id: uuid.UUID, statuses: Sequence[str], since: datetime, until: datetime,
    now: datetime, limit: int,
) -> int:  # fmt: skip
    rows = await _REQUEUE_RANGE.fetch(
        connection, partner_id=partner_id, statuses=list(statuses), since=since, until=until, now=now, limit=limit
    )
    if rows:
        await _NOTIFY.execute(connection)
    return len(rows)


async def attempt_log(
    connection: Connection, partner_ids: Sequence[uuid.UUID], before: datetime | None, limit: int
) -> list[asyncpg.Record]:
    return await _ATTEMPT_LOG.fetch(connection, partner_ids=list(partner_ids), before=before, limit=limit)
