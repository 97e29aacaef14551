"""Postings, named business postings, balances, history, statements and reconciliation.

Nothing else in gerbang writes a balance. Every posting:
- has legs that sum to zero (signed, debit positive), none zero, all in one currency, on known accounts;
- is exactly-once by its idempotency key: the same key with the same legs returns the original
  transaction, with other legs it is `idempotency_conflict`, and in both cases nothing is written;
- locks its accounts in ascending id order (no deadlocks), refuses to take a non-negative account
  below zero (`insufficient_funds`, with the database's CHECK behind it), and writes the transaction,
  entries and materialised balances in one statement.
The caller owns the database transaction (one request, one transaction): an error leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from gerbang.exceptions import Conflict, NotFound, UnprocessableEntity
from gerbang.kit.money import MoneyError, amount, positive_amount
from gerbang.kit.sql import Connection
from gerbang.kit.time import jakarta_days
from gerbang.ledger import repository
from gerbang.ledger.schemas import (
    PLATFORM,
    AccountDrift,
    AccountKind,
    AccountRef,
    Balance,
    HistoryEntry,
    HistoryPage,
    Leg,
    PartnerBalances,
    Posting,
    ReconcileReport,
    Statement,
    TransactionKind,
    UnbalancedTransaction,
    credit,
    debit,
    house,
)


class InvalidPosting(UnprocessableEntity):
    code = "invalid_posting"


class UnknownAccount(UnprocessableEntity):
    code = "unknown_account"


class CurrencyMismatch(UnprocessableEntity):
    code = "currency_mismatch"


class InsufficientFunds(UnprocessableEntity):
    code = "insufficient_funds"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class TransactionNotFound(NotFound):
    code = "transaction_not_found"


_MAX_HISTORY_PAGE = 500


# -- the posting primitive -------------------------------------------------------------------------


async def post(
    connection: Connection, *, idempotency_key: str, kind: TransactionKind, reference: str, legs: Sequence[Leg]
) -> Posting:
    """Post `legs` exactly once under `idempotency_key`. Legs name accounts by id or by `AccountRef`;
    accounts named by reference are created on first use."""
    _check_legs(idempotency_key, reference, legs)
    by_ref = {leg.account: leg.amount for leg in legs if isinstance(leg.account, AccountRef)}
    by_id = {leg.account: leg.amount for leg in legs if isinstance(leg.account, int)}
    if by_id and by_ref:
        raise InvalidPosting("name every account of a posting the same way: all by id or all by reference")
    written = {"key": idempotency_key, "kind": kind.value, "reference": reference}
    if by_id:
        rows = await repository.post(connection, **written, accounts=list(by_id), amounts=list(by_id.values()))
        if not rows:
            raise UnknownAccount(f"no ledger account among {sorted(by_id)}")
        return await _posted(connection, idempotency_key, kind, reference, rows)
    keys = [row_key(ref) for ref in by_ref]
    rows = await repository.post(connection, **written, accounts=keys, amounts=list(by_ref.values()))
    if not rows:  # an account's first use: created holding no lock (see `repository._posting`), then posted
        await create_accounts(connection, by_ref)
        rows = await repository.post(connection, **written, accounts=keys, amounts=list(by_ref.values()))
    return await _posted(connection, idempotency_key, kind, reference, rows)


@dataclass(frozen=True)
class Planned:
    """A posting decided but not made: what `post` takes."""

    idempotency_key: str
    kind: TransactionKind
    reference: str
    legs: tuple[Leg, ...]


async def post_planned(connection: Connection, plan: Planned) -> Posting:
    return await post(
        connection, idempotency_key=plan.idempotency_key, kind=plan.kind, reference=plan.reference, legs=plan.legs
    )


def gated_values(plan: Planned) -> dict[str, Any]:
    """The parameters of `plan` made by another statement (`repository.gated_posting`): the same checks as
    `post`; the accounts by reference. That statement refuses rather than create a missing account, and its
    caller's careful path, through `post`, creates it."""
    _check_legs(plan.idempotency_key, plan.reference, plan.legs)
    refs = [leg.account for leg in plan.legs]
    if not all(isinstance(ref, AccountRef) for ref in refs):
        raise InvalidPosting("a gated posting names its accounts by reference")
    prefix = repository.GATED_PREFIX
    return {
        f"{prefix}key": plan.idempotency_key, f"{prefix}kind": plan.kind.value, f"{prefix}reference": plan.reference,
        f"{prefix}accounts": [row_key(ref) for ref in refs if isinstance(ref, AccountRef)],
        f"{prefix}amounts": [leg.amount for leg in plan.legs],
    }  # fmt: skip


