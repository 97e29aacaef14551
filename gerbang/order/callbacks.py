"""Inbound provider callbacks, one framework for every provider.

The raw body is taken as received; the adapter reads what it claims; the order it names gives the
account whose credentials verify it; the callback is stored (verified or not) with what we made of
it; then, for a verified one, the order moves by compare-and-set. Only PENDING -> PAID moves money,
once: the ledger posting has the order's idempotency key, and the callback's event id is unique
among verified callbacks. Duplicates are no-ops; a wrong amount, a contradiction after a final state
or an unknown order is stored and flagged and moves nothing.

A provider that does not sign its callbacks (`callbacks_signed` False), or whose signature does not
cover the status (`callbacks_confirmed`), is never believed: its callback is stored (unverified, or
verified first) and only prompts a status query, whose answer alone moves the order.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Update, bindparam, exists, select, text, update

from gerbang.events import alerts, callback_log
from gerbang.events import service as events
from gerbang.kit.calendar import BusinessCalendar
from gerbang.kit.log import get_logger
from gerbang.kit.money import FeeRate
from gerbang.kit.sql import Connection, Query, Refused
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.ledger import service as ledger
from gerbang.ledger.repository import gated_posting
from gerbang.models import Order, ProviderCallback
from gerbang.order.payloads import payment_payload
from gerbang.order.service import PayIn
from gerbang.provider.base import (
    Acknowledgement,
    InboundCallback,
    PaymentCallback,
    PaymentProvider,
    PaymentStatus,
    ProviderError,
)
from gerbang.routing import router
from gerbang.routing.accounts import adapter_account

log = get_logger("gerbang.callbacks")

# The order, locked, with what acting on it needs: the partner's pay-in fees and the provider account that
# verifies its callbacks (a row value, null for an order without a charge). One round trip instead of three.
_ORDER = (
    f"SELECT {', '.join(f'o.{column.name}' for column in Order.__table__.columns)}, "
    "p.payin_weekday_percent, p.payin_weekday_flat, p.payin_weekend_percent, p.payin_weekend_flat, "
    "a AS account FROM orders o JOIN partners p ON p.id = o.partner_id "
    "LEFT JOIN provider_accounts a ON a.id = o.provider_account_id WHERE o.id = :id"
)
_READ_ORDER = Query(text(_ORDER))
_LOCK_ORDER = Query(text(f"{_ORDER} FOR UPDATE OF o"))
# A transition records the callback's outcome in its own statement (one round trip less); with no callback
# (`callback_id` null: a status query's answer, an expiry) the CTE changes nothing.
_NOTE = (
    update(ProviderCallback)
    .where(ProviderCallback.id == bindparam("callback_id"))
    .values(outcome=bindparam("outcome"))
    .cte("noted")
)


def _paying(*conditions: ColumnElement[bool]) -> Update:
    """Compare-and-set: the order leaves `expected` for PAID once (and only if `conditions` hold); a second
    callback finds it gone."""
    return (
        update(Order)
        .where(Order.id == bindparam("order_id"), Order.status == bindparam("expected"), *conditions)
        .values(status="PAID", paid_at=bindparam("paid_at"), fee=bindparam("fee"), updated_at=bindparam("now"))
        .returning(Order.id)
    )


# The partner's webhook and the outbox event are written by the transition's own statement, and only if the
# order moved.
_MARK_PAID = events.gated_webhook_and_outbox(_paying().add_cte(_NOTE).cte("moved"))
# The common callback, decided before anything is written (the order is locked, PENDING, the amount right):
# the callback stored with its outcome, and only if it is not a retry, the order paid with its events.
_STORED = callback_log.store_statement("callback_").cte("stored")
_STORE_AND_MARK_PAID = events.gated_webhook_and_outbox(_paying(exists(select(_STORED))).cte("moved"))
# The order paid with its events, the callback and the payment's posting, for an order read without a lock
# (`paid_at_once`): nothing moves if it is no longer PENDING; refused if the posting cannot be made now.
_PAID_NOW = _paying().cte("moved")
_PAID_POSTING = gated_posting(_PAID_NOW, "order payment")
_STORE_PAY_AND_POST = callback_log.applied_by_move(_PAID_NOW, _PAID_POSTING.ctes, _PAID_POSTING.made)
_MARK_CLOSED = events.gated_webhook_and_outbox(
    update(Order)
    .where(Order.id == bindparam("order_id"), Order.status == "PENDING")
    .values(status=bindparam("status"), updated_at=bindparam("now"))
    .returning(Order.id)
    .add_cte(_NOTE)
    .cte("moved")
)
_PAID_AT_SLACK = timedelta(minutes=5)


async def lock_order(connection: Connection, order_id: uuid.UUID) -> asyncpg.Record | None:
    """The order `FOR UPDATE`, with the partner's fees and `account`, its provider account (or None)."""
    return await _LOCK_ORDER.fetchrow(connection, id=order_id)


