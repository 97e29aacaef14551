"""Set-based postings: thousands of two-leg postings of one kind in a few statements.

`ledger.post` costs two round trips per posting (lock, write), which caps a job that settles a million
orders at a few thousand a second. `post_moves` posts a whole batch the way `post` posts one: its accounts
are created if missing (holding no lock) and locked in ascending id order, then one statement inserts every
transaction (`ON CONFLICT (idempotency_key) DO NOTHING`: a key already posted, by a batch or by `post`, is
skipped and reported as replayed), the entries of the new ones with each account's running balance (a window
sum over the batch, in transaction id order, which is also entry id order), and the materialised balances
and entry counts (`version`) of every account it touched. The caller owns the database transaction.

Unlike `post`, a replayed key is not compared with the move under it: a batch moves what is not posted yet
and leaves what is (see docs/ledger.md, "Batch postings").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text

from gerbang.kit.sql import Connection, Query
from gerbang.ledger import repository
from gerbang.ledger.schemas import PLATFORM, AccountKind, AccountRef, TransactionKind, house
from gerbang.ledger.service import CurrencyMismatch, InsufficientFunds, InvalidPosting, create_accounts, key_parts

_NON_NEGATIVE_CHECK = "ledger_accounts_non_negative_check"

# A non-negative account whose running balance dips below zero anywhere in the batch is written with that
# lowest balance, so the table's own CHECK refuses the whole statement: nothing of the batch is written.
_WRITE_MOVES = Query(
    text(
        """
        WITH move AS (
            SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:references AS text[]), CAST(:debited AS bigint[]),
                                 CAST(:credited AS bigint[]), CAST(:amounts AS bigint[]))
                WITH ORDINALITY AS move(key, reference, debited, credited, amount, position)
        ), txn AS (
            INSERT INTO ledger_transactions (idempotency_key, kind, reference, currency)
            SELECT key, :kind, reference, :currency FROM move ORDER BY position
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, idempotency_key, created_at
        ), posted AS (
            SELECT txn.id, txn.created_at, move.* FROM txn JOIN move ON move.key = txn.idempotency_key
        ), leg AS (
            SELECT posted.id AS transaction_id, posted.created_at, side.account_id, side.amount
            FROM posted CROSS JOIN LATERAL (VALUES (posted.debited, posted.amount),
                                                   (posted.credited, -posted.amount)) AS side(account_id, amount)
        ), running AS (
            SELECT leg.*, account.non_negative,
                   CASE WHEN account.normal_side = 'debit' THEN leg.amount ELSE -leg.amount END AS change,
                   account.balance + SUM(CASE WHEN account.normal_side = 'debit' THEN leg.amount ELSE -leg.amount END)
                       OVER (PARTITION BY leg.account_id ORDER BY leg.transaction_id) AS balance_after
            FROM leg JOIN ledger_accounts account ON account.id = leg.account_id
        ), entries AS (
            INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
            SELECT transaction_id, account_id, amount, balance_after, created_at FROM running
            ORDER BY transaction_id, account_id
        ), per_account AS (
            SELECT account_id, COUNT(*) AS entries, SUM(change) AS change, MIN(balance_after) AS lowest,
                   bool_or(non_negative) AS non_negative
            FROM running GROUP BY account_id
        ), balances AS (
            UPDATE ledger_accounts AS account
            SET balance = CASE WHEN per_account.non_negative AND per_account.lowest < 0 THEN per_account.lowest
                               ELSE account.balance + per_account.change END,
                version = account.version + per_account.entries
            FROM per_account WHERE account.id = per_account.account_id
        )
        SELECT position FROM posted
        """
    )
)


@dataclass(frozen=True)
class Moves:
    """Two-leg postings of one kind: move `i` debits `amounts[i]` to `debited[i]` and credits it to
    `credited[i]`, under `keys[i]` for `references[i]`. Amounts are on the debit-positive convention of
    `Leg`: debiting a partner's pending (a credit-normal account) lowers it."""

    kind: TransactionKind
    keys: Sequence[str]
    references: Sequence[str]
    debited: Sequence[AccountRef]
    credited: Sequence[AccountRef]
    amounts: Sequence[int]


@dataclass(frozen=True)
class MovesPosted:
    posted: list[int]
    """Positions (0-based) of the moves posted now."""
    replayed: list[int]
    """Positions of the moves whose key was already posted: nothing written for them."""


def _check(moves: Moves) -> None:
    count = len(moves.keys)
    if not count:
        raise InvalidPosting("a batch needs at least one move")
    if {len(moves.references), len(moves.debited), len(moves.credited), len(moves.amounts)} != {count}:
        raise InvalidPosting("every move needs a key, a reference, two accounts and an amount")
    if len(set(moves.keys)) != count:
        raise InvalidPosting("each idempotency key may appear once in a batch")
    if any(not key or len(key) > 200 for key in moves.keys) or not all(moves.references):
        raise InvalidPosting("every move needs a key of 1 to 200 characters and a reference")
    if any(type(value) is not int or value <= 0 for value in moves.amounts):
        raise InvalidPosting("every move's amount is a positive whole number")
    if any(debited == credited for debited, credited in zip(moves.debited, moves.credited, strict=True)):
        raise InvalidPosting("a move debits and credits two different accounts")


