"""Every inbound provider callback, stored as received with what we made of it (`provider_callbacks`).

Only a verified callback claims its (provider, event id): a forged copy of a real notification is kept
beside it and cannot block it, and a provider's retry of a verified one is recognised as a retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, ColumnElement, Insert, bindparam, exists, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.events import service as events
from gerbang.kit.sql import Connection, Query, refuse_unless_returned
from gerbang.models import ProviderCallback

BODY_KEPT = 65536

_FIELDS = ("provider", "event_id", "order_id", "withdrawal_id", "verified", "outcome", "status", "amount", "body")


def store_statement(prefix: str = "", gate: CTE | None = None) -> Insert:
    """The INSERT `store` runs, its parameters named `prefix` + field (for a CTE in a caller's statement, where
    names like `status` or `body` are taken); it returns the row's id, or nothing for a verified retry. With
    `gate`, a CTE of that statement, it stores only if `gate` returned a row."""
    stored = pg_insert(ProviderCallback)
    if gate is None:
        stored = stored.values({field: bindparam(prefix + field) for field in _FIELDS})
    else:
        columns = ProviderCallback.__table__.c
        chosen = select(*(bindparam(prefix + field, type_=columns[field].type) for field in _FIELDS))
        stored = stored.from_select(_FIELDS, chosen.where(exists(select(gate))))
    return stored.on_conflict_do_nothing(
        index_elements=["provider", "event_id"], index_where=text("verified")
    ).returning(ProviderCallback.id)


def applied_by_move(moved: CTE, then: Sequence[CTE], made: ColumnElement[bool]) -> Query:
    """One statement for a verified callback whose outcome is known before anything is written ("applied"), on
    a row read without a lock: the compare-and-set `moved` (a data-modifying CTE returning the row's `id`),
    then, only if it moved, the callback (`store_values("callback_", ...)`), the partner's webhook and the
    outbox event (`service.event_values(...)`) and the CTEs `then` (a ledger posting); it returns the id, or
    no row if the row was no longer as expected (and nothing is written). It refuses (`Refused`) unless the
    callback was stored (a retry of a notification stored before must move nothing) and `made` holds.

    The moved row is locked first, then the notification id, then whatever `then` locks: the order a careful
    path takes with the row read `FOR UPDATE`, so the two never deadlock."""
    stored = store_statement("callback_", gate=moved).cte("stored")
    return Query(
        select(moved.c.id)
        .where(refuse_unless_returned(stored.name, "callback retry"), made)
        .add_cte(moved, stored, *events.webhook_and_outbox_ctes(moved), *then)
    )


def store_values(
    prefix: str = "", *, provider: str, body: bytes, verified: bool, outcome: str, event_id: str | None = None,
    order_id: uuid.UUID | None = None, withdrawal_id: uuid.UUID | None = None, status: str | None = None,
    amount: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The parameters of `store_statement(prefix)` for this callback."""
    values = {
        "provider": provider, "event_id": event_id[:200] if event_id else None, "order_id": order_id,
        "withdrawal_id": withdrawal_id, "verified": verified, "outcome": outcome, "status": status, "amount": amount,
        "body": body[:BODY_KEPT].decode("utf-8", errors="replace"),
    }  # fmt: skip
    return {prefix + field: value for field, value in values.items()}


_STORE = Query(store_statement())
_SET_OUTCOME = Query(
    update(ProviderCallback).where(ProviderCallback.id == bindparam("id")).values(outcome=bindparam("outcome"))
)


async def store(
    connection: Connection, *, provider: str, body: bytes, verified: bool, outcome: str, event_id: str | None = None,
    order_id: uuid.UUID | None = None, withdrawal_id: uuid.UUID | None = None, status: str | None = None,
    amount: int | None = None,
) -> int | None:  # fmt: skip
    """The stored row's id; None when a verified callback with this event id was stored before (a retry)."""
    row_id: int | None = await _STORE.fetchval(
        connection, **store_values(
            provider=provider, body=body, verified=verified, outcome=outcome, event_id=event_id, order_id=order_id,
            withdrawal_id=withdrawal_id, status=status, amount=amount,
        ),
    )  # fmt: skip
    return row_id


async def set_outcome(connection: Connection, callback_id: int, outcome: str) -> None:
    await _SET_OUTCOME.execute(connection, id=callback_id, outcome=outcome)