def key_parts(ref: AccountRef) -> repository.Ref:
    """The columns that name `ref`'s row (kind, owner, currency, shard)."""
    return ref.kind.value, ref.owner_id, ref.currency, ref.shard


async def create_accounts(connection: Connection, refs: Iterable[AccountRef]) -> None:
    """The accounts `refs` name, created where missing (in a sorted order, holding no lock)."""
    new = sorted((*key_parts(ref), ref.kind.normal_side, ref.kind.non_negative) for ref in refs)
    await repository.create_accounts(connection, new)


def _check_legs(idempotency_key: str, reference: str, legs: Sequence[Leg]) -> None:
    if not idempotency_key or len(idempotency_key) > 200:
        raise InvalidPosting("an idempotency key of 1 to 200 characters is required")
    if not reference:
        raise InvalidPosting("a reference to the business object is required")
    if len(legs) < 2:
        raise InvalidPosting("a posting needs at least two legs")
    try:
        values = [amount(leg.amount) for leg in legs]
    except MoneyError as exc:
        raise InvalidPosting(str(exc)) from None
    if any(value == 0 for value in values):
        raise InvalidPosting("a leg of zero moves nothing")
    if sum(values) != 0:
        raise InvalidPosting(f"legs must sum to zero, they sum to {sum(values)}")
    if len({leg.account for leg in legs}) != len(legs):
        raise InvalidPosting("each account may appear in one leg only")


async def _posted(
    connection: Connection, key: str, kind: TransactionKind, reference: str, rows: Sequence[asyncpg.Record]
) -> Posting:
    """What the posting's statement did with its locked `rows`: wrote it, or found it posted before (a replay),
    or refused it (more than one currency, or funds short)."""
    legs = tuple((row["id"], row["amount"]) for row in rows)
    first = rows[0]
    if first["transaction_id"] is not None:
        return Posting(
            first["transaction_id"], key, kind.value, reference, first["currency"], first["transaction_created_at"],
            legs, replayed=False,
        )  # fmt: skip
    currencies = {row["currency"] for row in rows}
    if len(currencies) != 1:
        raise CurrencyMismatch(f"a posting moves one currency, these accounts hold {sorted(currencies)}")
    # A replay of a posting made when the money was there is still the original, not a refusal.
    replay = await _replay(connection, key, kind, reference, legs, rows)
    if replay is not None:
        return replay
    overdrawn = [row for row in rows if row["non_negative"] and row["balance_after"] < 0]
    if not overdrawn:  # the statement wrote nothing only for a key that exists, whose transaction does
        raise RuntimeError(f"ledger transaction {key!r} conflicts but cannot be read")
    row = overdrawn[0]
    raise InsufficientFunds(f"account {row['id']} ({row['kind']}) holds {row['balance']}, not enough for this posting")


def _account_name(row: asyncpg.Record) -> str:
    """An account as a whole: its shards (rows of a house account) share it."""
    return f"{row['kind']}:{row['owner_id']}:{row['currency']}"


async def _replay(
    connection: Connection, key: str, kind: TransactionKind, reference: str, legs: tuple[tuple[int, int], ...],
    rows: Sequence[asyncpg.Record],
) -> Posting | None:  # fmt: skip
    """The posting under `key` if it is this one again (the same kind, reference, and amounts on the same
    accounts, whichever shard of a house account took them: the shard count may have grown since)."""
    existing = await repository.transaction_by_key(connection, key)
    if existing is None:
        return None
    original = tuple(zip(existing["account_ids"], existing["amounts"], strict=True))
    names = {row["id"]: _account_name(row) for row in rows}
    same_legs = sorted(zip(existing["account_names"], existing["amounts"], strict=True)) == sorted(
        (names[account_id], amount) for account_id, amount in legs
    )
    if not same_legs or existing["kind"] != kind.value or existing["reference"] != reference:
        raise IdempotencyConflict(f"ledger key {key!r} was already posted with different legs")
    return Posting(
        existing["id"], key, existing["kind"], existing["reference"], existing["currency"], existing["created_at"],
        original, replayed=True,
    )  # fmt: skip