async def _lock_or_create(connection: Connection, refs: Sequence[AccountRef]) -> dict[AccountRef, asyncpg.Record]:
    """As `ledger.post` does it: all the accounts locked in id order, or, if any is missing, none locked
    while the missing ones are created (sorted), then all locked."""
    keys = [key_parts(ref) for ref in refs]
    rows = await repository.lock_accounts_by_ref(connection, keys, all_or_none=True)
    if not rows:
        await create_accounts(connection, refs)
        rows = await repository.lock_accounts_by_ref(connection, keys)
    found = {(row["kind"], row["owner_id"], row["currency"], row["shard"]): row for row in rows}
    return {ref: found[key] for key, ref in zip(keys, refs, strict=True)}


async def post_moves(connection: Connection, moves: Moves) -> MovesPosted:
    """Post every move not posted yet, exactly once each, in two round trips (four when an account is new).
    Refuses the whole batch (`insufficient_funds`) if any non-negative account would go below zero at
    any point of it; as with any error, the caller's transaction must then be rolled back."""
    _check(moves)
    refs = sorted({*moves.debited, *moves.credited}, key=lambda ref: (ref.kind, str(ref.owner_id), ref.shard))
    currencies = {ref.currency for ref in refs}
    if len(currencies) != 1:
        raise CurrencyMismatch(f"a batch moves one currency, these accounts hold {sorted(currencies)}")
    accounts = await _lock_or_create(connection, refs)
    ids = {ref: row["id"] for ref, row in accounts.items()}
    try:
        rows = await _WRITE_MOVES.fetch(
            connection,
            keys=list(moves.keys),
            references=list(moves.references),
            debited=[ids[ref] for ref in moves.debited],
            credited=[ids[ref] for ref in moves.credited],
            amounts=list(moves.amounts),
            kind=moves.kind.value,
            currency=currencies.pop(),
        )
    except asyncpg.CheckViolationError as error:
        if error.constraint_name != _NON_NEGATIVE_CHECK:
            raise
        raise InsufficientFunds("a batch would take an account that must not go negative below zero") from None
    posted = sorted(row["position"] - 1 for row in rows)
    done = set(posted)
    return MovesPosted(posted=posted, replayed=[i for i in range(len(moves.keys)) if i not in done])


async def settlements(connection: Connection, orders: Sequence[tuple[uuid.UUID, uuid.UUID, int]]) -> MovesPosted:
    """`ledger.service.settlement` for many orders at once, each (order id, partner id, net): the same key,
    kind, reference and legs, so an order settled one way is never settled again the other way."""
    partners = {partner_id for _, partner_id, _ in orders}
    pending = {partner_id: AccountRef(AccountKind.partner_pending, partner_id) for partner_id in partners}
    available = {partner_id: AccountRef(AccountKind.partner_available, partner_id) for partner_id in partners}
    return await post_moves(
        connection,
        Moves(
            kind=TransactionKind.settlement,
            keys=[f"order:{order_id}:settled" for order_id, _, _ in orders],
            references=[f"order:{order_id}" for order_id, _, _ in orders],
            debited=[pending[partner_id] for _, partner_id, _ in orders],
            credited=[available[partner_id] for _, partner_id, _ in orders],
            amounts=[net for _, _, net in orders],
        ),
    )


@dataclass(frozen=True)
class FeeAdjustment:
    """An order's fee recomputed after payment: `difference` = new fee - old fee, never zero."""

    order_id: uuid.UUID
    partner_id: uuid.UUID
    settled: bool
    """SETTLED: the order's net is in the partner's available balance; PAID: still in pending."""
    difference: int


async def fee_adjustments(
    connection: Connection, adjustment_id: uuid.UUID, adjustments: Sequence[FeeAdjustment]
) -> MovesPosted:
    """Each order's fee difference, once per adjustment and order (`fee_adjustment:{adjustment}:{order}`): a rise
    moves from the partner to the platform's fees (the order's house shard), a fall back to the partner; from or
    to pending while the order is PAID (its settlement nets amount - the new fee), available once SETTLED.

    Refunds are posted before charges: the batch refuses a partner account that dips below zero at any point,
    and a partner whose net change is covered must not be refused for the order of the moves. The positions
    `MovesPosted` reports are in that order, not in the order given."""
    ordered = sorted(adjustments, key=lambda adjustment: adjustment.difference > 0)
    partner = [
        AccountRef(AccountKind.partner_available if a.settled else AccountKind.partner_pending, a.partner_id)
        for a in ordered
    ]
    fees = [house(AccountKind.platform_fees, PLATFORM, a.order_id) for a in ordered]
    raised = [a.difference > 0 for a in ordered]
    return await post_moves(
        connection,
        Moves(
            kind=TransactionKind.fee_adjustment,
            keys=[f"fee_adjustment:{adjustment_id}:{a.order_id}" for a in ordered],
            references=[f"order:{a.order_id}" for a in ordered],
            debited=[p if up else f for p, f, up in zip(partner, fees, raised, strict=True)],
            credited=[f if up else p for p, f, up in zip(partner, fees, raised, strict=True)],
            amounts=[abs(a.difference) for a in ordered],
        ),
    )
