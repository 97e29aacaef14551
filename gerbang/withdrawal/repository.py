from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Update, any_, bindparam, exists, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.events import callback_log
from gerbang.events import service as events
from gerbang.kit.sql import Connection, Query
from gerbang.ledger.repository import gated_posting
from gerbang.models import Partner, Withdrawal

_NEW = (
    "id", "partner_id", "reference", "source", "amount", "fee", "net", "bank_code", "account_number",
    "account_holder", "supplied_holder_name", "holder_name_mismatch", "note", "provider_account_id", "requested_by",
    "retry_of", "next_check_at", "created_at", "updated_at",
)  # fmt: skip
# A new withdrawal is sent to the provider right after its transaction commits: that send is counted here,
# not by a statement of its own (a crash before it counts one send too many; the recovery job's count).
_FIRST_SEND = {"submit_attempts": 1}
# A partner's withdrawal and its `withdraw.requested` outbox event in one statement: the event exists exactly
# if the withdrawal does, and nothing is written for a reference the partner already used.
_CREATED = (
    pg_insert(Withdrawal)
    .values({name: bindparam(name) for name in _NEW} | _FIRST_SEND)
    .on_conflict_do_nothing(index_elements=["partner_id", "reference"])
    .returning(*Withdrawal.__table__.columns)
    .cte("created")
)
_INSERT = events.gated_outbox(_CREATED)
# The same, with the hold posted by the same statement (one round trip, no transaction to open and commit):
# if the hold cannot be posted now (funds short, the partner's first withdrawal), the statement refuses and
# nothing of it stays.
_HOLD = gated_posting(_CREATED, "withdrawal hold")
_INSERT_HELD = Query(select(_CREATED).where(_HOLD.made).add_cte(_CREATED, events.outbox_cte(_CREATED), *_HOLD.ctes))
# The platform's payouts have no partner: their references are unique among themselves (a partial index).
_INSERT_PLATFORM = Query(
    pg_insert(Withdrawal)
    .values({name: bindparam(name) for name in _NEW} | _FIRST_SEND)
    .on_conflict_do_nothing(index_elements=["reference"], index_where=Withdrawal.partner_id.is_(None))
    .returning(*Withdrawal.__table__.columns)
)
_BY_PLATFORM_REFERENCE = Query(
    select(Withdrawal.id).where(Withdrawal.partner_id.is_(None), Withdrawal.reference == bindparam("reference"))
)
# What open platform payouts will take when they complete: from the platform's fees and, per account, from
# the provider balance. Read under the platform-payout lock, so two requests cannot both count on the same money.
_OPEN_PLATFORM = Query(
    text("""
    SELECT coalesce(sum(amount), 0) AS everywhere,
           coalesce(sum(amount) FILTER (WHERE provider_account_id = :account_id), 0) AS on_account
    FROM withdrawals WHERE partner_id IS NULL AND status IN ('PENDING', 'PROCESSING')
    """)
)
_LOCK_PLATFORM_PAYOUTS = Query(text("SELECT pg_advisory_xact_lock(hashtext('gerbang.platform_payouts'))"))
_BY_REFERENCE = Query(
    select(Withdrawal.id).where(
        Withdrawal.partner_id == bindparam("partner_id"), Withdrawal.reference == bindparam("reference")
    )
)
_GET = Query(select(*Withdrawal.__table__.columns).where(Withdrawal.id == bindparam("id")))
# The withdrawal, locked, with the provider account that pays it (a row value): what a callback is verified
# against, in one round trip.
_WITH_ACCOUNT = (
    f"SELECT {', '.join(f'w.{column.name}' for column in Withdrawal.__table__.columns)}, a AS account "
    "FROM withdrawals w JOIN provider_accounts a ON a.id = w.provider_account_id WHERE w.id = :id"
)
_READ_WITH_ACCOUNT = Query(text(_WITH_ACCOUNT))
_LOCK_WITH_ACCOUNT = Query(text(f"{_WITH_ACCOUNT} FOR UPDATE OF w"))
_GET_FOR_UPDATE = Query(select(*Withdrawal.__table__.columns).where(Withdrawal.id == bindparam("id")).with_for_update())
# The payout account: the first enabled account of a payout provider by priority, then age. One definition for
# the account check and the request's terms.
_PAYOUT_ACCOUNT_CHOICE = """
    FROM provider_accounts a WHERE a.enabled AND a.provider = ANY(CAST(:providers AS text[]))
    ORDER BY a.priority, a.created_at LIMIT 1
"""
_PAYOUT_ACCOUNT = Query(text(f"SELECT a.* {_PAYOUT_ACCOUNT_CHOICE}"))