async def _store(
    connection: Connection, provider: str, body: bytes, claimed: PaymentCallback | None, *, verified: bool, outcome: str
) -> int | None:
    return await callback_log.store(
        connection, provider=provider, body=body, verified=verified, outcome=outcome,
        event_id=claimed.event_id if claimed else None, order_id=claimed.order_id if claimed else None,
        status=claimed.status.value if claimed else None, amount=claimed.amount if claimed else None,
    )  # fmt: skip


async def receive(pay_in: PayIn, adapter: PaymentProvider, callback: InboundCallback) -> Acknowledgement:
    try:
        claimed = adapter.parse_callback(callback)
    except ValueError:
        async with pay_in.database.transaction() as connection:
            await _store(connection, adapter.name, callback.recorded, None, verified=False, outcome="unparseable")
        log.warning("callback.unparseable", provider=adapter.name)
        return adapter.acknowledge(False)
    if not adapter.callbacks_signed or adapter.callbacks_confirmed:
        return await _confirm_by_status(pay_in, adapter, callback, claimed)
    if await paid_at_once(pay_in, adapter, callback, claimed):
        return adapter.acknowledge(True)
    async with pay_in.database.transaction() as connection:
        order = await lock_order(connection, claimed.order_id) if claimed.order_id else None
        account = order["account"] if order is not None else None
        if order is None or account is None or account["provider"] != adapter.name:
            # Nothing to verify it against: kept for people to look at, acknowledged so it is not re-sent.
            await _store(connection, adapter.name, callback.recorded, claimed, verified=False, outcome="unknown_order")
            log.warning("callback.unknown_order", provider=adapter.name, order_id=str(claimed.order_id))
            return adapter.acknowledge(True)
        if not adapter.verify_callback(adapter_account(account, pay_in.key_ring), callback):
            await _store(connection, adapter.name, callback.recorded, claimed, verified=False, outcome="unverified")
            log.warning("callback.unverified", provider=adapter.name, order_id=str(order["id"]))
            return adapter.acknowledge(False)
        if claimed.status is PaymentStatus.paid and claimed.amount == order["amount"] and order["status"] == "PENDING":
            # The common case, one statement for the callback, the order and its events (a retry moves nothing).
            fee = await mark_paid(
                connection, pay_in, order, account, _paid_at(order, claimed.paid_at), expected="PENDING",
                callback_id=None, outcome="applied", stored_now=_applied(adapter, callback, claimed),
            )  # fmt: skip
            if fee is not None:
                await _post_paid(connection, order, account, fee)
            return adapter.acknowledge(True)
        stored = await _store(connection, adapter.name, callback.recorded, claimed, verified=True, outcome="received")
        if stored is None:
            return adapter.acknowledge(True)  # this notification was already received: a retry
        outcome = await _apply(connection, pay_in, adapter, account, order, claimed, stored)
        await flag_outcome(connection, adapter.name, order, outcome)
    return adapter.acknowledge(True)


def _applied(adapter: PaymentProvider, callback: InboundCallback, claimed: PaymentCallback) -> dict[str, Any]:
    """A verified callback, not stored yet, whose outcome is known before anything is written: "applied"."""
    return callback_log.store_values(
        "callback_", provider=adapter.name, body=callback.recorded, verified=True, outcome="applied",
        event_id=claimed.event_id, order_id=claimed.order_id, status=claimed.status.value, amount=claimed.amount,
    )  # fmt: skip


