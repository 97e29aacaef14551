from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import SandboxCharge

_INSERT = Query(
    pg_insert(SandboxCharge)
    .values(
        merchant_ref=bindparam("merchant_ref"), charge_id=bindparam("charge_id"), amount=bindparam("amount"),
        method=bindparam("method"), channel=bindparam("channel"), merchant_name=bindparam("merchant_name"),
        callback_url=bindparam("callback_url"),
        merchant_key_encrypted=bindparam("merchant_key_encrypted"), expires_at=bindparam("expires_at"),
    )
    .on_conflict_do_nothing(index_elements=["merchant_ref"])
    .returning(SandboxCharge.charge_id)
)  # fmt: skip
_GET = Query(select(SandboxCharge).where(SandboxCharge.merchant_ref == bindparam("merchant_ref")))
# Compare-and-set: only a pending charge moves; a second move finds nothing.
_MOVE = Query(
    update(SandboxCharge)
    .where(SandboxCharge.merchant_ref == bindparam("merchant_ref"), SandboxCharge.status == "PENDING")
    .values(status=bindparam("status"), paid_at=bindparam("paid_at"))
    .returning(SandboxCharge.merchant_ref)
)


async def insert_charge(connection: Connection, **values: object) -> bool:
    return await _INSERT.fetchrow(connection, **values) is not None


async def get_charge(connection: Connection, merchant_ref: uuid.UUID) -> asyncpg.Record | None:
    return await _GET.fetchrow(connection, merchant_ref=merchant_ref)


async def move_charge(connection: Connection, merchant_ref: uuid.UUID, status: str, paid_at: datetime | None) -> bool:
    return await _MOVE.fetchrow(connection, merchant_ref=merchant_ref, status=status, paid_at=paid_at) is not None
