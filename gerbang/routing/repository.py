from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, insert, select, update

from gerbang.kit.sql import Connection, Query
from gerbang.models import ProviderAccount

COLUMNS = tuple(column for column in ProviderAccount.__table__.columns)
UPDATABLE = frozenset(
    {"name", "base_url", "credentials_encrypted", "methods", "weekday_enabled", "weekend_enabled", "min_amount",
     "max_amount", "daily_cap", "priority", "weight", "enabled", "settlement_rule", "settlement_days",
     "settlement_cutoff_hour"}
)  # fmt: skip
_INSERT = Query(insert(ProviderAccount).values({name: bindparam(name) for name in (*UPDATABLE, "id", "provider")}))
_LIST = Query(select(*COLUMNS).order_by(ProviderAccount.priority, ProviderAccount.created_at))
_GET = Query(select(*COLUMNS).where(ProviderAccount.id == bindparam("id")))
_GET_FOR_UPDATE = Query(select(*COLUMNS).where(ProviderAccount.id == bindparam("id")).with_for_update())


async def insert_account(connection: Connection, **values: Any) -> None:
    await _INSERT.execute(connection, **values)


async def list_accounts(connection: Connection) -> list[asyncpg.Record]:
    return await _LIST.fetch(connection)


async def get_account(
    connection: Connection, account_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    return await (_GET_FOR_UPDATE if for_update else _GET).fetchrow(connection, id=account_id)


async def update_account(connection: Connection, account_id: uuid.UUID, values: dict[str, Any], now: datetime) -> None:
    if set(values) - UPDATABLE:
        raise ValueError(f"not updatable: {sorted(set(values) - UPDATABLE)}")
    statement = (
        update(ProviderAccount)
        .where(ProviderAccount.id == bindparam("id"))
        .values(updated_at=bindparam("now"), **{name: bindparam(f"v_{name}") for name in values})
    )
    await Query(statement).execute(connection, id=account_id, now=now, **{f"v_{k}": v for k, v in values.items()})
