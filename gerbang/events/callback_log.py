"""Every inbound provider callback, stored as received with what we made of it (`provider_callbacks`).

Only a verified callback claims its (provider, event id): a forged copy of a real notification is kept
beside it and cannot block it, and a provider's retry of a verified one is recognised as a retry.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import ProviderCallback

BODY_KEPT = 65536

_STORE = Query(
    pg_insert(ProviderCallback)
    .values(
        provider=bindparam("provider"), event_id=bindparam("event_id"), order_id=bindparam("order_id"),
        withdrawal_id=bindparam("withdrawal_id"), verified=bindparam("verified"), outcome=bindparam("outcome"),
        status=bindparam("status"), amount=bindparam("amount"), body=bindparam("body"),
    )
    .on_conflict_do_nothing(index_elements=["provider", "event_id"], index_where=text("verified"))
    .returning(ProviderCallback.id)
)  # fmt: skip
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
        connection, provider=provider, event_id=event_id[:200] if event_id else None, order_id=order_id,
        withdrawal_id=withdrawal_id, verified=verified, outcome=outcome, status=status, amount=amount,
        body=body[:BODY_KEPT].decode("utf-8", errors="replace"),
    )  # fmt: skip
    return row_id


async def set_outcome(connection: Connection, callback_id: int, outcome: str) -> None:
    await _SET_OUTCOME.execute(connection, id=callback_id, outcome=outcome)
