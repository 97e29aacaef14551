"""Creating orders: validate, route, charge, record. The provider call happens between two database
visits, never inside a transaction: a slow provider must not hold a database connection.

An order created with its method (`POST /payments`) is charged first and written once, with its charge,
attempts and `payment.created` event, in one statement: the order is one row version rather than an insert
and an update of every index. A crash between the charge and the insert leaves a charge at the provider that
no customer has seen (the QR or VA number is only in our answer), which expires unpaid there. An order
created without a method (`/payments/create-order`) is written first and charged when the customer picks,
by `choose_method`.

Each visit is single statements on a connection outside any transaction, each committing on its own:
before the call the reads (partner, candidates) need no snapshot in common (each statement of a READ
COMMITTED transaction sees the latest commits anyway). Nothing is read back that was just written.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

import aiohttp
import asyncpg

from gerbang.calendar.service import CalendarCache
from gerbang.db import Database, RowCache
from gerbang.events import service as events
from gerbang.exceptions import Conflict, GerbangError, NotFound, UnprocessableEntity
from gerbang.kit.crypto import KeyRing
from gerbang.kit.log import get_logger
from gerbang.kit.money import FeeRate
from gerbang.kit.sql import Connection
from gerbang.kit.time import to_jakarta, utcnow
from gerbang.order import repository
from gerbang.order.payloads import payment_payload
from gerbang.order.schemas import OrderView, PaymentCreate
from gerbang.partner import service as partner_service
from gerbang.partner.schemas import Partner
from gerbang.provider.base import (
    Charge,
    ChargeRequest,
    Customer,
    PaymentMethod,
    ProviderError,
    ProviderRejected,
    ProviderResponseInvalid,
    ProviderUnavailable,
)
from gerbang.provider.registry import PROVIDERS, provider
from gerbang.routing import router
from gerbang.routing.accounts import adapter_account

log = get_logger("gerbang.orders")

_CHANNELS = {PaymentMethod.va, PaymentMethod.ewallet}


class DuplicateReference(Conflict):
    code = "duplicate_reference"


class MethodNotAllowed(UnprocessableEntity):
    code = "method_not_allowed"


class ChannelRequired(UnprocessableEntity):
    code = "channel_required"


class AmountBelowFee(UnprocessableEntity):
    code = "amount_below_fee"


class NoProviderAvailable(UnprocessableEntity):
    code = "no_provider_available"


class ProvidersFailed(GerbangError):
    status_code = 502
    code = "provider_error"


class OrderNotFound(NotFound):
    code = "order_not_found"


class OrderNotPending(Conflict):
    code = "order_not_pending"


@dataclass(frozen=True)
class PayIn:
    """What creating an order needs from the running app."""

    database: Database
    key_ring: KeyRing
    session: aiohttp.ClientSession
    calendar: CalendarCache
    """The weekend fee rate and provider schedule: weekends, holidays and the admin days off."""
    public_url: str
    partners: RowCache[uuid.UUID, Partner] | None = None
    """Partners kept between orders while nothing changed them; None: read each time."""
    provider_accounts: router.EnabledAccounts | None = None
    """The enabled provider accounts kept between orders while none changed; None: read each time."""


def checkout_url(public_url: str, order_id: uuid.UUID) -> str:
    return f"{public_url}/pay/{order_id}"


async def create_order(pay_in: PayIn, partner_id: uuid.UUID, body: PaymentCreate, *, with_method: bool) -> OrderView:
    now = utcnow()
    order_id = uuid.uuid4()
    method = body.method if with_method else None
    if method in _CHANNELS and not body.channel:
        raise ChannelRequired(f"method {method} needs a channel (bank or wallet code)")
    async with pay_in.database.connection() as connection:
        partner = await partner_service.get_partner(connection, partner_id, cache=pay_in.partners)
        if method is not None:
            _check_allowed(partner, method)
        fees = partner.fees
        highest_fee = max(
            FeeRate(fees.payin_weekday_percent, fees.payin_weekday_flat).fee_for(body.amount),
            FeeRate(fees.payin_weekend_percent, fees.payin_weekend_flat).fee_for(body.amount),
        )
        if highest_fee >= body.amount:
            raise AmountBelowFee(f"the amount must exceed the fee ({highest_fee})")
        accounts = []
        if method is not None:
            accounts = await _candidates(connection, pay_in, partner, method, body.amount, now)
    reference = body.reference or str(order_id)
    created = {"id": order_id, "reference": reference, "amount": body.amount, "qr_payload": None}
    expires_at = now + timedelta(minutes=body.expires_in_minutes)
    new_order: dict[str, Any] = {
        "id": order_id, "partner_id": partner_id, "reference": reference, "player_id": body.player_id,
        "amount": body.amount, "method": method.value if method else None, "channel": body.channel,
        "flow": body.flow, "customer_name": body.customer_name, "customer_email": body.customer_email,
        "customer_phone": body.customer_phone, "return_url": body.return_url, "expires_at": expires_at,
        "metadata": body.metadata, "event_id": uuid.uuid4(),
        "event_data": payment_payload(created, "PENDING", None, None), "event_at": now,
    }  # fmt: skip
    if method is None:  # the customer picks the method on the checkout, and `choose_method` charges it
        async with pay_in.database.connection() as connection:
            order = await repository.insert_order(connection, **new_order)
            if order is None:
                await _duplicate_reference(connection, partner_id, reference)
        return order_view(order)
    request = ChargeRequest(
        order_id=order_id, amount=body.amount, method=method, channel=body.channel, expires_at=expires_at,
        callback_url="", return_url=body.return_url,
        customer=Customer(body.customer_name, body.customer_email, body.customer_phone),
    )  # fmt: skip
    attempt = await _call_providers(pay_in, request, accounts)
    if attempt.charge is None or attempt.winner is None:
        async with pay_in.database.transaction() as connection:  # the order, its failure and its events, together
            if await repository.insert_order(connection, **new_order) is None:
                await _duplicate_reference(connection, partner_id, reference)
            await _fail(connection, order_id, attempt.calls)
        _health_written(pay_in, attempt.calls)
        raise _providers_failed(order_id, attempt.calls)
    charge, winner = attempt.charge, attempt.winner
    async with pay_in.database.connection() as connection:
        order = await repository.insert_charged_order(
            connection, attempt.calls, utcnow(), **new_order, provider=winner["provider"],
            provider_account_id=winner["id"], provider_reference=charge.provider_reference,
            qr_payload=charge.qr_payload, va_number=charge.va_number, redirect_url=charge.redirect_url,
        )  # fmt: skip
        _health_written(pay_in, attempt.calls)
        if order is None:
            # Another order has this reference: the charge just made is never shown to anyone and expires
            # unpaid at the provider (cheaper than asking for the reference before every charge).
            await _duplicate_reference(connection, partner_id, reference)
    return order_view(order)


async def _duplicate_reference(connection: Connection, partner_id: uuid.UUID, reference: str) -> NoReturn:
    existing = await repository.order_id_by_reference(connection, partner_id, reference)
    raise DuplicateReference(f"reference {reference!r} is already order {existing}")


def _check_allowed(partner: Partner, method: PaymentMethod) -> None:
    if partner.payment_methods and method.value.upper() not in partner.payment_methods:
        raise MethodNotAllowed(f"this account may use {', '.join(partner.payment_methods).lower()}")


async def _candidates(
    connection: Connection, pay_in: PayIn, partner: Partner, method: PaymentMethod, amount: int, now: datetime
) -> list[asyncpg.Record]:
    """The provider accounts that may take the order now, in the order to try them; never empty."""
    calendar = await pay_in.calendar.current(connection)
    accounts = await router.candidates(
        connection, method=method.value, amount=amount, providers=partner.provider_preferences or sorted(PROVIDERS),
        preferences=partner.provider_preferences, weekend=calendar.is_weekend_rate_at(now),
        day=to_jakarta(now).date(), now=now, enabled=pay_in.provider_accounts,
    )  # fmt: skip
    if not accounts:
        raise NoProviderAvailable("no provider account can take this order now")
    return accounts


async def choose_method(pay_in: PayIn, order_id: uuid.UUID, method: PaymentMethod, channel: str | None) -> OrderView:
    """The customer's pick on the hosted checkout for an order created without a method: routed exactly as
    `create_order` routes, then charged. Until a charge is attached the order keeps no method, so a pick
    that no provider can take leaves it open for another pick (the claim of the method rolls back with the
    refusal), while two picks sent at once charge once: the second finds the method claimed."""
    now = utcnow()
    if method in _CHANNELS and not channel:
        raise ChannelRequired(f"method {method} needs a channel (bank or wallet code)")
    async with pay_in.database.transaction() as connection:
        order = await repository.get_order(connection, order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        if order["status"] != "PENDING" or order["method"] is not None or order["expires_at"] <= now:
            raise OrderNotPending(f"order {order_id} is {order['status']} and takes no new method")
        partner = await partner_service.get_partner(connection, order["partner_id"], cache=pay_in.partners)
        _check_allowed(partner, method)
        accounts = await _candidates(connection, pay_in, partner, method, order["amount"], now)
        if not await repository.claim_method(connection, order_id, method.value, channel, now):
            raise OrderNotPending(f"order {order_id} already has a method")
    return order_view(await charge_order(pay_in, order, accounts, method, channel))


@dataclass(frozen=True)
class _Attempt:
    calls: list[repository.Call]
    charge: Charge | None
    """What the account `winner` created; None if no candidate did."""
    winner: asyncpg.Record | None


async def _call_providers(pay_in: PayIn, request: ChargeRequest, accounts: list[asyncpg.Record]) -> _Attempt:
    """Ask the candidates in turn until one creates the charge."""
    calls: list[repository.Call] = []
    for account in accounts:
        if account["circuit_opened_at"] is not None:
            async with pay_in.database.connection() as connection:
                if not await router.claim_trial(connection, account, utcnow()):
                    continue  # another request is making the trial call
            _accounts_changed(pay_in)
        adapter = provider(account["provider"])
        callback_url = f"{pay_in.public_url}/api/v1/transaction/callback/{account['provider']}"
        started = time.perf_counter()
        try:
            charge = await adapter.create_payment(
                pay_in.session, adapter_account(account, pay_in.key_ring), _with_callback(request, callback_url)
            )
        except ProviderError as error:
            calls.append(repository.Call(account, _kind(error), str(error)[:500], _ms(started)))
            if isinstance(error, ProviderRejected):
                break  # the request itself was refused: another provider is not asked blindly
            continue
        calls.append(repository.Call(account, "ok", None, _ms(started)))
        return _Attempt(calls, charge, account)
    return _Attempt(calls, None, None)


def _accounts_changed(pay_in: PayIn) -> None:
    """This process just wrote a provider account (its health, or a circuit's trial): its copy of the
    enabled accounts is stale now, not only when the notification comes back."""
    if pay_in.provider_accounts is not None:
        pay_in.provider_accounts.changed()


def _health_written(pay_in: PayIn, calls: list[repository.Call]) -> None:
    if any(call.changes_health for call in calls):
        _accounts_changed(pay_in)


async def _fail(connection: Connection, order_id: uuid.UUID, calls: list[repository.Call]) -> None:
    """No candidate created the charge: the calls recorded, the order FAILED with its events."""
    now = utcnow()
    failed = await repository.fail_order(connection, order_id, calls, now)
    if failed is not None:
        await events.webhook_and_outbox(
            connection, partner_id=failed["partner_id"], webhook_event="payment.failed", object_id=order_id,
            topic="payments.v1", key=str(order_id), outbox_event="payment.failed",
            data=payment_payload(failed, "FAILED", None, None), at=now,
        )  # fmt: skip


def _providers_failed(order_id: uuid.UUID, calls: list[repository.Call]) -> ProvidersFailed:
    return ProvidersFailed(f"no provider could create the charge ({len(calls)} tried); order {order_id} failed")


async def charge_order(
    pay_in: PayIn, order: asyncpg.Record, accounts: list[asyncpg.Record], method: PaymentMethod, channel: str | None
) -> asyncpg.Record:
    """Charge an order that exists already (its method picked on the checkout): ask the candidates in turn
    until one creates the charge; record every attempt and its health. Returns the order as it is afterwards."""
    order_id: uuid.UUID = order["id"]
    request = ChargeRequest(
        order_id=order_id, amount=order["amount"], method=method, channel=channel, expires_at=order["expires_at"],
        callback_url="", return_url=order["return_url"],
        customer=Customer(order["customer_name"], order["customer_email"], order["customer_phone"]),
    )  # fmt: skip
    attempt = await _call_providers(pay_in, request, accounts)
    if attempt.charge is None or attempt.winner is None:
        async with pay_in.database.transaction() as connection:  # the failure and its events, together
            await _fail(connection, order_id, attempt.calls)
        _health_written(pay_in, attempt.calls)
        raise _providers_failed(order_id, attempt.calls)
    charge, winner = attempt.charge, attempt.winner
    async with pay_in.database.connection() as connection:
        attached = await repository.attach_charge(
            connection, order_id, attempt.calls, utcnow(), provider=winner["provider"], account_id=winner["id"],
            provider_reference=charge.provider_reference, qr_payload=charge.qr_payload, va_number=charge.va_number,
            redirect_url=charge.redirect_url, method=method.value, channel=channel,
        )  # fmt: skip
        _health_written(pay_in, attempt.calls)
        if attached is not None:
            return attached
        # Expired while the provider answered: its charge is orphaned, and a payment on it will arrive as a
        # callback for an order without a provider account, which is kept and flagged.
        log.warning("order.charge_not_attached", order_id=str(order_id), provider=winner["provider"])
        current = await repository.get_order(connection, order_id)
    assert current is not None  # noqa: S101 (orders are never deleted)
    return current


def _with_callback(request: ChargeRequest, callback_url: str) -> ChargeRequest:
    return replace(request, callback_url=callback_url)


def _kind(error: ProviderError) -> str:
    if isinstance(error, ProviderResponseInvalid):
        return "invalid"
    if isinstance(error, ProviderUnavailable):
        return "unavailable"
    return "rejected"


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def order_view(row: asyncpg.Record) -> OrderView:
    values = dict(row)
    values["metadata"] = values.pop("metadata", None)
    return OrderView.model_validate(values)


async def get_order(database: Database, order_id: uuid.UUID) -> OrderView:
    async with database.connection() as connection:
        row = await repository.get_order(connection, order_id)
    if row is None:
        raise OrderNotFound(f"no order {order_id}")
    return order_view(row)


async def get_visible_order(connection: Connection, order_id: uuid.UUID, partner_id: uuid.UUID) -> OrderView:
    """The order, if it belongs to `partner_id` or a partner below it; otherwise not found (never forbidden,
    so another partner's order ids reveal nothing)."""
    row = await repository.get_order(connection, order_id)
    if row is None or row["partner_id"] not in await partner_service.visible_partner_ids(connection, partner_id):
        raise OrderNotFound(f"no order {order_id}")
    return order_view(row)