async def reverse(connection: Connection, *, transaction_id: int, idempotency_key: str | None = None) -> Posting:
    """Post the exact opposite of a transaction, once: corrections never edit history."""
    rows = await repository.transaction_legs(connection, transaction_id)
    if not rows:
        raise TransactionNotFound(f"no ledger transaction {transaction_id}")
    return await post(
        connection,
        idempotency_key=idempotency_key or f"reversal:{transaction_id}",
        kind=TransactionKind.reversal,
        reference=f"ledger_transaction:{transaction_id}",
        legs=[Leg(row["account_id"], -row["amount"]) for row in rows],
    )


# -- named postings (DESIGN.md section 2) ------------------------------------------------------------


def _partner(kind: AccountKind, partner_id: uuid.UUID) -> AccountRef:
    return AccountRef(kind, partner_id)


def _nonzero(legs: Iterable[Leg]) -> list[Leg]:
    """Named postings may carry a zero fee; a zero leg moves nothing, so it is left out."""
    return [leg for leg in legs if leg.amount != 0]


def _money(value: int, what: str, *, allow_zero: bool = False) -> int:
    try:
        result = amount(value) if allow_zero else positive_amount(value)
    except MoneyError as exc:
        raise InvalidPosting(f"{what}: {exc}") from None
    if result < 0:
        raise InvalidPosting(f"{what}: cannot be negative")
    return result


def _net(gross: int, fee: int) -> int:
    gross, fee = _money(gross, "amount"), _money(fee, "fee", allow_zero=True)
    if fee >= gross:
        raise InvalidPosting(f"the fee ({fee}) must be less than the amount ({gross})")
    return gross - fee


def plan_order_paid(
    *, order_id: uuid.UUID, partner_id: uuid.UUID, provider_account_id: uuid.UUID, amount_paid: int, fee: int
) -> Planned:
    """The provider holds the customer's money; the partner is owed it less our fee."""
    net = _net(amount_paid, fee)
    legs = [
        debit(house(AccountKind.provider_balance, provider_account_id, order_id), amount_paid),
        credit(_partner(AccountKind.partner_pending, partner_id), net),
        credit(house(AccountKind.platform_fees, PLATFORM, order_id), fee),
    ]
    return Planned(f"order:{order_id}:paid", TransactionKind.order_paid, f"order:{order_id}", tuple(_nonzero(legs)))


async def order_paid(
    connection: Connection, *, order_id: uuid.UUID, partner_id: uuid.UUID, provider_account_id: uuid.UUID,
    amount_paid: int, fee: int,
) -> Posting:  # fmt: skip
    """`plan_order_paid`, posted."""
    return await post_planned(connection, plan_order_paid(
        order_id=order_id, partner_id=partner_id, provider_account_id=provider_account_id, amount_paid=amount_paid,
        fee=fee,
    ))  # fmt: skip


def _plan_move(
    *, key: str, kind: TransactionKind, reference: str, debited: AccountRef, credited: AccountRef, value: int,
    what: str,
) -> Planned:  # fmt: skip
    """One positive amount debited to one account and credited to another: most business postings."""
    moved = _money(value, what)
    return Planned(key, kind, reference, (debit(debited, moved), credit(credited, moved)))


async def _move(
    connection: Connection, *, key: str, kind: TransactionKind, reference: str, debited: AccountRef,
    credited: AccountRef, value: int, what: str,
) -> Posting:  # fmt: skip
    return await post_planned(connection, _plan_move(
        key=key, kind=kind, reference=reference, debited=debited, credited=credited, value=value, what=what
    ))  # fmt: skip


async def settlement(connection: Connection, *, order_id: uuid.UUID, partner_id: uuid.UUID, net: int) -> Posting:
    """An order's net moves from pending to available."""
    return await _move(
        connection, key=f"order:{order_id}:settled", kind=TransactionKind.settlement, reference=f"order:{order_id}",
        debited=_partner(AccountKind.partner_pending, partner_id),
        credited=_partner(AccountKind.partner_available, partner_id), value=net, what="net",
    )  # fmt: skip


def plan_withdrawal_hold(*, withdrawal_id: uuid.UUID, partner_id: uuid.UUID, gross: int) -> Planned:
    """A requested withdrawal's gross moves from available to held until the provider answers."""
    return _plan_move(
        key=f"withdrawal:{withdrawal_id}:hold", kind=TransactionKind.withdrawal_hold,
        reference=f"withdrawal:{withdrawal_id}", debited=_partner(AccountKind.partner_available, partner_id),
        credited=_partner(AccountKind.partner_held, partner_id), value=gross, what="amount",
    )  # fmt: skip


