"""All of loans' SQL (the ledger's is the ledger's). Order transitions here are compare-and-set:
PAID -> LOAN_SETTLED and LOAN_SETTLED -> PAID, on rows the caller has locked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gerbang.kit.sql import Connection, Query
from gerbang.models import Advance, LoanSettlementJob

# Everything that decides a partner's outstanding advance (grants, repayments, reverts) runs under this
# transaction lock: two requests cannot both count on the same outstanding amount.
_LOCK_PARTNER = Query(
    text("SELECT pg_advisory_xact_lock(hashtextextended('gerbang.loan:' || CAST(:partner_id AS text), 0))")
)
# The partner's outstanding advance, from the ledger: the entries on the platform's advances account (debit
# normal: a grant +L, a repayment -N, a revert +N) of the ledger transactions our rows name as this partner's.
_OUTSTANDING = Query(
    text(
        """
        SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
        WHERE a.kind = 'platform_advances' AND e.transaction_id IN (
            SELECT ledger_transaction_id FROM advances WHERE partner_id = :partner_id
            UNION ALL SELECT ledger_transaction_id FROM loan_repayments WHERE partner_id = :partner_id
            UNION ALL SELECT revert_transaction_id FROM loan_repayments
                      WHERE partner_id = :partner_id AND revert_transaction_id IS NOT NULL
        )
        """
    )
)
_ADVANCE_COLUMNS = (
    Advance.id, Advance.partner_id, Advance.currency, Advance.amount, Advance.note, Advance.granted_by,
    Advance.ledger_transaction_id, Advance.created_at, Advance.idempotency_key,
)  # fmt: skip
_INSERT_ADVANCE = Query(
    pg_insert(Advance)
    .values(
        id=bindparam("id"), partner_id=bindparam("partner_id"), amount=bindparam("amount"), note=bindparam("note"),
        idempotency_key=bindparam("idempotency_key"), granted_by=bindparam("granted_by"),
        ledger_transaction_id=bindparam("ledger_transaction_id"),
    )
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(*_ADVANCE_COLUMNS)
)  # fmt: skip
_ADVANCE_BY_KEY = Query(select(*_ADVANCE_COLUMNS).where(Advance.idempotency_key == bindparam("key")))
_ADVANCES = Query(
    select(*_ADVANCE_COLUMNS)
    .where(Advance.partner_id == bindparam("partner_id"))
    .order_by(Advance.created_at.desc(), Advance.id)
    .limit(bindparam("limit"))
)
_TOTALS = Query(
    text(
        """
        SELECT (SELECT COALESCE(SUM(amount), 0) FROM advances WHERE partner_id = :partner_id) AS granted,
               COALESCE(SUM(net), 0) AS repaid,
               COALESCE(SUM(net) FILTER (WHERE reverted_at IS NOT NULL), 0) AS reverted
        FROM loan_repayments WHERE partner_id = :partner_id
        """
    )
)

_ORDER_COLUMNS = "o.id, o.partner_id, o.reference, o.status, o.amount, o.fee, o.amount - o.fee AS net, o.paid_at"
# The caller's orders of a partner, locked, oldest payment first (the order repayments are taken in).
_LOCK_ORDERS = Query(
    text(
        f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = ANY(CAST(:ids AS uuid[])) AND o.partner_id = :partner_id "
        "ORDER BY o.paid_at NULLS LAST, o.id FOR UPDATE OF o"
    )
)
_EXISTING_ORDERS = Query(text("SELECT id FROM orders WHERE id = ANY(CAST(:ids AS uuid[]))"))
_RANGE_WHERE = """
    o.partner_id = :partner_id AND o.status = 'PAID' AND o.paid_at >= :start AND o.paid_at < :end
    AND (CAST(:account_id AS uuid) IS NULL OR o.provider_account_id = CAST(:account_id AS uuid))
