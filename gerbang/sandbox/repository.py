from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from sqlalchemy import BigInteger, String, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import SandboxCharge, SandboxDisbursement

_INSERT = Query(
    pg_insert(SandboxCharge)
    .values(
        merchant_ref=bindparam("merchant_ref"), charge_id=bindparam("charge_id"), amount=bindparam("amount"),
        method=bindparam("method"), channel=bindparam("channel"), merchant_name=bindparam("merchant_name"),
        callback_url=bindparam("callback_url"), settlement_delay_s=bindparam("settlement_delay_s"),
        merchant_key_encrypted=bindparam("merchant_key_encrypted"), expires_at=bindparam("expires_at"),
    )
    .on_conflict_do_nothing(index_elements=["merchant_ref"])
    .returning(SandboxCharge)
)  # fmt: skip
_GET = Query(select(SandboxCharge).where(SandboxCharge.merchant_ref == bindparam("merchant_ref")))
# Compare-and-set: only a pending charge moves; a second move finds nothing.
_MOVE = Query(
    update(SandboxCharge)
    .where(SandboxCharge.merchant_ref == bindparam("merchant_ref"), SandboxCharge.status == "PENDING")
    .values(status=bindparam("status"), paid_at=bindparam("paid_at"))
    .returning(SandboxCharge)
)


async def insert_charge(connection: Connection, **values: object) -> asyncpg.Record | None:
    """The new charge; None if the merchant_ref already has one."""
    return await _INSERT.fetchrow(connection, **values)


async def get_charge(connection: Connection, merchant_ref: uuid.UUID) -> asyncpg.Record | None:
    return await _GET.fetchrow(connection, merchant_ref=merchant_ref)


async def move_charge(
    connection: Connection, merchant_ref: uuid.UUID, status: str, paid_at: datetime | None
) -> asyncpg.Record | None:
    """The charge as moved; None if it was no longer pending."""
    return await _MOVE.fetchrow(connection, merchant_ref=merchant_ref, status=status, paid_at=paid_at)


_INSERT_DISBURSEMENT = Query(
    pg_insert(SandboxDisbursement)
    .values(
        merchant_ref=bindparam("merchant_ref"), disbursement_id=bindparam("disbursement_id"),
        merchant_key_hash=bindparam("merchant_key_hash"), merchant_key_encrypted=bindparam("merchant_key_encrypted"),
        amount=bindparam("amount"), bank_code=bindparam("bank_code"), account_number=bindparam("account_number"),
        holder_name=bindparam("holder_name"), note=bindparam("note"), callback_url=bindparam("callback_url"),
        outcome=bindparam("outcome"), complete_after=bindparam("complete_after"),
    )
    .on_conflict_do_nothing(index_elements=["merchant_ref"])
    .returning(SandboxDisbursement)
)  # fmt: skip
_GET_DISBURSEMENT = Query(
    select(SandboxDisbursement).where(SandboxDisbursement.merchant_ref == bindparam("merchant_ref"))
)
# Compare-and-set, both: only a processing disbursement moves, so of two movers one finds nothing.
_SETTLE_DUE = Query(
    update(SandboxDisbursement)
    .where(
        SandboxDisbursement.merchant_ref == bindparam("merchant_ref"),
        SandboxDisbursement.status == "PROCESSING",
        SandboxDisbursement.complete_after <= bindparam("now"),
    )
    .values(
        status=SandboxDisbursement.outcome,
        reason=case((SandboxDisbursement.outcome == "FAILED", bindparam("failed_reason", type_=String)), else_=None),
        finished_at=bindparam("now"),
    )
    .returning(SandboxDisbursement)
)
_MOVE_DISBURSEMENT = Query(
    update(SandboxDisbursement)
    .where(SandboxDisbursement.merchant_ref == bindparam("merchant_ref"), SandboxDisbursement.status == "PROCESSING")
    .values(status=bindparam("status"), reason=bindparam("reason"), finished_at=bindparam("now"))
    .returning(SandboxDisbursement)
)
# What the merchant has paid out as of `now`: completed disbursements, and processing ones that will
# complete (a disbursement holds its amount until it fails).
_DISBURSED = Query(
    select(func.coalesce(func.sum(SandboxDisbursement.amount), 0).cast(BigInteger)).where(
        SandboxDisbursement.merchant_key_hash == bindparam("merchant_key_hash"),
        or_(
            SandboxDisbursement.status == "COMPLETED",
            and_(
                SandboxDisbursement.status == "PROCESSING",
                or_(SandboxDisbursement.outcome == "COMPLETED", SandboxDisbursement.complete_after > bindparam("now")),
            ),
        ),
    )
)


async def insert_disbursement(connection: Connection, **values: object) -> asyncpg.Record | None:
    """The new disbursement; None if the merchant_ref already has one."""
    return await _INSERT_DISBURSEMENT.fetchrow(connection, **values)


async def get_disbursement(connection: Connection, merchant_ref: uuid.UUID) -> asyncpg.Record | None:
    return await _GET_DISBURSEMENT.fetchrow(connection, merchant_ref=merchant_ref)


async def settle_due_disbursement(
    connection: Connection, merchant_ref: uuid.UUID, now: datetime, failed_reason: str
) -> asyncpg.Record | None:
    """The disbursement moved to its outcome if it was processing and due at `now`; else None."""
    return await _SETTLE_DUE.fetchrow(connection, merchant_ref=merchant_ref, now=now, failed_reason=failed_reason)


async def move_disbursement(
    connection: Connection, merchant_ref: uuid.UUID, status: str, reason: str | None, now: datetime
) -> asyncpg.Record | None:
    return await _MOVE_DISBURSEMENT.fetchrow(
        connection, merchant_ref=merchant_ref, status=status, reason=reason, now=now
    )


async def disbursed(connection: Connection, merchant_key_hash: str, now: datetime) -> int:
    total: int = await _DISBURSED.fetchval(connection, merchant_key_hash=merchant_key_hash, now=now)
    return total
