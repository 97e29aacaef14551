"""SQL for a partner's users. Every statement is scoped by partner id: an id from another partner
matches nothing."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sqlalchemy import bindparam, func, select, update

from gerbang.kit.sql import Connection, Query
from gerbang.models import PartnerUser

_COLUMNS = (
    PartnerUser.id,
    PartnerUser.partner_id,
    PartnerUser.email,
    PartnerUser.role,
    PartnerUser.status,
    (PartnerUser.totp_secret_encrypted.is_not(None)).label("two_factor_enabled"),
    PartnerUser.created_at,
    PartnerUser.last_login_at,
)
_LIST = Query(
    select(*_COLUMNS).where(PartnerUser.partner_id == bindparam("partner_id")).order_by(PartnerUser.created_at)
)
_GET_FOR_UPDATE = Query(
    select(*_COLUMNS)
    .where(PartnerUser.id == bindparam("id"), PartnerUser.partner_id == bindparam("partner_id"))
    .with_for_update()
)
# Locks the partner's owners, so two demotions at once cannot both pass the last-owner check.
_ACTIVE_OWNERS = Query(
    select(PartnerUser.id)
    .where(
        PartnerUser.partner_id == bindparam("partner_id"),
        PartnerUser.role == "OWNER",
        PartnerUser.status == "active",
    )
    .with_for_update()
)
_COUNT = Query(select(func.count()).select_from(PartnerUser).where(PartnerUser.partner_id == bindparam("partner_id")))


async def list_users(connection: Connection, partner_id: uuid.UUID) -> list[asyncpg.Record]:
    return await _LIST.fetch(connection, partner_id=partner_id)


async def get_user_for_update(
    connection: Connection, partner_id: uuid.UUID, user_id: uuid.UUID
) -> asyncpg.Record | None:
    return await _GET_FOR_UPDATE.fetchrow(connection, id=user_id, partner_id=partner_id)


async def active_owner_ids(connection: Connection, partner_id: uuid.UUID) -> list[uuid.UUID]:
    return [row["id"] for row in await _ACTIVE_OWNERS.fetch(connection, partner_id=partner_id)]


async def user_count(connection: Connection, partner_id: uuid.UUID) -> int:
    return int(await _COUNT.fetchval(connection, partner_id=partner_id))


async def update_user(
    connection: Connection, partner_id: uuid.UUID, user_id: uuid.UUID, values: dict[str, Any]
) -> None:
    statement = (
        update(PartnerUser)
        .where(PartnerUser.id == bindparam("id"), PartnerUser.partner_id == bindparam("partner_id"))
        .values(**{name: bindparam(f"v_{name}") for name in values})
    )
    await Query(statement).execute(
        connection, id=user_id, partner_id=partner_id, **{f"v_{k}": v for k, v in values.items()}
    )