def _moving(*conditions: ColumnElement[bool]) -> Update:
    """Compare-and-set: a withdrawal leaves `expected` once (and only if `conditions` hold), whoever tries
    first; the others find it gone."""
    return (
        update(Withdrawal)
        .where(Withdrawal.id == bindparam("withdrawal_id"), Withdrawal.status == bindparam("expected"), *conditions)
        .values(
            status=bindparam("status"), provider_reference=bindparam("provider_reference"),
            failure_reason=bindparam("failure_reason"), completed_at=bindparam("completed_at"),
            failed_at=bindparam("failed_at"), next_check_at=bindparam("next_check_at"), claimed_until=None,
            updated_at=bindparam("now"),
        )
        .returning(*Withdrawal.__table__.columns)
    )  # fmt: skip


_MOVE = Query(_moving())
# A partner's withdrawal reaching a final state writes the partner's webhook and the outbox event in the same
# statement, and only if it moved.
_MOVE_ANNOUNCED = events.gated_webhook_and_outbox(_moving().cte("moved"))
# The common callback, decided before anything is written (the withdrawal is locked and open): the callback
# stored with its outcome, and only if it is not a retry, the move with its events.
_STORED = callback_log.store_statement("callback_").cte("stored")
_STORE_AND_MOVE_ANNOUNCED = events.gated_webhook_and_outbox(_moving(exists(select(_STORED))).cte("moved"))
# A partner's open withdrawal completed or failed, with its events, the callback and the posting (the
# completion or the release), for a row read without a lock (`settle_at_once`): nothing moves if it is no
# longer as read; refused if the posting cannot be made now.
_SETTLED_NOW = _moving().cte("moved")
_SETTLEMENT = gated_posting(_SETTLED_NOW, "withdrawal settlement")
_SETTLE_AT_ONCE = callback_log.applied_by_move(_SETTLED_NOW, _SETTLEMENT.ctes, _SETTLEMENT.made)
_RESCHEDULE = Query(
    update(Withdrawal)
    .where(Withdrawal.id == bindparam("id"))
    .values(next_check_at=bindparam("next_check_at"), claimed_until=None, updated_at=bindparam("now"))
)
_COUNT_SUBMIT = Query(
    update(Withdrawal).where(Withdrawal.id == bindparam("id")).values(submit_attempts=Withdrawal.submit_attempts + 1)
)
_CLAIM_DUE = Query(
    text("""
    WITH due AS (
        SELECT id FROM withdrawals
        WHERE status IN ('PENDING', 'PROCESSING') AND next_check_at <= :now
          AND (claimed_until IS NULL OR claimed_until < :now)
        ORDER BY next_check_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE withdrawals w SET claimed_until = :lease_until FROM due WHERE w.id = due.id
    RETURNING w.id, w.status
    """)
)


async def insert(connection: Connection, event: dict[str, Any], **values: Any) -> asyncpg.Record | None:
    """The new withdrawal with its outbox event (`event`: `events.outbox_values(...)`); None if the partner
    already has a withdrawal with this reference (and nothing is written)."""
    return await _INSERT.fetchrow(connection, **event, **values)


async def insert_held(
    connection: Connection, event: dict[str, Any], hold: dict[str, Any], **values: Any
) -> asyncpg.Record | None:
    """`insert` and the hold (`ledger.gated_values(plan_withdrawal_hold(...))`) in one statement, outside a
    transaction; raises `Refused` if the hold cannot be posted now (and nothing is written)."""
    return await _INSERT_HELD.attempt(connection, **event, **hold, **values)


async def insert_platform(connection: Connection, **values: Any) -> asyncpg.Record | None:
    """None if a platform payout already has this reference."""
    return await _INSERT_PLATFORM.fetchrow(connection, partner_id=None, **values)