async def withdrawal_hold(
    connection: Connection, *, withdrawal_id: uuid.UUID, partner_id: uuid.UUID, gross: int
) -> Posting:
    """`plan_withdrawal_hold`, posted."""
    return await post_planned(
        connection, plan_withdrawal_hold(withdrawal_id=withdrawal_id, partner_id=partner_id, gross=gross)
    )


def plan_withdrawal_complete(
    *, withdrawal_id: uuid.UUID, partner_id: uuid.UUID, provider_account_id: uuid.UUID, gross: int, fee: int,
    after_release: bool = False,
) -> Planned:  # fmt: skip
    """The payout left: the hold is consumed, the provider balance pays the net, the fee is ours.

    `after_release` is for a provider that reported failure and then success: the hold was already
    released to available, so the money comes from available. The key is the same either way, so a
    withdrawal completes at most once whatever the order of its callbacks.
    """
    net = _net(gross, fee)
    source = AccountKind.partner_available if after_release else AccountKind.partner_held
    legs = [
        debit(_partner(source, partner_id), gross),
        credit(house(AccountKind.provider_balance, provider_account_id, withdrawal_id), net),
        credit(house(AccountKind.platform_fees, PLATFORM, withdrawal_id), fee),
    ]
    return Planned(
        f"withdrawal:{withdrawal_id}:complete",
        TransactionKind.withdrawal_complete,
        f"withdrawal:{withdrawal_id}",
        tuple(_nonzero(legs)),
    )


async def withdrawal_complete(
    connection: Connection, *, withdrawal_id: uuid.UUID, partner_id: uuid.UUID, provider_account_id: uuid.UUID,
    gross: int, fee: int, after_release: bool = False,
) -> Posting:  # fmt: skip
    """`plan_withdrawal_complete`, posted."""
    return await post_planned(connection, plan_withdrawal_complete(
        withdrawal_id=withdrawal_id, partner_id=partner_id, provider_account_id=provider_account_id, gross=gross,
        fee=fee, after_release=after_release,
    ))  # fmt: skip


def plan_withdrawal_release(*, withdrawal_id: uuid.UUID, partner_id: uuid.UUID, gross: int) -> Planned:
    """The payout failed: the hold goes back to available, once."""
    return _plan_move(
        key=f"withdrawal:{withdrawal_id}:release", kind=TransactionKind.withdrawal_release,
        reference=f"withdrawal:{withdrawal_id}", debited=_partner(AccountKind.partner_held, partner_id),
        credited=_partner(AccountKind.partner_available, partner_id), value=gross, what="amount",
    )  # fmt: skip


async def withdrawal_release(
    connection: Connection, *, withdrawal_id: uuid.UUID, partner_id: uuid.UUID, gross: int
) -> Posting:
    """`plan_withdrawal_release`, posted."""
    return await post_planned(
        connection, plan_withdrawal_release(withdrawal_id=withdrawal_id, partner_id=partner_id, gross=gross)
    )


async def platform_payout(
    connection: Connection, *, payout_id: uuid.UUID, provider_account_id: uuid.UUID, amount: int
) -> Posting:
    """The platform's own payout left a provider account: our fee income and the provider balance both fall by
    the amount. Posted once, when the provider confirms (a platform payout holds nothing before)."""
    return await _move(
        connection, key=f"platform_payout:{payout_id}:complete", kind=TransactionKind.platform_payout,
        reference=f"withdrawal:{payout_id}", debited=house(AccountKind.platform_fees, PLATFORM, payout_id),
        credited=house(AccountKind.provider_balance, provider_account_id, payout_id), value=amount, what="amount",
    )  # fmt: skip


async def advance_grant(
    connection: Connection, *, advance_id: uuid.UUID, partner_id: uuid.UUID, amount_lent: int
) -> Posting:
    """A loan: the platform advances money to the partner's available balance."""
    return await _move(
        connection, key=f"advance:{advance_id}:grant", kind=TransactionKind.advance_grant,
        reference=f"advance:{advance_id}", debited=AccountRef(AccountKind.platform_advances),
        credited=_partner(AccountKind.partner_available, partner_id), value=amount_lent, what="amount",
    )  # fmt: skip


async def loan_repayment(
    connection: Connection, *, order_id: uuid.UUID, partner_id: uuid.UUID, net: int, round_number: int = 1
) -> Posting:
    """A loan-settled order: its net repays the advance instead of reaching available.

    `round_number` counts how often this order was loan-settled: after a revert it may be again.
    """
    return await _move(
        connection, key=f"order:{order_id}:loan_settled:{round_number}", kind=TransactionKind.loan_repayment,
        reference=f"order:{order_id}", debited=_partner(AccountKind.partner_pending, partner_id),
        credited=AccountRef(AccountKind.platform_advances), value=net, what="net",
    )  # fmt: skip


