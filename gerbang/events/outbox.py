"""The SQL of the Kafka outbox: what the relay reads and marks, the admin list, and retention.

The relay reads without row locks: only the session holding the relay's advisory lock (`relay.py`) reads
and marks, so there is nothing to lock against, and a reader that never locks cannot hold up a writer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, any_, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from gerbang.db import Database
from gerbang.events.schemas import OutboxEventView
from gerbang.exceptions import UnprocessableEntity
from gerbang.kit.sql import Connection, Query
from gerbang.kit.time import utcnow
from gerbang.models import OutboxEvent

_E = OutboxEvent
# The message as the relay sends it, built here: `{"event", "version", "id", "occurred_at", "data"}`, the time
# in Asia/Jakarta (+07:00 all year) like every time partners see, `data` as stored. PostgreSQL writes JSON text
# faster than the relay could decode the row and encode it again, on the relay's critical path.
ENVELOPE = (
    """'{"event":' || to_json(event) || ',"version":' || version || ',"id":"' || event_id || """
    """'","occurred_at":"' || to_char(occurred_at AT TIME ZONE 'Asia/Jakarta', 'YYYY-MM-DD"T"HH24:MI:SS.US') """
    """|| '+07:00","data":' || data::text || '}'"""
)
_CLAIM = Query(
    text(f"""
    SELECT id, topic, key, {ENVELOPE} AS value FROM outbox_events
    WHERE published_at IS NULL AND id > :after ORDER BY id LIMIT :limit
    """)
)
_MARK = Query(
    update(_E)
    .where(_E.id == any_(bindparam("ids", type_=ARRAY(BigInteger))), _E.published_at.is_(None))
    .values(published_at=bindparam("now"))
)
_ASYNC_COMMIT = Query(text("SET LOCAL synchronous_commit = off"))
_OLDEST = Query(select(_E.occurred_at).where(_E.published_at.is_(None)).order_by(_E.id).limit(1))
_PURGE = Query(
    delete(_E).where(
        _E.id.in_(
            select(_E.id)
            .where(_E.occurred_at < bindparam("before"), _E.published_at.is_not(None))
            .limit(bindparam("limit"))
            .scalar_subquery()
        )
    )
)
PURGE_BATCH = 10_000
# Held by the one relay publishing (a session lock on its own connection: released if that session ends).
LOCK = Query(text("SELECT pg_try_advisory_lock(hashtext('gerbang.outbox_relay'))"))


async def claim(connection: Connection, *, after: int, limit: int) -> list[asyncpg.Record]:
    """Up to `limit` unpublished rows with an id above `after`, in outbox order: `id`, `topic`, `key` and the
    message `value`."""
    return await _CLAIM.fetch(connection, after=after, limit=limit)


async def mark_published(connection: Connection, ids: list[int], now: datetime) -> int:
    """Sets `published_at` on those rows still unpublished; how many. In the caller's transaction, which
    commits without waiting for the disk: a mark lost in a crash only sends those rows again."""
    await _ASYNC_COMMIT.execute(connection)
    status = await _MARK.execute(connection, ids=ids, now=now)
    return int(status.rsplit(" ", 1)[1])


async def oldest_unpublished(connection: Connection) -> datetime | None:
    value: datetime | None = await _OLDEST.fetchval(connection)
    return value


async def purge_published_events(database: Database, older_than: timedelta) -> int:
    """Deletes published rows that occurred more than `older_than` ago, a batch per transaction (never one
    long delete); never an unpublished row, however old. How many."""
    before = utcnow() - older_than
    purged = 0
    while True:
        async with database.transaction() as connection:
            status = await _PURGE.execute(connection, before=before, limit=PURGE_BATCH)
        deleted = int(status.rsplit(" ", 1)[1])
        purged += deleted
        if deleted < PURGE_BATCH:
            return purged


class InvalidDateRange(UnprocessableEntity):
    code = "invalid_date_range"


async def list_events(
    connection: Connection, *, topic: str | None = None, event: str | None = None, key: str | None = None,
    published: bool | None = None, since: datetime | None = None, until: datetime | None = None,
    before_id: int | None = None, limit: int = 100,
) -> list[OutboxEventView]:  # fmt: skip
    """A filtered page, newest first; `before_id` continues from the last page's last `id`. `since`/`until`
    bound `occurred_at` (`[since, until)`)."""
    if since is not None and until is not None and since >= until:
        raise InvalidDateRange("`since` must be before `until`")
    statement = select(_E)
    values: dict[str, Any] = {"limit": limit}
    filters: dict[str, tuple[object, Any]] = {
        "topic": (topic, _E.topic == bindparam("topic")),
        "event": (event, _E.event == bindparam("event")),
        "key": (key, _E.key == bindparam("key")),
        "since": (since, _E.occurred_at >= bindparam("since")),
        "until": (until, _E.occurred_at < bindparam("until")),
        "before_id": (before_id, _E.id < bindparam("before_id")),
    }
    for name, (value, condition) in filters.items():
        if value is not None:
            statement = statement.where(condition)
            values[name] = value
    if published is not None:
        statement = statement.where(_E.published_at.is_not(None) if published else _E.published_at.is_(None))
    query = Query(statement.order_by(_E.id.desc()).limit(bindparam("limit")))
    return [OutboxEventView.model_validate(dict(row)) for row in await query.fetch(connection, **values)]
