from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, select, text, update

from gerbang.kit.sql import Connection, Query
from gerbang.models import Order
from gerbang.routing.router import RECORD_HEALTH

_NEW_COLUMNS = (
    "id", "partner_id", "reference", "player_id", "amount", "method", "channel", "flow", "customer_name",
    "customer_email", "customer_phone", "return_url", "expires_at",
)  # fmt: skip
_COLUMNS = list(Order.__table__.columns)
_BY_REFERENCE = Query(
    select(Order.id).where(Order.partner_id == bindparam("partner_id"), Order.reference == bindparam("reference"))
)
_GET = Query(select(*_COLUMNS).where(Order.id == bindparam("id")))


# What the provider calls left, in one statement (atomic without a transaction around it): every attempt,
# the accounts' health if it changed, and the order's outcome. Two forms: the health write is left out when
# it would change nothing, the common case (one call, a success, on an account routing saw healthy).
def _attempts(order_id: str, source: str = "") -> str:
    """The data-modifying CTE `attempts` recording the calls for the order `order_id` (SQL), read `FROM` the
    rows of `source` (a CTE name and a comma) and the call arrays."""
    return f"""
    attempts AS (
        INSERT INTO provider_attempts (order_id, provider_account_id, outcome, error, duration_ms)
        SELECT {order_id}, attempt.*
        FROM {source}unnest(CAST(:attempt_ids AS uuid[]), CAST(:outcomes AS text[]), CAST(:errors AS text[]),
                    CAST(:durations AS integer[])) AS attempt(account_id, outcome, error, duration_ms)
    )
    """


_ATTEMPTS = _attempts("CAST(:id AS uuid)")
_RECORD_CALLS = {False: f"WITH {_ATTEMPTS}", True: f"WITH {_ATTEMPTS}, health AS ({RECORD_HEALTH})"}
_ORDER_COLUMNS = ", ".join(f"orders.{column.name}" for column in _COLUMNS)
_CHARGE_COLUMNS = ("provider", "provider_account_id", "provider_reference", "qr_payload", "va_number", "redirect_url")


def _inserting(columns: tuple[str, ...], *also: str) -> Query:
    """The new order (its `columns` and `metadata`, all parameters of those names) and its `payment.created`
    outbox event in one statement, with the data-modifying CTEs `also` after them: the event exists exactly if
    the order does, and nothing is written for a reference the partner already used."""
    return Query(
        text(
            f"""
            WITH created AS (
                INSERT INTO orders ({", ".join(columns)}, metadata)
                VALUES ({", ".join(f":{name}" for name in columns)}, :metadata)
                ON CONFLICT (partner_id, reference) DO NOTHING
                RETURNING {_ORDER_COLUMNS}
            ), created_event AS (
                INSERT INTO outbox_events (event_id, topic, key, event, data, occurred_at)
                SELECT CAST(:event_id AS uuid), 'payments.v1', CAST(:event_key AS text), 'payment.created',
                       CAST(:event_data AS jsonb), CAST(:event_at AS timestamptz)
                FROM created
            ){"".join(f", {cte}" for cte in also)}
            SELECT * FROM created
            """
        )
    )


_INSERT = _inserting(_NEW_COLUMNS)
# An order created with its method is charged before it is written: the order, its charge, its
# `payment.created` event, every attempt and the accounts' health in one statement, so the order is one row
# version, not an insert and then an update of every index. With a conflicting reference nothing of the
# order is written (the attempts need the order); the health is, as the calls were made.
_INSERT_CHARGED = {
    health: _inserting(
        (*_NEW_COLUMNS, *_CHARGE_COLUMNS),
        _attempts("created.id", "created, "),
        *([f"health AS ({RECORD_HEALTH})"] if health else []),
    )
    for health in (False, True)
}
# Compare-and-set: the charge is attached once, to a pending order that has none.
_ATTACH_CHARGE = {
    health: Query(
        text(
            f"""{calls}
            UPDATE orders SET provider = :provider, provider_account_id = :account_id,
                provider_reference = :provider_reference, qr_payload = :qr_payload, va_number = :va_number,
                redirect_url = :redirect_url, method = :method, channel = :channel, updated_at = :now
            WHERE orders.id = :id AND orders.status = 'PENDING' AND orders.provider_account_id IS NULL
            RETURNING {_ORDER_COLUMNS}
            """
        )
    )
    for health, calls in _RECORD_CALLS.items()
}
# An order with a charge attached is the provider's to decide: a second pick failing must not close it.
_FAIL = {
    health: Query(
        text(
            f"""{calls}
            UPDATE orders SET status = 'FAILED', updated_at = :now
            WHERE orders.id = :id AND orders.status = 'PENDING' AND orders.provider_account_id IS NULL
            RETURNING orders.*
            """
        )
    )
    for health, calls in _RECORD_CALLS.items()
}