async def platform_id_by_reference(connection: Connection, reference: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await _BY_PLATFORM_REFERENCE.fetchval(connection, reference=reference)
    return found


async def lock_platform_payouts(connection: Connection) -> None:
    """Until the transaction ends: one platform payout request at a time decides against the balances."""
    await _LOCK_PLATFORM_PAYOUTS.execute(connection)


async def open_platform_payouts(connection: Connection, provider_account_id: uuid.UUID) -> tuple[int, int]:
    """Open platform payouts' amounts: (all of them, those on this provider account)."""
    row = await _OPEN_PLATFORM.fetchrow(connection, account_id=provider_account_id)
    assert row is not None  # noqa: S101 (an aggregate always returns a row)
    return int(row["everywhere"]), int(row["on_account"])


async def id_by_reference(connection: Connection, partner_id: uuid.UUID, reference: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await _BY_REFERENCE.fetchval(connection, partner_id=partner_id, reference=reference)
    return found


async def get(connection: Connection, withdrawal_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await (_GET_FOR_UPDATE if for_update else _GET).fetchrow(connection, id=withdrawal_id)


async def lock_with_account(connection: Connection, withdrawal_id: uuid.UUID) -> asyncpg.Record | None:
    """The withdrawal `FOR UPDATE` with `account`, its provider account's row."""
    return await _LOCK_WITH_ACCOUNT.fetchrow(connection, id=withdrawal_id)


async def read_with_account(connection: Connection, withdrawal_id: uuid.UUID) -> asyncpg.Record | None:
    """`lock_with_account` without the lock."""
    return await _READ_WITH_ACCOUNT.fetchrow(connection, id=withdrawal_id)


async def payout_account(connection: Connection, providers: Sequence[str]) -> asyncpg.Record | None:
    return await _PAYOUT_ACCOUNT.fetchrow(connection, providers=list(providers))


def moved_fields(
    status: str, now: datetime, provider_reference: str | None, failure_reason: str | None = None
) -> dict[str, Any]:
    """The columns a move to `status` sets, as the withdrawal has them afterwards (for its events' payload);
    with PENDING, a new withdrawal's."""
    return {
        "status": status, "provider_reference": provider_reference, "failure_reason": failure_reason,
        "completed_at": now if status == "COMPLETED" else None, "failed_at": now if status == "FAILED" else None,
    }  # fmt: skip


async def move(
    connection: Connection, withdrawal_id: uuid.UUID, *, expected: str, status: str, now: datetime,
    next_check_at: datetime, provider_reference: str | None = None, failure_reason: str | None = None,
    announced: dict[str, Any] | None = None, stored_now: dict[str, Any] | None = None,
) -> asyncpg.Record | None:  # fmt: skip
    """The withdrawal after moving from `expected` to `status`; None if it was no longer `expected`.
    `announced`: the partner's webhook and outbox event (`events.event_values(...)`), written only with the
    move. `stored_now` (with `announced`): a callback to store in the same statement
    (`callback_log.store_values("callback_", ...)`); if it is a retry of one stored before, nothing moves."""
    values = _move_values(withdrawal_id, expected, status, now, next_check_at, provider_reference, failure_reason)
    if announced is None:
        if stored_now is not None:
            raise ValueError("a callback is stored with the move only together with its events")
        return await _MOVE.fetchrow(connection, **values)
    statement = _MOVE_ANNOUNCED if stored_now is None else _STORE_AND_MOVE_ANNOUNCED
    return await statement.fetchrow(connection, **values, **announced, **(stored_now or {}))


def _move_values(
    withdrawal_id: uuid.UUID, expected: str, status: str, now: datetime, next_check_at: datetime,
    provider_reference: str | None, failure_reason: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "withdrawal_id": withdrawal_id, "expected": expected, "now": now, "next_check_at": next_check_at,
        **moved_fields(status, now, provider_reference, failure_reason),
    }  # fmt: skip


async def settle_at_once(
    connection: Connection, withdrawal_id: uuid.UUID, *, expected: str, status: str, now: datetime,
    provider_reference: str | None, failure_reason: str | None, announced: dict[str, Any], stored_now: dict[str, Any],
    posting: dict[str, Any],
) -> bool:  # fmt: skip
    """`expected` -> `status` (COMPLETED or FAILED) with `announced` (`events.event_values(...)`), the callback
    `stored_now` (`callback_log.store_values("callback_", ...)`) and `posting` (`ledger.gated_values(...)`:
    the completion, or the release), in one statement outside a transaction: False if it was no longer
    `expected` (and nothing is written); raises `Refused` if the callback was stored before or the posting
    cannot be made now (and nothing is written)."""
    values = _move_values(withdrawal_id, expected, status, now, now, provider_reference, failure_reason)
    return await _SETTLE_AT_ONCE.attempt(connection, **values, **announced, **stored_now, **posting) is not None


async def reschedule(connection: Connection, withdrawal_id: uuid.UUID, next_check_at: datetime, now: datetime) -> None:
    await _RESCHEDULE.execute(connection, id=withdrawal_id, next_check_at=next_check_at, now=now)


async def count_submit(connection: Connection, withdrawal_id: uuid.UUID) -> None:
    await _COUNT_SUBMIT.execute(connection, id=withdrawal_id)


async def claim_due(
    connection: Connection, *, now: datetime, lease_until: datetime, limit: int
) -> list[asyncpg.Record]:
    return await _CLAIM_DUE.fetch(connection, now=now, lease_until=lease_until, limit=limit)


def list_query(
    *, partner_ids: Sequence[uuid.UUID] | None, status: str | None, reference: str | None, since: datetime | None,
    until: datetime | None, before: datetime | None, limit: int, platform: bool = False,
) -> tuple[Query, dict[str, Any]]:  # fmt: skip
    """A filtered page, newest first; `partner_ids` None: every partner's (admins); `platform`: the platform's
    own payouts instead (listed apart from partners' withdrawals)."""
    statement = select(*Withdrawal.__table__.columns)
    values: dict[str, Any] = {"limit": limit}
    if platform:
        statement = statement.where(Withdrawal.partner_id.is_(None))
    elif partner_ids is None:
        statement = statement.where(Withdrawal.partner_id.is_not(None))
    else:
        statement = statement.where(Withdrawal.partner_id == any_(bindparam("partner_ids")))
        values["partner_ids"] = list(partner_ids)
    filters: dict[str, tuple[object, Any]] = {
        "status": (status, Withdrawal.status == bindparam("status")),
        "reference": (reference, Withdrawal.reference == bindparam("reference")),
        "since": (since, Withdrawal.created_at >= bindparam("since")),
        "until": (until, Withdrawal.created_at < bindparam("until")),
        "before": (before, Withdrawal.created_at < bindparam("before")),
    }
    for name, (value, condition) in filters.items():
        if value is not None:
            statement = statement.where(condition)
            values[name] = value
    return Query(statement.order_by(Withdrawal.created_at.desc()).limit(bindparam("limit"))), values


_LIMITS = Query(
    select(Partner.withdrawal_min_amount, Partner.withdrawal_max_amount, Partner.withdrawal_requires_otp).where(
        Partner.id == bindparam("partner_id")
    )
)
# Everything a withdrawal request decides before asking the bank, in one round trip: the partner's fee and
# limits, whether it is a parent (whose balance is its children's), its available balance (the ledger's row
# `available_key`, read without a lock: the hold decides again under one) and the provider account that pays
# out (a row value, null if none can).
_REQUEST_TERMS = Query(
    text(
        f"""
        SELECT p.withdrawal_percent, p.withdrawal_flat, p.withdrawal_min_amount, p.withdrawal_max_amount,
               EXISTS (SELECT FROM partners c WHERE c.parent_id = p.id) AS has_children,
               coalesce((SELECT balance FROM ledger_accounts WHERE key = :available_key), 0) AS available,
               (SELECT a {_PAYOUT_ACCOUNT_CHOICE}) AS account
        FROM partners p WHERE p.id = :partner_id
        """
    )
)


async def request_terms(
    connection: Connection, partner_id: uuid.UUID, available_key: str, providers: Sequence[str]
) -> asyncpg.Record | None:
    """None for an unknown partner; `account` is the payout account's row, or None."""
    return await _REQUEST_TERMS.fetchrow(
        connection, partner_id=partner_id, available_key=available_key, providers=list(providers)
    )


async def limits(connection: Connection, partner_id: uuid.UUID) -> asyncpg.Record:
    row = await _LIMITS.fetchrow(connection, partner_id=partner_id)
    assert row is not None  # noqa: S101 (the partner was just read)
    return row