"""
# The next page of a range, not locked: the job locks the ones still PAID (`_LOCK_PAID`) and moves its cursor
# past every one of them, so an order that changed meanwhile is passed, not waited for again.
_RANGE_PAGE = Query(
    text(
        f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE {_RANGE_WHERE} "
        "AND (o.paid_at, o.id) > (:after_paid_at, :after_id) ORDER BY o.paid_at, o.id LIMIT :limit"
    )
)
_LOCK_PAID = Query(
    text(
        f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE o.id = ANY(CAST(:ids AS uuid[])) AND o.status = 'PAID' "
        "ORDER BY o.paid_at, o.id FOR UPDATE OF o"
    )
)
_RANGE_NETS = Query(text(f"SELECT o.amount - o.fee AS net FROM orders o WHERE {_RANGE_WHERE} ORDER BY o.paid_at, o.id"))
_RANGE_SAMPLE = Query(
    text(f"SELECT {_ORDER_COLUMNS} FROM orders o WHERE {_RANGE_WHERE} ORDER BY o.paid_at, o.id LIMIT :limit")
)
_LAST_ROUNDS = Query(
    text(
        "SELECT order_id, max(round) AS round FROM loan_repayments WHERE order_id = ANY(CAST(:ids AS uuid[])) "
        "GROUP BY order_id"
    )
)
_MARK_LOAN_SETTLED = Query(
    text(
        "UPDATE orders SET status = 'LOAN_SETTLED', updated_at = :now "
        "WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'PAID' RETURNING id"
    )
)
_INSERT_REPAYMENTS = Query(
    text(
        """
        INSERT INTO loan_repayments (order_id, round, partner_id, net, ledger_transaction_id, job_id, note, settled_by,
                                     settled_at)
        SELECT order_id, round, :partner_id, net, transaction_id, :job_id, :note, :settled_by, :now
        FROM unnest(CAST(:order_ids AS uuid[]), CAST(:rounds AS smallint[]), CAST(:nets AS bigint[]),
                    CAST(:transaction_ids AS bigint[])) AS r(order_id, round, net, transaction_id)
        """
    )
)
# A partner's standing repayments, of the orders named or of the job named, locked with their orders.
_OPEN_REPAYMENTS = Query(
    text(
        """
        SELECT r.id, r.order_id, r.round, r.net, o.status FROM loan_repayments r JOIN orders o ON o.id = r.order_id
        WHERE r.partner_id = :partner_id AND r.reverted_at IS NULL
          AND (r.order_id = ANY(CAST(:ids AS uuid[])) OR r.job_id = CAST(:job_id AS uuid))
        ORDER BY r.id FOR UPDATE OF r, o
        """
    )
)
_MARK_PAID_AGAIN = Query(
    text(
        "UPDATE orders SET status = 'PAID', updated_at = :now "
        "WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'LOAN_SETTLED' RETURNING id"
    )
)
_RECORD_REVERTS = Query(
    text(
        """
        UPDATE loan_repayments r SET reverted_at = :now, reverted_by = :reverted_by, revert_id = :revert_id,
               revert_transaction_id = v.transaction_id
        FROM unnest(CAST(:ids AS bigint[]), CAST(:transaction_ids AS bigint[])) AS v(id, transaction_id)
        WHERE r.id = v.id AND r.reverted_at IS NULL
        """
    )
)
_REPAYMENT_COLUMNS = """
    r.order_id, o.reference, o.amount, r.net, r.round, r.job_id, r.note, r.settled_by, r.settled_at, r.revert_id,
    r.reverted_by, r.reverted_at
