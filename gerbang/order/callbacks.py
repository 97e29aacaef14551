"""Inbound provider callbacks, one framework for every provider.

The raw body is taken as received; the adapter reads what it claims; the order it names gives the
account whose credentials verify it; the callback is stored (verified or not) with what we made of
it; then, for a verified one, the order moves by compare-and-set. Only PENDING -> PAID moves money,
once: the ledger posting has the order's idempotency key, and the callback's event id is unique
among verified callbacks. Duplicates are no-ops; a wrong amount, a contradiction after a final state
or an unknown order is stored and flagged and moves nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.events import service as events
from gerbang.kit.log import get_logger
from gerbang.kit.money import FeeRate
from gerbang.kit.sql import Connection, Query
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.ledger import service as ledger
from gerbang.models import Order, ProviderCallback
from gerbang.order.service import PayIn
from gerbang.partner import service as partner_service
from gerbang.provider.base import (
    Acknowledgement,
    InboundCallback,
    PaymentCallback,
    PaymentProvider,
    PaymentStatus,
    ProviderError,
)
from gerbang.routing import repository as accounts_repository
from gerbang.routing import router
from gerbang.routing.accounts import adapter_account

log = get_logger("gerbang.callbacks")

_ORDER_FOR_UPDATE = Query(select(*Order.__table__.columns).where(Order.id == bindparam("id")).with_for_update())
_STORE = Query(
    pg_insert(ProviderCallback)
    .values(
        provider=bindparam("provider"), event_id=bindparam("event_id"), order_id=bindparam("order_id"),
        verified=bindparam("verified"), outcome=bindparam("outcome"), status=bindparam("status"),
        amount=bindparam("amount"), body=bindparam("body"),
    )
    .on_conflict_do_nothing(index_elements=["provider", "event_id"], index_where=text("verified"))
    .returning(ProviderCallback.id)
)  # fmt: skip
_SET_OUTCOME = Query(
    update(ProviderCallback).where(ProviderCallback.id == bindparam("id")).values(outcome=bindparam("outcome"))
)
# Compare-and-set: the order leaves `expected` once; a second callback finds it gone.
_MARK_PAID = Query(
    update(Order)
    .where(Order.id == bindparam("id"), Order.status == bindparam("expected"))
    .values(status="PAID", paid_at=bindparam("paid_at"), fee=bindparam("fee"), updated_at=bindparam("now"))
    .returning(Order.id)
)
_MARK_CLOSED = Query(
    update(Order)
    .where(Order.id == bindparam("id"), Order.status == "PENDING")
    .values(status=bindparam("status"), updated_at=bindparam("now"))
    .returning(Order.id)
)
_PAID_AT_SLACK = timedelta(minutes=5)


def _body_text(body: bytes) -> str:
    return body[:65536].decode("utf-8", errors="replace")


async def _store(
    connection: Connection, provider: str, body: bytes, claimed: PaymentCallback | None, *, verified: bool, outcome: str
) -> int | None:
    row_id: int | None = await _STORE.fetchval(
        connection, provider=provider, event_id=claimed.event_id[:200] if claimed else None,
        order_id=claimed.order_id if claimed else None, verified=verified, outcome=outcome,
        status=claimed.status.value if claimed else None, amount=claimed.amount if claimed else None,
        body=_body_text(body),
    )  # fmt: skip
    return row_id


async def receive(pay_in: PayIn, adapter: PaymentProvider, callback: InboundCallback) -> Acknowledgement:
    try:
        claimed = adapter.parse_callback(callback)
    except ValueError:
        async with pay_in.database.transaction() as connection:
            await _store(connection, adapter.name, callback.body, None, verified=False, outcome="unparseable")
        log.warning("callback.unparseable", provider=adapter.name)
        return adapter.acknowledge(False)
    async with pay_in.database.transaction() as connection:
        order = await _ORDER_FOR_UPDATE.fetchrow(connection, id=claimed.order_id) if claimed.order_id else None
        account = (
            await accounts_repository.get_account(connection, order["provider_account_id"])
            if order is not None and order["provider_account_id"] is not None
            else None
        )
        if order is None or account is None or account["provider"] != adapter.name:
            # Nothing to verify it against: kept for people to look at, acknowledged so it is not re-sent.
            await _store(connection, adapter.name, callback.body, claimed, verified=False, outcome="unknown_order")
            log.warning("callback.unknown_order", provider=adapter.name, order_id=str(claimed.order_id))
            return adapter.acknowledge(True)
        if not adapter.verify_callback(adapter_account(account, pay_in.key_ring), callback):
            await _store(connection, adapter.name, callback.body, claimed, verified=False, outcome="unverified")
            log.warning("callback.unverified", provider=adapter.name, order_id=str(order["id"]))
            return adapter.acknowledge(False)
        stored = await _store(connection, adapter.name, callback.body, claimed, verified=True, outcome="received")
        if stored is None:
            return adapter.acknowledge(True)  # this notification was already received: a retry
        outcome = await _apply(connection, pay_in, adapter, account, order, claimed)
        await _SET_OUTCOME.execute(connection, id=stored, outcome=outcome)
    if outcome not in ("applied", "duplicate", "ignored"):
        log.warning("callback.flagged", provider=adapter.name, order_id=str(order["id"]), outcome=outcome)
    return adapter.acknowledge(True)


async def _apply(
    connection: Connection, pay_in: PayIn, adapter: PaymentProvider, account: asyncpg.Record,
    order: asyncpg.Record, claimed: PaymentCallback,
) -> str:  # fmt: skip
    async def provider_confirms() -> bool:
        return await _provider_confirms_paid(pay_in, adapter, account, order)

    return await apply_status(
        connection, pay_in, account, order, claimed.status, claimed.amount, claimed.paid_at, confirm=provider_confirms
    )


async def apply_status(
    connection: Connection, pay_in: PayIn, account: asyncpg.Record, order: asyncpg.Record, status: PaymentStatus,
    amount: int | None, paid_at: datetime | None, *, confirm: Callable[[], Awaitable[bool]],
) -> str:  # fmt: skip
    """Moves `order` (read FOR UPDATE) to what the provider says of it; returns the outcome to record.

    `confirm` asks the provider itself before an EXPIRED order is paid after all: a callback's word is not
    enough for that, the provider's status answer is.
    """
    current = order["status"]
    match status:
        case PaymentStatus.paid:
            if amount != order["amount"]:
                return "amount_mismatch"
            if current == "PENDING":
                await mark_paid(connection, pay_in, order, account, _paid_at(order, paid_at), expected="PENDING")
                return "applied"
            if current in ("PAID", "SETTLED"):
                return "duplicate"
            if current == "EXPIRED" and await confirm():
                # The money really arrived after we gave up on it: honour it, and flag it for people.
                await mark_paid(connection, pay_in, order, account, _paid_at(order, paid_at), expected="EXPIRED")
                return "late_payment"
            return "contradicting"
        case PaymentStatus.failed | PaymentStatus.expired:
            if current == "PENDING":
                await close(connection, order, status.value)
                return "applied"
            return "duplicate" if current == status.value else "contradicting"
        case PaymentStatus.pending:
            return "ignored"


def _paid_at(order: asyncpg.Record, claimed: datetime | None) -> datetime:
    """The provider's payment time when it is plausible (it decides the fee rate), else now."""
    now = utcnow()
    if (
        claimed is not None
        and claimed.tzinfo is not None
        and order["created_at"] - _PAID_AT_SLACK <= claimed <= now + _PAID_AT_SLACK
    ):
        return claimed
    return now


