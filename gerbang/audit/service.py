"""Recording and reading the audit trail. Values of secret fields never reach it: they are masked here,
whatever the caller passes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gerbang.audit import repository
from gerbang.audit.schemas import AuditEvent
from gerbang.kit.redact import MASK, is_secret_field
from gerbang.kit.sql import Connection


def changes_between(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """The fields whose value differs, as (before, after); a created or deleted record has None on one side."""
    before = before or {}
    after = after or {}
    return {
        name: (before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)  # UUID, Decimal, datetime: their canonical text


def masked(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "before": MASK if is_secret_field(name) and before is not None else _jsonable(before),
            "after": MASK if is_secret_field(name) and after is not None else _jsonable(after),
        }
        for name, (before, after) in changes.items()
    }


def _changed(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    # A secret is passed masked on both sides ("***", "***") to say it changed; keep those.
    return {name: pair for name, pair in changes.items() if pair[0] != pair[1] or is_secret_field(name)}


async def record(
    connection: Connection,
    *,
    actor_type: str,
    actor_id: uuid.UUID | None,
    actor_email: str | None,
    partner_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: str | None,
    changes: Mapping[str, tuple[Any, Any]],
    ip: str | None,
    request_id: str | None,
) -> None:
    await repository.insert_event(
        connection, actor_type=actor_type, actor_id=actor_id, actor_email=actor_email, partner_id=partner_id,
        action=action, target_type=target_type, target_id=target_id, changes=masked(_changed(changes)), ip=ip,
        request_id=request_id,
    )  # fmt: skip


async def list_events(
    connection: Connection,
    *,
    partner_ids: list[uuid.UUID] | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    rows = await repository.list_events(
        connection, partner_ids=partner_ids, actor_id=actor_id, action=action, target_type=target_type,
        target_id=target_id, since=since, until=until, before_id=before_id, limit=limit,
    )  # fmt: skip
    return [AuditEvent.model_validate(dict(row)) for row in rows]