async def paid_at_once(
    pay_in: PayIn, adapter: PaymentProvider, callback: InboundCallback, claimed: PaymentCallback
) -> bool:
    """The common callback without a transaction: a verified PAID, for the right amount, of a PENDING order on
    an account with no daily cap. The order is read without a lock; then one statement stores the callback,
    pays the order by compare-and-set with its events, and posts the payment (two round trips, not five).
    False if the callback is anything else, if the order moved meanwhile, or if that statement refused (a
    retry of a notification stored before, the partner's first payment): nothing was written, and `receive`'s
    careful path, under the order's lock, decides."""
    if claimed.status is not PaymentStatus.paid or claimed.order_id is None:
        return False
    async with pay_in.database.connection() as connection:
        order = await _READ_ORDER.fetchrow(connection, id=claimed.order_id)
        account = order["account"] if order is not None else None
        if (
            order is None or account is None or account["provider"] != adapter.name or order["status"] != "PENDING"
            or claimed.amount != order["amount"] or account["daily_cap"] is not None
            or not adapter.verify_callback(adapter_account(account, pay_in.key_ring), callback)
        ):  # fmt: skip
            return False
        paid_at = _paid_at(order, claimed.paid_at)
        fee, values = _paid_values(
            await pay_in.calendar.current(connection), order, paid_at, expected="PENDING", callback_id=None,
            outcome="applied",
        )  # fmt: skip
        values |= _applied(adapter, callback, claimed) | ledger.gated_values(_payment(order, account, fee))
        try:
            paid = await _STORE_PAY_AND_POST.attempt(connection, **values)
        except Refused:
            return False
    return paid is not None


async def _confirm_by_status(
    pay_in: PayIn, adapter: PaymentProvider, callback: InboundCallback, claimed: PaymentCallback
) -> Acknowledgement:
    """A callback whose body is not believed: from a provider that does not sign (stored unverified), or
    whose signature does not cover the status (verified first: a bad signature is refused). It only prompts
    a status query to the provider with the account that owns the order, and only that answer (amount
    checked against the order) moves it."""
    async with pay_in.database.transaction() as connection:
        order = await lock_order(connection, claimed.order_id) if claimed.order_id else None
        account = order["account"] if order is not None else None
        if order is None or account is None or account["provider"] != adapter.name:
            await _store(connection, adapter.name, callback.recorded, claimed, verified=False, outcome="unknown_order")
            log.warning("callback.unknown_order", provider=adapter.name, order_id=str(claimed.order_id))
            return adapter.acknowledge(True)
        signed = adapter.callbacks_signed
        if signed and not adapter.verify_callback(adapter_account(account, pay_in.key_ring), callback):
            await _store(connection, adapter.name, callback.recorded, claimed, verified=False, outcome="unverified")
            log.warning("callback.unverified", provider=adapter.name, order_id=str(order["id"]))
            return adapter.acknowledge(False)
        stored = await _store(connection, adapter.name, callback.recorded, claimed, verified=signed, outcome="requery")
        # A retry of a verified notification (`stored` None) asks again all the same: the order moves by
        # compare-and-set, so asking twice moves nothing twice.
    try:
        result = await adapter.payment_status(
            pay_in.session, adapter_account(account, pay_in.key_ring), order["id"], order["provider_reference"]
        )
    except ProviderError as error:
        log.warning("callback.requery_failed", provider=adapter.name, order_id=str(order["id"]), error=str(error))
        if stored is not None:
            async with pay_in.database.transaction() as connection:
                await callback_log.set_outcome(connection, stored, "requery_failed")
        return adapter.acknowledge(False)  # the provider retries; the status check also catches up
    async with pay_in.database.transaction() as connection:
        locked = await lock_order(connection, order["id"])
        assert locked is not None  # noqa: S101 (orders are never deleted)

        async def answered() -> bool:  # this is the provider's own status answer
            return True

        outcome = await apply_status(
            connection, pay_in, account, locked, result.status, result.amount, result.paid_at, confirm=answered,
            callback_id=stored,
        )  # fmt: skip
        await flag_outcome(connection, adapter.name, locked, outcome)
    return adapter.acknowledge(True)


