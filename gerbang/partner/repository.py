"""Partners: the merchants that integrate with gerbang."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, insert, select, text, update

from gerbang.kit.sql import Connection, Query
from gerbang.models import Partner

_INSERT = Query(
    insert(Partner).values(
        id=bindparam("id"),
        name=bindparam("name"),
        parent_id=bindparam("parent_id"),
        webhook_url=bindparam("webhook_url"),
        webhook_secret_encrypted=bindparam("webhook_secret_encrypted"),
    )
)
_COLUMNS = (
    Partner.id,
    Partner.name,
    Partner.status,
    Partner.parent_id,
    Partner.webhook_url,
    Partner.allow_unsigned_requests,
    Partner.payin_weekday_percent,
    Partner.payin_weekday_flat,
    Partner.payin_weekend_percent,
    Partner.payin_weekend_flat,
    Partner.withdrawal_percent,
    Partner.withdrawal_flat,
    Partner.payment_methods,
    Partner.provider_preferences,
    Partner.created_at,
    Partner.updated_at,
)
UPDATABLE = frozenset(column.key for column in _COLUMNS) - {"id", "created_at", "updated_at"}
_LIST = Query(select(*_COLUMNS).order_by(Partner.created_at.desc(), Partner.id).limit(bindparam("limit")))
_LIST_IN = Query(
    select(*_COLUMNS).where(Partner.id == bindparam("ids").any_()).order_by(Partner.created_at.desc(), Partner.id)
)
_GET = Query(select(*_COLUMNS).where(Partner.id == bindparam("id")))
_GET_FOR_UPDATE = Query(select(*_COLUMNS).where(Partner.id == bindparam("id")).with_for_update())
# The partner and every partner below it, however deep.
_WITH_DESCENDANTS = Query(
    text(
        "WITH RECURSIVE tree AS (SELECT id FROM partners WHERE id = :id "
        "UNION SELECT p.id FROM partners p JOIN tree ON p.parent_id = tree.id) SELECT id FROM tree"
    )
)
# Parent changes are rare; serialising them makes the cycle check safe against two changes at once.
_LOCK_HIERARCHY = Query(text("SELECT pg_advisory_xact_lock(hashtext('gerbang.partner_hierarchy'))"))
_WEBHOOK_SECRETS = Query(
    select(
        Partner.webhook_secret_encrypted,
        Partner.previous_webhook_secret_encrypted,
        Partner.previous_webhook_secret_expires_at,
    ).where(Partner.id == bindparam("id"))
)
_ROTATE_WEBHOOK_SECRET = Query(
    update(Partner)
    .where(Partner.id == bindparam("id"))
    .values(
        previous_webhook_secret_encrypted=Partner.webhook_secret_encrypted,
        previous_webhook_secret_expires_at=bindparam("previous_expires_at"),
        webhook_secret_encrypted=bindparam("secret_encrypted"),
        updated_at=bindparam("now"),
    )
)


async def insert_partner(
    connection: Connection,
    *,
    partner_id: uuid.UUID,
    name: str,
    parent_id: uuid.UUID | None,
    webhook_url: str | None,
    webhook_secret_encrypted: str,
) -> None:
    await _INSERT.execute(
        connection,
        id=partner_id,
        name=name,
        parent_id=parent_id,
        webhook_url=webhook_url,
        webhook_secret_encrypted=webhook_secret_encrypted,
    )


async def list_partners(connection: Connection, limit: int) -> list[asyncpg.Record]:
    return await _LIST.fetch(connection, limit=limit)


async def list_partners_in(connection: Connection, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await _LIST_IN.fetch(connection, ids=ids)


async def get_partner(
    connection: Connection, partner_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    return await (_GET_FOR_UPDATE if for_update else _GET).fetchrow(connection, id=partner_id)


async def update_partner(connection: Connection, partner_id: uuid.UUID, values: dict[str, Any], now: datetime) -> None:
    unknown = set(values) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    statement = (
        update(Partner)
        .where(Partner.id == bindparam("id"))
        .values(updated_at=bindparam("now"), **{name: bindparam(f"v_{name}") for name in values})
    )
    await Query(statement).execute(connection, id=partner_id, now=now, **{f"v_{k}": v for k, v in values.items()})


async def with_descendants(connection: Connection, partner_id: uuid.UUID) -> list[uuid.UUID]:
    return [row["id"] for row in await _WITH_DESCENDANTS.fetch(connection, id=partner_id)]


async def lock_hierarchy(connection: Connection) -> None:
    await _LOCK_HIERARCHY.execute(connection)


async def webhook_secrets(connection: Connection, partner_id: uuid.UUID) -> asyncpg.Record | None:
    return await _WEBHOOK_SECRETS.fetchrow(connection, id=partner_id)


async def rotate_webhook_secret(
    connection: Connection,
    partner_id: uuid.UUID,
    *,
    secret_encrypted: str,
    previous_expires_at: datetime,
    now: datetime,
) -> None:
    await _ROTATE_WEBHOOK_SECRET.execute(
        connection, id=partner_id, secret_encrypted=secret_encrypted, previous_expires_at=previous_expires_at, now=now
    )
