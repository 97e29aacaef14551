from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from gerbang.kit.money import IDR

PLATFORM = uuid.UUID(int=0)
"""The owner of platform accounts (fees, advances, external)."""


class AccountKind(enum.StrEnum):
    partner_pending = "partner_pending"
    partner_available = "partner_available"
    partner_held = "partner_held"
    provider_balance = "provider_balance"
    platform_fees = "platform_fees"
    platform_provider_fees = "platform_provider_fees"
    platform_advances = "platform_advances"
    external = "external"

    @property
    def normal_side(self) -> Literal["debit", "credit"]:
        """Debit for what we hold or are owed (assets, expenses), credit for what we owe or earned."""
        return "debit" if self in _DEBIT_NORMAL else "credit"

    @property
    def non_negative(self) -> bool:
        return self in _NON_NEGATIVE

    @property
    def per_owner(self) -> bool:
        return self in _PER_OWNER


_DEBIT_NORMAL = frozenset(
    {
        AccountKind.provider_balance,
        AccountKind.platform_provider_fees,
        AccountKind.platform_advances,
        AccountKind.external,
    }
)
# Partner money can never be overdrawn. Provider balances may dip below zero in our books (a payout that
# really left must be recorded even if our view of the provider balance lags), and are reconciled instead.
_NON_NEGATIVE = frozenset({AccountKind.partner_pending, AccountKind.partner_available, AccountKind.partner_held})
_PER_OWNER = frozenset(
    {
        AccountKind.partner_pending,
        AccountKind.partner_available,
        AccountKind.partner_held,
        AccountKind.provider_balance,
    }
)


class TransactionKind(enum.StrEnum):
    order_paid = "order_paid"
    settlement = "settlement"
    withdrawal_hold = "withdrawal_hold"
    withdrawal_complete = "withdrawal_complete"
    withdrawal_release = "withdrawal_release"
    platform_payout = "platform_payout"
    advance_grant = "advance_grant"
    loan_repayment = "loan_repayment"
    fee_adjustment = "fee_adjustment"
    reversal = "reversal"
    transfer = "transfer"


HOUSE_SHARDS = 32
"""How many rows each house account is split into (may grow; never shrink it: reads sum whatever shards
exist, but postings would no longer reach the dropped ones). 8 until the pay-in benchmark found callbacks
waiting 24-31 ms on average for a shard's row lock at 32 connections; 32 brought it to 2-3 ms."""
_SHARDED = frozenset({AccountKind.provider_balance, AccountKind.platform_fees})
"""The house accounts: every payment posts to its provider account's balance and to the platform's fees, so
as single rows they would be locked by every payment in turn. Neither has a funds check (which a split would
break: each shard would be checked alone)."""


@dataclass(frozen=True)
class AccountRef:
    """Names an account by what it is; the ledger creates it on first use."""

    kind: AccountKind
    owner_id: uuid.UUID = PLATFORM
    currency: str = IDR
    shard: int = 0
    """For a house account, the row of it to post to (`house()`); 0 for every other account. Balances read
    through an `AccountRef` are of the whole account, all its shards summed."""

    def __post_init__(self) -> None:
        if self.shard and (self.kind not in _SHARDED or not 0 <= self.shard < HOUSE_SHARDS):
            raise ValueError(f"{self.kind} has no shard {self.shard}")


def house(kind: AccountKind, owner_id: uuid.UUID, business_id: uuid.UUID) -> AccountRef:
    """The shard of a house account that a posting for `business_id` (an order, a withdrawal) goes to: the
    same one every time for that id, so a replayed posting names the same accounts; spread evenly over ids."""
    return AccountRef(kind, owner_id, shard=business_id.int % HOUSE_SHARDS if kind in _SHARDED else 0)


@dataclass(frozen=True)
class Leg:
    """One side of a posting. `amount` is signed, debit positive: the legs of a posting sum to zero.

    Use `debit()` and `credit()` rather than signing amounts by hand.
    """

    account: AccountRef | int
    amount: int


def debit(account: AccountRef | int, amount: int) -> Leg:
    return Leg(account, amount)


def credit(account: AccountRef | int, amount: int) -> Leg:
    return Leg(account, -amount)


@dataclass(frozen=True)
class Posting:
    transaction_id: int
    idempotency_key: str
    kind: str
    reference: str
    currency: str
    created_at: datetime
    legs: tuple[tuple[int, int], ...]
    """(account id, signed amount), ordered by account id."""
    replayed: bool
    """True when the key had been posted before and this is the original transaction."""


class Balance(BaseModel):
    """One account row's balance: for a house account, of one of its shards."""

    account_id: int
    kind: AccountKind
    owner_id: uuid.UUID
    shard: int
    currency: str
    balance: int


class PartnerBalances(BaseModel):
    partner_id: uuid.UUID
    currency: str
    available: int
    pending: int
    held: int


class HistoryEntry(BaseModel):
    entry_id: int
    transaction_id: int
    kind: str
    reference: str
    change: int
    """How this entry moved the account's balance (positive: up)."""
    balance_after: int
    created_at: datetime


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_before: int | None
    """Pass as `before` to get the next (older) page; none when this is the last."""


class Statement(BaseModel):
    account_id: int
    first_day: date
    last_day: date
    timezone: str = "Asia/Jakarta"
    opening_balance: int
    total_in: int
    total_out: int
    closing_balance: int
    entries: list[HistoryEntry]
    """Oldest first."""


class AccountDrift(BaseModel):
    account_id: int
    kind: str
    owner_id: uuid.UUID
    shard: int
    materialised: int
    from_entries: int
    version: int
    entries: int


class UnbalancedTransaction(BaseModel):
    transaction_id: int
    idempotency_key: str
    sum: int
    entries: int


class ReconcileReport(BaseModel):
    accounts_checked: int
    transactions_checked: int
    entries_checked: int
    drifting_accounts: list[AccountDrift]
    unbalanced_transactions: list[UnbalancedTransaction]

    @property
    def clean(self) -> bool:
        return not self.drifting_accounts and not self.unbalanced_transactions