_ROUTINE = frozenset({"applied", "duplicate", "ignored"})


async def flag_outcome(
    connection: Connection, provider: str, order: asyncpg.Record, outcome: str, *, source: str = "callback"
) -> None:
    """An outcome people should look at (a wrong amount, a payment after expiry, a contradiction of a final
    state) raises a `callback_flagged` alert in the transaction that reached it: it exists exactly when the
    outcome does. `source`: what brought the news (a callback, or a status answer)."""
    if outcome in _ROUTINE:
        return
    await alerts.raise_alert(
        connection, kind="callback_flagged", partner_id=order["partner_id"], now=utcnow(),
        message=f"{provider} {source} for order {order['id']}: {outcome}; nothing moved but what the ledger shows",
    )  # fmt: skip


async def _apply(
    connection: Connection, pay_in: PayIn, adapter: PaymentProvider, account: asyncpg.Record,
    order: asyncpg.Record, claimed: PaymentCallback, callback_id: int,
) -> str:  # fmt: skip
    async def provider_confirms() -> bool:
        return await _provider_confirms_paid(pay_in, adapter, account, order)

    return await apply_status(
        connection, pay_in, account, order, claimed.status, claimed.amount, claimed.paid_at, confirm=provider_confirms,
        callback_id=callback_id,
    )  # fmt: skip


async def apply_status(
    connection: Connection, pay_in: PayIn, account: asyncpg.Record, order: asyncpg.Record, status: PaymentStatus,
    amount: int | None, paid_at: datetime | None, *, confirm: Callable[[], Awaitable[bool]],
    callback_id: int | None = None,
) -> str:  # fmt: skip
    """Moves `order` (read by `lock_order`) to what the provider says of it; returns the outcome, which is
    also recorded on the stored callback `callback_id` if there is one.

    `confirm` asks the provider itself before an EXPIRED order is paid after all: a callback's word is not
    enough for that, the provider's status answer is.

    A payment's ledger posting is the last statement before the caller commits: every one of them locks the
    same house accounts (the provider account's balance, the platform's fees), held until the commit.
    """
    outcome, paid, recorded = await _move(
        connection, pay_in, account, order, status, amount, paid_at, confirm, callback_id
    )
    if callback_id is not None and not recorded:
        await callback_log.set_outcome(connection, callback_id, outcome)
    if paid is not None:
        await _post_paid(connection, order, account, paid)
    return outcome


def _payment(order: asyncpg.Record, account: asyncpg.Record, fee: int) -> ledger.Planned:
    return ledger.plan_order_paid(
        order_id=order["id"], partner_id=order["partner_id"], provider_account_id=account["id"],
        amount_paid=order["amount"], fee=fee,
    )  # fmt: skip


async def _post_paid(connection: Connection, order: asyncpg.Record, account: asyncpg.Record, fee: int) -> None:
    await ledger.post_planned(connection, _payment(order, account, fee))


async def _move(
    connection: Connection, pay_in: PayIn, account: asyncpg.Record, order: asyncpg.Record, status: PaymentStatus,
    amount: int | None, paid_at: datetime | None, confirm: Callable[[], Awaitable[bool]], callback_id: int | None,
) -> tuple[str, int | None, bool]:  # fmt: skip
    """The outcome; the fee if the order became PAID (its ledger posting is still to be made); whether the
    outcome is recorded on the callback already (by the transition's statement)."""
    current = order["status"]
    match status:
        case PaymentStatus.paid:
            if amount != order["amount"]:
                return "amount_mismatch", None, False
            if current == "PENDING":
                fee = await mark_paid(
                    connection, pay_in, order, account, _paid_at(order, paid_at), expected="PENDING",
                    callback_id=callback_id, outcome="applied",
                )  # fmt: skip
                return "applied", fee, True
            if current in ("PAID", "SETTLED", "LOAN_SETTLED"):
                return "duplicate", None, False
            if current == "EXPIRED" and await confirm():
                # The money really arrived after we gave up on it: honour it, and flag it for people.
                fee = await mark_paid(
                    connection, pay_in, order, account, _paid_at(order, paid_at), expected="EXPIRED",
                    callback_id=callback_id, outcome="late_payment",
                )  # fmt: skip
                return "late_payment", fee, True
            return "contradicting", None, False
        case PaymentStatus.failed | PaymentStatus.expired:
            if current == "PENDING":
                await close(connection, order, status.value, callback_id=callback_id, outcome="applied")
                return "applied", None, True
            return ("duplicate" if current == status.value else "contradicting"), None, False
        case PaymentStatus.pending:
            return "ignored", None, False


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


