"""The double-entry ledger's tables. Only `gerbang.ledger` writes them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gerbang.models.base import Model

KEY_EXPRESSION = (
    "kind || ':' || owner_id::text || ':' || currency || CASE WHEN shard = 0 THEN '' ELSE ':' || shard::text END"
)
"""`ledger_accounts.key`, as the database computes it (and `gerbang.ledger.repository.account_key` in Python)."""


class LedgerAccount(Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
        # The database's own guard against overdraft, beside the check in code.
        CheckConstraint("NOT non_negative OR balance >= 0", name="non_negative"),
        # A shard never guards funds: only accounts that may go negative are split (gerbang.ledger.schemas).
        CheckConstraint("shard = 0 OR NOT non_negative", name="unsplit_if_non_negative"),
        CheckConstraint("shard >= 0", name="shard_non_negative"),
        # Reads of a house account sum its shards.
        Index("ix_ledger_accounts_kind_owner_id_currency", "kind", "owner_id", "currency"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    """The partner or provider account the account belongs to; the nil UUID for platform accounts."""
    shard: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    """Which of the rows of a house account this is (0 for every account that is not split)."""
    key: Mapped[str] = mapped_column(Text, Computed(KEY_EXPRESSION, persisted=True), nullable=False, unique=True)
    """`kind:owner:currency`, and `:shard` for a shard other than 0: one indexed value, so looking up several
    accounts is one index probe each."""
    currency: Mapped[str] = mapped_column(CHAR(3), nullable=False)
    normal_side: Mapped[str] = mapped_column(String(6), nullable=False)
    """`debit` for what we hold or are owed (provider balances, advances), `credit` for what we owe."""
    non_negative: Mapped[bool] = mapped_column(Boolean, nullable=False)
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    """Materialised balance in whole units, on the account's normal side (a partner's available is positive)."""
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    """Number of entries posted to this account."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class LedgerTransaction(Model):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    """One business event, one key (`order:<id>:paid`): posting it twice returns the first transaction."""
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    reference: Mapped[str] = mapped_column(Text, nullable=False)
    """The business object the money moved for, as `<type>:<id>`."""
    currency: Mapped[str] = mapped_column(CHAR(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class LedgerEntry(Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="nonzero"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
        Index("ix_ledger_entries_account_id_created_at", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_transactions.id"), nullable=False, index=True
    )
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_accounts.id"), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """Signed, debit positive: the entries of one transaction sum to zero."""
    balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """The account's balance (normal side) after this entry: the running balance of its history."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