async def loan_repayment_revert(connection: Connection, *, repayment: Posting) -> Posting:
    """Undo a loan repayment exactly: the order's net goes back to pending, the advance is owed again."""
    return await reverse(connection, transaction_id=repayment.transaction_id)


# -- reads -------------------------------------------------------------------------------------------


async def account_balance(connection: Connection, account_id: int) -> Balance:
    row = await repository.account(connection, account_id)
    if row is None:
        raise UnknownAccount(f"no ledger account {account_id}")
    return Balance(
        account_id=row["id"],
        kind=row["kind"],
        owner_id=row["owner_id"],
        shard=row["shard"],
        currency=row["currency"],
        balance=row["balance"],
    )


async def balance_of(connection: Connection, ref: AccountRef) -> int:
    """The balance of the account `ref` names, every shard of a house account summed (whatever `ref.shard`
    says); zero if nothing was ever posted to it."""
    return await repository.balance_of(connection, ref.kind.value, ref.owner_id, ref.currency)


def row_key(ref: AccountRef) -> str:
    """The key of the account row `ref` names (`ledger_accounts.key`): for the posting's statement, and for
    another module's statement that reads a balance together with its own rows."""
    return repository.account_key(*key_parts(ref))


async def partner_balances(connection: Connection, partner_id: uuid.UUID, currency: str = "IDR") -> PartnerBalances:
    # Partner accounts are never split (the database refuses a shard of an account that must not go
    # negative), so each is one row.
    kinds = (AccountKind.partner_available, AccountKind.partner_pending, AccountKind.partner_held)
    rows = await repository.balances_by_ref(connection, [(kind.value, partner_id, currency, 0) for kind in kinds])
    found = {row["kind"]: int(row["balance"]) for row in rows}
    return PartnerBalances(
        partner_id=partner_id,
        currency=currency,
        available=found.get(AccountKind.partner_available, 0),
        pending=found.get(AccountKind.partner_pending, 0),
        held=found.get(AccountKind.partner_held, 0),
    )


async def account_history(
    connection: Connection, account_id: int, *, limit: int = 50, before: int | None = None
) -> HistoryPage:
    """Newest first, each entry with the balance after it; page with `before=next_before`."""
    if not 1 <= limit <= _MAX_HISTORY_PAGE:
        raise InvalidPosting(f"limit must be between 1 and {_MAX_HISTORY_PAGE}")
    await account_balance(connection, account_id)  # 422 for an unknown account, not an empty page
    rows = await repository.history(connection, account_id, before=before or 2**63 - 1, limit=limit + 1)
    items = [HistoryEntry(**dict(row)) for row in rows[:limit]]
    return HistoryPage(items=items, next_before=items[-1].entry_id if len(rows) > limit else None)


async def statement(connection: Connection, account_id: int, first_day: date, last_day: date) -> Statement:
    """Opening balance, every entry and closing balance for whole Asia/Jakarta days, both included."""
    if last_day < first_day:
        raise InvalidPosting("the statement's last day is before its first")
    await account_balance(connection, account_id)
    start, end = jakarta_days(first_day, last_day)
    opening = await repository.balance_before(connection, account_id, start)
    entries = [
        HistoryEntry(**dict(row)) for row in await repository.entries_between(connection, account_id, start, end)
    ]
    return Statement(
        account_id=account_id,
        first_day=first_day,
        last_day=last_day,
        opening_balance=opening,
        total_in=sum(entry.change for entry in entries if entry.change > 0),
        total_out=-sum(entry.change for entry in entries if entry.change < 0),
        closing_balance=entries[-1].balance_after if entries else opening,
        entries=entries,
    )


async def reconcile(connection: Connection) -> ReconcileReport:
    """Recompute every balance from its entries and every transaction's sum; report any difference."""
    counts = await repository.counts(connection)
    return ReconcileReport(
        accounts_checked=counts["accounts"],
        transactions_checked=counts["transactions"],
        entries_checked=counts["entries"],
        drifting_accounts=[AccountDrift(**dict(row)) for row in await repository.drifting_accounts(connection)],
        unbalanced_transactions=[
            UnbalancedTransaction(**dict(row)) for row in await repository.unbalanced_transactions(connection)
        ],
    )