@dataclass(frozen=True)
class Call:
    """One call to a provider account to create an order's charge."""

    account: asyncpg.Record
    """The account as routing read it (its health then)."""
    outcome: str
    """`ok`, `unavailable`, `invalid` (both count against the account's health) or `rejected` (does not)."""
    error: str | None
    duration_ms: int

    @property
    def changes_health(self) -> bool:
        if self.outcome == "rejected":
            return False  # a refusal of the request says nothing of the account
        # A success on an account routing saw healthy changes nothing. (A failure recorded by another request
        # since then is left standing: that call ended after this one started.)
        account = self.account
        return self.outcome != "ok" or account["consecutive_failures"] > 0 or account["circuit_opened_at"] is not None


def _calls(calls: Sequence[Call]) -> tuple[bool, dict[str, list[Any]]]:
    """Whether any call changes an account's health, and the statement's parameters for the calls."""
    values = {
        "attempt_ids": [call.account["id"] for call in calls], "outcomes": [call.outcome for call in calls],
        "errors": [call.error for call in calls], "durations": [call.duration_ms for call in calls],
    }  # fmt: skip
    judged = [call for call in calls if call.changes_health]
    if judged:
        values["health_ids"] = [call.account["id"] for call in judged]
        values["health_ok"] = [call.outcome == "ok" for call in judged]
    return bool(judged), values


async def insert_order(connection: Connection, **values: Any) -> asyncpg.Record | None:
    """The new order, with its `payment.created` event (`event_id`, `event_data`, `event_at`); None if the
    partner already has an order with this reference."""
    return await _INSERT.fetchrow(connection, event_key=str(values["id"]), **values)


async def insert_charged_order(
    connection: Connection, calls: Sequence[Call], now: datetime, **values: Any
) -> asyncpg.Record | None:
    """The new order with the charge the last of `calls` created (`provider`, `provider_account_id`,
    `provider_reference`, ...), its `payment.created` event and the calls; None if the partner already has an
    order with this reference (only the accounts' health is written then)."""
    health, calls_values = _calls(calls)
    return await _INSERT_CHARGED[health].fetchrow(
        connection, now=now, event_key=str(values["id"]), **calls_values, **values
    )


async def order_id_by_reference(connection: Connection, partner_id: uuid.UUID, reference: str) -> uuid.UUID | None:
    value: uuid.UUID | None = await _BY_REFERENCE.fetchval(connection, partner_id=partner_id, reference=reference)
    return value


async def get_order(connection: Connection, order_id: uuid.UUID) -> asyncpg.Record | None:
    return await _GET.fetchrow(connection, id=order_id)


async def attach_charge(
    connection: Connection, order_id: uuid.UUID, calls: Sequence[Call], now: datetime, **charge: Any
) -> asyncpg.Record | None:
    """Records the calls and attaches the charge the last one created; the order as it is then, or None if
    it was no longer pending without a charge (the calls are recorded all the same)."""
    health, values = _calls(calls)
    return await _ATTACH_CHARGE[health].fetchrow(connection, id=order_id, now=now, **values, **charge)


async def fail_order(
    connection: Connection, order_id: uuid.UUID, calls: Sequence[Call], now: datetime
) -> asyncpg.Record | None:
    """Records the calls, none of which created a charge, and fails the order; the order if it failed it."""
    health, values = _calls(calls)
    return await _FAIL[health].fetchrow(connection, id=order_id, now=now, **values)


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