"""

_JOB_COLUMNS = tuple(LoanSettlementJob.__table__.columns)
_INSERT_JOB = Query(
    pg_insert(LoanSettlementJob)
    .values(
        id=bindparam("id"), partner_id=bindparam("partner_id"), provider_account_id=bindparam("provider_account_id"),
        paid_from=bindparam("paid_from"), paid_to=bindparam("paid_to"), note=bindparam("note"),
        dry_run=bindparam("dry_run"), created_by=bindparam("created_by"), created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(*_JOB_COLUMNS)
)  # fmt: skip
_JOB = Query(select(*_JOB_COLUMNS).where(LoanSettlementJob.id == bindparam("id")))
_JOB_FOR_UPDATE = Query(select(*_JOB_COLUMNS).where(LoanSettlementJob.id == bindparam("id")).with_for_update())
# Queued jobs, and running ones: the `loan.settle` run holds the scheduler's lock for its job, so a job still
# `running` when a run starts was left so by a run that died, and is this run's to finish.
_OPEN_JOBS = Query(
    text(
        "SELECT id FROM loan_settlement_jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT :limit"
    )
)
_START_JOB = Query(
    text(
        "UPDATE loan_settlement_jobs SET status = 'running', started_at = COALESCE(started_at, :now), "
        "updated_at = :now WHERE id = :id AND status IN ('queued', 'running') RETURNING id"
    )
)
_JOB_PROGRESS = Query(
    text(
        """
        UPDATE loan_settlement_jobs SET orders_seen = orders_seen + :seen, orders_settled = orders_settled + :settled,
            orders_skipped = orders_skipped + :skipped, amount = amount + :amount, after_paid_at = :after_paid_at,
            after_id = :after_id, updated_at = :now
        WHERE id = :id AND status = 'running'
        """
    )
)
_FINISH_JOB = Query(
    text(
        "UPDATE loan_settlement_jobs SET status = :status, error = :error, finished_at = :now, updated_at = :now "
        "WHERE id = :id AND status = ANY(CAST(:expected AS text[])) RETURNING id"
    )
)
_REQUEST_CANCEL = Query(
    text(
        "UPDATE loan_settlement_jobs SET cancel_requested_at = COALESCE(cancel_requested_at, :now), updated_at = :now "
        "WHERE id = :id AND status = 'running'"
    )
)


async def lock_partner(connection: Connection, partner_id: uuid.UUID) -> None:
    await _LOCK_PARTNER.execute(connection, partner_id=str(partner_id))


async def outstanding(connection: Connection, partner_id: uuid.UUID) -> int:
    return int(await _OUTSTANDING.fetchval(connection, partner_id=partner_id))


async def insert_advance(connection: Connection, **values: Any) -> asyncpg.Record | None:
    """The new advance, or None if its idempotency key was used before."""
    return await _INSERT_ADVANCE.fetchrow(connection, **values)


async def advance_by_key(connection: Connection, key: str) -> asyncpg.Record | None:
    return await _ADVANCE_BY_KEY.fetchrow(connection, key=key)


async def advances(connection: Connection, partner_id: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    return await _ADVANCES.fetch(connection, partner_id=partner_id, limit=limit)


async def totals(connection: Connection, partner_id: uuid.UUID) -> asyncpg.Record:
    row = await _TOTALS.fetchrow(connection, partner_id=partner_id)
    assert row is not None  # noqa: S101 (an aggregate always returns its row)
    return row


async def lock_orders(connection: Connection, partner_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await _LOCK_ORDERS.fetch(connection, partner_id=partner_id, ids=list(ids))


async def existing_orders(connection: Connection, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    return {row["id"] for row in await _EXISTING_ORDERS.fetch(connection, ids=list(ids))}


def _range(partner_id: uuid.UUID, account_id: uuid.UUID | None, start: datetime, end: datetime) -> dict[str, Any]:
    return {"partner_id": partner_id, "account_id": account_id, "start": start, "end": end}


async def range_page(
    connection: Connection, *, partner_id: uuid.UUID, account_id: uuid.UUID | None, start: datetime, end: datetime,
    after: tuple[datetime, uuid.UUID], limit: int,
) -> list[asyncpg.Record]:  # fmt: skip
    return await _RANGE_PAGE.fetch(
        connection, **_range(partner_id, account_id, start, end), after_paid_at=after[0], after_id=after[1],
        limit=limit,
    )  # fmt: skip


async def lock_paid(connection: Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await _LOCK_PAID.fetch(connection, ids=list(ids))


async def range_nets(
    connection: Connection, *, partner_id: uuid.UUID, account_id: uuid.UUID | None, start: datetime, end: datetime
) -> list[int]:
    rows = await _RANGE_NETS.fetch(connection, **_range(partner_id, account_id, start, end))
    return [row["net"] for row in rows]


async def range_sample(
    connection: Connection, *, partner_id: uuid.UUID, account_id: uuid.UUID | None, start: datetime, end: datetime,
    limit: int,
) -> list[asyncpg.Record]:  # fmt: skip
    return await _RANGE_SAMPLE.fetch(connection, **_range(partner_id, account_id, start, end), limit=limit)


async def last_rounds(connection: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    return {row["order_id"]: row["round"] for row in await _LAST_ROUNDS.fetch(connection, ids=list(ids))}


async def mark_loan_settled(connection: Connection, ids: Sequence[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    return {row["id"] for row in await _MARK_LOAN_SETTLED.fetch(connection, ids=list(ids), now=now)}


async def insert_repayments(
    connection: Connection, *, partner_id: uuid.UUID, job_id: uuid.UUID | None, note: str | None, settled_by: str,
    now: datetime, order_ids: Sequence[uuid.UUID], rounds: Sequence[int], nets: Sequence[int],
    transaction_ids: Sequence[int],
) -> None:  # fmt: skip
    await _INSERT_REPAYMENTS.execute(
        connection, partner_id=partner_id, job_id=job_id, note=note, settled_by=settled_by, now=now,
        order_ids=list(order_ids), rounds=list(rounds), nets=list(nets), transaction_ids=list(transaction_ids),
    )  # fmt: skip


async def open_repayments(
    connection: Connection, partner_id: uuid.UUID, ids: Sequence[uuid.UUID], job_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    return await _OPEN_REPAYMENTS.fetch(connection, partner_id=partner_id, ids=list(ids), job_id=job_id)


async def mark_paid_again(connection: Connection, ids: Sequence[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    return {row["id"] for row in await _MARK_PAID_AGAIN.fetch(connection, ids=list(ids), now=now)}


async def record_reverts(
    connection: Connection, *, revert_id: uuid.UUID, reverted_by: str, now: datetime, ids: Sequence[int],
    transaction_ids: Sequence[int],
) -> None:  # fmt: skip
    await _RECORD_REVERTS.execute(
        connection, revert_id=revert_id, reverted_by=reverted_by, now=now, ids=list(ids),
        transaction_ids=list(transaction_ids),
    )  # fmt: skip


def repayments_query(
    *, partner_id: uuid.UUID, job_id: uuid.UUID | None, revert_id: uuid.UUID | None, reverted: bool | None,
    before_id: int | None, limit: int,
) -> tuple[Query, dict[str, Any]]:  # fmt: skip
    """A partner's repayments, newest first, filtered: by the job that made them, the revert that undid them,
    whether they were reverted. Page on with `before_id` (the last row's `id`)."""
    conditions = ["r.partner_id = :partner_id"]
    values: dict[str, Any] = {"partner_id": partner_id, "limit": limit}
    for name, value, condition in (
        ("job_id", job_id, "r.job_id = :job_id"),
        ("revert_id", revert_id, "r.revert_id = :revert_id"),
        ("before_id", before_id, "r.id < :before_id"),
    ):
        if value is not None:
            conditions.append(condition)
            values[name] = value
    if reverted is not None:
        conditions.append("r.reverted_at IS NOT NULL" if reverted else "r.reverted_at IS NULL")
    statement = (
        f"SELECT r.id, {_REPAYMENT_COLUMNS} FROM loan_repayments r JOIN orders o ON o.id = r.order_id "
        f"WHERE {' AND '.join(conditions)} ORDER BY r.id DESC LIMIT :limit"
    )
    return Query(text(statement)), values


async def insert_job(connection: Connection, **values: Any) -> asyncpg.Record:
    row = await _INSERT_JOB.fetchrow(connection, **values)
    assert row is not None  # noqa: S101 (an INSERT ... RETURNING without a conflict clause returns its row)
    return row


async def job(connection: Connection, job_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await (_JOB_FOR_UPDATE if for_update else _JOB).fetchrow(connection, id=job_id)


def jobs_query(
    *, partner_id: uuid.UUID | None, status: str | None, before: datetime | None, limit: int
) -> tuple[Query, dict[str, Any]]:
    statement = select(*_JOB_COLUMNS)
    values: dict[str, Any] = {"limit": limit}
    for name, value, condition in (
        ("partner_id", partner_id, LoanSettlementJob.partner_id == bindparam("partner_id")),
        ("status", status, LoanSettlementJob.status == bindparam("status")),
        ("before", before, LoanSettlementJob.created_at < bindparam("before")),
    ):
        if value is not None:
            statement = statement.where(condition)
            values[name] = value
    ordered = statement.order_by(LoanSettlementJob.created_at.desc()).limit(bindparam("limit"))
    return Query(ordered), values


async def open_jobs(connection: Connection, limit: int) -> list[uuid.UUID]:
    return [row["id"] for row in await _OPEN_JOBS.fetch(connection, limit=limit)]


async def start_job(connection: Connection, job_id: uuid.UUID, now: datetime) -> bool:
    return await _START_JOB.fetchval(connection, id=job_id, now=now) is not None


async def job_progress(
    connection: Connection, job_id: uuid.UUID, *, seen: int, settled: int, skipped: int, amount: int,
    after: tuple[datetime, uuid.UUID], now: datetime,
) -> None:  # fmt: skip
    await _JOB_PROGRESS.execute(
        connection, id=job_id, seen=seen, settled=settled, skipped=skipped, amount=amount, after_paid_at=after[0],
        after_id=after[1], now=now,
    )  # fmt: skip


async def finish_job(
    connection: Connection, job_id: uuid.UUID, status: str, *, expected: Sequence[str], now: datetime,
    error: str | None = None,
) -> bool:  # fmt: skip
    """Compare-and-set: the job ends as `status` if it is still one of `expected`."""
    found = await _FINISH_JOB.fetchval(
        connection, id=job_id, status=status, error=error, now=now, expected=list(expected)
    )
    return found is not None


async def request_cancel(connection: Connection, job_id: uuid.UUID, now: datetime) -> None:
    await _REQUEST_CANCEL.execute(connection, id=job_id, now=now)
