"""All of settlement's SQL (the ledger's is in `gerbang.ledger.batch`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from sqlalchemy import select, text

from gerbang.kit.sql import Connection, Query
from gerbang.models import Partner, ProviderAccount

_ACCOUNTS = Query(
    select(
        ProviderAccount.id, ProviderAccount.settlement_rule, ProviderAccount.settlement_days,
        ProviderAccount.settlement_cutoff_hour,
    ).order_by(ProviderAccount.id)
)  # fmt: skip
_PARTNERS = Query(select(Partner.id).order_by(Partner.id))

# The orders a batch takes, locked. SKIP LOCKED: two runs at once never take the same order, and neither waits
# for the other's batch; an order another run settled after this statement's snapshot is re-checked by FOR
# UPDATE against its new row, no longer PAID. `nothing_to_move`: the order's settlement posting exists already
# (made by `ledger.settlement`, whose key `gerbang.ledger.batch.settlements` shares), or it has no net (a fee
# adjusted up to its amount; manual settlement's `includeZero`). `\:` is a colon, not a bind parameter.
CLAIMED_COLUMNS = (
    "o.id, o.partner_id, o.amount, o.fee, o.paid_at, (o.amount <= o.fee OR EXISTS (SELECT 1 FROM "
    "ledger_transactions t WHERE t.idempotency_key = 'order:' || o.id || '\\:settled')) AS nothing_to_move"
)
# An account's due orders of some partners in payment order, after the last one this lane took (each lane
# walks the index once instead of rescanning the orders it settled). The partners are named rather than
# computed from their ids so that the planner knows how many orders match, and walks the index.
_DUE = f"""
    SELECT {CLAIMED_COLUMNS} FROM orders o
    WHERE o.provider_account_id = :account_id AND o.status = 'PAID' AND o.paid_at < :before
      AND (o.paid_at, o.id) > (:after_paid_at, :after_id) AND o.partner_id = ANY(CAST(:partners AS uuid[]))
    ORDER BY o.paid_at, o.id LIMIT :limit FOR UPDATE OF o SKIP LOCKED
"""
_BY_ID = f"""
    SELECT {CLAIMED_COLUMNS} FROM orders o WHERE o.id = ANY(CAST(:ids AS uuid[])) AND o.status = 'PAID'
    FOR UPDATE OF o SKIP LOCKED
"""
# One statement takes the orders and settles them: a `settlement_batches` row per partner (but for orders whose
# money moved before), and every order PAID -> SETTLED (compare-and-set) with its batch. What it returns is
# what the caller posts to the ledger and tells partners of, in the same transaction.
_SETTLE = """
    WITH claimed AS ({claimed}), batch AS (
        INSERT INTO settlement_batches (id, run_id, partner_id, currency, order_count, gross, fee, net, settled_at)
        SELECT gen_random_uuid(), :run_id, partner_id, :currency, count(*), sum(amount), sum(fee), sum(amount - fee),
               :now
        FROM claimed WHERE NOT nothing_to_move GROUP BY partner_id
        RETURNING id, partner_id
    ), settled AS (
        UPDATE orders o SET status = 'SETTLED', settled_at = :now, updated_at = :now,
            settlement_batch_id = CASE WHEN claimed.nothing_to_move THEN NULL ELSE batch.id END
        FROM claimed LEFT JOIN batch ON batch.partner_id = claimed.partner_id
        WHERE o.id = claimed.id AND o.status = 'PAID'
        RETURNING o.id, o.partner_id, o.amount, o.fee, o.paid_at, o.settlement_batch_id
    )
    SELECT * FROM settled
"""


def settling(claimed: str) -> Query:
    """The statement that settles the orders `claimed` selects (`CLAIMED_COLUMNS` of PAID orders `o`, locked
    `FOR UPDATE OF o SKIP LOCKED`), as `settle_due` does: what the manual settlement's filters select."""
    return Query(text(_SETTLE.format(claimed=claimed)))


_SETTLE_DUE = settling(_DUE)
_SETTLE_IDS = settling(_BY_ID)
# The orders of a provider_reported account still waiting, oldest payment first, page by page.
_WAITING = Query(
    text(
        """
        SELECT o.id, o.amount, o.provider_reference, o.paid_at FROM orders o
        WHERE o.provider_account_id = :account_id AND o.status = 'PAID'
          AND (o.paid_at, o.id) > (:after_paid_at, :after_id)
        ORDER BY o.paid_at, o.id LIMIT :limit
        """
    )
)


async def accounts(connection: Connection) -> list[asyncpg.Record]:
    """Every provider account's settlement rule."""
    return await _ACCOUNTS.fetch(connection)


async def partners(connection: Connection) -> list[uuid.UUID]:
    return [row["id"] for row in await _PARTNERS.fetch(connection)]


async def settle_due(
    connection: Connection, *, run_id: uuid.UUID, currency: str, now: datetime, account_id: uuid.UUID,
    before: datetime, after: tuple[datetime, uuid.UUID], partners: Sequence[uuid.UUID], limit: int,
) -> list[asyncpg.Record]:  # fmt: skip
    """Up to `limit` PAID orders of the account and `partners`, paid before `before` and after `after` (paid at,
    id) in payment order, none another run holds: SETTLED at `now`, each with its partner's new batch (none
    for an order whose settlement posting existed). The orders settled, each with its `settlement_batch_id`."""
    return await _SETTLE_DUE.fetch(
        connection, run_id=run_id, currency=currency, now=now, account_id=account_id, before=before,
        after_paid_at=after[0], after_id=after[1], partners=list(partners), limit=limit,
    )  # fmt: skip


async def settle_ids(
    connection: Connection, *, run_id: uuid.UUID, currency: str, now: datetime, ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """As `settle_due`, for those of `ids` that are PAID."""
    return await _SETTLE_IDS.fetch(connection, run_id=run_id, currency=currency, now=now, ids=list(ids))


async def waiting(
    connection: Connection, account_id: uuid.UUID, after: tuple[datetime, uuid.UUID], limit: int
) -> list[asyncpg.Record]:
    return await _WAITING.fetch(
        connection, account_id=account_id, after_paid_at=after[0], after_id=after[1], limit=limit
    )