async def _provider_confirms_paid(
    pay_in: PayIn, adapter: PaymentProvider, account: asyncpg.Record, order: asyncpg.Record
) -> bool:
    try:
        result = await adapter.payment_status(
            pay_in.session, adapter_account(account, pay_in.key_ring), order["id"], order["provider_reference"]
        )
    except ProviderError:
        return False
    return result.status is PaymentStatus.paid and result.amount == order["amount"]


def payment_payload(
    order: asyncpg.Record | dict[str, Any], status: str, fee: int | None, paid_at: datetime | None
) -> dict[str, Any]:
    """The payment fields partners of the original rely on."""
    return {
        "orderId": str(order["id"]), "reference": order["reference"], "status": status,
        "settlementStatus": "PENDING" if status == "PAID" else None, "grossAmount": order["amount"], "fee": fee,
        "netAmount": order["amount"] - fee if fee is not None else None, "qrPayload": order["qr_payload"],
        "paidAt": to_jakarta(paid_at).isoformat() if paid_at else None, "nonce": uuid.uuid4().hex,
    }  # fmt: skip


async def mark_paid(
    connection: Connection, pay_in: PayIn, order: asyncpg.Record, account: asyncpg.Record, paid_at: datetime,
    *, expected: str,
) -> None:  # fmt: skip
    partner = await partner_service.get_partner(connection, order["partner_id"])
    weekend = pay_in.calendar.is_weekend_rate_at(paid_at)
    fees = partner.fees
    rate = (
        FeeRate(fees.payin_weekend_percent, fees.payin_weekend_flat)
        if weekend
        else FeeRate(fees.payin_weekday_percent, fees.payin_weekday_flat)
    )
    fee = min(rate.fee_for(order["amount"]), order["amount"] - 1)  # the ledger needs a positive net
    now = utcnow()
    if (
        await _MARK_PAID.fetchrow(connection, id=order["id"], expected=expected, paid_at=paid_at, fee=fee, now=now)
        is None
    ):
        return
    await ledger.order_paid(
        connection, order_id=order["id"], partner_id=order["partner_id"], provider_account_id=account["id"],
        amount_paid=order["amount"], fee=fee,
    )  # fmt: skip
    if account["daily_cap"] is not None:
        await router.add_volume(connection, account["id"], to_jakarta(paid_at).date(), order["amount"])
    payload = payment_payload(order, "PAID", fee, paid_at)
    await events.webhook(
        connection, partner_id=order["partner_id"], event="payment.paid", data=payload, at=now, object_id=order["id"]
    )
    await events.outbox(
        connection, topic="payments.v1", key=str(order["id"]), event="payment.completed", data=payload, at=now
    )


async def close(connection: Connection, order: asyncpg.Record | dict[str, Any], status: str) -> bool:
    """PENDING -> FAILED or EXPIRED, with the partner's webhook and the outbox event."""
    now = utcnow()
    if await _MARK_CLOSED.fetchrow(connection, id=order["id"], status=status, now=now) is None:
        return False
    payload = payment_payload(order, status, None, None)
    webhook_event = "payment.failed" if status == "FAILED" else "payment.expired"
    await events.webhook(
        connection, partner_id=order["partner_id"], event=webhook_event, data=payload, at=now, object_id=order["id"]
    )
    await events.outbox(
        connection, topic="payments.v1", key=str(order["id"]), event="payment.failed", data=payload, at=now
    )
    return True
