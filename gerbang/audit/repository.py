from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, bindparam, insert, select

from gerbang.kit.sql import Connection, Query
from gerbang.models import AuditEvent

_INSERT = Query(
    insert(AuditEvent).values(
        actor_type=bindparam("actor_type"),
        actor_id=bindparam("actor_id"),
        actor_email=bindparam("actor_email"),
        partner_id=bindparam("partner_id"),
        action=bindparam("action"),
        target_type=bindparam("target_type"),
        target_id=bindparam("target_id"),
        changes=bindparam("changes"),
        ip=bindparam("ip"),
        request_id=bindparam("request_id"),
    )
)
_COLUMNS = (
    AuditEvent.id,
    AuditEvent.occurred_at,
    AuditEvent.actor_type,
    AuditEvent.actor_id,
    AuditEvent.actor_email,
    AuditEvent.partner_id,
    AuditEvent.action,
    AuditEvent.target_type,
    AuditEvent.target_id,
    AuditEvent.changes,
    AuditEvent.ip,
    AuditEvent.request_id,
)


async def insert_event(connection: Connection, **values: Any) -> None:
    await _INSERT.execute(connection, **values)


async def list_events(
    connection: Connection,
    *,
    partner_ids: list[uuid.UUID] | None,
    actor_id: uuid.UUID | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first. Filters are built per call (a handful of optional conditions), paged by id."""
    statement = select(*_COLUMNS).order_by(AuditEvent.id.desc()).limit(bindparam("limit"))
    values: dict[str, Any] = {"limit": limit}
    conditions: dict[str, tuple[object, Callable[[], ColumnElement[bool]]]] = {
        "partner_ids": (partner_ids, lambda: AuditEvent.partner_id == bindparam("partner_ids").any_()),
        "actor_id": (actor_id, lambda: AuditEvent.actor_id == bindparam("actor_id")),
        "action": (action, lambda: AuditEvent.action == bindparam("action")),
        "target_type": (target_type, lambda: AuditEvent.target_type == bindparam("target_type")),
        "target_id": (target_id, lambda: AuditEvent.target_id == bindparam("target_id")),
        "since": (since, lambda: AuditEvent.occurred_at >= bindparam("since")),
        "until": (until, lambda: AuditEvent.occurred_at < bindparam("until")),
        "before_id": (before_id, lambda: AuditEvent.id < bindparam("before_id")),
    }
    for name, (value, condition) in conditions.items():
        if value is not None:
            statement = statement.where(condition())
            values[name] = value
    return await Query(statement).fetch(connection, **values)
