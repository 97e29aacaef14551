from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import Order, ProviderAttempt

_NEW_COLUMNS = (
    "id", "partner_id", "reference", "player_id", "amount", "method", "channel", "flow", "customer_name",
    "customer_email", "customer_phone", "return_url", "expires_at",
)  # fmt: skip
_INSERT = Query(
    pg_insert(Order)
    .values({name: bindparam(name) for name in _NEW_COLUMNS} | {"metadata_": bindparam("metadata")})
    .on_conflict_do_nothing(index_elements=["partner_id", "reference"])
    .returning(Order.id)
)
_BY_REFERENCE = Query(
    select(Order.id).where(Order.partner_id == bindparam("partner_id"), Order.reference == bindparam("reference"))
)
_COLUMNS = list(Order.__table__.columns)
_GET = Query(select(*_COLUMNS).where(Order.id == bindparam("id")))
# Compare-and-set: the charge is attached once, to a pending order that has none.
_ATTACH_CHARGE = Query(
    update(Order)
    .where(Order.id == bindparam("id"), Order.status == "PENDING", Order.provider_account_id.is_(None))
    .values(
        provider=bindparam("provider"), provider_account_id=bindparam("account_id"),
        provider_reference=bindparam("provider_reference"), qr_payload=bindparam("qr_payload"),
        va_number=bindparam("va_number"), redirect_url=bindparam("redirect_url"), method=bindparam("method"),
        channel=bindparam("channel"), updated_at=bindparam("now"),
    )
    .returning(Order.id)
)  # fmt: skip
_INSERT_ATTEMPT = Query(
    insert(ProviderAttempt).values(
        order_id=bindparam("order_id"), provider_account_id=bindparam("account_id"), outcome=bindparam("outcome"),
        error=bindparam("error"), duration_ms=bindparam("duration_ms"),
    )
)  # fmt: skip


async def insert_order(connection: Connection, **values: Any) -> bool:
    """False if the partner already has an order with this reference."""
    return await _INSERT.fetchrow(connection, **values) is not None


async def order_id_by_reference(connection: Connection, partner_id: uuid.UUID, reference: str) -> uuid.UUID | None:
    value: uuid.UUID | None = await _BY_REFERENCE.fetchval(connection, partner_id=partner_id, reference=reference)
    return value


async def get_order(connection: Connection, order_id: uuid.UUID) -> asyncpg.Record | None:
    return await _GET.fetchrow(connection, id=order_id)


async def attach_charge(connection: Connection, **values: Any) -> bool:
    return await _ATTACH_CHARGE.fetchrow(connection, **values) is not None


async def insert_attempt(
    connection: Connection,
    *,
    order_id: uuid.UUID,
    account_id: uuid.UUID,
    outcome: str,
    error: str | None,
    duration_ms: int,
) -> None:
    await _INSERT_ATTEMPT.execute(
        connection, order_id=order_id, account_id=account_id, outcome=outcome, error=error, duration_ms=duration_ms
    )


# An order with a charge attached is the provider's to decide: a second pick failing must not close it.
_FAIL = Query(
    update(Order)
    .where(Order.id == bindparam("id"), Order.status == "PENDING", Order.provider_account_id.is_(None))
    .values(status="FAILED", updated_at=bindparam("now"))
)


async def fail_order(connection: Connection, order_id: uuid.UUID, now: datetime) -> None:
    await _FAIL.execute(connection, id=order_id, now=now)


# Compare-and-set: one customer pick per order, however many times the checkout form is sent at once.
_CLAIM_METHOD = Query(
    update(Order)
    .where(
        Order.id == bindparam("id"), Order.status == "PENDING", Order.method.is_(None),
        Order.expires_at > bindparam("now"),
    )
    .values(method=bindparam("method"), channel=bindparam("channel"), updated_at=bindparam("now"))
    .returning(Order.id)
)  # fmt: skip


async def claim_method(
    connection: Connection, order_id: uuid.UUID, method: str, channel: str | None, now: datetime
) -> bool:
    return await _CLAIM_METHOD.fetchrow(connection, id=order_id, method=method, channel=channel, now=now) is not None
