from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy import bindparam, insert, select

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


_COLUMNS = (
    Partner.id,
    Partner.name,
    Partner.status,
    Partner.parent_id,
    Partner.webhook_url,
    Partner.allow_unsigned_requests,
    Partner.created_at,
)
_LIST = Query(select(*_COLUMNS).order_by(Partner.created_at.desc(), Partner.id).limit(bindparam("limit")))
_GET = Query(select(*_COLUMNS).where(Partner.id == bindparam("id")))


async def list_partners(connection: Connection, limit: int) -> list[asyncpg.Record]:
    return await _LIST.fetch(connection, limit=limit)


async def get_partner(connection: Connection, partner_id: uuid.UUID) -> asyncpg.Record | None:
    return await _GET.fetchrow(connection, id=partner_id)