def payin_fee(
    calendar: BusinessCalendar, fees: asyncpg.Record | Mapping[str, Any], amount: int, paid_at: datetime
) -> int:
    """Our fee on a payment of `amount` made at `paid_at`, by the partner's pay-in rates `fees` (the columns
    `payin_weekday_percent`, ...): the weekend rate on a weekend-rate day of `calendar`. Always below the
    amount: the ledger needs a positive net."""
    if calendar.is_weekend_rate_at(paid_at):
        rate = FeeRate(fees["payin_weekend_percent"], fees["payin_weekend_flat"])
    else:
        rate = FeeRate(fees["payin_weekday_percent"], fees["payin_weekday_flat"])
    return min(rate.fee_for(amount), amount - 1)


def _paid_values(
    calendar: BusinessCalendar, order: asyncpg.Record, paid_at: datetime, *, expected: str, callback_id: int | None,
    outcome: str,
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """The fee, and the parameters of a statement that pays `order` (`_paying`) with its webhook and event."""
    fee = payin_fee(calendar, order, order["amount"], paid_at)
    now = utcnow()
    return fee, {
        "order_id": order["id"], "expected": expected, "paid_at": paid_at, "fee": fee, "now": now,
        "callback_id": callback_id, "outcome": outcome, **events.event_values(
            partner_id=order["partner_id"], webhook_event="payment.paid", object_id=order["id"], topic="payments.v1",
            key=str(order["id"]), outbox_event="payment.completed", data=payment_payload(order, "PAID", fee, paid_at),
            at=now,
        ),
    }  # fmt: skip


async def mark_paid(
    connection: Connection, pay_in: PayIn, order: asyncpg.Record, account: asyncpg.Record, paid_at: datetime,
    *, expected: str, callback_id: int | None, outcome: str, stored_now: dict[str, Any] | None = None,
) -> int | None:  # fmt: skip
    """`expected` -> PAID with the partner's webhook and the outbox event, and `outcome` on the stored
    callback `callback_id` (if any); the fee, for the ledger posting the caller makes last (`apply_status`),
    or None if the order was no longer `expected`. `stored_now`: a callback not stored yet, as
    `callback_log.store_values("callback_", ...)`, stored by the same statement; if it is a retry of one
    stored before, nothing moves (and None)."""
    fee, values = _paid_values(
        await pay_in.calendar.current(connection), order, paid_at, expected=expected, callback_id=callback_id,
        outcome=outcome,
    )  # fmt: skip
    statement, stored = (_MARK_PAID, {}) if stored_now is None else (_STORE_AND_MARK_PAID, stored_now)
    paid = await statement.fetchrow(connection, **values, **stored)
    if paid is None:
        return None
    if account["daily_cap"] is not None:
        await router.add_volume(connection, account["id"], to_jakarta(paid_at).date(), order["amount"])
    return fee


async def close(
    connection: Connection, order: asyncpg.Record | dict[str, Any], status: str, *, callback_id: int | None = None,
    outcome: str = "applied",
) -> bool:  # fmt: skip
    """PENDING -> FAILED or EXPIRED, with the partner's webhook and the outbox event (and `outcome` on the
    stored callback `callback_id`, if the change comes from one)."""
    now = utcnow()
    webhook_event = "payment.failed" if status == "FAILED" else "payment.expired"
    closed = await _MARK_CLOSED.fetchrow(
        connection, order_id=order["id"], status=status, now=now, callback_id=callback_id, outcome=outcome,
        **events.event_values(
            partner_id=order["partner_id"], webhook_event=webhook_event, object_id=order["id"], topic="payments.v1",
            key=str(order["id"]), outbox_event="payment.failed", data=payment_payload(order, status, None, None),
            at=now,
        ),
    )  # fmt: skip
    return closed is not None
